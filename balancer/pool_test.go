package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

func TestConfigValidate(t *testing.T) {
	cl, addrs := newCluster(2)
	good := balancer.Config{Coordinators: addrs}
	require.NoError(t, good.Validate())
	_, err := balancer.New[balancer.Session](good, nil)
	var ce *balancer.ConfigError
	require.ErrorAs(t, err, &ce, "New needs a Dialer")
	require.Equal(t, "Dialer", ce.Field)
	tests := []struct {
		field string
		edit  func(c *balancer.Config)
	}{
		{"Coordinators", func(c *balancer.Config) { c.Coordinators = nil }},
		{"Coordinators", func(c *balancer.Config) { c.Coordinators = []string{"nohost"} }},
		{"Coordinators", func(c *balancer.Config) { c.Coordinators = []string{"a:1", "a:1"} }},
		{"Policy", func(c *balancer.Config) { c.Policy = 9 }},
		{"KeyedPolicy", func(c *balancer.Config) { c.KeyedPolicy = 9 }},
		{"LoadFactor", func(c *balancer.Config) { c.LoadFactor = 0.5 }},
		{"LoadFactor", func(c *balancer.Config) { c.LoadFactor = math.NaN() }},
		{"MaxSessions", func(c *balancer.Config) { c.MaxSessions = -1 }},
		{"MaxPerCoordinator", func(c *balancer.Config) { c.MaxPerCoordinator = -1 }},
		{"LifetimeJitter", func(c *balancer.Config) { c.LifetimeJitter = 1 }},
		{"DialTimeout", func(c *balancer.Config) { c.DialTimeout = -time.Second }},
		{"CheckTimeout", func(c *balancer.Config) { c.CheckTimeout = -time.Second }},
		{"Rise", func(c *balancer.Config) { c.Rise = -1 }},
		{"Fall", func(c *balancer.Config) { c.Fall = -1 }},
		{"BackoffMin", func(c *balancer.Config) { c.BackoffMin = -1 }},
		{"BackoffMax", func(c *balancer.Config) { c.BackoffMin, c.BackoffMax = time.Second, time.Millisecond }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			var ce *balancer.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.field, ce.Field)
			require.Contains(t, err.Error(), "Config."+tc.field)
			_, err = balancer.New(c, &fakeDialer{cl: cl})
			require.ErrorAs(t, err, &ce)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := balancer.Config{}.WithDefaults()
	require.Equal(t, balancer.LeastConn, c.Policy)
	require.Equal(t, balancer.Affinity, c.KeyedPolicy)
	require.Equal(t, 1.25, c.LoadFactor)
	require.Equal(t, 3, c.Retries)
	require.Equal(t, 2, c.Rise)
	require.Equal(t, 3, c.Fall)
	require.Equal(t, c.DialTimeout, c.CheckTimeout)
	for _, s := range []string{"leastconn", "affinity", "roundrobin"} {
		p, err := balancer.ParsePolicy(s)
		require.NoError(t, err)
		require.Equal(t, s, p.String())
	}
	p, err := balancer.ParsePolicy("SOURCE")
	require.NoError(t, err)
	require.Equal(t, balancer.Affinity, p)
	_, err = balancer.ParsePolicy("random")
	require.Error(t, err)
}

// Spread: 300 concurrent sessions by leastconn over 3 coordinators.
func TestLeastConnSpread(t *testing.T) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 200
	p := newPool(t, cfg, balancer.TestOptions{})
	leases := acquireN(t, p, 300, nil)
	by := countBy(leases)
	minN, maxN := math.MaxInt, 0
	for _, a := range addrs {
		minN, maxN = min(minN, by[a]), max(maxN, by[a])
	}
	t.Logf("spread %v", by)
	require.Positive(t, minN)
	require.LessOrEqual(t, float64(maxN)/float64(minN), 1.05)
	st := p.Stats()
	require.Equal(t, 300, st.InUse)
	releaseAll(leases)
	st = p.Stats()
	require.Equal(t, 0, st.InUse)
	require.Equal(t, 3*balancer.DefaultMaxIdlePerCoordinator, st.Idle)
	require.EqualValues(t, st.Idle, cl.openSessions())
}

// Above p2cThreshold coordinators, leastconn samples two: the spread stays
// tight.
func TestLeastConnPowerOfTwo(t *testing.T) {
	cl, addrs := newCluster(64)
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
	leases := acquireSerial(t, p, 64*20)
	by := countBy(leases)
	minN, maxN := math.MaxInt, 0
	for _, a := range addrs {
		minN, maxN = min(minN, by[a]), max(maxN, by[a])
	}
	t.Logf("p2c over 64: min %d max %d", minN, maxN)
	require.LessOrEqual(t, maxN-minN, 8)
	releaseAll(leases)
}

// Leastconn counts busy sessions, not idle ones: a coordinator holding idle
// sessions and an empty one that joined share the work, and the idle
// sessions are reused before anything is dialed.
func TestLeastConnReusesIdleAmongEquals(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs[:1])
	p := newPool(t, cfg, balancer.TestOptions{})
	releaseAll(acquireSerial(t, p, 4)) // 4 idle on coord0
	require.NoError(t, p.SetCoordinators(addrs))
	leases := acquireSerial(t, p, 4)
	by := countBy(leases)
	require.Equal(t, 2, by[addrs[0]], "busy sessions spread: %v", by)
	require.Equal(t, 2, by[addrs[1]], "busy sessions spread: %v", by)
	require.EqualValues(t, 4, cl.get(addrs[0]).dials.Load(), "coord0's idle sessions were reused")
	require.EqualValues(t, 2, cl.get(addrs[1]).dials.Load())
	releaseAll(leases)
}

