package balancer

import (
	"slices"
	"time"
)

// Stats is a snapshot of a pool's state, taken by [Pool.Stats].
type Stats struct {
	// Coordinators has one entry per member, draining ones included, in the
	// order they joined.
	Coordinators []CoordinatorStats
	// Open is the number of open sessions (idle and in use, dials included).
	Open int
	// InUse is the number of sessions handed out or being dialed.
	InUse int
	// Idle is the number of idle sessions.
	Idle int
	// Waiting is the number of acquires waiting for capacity now.
	Waiting int
	// Waits counts the times an acquire had to wait for capacity.
	Waits uint64
	// Redispatches counts acquires sent to another coordinator after a dial
	// failure.
	Redispatches uint64
}

// CoordinatorStats describes one coordinator in [Stats].
type CoordinatorStats struct {
	// Addr is the coordinator's host:port.
	Addr string
	// State is up, down or draining.
	State State
	// Weight is the share of new sessions during slow start, from 0 to 1
	// (1 when not ramping).
	Weight float64
	// InUse is the number of sessions handed out or being dialed.
	InUse int
	// Idle is the number of idle sessions.
	Idle int
	// Dialed counts dials made by acquires (health checks excluded).
	Dialed uint64
	// Failures counts failed dials and failed health checks.
	Failures uint64
	// Replaced counts idle sessions found dead or expired at hand-out, or
	// found with a closed socket by the background loop, and closed.
	Replaced uint64
	// Reattached counts idle sessions whose connection was re-established
	// with their server session kept.
	Reattached uint64
	// LastError is the latest failure, nil if none.
	LastError error
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// Stats returns a snapshot of the pool's counters. Figures are read one by
// one without stopping the pool, so they may be slightly inconsistent with
// each other under load.
func (p *Pool[S]) Stats() Stats {
	p.mu.Lock()
	coords := slices.Clone(p.coords)
	p.mu.Unlock()
	st := Stats{
		Coordinators: make([]CoordinatorStats, 0, len(coords)),
		Waiting:      int(p.queue.n.Load()),
		Waits:        p.waits.Load(),
		Redispatches: p.redispatches.Load(),
	}
	for _, c := range coords {
		c.mu.Lock()
		cs := CoordinatorStats{
			Addr:        c.addr,
			State:       c.getState(),
			LastError:   c.lastErr,
			LastErrorAt: c.lastErrAt,
			Idle:        len(c.idleList),
		}
		c.mu.Unlock()
		open := int(c.open.Load())
		cs.InUse = max(open-cs.Idle, 0)
		cs.Weight = float64(c.weight.Load()) / fullWeight
		cs.Dialed = c.dialed.Load()
		cs.Failures = c.failures.Load()
		cs.Replaced = c.replaced.Load()
		cs.Reattached = c.reattached.Load()
		st.Coordinators = append(st.Coordinators, cs)
		st.Open += open
		st.InUse += cs.InUse
		st.Idle += cs.Idle
	}
	return st
}

// Coordinator returns the figures of the coordinator at addr, and false if
// it is not a member.
func (s Stats) Coordinator(addr string) (CoordinatorStats, bool) {
	for _, c := range s.Coordinators {
		if c.Addr == addr {
			return c, true
		}
	}
	return CoordinatorStats{}, false
}
