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
	byAddr := map[string]int{}
	for i, c := range a.coords {
		byAddr[c] = i
	}
	var pool *balancer.Pool[*conn.Session]
	if a.mode != "haproxy" {
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
		if pool, err = balancer.New(cfg, balancer.NewConnDialer(conn.Options{ConnectTimeout: 10 * time.Second})); err != nil {
			return err
		}
		defer pool.Close()
	}
	end := a.start.Add(a.dur)
	nb := int(a.dur/a.bucket) + 1
	res := manyClientResult{InFlight: make([][]float64, len(a.coords)), Stmts: make([]int64, len(a.coords))}
	for c := range res.InFlight {
		res.InFlight[c] = make([]float64, nb)
	}
	var mu sync.Mutex // guards res
	// addFlight adds the part of [from, to) inside the window to coordinator
	// c's buckets.
	addFlight := func(c int, from, to time.Time) {
		if from.Before(a.start) {
			from = a.start
		}
		if to.After(end) {
			to = end
		}
		for from.Before(to) {
			b := int(from.Sub(a.start) / a.bucket)
			bEnd := a.start.Add(time.Duration(b+1) * a.bucket)
			seg := to
			if bEnd.Before(to) {
				seg = bEnd
			}
			res.InFlight[c][b] += seg.Sub(from).Seconds()
			from = seg
		}
	}
	var wg sync.WaitGroup
	for i := range a.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(a.seed, uint64(i)))
			var held *conn.Session // haproxy: the client's own session
			heldCoord := -1
			defer func() {
				if held != nil {
					held.Close()
				}
			}()
			for time.Now().Before(end) {
				stmt, want := "select 1", 1
				if rng.Float64() < a.longFrac {
					ms := a.longMin.Milliseconds() + rng.Int64N(a.longMax.Milliseconds()-a.longMin.Milliseconds()+1)
					stmt = fmt.Sprintf("select sleep(%d)", ms)
				}
				begin := time.Now()
				octx, cancel := context.WithTimeout(ctx, 60*time.Second)
				var (
					s     *conn.Session
					lease *balancer.Lease[*conn.Session]
					err   error
				)
				if pool != nil {
					if lease, err = pool.Acquire(octx, ""); err == nil {
						s = lease.Session()
					}
				} else {
					if held == nil {
						if held, err = conn.Dial(octx, a.proxy, conn.Options{ConnectTimeout: 10 * time.Second}); err == nil {
							// "impalad version lbbench-many-coordN RELEASE (build ...)"
							v := held.ServerVersion()
							if i := strings.Index(v, manyVersionPrefix); i >= 0 {
								v = v[i+len(manyVersionPrefix):]
							}
							v, _, _ = strings.Cut(v, " ")
							n, perr := strconv.Atoi(v)
							if perr != nil || n < 1 || n > len(a.coords) {
								err = fmt.Errorf("lbbench: unknown coordinator %q behind the proxy", held.ServerVersion())
								held.Close()
								held = nil
							} else {
								heldCoord = n - 1
							}
						} else {
							held = nil
						}
					}
					s = held
				}
				var execStart, execEnd time.Time
				coord := -1
				if err == nil {
					execStart = time.Now()
					err = runCount(octx, s, stmt, want)
					execEnd = time.Now()
					if lease != nil {
						coord = byAddr[lease.Coordinator()]
						if err != nil {
							lease.Discard()
						} else {
							lease.Release()
						}
					} else {
						coord = heldCoord
						if err != nil {
							held.Close()
							held = nil
						}
					}
				}
				cancel()
				done := time.Now()
				mu.Lock()
				if err != nil {
					res.Failed++
					if !begin.Before(a.start) {
						res.FailedAfterStart++
					}
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					addFlight(coord, execStart, execEnd)
					if !done.Before(a.start) && !done.After(end) {
						res.OK++
						res.Stmts[coord]++
						res.LatUS = append(res.LatUS, done.Sub(begin).Microseconds())
					}
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // no spinning on a dead path
				}
			}
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(&res)
}

// manyVersionPrefix starts the version string of the scenario's
// coordinators: "lbbench-many-coord" + its number from 1, so that a
// session through HAProxy tells which coordinator it reached.
const manyVersionPrefix = "lbbench-many-coord"

var errNoResult = errors.New("lbbench: a client process printed no result")