// Sessions spread 31/30/30 and all idle, as after a burst: the next busy
// sessions spread evenly over the three, on the idle sessions already
// there. Ranking by open sessions sent every one of them to the two
// coordinators holding one session fewer.
func TestLeastConnSpreadsBusyOverUnevenIdle(t *testing.T) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.MaxIdlePerCoordinator = 64
	p := newPool(t, cfg, balancer.TestOptions{})
	releaseAll(acquireSerial(t, p, 91))
	open := map[string]int{}
	for _, a := range addrs {
		open[a] = int(cl.get(a).open.Load())
	}
	require.ElementsMatch(t, []int{31, 30, 30}, []int{open[addrs[0]], open[addrs[1]], open[addrs[2]]})

	leases := acquireSerial(t, p, 30)
	by := countBy(leases)
	for _, a := range addrs {
		require.Equal(t, 10, by[a], "busy sessions per coordinator: %v (open %v)", by, open)
	}
	require.EqualValues(t, 91, cl.openSessions(), "no dial while idle sessions were there")
	releaseAll(leases)
}

// Session churn (no idle sessions kept): dials in progress count toward
// leastconn, so acquires that arrive while earlier ones are still dialing
// spread over the coordinators instead of piling onto the one that looked
// empty.
func TestLeastConnCountsDialsInProgress(t *testing.T) {
	cl, addrs := newCluster(3)
	const n = 30
	gate := make(chan struct{})
	dialing := make(chan string, n)
	for _, a := range addrs {
		fc := cl.get(a)
		fc.gate, fc.dialing = gate, dialing
	}
	cfg := testConfig(cl, addrs)
	cfg.MaxIdlePerCoordinator = -1
	p := newPool(t, cfg, balancer.TestOptions{})
	leases := make(chan *lease, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			l, err := p.Acquire(context.Background(), "")
			if err != nil {
				errs <- err
				return
			}
			leases <- l
		}()
	}
	by := map[string]int{}
	for range n {
		by[<-dialing]++ // every acquire is now dialing, none has finished
	}
	close(gate)
	for range n {
		select {
		case l := <-leases:
			l.Release()
			l.Settle()
		case err := <-errs:
			require.NoError(t, err)
		}
	}
	minN, maxN := math.MaxInt, 0
	for _, a := range addrs {
		minN, maxN = min(minN, by[a]), max(maxN, by[a])
	}
	// A pick and its count are one step (Pool.pickMu): concurrent
	// acquires spread exactly, as HAProxy's leastconn does.
	require.Equal(t, 0, maxN-minN, "dials in flight per coordinator %v", by)
	require.EqualValues(t, 0, cl.openSessions(), "the churn pool keeps nothing")
}

// The pooled SELECT 1 pattern: a window of busy sessions moving over uneven
// idle ones (each step acquires one and releases the oldest). Statements
// per coordinator stay even (ranking by open sessions: 1035 / 1004 / 961).
func TestLeastConnRotatingWindowEven(t *testing.T) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.MaxIdlePerCoordinator = 64
	p := newPool(t, cfg, balancer.TestOptions{})
	releaseAll(acquireSerial(t, p, 31)) // 11/10/10 idle
	const window, steps = 20, 3000
	var held []*lease
	by := map[string]int{}
	for range steps {
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		by[l.Coordinator()]++
		held = append(held, l)
		if len(held) > window {
			held[0].Release()
			held = held[1:]
		}
	}
	releaseAll(held)
	minN, maxN := math.MaxInt, 0
	for _, a := range addrs {
		minN, maxN = min(minN, by[a]), max(maxN, by[a])
	}
	require.LessOrEqual(t, maxN-minN, 2, "statements per coordinator %v", by)
}

func TestRoundRobin(t *testing.T) {
	cl, addrs := newCluster(4)
	cfg := testConfig(cl, addrs)
	cfg.Policy = balancer.RoundRobin
	p := newPool(t, cfg, balancer.TestOptions{})
	by := map[string]int{}
	for range 400 {
		by[p.Pick(balancer.RoundRobin, "")]++
	}
	for _, a := range addrs {
		require.Equal(t, 100, by[a])
	}
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	l.Release()
}

func TestAffinitySticky(t *testing.T) {
	cl, addrs := newCluster(5)
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
	ctx := context.Background()
	first := map[string]string{}
	keys := []string{"alice", "bob", "carol", "dave", "tenant-42"}
	for i := range 10000 {
		k := keys[i%len(keys)]
		l, err := p.Acquire(ctx, k)
		require.NoError(t, err)
		if f, ok := first[k]; ok {
			require.Equal(t, f, l.Coordinator(), "key %s moved", k)
		} else {
			first[k] = l.Coordinator()
		}
		l.Release()
	}
	// Affinity with an empty key uses DefaultKey.
	cfg := testConfig(cl, addrs)
	cfg.Policy = balancer.Affinity
	cfg.DefaultKey = "alice"
	p2 := newPool(t, cfg, balancer.TestOptions{})
	l, err := p2.Acquire(ctx, "")
	require.NoError(t, err)
	require.Equal(t, first["alice"], l.Coordinator())
	l.Release()
}

func keyMap(p *pool, n int) []string {
	m := make([]string, n)
	for i := range n {
		m[i] = p.Pick(balancer.Affinity, fmt.Sprintf("user-%d", i))
	}
	return m
}

// Removing one of N coordinators moves only its keys (≤ 1/N + 2 %), once:
// they stay where they moved when it comes back (a move can hide a key's
// DDL, so keys move as little as possible).
func TestAffinityRemovalMovesFewKeys(t *testing.T) {
	const keys = 100000
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cl, addrs := newCluster(n)
			p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
			before := keyMap(p, keys)
			removed := addrs[n/2]
			rest := append(append([]string(nil), addrs[:n/2]...), addrs[n/2+1:]...)
			require.NoError(t, p.SetCoordinators(rest))
			after := keyMap(p, keys)
			moved := 0
			for i := range keys {
				if before[i] != after[i] {
					moved++
					require.Equal(t, removed, before[i], "a key of a remaining coordinator moved")
				}
				require.NotEqual(t, removed, after[i])
			}
			frac := float64(moved) / keys
			t.Logf("N=%d moved %.4f", n, frac)
			require.LessOrEqual(t, frac, 1/float64(n)+0.02)
			require.Positive(t, moved)
			require.NoError(t, p.SetCoordinators(addrs))
			require.Equal(t, after, keyMap(p, keys), "no key moves again when the coordinator comes back")
			st := p.Stats()
			require.EqualValues(t, moved, st.KeysMoved)
			require.Equal(t, keys, st.Keys)
		})
	}
}

