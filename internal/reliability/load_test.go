package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
)

// Load and leaks: 256 goroutines run acquire-statement-release cycles over
// three coordinators while a fault goroutine keeps breaking one of them at
// random. Short form by default (bounded for CI under -race); the full
// form is scripts/soak.sh, which sets IMPALALB_SOAK_CYCLES (total cycles).

const workers = 256

// soakCycles is the total number of cycles: IMPALALB_SOAK_CYCLES, or the
// short form's 2048.
func soakCycles(t *testing.T) int {
	if v := os.Getenv("IMPALALB_SOAK_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "IMPALALB_SOAK_CYCLES")
		return n
	}
	return 2048
}

type loadFigures struct {
	cycles, ok, stmtErrs, acquireErrs, safe, unsafe atomic.Int64
	faults                                          atomic.Int64
}

// TestLoadAndLeaks runs the load, then closes everything and checks that
// no goroutine, file descriptor or memory was left behind, that nothing
// ran twice, that every failure was typed and every SafeToRetry truthful.
// It does not run in parallel: goroutine, descriptor and heap counts are
// process-wide.
func TestLoadAndLeaks(t *testing.T) {
	total := soakCycles(t)
	runtime.GC()
	g0, fd0 := runtime.NumGoroutine(), fdCount()
	stack0 := goroutineStacks()

	cos := func() []*impalad.Coordinator {
		// Few records kept: the ledger below harvests them as the run
		// goes, so that they do not grow the heap.
		cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{DisconnectedSessionTimeout: time.Minute, MaxStatements: 6000})
		require.NoError(t, err)
		return cos
	}()
	addrs := testenv.HS2Addrs(cos)
	set := map[string]bool{}
	for _, a := range addrs {
		set[a] = true
	}
	cfg := balancer.Config{}
	cfg.Coordinators = addrs
	cfg.DialTimeout = connectTimeout
	cfg.Interval = 100 * time.Millisecond
	cfg.BackoffMin = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.Rise, cfg.Fall = 1, 1
	cfg.SlowStart = -1
	cfg.ValidateAfter = time.Nanosecond
	cfg.Retries = 3
	p, err := balancer.New(cfg, balancer.NewConnDialer(fastOpts()))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var fig loadFigures
	led := newLedger(cos, total+64)
	var mu sync.Mutex
	var safeStmts []string // statements that failed with SafeToRetry true
	var badErrs []string   // failures that were not typed
	var heap []uint64      // HeapInuse after GC at each tenth of the run
	kinds := map[string]int{}
	var waits []time.Duration                 // acquire durations, every waitEvery-th cycle
	var acquireErrs, acquireTimeouts []string // statement failures by step and cause
	next := atomic.Int64{}                    // cycles handed out
	stopFaults := make(chan struct{})
	var faultWG sync.WaitGroup

	// The fault goroutine: one fault at a time on a random coordinator.
	faultWG.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stopFaults:
				return
			case <-time.After(time.Duration(20+r.IntN(60)) * time.Millisecond):
			}
			co := cos[r.IntN(len(cos))]
			f := co.Faults()
			fig.faults.Add(1)
			switch r.IntN(8) {
			case 0:
				f.ResetConnections()
			case 1:
				f.CloseConnections()
			case 2:
				f.ExpireSessions()
			case 3:
				co.Kill()
				time.Sleep(time.Duration(r.IntN(50)) * time.Millisecond)
				_ = co.Restart()
			case 4:
				f.FailOpenSessions(2)
			case 5:
				f.EmptyFetches(3)
			case 6:
				f.SetDelay(2 * time.Millisecond)
				time.Sleep(30 * time.Millisecond)
				f.SetDelay(0)
			case 7:
				f.CrashOn([]string{"ExecuteStatement", "FetchResults", "OpenSession", "GetOperationStatus"}[r.IntN(4)], r.IntN(2) == 0)
				time.Sleep(30 * time.Millisecond)
				f.CrashOn("", false)
				_ = co.Restart()
			}
		}
	})

	sample := func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		heap = append(heap, ms.HeapInuse)
		mu.Unlock()
	}
	tenth := max(total/10, 1)
	// Keep at most ~200k acquire durations for the percentiles: a long
	// soak recording every one grows the test's own heap (5.12M cycles ×
	// 8 bytes) and would hide what the memory check looks for.
	waitEvery := int64(max(total/200_000, 1))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				if i%int64(tenth) == 0 {
					sample()
				}
				if i%harvestEvery == 0 {
					led.harvest()
				}
				fig.cycles.Add(1)
				actx, acancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				l, err := p.Acquire(actx, "")
				acancel()
				if i%waitEvery == 0 {
					mu.Lock()
					waits = append(waits, time.Since(t0))
					mu.Unlock()
				}
				if err != nil {
					fig.acquireErrs.Add(1)
					mu.Lock()
					if _, ok := coordinatorOf(err); ok {
						acquireErrs = append(acquireErrs, err.Error())
					} else if errors.Is(err, context.DeadlineExceeded) {
						// A wait for capacity that outlived the caller's
						// deadline: see TestAcquireWaitFairness.
						acquireTimeouts = append(acquireTimeouts, err.Error())
					} else {
						badErrs = append(badErrs, fmt.Sprintf("acquire: %T %v", err, err))
					}
					mu.Unlock()
					continue
				}
				sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
				var stmt string
				if r.IntN(4) == 0 {
					n := 1 + r.IntN(3000)
					stmt = fmt.Sprintf("select id from gen.rows_%d", n)
					err = loadFetch(sctx, sess(l), n)
				} else {
					stmt = led.tagged()
					err = runStmt(sctx, sess(l), stmt)
				}
				scancel()
				if err == nil {
					fig.ok.Add(1)
					l.Release()
					continue
				}
				fig.stmtErrs.Add(1)
				l.Discard()
				mu.Lock()
				kinds[errKind(err)]++
				mu.Unlock()
				a, ok := coordinatorOf(err)
				if !ok || !set[a] || errors.Is(err, errRowsWrong) {
					mu.Lock()
					badErrs = append(badErrs, fmt.Sprintf("statement: %T %v", err, err))
					mu.Unlock()
				}
				if conn.SafeToRetry(err) {
					fig.safe.Add(1)
					mu.Lock()
					safeStmts = append(safeStmts, stmt)
					mu.Unlock()
				} else {
					fig.unsafe.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopFaults)
	faultWG.Wait()
	for _, co := range cos {
		require.NoError(t, co.Faults().Reset())
		if co.Restart() != nil { // make sure it runs (a crash may be pending)
			t.Fatalf("restart %s", co.HS2Addr())
		}
	}
	// Healthy again: work succeeds everywhere.
	for range 12 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NoError(t, runStmt(ctx, sess(l), tagged("after-load")))
		l.Release()
	}

	// Nothing ran twice; SafeToRetry never lied; every failure was typed.
	led.harvest()
	require.Empty(t, led.twice, "statements executed twice")
	for _, s := range safeStmts {
		require.False(t, led.ran(s), "SafeToRetry true but %q ran", s)
	}
	require.Empty(t, badErrs, "untyped or wrong failures")

	st := p.Stats()
	// Close may report sessions whose coordinator restarted under them.
	if err := p.Close(); err != nil {
		t.Logf("pool close: %d bytes of close errors (sessions on restarted coordinators)", len(err.Error()))
	}
	for _, co := range cos {
		require.NoError(t, co.Close())
	}

	// Leaks: goroutines and descriptors back to where they were.
	var g1, fd1 int
	settled := false
	for range 200 {
		runtime.GC()
		g1, fd1 = runtime.NumGoroutine(), fdCount()
		if g1 <= g0 && fd1 <= fd0 {
			settled = true
			break
		}
		time.Sleep(25 * time.Millisecond) // goroutines end on their own; nothing to wait on
	}
	if !settled {
		t.Errorf("leak: goroutines %d → %d, fds %d → %d; new goroutines:\n%s", g0, g1, fd0, fd1, newStacks(stack0, goroutineStacks()))
	}

	// Memory flat after warm-up: the median of the last three samples
	// against the highest of the first half after the first tenth.
	mu.Lock()
	h := slices.Clone(heap)
	mu.Unlock()
	ratio := 0.0
	if len(h) >= 6 {
		early := slices.Max(h[1 : len(h)/2])
		late := slices.Clone(h[len(h)-3:])
		slices.Sort(late)
		ratio = float64(late[1]) / float64(early)
		require.Less(t, ratio, 1.5, "HeapInuse grew after warm-up: %v MiB", mib(h))
	}
	t.Logf("load: %d workers, %d cycles in %v (%.0f/s), ok %d, statement errors %d (safe %d, unsafe %d), acquire errors %d, faults injected %d, redispatches %d",
		workers, fig.cycles.Load(), elapsed.Round(time.Millisecond), float64(fig.cycles.Load())/elapsed.Seconds(),
		fig.ok.Load(), fig.stmtErrs.Load(), fig.safe.Load(), fig.unsafe.Load(), fig.acquireErrs.Load(), fig.faults.Load(), st.Redispatches)
	t.Logf("statement failures by kind: %v", kinds)
	slices.Sort(waits)
	q := func(f float64) time.Duration { return waits[int(f*float64(len(waits)-1))].Round(time.Microsecond) }
	t.Logf("acquire: p50 %v p99 %v p99.9 %v max %v; typed acquire errors %d, acquire timeouts %d %v",
		q(0.5), q(0.99), q(0.999), q(1), len(acquireErrs), len(acquireTimeouts), acquireTimeouts)
	t.Logf("leaks: goroutines %d → %d, fds %d → %d; HeapInuse MiB by tenth %v, late/early %.2f",
		g0, g1, fd0, fd1, mib(h), ratio)
}

