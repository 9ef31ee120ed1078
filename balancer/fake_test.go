package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

var (
	errRefused = errors.New("fake: connection refused")
	errGone    = errors.New("fake: invalid session id")
	errBroken  = errors.New("fake: broken pipe")
)

// sessionKind selects which optional interfaces fake sessions implement.
type sessionKind int

const (
	plainSession sessionKind = iota
	reattachKind
	resetKind
)

// fakeCluster is a set of fake coordinators addressed by name.
type fakeCluster struct {
	seq          atomic.Int64 // orders events across goroutines
	doubleCloses atomic.Int64

	mu     sync.Mutex
	coords map[string]*fakeCoord
}

type fakeCoord struct {
	addr      string
	dead      atomic.Bool  // refuses dials, its sessions die
	hang      atomic.Bool  // dials never return before ctx ends
	checkFail atomic.Bool  // Check fails (checkingDialer only)
	gen       atomic.Int64 // incarnation; sessions of an older one are dead
	dials     atomic.Int64
	checks    atomic.Int64
	open      atomic.Int64 // sessions not yet closed
	firstFail atomic.Int64 // cluster seq of the first failed dial, 0 if none
	// gate, when set, holds every dial until it is closed (or ctx ends);
	// dialing, when set, hears the address of each dial that reaches it.
	gate    chan struct{}
	dialing chan string

	mu       sync.Mutex
	sessions []*fakeSession
}

func newCluster(n int) (*fakeCluster, []string) {
	cl := &fakeCluster{coords: map[string]*fakeCoord{}}
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = cl.add(fmt.Sprintf("coord%d.example:21050", i))
	}
	return cl, addrs
}

func (cl *fakeCluster) add(addr string) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.coords[addr] = &fakeCoord{addr: addr}
	return addr
}

func (cl *fakeCluster) get(addr string) *fakeCoord {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.coords[addr]
}

// openSessions counts sessions not closed, over every coordinator.
func (cl *fakeCluster) openSessions() int64 {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var n int64
	for _, c := range cl.coords {
		n += c.open.Load()
	}
	return n
}

// kill makes a coordinator refuse dials; its sessions die.
func (fc *fakeCoord) kill() { fc.dead.Store(true) }

// revive restarts a coordinator: old sessions stay dead.
func (fc *fakeCoord) revive() {
	fc.gen.Add(1)
	fc.dead.Store(false)
}

// cutAll cuts the sockets of every open session (a proxy idle timeout).
func (fc *fakeCoord) cutAll() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, s := range fc.sessions {
		s.cut.Store(true)
	}
}

// expireAll makes the coordinator forget every open session.
func (fc *fakeCoord) expireAll() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, s := range fc.sessions {
		s.expired.Store(true)
	}
}

type fakeDialer struct {
	cl   *fakeCluster
	kind sessionKind
}

func (d *fakeDialer) Dial(ctx context.Context, addr string) (balancer.Session, error) {
	fc := d.cl.get(addr)
	if fc == nil {
		return nil, errRefused
	}
	fc.dials.Add(1)
	if fc.gate != nil {
		if fc.dialing != nil {
			fc.dialing <- addr
		}
		select {
		case <-fc.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fc.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if fc.dead.Load() {
		fc.firstFail.CompareAndSwap(0, d.cl.seq.Add(1))
		return nil, errRefused
	}
	s := &fakeSession{fc: fc, cl: d.cl, gen: fc.gen.Load()}
	fc.open.Add(1)
	fc.mu.Lock()
	fc.sessions = append(fc.sessions, s)
	fc.mu.Unlock()
	switch d.kind {
	case reattachKind:
		return &reattachSession{s}, nil
	case resetKind:
		return &resetSession{fakeSession: s}, nil
	}
	return s, nil
}

// checkingDialer adds Check: the active health check consults checkFail.
type checkingDialer struct{ fakeDialer }

func (d *checkingDialer) Check(ctx context.Context, addr string) error {
	fc := d.cl.get(addr)
	if fc == nil {
		return errRefused
	}
	fc.checks.Add(1)
	if fc.checkFail.Load() || fc.dead.Load() {
		return errRefused
	}
	return nil
}

type fakeSession struct {
	fc      *fakeCoord
	cl      *fakeCluster
	gen     int64
	cut     atomic.Bool
	expired atomic.Bool
	closed  atomic.Bool
	pings   atomic.Int64
}

func (s *fakeSession) socketOK() bool {
	return !s.closed.Load() && !s.cut.Load() && !s.fc.dead.Load() && s.gen == s.fc.gen.Load()
}

func (s *fakeSession) Alive() bool { return s.socketOK() }

func (s *fakeSession) Ping(ctx context.Context) error {
	s.pings.Add(1)
	if !s.socketOK() {
		return errBroken
	}
	if s.expired.Load() {
		return errGone
	}
	return ctx.Err()
}

func (s *fakeSession) Close() error {
	if s.closed.Swap(true) {
		s.cl.doubleCloses.Add(1)
		return nil
	}
	s.fc.open.Add(-1)
	s.fc.mu.Lock()
	for i, x := range s.fc.sessions {
		if x == s {
			s.fc.sessions = append(s.fc.sessions[:i], s.fc.sessions[i+1:]...)
			break
		}
	}
	s.fc.mu.Unlock()
	return nil
}

// reattachSession can resume its server session on a new socket, as long as
// the coordinator lives and still knows the session.
type reattachSession struct{ *fakeSession }

func (s *reattachSession) CanReattach() bool { return true }

func (s *reattachSession) Reattach(ctx context.Context) error {
	if s.fc.dead.Load() || s.gen != s.fc.gen.Load() || s.expired.Load() {
		return errGone
	}
	s.cut.Store(false)
	return ctx.Err()
}

// resetSession tracks SET/USE by its user.
type resetSession struct {
	*fakeSession
	mu      sync.Mutex
	options map[string]string
	resets  int
	failRst bool
	// hold, when set, keeps Reset waiting until it is closed.
	hold chan struct{}
}

func (s *resetSession) Set(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.options == nil {
		s.options = map[string]string{}
	}
	s.options[k] = v
}

func (s *resetSession) Get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.options[k]
}

func (s *resetSession) NeedsReset() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.options) > 0
}

