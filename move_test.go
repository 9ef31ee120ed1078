package impalalb_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
)

// movingConn opens a *sql.Conn over two coordinators, sets state on it
// (USE, SET) and returns it with the coordinator it is on.
func movingConn(t *testing.T, ctx context.Context, p impalalb.Protocol, cos []*impalad.Coordinator) (*sql.Conn, *impalad.Coordinator) {
	t.Helper()
	cfg := testConfig(p, cos...)
	db, _ := openDB(t, cfg)
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, stmt := range []string{"create database if not exists moving", "use moving", "set mem_limit=3g"} {
		_, err := c.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	home := coordinatorOf(t, c)
	for _, co := range cos {
		if addrOf(co, p) == home {
			return c, co
		}
	}
	t.Fatalf("no coordinator %s", home)
	return nil, nil
}

// requireMoved checks that c left home and kept its state.
func requireMoved(t *testing.T, ctx context.Context, c *sql.Conn, home string) {
	t.Helper()
	var db string
	require.NoError(t, c.QueryRowContext(ctx, "select current_database()").Scan(&db), "the statement runs elsewhere, no error")
	require.NotEqual(t, home, coordinatorOf(t, c), "the connection's session moved")
	require.Equal(t, "moving", db, "USE held")
	require.Equal(t, "3g", connOption(t, ctx, c, "MEM_LIMIT"), "SET held")
}

// TestSQLConnMovesOffShuttingDown: the coordinator of a pinned *sql.Conn
// shuts down gracefully; the connection's next statement runs on the other
// coordinator, with its USE and SET.
func TestSQLConnMovesOffShuttingDown(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, home := movingConn(t, ctx, p, cos)
		_, err = home.StartShutdown(-1)
		require.NoError(t, err)
		requireMoved(t, ctx, c, addrOf(home, p))
	})
}

// TestSQLConnCoordinatorKilled: the coordinator of a pinned *sql.Conn is
// killed between two statements; the second runs on the other coordinator
// with the connection's state.
func TestSQLConnCoordinatorKilled(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, home := movingConn(t, ctx, p, cos)
		home.Kill()
		requireMoved(t, ctx, c, addrOf(home, p))
	})
}
