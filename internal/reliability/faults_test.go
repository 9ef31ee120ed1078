package reliability

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// The fault matrix over in-process coordinators (internal/impalad). Each
// test starts three coordinators, puts a fault on one of them (x) and
// checks, at the conn level (a session on x) and at the pool level:
//   - the failure is a typed error naming x, within the configured timeouts;
//   - conn.SafeToRetry is true only when no coordinator recorded the
//     statement;
//   - no statement ran twice and a fetch that completes has every row once;
//   - new work succeeds at once on the healthy coordinators and on x after
//     it is restored.

// matrix is the common set-up of one cell.
type matrix struct {
	t    *testing.T
	ctx  context.Context
	cos  []*impalad.Coordinator
	addr []string
	x    *impalad.Coordinator // the coordinator under fault
	xa   string
}

func newMatrix(t *testing.T, cfg impalad.Config) *matrix {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cos, addrs := startCluster(t, 3, cfg)
	m := &matrix{t: t, ctx: ctx, cos: cos, addr: addrs, x: cos[0], xa: addrs[0]}
	t.Cleanup(func() { requireNothingTwice(t, cos) })
	return m
}

// waitDead waits until x no longer accepts connections: CrashOn kills the
// coordinator from another goroutine, so it may still accept for a moment
// after the client saw its connection reset.
func (m *matrix) waitDead() {
	m.t.Helper()
	require.Eventually(m.t, func() bool {
		c, err := net.DialTimeout("tcp", m.xa, time.Second)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 10*time.Second, 5*time.Millisecond, "coordinator %s still accepts after the crash", m.xa)
}

// dialX opens a direct conn session on x.
func (m *matrix) dialX() *conn.Session {
	s, err := conn.Dial(m.ctx, m.xa, fastOpts())
	require.NoError(m.t, err)
	m.t.Cleanup(func() { _ = s.Close() })
	return s
}

// execX runs a tagged statement on s with the statement timeout and checks
// a failure: typed, naming x, within the bound, SafeToRetry truthful.
// It returns the statement, its error and whether it was safe to retry.
func (m *matrix) execX(s *conn.Session, what string) (string, bool, error) {
	m.t.Helper()
	stmt := tagged(what)
	ctx, cancel := context.WithTimeout(m.ctx, stmtTimeout)
	defer cancel()
	start := time.Now()
	err := runStmt(ctx, s, stmt)
	if err == nil {
		return stmt, false, nil
	}
	within(m.t, time.Since(start), stmtTimeout+cancelTimeout, what)
	requireTyped(m.t, err, m.xa)
	safe, ran := requireRetryTruth(m.t, err, m.cos, stmt)
	m.t.Logf("%s: %v (SafeToRetry=%v, ran=%v)", what, err, safe, ran)
	return stmt, safe, err
}

// dialFails checks a direct Dial of x fails typed, naming x, within the
// connect timeout, and safe to retry.
func (m *matrix) dialFails(what string) {
	m.t.Helper()
	start := time.Now()
	s, err := conn.Dial(m.ctx, m.xa, fastOpts())
	if err == nil {
		_ = s.Close()
	}
	require.Error(m.t, err, what)
	within(m.t, time.Since(start), connectTimeout, what)
	requireTyped(m.t, err, m.xa)
	require.True(m.t, conn.SafeToRetry(err), "a failed Dial must be safe to retry: %v", err)
	m.t.Logf("%s: %v", what, err)
}

func TestFaultKilledWhileIdle(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	idle := m.dialX()
	m.x.Kill()

	used := workSucceeds(m.ctx, t, p, 12)
	require.Zero(t, used[m.xa], "work went to the killed coordinator")
	_, _, err := m.execX(idle, "idle-killed")
	require.Error(t, err)
	m.dialFails("dial killed")

	require.NoError(t, m.x.Restart())
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultCrashMidOpenSession(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "after"}[after], func(t *testing.T) {
			m := newMatrix(t, impalad.Config{})
			m.x.Faults().CrashOn("OpenSession", after)
			m.dialFails("dial crashing in OpenSession")
			m.waitDead()
			require.NoError(t, m.x.Restart())

			p := newPool(t, m.addr, fastOpts(), nil)
			m.x.Faults().CrashOn("OpenSession", after)
			// Three held leases: one acquire meets the crash and is
			// redispatched; the caller never sees it.
			for range 3 {
				l, err := p.Acquire(m.ctx, "")
				require.NoError(t, err)
				require.NoError(t, runStmt(m.ctx, sess(l), tagged("open")))
				defer l.Release()
			}
			workSucceeds(m.ctx, t, p, 6)
			require.NoError(t, m.x.Restart())
			recovers(m.ctx, t, p, m.xa, 3)
		})
	}
}