// errKind names a failure by conn step and a short cause.
func errKind(err error) string {
	var ce *conn.Error
	if !errors.As(err, &ce) {
		return fmt.Sprintf("%T", err)
	}
	cause := "other"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		cause = "deadline"
	case errors.Is(err, conn.ErrBroken):
		cause = "broken"
	case errors.Is(err, conn.ErrOperationFailed), errors.Is(err, conn.ErrRemote):
		cause = "coordinator said: " + firstWords(ce.Message, 4)
	case ce.Err != nil:
		cause = firstWords(ce.Err.Error(), 6)
	}
	return string(ce.Op) + ": " + cause
}

func firstWords(s string, n int) string {
	w := 0
	for i, c := range s {
		if c == ' ' {
			w++
			if w == n {
				return s[:i]
			}
		}
		if c == ':' && i > 0 && w >= 2 {
			return s[:i]
		}
	}
	return s
}

// harvestEvery is how many cycles pass between two harvests of the
// coordinators' statement records: far fewer than the half of
// MaxStatements that a coordinator keeps when it trims its records.
const harvestEvery = 1000

// ledger counts how often each statement of the load ran, from the
// coordinators' records, in a fixed-size table allocated before the run.
type ledger struct {
	mu     sync.Mutex
	cos    []*impalad.Coordinator
	counts []uint8
	last   []string // per coordinator, the id of the last record harvested
	twice  []string
	next   atomic.Int64
}