// Bounded load: one key carries half of the traffic. The hot key stays on
// its coordinator up to MaxPerCoordinator and only then overflows, for
// those acquires only; the cold keys are placed away from the hot
// coordinator, none taking more than LoadFactor × the mean busy sessions.
func TestAffinityBoundedLoad(t *testing.T) {
	cl, addrs := newCluster(4)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 150
	p := newPool(t, cfg, balancer.TestOptions{})
	const n = 400
	var leases []*lease
	for i := range n {
		k := "hot"
		if i%2 == 1 {
			k = fmt.Sprintf("cold-%d", i)
		}
		l, err := p.Acquire(context.Background(), k)
		require.NoError(t, err)
		leases = append(leases, l)
	}
	hot, ok := p.Placement("hot")
	require.True(t, ok)
	by := countBy(leases)
	t.Logf("bounded load %v (hot key's coordinator %s)", by, hot)
	require.Equal(t, 150, by[hot], "the hot key fills its own coordinator, to the cap")
	st := p.Stats()
	hs, _ := st.Coordinator(hot)
	// The first cold keys may land beside the hot one while it is under
	// MinAffinityLoad (8); after that none does.
	coldOnHot := hs.Keys - 1
	require.LessOrEqual(t, coldOnHot, 8)
	require.EqualValues(t, n/2-(150-coldOnHot), st.KeysOverflowed, "the rest of the hot key's acquires overflowed")
	limit := int(math.Ceil(1.25 * n / 4))
	for _, a := range addrs {
		require.LessOrEqual(t, by[a], max(limit, 150))
	}
	releaseAll(leases)
	again, _ := p.Placement("hot")
	require.Equal(t, hot, again, "overflow does not move the key")
}

// Failover: 32 goroutines × 1000 acquire-query-release cycles, half by
// leastconn and half with affinity keys; one coordinator dies midway and
// comes back.
func TestFailover(t *testing.T) {
	const workers, cycles = 32, 1000
	cl, addrs := newCluster(3)
	ev := newEvents()
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{OnState: ev.hook})
	victim := cl.get(addrs[1])
	key := func(w int) string {
		if w%2 == 0 {
			return ""
		}
		return fmt.Sprintf("user-%d", w)
	}
	var victimKey string
	for w := range workers {
		if k := key(w); k != "" && p.Pick(balancer.Affinity, k) == victim.addr {
			victimKey = k
		}
	}
	require.NotEmpty(t, victimKey, "some keys live on the victim")
	var (
		done       atomic.Int64
		failedAcq  atomic.Int64
		onDeadLate atomic.Int64
		queryErrs  atomic.Int64
		killOnce   sync.Once
		wg         sync.WaitGroup
	)
	ctx := context.Background()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key(w)
			for range cycles {
				if done.Add(1) == workers*cycles/2 {
					killOnce.Do(victim.kill)
				}
				start := cl.seq.Add(1)
				l, err := p.Acquire(ctx, k)
				if err != nil {
					failedAcq.Add(1)
					continue
				}
				if ff := victim.firstFail.Load(); l.Coordinator() == victim.addr && ff != 0 && start > ff {
					onDeadLate.Add(1)
				}
				if l.Session().Ping(ctx) != nil { // the "query"
					queryErrs.Add(1)
					l.Discard()
					continue
				}
				l.Release()
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failedAcq.Load(), "failed acquisitions")
	require.NotZero(t, victim.firstFail.Load(), "the victim was tried after it died")
	require.Zero(t, onDeadLate.Load(), "sessions handed out on the dead coordinator after its first failure")
	st := p.Stats()
	vs, _ := st.Coordinator(victim.addr)
	require.Equal(t, balancer.StateDown, vs.State)
	require.ErrorIs(t, vs.LastError, errRefused)
	require.Positive(t, st.Redispatches)
	t.Logf("query errors on in-flight sessions: %d, redispatches: %d", queryErrs.Load(), st.Redispatches)

	// Its keys move at their next acquire (the worker of victimKey may
	// have finished before the kill).
	l, err := p.Acquire(ctx, victimKey)
	require.NoError(t, err)
	l.Release()
	moved, ok := p.Placement(victimKey)
	require.True(t, ok)
	require.NotEqual(t, victim.addr, moved, "its keys moved")
	victim.revive()
	ev.wait(t, victim.addr, balancer.StateUp)
	l, err = p.Acquire(ctx, victimKey)
	require.NoError(t, err)
	require.Equal(t, moved, l.Coordinator(), "a moved key stays where it moved")
	l.Release()
	leases := acquireN(t, p, 30, nil)
	require.Positive(t, countBy(leases)[victim.addr], "leastconn traffic returns")
	releaseAll(leases)
	require.Zero(t, cl.doubleCloses.Load())
}

