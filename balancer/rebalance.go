package balancer

// Balance that comes back. A coordinator that returns (a restart, the end
// of a drain) takes new sessions through leastconn and slow start, but a
// long-lived holder never acquires again: database/sql keeps its
// connections for as long as it likes, and a steady load would leave the
// returning coordinator idle (measured: 0 statements in the 23 s after a
// restart under 30 connections). So a session placed without a key is
// retired when it comes back to the pool (Release, or a database/sql
// connection's ResetSession through Lease.Retire) while its coordinator
// holds clearly more than its share: then the next acquire opens one
// where leastconn says. Sessions of an affinity key follow the key's
// sticky placement instead and are never retired for balance.

// unbalanced reports whether c holds clearly more sessions than its share
// of the up coordinators' while one of them has room: moving one session
// from c to the least loaded d would still leave c at least as loaded as
// d, each load being its open sessions over its slow-start weight. The
// rule stops when the open sessions differ by at most one (weighted), so
// it cannot swing sessions back and forth.
func (p *Pool[S]) unbalanced(c *coord[S]) bool {
	s := p.snap.Load()
	if s.degraded || len(s.list) < 2 || c.getState() != StateUp {
		return false
	}
	open := int64(c.open.Load() - c.retiring.Load())
	// Cheap test first: at or under the mean, nothing to do. With
	// Config.ClusterLoad each load also counts the other clients'
	// (clusterload.go), so an uneven spread of this pool's own sessions
	// may be what evens out the cluster's: no cheap test then.
	if p.load == nil && open*int64(len(s.list)) <= int64(p.total.Load()-p.retiring.Load()) {
		return false
	}
	rc, wc := c.remote.Load(), int64(c.weight.Load())
	for _, d := range s.list {
		if d == c || d.busy() >= p.perCap {
			continue
		}
		// ((open_c - 1)·1024 + r_c) / w_c >= ((open_d + 1)·1024 + r_d) / w_d,
		// without division (r: the cluster-wide term, ×1024, 0 when off).
		od := int64(d.open.Load()-d.retiring.Load()) + 1
		if ((open-1)<<10+rc)*int64(d.weight.Load()) >= (od<<10+d.remote.Load())*wc {
			return true
		}
	}
	return false
}

// Retire reports whether the lease's session should be given back rather
// than kept by a long-lived holder, because its coordinator holds clearly
// more sessions than its share while another coordinator has room (after
// a coordinator came back); it is false for a session placed by an
// affinity key. When it reports true, the session is closed at its
// Release or Discard and counted in CoordinatorStats.Retired, and the holder's next
// Acquire goes where the policy says. The database/sql driver asks it
// before it reuses a connection (its ResetSession).
func (l *Lease[S]) Retire() bool {
	if l.retire {
		return true
	}
	if l.e.policy == Affinity || l.done.Load() || !l.p.unbalanced(l.e.c) {
		return false
	}
	l.markRetiring()
	return true
}

// markRetiring takes the lease's session out of its coordinator's load
// now, so that the next decisions see it gone before it is closed.
func (l *Lease[S]) markRetiring() {
	l.retire = true
	l.e.retiring = true
	l.e.c.retiring.Add(1)
	l.p.retiring.Add(1)
}