func newLedger(cos []*impalad.Coordinator, n int) *ledger {
	return &ledger{cos: cos, counts: make([]uint8, n), last: make([]string, len(cos))}
}

// tagged returns the statement of the next load cycle, "select 'load-N'".
func (l *ledger) tagged() string {
	return "select 'load-" + strconv.FormatInt(l.next.Add(1), 10) + "'"
}

func loadNumber(text string) (int64, bool) {
	const pre = "select 'load-"
	if len(text) < len(pre)+2 || text[:len(pre)] != pre {
		return 0, false
	}
	n, err := strconv.ParseInt(text[len(pre):len(text)-1], 10, 64)
	return n, err == nil
}

// harvest counts the records added since the last harvest.
func (l *ledger) harvest() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, co := range l.cos {
		recs := co.Statements()
		from := 0
		for j := len(recs) - 1; j >= 0; j-- {
			if recs[j].ID == l.last[i] {
				from = j + 1
				break
			}
		}
		for _, r := range recs[from:] {
			if n, ok := loadNumber(r.Text); ok && n < int64(len(l.counts)) {
				l.counts[n]++
				if l.counts[n] == 2 {
					l.twice = append(l.twice, r.Text)
				}
			}
		}
		if len(recs) > 0 {
			l.last[i] = recs[len(recs)-1].ID
		}
	}
}

// ran reports whether the load statement text ran.
func (l *ledger) ran(text string) bool {
	n, ok := loadNumber(text)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[n] > 0
}

var errRowsWrong = errors.New("rows lost or duplicated")