// A dial failure marks the coordinator down at once; it is re-probed with
// exponential backoff and comes back after Rise successful probes.
func TestPassiveDownBackoff(t *testing.T) {
	cl, addrs := newCluster(2)
	clk := newClock()
	cfg := testConfig(cl, addrs)
	cfg.BackoffMin = 100 * time.Millisecond
	cfg.BackoffMax = 400 * time.Millisecond
	cfg.Rise = 2
	p := newPool(t, cfg, balancer.TestOptions{
		Now: clk.Now, NoLoop: true,
		RandN: func(n int) int { return n / 2 }, // jitter midpoint: exact delays
	})
	victim := cl.get(addrs[0])
	victim.kill()
	// Held, so that the second acquire finds addrs[1] busier and tries the
	// victim.
	leases := acquireSerial(t, p, 4)
	for _, l := range leases {
		require.Equal(t, addrs[1], l.Coordinator())
	}
	releaseAll(leases)
	require.EqualValues(t, 1, victim.dials.Load(), "down at the first failure")
	probesAt := func(d time.Duration) int64 {
		clk.Advance(d)
		p.Maintain()
		return victim.dials.Load() - 1
	}
	require.EqualValues(t, 0, probesAt(99*time.Millisecond))
	require.EqualValues(t, 1, probesAt(time.Millisecond)) // 100 ms
	require.EqualValues(t, 1, probesAt(199*time.Millisecond))
	require.EqualValues(t, 2, probesAt(time.Millisecond)) // +200 ms
	require.EqualValues(t, 2, probesAt(399*time.Millisecond))
	require.EqualValues(t, 3, probesAt(time.Millisecond))     // +400 ms
	require.EqualValues(t, 4, probesAt(400*time.Millisecond)) // capped
	victim.revive()
	require.EqualValues(t, 5, probesAt(400*time.Millisecond))
	vs, _ := p.Stats().Coordinator(victim.addr)
	require.Equal(t, balancer.StateDown, vs.State, "one success is not Rise")
	require.EqualValues(t, 6, probesAt(100*time.Millisecond))
	vs, _ = p.Stats().Coordinator(victim.addr)
	require.Equal(t, balancer.StateUp, vs.State)
	require.ErrorIs(t, vs.LastError, errRefused, "the last error stays visible")
}

// Active checks: Fall consecutive failures take a coordinator down, Rise
// successes bring it back.
func TestActiveHealth(t *testing.T) {
	cl, addrs := newCluster(2)
	ev := newEvents()
	cfg := testConfig(cl, addrs)
	cfg.Dialer = &checkingDialer{fakeDialer{cl: cl}}
	cfg.Interval = time.Millisecond
	cfg.Rise, cfg.Fall = 2, 3
	p := newPool(t, cfg, balancer.TestOptions{OnState: ev.hook})
	victim := cl.get(addrs[0])
	victim.checkFail.Store(true)
	ev.wait(t, victim.addr, balancer.StateDown)
	require.GreaterOrEqual(t, victim.checks.Load(), int64(3))
	require.Zero(t, victim.dials.Load(), "checks use Check, not Dial")
	for range 10 {
		require.Equal(t, addrs[1], p.Pick(balancer.LeastConn, ""))
	}
	victim.checkFail.Store(false)
	ev.wait(t, victim.addr, balancer.StateUp)
}

// Without a Checker, the active check dials, pings and closes.
func TestActiveHealthDialFallback(t *testing.T) {
	cl, addrs := newCluster(2)
	ev := newEvents()
	cfg := testConfig(cl, addrs)
	cfg.Interval = time.Millisecond
	cfg.Fall = 2
	newPool(t, cfg, balancer.TestOptions{OnState: ev.hook})
	victim := cl.get(addrs[0])
	victim.kill()
	ev.wait(t, victim.addr, balancer.StateDown)
	victim.revive()
	ev.wait(t, victim.addr, balancer.StateUp)
	require.Positive(t, victim.dials.Load())
}

// Idle sessions cut by a proxy are replaced without the caller seeing it.
func TestIdleDeadReplaced(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     sessionKind
		breakAll func(fc *fakeCoord)
		reattach bool
	}{
		{"socket cut", plainSession, (*fakeCoord).cutAll, false},
		{"session expired", plainSession, (*fakeCoord).expireAll, false},
		{"socket cut reattached", reattachKind, (*fakeCoord).cutAll, true},
		{"expired not reattachable", reattachKind, (*fakeCoord).expireAll, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, addrs := newCluster(3)
			clk := newClock()
			cfg := testConfig(cl, addrs)
			cfg.Dialer = &fakeDialer{cl: cl, kind: tc.kind}
			cfg.ValidateAfter = 200 * time.Millisecond
			cfg.MaxIdleTime = time.Hour
			p := newPool(t, cfg, balancer.TestOptions{Now: clk.Now})
			releaseAll(acquireSerial(t, p, 24))
			require.Equal(t, 24, p.Stats().Idle)
			var dialsBefore int64
			for _, a := range addrs {
				tc.breakAll(cl.get(a))
				dialsBefore += cl.get(a).dials.Load()
			}
			clk.Advance(300 * time.Millisecond) // quiet for longer than ValidateAfter
			ctx := context.Background()
			for range 1000 {
				l, err := p.Acquire(ctx, "")
				require.NoError(t, err)
				require.NoError(t, l.Session().Ping(ctx), "a handed-out session works")
				l.Release()
			}
			var dials, replaced, reattached int64
			for _, cs := range p.Stats().Coordinators {
				replaced += int64(cs.Replaced)
				reattached += int64(cs.Reattached)
				dials += int64(cs.Dialed)
			}
			if tc.reattach {
				require.EqualValues(t, 0, replaced)
				require.Positive(t, reattached)
				require.Equal(t, dialsBefore, dials, "reattached sessions need no new session")
			} else {
				require.Positive(t, replaced)
				require.Greater(t, dials, dialsBefore)
			}
			require.Zero(t, cl.doubleCloses.Load())
		})
	}
}

// A session idle for less than ValidateAfter is handed out without a ping;
// one idle for longer is pinged.
func TestValidateAfter(t *testing.T) {
	cl, addrs := newCluster(1)
	clk := newClock()
	cfg := testConfig(cl, addrs)
	cfg.ValidateAfter = time.Second
	p := newPool(t, cfg, balancer.TestOptions{Now: clk.Now})
	ctx := context.Background()
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	s := l.Session().(*fakeSession)
	l.Release()
	l, err = p.Acquire(ctx, "")
	require.NoError(t, err)
	require.Same(t, s, l.Session())
	require.Zero(t, s.pings.Load())
	l.Release()
	clk.Advance(2 * time.Second)
	l, err = p.Acquire(ctx, "")
	require.NoError(t, err)
	require.Same(t, s, l.Session())
	require.EqualValues(t, 1, s.pings.Load())
	l.Release()
}

