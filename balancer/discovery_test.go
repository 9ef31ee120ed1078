package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/dnstest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
	"github.com/impalalb/impalalb/secret"
)

// The tests of this file run discovery against a real DNS server (dnsmasq,
// internal/dnstest) and against the test coordinators' web servers
// (/backends?json, /jsonmetrics?json), the coordinators each on its own
// loopback host with one shared HS2 port, as a real cluster's.

// discoveryPool starts a pool without its background goroutines (the test
// drives discovery with Discover and the loop with Maintain), closed in
// t.Cleanup.
func discoveryPool(t *testing.T, cfg balancer.Config, opts conn.Options) *connPool {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = -1
	}
	p, err := balancer.NewForTest(cfg, balancer.NewConnDialer(opts), balancer.Hooks[*conn.Session]{}, balancer.TestOptions{NoLoop: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// members returns the pool's coordinators with their states.
func members(p *connPool) map[string]balancer.State {
	out := map[string]balancer.State{}
	for _, c := range p.Stats().Coordinators {
		out[c.Addr] = c.State
	}
	return out
}

// TestDiscoveryDNS: the members follow the DNS records, without a seed
// list; a coordinator whose record goes away while one of its sessions
// streams a long result is drained, not cut: the fetch ends with every
// row, the session moves at its next statement, and the coordinator
// leaves once its sessions are gone. A DNS server that stops answering
// (or a name that no longer resolves) keeps the last good list, and says
// so in the logs and the stats.
func TestDiscoveryDNS(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 3, impalad.Config{})
	const name = "coordinators.impalalb.test."
	dns := dnstest.Start(t, map[string][]string{name: {testenv.Host(0), testenv.Host(1)}})
	logs := &recordHandler{}
	p := discoveryPool(t, balancer.Config{
		Discovery:     []balancer.Discoverer{&balancer.DNSDiscovery{Name: name, Port: lc.HS2Port, Resolver: dns.Resolver()}},
		SlowStart:     -1,
		ValidateAfter: -1,
		Logger:        newLogger(logs),
	}, conn.Options{FetchSize: 1000})
	ctx := context.Background()

	// No seed: an acquire waits for the first answer.
	var acquired *connLease
	var acqErr error
	got := make(chan struct{})
	go func() {
		acquired, acqErr = p.Acquire(ctx, "")
		close(got)
	}()
	p.Discover()
	<-got
	require.NoError(t, acqErr)
	acquired.Release()
	require.Equal(t, map[string]balancer.State{lc.Addr(0): balancer.StateUp, lc.Addr(1): balancer.StateUp}, members(p))

	// A long fetch on coordinator 1 (the second host).
	var streaming *connLease
	var held []*connLease
	for streaming == nil {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		if l.Coordinator() == lc.Addr(1) {
			streaming = l
		} else {
			held = append(held, l)
		}
		require.Less(t, len(held), 10)
	}
	for _, l := range held {
		l.Release()
	}
	op, err := sess(streaming).Execute(ctx, "select * from gen.rows_20000", nil)
	require.NoError(t, err)
	b, err := op.Next(ctx)
	require.NoError(t, err)
	rows := b.Len()
	require.Less(t, rows, 20000)

	// Its record goes, another host's comes.
	dns.Set(t, map[string][]string{name: {testenv.Host(0), testenv.Host(2)}})
	p.Discover()
	require.Equal(t, map[string]balancer.State{lc.Addr(0): balancer.StateUp, lc.Addr(1): balancer.StateRemoved, lc.Addr(2): balancer.StateUp}, members(p))
	for range 6 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NotEqual(t, lc.Addr(1), l.Coordinator(), "a removed coordinator takes no new session")
		defer l.Release()
	}
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the fetch goes on on a coordinator that left the membership")
		rows += b.Len()
	}
	require.NoError(t, op.Close(ctx))
	require.Equal(t, 20000, rows)
	require.Equal(t, lc.Addr(1), streaming.Coordinator())
	require.NoError(t, run(ctx, streaming, "select 1"), "the next statement moves")
	require.NotEqual(t, lc.Addr(1), streaming.Coordinator())
	streaming.Release()
	streaming.Settle()
	p.Maintain()
	require.NotContains(t, members(p), lc.Addr(1), "gone once its sessions are")

	// The name stops resolving, then the server stops: the list is kept.
	dns.Set(t, map[string][]string{"other.impalalb.test.": {testenv.Host(2)}})
	p.Discover()
	dns.Stop()
	p.Discover()
	want := map[string]balancer.State{lc.Addr(0): balancer.StateUp, lc.Addr(2): balancer.StateUp}
	require.Equal(t, want, members(p))
	st := p.Stats().Discovery
	require.Len(t, st, 1)
	require.Equal(t, 2, st[0].Members)
	require.Equal(t, uint64(4), st[0].Polls)
	require.Equal(t, uint64(2), st[0].Failures)
	require.Error(t, st[0].LastError)
	require.Contains(t, st[0].Source, "dns "+name)
	require.False(t, st[0].LastSuccess.IsZero())
	require.Contains(t, logs.messages(), "balancer: discovery failed; the last good list is kept")
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.NoError(t, run(ctx, l, "select 1"))
	l.Release()
}

