package balancer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Cluster-wide least connections ([Config.ClusterLoad], opt-in): the
// rank's formula, and why, is in the package doc (doc.go).

// DefaultClusterLoadInterval is the period of the load polls.
const DefaultClusterLoadInterval = time.Second

// DefaultLoadMetric is the figure [ImpalaLoad] reads.
const DefaultLoadMetric = "impala-server.num-queries-registered"

// loadScale is the fixed-point scale of coord.remote (as the rank's).
const loadScale = 1 << 10

// LoadReporter reads one coordinator's own load figure for
// [Config.ClusterLoad]. The pool calls Load from its load poller, for
// every up coordinator at once, each call bounded by
// [Config.ClusterLoadInterval] and cancelled by [Pool.Close].
type LoadReporter interface {
	// Load returns the coordinator's count of the queries it holds now, all
	// clients' (for Impala, impala-server.num-queries-registered).
	Load(ctx context.Context, addr string) (float64, error)
	// String names the source in logs and [ClusterLoadStats].
	String() string
}

// ImpalaLoad is a [LoadReporter] that reads a metric of a coordinator's
// /jsonmetrics?json (be/src/util/metrics.cc, a flat map of every metric).
type ImpalaLoad struct {
	// Web reaches the web servers. Nil means a zero ImpalaWeb (plain HTTP,
	// port 25000). Share it with ImpalaMembership.
	Web *ImpalaWeb
	// Metric is the figure read. Empty means
	// impala-server.num-queries-registered (DefaultLoadMetric).
	Metric string

	zero ImpalaWeb
}

var _ LoadReporter = (*ImpalaLoad)(nil)

func (l *ImpalaLoad) web() *ImpalaWeb {
	if l.Web != nil {
		return l.Web
	}
	return &l.zero
}

func (l *ImpalaLoad) metric() string {
	if l.Metric == "" {
		return DefaultLoadMetric
	}
	return l.Metric
}

// Load reads the metric from the web server of the coordinator at addr.
func (l *ImpalaLoad) Load(ctx context.Context, addr string) (float64, error) {
	hp, err := l.web().webServerOf(addr)
	if err != nil {
		return 0, err
	}
	body, err := l.web().get(ctx, hp, "/jsonmetrics?json")
	if err != nil {
		return 0, err
	}
	return parseMetric(body, l.metric())
}

// String names the source.
func (l *ImpalaLoad) String() string {
	return fmt.Sprintf("impala %s (%s web servers, port %d)", l.metric(), l.web().scheme(), l.web().port())
}

// CloseIdleConnections closes the web client's idle connections.
func (l *ImpalaLoad) CloseIdleConnections() { l.web().CloseIdleConnections() }

// parseMetric reads one numeric metric of a /jsonmetrics?json answer.
func parseMetric(body []byte, name string) (float64, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, fmt.Errorf("balancer: /jsonmetrics?json: %w", err)
	}
	raw, ok := doc[name]
	if !ok {
		return 0, fmt.Errorf("balancer: /jsonmetrics?json has no metric %q", name)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("balancer: /jsonmetrics?json: metric %q is not a count: %.40s", name, raw)
	}
	return v, nil
}

// ClusterLoadStats describes the load source in [Stats].
type ClusterLoadStats struct {
	// Source names the source (its String).
	Source string
	// Polls counts requests made; Failures those that failed.
	Polls, Failures uint64
	// Share is the weight w of the rank: this pool's share of the cluster's
	// load at the last poll (see [Config.ClusterLoad]).
	Share float64
}

// loadState is the pool's cluster-load state.
type loadState struct {
	r LoadReporter

	mu       sync.Mutex // guards the fields below
	figs     map[string]*loadFig
	polls    uint64
	failures uint64
	share    float64
}

// loadFig is the last figure of one coordinator.
type loadFig struct {
	queries   float64   // R(c)
	own       float64   // own₀(c)
	at        time.Time // zero: never read
	lastErr   error
	lastErrAt time.Time
}

