package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
)

// The rolling restart: every coordinator in turn is shut down gracefully
// (Impala's ":shutdown()" or SIGTERM), its process exits once its grace
// period is over and nothing runs, and it is started again on the same
// ports, while 32 clients run statements of 10–200 ms on pooled
// sessions, some of them with a database (USE) and a query option (SET)
// of their own. Counted at the coordinators (their logs, coordlog.go):
// statements that ran twice and statements that ran without their
// session's USE and SET; counted at the clients: statements that failed.

// rollMode is one way of reaching the coordinators in the rolling restart.
type rollMode int

const (
	rollImpalalb rollMode = iota
	rollHAProxyTCP
	rollHAProxyHTTP
	numRollModes
)

var rollNames = [...]string{
	"(b) impalalb",
	"(c) HAProxy, check: TCP connect",
	"(c′) HAProxy, check: httpchk GET /healthz on the web port",
}
var rollShort = [...]string{"impalalb", "haproxy-tcp", "haproxy-http"}

// rollFrontend is the HAProxy frontend of each HAProxy mode.
var rollFrontend = [...]string{rollHAProxyTCP: "tcpchk", rollHAProxyHTTP: "httpchk"}

func (m rollMode) String() string { return rollNames[m] }

// clientKind is what a client does with its sessions.
type clientKind int

const (
	// kindPlain runs statements with no session state. impalalb: Acquire,
	// the statement, Release, as database/sql's db.Query does; HAProxy: a
	// session of its own, reopened when it breaks.
	kindPlain clientKind = iota
	// kindHeld holds one session for the whole run, as database/sql's
	// *sql.Conn, and sets its state once: USE and SET, then statements.
	kindHeld
	// kindPerLease sets the state for each statement: USE, SET and the
	// statement on one lease (impalalb, which resets the session at
	// Release) or on its own session (HAProxy).
	kindPerLease
	numKinds
)

var kindNames = [...]string{"plain, pooled per statement", "held session, USE and SET once", "USE, SET and the statement per lease"}

// kindOf gives half the clients no state, a quarter a held session, a
// quarter state per lease.
func kindOf(i int) clientKind {
	switch i % 4 {
	case 2:
		return kindHeld
	case 3:
		return kindPerLease
	}
	return kindPlain
}

// rollDB is the database the clients with state USE: it exists on every
// coordinator from its start (gen), as a database in Impala's shared
// catalog exists on every coordinator whenever it starts.
const rollDB = "gen"

// memLimit is client i's own MEM_LIMIT, in bytes as Impala stores it.
func memLimit(i int) string { return strconv.Itoa(1_000_000_000 + 1000*i) }

// attempt is one statement a client tried to run.
type attempt struct {
	client int
	kind   clientKind
	// marker identifies the statement in the coordinators' logs; empty
	// for a USE or SET.
	marker     string
	begin, end time.Time
	err        error
}

// restartWindow is one coordinator's restart, as offsets from the start
// of the measurement.
type restartWindow struct {
	coord  int
	method string
	// shutdown: the shutdown was asked for; exited: the process was gone;
	// up: it answered a statement again.
	shutdown, exited, up time.Duration
	// out and back: when the layer stopped treating the coordinator as up
	// (impalalb: not StateUp in the pool; HAProxy: not UP on its stats
	// socket) and when it did again; -1: not seen.
	out, back time.Duration
	status    string // what ":shutdown()" answered
}

