package balancer

import (
	"strings"
	"time"
)

// The sticky table keeps each affinity key on the coordinator it was placed
// on, as HAProxy's "stick-table ... expire" keeps a source on its server: a
// key moves only when its coordinator is down, draining or removed, or
// when it was not used for StickyExpire (or fell out of a full table).
// Without it, rendezvous hashing with a bounded load re-decided every
// acquire, and a key moved whenever the loads shifted (several keys on one
// coordinator, slow start's ramp), which can put a key's SELECT on a
// coordinator that has not yet seen its CREATE TABLE.
//
// The table is used under Pool.pickMu only: a map of keys to entries and a
// list of the entries from most to least recently used, so that a lookup
// allocates nothing, and expiry and eviction take the list's tail. Time is
// counted in epochs of StickyExpire/16, which the background loop
// advances (Pool.epoch), because reading the clock costs more than the
// rest of a pick; an entry moves to the list's front once per epoch, so
// the order is least recently used to within an epoch, and a key expires
// after 16 to 17 epochs without use.

// stickyEntry is one key's placement.
type stickyEntry[S Session] struct {
	key string
	c   *coord[S]
	// home is the key's rendezvous choice among every member when that one
	// was down and the key was placed elsewhere: with Config.ReturnHome the
	// key goes back there, once, when it is up at full weight. Nil
	// otherwise.
	home       *coord[S]
	used       int64 // epoch of the latest acquire
	prev, next *stickyEntry[S]
}

// stickyTable is the bounded, expiring table of keys to coordinators.
type stickyTable[S Session] struct {
	size   int
	expire bool // whether keys expire, after stickyEpochs epochs
	m      map[string]*stickyEntry[S]
	// head is the most recently used entry, tail the least.
	head, tail *stickyEntry[S]
}

// stickyEpochs is the number of epochs after which an unused key expires:
// an epoch is StickyExpire/stickyEpochs.
const stickyEpochs = 16

// stickyEpoch is the length of an epoch for a StickyExpire; without
// expiry, epochs only order the list, and a minute will do.
func stickyEpoch(expire time.Duration) time.Duration {
	if expire <= 0 {
		return time.Minute
	}
	return max(expire/stickyEpochs, time.Millisecond)
}

func newStickyTable[S Session](size int, expire bool) *stickyTable[S] {
	return &stickyTable[S]{size: size, expire: expire, m: make(map[string]*stickyEntry[S])}
}

// get returns the live entry of key, marked as used in epoch now, or nil.
// An entry past its expiry is removed.
func (t *stickyTable[S]) get(key string, now int64) *stickyEntry[S] {
	e := t.m[key]
	if e == nil {
		return nil
	}
	if t.expired(e, now) {
		t.remove(e)
		return nil
	}
	if e.used != now {
		e.used = now
		t.toFront(e)
	}
	return e
}

func (t *stickyTable[S]) expired(e *stickyEntry[S], now int64) bool {
	return t.expire && now-e.used > stickyEpochs
}

// put records a new key's placement, evicting the least recently used
// entry when the table is full.
func (t *stickyTable[S]) put(key string, c, home *coord[S], now int64) *stickyEntry[S] {
	for len(t.m) >= t.size && t.tail != nil {
		t.remove(t.tail)
	}
	e := &stickyEntry[S]{key: strings.Clone(key), c: c, home: home, used: now}
	c.keys.Add(1)
	t.m[e.key] = e
	t.pushFront(e)
	return e
}

// move places an entry's key on c.
func (t *stickyTable[S]) move(e *stickyEntry[S], c *coord[S]) {
	e.c.keys.Add(-1)
	c.keys.Add(1)
	e.c = c
}

// trim removes the expired entries, oldest first, at most max of them; it
// reports whether it stopped at max.
func (t *stickyTable[S]) trim(now int64, max int) bool {
	for n := 0; t.tail != nil && t.expired(t.tail, now); n++ {
		if n == max {
			return true
		}
		t.remove(t.tail)
	}
	return false
}

func (t *stickyTable[S]) remove(e *stickyEntry[S]) {
	e.c.keys.Add(-1)
	delete(t.m, e.key)
	t.unlink(e)
}

func (t *stickyTable[S]) unlink(e *stickyEntry[S]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *stickyTable[S]) pushFront(e *stickyEntry[S]) {
	e.next = t.head
	if t.head != nil {
		t.head.prev = e
	}
	t.head = e
	if t.tail == nil {
		t.tail = e
	}
}

func (t *stickyTable[S]) toFront(e *stickyEntry[S]) {
	if t.head == e {
		return
	}
	t.unlink(e)
	t.pushFront(e)
}

// moveReason says why an affinity key left its coordinator.
type moveReason uint8

const (
	moveNone     moveReason = iota
	moveDown                // its coordinator went down: moved for good
	moveDraining            // its coordinator is draining or was removed: moved for good
	moveHome                // Config.ReturnHome: back to the coordinator it left when that went down
	moveOverflow            // its coordinator is at MaxPerCoordinator: this acquire only
)

func (r moveReason) String() string {
	switch r {
	case moveDown:
		return "coordinator down"
	case moveDraining:
		return "coordinator draining or removed"
	case moveHome:
		return "returned home"
	case moveOverflow:
		return "coordinator at MaxPerCoordinator (this acquire only)"
	}
	return "none"
}

// keyEvent is a move of an affinity key (a pointer, nil for none: a pick
// that moves nothing copies no event), reported by an acquire once it
// left Pool.pickMu.
type keyEvent struct {
	kind     moveReason
	key      string
	from, to string
}
