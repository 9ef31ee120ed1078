package balancer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

// errNoAnswer stands for a statement's timeout or transport failure.
var errNoAnswer = errors.New("conn: execute x: context deadline exceeded")

// leaseOn acquires sessions until one is on addr, and releases the others.
func leaseOn(t *testing.T, p *pool, addr string) *lease {
	t.Helper()
	var others []*lease
	defer func() { releaseAll(others) }()
	for range 16 {
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		if l.Coordinator() == addr {
			return l
		}
		others = append(others, l)
	}
	t.Fatalf("no session on %s in 16 acquires", addr)
	return nil
}

// outlierPool is a pool over n fake coordinators whose clock the test
// drives, with the background loop left to the test (Maintain), slow start
// on, and active checks every second.
func outlierPool(t *testing.T, n int, mod func(*balancer.Config)) (*pool, []string, *fakeClock) {
	p, addrs, clk, _ := outlierCluster(t, n, mod)
	return p, addrs, clk
}

// outlierCluster is outlierPool with its fake cluster.
func outlierCluster(t *testing.T, n int, mod func(*balancer.Config)) (*pool, []string, *fakeClock, *fakeCluster) {
	cl, addrs := newCluster(n)
	clk := newClock()
	cfg := testConfig(cl, addrs)
	cfg.Interval = time.Second
	cfg.Rise = 2
	cfg.SlowStart = 10 * time.Second
	cfg.OutlierFailures = 3
	cfg.OutlierWindow = 10 * time.Second
	cfg.OutlierEjectTime = 30 * time.Second
	cfg.OutlierEjectTimeMax = 100 * time.Second
	if mod != nil {
		mod(&cfg.Config)
	}
	p := newPool(t, cfg, balancer.TestOptions{Now: clk.Now, NoLoop: true})
	return p, addrs, clk, cl
}

// fail reports k statement failures on addr through its leases.
func fail(t *testing.T, p *pool, addr string, k int) {
	t.Helper()
	for range k {
		l := leaseOn(t, p, addr)
		l.CoordinatorFailed(errNoAnswer)
		l.Discard()
		l.Settle()
	}
}

// OutlierFailures statement failures in a row eject a coordinator while
// another answers; it is not probed during its ejection time, then health
// checks bring it back through Rise and slow start.
func TestOutlierEjectsAndReturns(t *testing.T) {
	p, addrs, clk := outlierPool(t, 2, nil)
	bad, good := addrs[0], addrs[1]
	ok := leaseOn(t, p, good)
	ok.CoordinatorAnswered()
	ok.Release()

	fail(t, p, bad, 2)
	cs, _ := p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateUp, cs.State, "two failures: not yet")
	fail(t, p, bad, 1)
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State)
	require.True(t, cs.Ejected)
	require.EqualValues(t, 1, cs.Ejections)
	var ej *balancer.EjectedError
	require.ErrorAs(t, cs.LastError, &ej)
	require.Equal(t, 30*time.Second, ej.For)
	require.Equal(t, 3, ej.Failures)
	require.ErrorIs(t, cs.LastError, errNoAnswer)

	// Every acquire now goes to the other.
	for range 8 {
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		require.Equal(t, good, l.Coordinator())
		defer l.Release()
	}
	// A check that was already running when it was ejected passes (it
	// answers pings) and does not count.
	for range 3 {
		p.ApplyCheck(bad, nil)
	}
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State, "checks in flight at the ejection do not bring it back")
	// Not even probed before its time: it would pass the checks (it
	// answers pings) and come straight back.
	clk.Advance(29 * time.Second)
	p.Maintain()
	p.Maintain()
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State)
	clk.Advance(2 * time.Second)
	p.Maintain() // first check passes
	p.Maintain() // not yet due
	clk.Advance(time.Second)
	p.Maintain() // second: Rise
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateUp, cs.State)
	require.False(t, cs.Ejected)
	require.Less(t, cs.Weight, 1.0, "back through slow start")
}

// A coordinator whose statements all failed because it died (its in-flight
// statements fail at once when it is killed) fails the check made before
// an ejection: it goes down as a failed check takes it, not ejected, and
// comes back through Rise as soon as it answers, not OutlierEjectTime
// after its restart.
func TestOutlierDeadIsDownNotEjected(t *testing.T) {
	p, addrs, clk, cl := outlierCluster(t, 2, nil)
	bad := addrs[0]
	var ls []*lease
	for len(ls) < 3 {
		ls = append(ls, leaseOn(t, p, bad))
	}
	cl.get(bad).kill()
	for _, l := range ls {
		l.CoordinatorFailed(errNoAnswer)
		l.Discard()
	}
	p.Settle()
	cs, _ := p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State)
	require.False(t, cs.Ejected)
	require.Zero(t, cs.Ejections)

	cl.get(bad).revive()
	for range 4 {
		clk.Advance(time.Second)
		p.Maintain()
	}
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateUp, cs.State, "back within seconds of its restart: %v", cs.LastError)
}

