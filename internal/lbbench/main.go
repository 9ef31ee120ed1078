// Command lbbench runs impalalb side by side with a real HAProxy in front of
// three test coordinators, each its own process, on loopback, and writes a
// markdown report with PNG plots. See README.md.
//
//	go -C internal/lbbench run . [-duration 3s] [-clients 1,8,64] [-out results]
//
// It is a separate module so that the library's go.mod does not carry the
// plotting library.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
)

// config holds the flags.
type config struct {
	duration    time.Duration
	warmup      time.Duration
	clients     []int
	workloads   []string
	modes       []string
	serviceTime time.Duration
	coordProcs  int
	capped      int
	long        time.Duration
	longFrac    float64
	out         string
	impalad     string
	haproxy     string
	failover    bool
	foDuration  time.Duration
	foKillAt    time.Duration
	foClients   int
	foStmt      time.Duration
	foThink     time.Duration
	bucket      time.Duration
	overhead    bool
	spread      bool
	rounds      int
	verbose     bool
	cpuProfile  string
	command     string
	http        bool
	// The rolling restart (rolling.go).
	only         string
	rolling      bool
	rollClients  int
	rollGrace    time.Duration
	rollLead     time.Duration
	rollPause    time.Duration
	rollTail     time.Duration
	rollErrPause time.Duration
	rollModes    []rollMode
	many         *manyConfig // -many: only the many-client-processes scenario
}

