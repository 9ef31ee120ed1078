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

// pick chooses a coordinator from s for one acquire. It is called from any
// goroutine, never blocks, never locks and never allocates.
func (p *Pool[S]) pick(s *snapshot[S], key string, policy Policy) *coord[S] {
	list := s.list
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	if s.degraded {
		return leastRecentlyFailed(list)
	}
	switch policy {
	case Affinity:
		return p.pickAffinity(s, key)
	case RoundRobin:
		return p.pickRoundRobin(list)
	default:
		return p.pickLeast(list)
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
// about to be added, divided by the slow-start weight; among equals, one
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
	o := uint64(max(busy, 0)) + 1
	if w := c.weight.Load(); w >= fullWeight {
		score = o << 10
	} else {
		score = (o << 20) / uint64(max(w, 1))
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

func (p *Pool[S]) pickAffinity(s *snapshot[S], key string) *coord[S] {
	kh := hashString(key)
	bi, bestH := 0, mix64(kh^s.hashes[0])
	for i := 1; i < len(s.hashes); i++ {
		if h := mix64(kh ^ s.hashes[i]); h > bestH {
			bi, bestH = i, h
		}
	}
	best := s.list[bi]
	if best.busy() <= 0 {
		return best // an idle coordinator is always under its bound
	}
	var total int64
	for _, c := range s.list {
		total += int64(c.busy())
	}
	limit := max(int64(math.Ceil(p.cfg.LoadFactor*float64(total+1)/float64(len(s.list)))), int64(p.cfg.MinAffinityLoad))
	if p.underLimit(best, limit) {
		return best
	}
	// Walk down the key's rendezvous order to the first coordinator under
	// its bound. Rare (only under skew), so recomputing hashes is fine.
	prev := bestH
	for range len(s.list) - 1 {
		ni, nextH := -1, uint64(0)
		for i, sh := range s.hashes {
			if h := mix64(kh ^ sh); h < prev && (ni < 0 || h > nextH) {
				ni, nextH = i, h
			}
		}
		if ni < 0 {
			break
		}
		if p.underLimit(s.list[ni], limit) {
			return s.list[ni]
		}
		prev = nextH
	}
	// Only when the per-coordinator cap stops every one: any with room.
	return p.pickLeast(s.list)
}

// underLimit reports whether c can take one more busy session under the
// bounded-load limit (scaled by its slow-start weight) and the cap.
func (p *Pool[S]) underLimit(c *coord[S], limit int64) bool {
	b := c.busy()
	if b >= p.perCap {
		return false
	}
	if w := c.weight.Load(); w < fullWeight {
		limit = max(1, limit*int64(w)/fullWeight)
	}
	return int64(b)+1 <= limit
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