// loadFetch reads gen.rows_n and checks every id came once when the fetch
// completes (without require: it runs on worker goroutines).
func loadFetch(ctx context.Context, s *conn.Session, n int) error {
	op, err := s.Execute(ctx, fmt.Sprintf("select id from gen.rows_%d", n), nil)
	if err != nil {
		return err
	}
	defer op.Close(ctx)
	seen := make([]bool, n)
	rows := 0
	for {
		b, err := op.Next(ctx)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return err
		}
		for r := 0; r < b.Len(); r++ {
			id := b.Int64(0, r)
			if id < 0 || id >= int64(n) || seen[id] {
				return fmt.Errorf("%w: id %d", errRowsWrong, id)
			}
			seen[id] = true
			rows++
		}
	}
	if rows != n {
		return fmt.Errorf("%w: %d of %d rows", errRowsWrong, rows, n)
	}
	return nil
}

func mib(h []uint64) []string {
	out := make([]string, len(h))
	for i, v := range h {
		out[i] = fmt.Sprintf("%.1f", float64(v)/(1<<20))
	}
	return out
}

// goroutineStacks returns the stacks of all goroutines, one string each,
// keyed by their function lines without addresses.
func goroutineStacks() map[string]int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]int{}
	for _, g := range splitGoroutines(string(buf)) {
		out[g]++
	}
	return out
}

// splitGoroutines splits a full stack dump into goroutines, keeping only
// function names (no arguments, no goroutine ids or states).
func splitGoroutines(dump string) []string {
	var out []string
	var cur []byte
	lines := 0
	for _, line := range splitLines(dump) {
		switch {
		case len(line) == 0:
			if len(cur) > 0 {
				out = append(out, string(cur))
			}
			cur, lines = nil, 0
		case len(line) > 10 && line[:10] == "goroutine ":
		case line[0] == '\t':
		default:
			if lines < 6 {
				if i := lastIndexByte(line, '('); i > 0 {
					line = line[:i]
				}
				cur = append(cur, line...)
				cur = append(cur, '\n')
				lines++
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// newStacks lists the goroutine stacks of after not in before.
func newStacks(before, after map[string]int) string {
	var b []byte
	for g, n := range after {
		if d := n - before[g]; d > 0 {
			b = fmt.Appendf(b, "%d×\n%s\n", d, g)
		}
	}
	return string(b)
}

// TestAcquireWaitFairness measures acquires that wait for capacity:
// 32 goroutines share 4 sessions on one coordinator, each holding its lease
// for about a millisecond, with the cap set once by MaxPerCoordinator and
// once by MaxSessions. Either way the 4 sessions should be reused (4
// dials) and a waiter woken only when a session is free. The figures (wait
// p50, p99, max; dials; Stats.Waits) are logged for RELIABILITY.md.
func TestAcquireWaitFairness(t *testing.T) {
	for _, c := range []struct {
		name             string
		maxSess, maxPer  int
		goroutines, each int
	}{
		{"MaxPerCoordinator", 0, 4, 32, 10},
		{"MaxSessions", 4, 0, 16, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, addrs := startCluster(t, 1, impalad.Config{})
			p := newPool(t, addrs, fastOpts(), func(cfg *balancer.Config) {
				cfg.MaxSessions, cfg.MaxPerCoordinator = c.maxSess, c.maxPer
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var mu sync.Mutex
			var waits []time.Duration
			var wg sync.WaitGroup
			for range c.goroutines {
				wg.Go(func() {
					for range c.each {
						t0 := time.Now()
						l, err := p.Acquire(ctx, "")
						d := time.Since(t0)
						if err != nil {
							t.Errorf("acquire: %v", err)
							return
						}
						time.Sleep(time.Millisecond) // the lease holder's work
						l.Release()
						mu.Lock()
						waits = append(waits, d)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Len(t, waits, c.goroutines*c.each)
			slices.Sort(waits)
			q := func(f float64) time.Duration { return waits[int(f*float64(len(waits)-1))].Round(time.Microsecond) }
			st := p.Stats()
			dialed := st.Coordinators[0].Dialed
			t.Logf("%s: %d acquires by %d goroutines over 4 sessions: wait p50 %v p99 %v max %v; %d sessions dialed; Stats.Waits %d",
				c.name, len(waits), c.goroutines, q(0.5), q(0.99), q(1), dialed, st.Waits)
			// The 4 sessions are reused (a few more dials are tolerated for
			// sessions cut by the machine's load), and a waiter is woken
			// about once per release, not once per other waiter.
			require.LessOrEqual(t, dialed, uint64(8), "sessions dialed for a cap of 4")
			require.LessOrEqual(t, st.Waits, uint64(100*len(waits)), "wake-ups for %d acquires", len(waits))
		})
	}
}
