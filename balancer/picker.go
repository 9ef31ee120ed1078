package balancer

import "math"

// snapshot is the immutable set of candidate coordinators that the pick
// reads. It is rebuilt under Pool.mu whenever membership or health changes
// and published through Pool.snap; picks never lock.
type snapshot[S Session] struct {
	// list holds the up coordinators or, when none is up, every member that
	// is not draining, so that acquires keep probing rather than failing.
	list []*coord[S]
	// hashes holds list[i].hash, contiguous for the affinity scan.
	hashes []uint64
	// degraded reports that no coordinator is up.
	degraded bool
}

// p2cThreshold is the candidate count above which leastconn samples two
// coordinators at random instead of scanning them all.
const p2cThreshold = 32

// pick chooses a coordinator from s for one acquire. It is called under
// Pool.pickMu, never blocks and allocates nothing but a new affinity key's
// entry in the sticky table. ev, when its kind is set, is a move of an
// affinity key for the caller to report once the lock is released.
func (p *Pool[S]) pick(s *snapshot[S], key string, policy Policy) (c *coord[S], ev *keyEvent) {
	list := s.list
	switch len(list) {
	case 0:
		return nil, ev
	case 1:
		if policy != Affinity || s.degraded {
			return list[0], ev
		}
	}
	if s.degraded {
		return leastRecentlyFailed(list), ev
	}
	switch policy {
	case Affinity:
		return p.pickAffinity(s, key)
	case RoundRobin:
		return p.pickRoundRobin(list), ev
	default:
		return p.pickLeast(list), ev
	}
}

// leastRecentlyFailed serves acquires while every coordinator is down: the
// one whose latest failure is oldest, so that redispatches try each in turn.
func leastRecentlyFailed[S Session](list []*coord[S]) *coord[S] {
	best := list[0]
	for _, c := range list[1:] {
		if c.failSeq.Load() < best.failSeq.Load() {
			best = c
		}
	}
	return best
}

// rank orders coordinators for leastconn: c's busy sessions (in use, being
// dialed, or about to be taken by an acquire that picked c), plus the one
// about to be added, plus with Config.ClusterLoad the weighted load of the
// other clients, divided by the slow-start weight; among equals, one
// with an idle session to reuse comes first. full reports that c has no room
// under MaxPerCoordinator.
//
// Idle sessions do not count: they run nothing, and ranking by open sessions
// sent every acquire to whichever coordinator happened to hold one session
// fewer, whatever ran there, so statements spread unevenly over evenly
// spread sessions. Reusing idle sessions before dialing keeps the open
// sessions of each coordinator near its peak of busy ones.
func (p *Pool[S]) rank(c *coord[S]) (score uint64, full bool) {
	open, idle, pend := c.open.Load(), c.idle.Load(), c.pending.Load()
	busy := open - idle + pend
	full = busy >= p.perCap
	// With Config.ClusterLoad, the other clients' load (clusterload.go).
	o := (uint64(max(busy, 0))+1)<<10 + uint64(max(c.remote.Load(), 0))
	if w := c.weight.Load(); w >= fullWeight {
		score = o
	} else {
		score = (o << 10) / uint64(max(w, 1))
	}
	score <<= 1
	if idle <= 0 {
		score |= 1
	}
	return score, full
}

func (p *Pool[S]) pickLeast(list []*coord[S]) *coord[S] {
	n := len(list)
	if n > p2cThreshold {
		// Power of two random choices, from one random number.
		r := p.randN(n * (n - 1))
		i, j := r%n, r/n
		if j >= i {
			j++
		}
		a, b := list[i], list[j]
		sa, fa := p.rank(a)
		sb, fb := p.rank(b)
		if fb != fa {
			if fa {
				return b
			}
			return a
		}
		if sb < sa {
			return b
		}
		return a
	}
	// Scan from a rotating start: coordinators tied on load take turns
	// (with a random start, the statements each one ran drifted apart by
	// chance even while the load in flight stayed even).
	var i int
	if p.ties != nil {
		i = int(p.ties.Add(1) % uint64(n))
	} else {
		i = p.randN(n)
	}
	var (
		best      *coord[S]
		bestScore uint64
		bestFull  bool
	)
	for range n {
		c := list[i]
		if i++; i == n {
			i = 0
		}
		s, full := p.rank(c)
		if best == nil || (bestFull && !full) || (full == bestFull && s < bestScore) {
			best, bestScore, bestFull = c, s, full
		}
	}
	return best
}

