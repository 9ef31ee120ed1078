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
	"github.com/impalalb/impalalb/internal/haproxytest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// requireNothingLeft waits until no coordinator holds a session or an
// operation. The coordinators keep a disconnected session for a minute
// (startCluster), far longer than the wait: whatever is gone was closed by
// the client, not expired.
func requireNothingLeft(t *testing.T, cos []*impalad.Coordinator) {
	t.Helper()
	left := func() string {
		var s string
		for _, co := range cos {
			st := co.Stats()
			if st.SessionsOpen != 0 || st.OperationsOpen != 0 {
				s += fmt.Sprintf(" %s: %d sessions, %d operations;", co.HS2Addr(), st.SessionsOpen, st.OperationsOpen)
			}
		}
		return s
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if left() == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("left behind after Close:%s", left())
}

// TestNothingLeftBehindHAProxy puts a real HAProxy that cuts idle sockets
// (timeout client and server of 400 ms, one frontend per coordinator, as a
// guide-style setup with a listener per impalad) between database/sql and
// three coordinators. Idle pooled sessions, a *sql.Conn held idle and a
// result set left half read all lose their sockets; after db.Close no
// coordinator holds a session or a registered query, though each would
// keep a disconnected session for a minute.
func TestNothingLeftBehindHAProxy(t *testing.T) {
	t.Parallel() // haproxytest.StartT fails with an install hint without haproxy
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cos, addrs := startCluster(t, 3, impalad.Config{})
	const cut = 400 * time.Millisecond
	opts := haproxytest.Options{TimeoutClient: cut, TimeoutServer: cut}
	for i, a := range addrs {
		name := fmt.Sprintf("c%d", i+1)
		opts.Frontends = append(opts.Frontends, haproxytest.Frontend{
			Name: name, Servers: []haproxytest.Server{{Name: name, Addr: a}},
		})
	}
	px := haproxytest.StartT(t, opts)
	cfg := &impalalb.Config{}
	for _, f := range opts.Frontends {
		cfg.Addrs = append(cfg.Addrs, px.Addr(f.Name))
	}
	cfg.User = "rel"
	cfg.ConnectTimeout = connectTimeout
	cfg.QueryTimeout = stmtTimeout
	cn, err := impalalb.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(cn)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = db.Close()
		}
	})
	db.SetMaxIdleConns(9)

	// Nine sessions, three on each coordinator.
	var held []*sql.Conn
	for range 9 {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		require.NoError(t, c.PingContext(ctx))
		held = append(held, c)
	}
	for _, c := range held[1:] {
		require.NoError(t, c.Close())
	}
	// held[0] stays checked out and idle; a result set (on one of the
	// idle eight) stays half read; seven sessions are idle in the pool.
	rows, err := db.QueryContext(ctx, "select id from gen.rows_100000")
	require.NoError(t, err)
	require.True(t, rows.Next())
	for _, co := range cos {
		require.Positive(t, co.Stats().SessionsOpen, "a coordinator got no session")
	}
	require.Eventually(t, func() bool {
		for _, co := range cos {
			if co.Stats().ConnectionsOpen != 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "HAProxy did not cut the idle connections")

	// The sessions outlive their sockets on the coordinators.
	open := 0
	for _, co := range cos {
		open += co.Stats().SessionsOpen
	}
	require.Equal(t, 9, open, "sessions before Close")
	_ = rows.Close() // its socket is gone: the close may fail, typed
	require.NoError(t, held[0].Close())
	require.NoError(t, db.Close())
	closed = true
	requireNothingLeft(t, cos)
	requireNothingTwice(t, cos)
}

// TestOrphanedStatementEnds cuts an ExecuteStatement with the caller's
// context after its request left: the coordinator plans and registers the
// statement with no one holding its handle. The session is not reattached
// (the statement would run on unseen); released, the pool closes it from
// a new connection and CloseSession ends the statement with it.
func TestOrphanedStatementEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cos, addrs := startCluster(t, 1, impalad.Config{
		PlanningTime: 300 * time.Millisecond,
		ServiceTime:  time.Minute,
	})
	co := cos[0]
	p := newPool(t, addrs, fastOpts(), nil)
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	before := co.Stats().StatementsExecuted

	stmt := tagged("orphan")
	cut, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = sess(l).Execute(cut, stmt, nil)
	stop()
	require.Error(t, err)
	require.False(t, conn.SafeToRetry(err), "the statement may have reached the coordinator: %v", err)
	require.False(t, sess(l).CanReattach(), "a session that may run an orphaned statement was offered for reattach")

	// The coordinator registers the statement once planning ends (or the
	// connection does): it runs, orphaned.
	require.Eventually(t, func() bool {
		st := co.Stats()
		return st.StatementsExecuted == before+1 && st.OperationsOpen == 1
	}, 10*time.Second, 10*time.Millisecond, "the orphaned statement never registered")

	l.Release()
	require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 },
		10*time.Second, 10*time.Millisecond, "the orphaned statement outlived its session's release")
	require.NoError(t, p.Close())
	requireNothingLeft(t, cos)
	require.Equal(t, 1, execCount(cos, stmt), "the orphaned statement ran again")
}