func (p *Pool[S]) startClusterLoad(noLoop bool) {
	if p.cfg.ClusterLoad == nil {
		return
	}
	p.load = &loadState{r: p.cfg.ClusterLoad, figs: map[string]*loadFig{}}
	if noLoop {
		return
	}
	p.startPoller(p.cfg.ClusterLoadInterval, p.pollLoad)
}

// pollLoad reads every up coordinator's figure, in parallel, and publishes
// the rank terms.
func (p *Pool[S]) pollLoad() {
	s := p.snap.Load()
	if s.degraded {
		return
	}
	coords := s.list
	type result struct {
		v   float64
		own float64
		err error
	}
	res := make([]result, len(coords))
	var g errgroup.Group
	g.SetLimit(maxParallelChecks)
	for i, c := range coords {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(p.bgCtx, p.cfg.ClusterLoadInterval)
			before := c.busy()
			v, err := p.load.r.Load(ctx, c.addr)
			cancel()
			res[i] = result{v: v, own: float64(before+c.busy()) / 2, err: err}
			return nil
		})
	}
	_ = g.Wait()
	if p.closed.Load() {
		return
	}
	now := p.now()
	l := p.load
	l.mu.Lock()
	for i, c := range coords {
		f := l.figs[c.addr]
		if f == nil {
			f = &loadFig{}
			l.figs[c.addr] = f
		}
		l.polls++
		if r := res[i]; r.err != nil {
			l.failures++
			f.lastErr, f.lastErrAt = fmt.Errorf("balancer: cluster load %s: %w", c.addr, r.err), now
			if p.log != nil {
				p.log.Debug("balancer: cluster load poll failed", "coordinator", c.addr, "err", r.err)
			}
		} else {
			f.queries, f.own, f.at = r.v, r.own, now
		}
	}
	p.publishLoadLocked(now)
	l.mu.Unlock()
}

// publishLoadLocked computes w × others(c) for every member (see the
// formula above) and stores it where the rank reads it. l.mu held.
func (p *Pool[S]) publishLoadLocked(now time.Time) {
	l := p.load
	p.mu.Lock()
	coords := slices.Clone(p.coords)
	p.mu.Unlock()
	maxAge := 3 * p.cfg.ClusterLoadInterval
	members := make(map[string]bool, len(coords))
	var sumOwn, sumR, sumOthers float64
	fresh := 0
	for _, c := range coords {
		members[c.addr] = true
		if f := l.figs[c.addr]; f != nil && !f.at.IsZero() && now.Sub(f.at) <= maxAge {
			fresh++
			sumOwn += f.own
			sumR += f.queries
			sumOthers += max(f.queries-f.own, 0)
		}
	}
	for a := range l.figs {
		if !members[a] {
			delete(l.figs, a)
		}
	}
	if fresh == 0 {
		l.share = 0
		for _, c := range coords {
			c.remote.Store(0)
		}
		return
	}
	w := max(sumOwn, 1) / max(sumR, sumOwn, 1)
	l.share = w
	mean := sumOthers / float64(fresh)
	for _, c := range coords {
		others := mean
		if f := l.figs[c.addr]; f != nil && !f.at.IsZero() && now.Sub(f.at) <= maxAge {
			others = max(f.queries-f.own, 0)
		}
		c.remote.Store(int64(w * others * loadScale))
	}
}

// clusterLoadStats returns the load source's figures, and fills the
// per-coordinator ones.
func (p *Pool[S]) clusterLoadStats(cs []CoordinatorStats) *ClusterLoadStats {
	l := p.load
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range cs {
		if f := l.figs[cs[i].Addr]; f != nil {
			cs[i].ClusterQueries = f.queries
			cs[i].ClusterQueriesAt = f.at
			cs[i].ClusterLoadError = f.lastErr
		}
	}
	return &ClusterLoadStats{Source: l.r.String(), Polls: l.polls, Failures: l.failures, Share: l.share}
}