func TestFaultCrashMidStatement(t *testing.T) {
	for _, c := range []struct {
		name   string
		method string
		after  bool
		// polled: the caller asks for progress reports, so Execute polls
		// the query's status instead of fetching its first rows.
		polled bool
	}{
		{"execute-before", "ExecuteStatement", false, false},
		{"execute-after", "ExecuteStatement", true, false},
		{"metadata", "GetResultSetMetadata", false, false},
		{"first-fetch", "FetchResults", false, false},
		{"poll", "GetOperationStatus", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMatrix(t, impalad.Config{ServiceTime: 30 * time.Millisecond})
			p := newPool(t, m.addr, fastOpts(), nil)
			l := leaseOn(m.ctx, t, p, m.xa)
			if c.polled {
				m.ctx = conn.WithProgress(m.ctx, time.Hour, func(*conn.Summary) {})
			}
			m.x.Faults().CrashOn(c.method, c.after)
			stmt, safe, err := m.execX(sess(l), "crash-"+c.name)
			require.Error(t, err)
			l.Discard()
			m.waitDead()
			if c.after || c.method != "ExecuteStatement" {
				require.Equal(t, 1, execCount(m.cos, stmt), "the coordinator ran it before dying")
				require.False(t, safe)
			}
			// The application retries only what is safe to retry.
			if safe {
				workSucceeds(m.ctx, t, p, 1)
				l2, err := p.Acquire(m.ctx, "")
				require.NoError(t, err)
				require.NoError(t, runStmt(m.ctx, sess(l2), stmt))
				l2.Release()
				require.Equal(t, 1, execCount(m.cos, stmt))
			}
			workSucceeds(m.ctx, t, p, 6)
			require.NoError(t, m.x.Restart())
			recovers(m.ctx, t, p, m.xa, 3)
		})
	}
}

func TestFaultCrashMidFetch(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "after"}[after], func(t *testing.T) {
			m := newMatrix(t, impalad.Config{})
			p := newPool(t, m.addr, fastOpts(), nil)
			l := leaseOn(m.ctx, t, p, m.xa)
			ctx, cancel := context.WithTimeout(m.ctx, stmtTimeout)
			defer cancel()
			start := time.Now()
			rows, err := fetchIDs(ctx, t, sess(l), 5000, func(batch int) {
				if batch == 2 {
					m.x.Faults().CrashOn("FetchResults", after)
				}
			})
			require.Error(t, err, "a fetch cut by a crash must fail, not end early")
			within(t, time.Since(start), stmtTimeout+cancelTimeout, "fetch")
			requireTyped(t, err, m.xa)
			require.False(t, conn.SafeToRetry(err), "the statement ran: %v", err)
			require.Equal(t, 2048, rows)
			l.Discard()
			m.waitDead()

			// A complete fetch elsewhere has every row once.
			l2, err := p.Acquire(m.ctx, "")
			require.NoError(t, err)
			_, err = fetchIDs(m.ctx, t, sess(l2), 5000, nil)
			require.NoError(t, err)
			l2.Release()
			require.NoError(t, m.x.Restart())
			recovers(m.ctx, t, p, m.xa, 3)
		})
	}
}

