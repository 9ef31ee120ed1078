package conn_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// The query id reaches the caller as soon as the coordinator accepted the
// statement, is the one the coordinator records, and is named by the
// errors of everything that follows.
func TestQueryID(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			var got []conn.StatementStarted
			ctx := conn.WithStatementStarted(context.Background(), func(st conn.StatementStarted) {
				got = append(got, st)
			})

			op, err := s.Execute(ctx, "select 1", nil)
			require.NoError(t, err)
			require.NoError(t, op.Close(ctx))
			stmts := co.Statements()
			last := stmts[len(stmts)-1]
			require.Equal(t, []conn.StatementStarted{{Addr: addr, QueryID: last.ID}}, got)
			require.Equal(t, last.ID, op.QueryID())
			require.Regexp(t, `^[0-9a-f]{16}:[0-9a-f]{16}$`, op.QueryID())
			require.Equal(t, "http://127.0.0.1:25000", s.WebServer())

			// A statement that fails while it runs: its error names it.
			_, err = s.Execute(ctx, "select fail('boom')", nil)
			var ce *conn.Error
			require.ErrorAs(t, err, &ce)
			stmts = co.Statements()
			id := stmts[len(stmts)-1].ID
			require.Equal(t, id, ce.QueryID)
			require.Contains(t, err.Error(), "(query "+id+")")
			require.Equal(t, id, got[len(got)-1].QueryID)

			// The callback comes before Execute waits for the statement:
			// cancelling from it ends a statement that would run a minute.
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var waited string
			cctx = conn.WithStatementStarted(cctx, func(st conn.StatementStarted) {
				waited = st.QueryID
				cancel()
			})
			_, err = s.Execute(cctx, "select sleep(60000)", nil)
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorAs(t, err, &ce)
			require.NotEmpty(t, waited)
			require.Equal(t, waited, ce.QueryID)

			// Refused before it ran: no id, no call.
			n := len(got)
			_, err = s.Execute(ctx, "selec 1", nil)
			require.ErrorAs(t, err, &ce)
			require.Empty(t, ce.QueryID)
			require.Len(t, got, n)
		})
	}
}

// The id of an HS2 handle reads as Impala prints it: each half of the
// guid a little-endian 64-bit number, high half first.
func TestQueryIDFromGUID(t *testing.T) {
	guid := []byte{0xd0, 0xd4, 0xc9, 0x32, 0xe6, 0x8c, 0x4d, 0xd7, 0, 0, 0, 0, 0x11, 0xa5, 0xc5, 0x75}
	require.Equal(t, "d74d8ce632c9d4d0:75c5a51100000000", conn.QueryIDFromGUID(guid))
	require.Empty(t, conn.QueryIDFromGUID(guid[:15]))
}
