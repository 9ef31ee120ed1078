package balancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Pool balances sessions of type S over a set of coordinators. All its
// methods are safe for concurrent use.
//
// Who calls what: [Pool.Acquire] runs on the caller's goroutine and does
// the pick, idle validation and dials there; [Lease.Release] and
// [Lease.Discard] return at once and leave resets and closes (which talk
// to the coordinator) to a goroutine of their own; one background
// goroutine per pool runs health checks, re-probes down coordinators,
// ramps slow start and closes expired idle sessions. The pick reads an
// immutable snapshot published atomically and per-coordinator atomic
// counters.
type Pool[S Session] struct {
	cfg        Config
	dialer     Dialer[S]
	hooks      Hooks[S]
	checker    Checker // nil: check with Dial, Ping, Close
	log        *slog.Logger
	defaultKey string
	perCap     int32
	maxTotal   int32 // 0: no cap
	maxIdle    int
	retries    int

	now   func() time.Time
	randN func(n int) int // uniform in [0, n)
	// ties rotates where leastconn's scan starts, so that coordinators
	// tied on load take turns, as in HAProxy's leastconn; nil when a test
	// replaced randN, which then decides.
	ties    *atomic.Uint64
	onState func(addr string, s State)

	snap  atomic.Pointer[snapshot[S]]
	rr    atomic.Uint64
	total atomic.Int32 // open sessions of the pool
	// retiring counts sessions retired for balance, not yet closed.
	retiring atomic.Int32
	queue    waitQueue[S] // acquires waiting for capacity, in arrival order
	notify   atomic.Pointer[notifier]
	closed   atomic.Bool

	// sticky is the table of affinity keys; nil when StickyTableSize is
	// negative. Used under pickMu.
	sticky *stickyTable[S]
	// epoch is the sticky table's clock: the number of epochs (tick) since
	// epochStart, advanced by the background loop.
	epoch      atomic.Int64
	epochStart time.Time
	tick       time.Duration

	waits          atomic.Uint64
	redispatches   atomic.Uint64
	moves          atomic.Uint64
	keysPlaced     atomic.Uint64
	keysMoved      atomic.Uint64
	keysReturned   atomic.Uint64
	keysOverflowed atomic.Uint64
	failSeq        atomic.Uint64
	pruneWanted    atomic.Bool  // an acquire found a cut idle session
	nextPrune      atomic.Int64 // UnixNano of the next periodic pruneDead pass

	// pickMu makes a pick and the count of the acquire on the coordinator
	// it picked (pending) one step, so that concurrent acquires each see
	// the others' picks: 30 acquires at once over 3 coordinators spread
	// 10/10/10, as HAProxy's leastconn does, not 9/10/11. Changes of a
	// coordinator's state and the snapshot that follows from them are made
	// under it too, so that a pick never sees one without the other.
	// Lock order: pickMu, mu, coord.mu.
	pickMu sync.Mutex
	mu     sync.Mutex  // guards coords and snapshot rebuilds
	coords []*coord[S] // every member, draining ones included

	// outlierMu makes each ejection's check of the others and the
	// ejection one step (outlier.go); taken before pickMu.
	outlierMu sync.Mutex

	// bg runs the resets and closes after Release and Discard; Close
	// waits for them.
	bg tasks

	// disc is the discovery state (discovery.go), nil without
	// Config.Discovery; load the cluster-load state (clusterload.go), nil
	// without Config.ClusterLoad. Their pollers are counted in pollers,
	// stop when closing is closed, and Close waits for them. Lock order:
	// disc.mu before pickMu; load.mu before mu.
	disc    *discovery
	load    *loadState
	pollers sync.WaitGroup

	closeOnce sync.Once
	closing   chan struct{} // closed by Close
	kick      chan struct{} // wakes the background loop; size 1
	loopDone  chan struct{}
	bgCtx     context.Context
	bgCancel  context.CancelFunc
}

type notifier struct{ ch chan struct{} }

// options are the internals that tests replace (see export_test.go).
type options struct {
	now     func() time.Time
	randN   func(n int) int
	onState func(addr string, s State)
	noLoop  bool
}

// New validates cfg, keeps a copy with defaults applied and starts the
// pool's background loop, with dialer opening its sessions. It dials
// nothing: sessions open on demand.
func New[S Session](cfg Config, dialer Dialer[S]) (*Pool[S], error) {
	return newPool(cfg, dialer, Hooks[S]{}, options{})
}

// NewWithHooks is [New] with lifecycle hooks.
func NewWithHooks[S Session](cfg Config, dialer Dialer[S], hooks Hooks[S]) (*Pool[S], error) {
	return newPool(cfg, dialer, hooks, options{})
}

