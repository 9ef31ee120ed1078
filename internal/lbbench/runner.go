package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
)

// workload is one kind of traffic: what a client does per operation.
type workload struct {
	name  string
	title string
	// churn: every operation opens a session, runs one statement and
	// closes it.
	churn bool
	// stmt runs one statement on s and checks its result.
	stmt func(ctx context.Context, s *conn.Session, rng *rand.Rand) error
}

func workloads(cfg *config) []workload {
	selectOne := func(ctx context.Context, s *conn.Session, _ *rand.Rand) error {
		return runCount(ctx, s, "select 1", 1)
	}
	long := fmt.Sprintf("select sleep(%d)", cfg.long.Milliseconds())
	return []workload{
		{name: "select1", title: "pooled sessions, SELECT 1", stmt: selectOne},
		{name: "churn", title: "session churn: open, SELECT 1, close", churn: true, stmt: selectOne},
		{name: "fetch10k", title: "10,000-row fetch (SELECT * FROM gen.rows_10000, 15 columns)", stmt: func(ctx context.Context, s *conn.Session, _ *rand.Rand) error {
			return runCount(ctx, s, "select * from gen.rows_10000", 10000)
		}},
		{name: "mixed", title: fmt.Sprintf("mixed: %.0f%% %s, the rest SELECT 1, pooled", cfg.longFrac*100, long), stmt: func(ctx context.Context, s *conn.Session, rng *rand.Rand) error {
			if rng.Float64() < cfg.longFrac {
				return runCount(ctx, s, long, 1)
			}
			return runCount(ctx, s, "select 1", 1)
		}},
	}
}

// runCount runs stmt, reads every row and checks how many came.
func runCount(ctx context.Context, s *conn.Session, stmt string, want int) error {
	n, _, err := runRows(ctx, s, stmt)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("lbbench: %q gave %d rows, want %d", stmt, n, want)
	}
	return nil
}

// runRows runs stmt and reads every row; it returns how many came and the
// first row's second column when that is a string.
func runRows(ctx context.Context, s *conn.Session, stmt string) (n int, second string, err error) {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return 0, "", err
	}
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = op.Close(ctx) // err is what failed
			return 0, "", err
		}
		if n == 0 && b.Len() > 0 && b.NumColumns() == 2 && b.Column(1).Type == conn.TypeString {
			second = b.String(1, 0)
		}
		n += b.Len()
	}
	return n, second, op.Close(ctx)
}

// recorder holds what one client measured.
type recorder struct {
	lat      []time.Duration
	stmts    []int64         // per coordinator
	busy     []time.Duration // per coordinator: the operations' durations summed
	ok       []uint32        // [bucket*ncoord+coord]
	fail     []uint32        // per bucket
	failPre  int             // failed, started before the SIGKILL was sent
	failMid  int             // failed, started while the process was dying
	failPost int             // failed, started after the process was gone
	errs     int
	lastErr  error
}

// cellSpec says what one run measures.
type cellSpec struct {
	mode    modeKind
	wl      workload
	clients int
	// home is the part's number: (a) and (b′) run on coordinator home mod 3.
	home   int
	warmup time.Duration
	dur    time.Duration
	bucket time.Duration
	// during, when set, runs beside the measurement (the failover kill and
	// monitor) with the measurement's start time.
	during func(ctx context.Context, t0 time.Time, t *target)
	// sigAt and deadAt, when set, are when the failover's SIGKILL was sent
	// and when the process was gone (UnixNano; 0: not yet): clients
	// classify their failures by them.
	sigAt, deadAt *atomic.Int64
	// errPause is a pause after a failed operation, so that a dead path is
	// not spun on.
	errPause time.Duration
	// think is the mean pause after each successful operation: the
	// session is idle meanwhile, as in an application between two
	// statements.
	think time.Duration
}

// cellResult is the outcome of one cell.
type cellResult struct {
	mode           modeKind
	wl             string
	clients        int
	n              int
	dur            time.Duration
	tput           float64
	lat            []time.Duration // sorted
	p50, p99, p999 time.Duration
	errs           int
	lastErr        error
	sessions       []int64 // per coordinator, during the measurement
	stmts          []int64 // per coordinator
	// busy is, per coordinator, the durations of its operations summed:
	// divided by the window, the mean number of operations in flight
	// there, which is what leastconn evens out.
	busy      []time.Duration
	clientCPU time.Duration
	proxyCPU  time.Duration
	coordCPU  time.Duration   // the three coordinators together
	coordCPUs []time.Duration // per coordinator
	ok        [][]uint32      // [bucket][coord]
	fail      []uint32
	failPre   int
	failMid   int
	failPost  int
}

