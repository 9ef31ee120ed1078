// Command demo shows in under a minute what impalalb is for. It starts three
// in-process test coordinators on loopback, sharing a catalog whose DDL takes
// a moment to reach the other coordinators (as Impala's catalogd and
// statestore do), and lets several simulated users run DDL, the queries that
// depend on it, and short queries through impalalb, in three phases:
//
//  1. leastconn without SYNC_DDL: a SELECT on a second session right after
//     CREATE TABLE may reach a coordinator that has not seen the table yet
//     (the warning of Impala's load-balancer guide);
//  2. leastconn with automatic SYNC_DDL (the library's default): every such
//     SELECT works, at the cost of DDL latency; midway one coordinator is
//     shut down gracefully (Impala's ":shutdown()"), drains, exits and is
//     restarted, with no failed statement;
//  3. affinity per user: each user's sessions go to the user's home
//     coordinator; midway one coordinator crashes and comes back, and only
//     its users move, once.
//
// A live table shows, per coordinator, its state, sessions, the statements
// it ran and the users on it. At the end it prints the count of failed
// statements (zero expected) and the misses of each phase.
//
//	go run ./examples/demo                 # about 20 seconds
//	go run ./examples/demo -duration 40s -users 12
//
// The exit status is 1 when a statement failed that should not have.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, tty))
}

// settings are the demo's flags.
type settings struct {
	duration     time.Duration
	users        int
	coordinators int
	ddlDelay     time.Duration
	plain        bool
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	s := &settings{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&s.duration, "duration", 20*time.Second, "how long the demo runs (2s to 50s)")
	fs.IntVar(&s.users, "users", 6, "simulated users")
	fs.IntVar(&s.coordinators, "coordinators", 3, "in-process coordinators (at least 2)")
	fs.DurationVar(&s.ddlDelay, "ddl-delay", time.Second, "how long DDL takes to reach the other coordinators")
	fs.BoolVar(&s.plain, "plain", false, "print plain lines instead of redrawing the table in place")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case s.duration < 2*time.Second || s.duration > 50*time.Second:
		return nil, errors.New("-duration must be from 2s to 50s")
	case s.users < 1 || s.users > 64:
		return nil, errors.New("-users must be from 1 to 64")
	case s.coordinators < 2 || s.coordinators > 16:
		return nil, errors.New("-coordinators must be from 2 to 16")
	case s.ddlDelay < 0:
		return nil, errors.New("-ddl-delay must not be negative")
	}
	return s, nil
}

// run is the whole demo; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	s, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	d, err := newDemo(s, stdout, tty && !s.plain)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	defer d.close()
	return d.run(ctx)
}

// phase is one part of the demo.
type phase struct {
	name    string // as the table shows it
	desc    string
	keyed   bool         // acquire with the user's name as affinity key
	syncDDL conn.SyncDDL // the sessions' SyncDDL mode
	event   string       // "shutdown" or "crash" of one coordinator midway, or ""
	share   int          // the phase's share of the duration, in per cent
}

var phases = []phase{
	{"leastconn, no SYNC_DDL", "each session goes to the coordinator with the fewest sessions in use; DDL returns before the others know it",
		false, conn.SyncDDLNever, "", 30},
	{"leastconn + SYNC_DDL", "the same, with SYNC_DDL added to DDL (the library's default under leastconn); one coordinator shuts down gracefully",
		false, conn.SyncDDLAuto, "shutdown", 35},
	{"affinity", "each user's sessions go to that user's home coordinator; one coordinator crashes and comes back",
		true, conn.SyncDDLAuto, "crash", 35},
}

// demo is the running demo: the cluster, the pool, the counters.
type demo struct {
	s     *settings
	out   io.Writer
	tty   bool
	cos   []*impalad.Coordinator
	addrs []string
	pool  atomic.Pointer[balancer.Pool[*conn.Session]] // the current phase's
	start time.Time

	phase    atomic.Int32
	tables   atomic.Int64
	victim   string      // the coordinator that crashes
	killed   atomic.Bool // set at the crash, never cleared
	failures atomic.Int64

	// mu guards everything below, and the drawing.
	mu          sync.Mutex
	stmts       []map[string]int64 // per phase, per coordinator
	lastCoord   map[string]string  // user → coordinator of the user's last statement
	events      []string
	failed      []string // the first failures, for the report
	drawn       int      // lines of the last in-place drawing
	interrupted int64
	cross       [3]struct{ ok, miss, moved int64 }
	scripts     [3]struct{ ok int64 }
	ddl         [3]struct{ n, nanos int64 } // CREATE TABLE latency
	total       int64
}

