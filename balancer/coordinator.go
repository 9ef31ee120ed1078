package balancer

import (
	"sync"
	"sync/atomic"
	"time"
)

// State is a coordinator's health as the pool sees it.
type State int32

const (
	// StateUp means the coordinator takes new sessions.
	StateUp State = iota
	// StateDown means a dial or enough health checks failed; it is
	// re-probed with backoff and takes no new sessions unless every
	// coordinator is down.
	StateDown
	// StateDraining means the coordinator refuses new work because it is
	// shutting down gracefully (Impala's ":shutdown()" or SIGTERM, or a
	// quiescing coordinator of the cluster's membership). It takes no new
	// sessions, its idle sessions are closed, its sessions in use keep the
	// statements they run (Impala lets them finish) and move to another
	// coordinator for their next one; it is re-probed with backoff and
	// comes back, like a down one, through Rise and slow start.
	StateDraining
	// StateRemoved means it is no longer a member
	// ([Pool.SetCoordinators]); its idle sessions are closed, its sessions
	// in use finish their statements and move for their next one or close
	// when released, and it leaves the pool when none is left.
	StateRemoved
)

// String returns "up", "down", "draining" or "removed".
func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	case StateDraining:
		return "draining"
	case StateRemoved:
		return "removed"
	}
	return "unknown"
}

// fullWeight is the slow-start weight of a coordinator at its full share.
const fullWeight = 1024

// coord is one coordinator. Its atomics are read by the pick on the hot path
// and outlive snapshot generations; the fields under mu are written by
// acquire, release and the background loop.
type coord[S Session] struct {
	addr string
	hash uint64 // rendezvous seed, from addr

	open    atomic.Int32  // sessions idle, in use, or being dialed
	idle    atomic.Int32  // len(idleList), readable without mu
	pending atomic.Int32  // acquires between pick and taking a session or slot
	weight  atomic.Int32  // slow-start share, 1..fullWeight
	failSeq atomic.Uint64 // Pool.failSeq at the latest failure: orders retries when all are down
	state   atomic.Int32  // State; written under mu
	keys    atomic.Int32  // affinity keys the sticky table places here
	// retiring counts sessions retired for balance and not yet closed:
	// they no longer count toward this coordinator's load.
	retiring atomic.Int32
	// remote is the other clients' load on it, weighted, ×1024: the
	// cluster-wide term of leastconn's rank (clusterload.go); 0 when off.
	remote atomic.Int64

	dialed     atomic.Uint64
	movedAway  atomic.Uint64 // sessions that moved from here to another coordinator
	retired    atomic.Uint64 // sessions closed at release to even out the load
	failures   atomic.Uint64
	replaced   atomic.Uint64
	reattached atomic.Uint64

	mu        sync.Mutex  // guards the fields below
	idleList  []*entry[S] // LIFO: most recently used last
	lastErr   error
	lastErrAt time.Time
	rise      int           // consecutive successful checks while down
	fall      int           // consecutive failed checks while up
	nextCheck time.Time     // when the background loop checks or re-probes next
	backoff   time.Duration // current re-probe delay while down
	upSince   time.Time     // start of slow start
	suspect   bool          // a dial was cut short by its caller: check now
	out       outlier       // statement failures and ejections (outlier.go)

	// streakN is out.streak, read without the lock by the statements that
	// succeed (outlier.go).
	streakN atomic.Int32
}

func newCoord[S Session](addr string) *coord[S] {
	c := &coord[S]{addr: addr, hash: mix64(hashString(addr))}
	c.weight.Store(fullWeight)
	return c
}

func (c *coord[S]) getState() State { return State(c.state.Load()) }

// busy is the number of sessions in use or being dialed, plus the acquires
// that picked c and have not yet taken a session.
func (c *coord[S]) busy() int32 { return c.open.Load() - c.idle.Load() + c.pending.Load() }

// entry is one pooled session. It lives as long as the session; a Lease
// points to it while the session is handed out.
type entry[S Session] struct {
	s        S
	c        *coord[S]
	live     LivenessChecker
	breaker  Breaker
	reset    Resetter
	reattach Reattacher
	placer   Placer
	movable  Movable
	retiring bool // retired for balance: uncount from coord.retiring when closed
	// key and policy are those of the acquire that handed the session
	// out (in the entry, not the Lease, so that a Lease stays small): a
	// move acquires again with them.
	key      string
	policy   Policy
	expires  time.Time // zero: never
	lastUsed time.Time // set before the entry goes idle
}

// hashString is 64-bit FNV-1a: stable across processes, so every client maps
// a key to the same coordinator.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// lastErrSnapshot returns the latest failure, nil if none.
func (c *coord[S]) lastErrSnapshot() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}