func TestIdleLimits(t *testing.T) {
	cl, addrs := newCluster(1)
	clk := newClock()
	cfg := testConfig(cl, addrs)
	cfg.MaxIdlePerCoordinator = 3
	cfg.MaxIdleTime = time.Minute
	cfg.MaxLifetime = time.Hour
	cfg.LifetimeJitter = 0.1
	cfg.ValidateAfter = -1
	p := newPool(t, cfg, balancer.TestOptions{Now: clk.Now, NoLoop: true})
	fc := cl.get(addrs[0])

	leases := acquireN(t, p, 10, nil)
	for _, l := range leases {
		exp := l.Expires().Sub(clk.Now())
		require.GreaterOrEqual(t, exp, 54*time.Minute)
		require.LessOrEqual(t, exp, time.Hour)
	}
	releaseAll(leases)
	require.Equal(t, 3, p.Stats().Idle, "MaxIdlePerCoordinator")
	require.EqualValues(t, 3, fc.open.Load())

	clk.Advance(59 * time.Second)
	p.Maintain()
	require.Equal(t, 3, p.Stats().Idle)
	clk.Advance(2 * time.Second)
	p.Maintain()
	require.Equal(t, 0, p.Stats().Idle, "MaxIdleTime")
	require.EqualValues(t, 0, fc.open.Load())

	// MaxLifetime: a released session past its lifetime is closed.
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	clk.Advance(time.Hour)
	l.Release()
	l.Settle()
	require.EqualValues(t, 0, fc.open.Load())
	require.Zero(t, cl.doubleCloses.Load())

	// Negative MaxIdlePerCoordinator keeps nothing.
	cfg.MaxIdlePerCoordinator = -1
	p2 := newPool(t, cfg, balancer.TestOptions{})
	l, err = p2.Acquire(context.Background(), "")
	require.NoError(t, err)
	l.Release()
	require.Equal(t, 0, p2.Stats().Idle)
}

// A hung coordinator (never answers the dial) costs one DialTimeout to the
// acquires that tried it; every acquire completes on the others.
func TestHungCoordinator(t *testing.T) {
	cl, addrs := newCluster(3)
	hung := cl.get(addrs[0])
	hung.hang.Store(true)
	cfg := testConfig(cl, addrs)
	cfg.DialTimeout = 200 * time.Millisecond
	cfg.BackoffMin = time.Hour
	cfg.BackoffMax = time.Hour
	// Ties go to the hung one: the pool must find it, not be spared it by
	// idle sessions elsewhere.
	p := newPool(t, cfg, balancer.TestOptions{RandN: firstOnTies(len(addrs))})
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*50)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				// Generous bound: a few dial timeouts, far below a minute-long hang.
				ctx, cancel := context.WithTimeout(context.Background(), 10*cfg.DialTimeout)
				l, err := p.Acquire(ctx, "")
				cancel()
				if err != nil {
					errs <- err
					continue
				}
				if l.Coordinator() == hung.addr {
					errs <- errors.New("handed out on the hung coordinator")
				}
				l.Release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, hung.dials.Load(), int64(workers), "at most the acquires in flight when it hung tried it")
	hs, _ := p.Stats().Coordinator(hung.addr)
	require.Equal(t, balancer.StateDown, hs.State)
	var de *balancer.DialError
	require.ErrorAs(t, hs.LastError, &de)
	require.ErrorIs(t, hs.LastError, context.DeadlineExceeded)
}

// Callers whose deadlines are shorter than DialTimeout never see a dial
// fail on their own, yet a hung coordinator is found: the pool checks it at
// once, with CheckTimeout, and takes it down.
func TestShortDeadlinesSuspectHungCoordinator(t *testing.T) {
	cl, addrs := newCluster(2)
	hung := cl.get(addrs[0])
	hung.hang.Store(true)
	ev := newEvents()
	cfg := testConfig(cl, addrs)
	cfg.DialTimeout = time.Hour
	cfg.CheckTimeout = 50 * time.Millisecond
	cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
	p := newPool(t, cfg, balancer.TestOptions{OnState: ev.hook, RandN: firstOnTies(len(addrs))})
	var shortFailures int
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		l, err := p.Acquire(ctx, "")
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			shortFailures++
			continue
		}
		require.Equal(t, addrs[1], l.Coordinator())
		l.Release()
	}
	require.Positive(t, shortFailures, "some callers hit the hung coordinator")
	ev.wait(t, hung.addr, balancer.StateDown)
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		l, err := p.Acquire(ctx, "")
		cancel()
		require.NoError(t, err)
		require.Equal(t, addrs[1], l.Coordinator())
		l.Release()
	}
}

// The caller's context ends a dial without marking the coordinator down.
func TestCallerCancelDoesNotMarkDown(t *testing.T) {
	cl, addrs := newCluster(1)
	cl.get(addrs[0]).hang.Store(true)
	cfg := testConfig(cl, addrs)
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for cl.get(addrs[0]).dials.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := p.Acquire(ctx, "")
	require.ErrorIs(t, err, context.Canceled)
	cs, _ := p.Stats().Coordinator(addrs[0])
	require.Equal(t, balancer.StateUp, cs.State)
}

func TestAllDownFails(t *testing.T) {
	cl, addrs := newCluster(2)
	for _, a := range addrs {
		cl.get(a).kill()
	}
	cfg := testConfig(cl, addrs)
	cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
	p := newPool(t, cfg, balancer.TestOptions{})
	_, err := p.Acquire(context.Background(), "")
	var de *balancer.DialError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, errRefused)
	require.Contains(t, err.Error(), "4 attempts")
	for _, a := range addrs {
		require.EqualValues(t, 2, cl.get(a).dials.Load(), "all down: each is tried in turn")
	}
	// Every coordinator down: acquires still try them, and a success
	// brings one back.
	cl.get(addrs[1]).revive()
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, addrs[1], l.Coordinator())
	l.Release()
	cs, _ := p.Stats().Coordinator(addrs[1])
	require.Equal(t, balancer.StateUp, cs.State)
}