func (s *resetSession) Reset(context.Context) error {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets++
	if s.failRst {
		return errBroken
	}
	s.options = nil
	return nil
}

// firstOnTies is a TestOptions.RandN that makes leastconn's scan start at
// the first coordinator (the pick asks for a number below the candidate
// count ncoord), so that ties go to it; larger draws (jitter) stay random.
func firstOnTies(ncoord int) func(n int) int {
	return func(n int) int {
		if n <= ncoord {
			return 0
		}
		return rand.IntN(n)
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newClock() *fakeClock { return &fakeClock{base: time.Now()} }

func (c *fakeClock) Now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// stateEvents collects state changes for tests to wait on.
type stateEvents struct {
	ch chan stateEvent
}

type stateEvent struct {
	addr  string
	state balancer.State
}

func newEvents() *stateEvents { return &stateEvents{ch: make(chan stateEvent, 1024)} }

func (e *stateEvents) hook(addr string, s balancer.State) {
	select {
	case e.ch <- stateEvent{addr, s}:
	default:
	}
}

// wait blocks until addr reaches state, failing the test after a bound.
func (e *stateEvents) wait(t *testing.T, addr string, s balancer.State) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-e.ch:
			if ev.addr == addr && ev.state == s {
				return
			}
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s to become %v", addr, s)
		}
	}
}

// pool is the pool the fake tests use: over any Session.
type (
	pool  = balancer.Pool[balancer.Session]
	lease = balancer.Lease[balancer.Session]
)

// testCfg is a pool's Config with the Dialer and Hooks that New takes
// beside it.
type testCfg struct {
	balancer.Config
	Dialer balancer.Dialer[balancer.Session]
	Hooks  balancer.Hooks[balancer.Session]
}

// testConfig is a config over the fake cluster with passive health only.
func testConfig(cl *fakeCluster, addrs []string) testCfg {
	return testCfg{
		Config: balancer.Config{
			Coordinators: addrs,
			Interval:     -1,
			SlowStart:    -1,
			Rise:         1,
			BackoffMin:   time.Millisecond,
			BackoffMax:   10 * time.Millisecond,
		},
		Dialer: &fakeDialer{cl: cl},
	}
}

// newPool starts a pool closed at cleanup, then checks that no goroutine of
// the pool is left and no session was closed twice.
func newPool(t testing.TB, cfg testCfg, o balancer.TestOptions) *pool {
	t.Helper()
	checkLeaks(t)
	p, err := balancer.NewForTest(cfg.Config, cfg.Dialer, cfg.Hooks, o)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.Zero(t, p.Pending(), "acquires left counted as pending")
		require.Zero(t, p.Stats().Waiting, "acquires left waiting")
		require.NoError(t, p.Close())
	})
	return p
}

// checkLeaks fails the test if, after cleanup, goroutines running pool code
// remain. Goroutine exit cannot be waited for, so it polls a bounded number
// of times.
func checkLeaks(t testing.TB) {
	t.Helper()
	if _, dup := leakChecked.LoadOrStore(t, true); dup {
		return
	}
	t.Cleanup(func() {
		leakChecked.Delete(t)
		var leaked []string
		for i := range 200 {
			leaked = poolGoroutines()
			if len(leaked) == 0 {
				return
			}
			runtime.Gosched()
			time.Sleep(time.Duration(i+1) * 100 * time.Microsecond)
		}
		t.Errorf("leaked goroutines:\n%s", strings.Join(leaked, "\n\n"))
	})
}

var leakChecked sync.Map // testing.TB → registered

func poolGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		// Frames of a generic type read "balancer.(*Pool[...]).loop".
		ours := strings.Contains(g, "impalalb/balancer.(*Pool[") || strings.Contains(g, "impalalb/balancer.(*tasks)")
		if ours && !strings.Contains(g, "balancer_test.checkLeaks") {
			out = append(out, g)
		}
	}
	return out
}

// acquireN acquires n sessions concurrently and holds them.
func acquireN(t *testing.T, p *pool, n int, key func(i int) string) []*lease {
	t.Helper()
	leases := make([]*lease, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := ""
			if key != nil {
				k = key(i)
			}
			leases[i], errs[i] = p.Acquire(context.Background(), k)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return leases
}

// acquireSerial acquires n sessions one after the other and holds them.
func acquireSerial(t *testing.T, p *pool, n int) []*lease {
	t.Helper()
	leases := make([]*lease, n)
	for i := range leases {
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		leases[i] = l
	}
	return leases
}

// releaseAll releases the leases and waits for the resets and closes that
// the releases started.
func releaseAll(leases []*lease) {
	for _, l := range leases {
		l.Release()
	}
	if len(leases) > 0 {
		leases[0].Settle()
	}
}

func countBy(leases []*lease) map[string]int {
	m := map[string]int{}
	for _, l := range leases {
		m[l.Coordinator()]++
	}
	return m
}