// env is what every cell runs against.
type env struct {
	cfg      *config
	coords   []*coordProc
	proxy    *haproxytest.Proxy
	connOpts conn.Options
	dir      string
	// load is /proc/loadavg before and after the cells.
	load [2]string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-role=client" {
		// A client process of the -many scenario (many_client.go).
		if err := runManyClient(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("lbbench: interrupted; the coordinators and HAProxy were stopped")
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("lbbench", flag.ContinueOnError)
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured time per cell")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each cell")
	clients := fs.String("clients", "1,8,64", "concurrent clients, comma-separated")
	wls := fs.String("workloads", "select1,churn,fetch10k,mixed", "workloads to run")
	modes := fs.String("modes", "direct,impalalb,haproxy", "modes to run")
	fs.DurationVar(&cfg.serviceTime, "service-time", 0, "per-statement service time of every coordinator")
	fs.IntVar(&cfg.coordProcs, "coord-gomaxprocs", 1, "GOMAXPROCS of each coordinator process (0: the Go default, the CPU count)")
	fs.IntVar(&cfg.capped, "capped", 8, "also run (b) with this MaxPerCoordinator, pooled SELECT 1 and mixed, at client counts above three times it (0: off)")
	fs.DurationVar(&cfg.long, "long", 50*time.Millisecond, "service time of the long statements of the mixed workload (select sleep(ms))")
	fs.Float64Var(&cfg.longFrac, "long-frac", 0.1, "fraction of long statements in the mixed workload")
	fs.StringVar(&cfg.out, "out", "results", "directory for BENCHMARKS.md and the PNGs")
	fs.StringVar(&cfg.impalad, "impalad", "", "coordinator binary (default: go build internal/impalad/cmd/impalad)")
	fs.StringVar(&cfg.haproxy, "haproxy", "", "haproxy binary (default: haproxy on PATH)")
	fs.BoolVar(&cfg.failover, "failover", true, "run the failover comparison")
	fs.DurationVar(&cfg.foDuration, "failover-duration", 12*time.Second, "measured time of each failover run")
	fs.DurationVar(&cfg.foKillAt, "failover-kill-at", 3*time.Second, "when the coordinator is killed, from the start of the measurement")
	fs.IntVar(&cfg.foClients, "failover-clients", 32, "clients in the failover runs")
	fs.DurationVar(&cfg.foStmt, "failover-stmt", 10*time.Millisecond, "service time of the failover runs' statements (select sleep(ms))")
	fs.DurationVar(&cfg.foThink, "failover-think", 50*time.Millisecond, "mean idle time of a session between two statements in the failover runs")
	fs.BoolVar(&cfg.overhead, "overhead", true, "also run impalalb over (a)'s single coordinator, pooled SELECT 1 at 1 client (the library's own cost)")
	fs.BoolVar(&cfg.spread, "spread", true, "also run (a) spread over the three without a balancer (client i on coordinator i mod 3), pooled SELECT 1: what spreading costs by itself")
	fs.IntVar(&cfg.rounds, "rounds", 3, "parts each cell's -duration is split into, the modes taking turns")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the client side) to this file")
	fs.BoolVar(&cfg.verbose, "v", false, "log every failed statement of the failover runs")
	fs.DurationVar(&cfg.bucket, "bucket", 100*time.Millisecond, "time-line resolution")
	fs.BoolVar(&cfg.http, "http", true, "also run HiveServer2 over HTTP (pooled SELECT 1 and churn): direct, impalalb and HAProxy in mode http (leastconn with prefer-last-server, and with a sticky cookie)")
	fs.StringVar(&cfg.only, "only", "", `"rolling": run only the rolling restart (writes ROLLING.md and its plots, leaves BENCHMARKS.md alone)`)
	fs.BoolVar(&cfg.rolling, "rolling", true, "run the rolling restart after the other parts")
	fs.IntVar(&cfg.rollClients, "rolling-clients", 32, "clients in the rolling restart")
	fs.DurationVar(&cfg.rollGrace, "rolling-grace", 2*time.Second, "the coordinators' --shutdown_grace_period_s in the rolling restart (whole seconds)")
	fs.DurationVar(&cfg.rollLead, "rolling-lead", 2*time.Second, "measured time before the first shutdown")
	fs.DurationVar(&cfg.rollPause, "rolling-pause", 3*time.Second, "time between a coordinator answering again and the next shutdown")
	fs.DurationVar(&cfg.rollTail, "rolling-tail", 10*time.Second, "measured time after the last coordinator answers again (the balance coming back)")
	fs.DurationVar(&cfg.rollErrPause, "rolling-err-pause", 50*time.Millisecond, "a client's pause after a failed statement")
	rollModes := fs.String("rolling-modes", strings.Join(rollShort[:], ","), "modes of the rolling restart")
	many := fs.Bool("many", false, "run only the many-client-processes scenario (-many-* flags) and write results/MANY.md")
	mc := &manyConfig{}
	fs.IntVar(&mc.procs, "many-procs", 4, "-many: client processes, each with its own pool")
	fs.IntVar(&mc.clients, "many-clients", 16, "-many: clients per process")
	fs.DurationVar(&mc.dur, "many-duration", 20*time.Second, "-many: measured time per mode")
	fs.DurationVar(&mc.warmup, "many-warmup", 2*time.Second, "-many: unmeasured time before each mode")
	manyModes := fs.String("many-modes", "local,cluster,haproxy", "-many: modes (local, cluster, haproxy)")
	fs.Float64Var(&mc.longFrac, "many-long-frac", 0.1, "-many: fraction of long statements")
	fs.DurationVar(&mc.longMin, "many-long-min", 50*time.Millisecond, "-many: shortest long statement")
	fs.DurationVar(&mc.longMax, "many-long-max", 500*time.Millisecond, "-many: longest long statement")
	fs.DurationVar(&mc.loadInterval, "many-load-interval", 200*time.Millisecond, "-many: cluster-wide leastconn's poll period")
	fs.DurationVar(&mc.discInterval, "many-discovery-interval", time.Second, "-many: discovery's poll period in the join/leave run")
	fs.DurationVar(&mc.joinDur, "many-join-duration", 30*time.Second, "-many: length of the join/leave run (0: no such run)")
	fs.DurationVar(&mc.joinAt, "many-join-at", 6*time.Second, "-many: when the fourth coordinator joins")
	fs.DurationVar(&mc.leaveAt, "many-leave-at", 20*time.Second, "-many: when coordinator 2 starts its graceful shutdown")
	fs.DurationVar(&mc.grace, "many-grace", 2*time.Second, "-many: graceful shutdown's grace period")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.only != "" && cfg.only != "rolling" {
		return nil, fmt.Errorf("lbbench: -only takes \"rolling\", not %q", cfg.only)
	}
	for _, m := range strings.Split(*rollModes, ",") {
		i := slices.Index(rollShort[:], strings.TrimSpace(m))
		if i < 0 {
			return nil, fmt.Errorf("lbbench: unknown rolling mode %q", m)
		}
		cfg.rollModes = append(cfg.rollModes, rollMode(i))
	}
	if cfg.rollClients < 1 || cfg.rollGrace < time.Second || cfg.rollLead < 0 || cfg.rollPause < 0 || cfg.rollTail < 0 || cfg.rollErrPause < 0 {
		return nil, errors.New("lbbench: bad -rolling-* values (at least one client, a grace of 1s or more)")
	}
	if *many {
		mc.modes = strings.Split(*manyModes, ",")
		for _, m := range mc.modes {
			if manyModeTitles[m] == "" {
				return nil, fmt.Errorf("lbbench: unknown -many-modes entry %q", m)
			}
		}
		if mc.procs < 1 || mc.clients < 1 || mc.dur <= 0 || mc.longMin <= 0 || mc.longMax < mc.longMin ||
			mc.joinDur > 0 && (mc.joinAt <= 0 || mc.leaveAt <= mc.joinAt || mc.leaveAt >= mc.joinDur) {
			return nil, errors.New("lbbench: bad -many-* values")
		}
		cfg.many = mc
	}
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("lbbench: bad -clients entry %q", f)
		}
		cfg.clients = append(cfg.clients, n)
	}
	cfg.workloads = strings.Split(*wls, ",")
	known := map[string]bool{}
	for _, w := range workloads(cfg) {
		known[w.name] = true
	}
	for _, w := range cfg.workloads {
		if !known[w] {
			return nil, fmt.Errorf("lbbench: unknown workload %q", w)
		}
	}
	cfg.modes = strings.Split(*modes, ",")
	for _, m := range cfg.modes {
		if !slices.Contains(modeShort[:3], m) && m != modeShort[modeSpread] {
			return nil, fmt.Errorf("lbbench: unknown mode %q", m)
		}
	}
	if cfg.capped < 0 || cfg.coordProcs < 0 {
		return nil, errors.New("lbbench: -capped and -coord-gomaxprocs must not be negative")
	}
	cappedSessions = cfg.capped
	if cfg.rounds < 1 || cfg.duration <= 0 || cfg.bucket <= 0 || cfg.longFrac < 0 || cfg.longFrac > 1 || cfg.foKillAt >= cfg.foDuration {
		return nil, errors.New("lbbench: bad durations or fractions")
	}
	cfg.command = "go -C internal/lbbench run ."
	if len(args) > 0 {
		cfg.command += " " + strings.Join(args, " ")
	}
	return cfg, nil
}

