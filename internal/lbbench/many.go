package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/internal/haproxytest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// The "many client processes" scenario (-many): several client processes,
// each with its own pool and no shared state, over three coordinators of
// one cluster, with local leastconn, cluster-wide leastconn and HAProxy;
// then a fourth coordinator joining and one leaving mid-run under
// cluster-wide leastconn with Impala's membership as discovery.
//
// The coordinators run in this process (internal/impalad, one cluster, so
// that each one's /backends?json lists the others), each on its own
// loopback host (127.0.0.2, 127.0.0.3, ...) with one shared HS2 port and one
// shared web server port, as a real cluster's: discovery yields hosts, and
// the HS2 port is the configured one.

// manyConfig holds the scenario's flags.
type manyConfig struct {
	procs        int
	clients      int
	dur          time.Duration
	warmup       time.Duration
	modes        []string
	longFrac     float64
	longMin      time.Duration
	longMax      time.Duration
	loadInterval time.Duration
	discInterval time.Duration
	joinDur      time.Duration
	joinAt       time.Duration
	leaveAt      time.Duration
	grace        time.Duration
}

var manyModeTitles = map[string]string{
	"local":   "impalalb, local leastconn",
	"cluster": "impalalb, cluster-wide leastconn",
	"haproxy": "HAProxy (leastconn)",
}

// manyCluster is the scenario's coordinators.
type manyCluster struct {
	cl      *impalad.Cluster
	coords  []*impalad.Coordinator
	hs2Port int
	webPort int
	grace   time.Duration
}

func manyHost(i int) string { return "127.0.0." + strconv.Itoa(2+i) }

func (m *manyCluster) addr(i int) string {
	return net.JoinHostPort(manyHost(i), strconv.Itoa(m.hs2Port))
}

