package balancer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Discovery: the cluster as the source of truth for membership.
//
// [Config.Discovery] lists sources of coordinators ([DNSDiscovery],
// [ImpalaMembership], or any [Discoverer]). Each source is polled on a
// goroutine of its own, at [Config.DiscoveryInterval] with ±20 % jitter,
// each poll bounded by [Config.DiscoveryTimeout]; [Pool.Close] stops them
// and waits for them, so nothing polls once it returns.
//
// The members are the union of the last good list of every source that
// has answered at least once; until one has, they are [Config.Coordinators]
// (the seed list). A change is applied as [Pool.SetCoordinators] applies
// one: a new coordinator joins with slow start (except those of the first
// answer: they were running before the pool knew of them), one that left is drained,
// not cut (its sessions in use finish their statements and move at their
// next one). A coordinator that a source lists as quiescing (Impala's
// graceful shutdown) is marked draining at once: no new sessions, and it
// comes back only through the health checks (Rise, slow start). A poll
// that fails, or lists no coordinator, keeps the source's last good list:
// it is logged and counted in [Stats.Discovery], and never empties the
// pool.

// Member is one coordinator as a discovery source sees it.
type Member struct {
	// Addr is the coordinator's host:port (its HS2 or beeswax port).
	Addr string
	// Quiescing reports that the coordinator is shutting down gracefully
	// (Impala's is_quiescing): it takes no new sessions and leaves once
	// its statements are done.
	Quiescing bool
}

// Discoverer is a source of coordinators for [Config.Discovery]. The pool
// calls Discover from one goroutine of its own per source, never twice at
// once, with a context bounded by [Config.DiscoveryTimeout] and cancelled
// by [Pool.Close].
type Discoverer interface {
	// Discover returns the coordinators the source knows now. current holds
	// the pool's members (host:port), for a source that asks them (the
	// Impala membership asks their web servers). An error, or an empty
	// list, keeps the source's last good list.
	Discover(ctx context.Context, current []string) ([]Member, error)
	// String names the source in logs and in [DiscoveryStats].
	String() string
}

// idleCloser is implemented by sources that keep connections (HTTP
// keep-alive): the pool closes them in Close.
type idleCloser interface{ CloseIdleConnections() }

// ErrQuiescing is the last error of a coordinator marked draining because a
// discovery source lists it as quiescing.
var ErrQuiescing = errors.New("balancer: the cluster's membership lists the coordinator as quiescing")

// errNoMembers is the error of a successful poll that listed nothing.
var errNoMembers = errors.New("balancer: discovery: the source lists no coordinator")

// DiscoveryStats describes one discovery source in [Stats].
type DiscoveryStats struct {
	// Source names the source (its String).
	Source string
	// Members is the number of coordinators of its last good list; 0 when
	// it never answered.
	Members int
	// Quiescing is the number of those it lists as quiescing.
	Quiescing int
	// Polls counts its polls; Failures those that failed (the last good
	// list was kept).
	Polls, Failures uint64
	// LastSuccess is when it last answered, zero if never.
	LastSuccess time.Time
	// LastError is its latest failure, nil if none; LastErrorAt is when.
	LastError   error
	LastErrorAt time.Time
}

// discovery is the pool's discovery state.
type discovery struct {
	sources []*source
	first   chan struct{} // closed when every source has been polled once
	pending int           // sources not polled yet; under mu

	mu    sync.Mutex // guards the fields below and the sources' state; applies run under it
	seeds []string
	// answered reports that a source's list was applied: coordinators
	// added from then on are joining, and ramp up with slow start.
	answered bool
	// quiesced holds the addresses marked draining because a source
	// listed them as quiescing.
	quiesced map[string]bool
}

type source struct {
	d Discoverer
	// guarded by discovery.mu:
	good        []Member // last good list; nil: never answered
	polled      bool
	polls       uint64
	failures    uint64
	lastSuccess time.Time
	lastErr     error
	lastErrAt   time.Time
}

// startDiscovery sets up the sources and, unless noLoop, their pollers.
func (p *Pool[S]) startDiscovery(noLoop bool) {
	if len(p.cfg.Discovery) == 0 {
		return
	}
	d := &discovery{first: make(chan struct{}), seeds: slices.Clone(p.cfg.Coordinators), quiesced: map[string]bool{}}
	for _, src := range p.cfg.Discovery {
		d.sources = append(d.sources, &source{d: src})
	}
	d.pending = len(d.sources)
	p.disc = d
	if noLoop {
		return
	}
	for _, s := range d.sources {
		p.startPoller(p.cfg.DiscoveryInterval, func() { p.discoverOnce(s) })
	}
}

// startPoller runs poll on a goroutine of its own until the pool closes:
// at once, then every period (jittered by ±20 %). Close waits for it.
func (p *Pool[S]) startPoller(period time.Duration, poll func()) {
	p.pollers.Add(1)
	go func() {
		defer p.pollers.Done()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-p.closing:
				return
			case <-t.C:
			}
			poll()
			t.Reset(p.jitter(period))
		}
	}()
}

