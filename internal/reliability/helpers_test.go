package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
)

// Configured timeouts of the matrix. Assertions on elapsed time compare with
// these times a generous slack (see within), never a tight wall clock.
const (
	connectTimeout = 2 * time.Second
	cancelTimeout  = 1 * time.Second
	stmtTimeout    = 3 * time.Second
)

// within fails the test when elapsed is far beyond the configured bound:
// three times the bound plus two seconds, room for -race and a loaded
// machine, yet far below "hangs forever".
func within(t *testing.T, elapsed, bound time.Duration, what string) {
	t.Helper()
	limit := 3*bound + 2*time.Second
	require.Less(t, elapsed, limit, "%s took %v, configured bound %v", what, elapsed, bound)
}

// seq numbers the statements of the package, so each text is unique and the
// coordinators' statement records tell how often each one ran.
var seq atomic.Int64

// tagged returns a unique statement "select 'rel-N-what'" and its tag.
func tagged(what string) string {
	return fmt.Sprintf("select 'rel-%d-%s'", seq.Add(1), what)
}

// execCount counts the records of stmt over cos.
func execCount(cos []*impalad.Coordinator, stmt string) int {
	n := 0
	for _, co := range cos {
		for _, s := range co.Statements() {
			if s.Text == stmt {
				n++
			}
		}
	}
	return n
}

// requireNothingTwice checks that no tagged statement ran more than once
// over cos.
func requireNothingTwice(t *testing.T, cos []*impalad.Coordinator) {
	t.Helper()
	seen := map[string]int{}
	for _, co := range cos {
		for _, s := range co.Statements() {
			if strings.Contains(s.Text, "'rel-") {
				seen[s.Text]++
			}
		}
	}
	for text, n := range seen {
		require.Equal(t, 1, n, "statement %q executed %d times", text, n)
	}
}

// coordinatorOf returns the coordinator an error names: *conn.Error's Addr
// or *balancer.DialError's Coordinator.
func coordinatorOf(err error) (string, bool) {
	var ce *conn.Error
	if errors.As(err, &ce) {
		return ce.Addr, true
	}
	var de *balancer.DialError
	if errors.As(err, &de) {
		return de.Coordinator, true
	}
	return "", false
}

// requireTyped checks that err is a typed error of the library naming addr,
// both in its fields and in its text.
func requireTyped(t *testing.T, err error, addr string) {
	t.Helper()
	require.Error(t, err)
	got, ok := coordinatorOf(err)
	require.True(t, ok, "error is not *conn.Error nor *balancer.DialError: %T %v", err, err)
	require.Equal(t, addr, got, "error names another coordinator: %v", err)
	require.Contains(t, err.Error(), addr)
}

// requireRetryTruth checks SafeToRetry against the statement records: true
// only when no coordinator recorded stmt. It returns what SafeToRetry said
// and whether the statement ran.
func requireRetryTruth(t *testing.T, err error, cos []*impalad.Coordinator, stmt string) (safe bool, ran bool) {
	t.Helper()
	safe = conn.SafeToRetry(err)
	ran = execCount(cos, stmt) > 0
	if safe {
		require.False(t, ran, "SafeToRetry true for %q but a coordinator ran it: %v", stmt, err)
	}
	return safe, ran
}

// fastOpts are conn options with the matrix's timeouts.
func fastOpts() conn.Options {
	return conn.Options{
		User:           "rel",
		ConnectTimeout: connectTimeout,
		CancelTimeout:  cancelTimeout,
		PollMax:        20 * time.Millisecond,
		FetchSize:      1024,
	}
}

// newPool starts a pool over addrs with quick health settings; mod may
// change the config. It is closed in t.Cleanup.
func newPool(t testing.TB, addrs []string, opts conn.Options, mod func(*balancer.Config)) *balancer.Pool[*conn.Session] {
	t.Helper()
	cfg := balancer.Config{}
	cfg.Coordinators = addrs
	cfg.DialTimeout = connectTimeout
	cfg.CheckTimeout = connectTimeout
	cfg.Interval = 100 * time.Millisecond
	cfg.BackoffMin = 50 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.Rise = 1
	cfg.Fall = 1
	cfg.SlowStart = -1
	// Every reuse pings: the matrix runs faster than any realistic
	// ValidateAfter, and a session the coordinator expired or forgot is
	// found only by a round trip.
	cfg.ValidateAfter = time.Nanosecond
	if mod != nil {
		mod(&cfg)
	}
	p, err := balancer.New(cfg, balancer.NewConnDialer(opts))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func sess(l *balancer.Lease[*conn.Session]) *conn.Session { return l.Session() }

// runStmt executes stmt on s and reads its rows.
func runStmt(ctx context.Context, s *conn.Session, stmt string) error {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return err
	}
	for {
		_, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = op.Close(ctx)
			return err
		}
	}
	return op.Close(ctx)
}