func TestDraining(t *testing.T) {
	cl, addrs := newCluster(3)
	ev := newEvents()
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{OnState: ev.hook, NoLoop: true})
	leases := acquireSerial(t, p, 30)
	gone := cl.get(addrs[2])
	var goneLeases, others []*lease
	for _, l := range leases {
		if l.Coordinator() == gone.addr {
			goneLeases = append(goneLeases, l)
		} else {
			others = append(others, l)
		}
	}
	require.Len(t, goneLeases, 10)
	releaseAll(goneLeases[:5]) // 5 idle, 5 in use on the drained one
	require.EqualValues(t, 10, gone.open.Load())

	require.NoError(t, p.SetCoordinators(addrs[:2]))
	ev.wait(t, gone.addr, balancer.StateRemoved)
	require.EqualValues(t, 5, gone.open.Load(), "idle sessions close at once")
	dials := gone.dials.Load()
	more := acquireN(t, p, 20, nil)
	require.Zero(t, countBy(more)[gone.addr], "no new session on a draining coordinator")
	require.Equal(t, dials, gone.dials.Load())
	cs, ok := p.Stats().Coordinator(gone.addr)
	require.True(t, ok)
	require.Equal(t, balancer.StateRemoved, cs.State)
	require.Equal(t, 5, cs.InUse)

	for _, l := range goneLeases[5:] {
		require.NoError(t, l.Session().Ping(context.Background()), "in-use sessions finish")
	}
	releaseAll(goneLeases[5:])
	require.EqualValues(t, 0, gone.open.Load(), "released sessions of a draining coordinator close")
	p.Maintain()
	_, ok = p.Stats().Coordinator(gone.addr)
	require.False(t, ok, "a drained coordinator leaves")
	releaseAll(others)
	releaseAll(more)

	// Coming back while draining: up again at once.
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	require.NoError(t, p.SetCoordinators(addrs[1:2]))
	require.NoError(t, p.SetCoordinators(addrs))
	st := p.Stats()
	for _, cs := range st.Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, cs.Addr)
	}
	l.Release()

	require.NoError(t, p.SetCoordinators(nil))
	_, err = p.Acquire(context.Background(), "")
	require.ErrorIs(t, err, balancer.ErrNoCoordinator)
	require.Error(t, p.SetCoordinators([]string{"bad"}))
}

func TestWaitersHonourCtx(t *testing.T) {
	t.Run("per coordinator", func(t *testing.T) {
		cl, addrs := newCluster(1)
		cfg := testConfig(cl, addrs)
		cfg.MaxPerCoordinator = 2
		p := newPool(t, cfg, balancer.TestOptions{})
		leases := acquireN(t, p, 2, nil)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := p.Acquire(ctx, "")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Zero(t, p.Stats().Waiting)

		got := make(chan *lease)
		go func() {
			l, err := p.Acquire(context.Background(), "")
			if err != nil {
				close(got)
				return
			}
			got <- l
		}()
		waitFor(t, func() bool { return p.Stats().Waiting == 1 })
		s := leases[0].Session()
		leases[0].Release()
		l := <-got
		require.NotNil(t, l)
		require.Same(t, s, l.Session(), "the waiter gets the released session")
		l.Release()
		leases[1].Release()
		require.Positive(t, p.Stats().Waits)
	})
	t.Run("pool", func(t *testing.T) {
		cl, addrs := newCluster(2)
		cfg := testConfig(cl, addrs)
		cfg.MaxSessions = 3
		p := newPool(t, cfg, balancer.TestOptions{})
		leases := acquireN(t, p, 3, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := p.Acquire(ctx, "")
			done <- err
		}()
		waitFor(t, func() bool { return p.Stats().Waiting == 1 })
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		releaseAll(leases)
	})
	t.Run("close wakes waiters", func(t *testing.T) {
		cl, addrs := newCluster(1)
		cfg := testConfig(cl, addrs)
		cfg.MaxSessions = 1
		p := newPool(t, cfg, balancer.TestOptions{})
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			_, err := p.Acquire(context.Background(), "")
			done <- err
		}()
		waitFor(t, func() bool { return p.Stats().Waiting == 1 })
		require.NoError(t, p.Close())
		require.ErrorIs(t, <-done, balancer.ErrPoolClosed)
		l.Release()
		l.Settle()
		require.EqualValues(t, 0, cl.openSessions(), "released after Close: closed")
	})
}

// MaxSessions reached with idle sessions elsewhere: one idle session is
// closed to make room rather than waiting.
func TestMaxSessionsEvictsIdle(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs[:1])
	cfg.MaxSessions = 2
	p := newPool(t, cfg, balancer.TestOptions{})
	releaseAll(acquireN(t, p, 2, nil))
	require.NoError(t, p.SetCoordinators(addrs))
	// The first reuses an idle session of coord0; the second goes to the
	// less busy coord1, where the pool is full.
	l0, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, addrs[0], l0.Coordinator())
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, addrs[1], l.Coordinator())
	require.EqualValues(t, 1, cl.get(addrs[0]).open.Load())
	l.Release()
	l0.Release()
}

func TestSessionReset(t *testing.T) {
	cl, addrs := newCluster(1)
	cfg := testConfig(cl, addrs)
	cfg.Dialer = &fakeDialer{cl: cl, kind: resetKind}
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	l, err := p.Acquire(ctx, "alice")
	require.NoError(t, err)
	s := l.Session().(*resetSession)
	s.Set("MEM_LIMIT", "1g")
	l.Release() // the reset runs after Release returned
	l.Settle()
	l, err = p.Acquire(ctx, "bob")
	require.NoError(t, err)
	require.Same(t, s, l.Session())
	require.Empty(t, s.Get("MEM_LIMIT"), "one user's SET never reaches the next")
	require.Equal(t, 1, s.resets)
	s.Set("SYNC_DDL", "1")
	s.failRst = true
	l.Release()
	l.Settle()
	require.True(t, s.closed.Load(), "a session that cannot be reset is closed")
	l, err = p.Acquire(ctx, "bob")
	require.NoError(t, err)
	require.NotSame(t, s, l.Session())
	l.Release()
}

