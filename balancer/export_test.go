package balancer

import "time"

// TestOptions replaces the pool's clock, randomness and state hook in tests.
type TestOptions struct {
	Now     func() time.Time
	RandN   func(n int) int
	OnState func(addr string, s State)
	// NoLoop leaves the background loop out; the test drives Maintain.
	NoLoop bool
}

// NewForTest is NewWithHooks with internals replaced.
func NewForTest[S Session](cfg Config, d Dialer[S], h Hooks[S], o TestOptions) (*Pool[S], error) {
	return newPool(cfg, d, h, options{now: o.Now, randN: o.RandN, onState: o.OnState, noLoop: o.NoLoop})
}

// Pick runs the policy's pick over the current snapshot without acquiring.
// Affinity's pick, which reads the sticky table, takes the pick lock as
// Acquire does; the others need no lock.
func (p *Pool[S]) Pick(policy Policy, key string) string {
	if policy == Affinity {
		p.pickMu.Lock()
		a := p.pickAddr(policy, key)
		p.pickMu.Unlock()
		return a
	}
	return p.pickAddr(policy, key)
}

func (p *Pool[S]) pickAddr(policy Policy, key string) string {
	c, _ := p.pick(p.snap.Load(), key, policy)
	if c == nil {
		return ""
	}
	return c.addr
}

// Maintain runs one pass of the background loop's work, the socket check of
// idle sessions included.
func (p *Pool[S]) Maintain() {
	p.pruneWanted.Store(true)
	p.maintain()
}

// Expires returns the lifetime deadline of a lease's session.
func (l *Lease[S]) Expires() time.Time { return l.e.expires }

// Pending sums the acquires counted between pick and session, over members.
func (p *Pool[S]) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.coords {
		n += int(c.pending.Load())
	}
	return n
}

// Settle waits for the resets and closes that releases started.
func (p *Pool[S]) Settle() { p.bg.wait() }

// Settle waits for the resets and closes that releases of the lease's pool
// started.
func (l *Lease[S]) Settle() { l.p.bg.wait() }

// Discover polls every discovery source once, in turn, and applies what
// they say.
func (p *Pool[S]) Discover() {
	for _, s := range p.disc.sources {
		p.discoverOnce(s)
	}
}

// PollLoad runs one round of the cluster-load poller.
func (p *Pool[S]) PollLoad() { p.pollLoad() }

// RemoteLoad returns the cluster-wide term of addr's rank, in sessions.
func (p *Pool[S]) RemoteLoad(addr string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.coords {
		if c.addr == addr {
			return float64(c.remote.Load()) / loadScale
		}
	}
	return -1
}

// ApplyCheck applies a health check's result to the coordinator at addr
// as the background loop does when a check returns (for a check that was
// already running when something else changed the coordinator's state).
func (p *Pool[S]) ApplyCheck(addr string, err error) {
	p.mu.Lock()
	var c *coord[S]
	for _, o := range p.coords {
		if o.addr == addr {
			c = o
		}
	}
	p.mu.Unlock()
	p.applyCheck(c, err)
}