// TestDiscoveryImpalaMembership: from one seed, the membership read from
// /backends?json over TLS with Basic authentication finds the whole
// cluster; a coordinator that starts a graceful shutdown is drained at
// once (no new session, its running statement finishes, its session moves
// at the next one) and leaves the pool when it leaves the membership; one
// that joins is taken in with slow start. Wrong credentials keep the last
// good list and the password shows nowhere.
func TestDiscoveryImpalaMembership(t *testing.T) {
	hosts := []string{testenv.Host(0), testenv.Host(1), testenv.Host(2), testenv.Host(3)}
	srvTLS, cliTLS, _ := testenv.WebTLS(t, hosts...)
	lc := testenv.StartLoopbackCluster(t, 3, impalad.Config{
		WebTLS: srvTLS, WebUsers: map[string]string{"alice": "s3cret-pw"},
		ShutdownGracePeriod: time.Nanosecond, ShutdownCheckInterval: 5 * time.Millisecond,
	})
	web := &balancer.ImpalaWeb{Port: lc.WebPort, TLS: cliTLS, User: "alice", Password: secret.New("s3cret-pw")}
	p := discoveryPool(t, balancer.Config{
		Coordinators:  []string{lc.Addr(0)},
		Discovery:     []balancer.Discoverer{&balancer.ImpalaMembership{Web: web, Port: lc.HS2Port}},
		ValidateAfter: -1,
		SlowStart:     time.Hour,
	}, conn.Options{})
	ctx := context.Background()
	require.Equal(t, map[string]balancer.State{lc.Addr(0): balancer.StateUp}, members(p), "the seed until discovery answers")
	p.Discover()
	require.Equal(t, map[string]balancer.State{lc.Addr(0): balancer.StateUp, lc.Addr(1): balancer.StateUp, lc.Addr(2): balancer.StateUp}, members(p))

	// A statement runs on coordinator 2 when it starts shutting down.
	var victim *connLease
	for victim == nil {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		if l.Coordinator() == lc.Addr(2) {
			victim = l
		} else {
			defer l.Release()
		}
	}
	op, err := sess(victim).Execute(ctx, "select sleep(200)", nil)
	require.NoError(t, err)
	_, err = lc.Coords[2].StartShutdown(-1)
	require.NoError(t, err)
	p.Discover()
	require.Equal(t, balancer.StateDraining, members(p)[lc.Addr(2)])
	cs, _ := p.Stats().Coordinator(lc.Addr(2))
	require.ErrorIs(t, cs.LastError, balancer.ErrQuiescing)
	require.Equal(t, 1, p.Stats().Discovery[0].Quiescing)
	for range 6 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NotEqual(t, lc.Addr(2), l.Coordinator(), "a quiescing coordinator takes no new session")
		defer l.Release()
	}
	_, err = op.Fetch(ctx)
	require.NoError(t, err, "the running statement finishes")
	require.NoError(t, op.Close(ctx))
	require.NoError(t, run(ctx, victim, "select 1"), "the next statement moves")
	require.NotEqual(t, lc.Addr(2), victim.Coordinator())
	victim.Release()
	<-lc.Coords[2].ShutdownDone()
	p.Discover()
	require.Equal(t, balancer.StateRemoved, members(p)[lc.Addr(2)])

	// A coordinator joins.
	lc.Add()
	p.Discover()
	require.Equal(t, balancer.StateUp, members(p)[lc.Addr(3)])
	cs, _ = p.Stats().Coordinator(lc.Addr(3))
	require.Less(t, cs.Weight, 1.0, "a new coordinator ramps up")

	// Wrong credentials: the list is kept, the password is not shown.
	web2 := &balancer.ImpalaWeb{Port: lc.WebPort, TLS: cliTLS, User: "alice", Password: secret.New("wrong-pw-9")}
	p2 := discoveryPool(t, balancer.Config{
		Coordinators: []string{lc.Addr(0), lc.Addr(1)},
		Discovery:    []balancer.Discoverer{&balancer.ImpalaMembership{Web: web2, Port: lc.HS2Port}},
	}, conn.Options{})
	p2.Discover()
	require.Equal(t, map[string]balancer.State{lc.Addr(0): balancer.StateUp, lc.Addr(1): balancer.StateUp}, members(p2))
	ds := p2.Stats().Discovery[0]
	var we *balancer.WebError
	require.ErrorAs(t, ds.LastError, &we)
	require.Contains(t, we.Status, "401")
	require.NotContains(t, ds.LastError.Error(), "wrong-pw-9")
	require.Zero(t, ds.Members)
}

