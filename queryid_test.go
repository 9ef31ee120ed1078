package impalalb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// Through database/sql, conn.WithStatementStarted reports each statement's
// query id and coordinator, and a statement that fails while it runs names
// its query id in the error.
func TestQueryIDThroughDatabaseSQL(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		var got []conn.StatementStarted
		ctx := conn.WithStatementStarted(context.Background(), func(st conn.StatementStarted) {
			got = append(got, st)
		})
		var one int
		require.NoError(t, db.QueryRowContext(ctx, "select 1").Scan(&one))
		_, err := db.ExecContext(ctx, "create table qid (x int)")
		require.NoError(t, err)
		stmts := co.Statements()
		require.Len(t, got, 2)
		require.Equal(t, stmts[len(stmts)-2].ID, got[0].QueryID)
		require.Equal(t, stmts[len(stmts)-1].ID, got[1].QueryID)
		require.Equal(t, addrOf(co, p), got[0].Addr)

		_, err = db.ExecContext(ctx, "select fail('boom')")
		stmts = co.Statements()
		require.ErrorContains(t, err, "(query "+stmts[len(stmts)-1].ID+")")
	})
}
