package reliability

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestFaultDriver runs the riskiest cells through database/sql, which
// retries by itself on driver.ErrBadConn: a coordinator killed under idle
// connections, and crashes before and after ExecuteStatement is served.
// Whatever database/sql retries, no statement may run twice; a failure
// that reaches the caller names the coordinator; new work succeeds.
func TestFaultDriver(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	cfg := impalalb.DefaultConfig()
	cfg.Addrs = m.addr
	cfg.User = "rel"
	cfg.ConnectTimeout = connectTimeout
	cfg.QueryTimeout = stmtTimeout
	cfg.HealthInterval = 100 * time.Millisecond
	cfg.ValidateAfter = time.Nanosecond
	cn, err := impalalb.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(cn)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxIdleConns(6)

	query := func(stmt string) error {
		ctx, cancel := context.WithTimeout(m.ctx, stmtTimeout+cancelTimeout)
		defer cancel()
		rows, err := db.QueryContext(ctx, stmt)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			_ = rows.Close()
			return err
		}
		return rows.Close()
	}
	// Six connections, spread over the coordinators, left idle.
	var conns []*sql.Conn
	for range 6 {
		c, err := db.Conn(m.ctx)
		require.NoError(t, err)
		require.NoError(t, c.PingContext(m.ctx))
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}

	// Killed under idle connections: every query succeeds, each once.
	m.x.Kill()
	for range 12 {
		require.NoError(t, query(tagged("driver-idle-kill")))
	}
	require.NoError(t, m.x.Restart())

	// Crashes around ExecuteStatement, armed on every coordinator so that
	// the query meets one wherever it goes.
	for _, after := range []bool{false, true} {
		for _, co := range m.cos {
			co.Faults().CrashOn("ExecuteStatement", after)
		}
		stmt := tagged("driver-crash")
		start := time.Now()
		err := query(stmt)
		for _, co := range m.cos {
			co.Faults().CrashOn("", false)
		}
		n := execCount(m.cos, stmt)
		require.LessOrEqual(t, n, 1, "database/sql ran %q %d times", stmt, n)
		if err != nil {
			within(t, time.Since(start), stmtTimeout+cancelTimeout, "driver query")
			_, named := coordinatorOf(err)
			require.True(t, named, "driver error does not name a coordinator: %T %v", err, err)
			t.Logf("crash after=%v: %v (ran %d)", after, err, n)
		} else {
			require.Equal(t, 1, n)
			t.Logf("crash after=%v: retried by database/sql, ran once", after)
		}
		if after {
			require.Equal(t, 1, n, "the coordinator served it before dying")
			require.Error(t, err, "a statement that ran must not be retried silently")
		}
		for _, co := range m.cos {
			require.NoError(t, co.Restart())
		}
		for range 6 {
			require.NoError(t, query(tagged("driver-after")))
		}
	}
}