// TestDiscoveryBasicNotInClear: a web server that asks for Basic
// credentials over plain HTTP does not get them.
func TestDiscoveryBasicNotInClear(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 1, impalad.Config{WebUsers: map[string]string{"alice": "pw"}})
	m := &balancer.ImpalaMembership{Web: &balancer.ImpalaWeb{Port: lc.WebPort, User: "alice", Password: secret.New("pw")}, Port: lc.HS2Port}
	_, err := m.Discover(context.Background(), []string{lc.Addr(0)})
	require.ErrorIs(t, err, balancer.ErrBasicInClear)
	m.Web.BasicInClear = true
	ms, err := m.Discover(context.Background(), []string{lc.Addr(0)})
	require.NoError(t, err)
	require.Equal(t, []balancer.Member{{Addr: lc.Addr(0)}}, ms)
	m.CloseIdleConnections()
}

// hangingSource answers only when its context ends, and records the
// deadline it was given.
type hangingSource struct {
	calls    atomic.Int32
	deadline atomic.Int64 // nanoseconds from the call to its context's deadline
}

func (h *hangingSource) Discover(ctx context.Context, _ []string) ([]balancer.Member, error) {
	h.calls.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		h.deadline.Store(int64(time.Until(dl)))
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h *hangingSource) String() string { return "hanging" }

// TestDiscoveryPollBounded: a source that never answers is cut at
// DiscoveryTimeout, counted as a failure, and the seeds stay.
func TestDiscoveryPollBounded(t *testing.T) {
	h := &hangingSource{}
	p := discoveryPool(t, balancer.Config{
		Coordinators:     []string{"c1:21050"},
		Discovery:        []balancer.Discoverer{h},
		DiscoveryTimeout: 20 * time.Millisecond,
	}, conn.Options{})
	p.Discover()
	require.Equal(t, int32(1), h.calls.Load())
	left := time.Duration(h.deadline.Load())
	require.Positive(t, left, "the poll had a deadline")
	require.LessOrEqual(t, left, 20*time.Millisecond, "within DiscoveryTimeout")
	ds := p.Stats().Discovery[0]
	require.ErrorIs(t, ds.LastError, context.DeadlineExceeded)
	require.Equal(t, uint64(1), ds.Failures)
	require.Equal(t, map[string]balancer.State{"c1:21050": balancer.StateUp}, members(p))
}

