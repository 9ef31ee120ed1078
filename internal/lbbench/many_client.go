package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// The client processes of the "many client processes" scenario (-many):
// the harness starts its own binary with -role=client, once per process.
// Each process has its own pool (or, through HAProxy, its own sessions)
// and shares nothing with the others; it runs its clients in a closed
// loop until the end of the window and prints what it measured as JSON.

// manyClientArgs are the flags of one client process.
type manyClientArgs struct {
	mode         string // local, cluster, haproxy
	coords       []string
	seeds        []string
	proxy        string
	clients      int
	start        time.Time // beginning of the measured window, the same for every process
	dur          time.Duration
	bucket       time.Duration
	longFrac     float64
	longMin      time.Duration
	longMax      time.Duration
	webPort      int
	discovery    bool
	loadInterval time.Duration
	discInterval time.Duration
	seed         uint64
}

// manyClientResult is what one process measured.
type manyClientResult struct {
	OK     int
	Failed int
	// FailedAfterStart counts failures of statements begun in the window.
	FailedAfterStart int
	FirstErr         string
	// LatUS are the latencies of the operations ended in the window, in µs
	// (acquire, statement, release).
	LatUS []int64
	// InFlight[c][b] is the statement time on coordinator c within bucket b
	// of the window, in seconds: divided by the bucket, the mean number of
	// this process's statements in flight there.
	InFlight [][]float64
	Stmts    []int64
}