func runCell(ctx context.Context, e *env, spec cellSpec) (*cellResult, error) {
	t, err := newTarget(e, spec.mode, spec.wl.churn, spec.home)
	if err != nil {
		return nil, err
	}
	defer t.close()
	ncoord := len(e.coords)
	nb := int(spec.dur/spec.bucket) + 1
	start := time.Now()
	w := window{t0: start.Add(spec.warmup), bucket: spec.bucket}
	w.tEnd = w.t0.Add(spec.dur)

	var wg sync.WaitGroup
	recs := make([]*recorder, spec.clients)
	var panicErr atomic.Value
	for i := range spec.clients {
		r := &recorder{stmts: make([]int64, ncoord), busy: make([]time.Duration, ncoord), ok: make([]uint32, nb*ncoord), fail: make([]uint32, nb)}
		recs[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					panicErr.Store(fmt.Errorf("lbbench: client panic: %v", p))
				}
			}()
			r.run(ctx, t.newClient(i, spec.wl.churn), &spec, w, e.cfg.verbose)
		}()
	}

	// Measurement window: CPU and session counters at its edges.
	dctx, dcancel := context.WithCancel(ctx)
	var dwg sync.WaitGroup
	sleepUntil(ctx, w.t0)
	c0 := e.counters(t)
	if spec.during != nil {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			spec.during(dctx, w.t0, t)
		}()
	}
	sleepUntil(ctx, w.tEnd)
	c1 := e.counters(t)
	wg.Wait()
	dcancel()
	dwg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p, ok := panicErr.Load().(error); ok {
		return nil, p
	}

	res := newCellResult(&spec, nb, ncoord, c0, c1)
	res.add(recs)
	if res.n == 0 && res.errs > 0 {
		return res, fmt.Errorf("lbbench: %s %s at %d clients: every operation failed: %w", spec.mode, spec.wl.name, spec.clients, res.lastErr)
	}
	return res, nil
}

// window is a cell's measured time, [t0, tEnd], in buckets.
type window struct {
	t0, tEnd time.Time
	bucket   time.Duration
}

// run is one client of a cell: operations in a closed loop until the
// window ends, those that end inside it recorded.
func (r *recorder) run(ctx context.Context, cl *client, spec *cellSpec, w window, verbose bool) {
	defer cl.close()
	rng := rand.New(rand.NewPCG(uint64(cl.index)+1, 42)) //nolint:gosec // G404: the workload's choices, no secret
	for ctx.Err() == nil {
		begin := time.Now()
		if !begin.Before(w.tEnd) {
			return
		}
		coord, err := cl.operation(ctx, spec.wl, rng)
		done := time.Now()
		// Operations are counted when they end inside the window,
		// whenever they began.
		if done.Before(w.t0) || done.After(w.tEnd) {
			if err != nil && spec.errPause > 0 {
				time.Sleep(spec.errPause)
			}
			continue
		}
		b := int(done.Sub(w.t0) / w.bucket)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.failure(spec, b, begin, err, verbose)
			if spec.errPause > 0 {
				time.Sleep(spec.errPause)
			}
			continue
		}
		r.success(b, coord, done.Sub(begin))
		if spec.think > 0 {
			// Uniform in [0, 2×think): clients that run the same
			// loop must not fall into step with each other.
			time.Sleep(time.Duration(rng.Int64N(int64(2 * spec.think))))
		}
	}
}

// success records an operation on coordinator coord that ended in
// bucket b after lat.
func (r *recorder) success(b, coord int, lat time.Duration) {
	r.lat = append(r.lat, lat)
	r.stmts[coord]++
	r.busy[coord] += lat
	r.ok[b*len(r.stmts)+coord]++
}

// failure records a failed operation begun at begin that ended in bucket
// b; in a failover run, classed by when it began.
func (r *recorder) failure(spec *cellSpec, b int, begin time.Time, err error, verbose bool) {
	r.errs++
	r.lastErr = err
	r.fail[b]++
	if spec.sigAt == nil {
		return
	}
	sig, dead, at := spec.sigAt.Load(), spec.deadAt.Load(), begin.UnixNano()
	if verbose {
		logf("failure: begin-sig %v dead-sig %v: %v", time.Duration(at-sig), time.Duration(dead-sig), err)
	}
	switch {
	case sig == 0 || at < sig:
		r.failPre++
	case dead == 0 || at < dead:
		r.failMid++
	default:
		r.failPost++
	}
}

// counters are the CPU times and session counts at one edge of a cell's
// window.
type counters struct {
	self, proxy time.Duration
	coords      []time.Duration // nil: a coordinator was restarted or killed
	sessions    []int64
}

func (e *env) counters(t *target) counters {
	return counters{self: selfCPU(), proxy: e.proxyCPU(), coords: e.coordCPU(), sessions: t.sessionCounts()}
}

// proxyCPU returns HAProxy's CPU time so far (0 without HAProxy).
func (e *env) proxyCPU() time.Duration {
	if e.proxy == nil {
		return 0
	}
	u, s, err := haproxytest.ProcessCPUTime(e.proxy.Pid())
	if err != nil {
		return 0
	}
	return u + s
}