// TestDiscoveryPollersStopAtClose: with real pollers (DNS discovery, the
// Impala membership and the cluster load, polled every few milliseconds),
// Close stops them all: no goroutine is left, and no poll runs after
// Close returns.
func TestDiscoveryPollersStopAtClose(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 2, impalad.Config{})
	const name = "coordinators.impalalb.test."
	dns := dnstest.Start(t, map[string][]string{name: {testenv.Host(0), testenv.Host(1)}})
	ignore := goleak.IgnoreCurrent()

	web := &balancer.ImpalaWeb{Port: lc.WebPort}
	dnsSrc := &countingSource{d: &balancer.DNSDiscovery{Name: name, Port: lc.HS2Port, Resolver: dns.Resolver()}}
	impSrc := &countingSource{d: &balancer.ImpalaMembership{Web: web, Port: lc.HS2Port}}
	load := &countingLoad{r: &balancer.ImpalaLoad{Web: web}}
	p, err := balancer.New(balancer.Config{
		Discovery:           []balancer.Discoverer{dnsSrc, impSrc},
		DiscoveryInterval:   5 * time.Millisecond,
		ClusterLoad:         load,
		ClusterLoadInterval: 5 * time.Millisecond,
	}, balancer.NewConnDialer(conn.Options{}))
	require.NoError(t, err)
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	require.NoError(t, run(context.Background(), l, "select 1"))
	l.Release()
	require.True(t, pollUntil(10*time.Second, func() bool {
		return dnsSrc.n.Load() >= 3 && impSrc.n.Load() >= 3 && load.n.Load() >= 3
	}), "pollers ran")
	require.NoError(t, p.Close())
	n := dnsSrc.n.Load() + impSrc.n.Load() + load.n.Load()
	goleak.VerifyNone(t, ignore)
	require.Equal(t, n, dnsSrc.n.Load()+impSrc.n.Load()+load.n.Load(), "no poll after Close")
	st := p.Stats()
	require.Len(t, st.Discovery, 2)
	require.NotNil(t, st.ClusterLoad)
	require.Positive(t, st.ClusterLoad.Polls)
}

type countingSource struct {
	d balancer.Discoverer
	n atomic.Int64
}

func (c *countingSource) Discover(ctx context.Context, cur []string) ([]balancer.Member, error) {
	c.n.Add(1)
	return c.d.Discover(ctx, cur)
}
func (c *countingSource) String() string { return c.d.String() }
func (c *countingSource) CloseIdleConnections() {
	if ic, ok := c.d.(interface{ CloseIdleConnections() }); ok {
		ic.CloseIdleConnections()
	}
}

type countingLoad struct {
	r balancer.LoadReporter
	n atomic.Int64
}

func (c *countingLoad) Load(ctx context.Context, addr string) (float64, error) {
	c.n.Add(1)
	return c.r.Load(ctx, addr)
}
func (c *countingLoad) String() string { return c.r.String() }
func (c *countingLoad) CloseIdleConnections() {
	if ic, ok := c.r.(interface{ CloseIdleConnections() }); ok {
		ic.CloseIdleConnections()
	}
}