// rollResult is one rolling-restart run.
type rollResult struct {
	mode    rollMode
	dur     time.Duration
	windows []restartWindow
	// per client kind
	ok, failed [numKinds]int
	// failedRan counts failed statements that the coordinators' logs show
	// ran (the client saw an error but the statement had run).
	failedRan int
	// duplicated counts runs of a statement beyond its first; wrongState
	// the runs without the session's USE or SET (or, for a client with
	// none, with another client's); unseen the statements a client saw
	// succeed that no coordinator logged (0 unless the logs are broken).
	duplicated, wrongState, unseen, badLines int
	dupExamples, wrongExamples               []string
	lat                                      []time.Duration // successful marked statements, sorted
	p50, p99, max                            time.Duration
	tput                                     float64
	perCoord                                 []int64 // marked statements registered per coordinator
	ok2                                      [][]uint32
	fail                                     []uint32
	errClasses                               map[string]int
	moves, retired                           uint64
	// clientsFailed counts the clients that saw a failure; longestOutage
	// is the longest time a client spent from a failure to its next
	// success (or to the end of the run).
	clientsFailed int
	longestOutage time.Duration
}

func (r *rollResult) totalOK() int     { return r.ok[0] + r.ok[1] + r.ok[2] }
func (r *rollResult) totalFailed() int { return r.failed[0] + r.failed[1] + r.failed[2] }

// rollEnv is what the rolling runs share: their own three coordinators
// (web server on, a short grace period, statements logged) and HAProxy.
type rollEnv struct {
	cfg    *config
	coords []*coordProc
	proxy  *haproxytest.Proxy
	qlog   *queryLog
	opts   conn.Options
	byName map[string]int
	byAddr map[string]int
	load   [2]string
}

func runRolling(ctx context.Context, cfg *config, bin, dir string) (_ []*rollResult, re *rollEnv, err error) {
	re = &rollEnv{cfg: cfg, qlog: &queryLog{}, opts: conn.Options{ConnectTimeout: 10 * time.Second},
		byName: map[string]int{}, byAddr: map[string]int{}}
	defer func() {
		if re.proxy != nil {
			_ = re.proxy.Stop() // at the end, or on the way out after an error: nothing left to report to
		}
		for _, c := range re.coords {
			c.Stop()
		}
	}()
	grace := max(int64(cfg.rollGrace/time.Second), 1)
	for i := range 3 {
		c := newCoord(bin, i, 0, cfg.coordProcs)
		c.web = true
		c.args = append(c.args, "--shutdown_grace_period_s="+strconv.FormatInt(grace, 10), "-v")
		c.stderr = re.qlog.sink(i)
		if err := c.start(ctx); err != nil {
			return nil, re, err
		}
		re.coords = append(re.coords, c)
		re.byName[c.name] = i
		re.byAddr[c.Addr()] = i
		logf("rolling: coordinator %d at %s, web %s (pid %d)", i+1, c.Addr(), c.WebAddr(), c.Pid())
	}
	var fes []haproxytest.Frontend
	for _, m := range []rollMode{rollHAProxyTCP, rollHAProxyHTTP} {
		fe := haproxytest.Frontend{Name: rollFrontend[m], Balance: "leastconn"}
		if m == rollHAProxyHTTP {
			fe.HTTPCheck = "GET /healthz"
		}
		for i, c := range re.coords {
			s := haproxytest.Server{Name: fmt.Sprintf("coord%d", i+1), Addr: c.Addr(), Check: true}
			if m == rollHAProxyHTTP {
				s.CheckPort = c.webPort
			}
			fe.Servers = append(fe.Servers, s)
		}
		fes = append(fes, fe)
	}
	pdir := filepath.Join(dir, "rolling")
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, re, err
	}
	if re.proxy, err = haproxytest.Start(ctx, haproxytest.Options{Binary: cfg.haproxy, Dir: pdir, Frontends: fes}); err != nil {
		return nil, re, err
	}
	re.load[0] = loadAvg()
	var out []*rollResult
	for n, m := range cfg.rollModes {
		if err := re.waitAllUp(ctx, 30*time.Second); err != nil {
			return nil, re, err
		}
		r, err := re.run(ctx, n, m)
		if err != nil {
			return nil, re, err
		}
		logf("rolling %s: ok %d, failed %d (%d had run), ran twice %d, wrong state %d, unseen %d; %.0f statements/s, p99 %v",
			rollShort[m], r.totalOK(), r.totalFailed(), r.failedRan, r.duplicated, r.wrongState, r.unseen, r.tput, round(r.p99))
		out = append(out, r)
	}
	re.load[1] = loadAvg()
	return out, re, nil
}