func run(args []string) (err error) {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.many != nil {
		return runMany(ctx, cfg, cfg.many)
	}

	dir, err := os.MkdirTemp("", "lbbench")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory: nobody to tell if a file stays
	e := &env{cfg: cfg, dir: dir, connOpts: conn.Options{ConnectTimeout: 10 * time.Second}}
	// Every child stops whatever happens below, panics included.
	defer e.stopAll()

	bin := cfg.impalad
	if bin == "" {
		logf("building the coordinator")
		if bin, err = buildImpalad(ctx, dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil { //nolint:gosec // G301: the report's directory, readable as the rest of the checkout
		return err
	}
	if cfg.only == "rolling" {
		_, err := rollingAndReport(ctx, cfg, bin, dir)
		return err
	}
	if err := e.start(ctx, bin); err != nil {
		return err
	}
	cells, err := e.runCells(ctx)
	if err != nil {
		return err
	}
	var fos []*failoverResult
	if cfg.failover {
		if fos, err = e.runFailovers(ctx); err != nil {
			return err
		}
	}

	// The rolling restart has coordinators and an HAProxy of its own.
	e.stopAll()
	var rolling string
	if cfg.rolling {
		if rolling, err = rollingAndReport(ctx, cfg, bin, dir); err != nil {
			return err
		}
	}
	pngs, err := writePlots(cfg, cells, fos)
	if err != nil {
		return err
	}
	report := buildReport(e, cells, fos, pngs, rolling)
	path := filepath.Join(cfg.out, "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil { //nolint:gosec // G306: the report, committed with the checkout
		return err
	}
	logf("wrote %s and %d plots", path, len(pngs))
	return nil
}

// start starts the three coordinators from bin and HAProxy in front of
// them.
func (e *env) start(ctx context.Context, bin string) error {
	cfg := e.cfg
	for i := range 3 {
		c, err := startCoord(ctx, bin, i, cfg.serviceTime, cfg.coordProcs, cfg.http)
		if err != nil {
			return err
		}
		e.coords = append(e.coords, c)
		logf("coordinator %d at %s (pid %d)", i+1, c.Addr(), c.Pid())
	}
	if err := e.startProxy(ctx); err != nil {
		return err
	}
	logf("haproxy at %s (pid %d)", e.proxy.Addr("impala"), e.proxy.Pid())
	return nil
}

// runCells measures every cell: each workload at each client count in
// each of its modes.
func (e *env) runCells(ctx context.Context) ([]*cellResult, error) {
	cfg := e.cfg
	var cells []*cellResult
	load0 := loadAvg()
	for _, wl := range workloads(cfg) {
		if !slices.Contains(cfg.workloads, wl.name) {
			continue
		}
		for _, n := range cfg.clients {
			res, err := e.runModes(ctx, wl, n, cellModes(cfg, wl.name, n))
			if err != nil {
				return nil, err
			}
			cells = append(cells, res...)
		}
	}
	e.load = [2]string{load0, loadAvg()}
	return cells, nil
}

// cellModes returns the modes that run workload wl at n clients.
func cellModes(cfg *config, wl string, n int) []modeKind {
	var modes []modeKind
	for m := range numModes {
		switch {
		case m == modeImpalalbOne:
			if cfg.overhead && wl == "select1" && n == 1 {
				modes = append(modes, m)
			}
		case m == modeSpread && cfg.spread && wl == "select1" && n > 1:
			modes = append(modes, m)
		case m == modeCapped:
			if cfg.capped > 0 && (wl == "select1" || wl == "mixed") && n > 3*cfg.capped {
				modes = append(modes, m)
			}
		case m.http():
			if cfg.http && (wl == "select1" || wl == "churn") {
				modes = append(modes, m)
			}
		case slices.Contains(cfg.modes, modeShort[m]):
			modes = append(modes, m)
		}
	}
	return modes
}

// runModes measures workload wl at n clients in each of modes. Each cell
// is measured in -rounds parts, the modes taking turns, so that a change
// in the machine's background load falls on every mode alike.
func (e *env) runModes(ctx context.Context, wl workload, n int, modes []modeKind) ([]*cellResult, error) {
	cfg := e.cfg
	parts := make(map[modeKind][]*cellResult)
	for r := range cfg.rounds {
		for _, m := range modes {
			if m.proxied() {
				if err := e.waitProxyUp(ctx, 15*time.Second); err != nil {
					return nil, err
				}
			}
			res, err := runCell(ctx, e, cellSpec{mode: m, wl: wl, clients: n, home: r,
				warmup: cfg.warmup, dur: cfg.duration / time.Duration(cfg.rounds), bucket: cfg.bucket})
			if err != nil {
				return nil, err
			}
			parts[m] = append(parts[m], res)
		}
	}
	var cells []*cellResult
	for _, m := range modes {
		res := mergeCells(parts[m])
		logf("%-9s %3d clients %-13s %9.0f/s p50 %-9v p99 %-9v p999 %-9v errors %d; statements %s; coordinator CPU µs/statement %s",
			wl.name, n, modeShort[m], res.tput, round(res.p50), round(res.p99), round(res.p999), res.errs,
			joinCounts(res.stmts, modeImpalalb), coordCPUPerStmt(res))
		cells = append(cells, res)
	}
	return cells, nil
}

// runFailovers runs the failover through impalalb, then through HAProxy.
func (e *env) runFailovers(ctx context.Context) ([]*failoverResult, error) {
	var fos []*failoverResult
	for _, m := range []modeKind{modeImpalalb, modeHAProxy} {
		fo, err := runFailover(ctx, e, m)
		if err != nil {
			return nil, err
		}
		fos = append(fos, fo)
		logf("failover %s: ok %d, failed: %d in flight, %d while dying (%v), %d after; taken out after %v",
			m, fo.cell.n, fo.cell.failPre, fo.cell.failMid, round(fo.dying), fo.cell.failPost, fmtDown(fo.downAfter))
	}
	return fos, nil
}

func (e *env) startProxy(ctx context.Context) error {
	var servers []haproxytest.Server
	for i, c := range e.coords {
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("coord%d", i+1), Addr: c.Addr(), Check: true})
	}
	// The guide's settings: tcp, leastconn, check (inter 2s fall 3 rise 2),
	// retries 3, option redispatch, timeout connect 5s, client/server 1h.
	fes := []haproxytest.Frontend{{Name: "impala", Balance: "leastconn", Servers: servers}}
	if e.cfg.http {
		fes = append(fes, httpFrontends(e)...)
	}
	p, err := haproxytest.Start(ctx, haproxytest.Options{
		Binary:    e.cfg.haproxy,
		Dir:       e.dir,
		Frontends: fes,
	})
	if err != nil {
		return err
	}
	e.proxy = p
	return nil
}

// waitProxyUp waits until HAProxy sees every coordinator up.
func (e *env) waitProxyUp(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := e.proxy.Stats(ctx)
		if err == nil {
			up := 0
			for _, s := range st {
				if s.Status == "UP" {
					up++
				}
			}
			if up > 0 && up == len(st) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lbbench: haproxy does not see every coordinator up: %v %v", st, err) //nolint:errorlint // err is nil when the stats came but not every server was UP
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *env) stopAll() {
	if e.proxy != nil {
		_ = e.proxy.Stop() // at the end, or on the way out after an error: nothing left to report to
	}
	for _, c := range e.coords {
		c.Stop()
	}
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// round shortens a duration for printing.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// coordCPUPerStmt prints each coordinator's CPU per statement it ran.
func coordCPUPerStmt(c *cellResult) string {
	if c.coordCPUs == nil {
		return "?"
	}
	f := make([]string, len(c.coordCPUs))
	for i, d := range c.coordCPUs {
		f[i] = "–"
		if c.stmts[i] > 0 {
			f[i] = fmt.Sprintf("%.1f", perOp(d, int(c.stmts[i])))
		}
	}
	return strings.Join(f, " / ")
}