// fetchIDs runs "select id from gen.rows_n" on s and checks, when the fetch
// completes, that every id 0..n-1 came exactly once. It returns the number
// of rows read before an error.
func fetchIDs(ctx context.Context, t *testing.T, s *conn.Session, n int, between func(batch int)) (int, error) {
	t.Helper()
	op, err := s.Execute(ctx, fmt.Sprintf("select id from gen.rows_%d", n), nil)
	if err != nil {
		return 0, err
	}
	defer op.Close(ctx)
	seen := make([]bool, n)
	rows := 0
	for batch := 0; ; batch++ {
		if between != nil {
			between(batch)
		}
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, err
		}
		for r := 0; r < b.Len(); r++ {
			id := b.Int64(0, r)
			require.True(t, id >= 0 && id < int64(n), "id %d out of range", id)
			require.False(t, seen[id], "row %d duplicated", id)
			seen[id] = true
			rows++
		}
	}
	require.Equal(t, n, rows, "a fetch that completed lost rows")
	return rows, nil
}

// leaseOn acquires leases until one is on addr (leastconn spreads held
// leases over the coordinators) and releases the others.
func leaseOn(ctx context.Context, t *testing.T, p *balancer.Pool[*conn.Session], addr string) *balancer.Lease[*conn.Session] {
	t.Helper()
	var held []*balancer.Lease[*conn.Session]
	defer func() {
		for _, l := range held {
			l.Release()
		}
	}()
	for range 16 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		if l.Coordinator() == addr {
			return l
		}
		held = append(held, l)
	}
	t.Fatalf("no lease landed on %s", addr)
	return nil
}

// warm opens k sessions per coordinator and leaves them idle in the pool.
func warm(ctx context.Context, t *testing.T, p *balancer.Pool[*conn.Session], total int) {
	t.Helper()
	var held []*balancer.Lease[*conn.Session]
	for range total {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NoError(t, runStmt(ctx, sess(l), tagged("warm")))
		held = append(held, l)
	}
	for _, l := range held {
		l.Release()
	}
}

// workSucceeds runs n acquire-statement-release cycles and requires every
// one to succeed at once (no caller retry): the pool itself must route
// around what is broken. It returns the coordinators used.
func workSucceeds(ctx context.Context, t *testing.T, p *balancer.Pool[*conn.Session], n int) map[string]int {
	t.Helper()
	used := map[string]int{}
	for i := range n {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err, "acquire %d", i)
		err = runStmt(ctx, sess(l), tagged("work"))
		if err != nil {
			l.Discard()
		} else {
			l.Release()
		}
		require.NoError(t, err, "statement %d on %s; pool %+v", i, l.Coordinator(), p.Stats())
		used[l.Coordinator()]++
	}
	return used
}

// recovers waits (bounded) until a statement runs on addr through the pool:
// the restored coordinator takes work again.
func recovers(ctx context.Context, t *testing.T, p *balancer.Pool[*conn.Session], addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var held []*balancer.Lease[*conn.Session]
		hit := false
		for range n + 1 {
			l, err := p.Acquire(ctx, "")
			if err != nil {
				break
			}
			held = append(held, l)
			if l.Coordinator() == addr {
				if runStmt(ctx, sess(l), tagged("back")) == nil {
					hit = true
				}
				break
			}
		}
		for _, l := range held {
			if sess(l).Broken() {
				l.Discard()
			} else {
				l.Release()
			}
		}
		if hit {
			return
		}
		time.Sleep(50 * time.Millisecond) // health backoff; nothing to wait on
	}
	t.Fatalf("coordinator %s did not take work again within 20s: %+v", addr, p.Stats())
}

// startCluster starts n in-process coordinators.
func startCluster(t *testing.T, n int, cfg impalad.Config) ([]*impalad.Coordinator, []string) {
	t.Helper()
	if cfg.DisconnectedSessionTimeout == 0 {
		cfg.DisconnectedSessionTimeout = time.Minute
	}
	cos := testenv.StartCluster(t, n, 0, cfg)
	return cos, testenv.HS2Addrs(cos)
}

// fdCount counts this process's open file descriptors, -1 where /proc is
// missing.
func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
