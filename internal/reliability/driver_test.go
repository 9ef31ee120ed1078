package reliability

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// driverConfig is the driver's configuration over m's coordinators with
// the suite's connect and statement timeouts.
func driverConfig(m *matrix) *impalalb.Config {
	cfg := &impalalb.Config{}
	cfg.Addrs = m.addr
	cfg.User = "rel"
	cfg.ConnectTimeout = connectTimeout
	cfg.QueryTimeout = stmtTimeout
	return cfg
}

// TestFaultDriver runs the riskiest cells through database/sql, which
// retries by itself on driver.ErrBadConn: a coordinator killed under idle
// connections, and crashes before and after ExecuteStatement is served.
// Whatever database/sql retries, no statement may run twice; a failure
// that reaches the caller names the coordinator; new work succeeds.
func TestFaultDriver(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	cfg := driverConfig(m)
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

// TestFaultDriverMidFetch: a coordinator crashes while database/sql reads
// a large result that the driver fetches ahead of the caller. The rows
// read so far are complete batches, the read ends with an error that
// names the coordinator and says the statement ran — never as a short
// result that looks complete —, and new queries succeed, each with every
// row once.
func TestFaultDriverMidFetch(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "after"}[after], func(t *testing.T) {
			m := newMatrix(t, impalad.Config{})
			cfg := driverConfig(m)
			cfg.FetchSize = 1000
			cn, err := impalalb.NewConnector(cfg)
			require.NoError(t, err)
			db := sql.OpenDB(cn)
			t.Cleanup(func() { _ = db.Close() })

			const total = 200000
			count := func(ctx context.Context, arm bool) (int, error) {
				rows, err := db.QueryContext(ctx, "select id from gen.rows_200000")
				if err != nil {
					return 0, err
				}
				defer rows.Close()
				n := 0
				var id int64
				for rows.Next() {
					if err := rows.Scan(&id); err != nil {
						return n, err
					}
					if id != int64(n) {
						return n, fmt.Errorf("row %d has id %d", n, id)
					}
					n++
					if arm && n == 2500 {
						// The read-ahead is at the third to fifth batch:
						// the next fetch it makes crashes its coordinator.
						for _, co := range m.cos {
							co.Faults().CrashOn("FetchResults", after)
						}
					}
				}
				return n, rows.Err()
			}
			ctx, cancel := context.WithTimeout(m.ctx, stmtTimeout+cancelTimeout)
			defer cancel()
			start := time.Now()
			n, err := count(ctx, true)
			for _, co := range m.cos {
				co.Faults().CrashOn("", false)
			}
			require.Error(t, err, "a result cut by a crash must fail, not end early (%d rows)", n)
			require.Less(t, n, total)
			require.Zero(t, n%1000, "only whole batches reach the caller: %d rows", n)
			within(t, time.Since(start), stmtTimeout+cancelTimeout, "driver fetch")
			_, named := coordinatorOf(err)
			require.True(t, named, "driver error does not name a coordinator: %T %v", err, err)
			require.False(t, conn.SafeToRetry(err), "the statement ran: %v", err)

			for _, co := range m.cos {
				require.NoError(t, co.Restart())
			}
			for range 3 {
				n, err := count(m.ctx, false)
				require.NoError(t, err)
				require.Equal(t, total, n)
			}
		})
	}
}
