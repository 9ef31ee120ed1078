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
	// Moves counts sessions moved to another coordinator at their next
	// statement (their coordinator shutting down, down, removed, or
	// having forgotten them).
	Moves uint64
	// Keys is the number of affinity keys in the sticky table.
	Keys int
	// KeysPlaced counts keys placed on a coordinator: new keys, and keys
	// that had expired or been evicted from the table.
	KeysPlaced uint64
	// KeysMoved counts keys moved because their coordinator went down, is
	// draining or was removed (each logged at debug level with the reason).
	KeysMoved uint64
	// KeysReturned counts keys sent back to the coordinator they had left
	// (Config.ReturnHome).
	KeysReturned uint64
	// KeysOverflowed counts acquires of a key served by another coordinator
	// because the key's own was at MaxPerCoordinator; the key stays placed
	// where it was. A DDL statement on such a session may not be seen at
	// once by the key's next query: give hot keys room (MaxPerCoordinator)
	// or use SYNC_DDL.
	KeysOverflowed uint64
	// Discovery has one entry per Config.Discovery source: its last good
	// list, its polls and failures, its last error. Nil without discovery.
	Discovery []DiscoveryStats
	// ClusterLoad describes the load source of cluster-wide leastconn;
	// nil without Config.ClusterLoad.
	ClusterLoad *ClusterLoadStats
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
	// Keys is the number of affinity keys placed here.
	Keys int
	// MovedAway counts sessions moved from here to another coordinator.
	MovedAway uint64
	// Retired counts sessions closed at release because this coordinator
	// held clearly more than its share (see Lease.Retire).
	Retired uint64
	// Replaced counts idle sessions found dead or expired at hand-out, or
	// found with a closed socket by the background loop, and closed.
	Replaced uint64
	// Reattached counts idle sessions whose connection was re-established
	// with their server session kept.
	Reattached uint64
	// Ejections counts the times the coordinator was ejected for failing
	// statements (see Config.OutlierFailures); Ejected reports that it is
	// out for that reason now.
	Ejections uint64
	Ejected   bool
	// LastError is the latest failure, nil if none.
	LastError error
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
	// ClusterQueries is, with Config.ClusterLoad, the coordinator's own
	// load figure (all clients' queries) as last read, and
	// ClusterQueriesAt when; zero time when never read.
	ClusterQueries   float64
	ClusterQueriesAt time.Time
	// ClusterLoadError is the latest failure to read it, nil if none.
	ClusterLoadError error
}

// Stats returns a snapshot of the pool's counters. Figures are read one by
// one without stopping the pool, so they may be slightly inconsistent with
// each other under load.
func (p *Pool[S]) Stats() Stats {
	p.mu.Lock()
	coords := slices.Clone(p.coords)
	p.mu.Unlock()
	st := Stats{
		Coordinators:   make([]CoordinatorStats, 0, len(coords)),
		Waiting:        int(p.queue.n.Load()),
		Waits:          p.waits.Load(),
		Redispatches:   p.redispatches.Load(),
		Moves:          p.moves.Load(),
		KeysPlaced:     p.keysPlaced.Load(),
		KeysMoved:      p.keysMoved.Load(),
		KeysReturned:   p.keysReturned.Load(),
		KeysOverflowed: p.keysOverflowed.Load(),
	}
	if p.sticky != nil {
		p.pickMu.Lock()
		st.Keys = len(p.sticky.m)
		p.pickMu.Unlock()
	}
	for _, c := range coords {
		c.mu.Lock()
		cs := CoordinatorStats{
			Addr:        c.addr,
			State:       c.getState(),
			LastError:   c.lastErr,
			LastErrorAt: c.lastErrAt,
			Idle:        len(c.idleList),
			Ejections:   c.out.total,
			Ejected:     c.out.ejected && c.getState() != StateUp,
		}
		c.mu.Unlock()
		open := int(c.open.Load())
		cs.InUse = max(open-cs.Idle, 0)
		cs.Weight = float64(c.weight.Load()) / fullWeight
		cs.Dialed = c.dialed.Load()
		cs.Failures = c.failures.Load()
		cs.Replaced = c.replaced.Load()
		cs.Reattached = c.reattached.Load()
		cs.Keys = int(c.keys.Load())
		cs.MovedAway = c.movedAway.Load()
		cs.Retired = c.retired.Load()
		st.Coordinators = append(st.Coordinators, cs)
		st.Open += open
		st.InUse += cs.InUse
		st.Idle += cs.Idle
	}
	st.Discovery = p.discoveryStats()
	st.ClusterLoad = p.clusterLoadStats(st.Coordinators)
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

// Placement returns the address of the coordinator the sticky table holds
// for an affinity key, and false when the key is not in the table (never
// used, expired or evicted; or the table is off). It does not count as a
// use of the key.
func (p *Pool[S]) Placement(key string) (string, bool) {
	if p.sticky == nil {
		return "", false
	}
	p.pickMu.Lock()
	defer p.pickMu.Unlock()
	e := p.sticky.m[key]
	if e == nil || p.sticky.expired(e, p.epoch.Load()) {
		return "", false
	}
	return e.c.addr, true
}

// DefaultKey returns the affinity key of acquires without one when Policy
// is Affinity: Config.DefaultKey, or this host's name.
func (p *Pool[S]) DefaultKey() string { return p.defaultKey }