func TestLeaseReleaseTwiceAndDiscard(t *testing.T) {
	cl, addrs := newCluster(1)
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	l.Release()
	l.Release()
	l.Discard()
	require.Equal(t, 1, p.Stats().Idle)
	l, err = p.Acquire(context.Background(), "")
	require.NoError(t, err)
	l.Discard()
	l.Settle()
	require.Equal(t, 0, p.Stats().Idle)
	require.EqualValues(t, 0, cl.openSessions())
	require.Zero(t, cl.doubleCloses.Load())
}

func TestCloseIdempotent(t *testing.T) {
	cl, addrs := newCluster(2)
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
	releaseAll(acquireN(t, p, 6, nil))
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	require.EqualValues(t, 0, cl.openSessions())
	_, err := p.Acquire(context.Background(), "")
	require.ErrorIs(t, err, balancer.ErrPoolClosed)
	require.ErrorIs(t, p.SetCoordinators(addrs), balancer.ErrPoolClosed)
}

// Slow start: a joining coordinator takes a small share first, then its full
// share once SlowStart has passed.
func TestSlowStart(t *testing.T) {
	cl, addrs := newCluster(4)
	clk := newClock()
	cfg := testConfig(cl, addrs[:3])
	cfg.SlowStart = 10 * time.Second
	cfg.MaxPerCoordinator = 1000
	p := newPool(t, cfg, balancer.TestOptions{Now: clk.Now, NoLoop: true})
	base := acquireSerial(t, p, 30)
	require.NoError(t, p.SetCoordinators(addrs))
	cs, _ := p.Stats().Coordinator(addrs[3])
	require.Less(t, cs.Weight, 0.1)
	early := acquireSerial(t, p, 40)
	n0 := countBy(early)[addrs[3]]
	require.Positive(t, n0, "it gets some traffic")
	require.Less(t, n0, 10, "but far less than the leastconn share")

	clk.Advance(5 * time.Second)
	p.Maintain()
	cs, _ = p.Stats().Coordinator(addrs[3])
	require.InDelta(t, 0.5, cs.Weight, 0.01)

	clk.Advance(5 * time.Second)
	p.Maintain()
	cs, _ = p.Stats().Coordinator(addrs[3])
	require.Equal(t, 1.0, cs.Weight)
	late := acquireSerial(t, p, 40)
	all := countBy(append(append(base, early...), late...))
	require.InDelta(t, all[addrs[0]], all[addrs[3]], 2, "balanced again: %v", all)
	releaseAll(base)
	releaseAll(early)
	releaseAll(late)
}

func TestLogger(t *testing.T) {
	cl, addrs := newCluster(2)
	h := &recordHandler{}
	cfg := testConfig(cl, addrs)
	cfg.Logger = newLogger(h)
	p := newPool(t, cfg, balancer.TestOptions{})
	cl.get(addrs[0]).kill()
	releaseAll(acquireN(t, p, 4, nil))
	msgs := h.messages()
	require.Contains(t, msgs, "balancer: coordinator down")
	require.Contains(t, msgs, "balancer: redispatch")
}

// waitFor polls a condition that has no signal (a goroutine reaching a
// blocking select), with a bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met")
}

// Idle sessions whose socket was cut stop counting as open and idle: an
// acquire that finds one prunes its coordinator, and the background pass
// prunes them all.
func TestPruneCutIdle(t *testing.T) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.ValidateAfter = -1
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
	releaseAll(acquireSerial(t, p, 12)) // 4 idle on each
	for _, a := range addrs {
		cl.get(a).cutAll()
	}
	l, err := p.Acquire(context.Background(), "")
	require.NoError(t, err)
	cs, _ := p.Stats().Coordinator(l.Coordinator())
	require.Equal(t, 0, cs.Idle, "the rest of its idle sessions were pruned")
	require.EqualValues(t, 4, cs.Replaced)
	l.Release()
	p.Maintain()
	st := p.Stats()
	require.Equal(t, 1, st.Idle)
	require.EqualValues(t, 1, cl.openSessions())
	var replaced uint64
	for _, cs := range st.Coordinators {
		replaced += cs.Replaced
	}
	require.EqualValues(t, 12, replaced)
}

// Coordinators tied on load take turns under leastconn, as in HAProxy's
// leastconn: 300 sessions opened one after another (no idle session kept,
// so every acquire dials and all three are always tied) spread exactly
// 100/100/100, where a random tie-break drifted by chance.
func TestLeastconnTiesTakeTurns(t *testing.T) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.MaxIdlePerCoordinator = -1
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	for range 300 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		l.Release()
		l.Settle() // the close, which frees the slot, runs after Release
	}
	for _, c := range p.Stats().Coordinators {
		require.EqualValues(t, 100, c.Dialed, c.Addr)
	}
}