// pickAffinity keeps a key on the coordinator the sticky table placed it
// on while that one is up; it places new keys, and keys whose coordinator
// is down, draining or removed, with placeKey. A key whose coordinator is
// at MaxPerCoordinator overflows, for this acquire only, to the next
// coordinator of its rendezvous order with room.
func (p *Pool[S]) pickAffinity(s *snapshot[S], key string) (*coord[S], *keyEvent) {
	t := p.sticky
	if t == nil {
		return p.placeKey(s, key), nil
	}
	now := p.epoch.Load()
	e := t.get(key, now)
	if e == nil {
		c := p.placeKey(s, key)
		t.put(key, c, nil, now)
		p.keysPlaced.Add(1)
		return c, nil
	}
	c := e.c
	if st := c.getState(); st != StateUp {
		// Down, draining or being removed: the key moves, once, and stays
		// where it lands. A down coordinator is remembered as its home
		// (Config.ReturnHome).
		n := p.placeKey(s, key)
		reason := moveDraining
		if st == StateDown {
			reason = moveDown
			if e.home == nil {
				e.home = c
			}
		}
		t.move(e, n)
		p.keysMoved.Add(1)
		return n, &keyEvent{kind: reason, key: e.key, from: c.addr, to: n.addr}
	}
	if h := e.home; h != nil && p.cfg.ReturnHome && h.getState() == StateUp && h.weight.Load() >= fullWeight && h.busy() < p.perCap {
		// Its home is back and done ramping up: once, and for good.
		e.home = nil
		t.move(e, h)
		p.keysReturned.Add(1)
		return h, &keyEvent{kind: moveHome, key: e.key, from: c.addr, to: h.addr}
	}
	if c.busy() >= p.perCap {
		if o := p.overflow(s, key, c); o != nil {
			p.keysOverflowed.Add(1)
			return o, &keyEvent{kind: moveOverflow, key: e.key, from: c.addr, to: o.addr}
		}
	}
	return c, nil
}

// placeKey places a key by rendezvous hashing over s's coordinators: the
// first coordinator of the key's order that is under its share of the busy
// sessions (LoadFactor times their mean, at least MinAffinityLoad, scaled
// by its slow-start weight) and under MaxPerCoordinator, so that a key's
// neighbours do not pile up behind a hot key. Every client process walks
// the same order, so processes agree on a key's coordinator unless loads
// differ. With SpreadKeys the coordinator must also be under its share of
// this pool's keys (LoadFactor times their mean): a few keys spread over
// every coordinator (six over three: at most three on one), at the cost of
// that agreement between processes.
func (p *Pool[S]) placeKey(s *snapshot[S], key string) *coord[S] {
	kh := hashString(key)
	var busy, keys int64
	for _, c := range s.list {
		busy += int64(c.busy())
		keys += int64(c.keys.Load())
	}
	n := float64(len(s.list))
	sessLimit := max(int64(math.Ceil(p.cfg.LoadFactor*float64(busy+1)/n)), int64(p.cfg.MinAffinityLoad))
	keyLimit := int64(math.Ceil(p.cfg.LoadFactor * float64(keys+1) / n))
	ok := func(c *coord[S]) bool {
		if !p.underLimit(c, int64(c.busy()), sessLimit) {
			return false
		}
		return !p.cfg.SpreadKeys || p.underLimit(c, int64(c.keys.Load()), keyLimit)
	}
	// The key's rendezvous order, walked from the top: rare beyond the
	// first (only under skew), so recomputing hashes is fine.
	prev, first := uint64(math.MaxUint64), true
	for range len(s.list) {
		ni, nextH := -1, uint64(0)
		for i, sh := range s.hashes {
			if h := mix64(kh ^ sh); (first || h < prev) && (ni < 0 || h > nextH) {
				ni, nextH = i, h
			}
		}
		if ni < 0 {
			break
		}
		if ok(s.list[ni]) {
			return s.list[ni]
		}
		prev, first = nextH, false
	}
	// Only when the per-coordinator cap stops every one: any with room.
	return p.pickLeast(s.list)
}

// overflow is the coordinator after from in the key's rendezvous order
// that has room under MaxPerCoordinator, nil if none has.
func (p *Pool[S]) overflow(s *snapshot[S], key string, from *coord[S]) *coord[S] {
	kh := hashString(key)
	var best *coord[S]
	var bestH uint64
	for i, c := range s.list {
		if c == from || c.busy() >= p.perCap {
			continue
		}
		if h := mix64(kh ^ s.hashes[i]); best == nil || h > bestH {
			best, bestH = c, h
		}
	}
	return best
}

// underLimit reports whether c, holding have of something (busy
// sessions, keys), can take one more under limit (scaled by its slow-start
// weight) and has room under the session cap.
func (p *Pool[S]) underLimit(c *coord[S], have, limit int64) bool {
	if c.busy() >= p.perCap {
		return false
	}
	if w := c.weight.Load(); w < fullWeight {
		limit = max(1, limit*int64(w)/fullWeight)
	}
	return have+1 <= limit
}

func (p *Pool[S]) pickRoundRobin(list []*coord[S]) *coord[S] {
	n := uint64(len(list))
	start := p.rr.Add(1) - 1
	for k := range n {
		c := list[(start+k)%n]
		if c.busy() >= p.perCap {
			continue
		}
		if w := c.weight.Load(); w < fullWeight && int32(p.randN(fullWeight)) >= w {
			continue
		}
		return c
	}
	return list[start%n]
}
