package interop

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
)

// nonImpalaParam is the DSN parameter that maps to
// conn.Options.AllowNonImpala.
const nonImpalaParam = "allow_non_impala"

// TestHiveServer2DatabaseSQL runs the database/sql driver over both Spark
// Thrift servers.
func TestHiveServer2DatabaseSQL(t *testing.T) {
	ss := sparkPair(t)
	dsn := "impala://" + ss[0].Addr + "," + ss[1].Addr + "/default?" + nonImpalaParam + "=true"
	cfg, err := impalalb.ParseDSN(dsn)
	require.NoError(t, err)
	require.True(t, cfg.AllowNonImpala)
	db, err := sql.Open("impala", dsn)
	require.NoError(t, err)
	defer db.Close()
	ctx := testCtx(t, 2*time.Minute)

	var (
		b   bool
		i8  int8
		i64 int64
		f   float64
		d   string
		s   string
		ts  time.Time
		bin []byte
		n   sql.NullInt32
	)
	require.NoError(t, db.QueryRowContext(ctx, `select true, 7Y, 9000000000L, 2.5D, 1.50, 'x',
		timestamp'2020-01-02 03:04:05.5', X'0102', cast(null as int)`).Scan(&b, &i8, &i64, &f, &d, &s, &ts, &bin, &n))
	require.Equal(t, true, b)
	require.Equal(t, int8(7), i8)
	require.Equal(t, int64(9000000000), i64)
	require.Equal(t, 2.5, f)
	require.Equal(t, "1.50", d)
	require.Equal(t, "x", s)
	require.Equal(t, time.Date(2020, 1, 2, 3, 4, 5, 500000000, time.UTC), ts.UTC())
	require.Equal(t, []byte{1, 2}, bin)
	require.False(t, n.Valid)

	rows, err := db.QueryContext(ctx, "select id from range(0, 30000, 1, 1)")
	require.NoError(t, err)
	next := int64(0)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		require.Equal(t, next, id)
		next++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, int64(30000), next)

	_, err = db.ExecContext(ctx, "selec 1")
	require.ErrorContains(t, err, "PARSE_SYNTAX_ERROR")
}