func newDemo(s *settings, out io.Writer, tty bool) (*demo, error) {
	cos, err := impalad.NewCluster(s.ddlDelay).StartN(s.coordinators, impalad.Config{
		// Impala's graceful shutdown, with a short grace period.
		ShutdownGracePeriod: 1500 * time.Millisecond, ShutdownCheckInterval: 50 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("starting coordinators: %w", err)
	}
	d := &demo{s: s, out: out, tty: tty, cos: cos, lastCoord: map[string]string{}}
	for _, co := range cos {
		d.addrs = append(d.addrs, co.HS2Addr())
	}
	d.victim = d.addrs[len(d.addrs)-1]
	for range phases {
		d.stmts = append(d.stmts, map[string]int64{})
	}
	return d, nil
}

// newPool makes the pool of a phase.
func (d *demo) newPool(ph phase) (*balancer.Pool[*conn.Session], error) {
	cfg := balancer.Config{}
	cfg.Coordinators = d.addrs
	cfg.Interval = 250 * time.Millisecond
	cfg.CheckTimeout = time.Second
	cfg.DialTimeout = 2 * time.Second
	cfg.BackoffMin = 100 * time.Millisecond
	cfg.BackoffMax = time.Second
	cfg.SlowStart = time.Second
	// One process with few users: spread them over every coordinator
	// (several processes would rather agree on each user's home).
	cfg.SpreadKeys = true
	// The pool's log of coordinators going down, draining and up, as
	// events.
	cfg.Logger = slog.New(&eventHandler{d: d})
	return balancer.New(cfg, balancer.NewConnDialer(conn.Options{User: "demo", SyncDDL: ph.syncDDL}))
}

// eventHandler turns the pool's log records of coordinator states and
// moved sessions into the demo's events.
type eventHandler struct {
	d     *demo
	attrs []slog.Attr
}

func (h *eventHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "balancer: coordinator down", "balancer: coordinator draining", "balancer: coordinator up":
	default:
		return nil
	}
	var coord string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "coordinator" {
			coord = a.Value.String()
		}
		return true
	})
	h.d.event("pool: " + strings.Replace(strings.TrimPrefix(r.Message, "balancer: "), "coordinator", "coordinator "+coord+" is", 1))
	return nil
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{d: h.d, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *eventHandler) WithGroup(string) slog.Handler { return h }

func (d *demo) close() {
	if p := d.pool.Load(); p != nil {
		_ = p.Close()
	}
	for _, co := range d.cos {
		_ = co.Close()
	}
}

func (d *demo) run(ctx context.Context) int {
	d.start = time.Now()
	fmt.Fprintf(d.out, "impalalb demo: %d in-process Impala coordinators on loopback (DDL reaches the others after %v), %d users, %v.\n",
		len(d.addrs), d.s.ddlDelay, d.s.users, d.s.duration)
	fmt.Fprintln(d.out, "Each user loops: CREATE TABLE on one session, then SELECT from it on a second session; a script (CREATE, INSERT, SELECT) on one session; short queries.")
	fmt.Fprintln(d.out)

	drawDone := make(chan struct{})
	var drawWG sync.WaitGroup
	drawWG.Add(1)
	// The first phase's pool, for the table.
	first, err := d.newPool(phases[0])
	if err != nil {
		fmt.Fprintf(d.out, "demo: %v\n", err)
		return 1
	}
	d.pool.Store(first)
	go func() {
		defer drawWG.Done()
		d.drawLoop(drawDone)
	}()

	for i, ph := range phases {
		phaseLen := d.s.duration * time.Duration(ph.share) / 100
		if i > 0 {
			p, err := d.newPool(ph)
			if err != nil {
				d.fail(fmt.Sprintf("pool: %v", err))
				break
			}
			if old := d.pool.Swap(p); old != nil {
				_ = old.Close()
			}
		}
		d.mu.Lock()
		d.lastCoord = map[string]string{}
		d.mu.Unlock()
		d.phase.Store(int32(i))
		d.event(fmt.Sprintf("phase %d/%d: %s — %s", i+1, len(phases), ph.name, ph.desc))
		end := time.Now().Add(phaseLen)
		var wg sync.WaitGroup
		if ph.event != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.disturb(ctx, ph.event, phaseLen)
			}()
		}
		for u := 0; u < d.s.users; u++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.user(ctx, fmt.Sprintf("user%02d", u+1), ph, end)
			}()
		}
		wg.Wait()
		d.freeze()
		if ctx.Err() != nil {
			break
		}
	}
	close(drawDone)
	drawWG.Wait()
	return d.report(ctx)
}