// TestClusterLoadAcrossPools: two pools over the same two coordinators,
// as two client processes. Pool B runs long statements on coordinator 0;
// pool A, with cluster-wide leastconn, reads the coordinators' own figures
// (/jsonmetrics?json) and sends its next session to coordinator 1, where
// local leastconn would have had no reason to prefer either.
func TestClusterLoadAcrossPools(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 2, impalad.Config{})
	b := discoveryPool(t, balancer.Config{Coordinators: []string{lc.Addr(0)}}, conn.Options{})
	bctx, stopB := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopB()
	for range 3 {
		l, err := b.Acquire(bctx, "")
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Release()
			run(bctx, l, "select sleep(60000)") // until stopB cancels it
		}()
	}
	a := discoveryPool(t, balancer.Config{
		Coordinators: []string{lc.Addr(0), lc.Addr(1)},
		ClusterLoad:  &balancer.ImpalaLoad{Web: &balancer.ImpalaWeb{Port: lc.WebPort}},
	}, conn.Options{})
	require.True(t, pollUntil(10*time.Second, func() bool {
		a.PollLoad()
		c0, _ := a.Stats().Coordinator(lc.Addr(0))
		return c0.ClusterQueries == 3
	}), "pool B's three statements registered")
	c0, _ := a.Stats().Coordinator(lc.Addr(0))
	require.False(t, c0.ClusterQueriesAt.IsZero())
	require.InDelta(t, 1.0, a.RemoteLoad(lc.Addr(0)), 0.01, "w = 1/3 (this pool's share, never 0) × 3 queries of others")
	require.Zero(t, a.RemoteLoad(lc.Addr(1)))
	for range 5 {
		require.Equal(t, lc.Addr(1), a.Pick(balancer.LeastConn, ""), "the other process's queries count")
	}
	stopB()
	wg.Wait()
	require.True(t, pollUntil(10*time.Second, func() bool {
		a.PollLoad()
		return a.RemoteLoad(lc.Addr(0)) == 0
	}), "cancelled, they no longer count")
}

// fakeLoad reports fixed figures per coordinator, or an error.
type fakeLoad struct {
	mu   sync.Mutex
	figs map[string]float64
}

func (f *fakeLoad) Load(_ context.Context, addr string) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.figs[addr]
	if !ok {
		return 0, errors.New("no figure")
	}
	return v, nil
}
func (f *fakeLoad) String() string { return "fake" }

func (f *fakeLoad) set(figs map[string]float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.figs = figs
}