// coordCPU returns each coordinator's CPU time so far.
func (e *env) coordCPU() []time.Duration {
	out := make([]time.Duration, len(e.coords))
	for i, c := range e.coords {
		u, s, err := haproxytest.ProcessCPUTime(c.Pid())
		if err != nil {
			return nil // restarted or killed (failover): no figure
		}
		out[i] = u + s
	}
	return out
}

// newCellResult starts a cell's result from the counters at the edges of
// its window.
func newCellResult(spec *cellSpec, nb, ncoord int, c0, c1 counters) *cellResult {
	res := &cellResult{mode: spec.mode, wl: spec.wl.name, clients: spec.clients, dur: spec.dur,
		stmts: make([]int64, ncoord), busy: make([]time.Duration, ncoord), sessions: make([]int64, ncoord),
		clientCPU: c1.self - c0.self, ok: make([][]uint32, nb), fail: make([]uint32, nb)}
	if spec.mode.proxied() {
		res.proxyCPU = c1.proxy - c0.proxy
	}
	if c0.coords != nil && c1.coords != nil {
		res.coordCPUs = make([]time.Duration, ncoord)
		for i := range ncoord {
			res.coordCPUs[i] = c1.coords[i] - c0.coords[i]
			res.coordCPU += res.coordCPUs[i]
		}
	}
	// Pooled workloads open their sessions in the warm-up: count the whole
	// cell; churn counts the window, like the statements.
	for i := range res.sessions {
		res.sessions[i] = c1.sessions[i]
		if spec.wl.churn {
			res.sessions[i] -= c0.sessions[i]
		}
	}
	for b := range nb {
		res.ok[b] = make([]uint32, ncoord)
	}
	return res
}

// add sums what the clients recorded into the result, and computes the
// throughput and the quantiles.
func (res *cellResult) add(recs []*recorder) {
	ncoord, nb := len(res.stmts), len(res.ok)
	for _, r := range recs {
		res.lat = append(res.lat, r.lat...)
		res.errs += r.errs
		res.failPre += r.failPre
		res.failMid += r.failMid
		res.failPost += r.failPost
		if r.lastErr != nil {
			res.lastErr = r.lastErr
		}
		for c := range ncoord {
			res.stmts[c] += r.stmts[c]
			res.busy[c] += r.busy[c]
		}
		for b := range nb {
			res.fail[b] += r.fail[b]
			for c := range ncoord {
				res.ok[b][c] += r.ok[b*ncoord+c]
			}
		}
	}
	slices.Sort(res.lat)
	res.n = len(res.lat)
	res.tput = float64(res.n) / res.dur.Seconds()
	res.p50, res.p99, res.p999 = quantile(res.lat, 0.5), quantile(res.lat, 0.99), quantile(res.lat, 0.999)
}

// mergeCells joins the rounds of one cell: counts and CPU add up, the
// latencies are pooled and the time lines follow each other.
func mergeCells(parts []*cellResult) *cellResult {
	if len(parts) == 1 {
		return parts[0]
	}
	first := parts[0]
	res := &cellResult{mode: first.mode, wl: first.wl, clients: first.clients,
		stmts: make([]int64, len(first.stmts)), busy: make([]time.Duration, len(first.stmts)), sessions: make([]int64, len(first.sessions))}
	for _, p := range parts {
		res.dur += p.dur
		res.lat = append(res.lat, p.lat...)
		res.errs += p.errs
		if p.lastErr != nil {
			res.lastErr = p.lastErr
		}
		res.clientCPU += p.clientCPU
		res.proxyCPU += p.proxyCPU
		res.coordCPU += p.coordCPU
		if p.coordCPUs != nil {
			if res.coordCPUs == nil {
				res.coordCPUs = make([]time.Duration, len(p.coordCPUs))
			}
			for i, d := range p.coordCPUs {
				res.coordCPUs[i] += d
			}
		}
		for i := range res.stmts {
			res.stmts[i] += p.stmts[i]
			res.busy[i] += p.busy[i]
			res.sessions[i] += p.sessions[i]
		}
		// Each part's last bucket is partial: drop it.
		res.ok = append(res.ok, p.ok[:len(p.ok)-1]...)
		res.fail = append(res.fail, p.fail[:len(p.fail)-1]...)
	}
	// loadPlot leaves out the last bucket as partial: give it one to drop.
	res.ok = append(res.ok, make([]uint32, len(res.stmts)))
	res.fail = append(res.fail, 0)
	slices.Sort(res.lat)
	res.n = len(res.lat)
	res.tput = float64(res.n) / res.dur.Seconds()
	res.p50, res.p99, res.p999 = quantile(res.lat, 0.5), quantile(res.lat, 0.99), quantile(res.lat, 0.999)
	return res
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// maxMin returns max/min of counts (0 when min is 0 and max is not).
func maxMin(counts []int64) float64 {
	if len(counts) == 0 {
		return 0
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == 0 {
		if hi == 0 {
			return 1
		}
		return 0
	}
	return float64(hi) / float64(lo)
}