// disturb shuts the victim down gracefully, or crashes it, a quarter into
// the phase, and restarts it halfway through what remains.
func (d *demo) disturb(ctx context.Context, how string, phaseLen time.Duration) {
	sleep := func(t time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(t):
			return true
		}
	}
	if !sleep(phaseLen / 4) {
		return
	}
	co := d.cos[len(d.cos)-1]
	if how == "crash" {
		d.killed.Store(true)
		co.Kill()
		d.event(fmt.Sprintf("coordinator %s crashed (listeners closed, connections reset)", d.victim))
	} else {
		if _, err := co.StartShutdown(-1); err != nil {
			d.fail(fmt.Sprintf("shutting down %s: %v", d.victim, err))
			return
		}
		d.event(fmt.Sprintf("coordinator %s shutting down gracefully (:shutdown()): new statements refused, running ones finish", d.victim))
		select {
		case <-co.ShutdownDone():
			d.event(fmt.Sprintf("coordinator %s exited after its grace period", d.victim))
		case <-ctx.Done():
			return
		case <-time.After(phaseLen):
		}
	}
	if !sleep(phaseLen * 3 / 8) {
		return
	}
	if err := co.Restart(); err != nil {
		d.fail(fmt.Sprintf("restarting %s: %v", d.victim, err))
		return
	}
	d.killed.Store(false)
	d.event(fmt.Sprintf("coordinator %s restarted; the pool finds it again", d.victim))
}

// user is one simulated user's loop for one phase.
func (d *demo) user(ctx context.Context, name string, ph phase, end time.Time) {
	key := ""
	if ph.keyed {
		key = name
	}
	rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(time.Now().UnixNano()))) //nolint:gosec // G404: simulated users' choices, no secret
	for time.Now().Before(end) && ctx.Err() == nil {
		d.crossSession(ctx, name, key)
		d.script(ctx, name, key)
		for q := 0; q < 3; q++ {
			stmt := fmt.Sprintf("select sleep(%d)", 10+rng.IntN(90))
			if q == 2 {
				stmt = "select count(*) from gen.rows_1000"
			}
			_ = d.statement(ctx, name, key, stmt)
		}
	}
}