// A statement answered resets the run; failures further apart than the
// window do not add up; ejection can be turned off.
func TestOutlierRunsAndWindow(t *testing.T) {
	p, addrs, clk := outlierPool(t, 2, nil)
	bad := addrs[0]
	fail(t, p, bad, 2)
	l := leaseOn(t, p, bad)
	l.CoordinatorAnswered()
	l.Release()
	fail(t, p, bad, 2)
	cs, _ := p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateUp, cs.State, "2 + answer + 2")

	clk.Advance(11 * time.Second)
	fail(t, p, bad, 2)
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateUp, cs.State, "the first two are older than the window")
	fail(t, p, bad, 1)
	cs, _ = p.Stats().Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State)

	off, addrs, _ := outlierPool(t, 2, func(c *balancer.Config) { c.OutlierFailures = -1 })
	fail(t, off, addrs[0], 10)
	cs, _ = off.Stats().Coordinator(addrs[0])
	require.Equal(t, balancer.StateUp, cs.State)
	require.Zero(t, cs.Ejections)
}

// Never all, and no more than OutlierMaxEjected: of three coordinators
// failing statements, one is ejected (0.5 of 3); of two that both fail,
// none (no other answers: the fault is likely the client's own).
func TestOutlierCaps(t *testing.T) {
	p, addrs, _ := outlierPool(t, 3, nil)
	fail(t, p, addrs[0], 3)
	fail(t, p, addrs[1], 3)
	st := p.Stats()
	ejected := 0
	for _, c := range st.Coordinators {
		if c.Ejected {
			ejected++
		}
	}
	require.Equal(t, 1, ejected)

	both, addrs, _ := outlierPool(t, 2, nil)
	fail(t, both, addrs[1], 1)
	fail(t, both, addrs[0], 5)
	for _, c := range both.Stats().Coordinators {
		require.False(t, c.Ejected, c.Addr)
		require.Equal(t, balancer.StateUp, c.State, c.Addr)
	}

	all, addrs, _ := outlierPool(t, 2, func(c *balancer.Config) { c.OutlierMaxEjected = 1 })
	fail(t, all, addrs[0], 3)
	fail(t, all, addrs[1], 3)
	ejected = 0
	for _, c := range all.Stats().Coordinators {
		if c.Ejected {
			ejected++
		}
	}
	require.Equal(t, 1, ejected, "never all")
}

// Each ejection that follows doubles the time out, up to the maximum; a
// coordinator in for longer than the maximum starts again.
func TestOutlierEjectionTimeDoubles(t *testing.T) {
	p, addrs, clk := outlierPool(t, 2, nil)
	bad := addrs[0]
	back := func(wait time.Duration) {
		t.Helper()
		clk.Advance(wait)
		p.Maintain()
		clk.Advance(2 * time.Second)
		p.Maintain()
		cs, _ := p.Stats().Coordinator(bad)
		require.Equal(t, balancer.StateUp, cs.State)
	}
	var got []time.Duration
	for range 4 {
		fail(t, p, bad, 3)
		cs, _ := p.Stats().Coordinator(bad)
		require.True(t, cs.Ejected)
		var ej *balancer.EjectedError
		require.ErrorAs(t, cs.LastError, &ej)
		got = append(got, ej.For)
		back(ej.For)
	}
	require.Equal(t, []time.Duration{30 * time.Second, 60 * time.Second, 100 * time.Second, 100 * time.Second}, got)
	clk.Advance(101 * time.Second)
	fail(t, p, bad, 3)
	cs, _ := p.Stats().Coordinator(bad)
	var ej *balancer.EjectedError
	require.ErrorAs(t, cs.LastError, &ej)
	require.Equal(t, 30*time.Second, ej.For)
}

// The report of a statement the coordinator answered costs one atomic
// load when nothing fails.
func BenchmarkCoordinatorAnswered(b *testing.B) {
	cl, addrs := newCluster(1)
	p := newPool(b, testConfig(cl, addrs), balancer.TestOptions{})
	l, err := p.Acquire(context.Background(), "")
	require.NoError(b, err)
	defer l.Release()
	b.ReportAllocs()
	for b.Loop() {
		l.CoordinatorAnswered()
	}
}