// discoverOnce polls s once and applies what it says.
func (p *Pool[S]) discoverOnce(s *source) {
	ctx, cancel := context.WithTimeout(p.bgCtx, p.cfg.DiscoveryTimeout)
	members, err := s.d.Discover(ctx, p.memberAddrs())
	cancel()
	if err == nil {
		members, err = cleanMembers(members)
	}
	if err != nil && p.closed.Load() {
		return // cut short by Close: not the source's failure
	}
	d := p.disc
	now := p.now()
	d.mu.Lock()
	s.polls++
	if err != nil {
		s.failures++
		s.lastErr, s.lastErrAt = fmt.Errorf("balancer: discovery %s: %w", s.d, err), now
	} else {
		s.good = members
		s.lastSuccess = now
		if !p.closed.Load() {
			p.applyDiscoveredLocked()
		}
	}
	if !s.polled {
		s.polled = true
		if d.pending--; d.pending == 0 {
			close(d.first)
		}
	}
	kept := len(s.good)
	d.mu.Unlock()
	if err != nil && p.log != nil {
		p.log.Warn("balancer: discovery failed; the last good list is kept", "source", s.d.String(), "members", kept, "err", err)
	}
}

// cleanMembers checks the addresses of a source's answer, merges
// duplicates (quiescing wins) and sorts them.
func cleanMembers(ms []Member) ([]Member, error) {
	if len(ms) == 0 {
		return nil, errNoMembers
	}
	byAddr := make(map[string]bool, len(ms))
	for _, m := range ms {
		if err := checkAddr(m.Addr); err != nil {
			return nil, err
		}
		byAddr[m.Addr] = byAddr[m.Addr] || m.Quiescing
	}
	out := make([]Member, 0, len(byAddr))
	for a, q := range byAddr {
		out = append(out, Member{Addr: a, Quiescing: q})
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Addr < b.Addr:
			return -1
		case a.Addr > b.Addr:
			return 1
		}
		return 0
	})
	return out, nil
}

// memberAddrs returns the addresses of the members that are not removed.
func (p *Pool[S]) memberAddrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.coords))
	for _, c := range p.coords {
		if c.getState() != StateRemoved {
			out = append(out, c.addr)
		}
	}
	return out
}

// applyDiscoveredLocked makes the members the union of the sources' last
// good lists (the seeds while none has answered), then drains the
// quiescing ones. Called with disc.mu held.
func (p *Pool[S]) applyDiscoveredLocked() {
	d := p.disc
	quiescing := map[string]bool{}
	var addrs []string
	answered := false
	for _, s := range d.sources {
		if s.good == nil {
			continue
		}
		answered = true
		for _, m := range s.good {
			q, seen := quiescing[m.Addr]
			if !seen {
				addrs = append(addrs, m.Addr)
			}
			quiescing[m.Addr] = q || m.Quiescing
		}
	}
	if !answered {
		addrs = d.seeds
	}
	// The first answer tells the pool of coordinators that were running
	// already: they take their share at once. Those that join later ramp
	// up with slow start.
	p.applyMembers(addrs, d.answered)
	d.answered = d.answered || answered
	p.mu.Lock()
	coords := slices.Clone(p.coords)
	p.mu.Unlock()
	for _, c := range coords {
		switch st := c.getState(); {
		case st == StateRemoved:
			delete(d.quiesced, c.addr)
		case quiescing[c.addr]:
			d.quiesced[c.addr] = true
			if st == StateUp || st == StateDown {
				p.leave(c, StateDraining, ErrQuiescing, StateUp, StateDown)
			}
		case d.quiesced[c.addr]:
			// Listed again as active (restarted): check it now rather than
			// at the end of the draining back-off.
			delete(d.quiesced, c.addr)
			c.mu.Lock()
			c.nextCheck = p.now()
			c.mu.Unlock()
			p.kickLoop()
		}
	}
}

// waitFirstDiscovery waits, for an acquire that found no coordinator,
// until every source has been polled once; false when there is nothing to
// wait for (no discovery, or done already).
func (p *Pool[S]) waitFirstDiscovery(ctx context.Context) bool {
	d := p.disc
	if d == nil {
		return false
	}
	select {
	case <-d.first:
		return false
	default:
	}
	select {
	case <-d.first:
	case <-ctx.Done():
	case <-p.closing:
	}
	return true
}

// discoveryStats returns the per-source figures.
func (p *Pool[S]) discoveryStats() []DiscoveryStats {
	d := p.disc
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DiscoveryStats, 0, len(d.sources))
	for _, s := range d.sources {
		ds := DiscoveryStats{Source: s.d.String(), Members: len(s.good), Polls: s.polls, Failures: s.failures,
			LastSuccess: s.lastSuccess, LastError: s.lastErr, LastErrorAt: s.lastErrAt}
		for _, m := range s.good {
			if m.Quiescing {
				ds.Quiescing++
			}
		}
		out = append(out, ds)
	}
	return out
}

// discoveryError is the latest failure of any source, for the error of an
// acquire that found no coordinator.
func (p *Pool[S]) discoveryError() error {
	d := p.disc
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var last error
	var at time.Time
	for _, s := range d.sources {
		if s.lastErr != nil && !s.lastErrAt.Before(at) {
			last, at = s.lastErr, s.lastErrAt
		}
	}
	return last
}

// closeSources closes the idle HTTP connections of the sources, once the
// pollers are gone.
func (p *Pool[S]) closeSources() {
	for _, src := range p.cfg.Discovery {
		if c, ok := src.(idleCloser); ok {
			c.CloseIdleConnections()
		}
	}
	if c, ok := p.cfg.ClusterLoad.(idleCloser); ok {
		c.CloseIdleConnections()
	}
}