// crossSession runs CREATE TABLE on one session and, while holding it,
// SELECT from the table on a second session, as an application does whose
// connection pool serves the next statement from another connection.
func (d *demo) crossSession(ctx context.Context, name, key string) {
	t := fmt.Sprintf("t_%s_%d", name, d.tables.Add(1))
	first, err := d.acquire(ctx, name, key)
	if err != nil {
		return
	}
	start := time.Now()
	r := d.exec(ctx, first, name, "create table "+t+" (id int, v string)")
	if r.err != nil {
		d.giveBack(first, r.err)
		return
	}
	took := time.Since(start)
	r2 := d.run1(ctx, name, key, "select count(*) from "+t)
	d.giveBack(first, nil)
	ph := d.phase.Load()
	if r2.missing && phases[ph].keyed && r2.coord == r.coord {
		// Same coordinator, table missing: must not happen.
		d.fail(fmt.Sprintf("[%s] %s: %s", r2.coord, name, oneLine(r2.err)))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ddl[ph].n++
	d.ddl[ph].nanos += int64(took)
	switch {
	case r2.err == nil:
		d.cross[ph].ok++
	case r2.missing && phases[ph].keyed:
		d.cross[ph].moved++ // the crash moved the user in between
	case r2.missing && phases[ph].syncDDL == conn.SyncDDLNever:
		d.cross[ph].miss++ // leastconn: the guide's warning
	case r2.missing:
		// With SYNC_DDL every coordinator knew the table.
		d.fail(fmt.Sprintf("[%s] %s: %s", r2.coord, name, oneLine(r2.err)))
	}
}

// script runs CREATE, INSERT, SELECT and DROP through one session, as the
// guide advises (impala-shell -f does that).
func (d *demo) script(ctx context.Context, name, key string) {
	t := fmt.Sprintf("s_%s_%d", name, d.tables.Add(1))
	lease, err := d.acquire(ctx, name, key)
	if err != nil {
		return
	}
	for _, stmt := range []string{
		"create table " + t + " (id int, v string)",
		"insert into " + t + " values (1, 'a'), (2, 'b')",
		"select count(*) from " + t,
		"drop table " + t,
	} {
		r := d.exec(ctx, lease, name, stmt)
		if r.err != nil {
			lease.Discard()
			return
		}
	}
	lease.Release()
	d.mu.Lock()
	d.scripts[d.phase.Load()].ok++
	d.mu.Unlock()
}

// statement runs one statement on its own lease.
func (d *demo) statement(ctx context.Context, name, key, stmt string) error {
	return d.run1(ctx, name, key, stmt).err
}

// result is the outcome of one statement.
type result struct {
	coord   string
	err     error
	missing bool // the coordinator did not know the table
}

func (d *demo) run1(ctx context.Context, name, key, stmt string) result {
	lease, err := d.acquire(ctx, name, key)
	if err != nil {
		return result{err: err}
	}
	r := d.exec(ctx, lease, name, stmt)
	d.giveBack(lease, r.err)
	return r
}

// acquire leases a session; a failure is a failed statement, since a
// coordinator is always up.
func (d *demo) acquire(ctx context.Context, name, key string) (*balancer.Lease[*conn.Session], error) {
	lease, err := d.pool.Load().Acquire(ctx, key)
	if err != nil && ctx.Err() == nil {
		d.fail(fmt.Sprintf("%s: acquire: %s", name, oneLine(err)))
	}
	return lease, err
}

// giveBack releases a lease, or discards it when its session broke.
func (d *demo) giveBack(lease *balancer.Lease[*conn.Session], err error) {
	if err != nil && lease.Session().Broken() {
		lease.Discard()
	} else {
		lease.Release()
	}
}

// exec runs stmt on the lease's session and classifies a failure.
func (d *demo) exec(ctx context.Context, lease *balancer.Lease[*conn.Session], name, stmt string) result {
	coord := lease.Coordinator()
	ph := d.phase.Load()
	d.mu.Lock()
	d.stmts[ph][coord]++
	d.lastCoord[name] = coord
	d.total++
	d.mu.Unlock()
	s := lease.Session()
	err := func() error {
		op, err := s.Execute(ctx, stmt, nil)
		if err != nil {
			return err
		}
		if op.HasResultSet() {
			if _, err := op.Fetch(ctx); err != nil {
				_ = op.Close(ctx)
				return err
			}
		}
		return op.Close(ctx)
	}()
	r := result{coord: coord, err: err}
	if err == nil || ctx.Err() != nil {
		return r
	}
	var ce *conn.Error
	if errors.As(err, &ce) && errors.Is(err, conn.ErrOperationFailed) {
		if strings.Contains(ce.Message, "Could not resolve table reference") {
			r.missing = true // crossSession decides
			return r
		}
		d.fail(fmt.Sprintf("[%s] %s: %s", coord, name, oneLine(err)))
		return r
	}
	if coord == d.victim && d.killed.Load() {
		d.mu.Lock()
		d.interrupted++
		d.mu.Unlock()
		return r
	}
	d.fail(fmt.Sprintf("[%s] %s: %s", coord, name, oneLine(err)))
	return r
}

func (d *demo) fail(msg string) {
	d.failures.Add(1)
	d.mu.Lock()
	if len(d.failed) < 20 {
		d.failed = append(d.failed, msg)
	}
	d.mu.Unlock()
	d.event("FAILED: " + msg)
}

func (d *demo) event(msg string) {
	line := fmt.Sprintf("t=%5.1fs  %s", time.Since(d.start).Seconds(), msg)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty {
		d.events = append(d.events, line)
		return
	}
	fmt.Fprintln(d.out, line)
}

// drawLoop redraws the table in place every 250 ms on a terminal, or prints
// it as plain lines every 2 s otherwise; freeze draws it at each phase's end.
func (d *demo) drawLoop(done <-chan struct{}) {
	every := 2 * time.Second
	if d.tty {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return // freeze drew the last table
		case <-t.C:
			d.draw()
		}
	}
}

func (d *demo) draw() {
	table := d.table()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tty {
		fmt.Fprint(d.out, table)
		return
	}
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", d.drawn)
	}
	evs := d.events
	if len(evs) > 8 {
		evs = evs[len(evs)-8:]
	}
	for _, e := range evs {
		b.WriteString(e + "\n")
	}
	b.WriteString(table)
	d.drawn = len(evs) + strings.Count(table, "\n")
	fmt.Fprint(d.out, b.String())
}

// freeze draws the table one last time for the phase and leaves it on the
// screen: the next phase draws below it.
func (d *demo) freeze() {
	d.draw()
	d.mu.Lock()
	d.drawn = 0
	d.events = nil
	d.mu.Unlock()
}