// add starts coordinator len(m.coords) on its host.
func (m *manyCluster) add() error {
	i := len(m.coords)
	hs2, web := "0", "0"
	if i > 0 {
		hs2, web = strconv.Itoa(m.hs2Port), strconv.Itoa(m.webPort)
	}
	co, err := impalad.Start(impalad.Config{
		HS2Addr:                    net.JoinHostPort(manyHost(i), hs2),
		WebAddr:                    net.JoinHostPort(manyHost(i), web),
		BeeswaxAddr:                "-",
		Cluster:                    m.cl,
		Version:                    manyVersionPrefix + strconv.Itoa(i+1),
		DisconnectedSessionTimeout: -1,
		ShutdownGracePeriod:        m.grace,
		ShutdownCheckInterval:      50 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if i == 0 {
		_, p, _ := net.SplitHostPort(co.HS2Addr())
		m.hs2Port, _ = strconv.Atoi(p)
		_, p, _ = net.SplitHostPort(co.WebAddr())
		m.webPort, _ = strconv.Atoi(p)
	}
	m.coords = append(m.coords, co)
	return nil
}

func (m *manyCluster) close() {
	for _, co := range m.coords {
		_ = co.Close() // at the end, or on the way out after an error: nothing left to report to
	}
}

// manyResult is one run: every process's figures merged.
type manyResult struct {
	mode      string
	title     string
	ncoord    int
	dur       time.Duration
	bucket    time.Duration
	ok        int
	failed    int
	failedIn  int
	firstErr  string
	lat       []time.Duration // sorted
	inFlight  [][]float64     // [coord][bucket], statements in flight (mean over the bucket)
	stmts     []int64
	avg       []float64 // per coordinator, over the window
	maxMinAvg float64
	worst1s   float64 // the worst 1-second window's max/min
	p50, p99  time.Duration
	tput      float64
}

// runManyCell starts cfg.procs client processes in mode and merges what
// they measured; during, if set, runs beside them with the window's start.
func runManyCell(ctx context.Context, self string, mc *manyConfig, m *manyCluster, proxy, mode string, ncoord int,
	dur time.Duration, discovery bool, during func(t0 time.Time)) (*manyResult, error) {
	const bucket = 100 * time.Millisecond
	t0 := time.Now().Add(mc.warmup + 500*time.Millisecond) // the processes start first
	var coords, seeds []string
	for i := range ncoord {
		coords = append(coords, m.addr(i))
	}
	for i := range 3 {
		seeds = append(seeds, m.addr(i))
	}
	if discovery {
		seeds = seeds[:1] // one seed: the membership finds the others
	}
	results := make([]*manyClientResult, mc.procs)
	errs := make([]error, mc.procs)
	var wg sync.WaitGroup
	for p := range mc.procs {
		args := []string{"-role=client", "-mode=" + mode, "-coords=" + strings.Join(coords, ","), "-seeds=" + strings.Join(seeds, ","),
			"-proxy=" + proxy, "-clients=" + strconv.Itoa(mc.clients), "-start=" + strconv.FormatInt(t0.UnixNano(), 10),
			"-dur=" + dur.String(), "-bucket=" + bucket.String(), "-long-frac=" + strconv.FormatFloat(mc.longFrac, 'g', -1, 64),
			"-long-min=" + mc.longMin.String(), "-long-max=" + mc.longMax.String(), "-web-port=" + strconv.Itoa(m.webPort),
			"-load-interval=" + mc.loadInterval.String(), "-discovery-interval=" + mc.discInterval.String(),
			"-seed=" + strconv.Itoa(p+1)}
		if discovery {
			args = append(args, "-discovery")
		}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.SysProcAttr = procAttr()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("lbbench: start client process: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs[p] = fmt.Errorf("lbbench: client process %d: %w", p+1, err)
				return
			}
			var r manyClientResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				errs[p] = fmt.Errorf("%w: %w", errNoResult, err)
				return
			}
			results[p] = &r
		}()
	}
	if during != nil {
		during(t0)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	res := &manyResult{mode: mode, title: manyModeTitles[mode], ncoord: ncoord, dur: dur, bucket: bucket,
		stmts: make([]int64, ncoord), inFlight: make([][]float64, ncoord)}
	nb := len(results[0].InFlight[0])
	for c := range ncoord {
		res.inFlight[c] = make([]float64, nb)
	}
	for _, r := range results {
		res.ok += r.OK
		res.failed += r.Failed
		res.failedIn += r.FailedAfterStart
		if res.firstErr == "" {
			res.firstErr = r.FirstErr
		}
		for _, us := range r.LatUS {
			res.lat = append(res.lat, time.Duration(us)*time.Microsecond)
		}
		for c := range ncoord {
			res.stmts[c] += r.Stmts[c]
			for b, v := range r.InFlight[c] {
				res.inFlight[c][b] += v / bucket.Seconds()
			}
		}
	}
	slices.Sort(res.lat)
	res.p50, res.p99 = quantile(res.lat, 0.5), quantile(res.lat, 0.99)
	res.tput = float64(res.ok) / dur.Seconds()
	full := int(dur / bucket) // the last bucket is partial
	res.avg = make([]float64, ncoord)
	for c := range ncoord {
		res.avg[c] = meanOf(res.inFlight[c][:full])
	}
	res.maxMinAvg = ratio(res.avg)
	per := int(time.Second / bucket)
	for w := 0; w+per <= full; w += per {
		win := make([]float64, ncoord)
		for c := range ncoord {
			win[c] = meanOf(res.inFlight[c][w : w+per])
		}
		res.worst1s = max(res.worst1s, ratio(win))
	}
	return res, nil
}

func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// ratio is max/min (+Inf when the least loaded carried nothing).
func ratio(v []float64) float64 {
	lo, hi := slices.Min(v), slices.Max(v)
	if lo <= 0 {
		if hi <= 0 {
			return 1
		}
		return math.Inf(1)
	}
	return hi / lo
}

// joinLeave is the membership scenario's outcome.
type joinLeave struct {
	res *manyResult
	// joinAt, leaveAt are the events' offsets in the window.
	joinAt, leaveAt time.Duration
	// share is the time from the join until the new coordinator carried its
	// share: the end of the first 1-second window, after the join and
	// before the leave, in which it had at least 90 % of the mean
	// in flight per coordinator. -1 if never.
	share time.Duration
	// drained is the time from the start of the shutdown until the leaving
	// coordinator had no statement in flight; exited until it left the
	// cluster. -1 if never.
	drained, exited time.Duration
}

func runJoinLeave(ctx context.Context, self string, mc *manyConfig, m *manyCluster) (*joinLeave, error) {
	jl := &joinLeave{joinAt: mc.joinAt, leaveAt: mc.leaveAt, share: -1, drained: -1, exited: -1}
	var exitedAt time.Time
	var runErr error
	during := func(t0 time.Time) {
		sleepUntil(ctx, t0.Add(mc.joinAt))
		if err := m.add(); err != nil {
			runErr = err
			return
		}
		logf("many: coordinator 4 joined the cluster")
		sleepUntil(ctx, t0.Add(mc.leaveAt))
		leaving := m.coords[1]
		if _, err := leaving.StartShutdown(-1); err != nil {
			runErr = err
			return
		}
		logf("many: coordinator 2 is shutting down (grace %v)", mc.grace)
		select {
		case <-leaving.ShutdownDone():
			exitedAt = time.Now()
			logf("many: coordinator 2 exited")
		case <-ctx.Done():
		case <-time.After(time.Until(t0.Add(mc.joinDur))):
		}
		if !exitedAt.IsZero() {
			jl.exited = exitedAt.Sub(t0.Add(mc.leaveAt))
		}
	}
	res, err := runManyCell(ctx, self, mc, m, "", "cluster", 4, mc.joinDur, true, during)
	if err != nil {
		return nil, err
	}
	if runErr != nil {
		return nil, runErr
	}
	jl.res = res
	per := int(time.Second / res.bucket)
	from, until := int(mc.joinAt/res.bucket), int(mc.leaveAt/res.bucket)
	for s := from; s+per <= until; s++ {
		mine, total := 0.0, 0.0
		for c := range 4 {
			v := meanOf(res.inFlight[c][s : s+per])
			total += v
			if c == 3 {
				mine = v
			}
		}
		if total > 0 && mine >= 0.9*total/4 {
			jl.share = time.Duration(s+per)*res.bucket - mc.joinAt
			break
		}
	}
	full := int(mc.joinDur / res.bucket)
	for b := int(mc.leaveAt / res.bucket); b < full; b++ {
		if res.inFlight[1][b] == 0 {
			jl.drained = time.Duration(b)*res.bucket - mc.leaveAt
			break
		}
	}
	return jl, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}

// runMany runs the whole scenario and writes its report and plots.
func runMany(ctx context.Context, cfg *config, mc *manyConfig) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lbbench-many")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory: nobody to tell if a file stays
	m := &manyCluster{cl: impalad.NewCluster(0), grace: mc.grace}
	defer m.close()
	for range 3 {
		if err := m.add(); err != nil {
			return fmt.Errorf("lbbench: start the coordinators (each on its own loopback host): %w", err)
		}
	}
	logf("many: 3 coordinators on %s..%s, HS2 port %d, web port %d", manyHost(0), manyHost(2), m.hs2Port, m.webPort)
	var servers []haproxytest.Server
	for i := range 3 {
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("coord%d", i+1), Addr: m.addr(i), Check: true})
	}
	px, err := haproxytest.Start(ctx, haproxytest.Options{Binary: cfg.haproxy, Dir: dir,
		Frontends: []haproxytest.Frontend{{Name: "impala", Balance: "leastconn", Servers: servers}}})
	if err != nil {
		return err
	}
	defer func() { _ = px.Stop() }() // at the end, or on the way out after an error: nothing left to report to
	load0 := loadAvg()
	var runs []*manyResult
	for _, mode := range mc.modes {
		res, err := runManyCell(ctx, self, mc, m, px.Addr("impala"), mode, 3, mc.dur, false, nil)
		if err != nil {
			return err
		}
		logf("many: %-8s in flight %s (max/min %.3f, worst 1 s %.3f), p50 %v p99 %v, %.0f/s, %d failed: %s",
			mode, fmtFloats(res.avg), res.maxMinAvg, res.worst1s, round(res.p50), round(res.p99), res.tput, res.failed, res.firstErr)
		runs = append(runs, res)
	}
	var jl *joinLeave
	if mc.joinDur > 0 {
		if jl, err = runJoinLeave(ctx, self, mc, m); err != nil {
			return err
		}
		logf("many: join/leave: share after %v, drained after %v, exited after %v, %d failed (%s)",
			jl.share, jl.drained, jl.exited, jl.res.failed, jl.res.firstErr)
	}
	load1 := loadAvg()
	if err := os.MkdirAll(cfg.out, 0o755); err != nil { //nolint:gosec // G301: the report's directory, readable as the rest of the checkout
		return err
	}
	pngs, err := writeManyPlots(cfg.out, runs, jl)
	if err != nil {
		return err
	}
	report := manyReport(cfg, mc, runs, jl, pngs, [2]string{load0, load1})
	path := filepath.Join(cfg.out, "MANY.md")
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil { //nolint:gosec // G306: the report, committed with the checkout
		return err
	}
	logf("wrote %s and %d plots", path, len(pngs))
	return nil
}

func fmtFloats(v []float64) string {
	f := make([]string, len(v))
	for i, x := range v {
		f[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(f, " / ")
}