// waitAllUp waits until every coordinator answers and both HAProxy
// backends see all of them UP.
func (re *rollEnv) waitAllUp(ctx context.Context, limit time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, c := range re.coords {
		if err := re.waitAnswers(wctx, c.Addr()); err != nil {
			return err
		}
	}
	for {
		st, err := re.proxy.Stats(wctx)
		up := 0
		for _, s := range st {
			if s.Status == "UP" {
				up++
			}
		}
		if err == nil && up == 2*len(re.coords) {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("lbbench: rolling: haproxy does not see every coordinator up: %v %v", st, err) //nolint:errorlint // err is nil when the stats came but not every server was UP
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAnswers waits until a session on addr runs SELECT 1.
func (re *rollEnv) waitAnswers(ctx context.Context, addr string) error {
	for {
		s, err := conn.Dial(ctx, addr, re.opts)
		if err == nil {
			err = runCount(ctx, s, "select 1", 1)
			_ = s.Close() // only the answer counts
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lbbench: rolling: %s does not answer: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// shutdown starts coordinator i's graceful shutdown: ":shutdown()"
// through a session of its own for coordinators 1 and 3, SIGTERM for 2,
// both Impala's ways. It returns the method and ":shutdown()"'s answer.
func (re *rollEnv) shutdown(ctx context.Context, i int) (method, status string, err error) {
	c := re.coords[i]
	if i%2 == 1 {
		return "SIGTERM", "", c.Signal(syscall.SIGTERM)
	}
	s, err := conn.Dial(ctx, c.Addr(), re.opts)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = s.Close() }() // the coordinator is shutting down: only the request counts
	op, err := s.Execute(ctx, ":shutdown()", nil)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = op.Close(ctx) }()
	b, err := op.Next(ctx)
	if err == nil && b.Len() == 1 {
		status = b.String(0, 0)
	}
	return ":shutdown()", status, nil
}

// layerUp reports, for each coordinator, whether the layer of mode m
// treats it as up (impalalb: StateUp in the pool; HAProxy: UP on the
// stats socket); nil when it cannot tell.
func (re *rollEnv) layerUp(ctx context.Context, m rollMode, pool *balancer.Pool[*conn.Session]) []bool {
	up := make([]bool, len(re.coords))
	if m == rollImpalalb {
		st := pool.Stats()
		for i, c := range re.coords {
			cs, ok := st.Coordinator(c.Addr())
			if !ok {
				return nil
			}
			up[i] = cs.State == balancer.StateUp
		}
		return up
	}
	st, err := re.proxy.Stats(ctx)
	if err != nil {
		return nil
	}
	for _, s := range st {
		if s.Backend != "be_"+rollFrontend[m] {
			continue
		}
		for i := range re.coords {
			if s.Server == fmt.Sprintf("coord%d", i+1) {
				up[i] = s.Status == "UP"
			}
		}
	}
	return up
}

// run is one rolling restart through mode m.
func (re *rollEnv) run(ctx context.Context, n int, m rollMode) (*rollResult, error) {
	cfg := re.cfg
	re.qlog.take() // the waits' statements
	var pool *balancer.Pool[*conn.Session]
	if m == rollImpalalb {
		bc := balancer.Config{}
		for _, c := range re.coords {
			bc.Coordinators = append(bc.Coordinators, c.Addr())
		}
		p, err := balancer.New(bc, balancer.NewConnDialer(re.opts))
		if err != nil {
			return nil, err
		}
		pool = p
		defer func() { _ = pool.Close() }() // the run is over: its figures are taken
	}
	res := &rollResult{mode: m, errClasses: map[string]int{}}
	start := time.Now()
	t0 := start.Add(cfg.warmup)
	stop := make(chan struct{})
	var stopped atomic.Bool
	var wg sync.WaitGroup
	atts := make([][]attempt, cfg.rollClients)
	for i := range cfg.rollClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := &rollClient{re: re, mode: m, pool: pool, i: i, kind: kindOf(i), run: n,
				rng: rand.New(rand.NewPCG(uint64(i)+1, 7))} //nolint:gosec // G404: the statements' lengths, no secret
			defer rc.drop()
			for !stopped.Load() && ctx.Err() == nil {
				failed := rc.step(ctx)
				if failed {
					select {
					case <-stop:
					case <-time.After(cfg.rollErrPause):
					}
				}
			}
			atts[i] = rc.atts
		}()
	}

	// The restarts, one coordinator after the other, and a monitor of
	// what the layer makes of each.
	sleepUntil(ctx, t0.Add(cfg.rollLead))
	rw := &restartWindows{t0: t0, w: make([]restartWindow, len(re.coords))}
	for i := range re.coords {
		rw.w[i] = restartWindow{coord: i, shutdown: -1, exited: -1, up: -1, out: -1, back: -1}
	}
	mctx, mcancel := context.WithCancel(ctx)
	var mwg sync.WaitGroup
	mwg.Add(1)
	go func() {
		defer mwg.Done()
		re.monitor(mctx, m, pool, rw)
	}()
	rerr := re.restartAll(ctx, m, rw)
	tEnd := time.Now()
	stopped.Store(true)
	close(stop)
	wg.Wait()
	mcancel()
	mwg.Wait()
	res.windows = rw.w
	if rerr != nil {
		return nil, rerr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.dur = tEnd.Sub(t0)
	if pool != nil {
		st := pool.Stats()
		res.moves = st.Moves
		for _, c := range st.Coordinators {
			res.retired += c.Retired
		}
	}
	if err := re.flushLogs(ctx, n); err != nil {
		return nil, err
	}
	recs, bad := re.qlog.take()
	res.badLines = bad
	re.account(res, n, t0, tEnd, atts, recs)
	return res, nil
}

// restartWindows are the restarts of a run, as offsets from t0, written
// by the restarts and by the monitor.
type restartWindows struct {
	t0 time.Time
	mu sync.Mutex // guards w
	w  []restartWindow
}

// since returns the time since the start of the measurement.
func (rw *restartWindows) since() time.Duration { return time.Since(rw.t0) }

// monitor notes, every 20 ms until ctx ends, when the layer of mode m
// stops treating a coordinator being restarted as up and when it does
// again.
func (re *rollEnv) monitor(ctx context.Context, m rollMode, pool *balancer.Pool[*conn.Session], rw *restartWindows) {
	every(ctx, 20*time.Millisecond, func() {
		up := re.layerUp(ctx, m, pool)
		if up == nil {
			return
		}
		now := rw.since()
		rw.mu.Lock()
		defer rw.mu.Unlock()
		for i := range re.coords {
			w := &rw.w[i]
			switch {
			case w.shutdown < 0 || w.back >= 0:
			case !up[i] && w.out < 0:
				w.out = now
			case up[i] && w.out >= 0 && w.exited >= 0:
				w.back = now
			}
		}
	})
}

// restartAll restarts the coordinators one after the other: the
// shutdown, the exit, the start on the same ports, a statement answered,
// then the pause (after the last, the tail).
func (re *rollEnv) restartAll(ctx context.Context, m rollMode, rw *restartWindows) error {
	cfg := re.cfg
	for i := range re.coords {
		if err := re.restart(ctx, m, i, rw); err != nil {
			return err
		}
		pause := cfg.rollPause
		if i == len(re.coords)-1 {
			pause = cfg.rollTail
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
	return nil
}

// restart restarts coordinator i, noting when each step was done.
func (re *rollEnv) restart(ctx context.Context, m rollMode, i int, rw *restartWindows) error {
	c := re.coords[i]
	rw.mu.Lock()
	rw.w[i].shutdown = rw.since()
	rw.mu.Unlock()
	method, status, err := re.shutdown(ctx, i)
	if err != nil {
		return fmt.Errorf("lbbench: rolling: shut coordinator %d down: %w", i+1, err)
	}
	select {
	case <-c.Exited():
	case <-time.After(re.cfg.rollGrace + 60*time.Second):
		return fmt.Errorf("lbbench: rolling: coordinator %d did not exit after its shutdown", i+1)
	case <-ctx.Done():
		return ctx.Err()
	}
	rw.mu.Lock()
	rw.w[i].exited = rw.since()
	rw.mu.Unlock()
	if err := c.Restart(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = re.waitAnswers(wctx, c.Addr())
	cancel()
	if err != nil {
		return err
	}
	rw.mu.Lock()
	w := &rw.w[i]
	w.method, w.status, w.up = method, status, rw.since()
	logf("rolling %s: coordinator %d: %s, exited after %v, answering after %v", rollShort[m], i+1, method,
		round(w.exited-w.shutdown), round(w.up-w.shutdown))
	rw.mu.Unlock()
	return nil
}

// flushLogs makes sure every statement of run n the coordinators logged
// has been read. A statement is logged when it is registered, before its
// client gets an answer, so every line of a finished statement has been
// written; the pipes may still hold some: one statement more on each
// coordinator, and its line read, says that they are all in.
func (re *rollEnv) flushLogs(ctx context.Context, n int) error {
	for i, c := range re.coords {
		key := fmt.Sprintf("flush-r%d-%d", n, i)
		seen := re.qlog.expect(key)
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := conn.Dial(fctx, c.Addr(), re.opts)
		if err == nil {
			err = runCount(fctx, s, "select '"+key+"'", 1)
			_ = s.Close() // the statement and its line are what count
		}
		if err == nil {
			select {
			case <-seen:
			case <-fctx.Done():
				err = fmt.Errorf("its log line did not come: %w", fctx.Err())
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("lbbench: rolling: flush coordinator %d's log: %w", i+1, err)
		}
	}
	return nil
}

// account joins what the clients saw with what the coordinators logged.
func (re *rollEnv) account(res *rollResult, n int, t0, tEnd time.Time, atts [][]attempt, recs []queryRecord) {
	cfg := re.cfg
	ncoord := len(re.coords)
	bk := buckets{t0: t0, size: cfg.bucket, n: int(tEnd.Sub(t0)/cfg.bucket) + 1}
	res.ok2 = make([][]uint32, bk.n)
	for b := range res.ok2 {
		res.ok2[b] = make([]uint32, ncoord)
	}
	res.fail = make([]uint32, bk.n)
	res.perCoord = make([]int64, ncoord)
	prefix := fmt.Sprintf("r%d-", n)
	byMarker := map[string][]queryRecord{}
	for _, r := range recs {
		mk := markerOf(r.stmt)
		if mk == "" || len(mk) < len(prefix) || mk[:len(prefix)] != prefix {
			continue
		}
		byMarker[mk] = append(byMarker[mk], r)
		res.perCoord[r.coord]++
		if b := bk.of(r.at); b >= 0 {
			res.ok2[b][r.coord]++
		}
	}
	for _, list := range atts {
		res.addClient(list, byMarker, bk, tEnd)
	}
	slices.Sort(res.lat)
	res.p50, res.p99 = quantile(res.lat, 0.5), quantile(res.lat, 0.99)
	if len(res.lat) > 0 {
		res.max = res.lat[len(res.lat)-1]
	}
	res.tput = float64(len(res.lat)) / tEnd.Sub(t0).Seconds()
}

// buckets divides the time from t0 into n buckets of size.
type buckets struct {
	t0   time.Time
	size time.Duration
	n    int
}

// of returns the bucket of t, -1 when t is outside them.
func (bk buckets) of(t time.Time) int {
	if t.Before(bk.t0) {
		return -1
	}
	b := int(t.Sub(bk.t0) / bk.size)
	if b >= bk.n {
		return -1
	}
	return b
}

// addClient accounts for one client's attempts, in order, against the
// coordinators' records by marker; tEnd ends an outage still open.
func (r *rollResult) addClient(list []attempt, byMarker map[string][]queryRecord, bk buckets, tEnd time.Time) {
	var streak time.Time // the first failure since the last success
	failedOnce := false
	for _, a := range list {
		switch {
		case a.err != nil && streak.IsZero():
			streak = a.begin
			failedOnce = true
		case a.err == nil && !streak.IsZero():
			r.longestOutage = max(r.longestOutage, a.end.Sub(streak))
			streak = time.Time{}
		}
		runs := byMarker[a.marker]
		if a.err != nil {
			r.failed[a.kind]++
			r.errClasses[errClass(a.err)]++
			if b := bk.of(a.end); b >= 0 {
				r.fail[b]++
			}
			if a.marker != "" && len(runs) > 0 {
				r.failedRan++
			}
		} else {
			r.ok[a.kind]++
		}
		if a.marker != "" {
			r.addRuns(a, runs)
		}
	}
	if !streak.IsZero() {
		r.longestOutage = max(r.longestOutage, tEnd.Sub(streak))
	}
	if failedOnce {
		r.clientsFailed++
	}
}

// addRuns accounts for a marked statement's runs at the coordinators:
// none for one that succeeded is unseen, more than one are duplicates,
// and each must have had the session's database and MEM_LIMIT.
func (r *rollResult) addRuns(a attempt, runs []queryRecord) {
	if a.err == nil {
		r.lat = append(r.lat, a.end.Sub(a.begin))
		if len(runs) == 0 {
			r.unseen++
		}
	}
	if len(runs) > 1 {
		r.duplicated += len(runs) - 1
		if len(r.dupExamples) < 3 {
			r.dupExamples = append(r.dupExamples, fmt.Sprintf("%s ran %d times (coordinators %v)", a.marker, len(runs), coordsOf(runs)))
		}
	}
	wantDB, wantMem := "default", ""
	if a.kind != kindPlain {
		wantDB, wantMem = rollDB, memLimit(a.client)
	}
	for _, q := range runs {
		if q.db != wantDB || optionOf(q.options, "MEM_LIMIT") != wantMem {
			r.wrongState++
			if len(r.wrongExamples) < 3 {
				r.wrongExamples = append(r.wrongExamples, fmt.Sprintf("%s (%s) ran on coordinator %d in db %q with options %q, want db %q, MEM_LIMIT %q",
					a.marker, kindNames[a.kind], q.coord+1, q.db, q.options, wantDB, wantMem))
			}
		}
	}
}

func coordsOf(runs []queryRecord) []int {
	var out []int
	for _, r := range runs {
		out = append(out, r.coord+1)
	}
	return out
}

// errClass names the kind of a client's error for the report.
func errClass(err error) string {
	switch {
	case errors.Is(err, conn.ErrShuttingDown):
		return "refused: the coordinator is shutting down"
	case errors.Is(err, conn.ErrSessionGone):
		return "the coordinator no longer knows the session"
	case errors.Is(err, conn.ErrBroken), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return "connection lost or refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var ce *conn.Error
	if errors.As(err, &ce) {
		return "conn error during " + string(ce.Op)
	}
	return "other: " + err.Error()
}

// rollClient is one client of a rolling run.
type rollClient struct {
	re   *rollEnv
	mode rollMode
	pool *balancer.Pool[*conn.Session]
	i    int
	kind clientKind
	run  int
	rng  *rand.Rand
	seq  int
	atts []attempt
	// lease (impalalb) or sess (HAProxy): the session kept between steps;
	// stated says its USE and SET ran (kindHeld).
	lease  *balancer.Lease[*conn.Session]
	sess   *conn.Session
	stated bool
}

// session returns the session to run the next statements on.
func (rc *rollClient) session(ctx context.Context) (*conn.Session, error) {
	if rc.mode == rollImpalalb {
		if rc.lease == nil {
			l, err := rc.pool.Acquire(ctx, "")
			if err != nil {
				return nil, err
			}
			rc.lease = l
		}
		return rc.lease.Session(), nil
	}
	if rc.sess == nil {
		s, err := conn.Dial(ctx, rc.re.proxy.Addr(rollFrontend[rc.mode]), rc.re.opts)
		if err != nil {
			return nil, err
		}
		if _, ok := rc.re.byName[versionName(s.ServerVersion())]; !ok {
			_ = s.Close() // the error returned says why
			return nil, fmt.Errorf("lbbench: unknown coordinator %q behind the proxy", s.ServerVersion())
		}
		rc.sess = s
	}
	return rc.sess, nil
}

// done ends a step: an impalalb client that holds no session for the run
// releases its lease (discards it after an error); an HAProxy client
// closes its session after an error, to reconnect at the next step.
func (rc *rollClient) done(failed bool) {
	if failed {
		rc.drop()
		return
	}
	if rc.mode == rollImpalalb && rc.kind != kindHeld && rc.lease != nil {
		rc.lease.Release()
		rc.lease = nil
	}
}

func (rc *rollClient) drop() {
	if rc.lease != nil {
		rc.lease.Discard()
		rc.lease = nil
	}
	if rc.sess != nil {
		_ = rc.sess.Close() // given up after a failure, or at the end
		rc.sess = nil
	}
	rc.stated = false
}

// exec runs one statement of the client and records it; marker, when set,
// must come back as the statement's second column.
func (rc *rollClient) exec(ctx context.Context, s *conn.Session, stmt, marker string) error {
	a := attempt{client: rc.i, kind: rc.kind, marker: marker, begin: time.Now()}
	err := runStmt(ctx, s, stmt, marker)
	a.end, a.err = time.Now(), err
	rc.atts = append(rc.atts, a)
	return err
}

// step runs the client's next statement (with USE and SET first where
// its kind says); it reports whether something failed.
func (rc *rollClient) step(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rc.seq++
	marker := fmt.Sprintf("r%d-c%02d-%06d", rc.run, rc.i, rc.seq)
	stmt := fmt.Sprintf("select sleep(%d), '%s'", 10+rc.rng.IntN(191), marker)
	begin := time.Now()
	s, err := rc.session(sctx)
	if err != nil {
		// The statement could not even start: it failed.
		rc.atts = append(rc.atts, attempt{client: rc.i, kind: rc.kind, marker: marker, begin: begin, end: time.Now(), err: err})
		rc.done(true)
		return true
	}
	if rc.kind == kindPerLease || (rc.kind == kindHeld && !rc.stated) {
		for _, st := range []string{"use " + rollDB, "set mem_limit=" + memLimit(rc.i)} {
			if err := rc.exec(sctx, s, st, ""); err != nil {
				rc.done(true)
				return true
			}
		}
		rc.stated = true
	}
	if err := rc.exec(sctx, s, stmt, marker); err != nil {
		rc.done(true)
		return true
	}
	rc.done(false)
	return false
}

// runStmt runs stmt, reads every row and, when marker is set, checks that
// one row came back with marker as its second column.
func runStmt(ctx context.Context, s *conn.Session, stmt, marker string) error {
	n, got, err := runRows(ctx, s, stmt)
	if err != nil {
		return err
	}
	if marker != "" && (n != 1 || got != marker) {
		return fmt.Errorf("lbbench: %q gave %d rows, marker %q", stmt, n, got)
	}
	return nil
}

// sortedClasses returns the error classes by count, largest first.
func sortedClasses(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