// TestClusterLoadFormula checks the rank's cluster-wide term: others(c) =
// R(c) − own₀(c), weighted by this pool's share of the cluster's load; a
// coordinator with no figure counts the mean of the others'; figures older
// than three intervals are dropped and the rank is local leastconn's.
func TestClusterLoadFormula(t *testing.T) {
	clock := newClock()
	fl := &fakeLoad{}
	cl, addrs := newCluster(3)
	p, err := balancer.NewForTest(balancer.Config{Coordinators: addrs, ClusterLoad: fl, ClusterLoadInterval: time.Second, Interval: -1, SlowStart: -1},
		&fakeDialer{cl: cl}, balancer.Hooks[balancer.Session]{}, balancer.TestOptions{NoLoop: true, Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	ctx := context.Background()
	// This pool holds 2 sessions on one coordinator (placed by an affinity
	// key); the coordinators report 6 there, 2 and 4 on the others.
	var ls []*balancer.Lease[balancer.Session]
	for range 2 {
		l, err := p.Acquire(ctx, "k")
		require.NoError(t, err)
		ls = append(ls, l)
	}
	x := ls[0].Coordinator()
	require.Equal(t, x, ls[1].Coordinator())
	i := slices.Index(addrs, x)
	addrs = []string{x, addrs[(i+1)%3], addrs[(i+2)%3]}
	fl.set(map[string]float64{addrs[0]: 6, addrs[1]: 2, addrs[2]: 4})
	p.PollLoad()
	w := 2.0 / 12                                         // own 2 of 12 registered
	require.InDelta(t, w*4, p.RemoteLoad(addrs[0]), 0.01) // 6 − 2 own
	require.InDelta(t, w*2, p.RemoteLoad(addrs[1]), 0.01)
	require.InDelta(t, w*4, p.RemoteLoad(addrs[2]), 0.01)
	require.InDelta(t, w, p.Stats().ClusterLoad.Share, 0.001)
	require.Equal(t, addrs[1], p.Pick(balancer.LeastConn, ""))

	// addrs[1] has no figure: the mean of the others' (4 and 4).
	fl.set(map[string]float64{addrs[0]: 6, addrs[2]: 4})
	clock.Advance(4 * time.Second) // the old figure is stale by now
	p.PollLoad()
	w = 2.0 / 10
	require.InDelta(t, w*4, p.RemoteLoad(addrs[1]), 0.01)
	cs, _ := p.Stats().Coordinator(addrs[1])
	require.Error(t, cs.ClusterLoadError)

	// Every poll fails for longer than three intervals: local counts only.
	fl.set(nil)
	clock.Advance(4 * time.Second)
	p.PollLoad()
	for _, a := range addrs {
		require.Zero(t, p.RemoteLoad(a))
	}
	require.NotEqual(t, addrs[0], p.Pick(balancer.LeastConn, ""), "own sessions alone")
	for _, l := range ls {
		l.Release()
	}
}

// TestDiscoveryConfig: a pool may have no seed when it has a source; a
// nil source and negative intervals are refused, naming the field.
func TestDiscoveryConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg   balancer.Config
		field string
	}{
		{balancer.Config{}, "Coordinators"},
		{balancer.Config{Discovery: []balancer.Discoverer{nil}}, "Discovery"},
		{balancer.Config{Discovery: []balancer.Discoverer{(*balancer.DNSDiscovery)(nil)}}, "Discovery"},
		{balancer.Config{Coordinators: []string{"h:1"}, DiscoveryInterval: -1}, "DiscoveryInterval"},
		{balancer.Config{Coordinators: []string{"h:1"}, DiscoveryTimeout: -1}, "DiscoveryTimeout"},
		{balancer.Config{Coordinators: []string{"h:1"}, ClusterLoadInterval: -1}, "ClusterLoadInterval"},
		{balancer.Config{Coordinators: []string{"h:1"}, ClusterLoad: (*balancer.ImpalaLoad)(nil)}, "ClusterLoad"},
	} {
		var ce *balancer.ConfigError
		require.ErrorAs(t, tc.cfg.Validate(), &ce, "%+v", tc.cfg)
		require.Equal(t, tc.field, ce.Field)
	}
	require.NoError(t, balancer.Config{Discovery: []balancer.Discoverer{&balancer.DNSDiscovery{Name: "x", Port: 1}}}.Validate())
	d := balancer.Config{}.WithDefaults()
	require.Equal(t, 10*time.Second, d.DiscoveryInterval)
	require.Equal(t, 5*time.Second, d.DiscoveryTimeout)
	require.Equal(t, time.Second, d.ClusterLoadInterval)
}

// TestDiscoveryNoMemberError: with no seed and a source that fails, an
// acquire says why there is no coordinator.
func TestDiscoveryNoMemberError(t *testing.T) {
	src := &balancer.DNSDiscovery{Name: "nothing.invalid.", Port: 21050, Resolver: &failingResolver}
	p := discoveryPool(t, balancer.Config{Discovery: []balancer.Discoverer{src}}, conn.Options{})
	p.Discover()
	_, err := p.Acquire(context.Background(), "")
	require.ErrorIs(t, err, balancer.ErrNoCoordinator)
	require.Contains(t, err.Error(), "discovery dns nothing.invalid.")
	require.Contains(t, err.Error(), "refused by the test")
}

// failingResolver fails every query: no DNS server answers.
var failingResolver = net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("dial refused by the test")
}}

// TestImpalaWebRedacted: no fmt verb shows the web client's password.
func TestImpalaWebRedacted(t *testing.T) {
	w := &balancer.ImpalaWeb{User: "etl", Password: secret.New("pw-Secr3t")}
	m := &balancer.ImpalaMembership{Web: w, Port: 21050}
	for _, s := range []string{fmt.Sprint(w), fmt.Sprintf("%v %+v %#v %s", w, w, w, w), fmt.Sprintf("%v %+v", m, m)} {
		require.NotContains(t, s, "pw-Secr3t")
	}
	require.Equal(t, `balancer.ImpalaWeb{http, port 25000, Basic user "etl" (password set)}`, w.String())
}