// table renders the per-coordinator state.
func (d *demo) table() string {
	pool := d.pool.Load()
	st := pool.Stats()
	ph := d.phase.Load()
	keyed := phases[ph].keyed
	d.mu.Lock()
	users := map[string][]string{}
	for u, c := range d.lastCoord {
		if keyed {
			// The user's home: the coordinator the sticky table keeps it on.
			if h, ok := pool.Placement(u); ok {
				c = h
			}
		}
		users[c] = append(users[c], strings.TrimPrefix(u, "user"))
	}
	counts := d.stmts[ph]
	row := make(map[string]int64, len(counts))
	for k, v := range counts {
		row[k] = v
	}
	failures := d.failures.Load()
	interrupted := d.interrupted
	cross := d.cross[ph]
	ddl := d.ddl[ph]
	d.mu.Unlock()

	var b strings.Builder
	avg := 0.0
	if ddl.n > 0 {
		avg = float64(ddl.nanos/ddl.n) / 1e6
	}
	fmt.Fprintf(&b, "t=%5.1fs  %-23s failed statements: %d  interrupted by a crash: %d  CREATE→SELECT on a second session: %d ok, %d missed  CREATE took %.1f ms on average\n",
		time.Since(d.start).Seconds(), phases[ph].name, failures, interrupted, cross.ok, cross.miss+cross.moved, avg)
	who := "users (last statement there)"
	if keyed {
		who = "users at home here"
	}
	fmt.Fprintf(&b, "  %-21s %-9s %-17s %-11s %-6s %s\n", "coordinator", "state", "sessions use/idle", "statements", "moved", who)
	for _, c := range st.Coordinators {
		u := users[c.Addr]
		sort.Strings(u)
		state := c.State.String()
		if c.State != balancer.StateUp {
			state = strings.ToUpper(state)
		}
		fmt.Fprintf(&b, "  %-21s %-9s %-17s %-11d %-6d %s\n", c.Addr, state, fmt.Sprintf("%d/%d", c.InUse, c.Idle), row[c.Addr], c.MovedAway, strings.Join(u, " "))
	}
	return b.String()
}

// report prints the results and returns the exit status.
func (d *demo) report(ctx context.Context) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.failed {
		fmt.Fprintf(d.out, "FAILED: %s\n", f)
	}
	failures := d.failures.Load()
	fmt.Fprintf(d.out, "\nResults after %.1fs: %d statements on %d coordinators by %d users.\n",
		time.Since(d.start).Seconds(), d.total, len(d.addrs), d.s.users)
	fmt.Fprintf(d.out, "  failed statements: %d\n", failures)
	fmt.Fprintf(d.out, "  interrupted by the crash of %s (in flight there; re-run by their users): %d\n", d.victim, d.interrupted)
	avg := func(i int) string {
		if d.ddl[i].n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f ms", float64(d.ddl[i].nanos/d.ddl[i].n)/1e6)
	}
	lc, ls, af := d.cross[0], d.cross[1], d.cross[2]
	fmt.Fprintf(d.out, "  leastconn, no SYNC_DDL: CREATE TABLE then SELECT on a second session: %d of %d SELECTs missed the table (another coordinator had not seen the DDL yet: the guide's warning); CREATE took %s on average\n",
		lc.miss, lc.ok+lc.miss, avg(0))
	fmt.Fprintf(d.out, "  leastconn + SYNC_DDL:   CREATE TABLE then SELECT on a second session: %d of %d SELECTs missed the table; CREATE took %s on average (it waits until every coordinator knows the table)\n",
		ls.miss, ls.ok+ls.miss, avg(1))
	fmt.Fprintf(d.out, "  affinity:               CREATE TABLE then SELECT on a second session: %d of %d worked (the user stays on its home coordinator)", af.ok, af.ok+af.miss+af.moved)
	if af.moved > 0 {
		fmt.Fprintf(d.out, "; %d more were moved by the crash between the two", af.moved)
	}
	fmt.Fprintln(d.out)
	fmt.Fprintf(d.out, "  one session (CREATE, INSERT, SELECT, DROP, as impala-shell -f does): %d, %d and %d scripts completed in the three phases\n",
		d.scripts[0].ok, d.scripts[1].ok, d.scripts[2].ok)
	if ctx.Err() != nil {
		fmt.Fprintln(d.out, "interrupted")
		return 1
	}
	if failures > 0 {
		return 1
	}
	return 0
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