func parseManyClient(args []string) (*manyClientArgs, error) {
	a := &manyClientArgs{}
	fs := flag.NewFlagSet("lbbench client", flag.ContinueOnError)
	fs.String("role", "client", "")
	fs.StringVar(&a.mode, "mode", "local", "")
	coords := fs.String("coords", "", "")
	seeds := fs.String("seeds", "", "")
	fs.StringVar(&a.proxy, "proxy", "", "")
	fs.IntVar(&a.clients, "clients", 16, "")
	start := fs.Int64("start", 0, "")
	fs.DurationVar(&a.dur, "dur", 20*time.Second, "")
	fs.DurationVar(&a.bucket, "bucket", 100*time.Millisecond, "")
	fs.Float64Var(&a.longFrac, "long-frac", 0.1, "")
	fs.DurationVar(&a.longMin, "long-min", 50*time.Millisecond, "")
	fs.DurationVar(&a.longMax, "long-max", 500*time.Millisecond, "")
	fs.IntVar(&a.webPort, "web-port", 0, "")
	fs.BoolVar(&a.discovery, "discovery", false, "")
	fs.DurationVar(&a.loadInterval, "load-interval", 200*time.Millisecond, "")
	fs.DurationVar(&a.discInterval, "discovery-interval", time.Second, "")
	fs.Uint64Var(&a.seed, "seed", 1, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	a.coords = strings.Split(*coords, ",")
	a.seeds = strings.Split(*seeds, ",")
	a.start = time.Unix(0, *start)
	return a, nil
}

// runManyClient is the main of a client process.
func runManyClient(args []string) error {
	a, err := parseManyClient(args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	p := &manyClientProc{a: a, byAddr: map[string]int{}, end: a.start.Add(a.dur)}
	for i, c := range a.coords {
		p.byAddr[c] = i
	}
	if a.mode != "haproxy" {
		if p.pool, err = newManyPool(a); err != nil {
			return err
		}
		defer func() { _ = p.pool.Close() }() // the process ends: its figures are printed
	}
	nb := int(a.dur/a.bucket) + 1
	p.res = manyClientResult{InFlight: make([][]float64, len(a.coords)), Stmts: make([]int64, len(a.coords))}
	for c := range p.res.InFlight {
		p.res.InFlight[c] = make([]float64, nb)
	}
	var wg sync.WaitGroup
	for i := range a.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runClient(ctx, i)
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(&p.res)
}

// newManyPool returns the pool of a client process in mode local or
// cluster.
func newManyPool(a *manyClientArgs) (*balancer.Pool[*conn.Session], error) {
	cfg := balancer.Config{Coordinators: a.seeds, MaxPerCoordinator: 256, MaxIdlePerCoordinator: 256}
	web := &balancer.ImpalaWeb{Port: a.webPort}
	if a.discovery {
		port, _ := strconv.Atoi(a.seeds[0][strings.LastIndexByte(a.seeds[0], ':')+1:])
		cfg.Discovery = []balancer.Discoverer{&balancer.ImpalaMembership{Web: web, Port: port}}
		cfg.DiscoveryInterval = a.discInterval
	}
	if a.mode == "cluster" {
		cfg.ClusterLoad = &balancer.ImpalaLoad{Web: web}
		cfg.ClusterLoadInterval = a.loadInterval
	}
	return balancer.New(cfg, balancer.NewConnDialer(conn.Options{ConnectTimeout: 10 * time.Second}))
}

// manyClientProc is a client process: its pool (nil through HAProxy) and
// what its clients measured.
type manyClientProc struct {
	a      *manyClientArgs
	pool   *balancer.Pool[*conn.Session]
	byAddr map[string]int
	end    time.Time // end of the measured window

	mu  sync.Mutex // guards res
	res manyClientResult
}

// manyClient is one client of a client process.
type manyClient struct {
	p   *manyClientProc
	rng *rand.Rand
	// held is the client's own session through HAProxy, on coordinator
	// heldCoord.
	held      *conn.Session
	heldCoord int
}

// runClient is client i: statements in a closed loop until the end of
// the window.
func (p *manyClientProc) runClient(ctx context.Context, i int) {
	c := &manyClient{p: p, rng: rand.New(rand.NewPCG(p.a.seed, uint64(i))), heldCoord: -1} //nolint:gosec // G404: the statements' lengths, no secret
	defer func() {
		if c.held != nil {
			_ = c.held.Close() // the window is over
		}
	}()
	for time.Now().Before(p.end) {
		stmt := c.nextStmt()
		begin := time.Now()
		coord, exec, err := c.operation(ctx, stmt)
		p.record(begin, time.Now(), coord, exec, err)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // no spinning on a dead path
		}
	}
}

// nextStmt returns the client's next statement: a long one with
// probability -long-frac, else SELECT 1.
func (c *manyClient) nextStmt() string {
	a := c.p.a
	if c.rng.Float64() < a.longFrac {
		ms := a.longMin.Milliseconds() + c.rng.Int64N(a.longMax.Milliseconds()-a.longMin.Milliseconds()+1)
		return fmt.Sprintf("select sleep(%d)", ms)
	}
	return "select 1"
}

// operation runs stmt on a session, acquired from the pool or the
// client's own through HAProxy, and returns the session's coordinator and
// when the statement began and ended.
func (c *manyClient) operation(ctx context.Context, stmt string) (coord int, exec [2]time.Time, err error) {
	octx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if c.p.pool != nil {
		lease, err := c.p.pool.Acquire(octx, "")
		if err != nil {
			return -1, exec, err
		}
		exec[0] = time.Now()
		err = runCount(octx, lease.Session(), stmt, 1)
		exec[1] = time.Now()
		coord = c.p.byAddr[lease.Coordinator()]
		if err != nil {
			lease.Discard()
		} else {
			lease.Release()
		}
		return coord, exec, err
	}
	if c.held == nil {
		if err := c.dial(octx); err != nil {
			return -1, exec, err
		}
	}
	exec[0] = time.Now()
	err = runCount(octx, c.held, stmt, 1)
	exec[1] = time.Now()
	coord = c.heldCoord
	if err != nil {
		_ = c.held.Close() // given up: the next statement reconnects
		c.held = nil
	}
	return coord, exec, err
}

// dial opens the client's session through HAProxy and tells from the
// version it reports which coordinator it reached.
func (c *manyClient) dial(ctx context.Context) error {
	s, err := conn.Dial(ctx, c.p.a.proxy, conn.Options{ConnectTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	// "impalad version lbbench-many-coordN RELEASE (build ...)"
	v := s.ServerVersion()
	if i := strings.Index(v, manyVersionPrefix); i >= 0 {
		v = v[i+len(manyVersionPrefix):]
	}
	v, _, _ = strings.Cut(v, " ")
	n, perr := strconv.Atoi(v)
	if perr != nil || n < 1 || n > len(c.p.a.coords) {
		err := fmt.Errorf("lbbench: unknown coordinator %q behind the proxy", s.ServerVersion())
		_ = s.Close() // err says why
		return err
	}
	c.held, c.heldCoord = s, n-1
	return nil
}

// record counts an operation begun at begin and done at done: a failure,
// or a statement on coordinator coord that ran during exec.
func (p *manyClientProc) record(begin, done time.Time, coord int, exec [2]time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.res.Failed++
		if !begin.Before(p.a.start) {
			p.res.FailedAfterStart++
		}
		if p.res.FirstErr == "" {
			p.res.FirstErr = err.Error()
		}
		return
	}
	p.addFlight(coord, exec[0], exec[1])
	if !done.Before(p.a.start) && !done.After(p.end) {
		p.res.OK++
		p.res.Stmts[coord]++
		p.res.LatUS = append(p.res.LatUS, done.Sub(begin).Microseconds())
	}
}

// addFlight adds the part of [from, to) inside the window to coordinator
// c's buckets.
func (p *manyClientProc) addFlight(c int, from, to time.Time) {
	a := p.a
	if from.Before(a.start) {
		from = a.start
	}
	if to.After(p.end) {
		to = p.end
	}
	for from.Before(to) {
		b := int(from.Sub(a.start) / a.bucket)
		bEnd := a.start.Add(time.Duration(b+1) * a.bucket)
		seg := to
		if bEnd.Before(to) {
			seg = bEnd
		}
		p.res.InFlight[c][b] += seg.Sub(from).Seconds()
		from = seg
	}
}

// manyVersionPrefix starts the version string of the scenario's
// coordinators: "lbbench-many-coord" + its number from 1, so that a
// session through HAProxy tells which coordinator it reached.
const manyVersionPrefix = "lbbench-many-coord"

var errNoResult = errors.New("lbbench: a client process printed no result")