// TestHooks: each hook runs at its point of a session's life and its
// verdict is honoured; a refusal by AfterDial is the hook's, not the
// coordinator's: no coordinator goes down and nothing is redispatched.
func TestHooks(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs)
	var (
		dialed, acquired, released, closed atomic.Int32
		refuseDial, refuseAcquire          atomic.Bool
		refuseRelease                      atomic.Bool
	)
	errHook := errors.New("hook: not this one")
	cfg.Hooks = balancer.Hooks[balancer.Session]{
		AfterDial: func(ctx context.Context, addr string, s balancer.Session) error {
			dialed.Add(1)
			require.NotNil(t, s)
			require.Contains(t, addrs, addr)
			if refuseDial.Load() {
				return errHook
			}
			return nil
		},
		BeforeAcquire: func(ctx context.Context, s balancer.Session) bool {
			acquired.Add(1)
			return !refuseAcquire.Swap(false)
		},
		AfterRelease: func(s balancer.Session) bool {
			released.Add(1)
			return !refuseRelease.Load()
		},
		BeforeClose: func(s balancer.Session) { closed.Add(1) },
	}
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
	ctx := context.Background()

	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.EqualValues(t, 1, dialed.Load())
	require.EqualValues(t, 1, acquired.Load())
	l.Release()
	l.Settle()
	require.EqualValues(t, 1, released.Load())
	require.Equal(t, 1, p.Stats().Idle)

	// BeforeAcquire refuses the idle session: it is closed, the acquire
	// goes on and dials.
	refuseAcquire.Store(true)
	l, err = p.Acquire(ctx, "")
	require.NoError(t, err)
	require.EqualValues(t, 3, acquired.Load())
	require.EqualValues(t, 1, closed.Load())
	require.EqualValues(t, 2, dialed.Load())

	// AfterRelease refuses: closed instead of kept.
	refuseRelease.Store(true)
	l.Release()
	l.Settle()
	require.EqualValues(t, 2, closed.Load())
	require.Equal(t, 0, p.Stats().Idle)
	require.EqualValues(t, 0, cl.openSessions())

	// AfterDial refuses: the acquire fails with the hook's error, at once.
	refuseDial.Store(true)
	_, err = p.Acquire(ctx, "")
	require.ErrorIs(t, err, errHook)
	require.EqualValues(t, 3, dialed.Load(), "no redispatch after a hook's refusal")
	require.EqualValues(t, 3, closed.Load(), "the refused session is closed")
	for _, cs := range p.Stats().Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, "a hook's refusal takes no coordinator down")
	}
	require.EqualValues(t, 0, cl.openSessions())
}

// recTracer records acquire traces.
type recTracer struct {
	mu     sync.Mutex
	starts []balancer.TraceAcquireStartData
	ends   []balancer.TraceAcquireEndData
}

type traceKey struct{}

func (r *recTracer) TraceAcquireStart(ctx context.Context, d balancer.TraceAcquireStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, d)
	return context.WithValue(ctx, traceKey{}, len(r.starts))
}

func (r *recTracer) TraceAcquireEnd(ctx context.Context, d balancer.TraceAcquireEndData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Value(traceKey{}) != len(r.starts) {
		panic("the end's context is not the one the start returned")
	}
	r.ends = append(r.ends, d)
}

func (r *recTracer) last() balancer.TraceAcquireEndData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ends[len(r.ends)-1]
}

// TestAcquireTracer: every acquire is traced once, with its key, its
// coordinator, whether it dialed, its redispatches, its wait and its
// error.
func TestAcquireTracer(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs)
	tr := &recTracer{}
	cfg.Tracer = tr
	cfg.MaxSessions = 1
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true, RandN: firstOnTies(2)})
	ctx := context.Background()

	l, err := p.Acquire(ctx, "alice")
	require.NoError(t, err)
	end := tr.last()
	require.Equal(t, "alice", tr.starts[0].Key)
	require.Equal(t, l.Coordinator(), end.Coordinator)
	require.True(t, end.Dialed)
	require.Zero(t, end.Redispatches)
	require.NoError(t, end.Err)

	// A waiter: traced with the time it waited.
	done := make(chan *lease)
	go func() {
		l2, err := p.Acquire(ctx, "alice")
		if err != nil {
			panic(err)
		}
		done <- l2
	}()
	waitFor(t, func() bool { return p.Stats().Waiting == 1 })
	l.Release()
	l2 := <-done
	end = tr.last()
	require.False(t, end.Dialed, "the released session was handed over")
	require.Positive(t, end.Wait)
	require.GreaterOrEqual(t, end.Duration, end.Wait)
	l2.Release()
	l2.Settle()

	// An error.
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Acquire(ctx2, "")
	require.Error(t, err)
	require.ErrorIs(t, tr.last().Err, context.Canceled)
	require.Empty(t, tr.last().Coordinator)
	require.Len(t, tr.ends, len(tr.starts))

	// A redispatch: leastconn's first pick is dead.
	cl2, addrs2 := newCluster(2)
	cfg2 := testConfig(cl2, addrs2)
	tr2 := &recTracer{}
	cfg2.Tracer = tr2
	p2 := newPool(t, cfg2, balancer.TestOptions{NoLoop: true, RandN: firstOnTies(2)})
	cl2.get(addrs2[0]).kill()
	l3, err := p2.Acquire(ctx, "")
	require.NoError(t, err)
	require.Equal(t, addrs2[1], l3.Coordinator())
	require.Equal(t, 1, tr2.last().Redispatches)
	require.Equal(t, addrs2[1], tr2.last().Coordinator)
	l3.Release()
}

// TestReleaseDoesNotWaitForTheNetwork: a release whose session needs a
// reset (a round trip to the coordinator, which may hang) returns at once;
// until the reset is done the session counts as in use and nobody else
// gets it.
func TestReleaseDoesNotWaitForTheNetwork(t *testing.T) {
	cl, addrs := newCluster(1)
	cfg := testConfig(cl, addrs)
	cfg.Dialer = &fakeDialer{cl: cl, kind: resetKind}
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
	ctx := context.Background()
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	s := l.Session().(*resetSession)
	s.Set("MEM_LIMIT", "1g")
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	l.Release() // would hang here if the reset ran on this goroutine
	require.Equal(t, 1, p.Stats().InUse, "a session being reset is not idle")

	l2, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.NotSame(t, s, l2.Session(), "the session being reset is not handed out")
	l2.Release()

	close(hold)
	l.Settle()
	require.Empty(t, s.Get("MEM_LIMIT"))
	require.Equal(t, 2, p.Stats().Idle)
	require.Equal(t, 0, p.Stats().InUse)
}
