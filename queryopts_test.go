package impalalb_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
)

// setAll returns the options the coordinator applies to a SET ALL run
// with ctx on c.
func setAll(t *testing.T, ctx context.Context, c *sql.Conn) map[string]string {
	t.Helper()
	rows, err := c.QueryContext(ctx, "set all")
	require.NoError(t, err)
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, v, level string
		require.NoError(t, rows.Scan(&k, &v, &level))
		got[strings.ToUpper(k)] = v
	}
	require.NoError(t, rows.Err())
	return got
}

func TestWithQueryOptions(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.QueryOptions = map[string]string{"REQUEST_POOL": "etl"}
		db, _ := openDB(t, cfg)
		ctx := context.Background()
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		defer c.Close()

		opts := map[string]string{"mem_limit": "2g"}
		qctx := impalalb.WithQueryOptions(ctx, opts)
		opts["mem_limit"] = "changed after the call" // copied: no effect
		// Nested: the inner call adds and overrides.
		qctx = impalalb.WithQueryOptions(qctx, map[string]string{"REQUEST_POOL": "reports", "SYNC_DDL": "1"})
		got := setAll(t, qctx, c)
		require.Equal(t, "2147483648", got["MEM_LIMIT"]) // 2g, as Impala keeps it
		require.Equal(t, "reports", got["REQUEST_POOL"])
		require.Equal(t, "1", got["SYNC_DDL"])

		// For that statement only: the session keeps its own options.
		got = setAll(t, ctx, c)
		require.Equal(t, "etl", got["REQUEST_POOL"])
		require.NotEqual(t, "2147483648", got["MEM_LIMIT"])

		// Exec takes them too (SYNC_DDL on a DDL statement).
		_, err = c.ExecContext(impalalb.WithQueryOptions(ctx, map[string]string{"SYNC_DDL": "true"}), "create table qo_t (x int)")
		require.NoError(t, err)
	})
}

func TestWithQueryOptionsBadInputSendsNothing(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	db, _ := openDB(t, testConfig(impalalb.ProtocolHS2, co))
	ctx := context.Background()
	require.NoError(t, db.PingContext(ctx))
	before := len(co.Statements())
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"MEM LIMIT": "1g"}, `option name "MEM LIMIT"`},
		{map[string]string{"MEM_LIMIT=1g;X": "1"}, `option name "MEM_LIMIT=1g;X"`},
		{map[string]string{"": "1"}, `option name ""`},
		{map[string]string{"request_pool": "a\nSET X=1"}, "REQUEST_POOL: value contains a line break"},
	} {
		qctx := impalalb.WithQueryOptions(ctx, tc.opts)
		_, err := db.QueryContext(qctx, "select 1")
		require.ErrorContains(t, err, tc.want)
		_, err = db.ExecContext(qctx, "create table never (x int)")
		require.ErrorContains(t, err, tc.want)
		// A good option added later does not hide the bad one.
		_, err = db.QueryContext(impalalb.WithQueryOptions(qctx, map[string]string{"MT_DOP": "2"}), "select 1")
		require.ErrorContains(t, err, tc.want)
	}
	require.Len(t, co.Statements(), before, "a statement with a bad option reached the coordinator")
}