func TestFaultHang(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	s := m.dialX()
	m.x.Faults().Hang(true)

	_, _, err := m.execX(s, "hung")
	require.Error(t, err)
	m.dialFails("dial hung")
	used := workSucceeds(m.ctx, t, p, 9)
	require.Zero(t, used[m.xa])

	m.x.Faults().Hang(false)
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultSlow(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	s := m.dialX()

	// Slower than usual but within the timeouts: everything completes.
	m.x.Faults().SetDelay(20 * time.Millisecond)
	_, _, err := m.execX(s, "slow-ok")
	require.NoError(t, err)
	_, err = fetchIDs(m.ctx, t, s, 3000, nil)
	require.NoError(t, err)

	// Slower than the statement timeout: a typed error in time.
	m.x.Faults().SetDelay(2 * stmtTimeout)
	_, _, err = m.execX(s, "slow-timeout")
	require.Error(t, err)
	workSucceeds(m.ctx, t, p, 6)

	m.x.Faults().SetDelay(0)
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultResetConnections(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	s := m.dialX()
	require.Positive(t, m.x.Faults().ResetConnections())

	_, _, err := m.execX(s, "after-reset")
	if err != nil {
		t.Logf("statement on a reset connection: %v", err)
	}
	workSucceeds(m.ctx, t, p, 9)

	// Reset in the middle of a fetch: it fails typed or completes whole.
	l := leaseOn(m.ctx, t, p, m.xa)
	_, err = fetchIDs(m.ctx, t, sess(l), 5000, func(batch int) {
		if batch == 2 {
			m.x.Faults().ResetConnections()
		}
	})
	if err != nil {
		requireTyped(t, err, m.xa)
		l.Discard()
	} else {
		l.Release()
	}
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultIdleConnectionsClosed(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	s := m.dialX()
	for _, co := range m.cos {
		co.Faults().SetIdleConnectionTimeout(100 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		for _, co := range m.cos {
			if co.Stats().ConnectionsOpen != 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the coordinators did not drop idle connections")

	_, _, err := m.execX(s, "idle-cut")
	if err != nil {
		t.Logf("statement on a connection cut while idle: %v", err)
	}
	// Users never see a connection that died while idle.
	workSucceeds(m.ctx, t, p, 9)
	for _, co := range m.cos {
		co.Faults().SetIdleConnectionTimeout(0)
	}
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultExpireSessions(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	s := m.dialX()
	require.Positive(t, m.x.Faults().ExpireSessions())

	_, _, err := m.execX(s, "expired")
	require.Error(t, err)
	require.Contains(t, err.Error(), "expired")
	used := workSucceeds(m.ctx, t, p, 9)
	t.Logf("work after expiry: %v", used)
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultRestartUnderIdlePool(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	warm(m.ctx, t, p, 6)
	require.NoError(t, m.x.Restart())
	workSucceeds(m.ctx, t, p, 9)
	recovers(m.ctx, t, p, m.xa, 3)
}

func TestFaultRefusedAcceptCloseFailOpen(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	p := newPool(t, m.addr, fastOpts(), nil)
	for _, f := range []struct {
		name string
		on   func()
	}{
		{"refuse", func() { m.x.Faults().RefuseConnections() }},
		{"accept-and-close", func() { m.x.Faults().SetAcceptAndClose(true) }},
		{"fail-open-session", func() { m.x.Faults().FailOpenSessions(1000) }},
	} {
		f.on()
		m.dialFails(f.name)
		workSucceeds(m.ctx, t, p, 6)
		require.NoError(t, m.x.Faults().Reset())
		recovers(m.ctx, t, p, m.xa, 3)
	}
}

func TestFaultEmptyFetches(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	s := m.dialX()
	m.x.Faults().EmptyFetches(5)
	_, err := fetchIDs(m.ctx, t, s, 5000, nil)
	require.NoError(t, err)
}

// TestAcquireDeadlineNamesCoordinator: an acquire whose caller's deadline
// ends while it dials a coordinator that does not answer must still reach
// the caller as a typed error naming that coordinator (the pool knows it:
// its text says "last failure: ... dial <addr>").
func TestAcquireDeadlineNamesCoordinator(t *testing.T) {
	m := newMatrix(t, impalad.Config{})
	m.x.Faults().Hang(true)
	p := newPool(t, []string{m.xa}, fastOpts(), func(c *balancer.Config) { c.DialTimeout = 10 * time.Second })
	ctx, cancel := context.WithTimeout(m.ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Acquire(ctx, "")
	require.Error(t, err)
	within(t, time.Since(start), 300*time.Millisecond, "acquire")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), m.xa)
	_, ok := coordinatorOf(err)
	require.True(t, ok, "the last dial failure is in the chain: %v", err)
	requireTyped(t, err, m.xa)
}