// newPool is New with hooks and the internals tests replace.
func newPool[S Session](cfg Config, dialer Dialer[S], hooks Hooks[S], o options) (*Pool[S], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dialer == nil {
		return nil, configErr("Dialer", "New needs a Dialer")
	}
	cfg.applyDefaults()
	cfg.Coordinators = slices.Clone(cfg.Coordinators)
	p := &Pool[S]{
		cfg:      cfg,
		dialer:   dialer,
		hooks:    hooks,
		log:      cfg.Logger,
		perCap:   int32(cfg.MaxPerCoordinator),
		maxTotal: int32(cfg.MaxSessions),
		maxIdle:  max(cfg.MaxIdlePerCoordinator, 0),
		retries:  max(cfg.Retries, 0),
		now:      o.now,
		randN:    o.randN,
		onState:  o.onState,
		closing:  make(chan struct{}),
		kick:     make(chan struct{}, 1),
		loopDone: make(chan struct{}),
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.randN == nil {
		p.randN = rand.IntN
		p.ties = new(atomic.Uint64)
	}
	p.checker, _ = dialer.(Checker)
	p.defaultKey = defaultKey(cfg.DefaultKey)
	if cfg.StickyTableSize > 0 {
		p.sticky = newStickyTable[S](cfg.StickyTableSize, cfg.StickyExpire > 0)
		p.tick = stickyEpoch(cfg.StickyExpire)
		p.epochStart = p.now()
	}
	p.notify.Store(&notifier{ch: make(chan struct{})})
	now := p.now()
	for _, a := range cfg.Coordinators {
		c := newCoord[S](a)
		p.initCheck(c, now)
		p.coords = append(p.coords, c)
	}
	p.rebuild()
	p.startBackground(o.noLoop)
	return p, nil
}

// defaultKey is Config.DefaultKey, or when it is empty this host's name
// ("localhost" when the name cannot be had).
func defaultKey(key string) string {
	if key != "" {
		return key
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// startBackground starts the pool's background work: its loop, and the
// pollers of discovery and cluster load. With noLoop (tests) nothing runs
// in the background: the loop counts as ended, and discovery and cluster
// load are set up without pollers.
func (p *Pool[S]) startBackground(noLoop bool) {
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background()) //nolint:gosec // G118: Close calls p.bgCancel
	if noLoop {
		close(p.loopDone)
	} else {
		go p.loop()
	}
	p.startDiscovery(noLoop)
	p.startClusterLoad(noLoop)
}

// initCheck spreads the first active checks over one Interval.
func (p *Pool[S]) initCheck(c *coord[S], now time.Time) {
	if p.cfg.Interval > 0 {
		c.nextCheck = now.Add(time.Duration(p.randN(int(p.cfg.Interval)) + 1))
	}
}

// Lease is one session handed out by [Pool.Acquire]. The holder uses the
// session alone until it calls Release or Discard, exactly once; later calls
// do nothing.
type Lease[S Session] struct {
	p      *Pool[S]
	e      *entry[S] // its key and policy are the acquire's
	retire bool      // Retire said so: close at release
	done   atomic.Bool
}

// Session returns the leased session.
func (l *Lease[S]) Session() S { return l.e.s }

// Coordinator returns the address of the session's coordinator.
func (l *Lease[S]) Coordinator() string { return l.e.c.addr }

// Release returns the session to the pool. A session whose user changed it
// (see [Resetter]) is reset first; it is closed instead of kept when the
// reset fails, when its coordinator is down or draining, when it is past its
// lifetime, when [Hooks.AfterRelease] says so or when the coordinator
// already has MaxIdlePerCoordinator idle sessions. Release returns at once:
// the reset and the close run on a goroutine of their own, and the session
// counts as busy until they are done.
func (l *Lease[S]) Release() { l.p.put(l, false) }

// Discard closes the session instead of returning it: use it when the
// session or its connection is broken, or its state is unknown. Like
// Release, it does not wait for the close.
func (l *Lease[S]) Discard() { l.p.put(l, true) }

// Acquire hands out a session: an idle one of the chosen coordinator if one
// passes validation, or a new one. A non-empty key selects
// [Config.KeyedPolicy] (affinity by default), an empty one [Config.Policy]
// (leastconn by default).
//
// A dial failure marks the coordinator down and redispatches to the next
// pick, up to [Config.Retries] times. Acquire never sends a statement, so
// whatever error it returns, nothing of the caller's work reached a
// coordinator. When every coordinator is at MaxPerCoordinator, or the pool at
// MaxSessions, Acquire waits until a session frees or ctx ends.
func (p *Pool[S]) Acquire(ctx context.Context, key string) (*Lease[S], error) {
	a := acquire[S]{p: p, policy: p.cfg.Policy, key: key}
	if key != "" {
		a.policy = p.cfg.KeyedPolicy
	} else if a.policy == Affinity {
		a.key = p.defaultKey
	}
	t := p.cfg.Tracer
	if t == nil {
		return a.run(ctx)
	}
	start := p.now()
	tctx := t.TraceAcquireStart(ctx, TraceAcquireStartData{Key: key})
	l, err := a.run(ctx)
	end := TraceAcquireEndData{Duration: p.now().Sub(start), Wait: a.waited, Dialed: a.dialed, Redispatches: a.failures, Err: err}
	if l != nil {
		end.Coordinator = l.Coordinator()
	}
	t.TraceAcquireEnd(tctx, end)
	return l, err
}

// acquire is the state of one Acquire between its steps.
type acquire[S Session] struct {
	p        *Pool[S]
	key      string
	policy   Policy
	failures int   // failed dials, each followed by a redispatch
	lastErr  error // the latest of them
	waiting  *waiter[S]
	ch       chan struct{} // closed when something changes for waiters
	dialed   bool
	waitFrom time.Time
	waited   time.Duration
}

// run is Acquire's loop: pick a coordinator, reuse an idle session of it
// or dial a new one, and when the caps stop both, make room or wait.
func (a *acquire[S]) run(ctx context.Context) (*Lease[S], error) {
	p := a.p
	for {
		if p.closed.Load() {
			return nil, a.fail(ErrPoolClosed)
		}
		if err := ctx.Err(); err != nil {
			return nil, a.fail(ctxError(err, a.lastErr))
		}
		c, degraded := a.pick()
		if c == nil {
			if p.waitFirstDiscovery(ctx) {
				continue // the sources have answered (or ctx ended): look again
			}
			return nil, a.fail(p.noCoordinator())
		}
		if e := p.takeIdle(ctx, c); e != nil {
			c.pending.Add(-1)
			if l := a.handOut(ctx, e); l != nil {
				return l, nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			c.pending.Add(-1)
			return nil, a.fail(ctxError(err, a.lastErr))
		}
		r := p.reserve(c)
		c.pending.Add(-1)
		switch r {
		case reserved:
			l, again, err := a.dialOn(ctx, c, degraded)
			if l != nil || err != nil {
				return l, err
			}
			if again {
				continue
			}
		case poolFull:
			if room, e := a.makeRoom(ctx, c); room {
				continue
			} else if e != nil {
				if l := a.handOut(ctx, e); l != nil {
					return l, nil
				}
				continue
			}
		}
		if l := a.wait(ctx, c); l != nil {
			return l, nil
		}
	}
}

// pick chooses the coordinator and counts the acquire on it (pending)
// until it holds a session or a slot, so that the picks that follow see
// it. A nil coordinator means there is none to try.
func (a *acquire[S]) pick() (c *coord[S], degraded bool) {
	p := a.p
	p.pickMu.Lock()
	s := p.snap.Load()
	c, ev := p.pick(s, a.key, a.policy)
	if c != nil {
		c.pending.Add(1)
	}
	p.pickMu.Unlock()
	if ev != nil && p.log != nil {
		p.log.Debug("balancer: affinity key moved", "key", ev.key, "from", ev.from, "to", ev.to, "reason", ev.kind.String())
	}
	if c != nil && a.waiting != nil {
		a.waiting.c.Store(c)
	}
	return c, s.degraded
}

// handOut turns a session into the caller's lease, once BeforeAcquire
// agrees; nil means the hook refused it (the session is closed).
func (a *acquire[S]) handOut(ctx context.Context, e *entry[S]) *Lease[S] {
	if h := a.p.hooks.BeforeAcquire; h != nil && !h(ctx, e.s) {
		a.p.closeEntry(e)
		return nil
	}
	a.p.unwait(a.waiting)
	a.waiting = nil
	return a.lease(e)
}

// lease makes the lease of e and tells its session how it was placed and
// who moves it (Placer, Movable).
func (a *acquire[S]) lease(e *entry[S]) *Lease[S] {
	e.key, e.policy = a.key, a.policy
	l := &Lease[S]{p: a.p, e: e}
	l.bind()
	return l
}

// fail takes the acquire out of the wait queue and returns err.
func (a *acquire[S]) fail(err error) error {
	a.p.unwait(a.waiting)
	a.waiting = nil
	return err
}

// dialOn opens a session on c, whose slot is reserved. It returns the
// lease, or the acquire's final error, or neither: again when the acquire
// should pick anew (c was removed meanwhile, or failed and may be
// redispatched).
func (a *acquire[S]) dialOn(ctx context.Context, c *coord[S], degraded bool) (*Lease[S], bool, error) {
	p := a.p
	e, err := p.dial(ctx, c, degraded)
	if err == nil {
		a.dialed = true
		if st := c.getState(); st == StateDraining || st == StateRemoved {
			p.closeEntry(e) // draining or removed while we dialed: pick again
			return nil, true, nil
		}
		if l := a.handOut(ctx, e); l != nil {
			return l, false, nil
		}
		return nil, true, nil
	}
	var hookErr *hookError
	switch {
	case ctx.Err() != nil:
		// The caller gave up first: no verdict on c, but have the
		// background loop check it now, with its own timeout.
		p.suspect(c)
		return nil, false, a.fail(ctxError(ctx.Err(), err))
	case errors.As(err, &hookErr) || clientSide(err):
		// The client's own failure (its credentials, its KDC, its hook):
		// every coordinator would refuse the same way.
		return nil, false, a.fail(err)
	}
	a.lastErr = err
	a.failures++
	p.markFailed(c, err)
	if a.failures > p.retries {
		return nil, false, a.fail(fmt.Errorf("balancer: acquire failed after %d attempts: %w", a.failures, err))
	}
	p.redispatches.Add(1)
	if p.log != nil {
		p.log.Info("balancer: redispatch", "coordinator", c.addr, "attempt", a.failures, "err", err)
	}
	return nil, true, nil
}

// makeRoom is the answer to a full pool (MaxSessions). A keyed acquire
// makes room on its own coordinator (closing an idle session elsewhere) so
// that the key does not move. Otherwise, close an idle session only where
// that evens out the spread (a coordinator with at least two more
// sessions than c, e.g. after c joined); failing that, an idle session
// anywhere beats waiting. Closing idle sessions that waiters could use
// made them re-dial. room reports a session closed; e is an idle session
// taken instead.
func (a *acquire[S]) makeRoom(ctx context.Context, c *coord[S]) (room bool, e *entry[S]) {
	p := a.p
	minOpen := int32(0)
	if a.policy != Affinity {
		minOpen = c.open.Load() + 2
	}
	if p.evictIdle(minOpen) {
		return true, nil
	}
	if a.policy != Affinity {
		return false, p.takeAnyIdle(ctx)
	}
	return false, nil
}

// wait blocks the acquire until a session is handed over to it or
// something changes (a slot freed, a coordinator back, the pool closed,
// ctx done). The first call only joins the queue: the caller then looks
// once more before waiting.
func (a *acquire[S]) wait(ctx context.Context, c *coord[S]) *Lease[S] {
	p := a.p
	if a.waiting == nil {
		a.waiting = p.queue.enqueue(c, a.policy == Affinity)
		a.ch = p.notify.Load().ch
		a.waitFrom = p.now()
		return nil
	}
	p.waits.Add(1)
	select {
	case e := <-a.waiting.ch:
		// handOff took us out of the queue.
		a.waiting = nil
		a.waited = p.now().Sub(a.waitFrom)
		if h := p.hooks.BeforeAcquire; h != nil && !h(ctx, e.s) {
			p.closeEntry(e)
			return nil
		}
		return a.lease(e)
	case <-a.ch:
	case <-ctx.Done():
	case <-p.closing:
	}
	a.waited = p.now().Sub(a.waitFrom)
	a.ch = p.notify.Load().ch
	return nil
}

// unwait takes an acquire that is done out of the queue; a session handed
// to it meanwhile goes to the next waiter or the idle list.
func (p *Pool[S]) unwait(w *waiter[S]) {
	if w == nil {
		return
	}
	if e := p.queue.leave(w); e != nil {
		p.reuse(e)
	}
}

func ctxError(err, last error) error {
	if last != nil {
		return fmt.Errorf("balancer: acquire: %w (last failure: %w)", err, last)
	}
	return fmt.Errorf("balancer: acquire: %w", err)
}

// takeIdle pops idle sessions of c until one passes validation; failed ones
// are closed and counted as replaced.
func (p *Pool[S]) takeIdle(ctx context.Context, c *coord[S]) *entry[S] {
	for c.idle.Load() > 0 {
		c.mu.Lock()
		n := len(c.idleList)
		if n == 0 {
			c.mu.Unlock()
			return nil
		}
		e := c.idleList[n-1]
		c.idleList[n-1] = nil
		c.idleList = c.idleList[:n-1]
		c.idle.Add(-1)
		c.mu.Unlock()
		if p.validate(ctx, e) {
			return e
		}
		c.replaced.Add(1)
		cut := e.live != nil && e.reattach == nil && !e.live.Alive()
		p.closeEntry(e)
		if cut {
			// Whatever cut this socket (a proxy's idle timeout, a restart)
			// likely cut the older idle ones too, here and elsewhere: dead
			// sessions must not keep counting as open, nor as idle ones
			// that leastconn prefers to reuse.
			p.pruneDead(c)
			p.pruneWanted.Store(true)
			p.kickLoop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// pruneDead closes the idle sessions of c whose socket is found closed, so
// that they stop counting as open. Sessions that can reattach are left for
// validation at hand-out. Alive is called under c.mu, the one exception to
// "no I/O under a lock": its contract is a non-blocking check with no round
// trip, and holding the lock keeps the sessions both owned by the pool and
// visible to acquires.
func (p *Pool[S]) pruneDead(c *coord[S]) {
	var dead []*entry[S]
	c.mu.Lock()
	keep := c.idleList[:0]
	for _, e := range c.idleList {
		if e.live != nil && e.reattach == nil && !e.live.Alive() {
			dead = append(dead, e)
		} else {
			keep = append(keep, e)
		}
	}
	clear(c.idleList[len(keep):])
	c.idleList = keep
	c.idle.Store(int32(len(keep)))
	c.mu.Unlock()
	for _, e := range dead {
		c.replaced.Add(1)
		p.closeEntry(e)
	}
}

// validate decides whether an idle session may be handed out: within its
// lifetime and idle time, socket alive, and pinged when idle longer than
// ValidateAfter. A dead socket or a failed ping is given to Reattach first.
func (p *Pool[S]) validate(ctx context.Context, e *entry[S]) bool {
	now := p.now()
	if !e.expires.IsZero() && !now.Before(e.expires) {
		return false
	}
	idleFor := now.Sub(e.lastUsed)
	if p.cfg.MaxIdleTime > 0 && idleFor > p.cfg.MaxIdleTime {
		return false
	}
	if e.live != nil && !e.live.Alive() {
		return p.tryReattach(ctx, e)
	}
	if p.cfg.ValidateAfter >= 0 && idleFor > p.cfg.ValidateAfter {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		err := e.s.Ping(pctx)
		cancel()
		if err != nil {
			return p.tryReattach(ctx, e)
		}
	}
	return true
}

func (p *Pool[S]) tryReattach(ctx context.Context, e *entry[S]) bool {
	if e.reattach == nil || ctx.Err() != nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	if e.reattach.Reattach(rctx) != nil || e.s.Ping(rctx) != nil {
		return false
	}
	e.c.reattached.Add(1)
	return true
}

type reserveResult uint8

const (
	reserved reserveResult = iota
	coordFull
	poolFull
)

// reserve counts a session about to be dialed on c, within the caps.
func (p *Pool[S]) reserve(c *coord[S]) reserveResult {
	for {
		o := c.open.Load()
		if o >= p.perCap {
			return coordFull
		}
		if c.open.CompareAndSwap(o, o+1) {
			break
		}
	}
	if p.maxTotal == 0 {
		p.total.Add(1)
		return reserved
	}
	for {
		t := p.total.Load()
		if t >= p.maxTotal {
			// Give c's slot back. Only an acquire blocked on c's own cap
			// can have seen it taken, so wake the waiters only then: waking
			// them on every full pool made each waiter wake all others.
			if c.open.Add(-1) == p.perCap-1 {
				p.wake()
			}
			return poolFull
		}
		if p.total.CompareAndSwap(t, t+1) {
			return reserved
		}
	}
}

// takeAnyIdle takes a valid idle session from the up coordinator with the
// most idle sessions, or returns nil when there is none.
func (p *Pool[S]) takeAnyIdle(ctx context.Context) *entry[S] {
	for range 2 { // a second look when a taker raced us
		var best *coord[S]
		for _, c := range p.snap.Load().list {
			if n := c.idle.Load(); n > 0 && (best == nil || n > best.idle.Load()) {
				best = c
			}
		}
		if best == nil {
			return nil
		}
		if e := p.takeIdle(ctx, best); e != nil {
			return e
		}
	}
	return nil
}

// evictIdle closes the oldest idle session of the coordinator with the most
// idle sessions among those with at least minOpen sessions, to make room
// under MaxSessions. It reports whether it did.
func (p *Pool[S]) evictIdle(minOpen int32) bool {
	var victim *coord[S]
	for _, c := range p.snap.Load().list {
		if n := c.idle.Load(); n > 0 && c.open.Load() >= minOpen && (victim == nil || n > victim.idle.Load()) {
			victim = c
		}
	}
	if victim == nil {
		return false
	}
	victim.mu.Lock()
	if len(victim.idleList) == 0 {
		victim.mu.Unlock()
		return true // raced with another taker: try again
	}
	e := victim.idleList[0]
	victim.idleList = slices.Delete(victim.idleList, 0, 1)
	victim.idle.Add(-1)
	victim.mu.Unlock()
	p.closeEntry(e)
	return true
}

// hookError is the error of a Hooks.AfterDial that refused a session: the
// hook's verdict, not the coordinator's failure.
type hookError struct{ err error }

func (e *hookError) Error() string { return "balancer: AfterDial hook: " + e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

// dial opens a session on c, whose slot is already reserved.
func (p *Pool[S]) dial(ctx context.Context, c *coord[S], degraded bool) (*entry[S], error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	s, err := p.dialer.Dial(dctx, c.addr)
	c.dialed.Add(1)
	if err == nil && isNil(s) {
		err = errors.New("balancer: Dialer returned a nil Session")
	}
	if err != nil {
		p.release(c)
		return nil, &DialError{Coordinator: c.addr, Err: err}
	}
	e := newEntry(s, c)
	if h := p.hooks.AfterDial; h != nil {
		if herr := h(dctx, c.addr, s); herr != nil {
			p.closeEntry(e)
			return nil, &hookError{err: herr}
		}
	}
	now := p.now()
	e.lastUsed = now
	if lt := p.cfg.MaxLifetime; lt > 0 {
		if j := p.cfg.LifetimeJitter; j > 0 {
			lt -= time.Duration(float64(lt) * j * float64(p.randN(1<<20)) / (1 << 20))
		}
		e.expires = now.Add(lt)
	}
	if degraded && c.getState() == StateDown {
		p.markUp(c) // every coordinator was down and this one answered
	}
	return e, nil
}

// newEntry wraps a new session, noting once what else it can do.
func newEntry[S Session](s S, c *coord[S]) *entry[S] {
	e := &entry[S]{s: s, c: c}
	e.live, _ = any(s).(LivenessChecker)
	e.breaker, _ = any(s).(Breaker)
	e.reset, _ = any(s).(Resetter)
	e.placer, _ = any(s).(Placer)
	e.movable, _ = any(s).(Movable)
	if r, ok := any(s).(Reattacher); ok && r.CanReattach() {
		e.reattach = r
	}
	return e
}

// release gives back the slots of a session that is gone (or was never
// opened).
func (p *Pool[S]) release(c *coord[S]) {
	open := c.open.Add(-1)
	p.total.Add(-1)
	p.wake()
	if open == 0 && c.getState() == StateRemoved {
		p.kickLoop()
	}
}

// put takes a session back from its lease. The caller does not wait:
// a session that needs a reset or a close gets a goroutine of its own,
// and keeps counting as busy until that is done.
func (p *Pool[S]) put(l *Lease[S], broken bool) {
	if !l.done.CompareAndSwap(false, true) {
		return
	}
	e := l.e
	if !broken && e.breaker != nil && e.breaker.Broken() {
		broken = true // its connection broke: closing it is all that is left
	}
	if !l.retire && !broken && e.policy != Affinity && p.unbalanced(e.c) {
		l.markRetiring()
	}
	if l.retire {
		// Balance comes back (rebalance.go): close it, and the next
		// acquire goes where leastconn says.
		e.c.retired.Add(1)
		broken = true
	}
	if !broken && (e.reset == nil || !e.reset.NeedsReset()) && p.keepable(e) {
		p.reuse(e)
		return
	}
	p.bg.goDo(func() { p.settle(e, broken) })
}

// settle resets a released session that needs it and keeps it, or closes
// it; on the pool's background goroutine. (A function of its own: a
// closure that assigned broken would move it to the heap on every
// Release, the fast path's too.)
func (p *Pool[S]) settle(e *entry[S], broken bool) {
	if !broken && e.reset != nil && e.reset.NeedsReset() {
		ctx, cancel := context.WithTimeout(p.bgCtx, p.cfg.DialTimeout)
		broken = e.reset.Reset(ctx) != nil
		cancel()
	}
	if broken || !p.keepable(e) {
		p.closeEntry(e)
		return
	}
	p.reuse(e)
}

// keepable reports whether a released session, reset if it needed one,
// may be used again: within its lifetime and accepted by AfterRelease.
func (p *Pool[S]) keepable(e *entry[S]) bool {
	now := p.now()
	if !e.expires.IsZero() && !now.Before(e.expires) {
		return false
	}
	if h := p.hooks.AfterRelease; h != nil && !h(e.s) {
		return false
	}
	e.lastUsed = now
	return true
}

// reuse passes on a healthy released session: to the longest-waiting
// acquire that can use it, else to the idle list; it closes the session
// (in the background) when its coordinator is not up, the pool is closed
// or the idle list is full.
func (p *Pool[S]) reuse(e *entry[S]) {
	c := e.c
	if p.queue.n.Load() > 0 && c.getState() == StateUp && !p.closed.Load() &&
		(e.live == nil || e.live.Alive()) && p.queue.handOff(e) {
		return
	}
	c.mu.Lock()
	if c.getState() == StateUp && !p.closed.Load() && len(c.idleList) < p.maxIdle {
		c.idleList = append(c.idleList, e)
		c.idle.Add(1)
		c.mu.Unlock()
		p.wake()
		return
	}
	c.mu.Unlock()
	p.closeLater(e)
}

// closeLater closes e on a goroutine of its own.
func (p *Pool[S]) closeLater(e *entry[S]) {
	p.bg.goDo(func() { p.closeEntry(e) })
}

// closeEntry closes a session that the pool drops (expired, broken,
// refused by a hook, its coordinator gone): nobody waits on that close
// and the session is gone either way, so its error is only logged. Close,
// which reports close errors, calls closeEntryErr.
func (p *Pool[S]) closeEntry(e *entry[S]) {
	if err := p.closeEntryErr(e); err != nil && p.log != nil {
		p.log.Debug("balancer: close session", "coordinator", e.c.addr, "err", err)
	}
}

// closeEntryErr closes a session that is no longer idle nor in use and frees
// its slots.
func (p *Pool[S]) closeEntryErr(e *entry[S]) error {
	if h := p.hooks.BeforeClose; h != nil {
		h(e.s)
	}
	err := e.s.Close()
	if e.retiring {
		e.retiring = false
		e.c.retiring.Add(-1)
		p.retiring.Add(-1)
	}
	p.release(e.c)
	return err
}

// wake tells waiting acquires that something changed.
func (p *Pool[S]) wake() {
	if p.queue.n.Load() > 0 {
		p.broadcast()
	}
}

func (p *Pool[S]) broadcast() {
	old := p.notify.Swap(&notifier{ch: make(chan struct{})})
	close(old.ch)
}

func (p *Pool[S]) kickLoop() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// rebuild publishes a new snapshot from the members' states.
func (p *Pool[S]) rebuild() {
	p.mu.Lock()
	p.rebuildLocked()
	p.mu.Unlock()
}

func (p *Pool[S]) rebuildLocked() {
	s := &snapshot[S]{}
	for _, c := range p.coords {
		if c.getState() == StateUp {
			s.list = append(s.list, c)
		}
	}
	if len(s.list) == 0 {
		s.degraded = true
		for _, c := range p.coords {
			if c.getState() == StateDown {
				s.list = append(s.list, c)
			}
		}
	}
	s.hashes = make([]uint64, len(s.list))
	for i, c := range s.list {
		s.hashes[i] = c.hash
	}
	p.snap.Store(s)
}

// SetCoordinators replaces the member list. New addresses join (with slow
// start); removed ones drain: they get no new sessions, their idle sessions
// close now and their in-use sessions close when released. An address that
// comes back while draining is up again at once. With Config.Discovery it
// replaces the seed list, which is the member list only while no source
// has answered.
func (p *Pool[S]) SetCoordinators(addrs []string) error {
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		if err := checkAddr(a); err != nil {
			return err
		}
		if seen[a] {
			return configErr("Coordinators", "%q listed twice", a)
		}
		seen[a] = true
	}
	if p.closed.Load() {
		return ErrPoolClosed
	}
	if d := p.disc; d != nil {
		d.mu.Lock()
		d.seeds = slices.Clone(addrs)
		p.applyDiscoveredLocked()
		d.mu.Unlock()
		return nil
	}
	p.applyMembers(addrs, true)
	return nil
}

// applyMembers makes addrs (checked, without duplicates) the members, as
// SetCoordinators documents; new ones ramp up with slow start when slow.
func (p *Pool[S]) applyMembers(addrs []string, slow bool) {
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		seen[a] = true
	}
	now := p.now()
	var (
		drop    []*entry[S]
		changed []*coord[S]
	)
	p.pickMu.Lock()
	p.mu.Lock()
	known := make(map[string]bool, len(p.coords))
	for _, c := range p.coords {
		known[c.addr] = true
		c.mu.Lock()
		switch st := c.getState(); {
		case seen[c.addr] && st == StateRemoved:
			c.state.Store(int32(StateUp))
			c.rise, c.fall = 0, 0
			p.initCheck(c, now)
			changed = append(changed, c)
		case !seen[c.addr] && st != StateRemoved:
			c.state.Store(int32(StateRemoved))
			drop = append(drop, c.idleList...)
			clear(c.idleList)
			c.idleList = c.idleList[:0]
			c.idle.Store(0)
			changed = append(changed, c)
		}
		c.mu.Unlock()
	}
	for _, a := range addrs {
		if known[a] {
			continue
		}
		c := newCoord[S](a)
		p.initCheck(c, now)
		if slow && p.cfg.SlowStart > 0 && len(p.coords) > 0 {
			c.upSince = now
			c.weight.Store(slowStartFloor)
		}
		p.coords = append(p.coords, c)
		changed = append(changed, c)
	}
	p.rebuildLocked()
	p.mu.Unlock()
	p.pickMu.Unlock()
	for _, e := range drop {
		p.closeEntry(e)
	}
	for _, c := range changed {
		p.stateChanged(c, c.getState(), nil)
	}
	p.broadcast()
	p.kickLoop()
}

// Close closes the idle sessions, stops the background loop, waits for the
// resets and closes that releases started, and makes further acquires fail
// with [ErrPoolClosed]; waiting acquires return. Sessions in use close
// when released. Close is idempotent: later calls return nil.
func (p *Pool[S]) Close() error {
	var errs []error
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.closing)
		p.bgCancel()
		<-p.loopDone
		// The discovery and load pollers: nothing polls once Close returns.
		p.pollers.Wait()
		p.closeSources()
		p.mu.Lock()
		coords := slices.Clone(p.coords)
		p.mu.Unlock()
		var idle []*entry[S]
		for _, c := range coords {
			c.mu.Lock()
			idle = append(idle, c.idleList...)
			clear(c.idleList)
			c.idleList = nil
			c.idle.Store(0)
			c.mu.Unlock()
		}
		// In parallel: closing a session whose connection was cut means
		// a new connection to the coordinator.
		var (
			g     errgroup.Group
			errMu sync.Mutex
		)
		g.SetLimit(maxParallelChecks)
		for _, e := range idle {
			g.Go(func() error {
				if err := p.closeEntryErr(e); err != nil {
					errMu.Lock()
					errs = append(errs, fmt.Errorf("balancer: close session on %s: %w", e.c.addr, err))
					errMu.Unlock()
				}
				return nil
			})
		}
		_ = g.Wait()
		p.broadcast()
		// The resets and closes that releases started.
		p.bg.wait()
	})
	return errors.Join(errs...)
}

func (p *Pool[S]) stateChanged(c *coord[S], st State, err error) {
	if p.log != nil {
		switch st {
		case StateDown:
			p.log.Warn("balancer: coordinator down", "coordinator", c.addr, "err", err)
		case StateUp:
			p.log.Info("balancer: coordinator up", "coordinator", c.addr)
		case StateDraining:
			p.log.Info("balancer: coordinator draining", "coordinator", c.addr)
		}
	}
	if p.onState != nil {
		p.onState(c.addr, st)
	}
}

// jitter spreads d by ±20 %.
func (p *Pool[S]) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	spread := d * 2 / 5
	if spread <= 0 || int64(spread) > math.MaxInt {
		return d
	}
	return d - d/5 + time.Duration(p.randN(int(spread)+1))
}

// noCoordinator is the error of an acquire with no coordinator to try:
// none left, or every one draining or removed, named with its state.
func (p *Pool[S]) noCoordinator() error {
	if err := p.discoveryError(); err != nil {
		p.mu.Lock()
		n := len(p.coords)
		p.mu.Unlock()
		if n == 0 {
			return fmt.Errorf("%w (%w)", ErrNoCoordinator, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.coords) == 0 {
		return ErrNoCoordinator
	}
	var b strings.Builder
	for i, c := range p.coords {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.addr + " " + c.getState().String())
		if err := c.lastErrSnapshot(); err != nil {
			b.WriteString(" (" + err.Error() + ")")
		}
	}
	return fmt.Errorf("%w is taking new sessions: %s", ErrNoCoordinator, b.String())
}
