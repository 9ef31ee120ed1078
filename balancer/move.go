package balancer

import (
	"context"
	"errors"
	"fmt"

	"github.com/impalalb/impalalb/conn"
)

// Sessions that move. A coordinator that is shutting down refuses new
// statements but lets the running ones finish; one that restarted has
// forgotten its sessions; one removed from the pool should get no more
// work. A session handed out on such a coordinator moves, at its next
// statement, to another one with its database and query options: the
// pool opens a session where its policy says (the lease's affinity key
// keeps its sticky placement), the session adopts it and replays its
// state there, and the old one is closed. The session decides when (it
// knows whether a statement may have run: such a statement is never sent
// twice); the lease does the move.

// Placer is implemented by a Session that wants to know how each lease
// placed it: by an affinity key, or not (leastconn, round-robin).
// *conn.Session uses it for automatic SYNC_DDL.
type Placer interface {
	Placed(byKey bool)
}

// Movable is implemented by a Session that can move to another
// coordinator (*conn.Session): at each hand-out the pool gives it the
// lease as its conn.Mover.
type Movable interface {
	SetMover(conn.Mover)
}

// Adopter is implemented by a Session that can take over another, new
// session of the same kind, replaying its own state there
// (*conn.Session's Adopt). A lease's move needs it.
type Adopter[S Session] interface {
	Adopt(ctx context.Context, from S) error
}

var _ conn.Mover = (*Lease[*conn.Session])(nil)

// bind tells the lease's session how it was placed and that the lease
// moves it.
func (l *Lease[S]) bind() {
	if l.e.placer != nil {
		l.e.placer.Placed(l.e.policy == Affinity)
	}
	if l.e.movable != nil {
		l.e.movable.SetMover(l)
	}
}

// Retiring reports whether the lease's coordinator should take no more
// statements of its session: it is down, draining or removed, while
// another coordinator is up. It implements conn.Mover.
func (l *Lease[S]) Retiring() bool {
	return l.e.c.getState() != StateUp && !l.p.snap.Load().degraded
}

// Move moves the lease's session to another coordinator: it acquires a
// session as the lease was acquired (same key, same policy), has the
// lease's session adopt it ([Adopter]), and closes the old connection,
// whose coordinator is marked as cause says (draining when it is shutting
// down). The holder keeps its session value; [Lease.Coordinator] reports
// the new coordinator. It implements conn.Mover: *conn.Session calls it
// when a statement cannot run where it is. The session must have no
// statement in flight.
func (l *Lease[S]) Move(ctx context.Context, cause error) error {
	if l.done.Load() {
		return errors.New("balancer: move of a released lease")
	}
	ad, ok := any(l.e.s).(Adopter[S])
	if !ok {
		return fmt.Errorf("balancer: sessions of type %T cannot move", l.e.s)
	}
	p, from := l.p, l.e.c
	switch {
	case errors.Is(cause, conn.ErrShuttingDown):
		p.markDraining(from, cause)
	case errors.Is(cause, conn.ErrSessionGone):
		// The coordinator forgot the session (a restart, an expiry): it
		// may take a new one.
	case cause != nil && !errors.Is(cause, conn.ErrOperationFailed):
		// The connection was lost and could not be reattached: have the
		// loop check the coordinator now.
		p.suspect(from)
	}
	a := acquire[S]{p: p, key: l.e.key, policy: l.e.policy}
	if l.e.policy == Affinity && l.e.key == "" {
		a.key = p.defaultKey
	}
	nl, err := a.run(ctx)
	if err != nil {
		return fmt.Errorf("balancer: move from %s: %w", from.addr, err)
	}
	if err := ad.Adopt(ctx, nl.e.s); err != nil {
		nl.Discard()
		return fmt.Errorf("balancer: move from %s to %s: %w", from.addr, nl.e.c.addr, err)
	}
	// The lease's session now runs on the new connection, and the new
	// session value holds the old one: exchange them between the two
	// entries, so that each entry's session is on its entry's coordinator,
	// keep the new entry and close the old.
	old, moved := l.e, nl.e
	old.s, moved.s = moved.s, old.s
	old.live, moved.live = moved.live, old.live
	old.breaker, moved.breaker = moved.breaker, old.breaker
	old.reset, moved.reset = moved.reset, old.reset
	old.reattach, moved.reattach = moved.reattach, old.reattach
	old.placer, moved.placer = moved.placer, old.placer
	old.movable, moved.movable = moved.movable, old.movable
	l.e, nl.e = moved, old
	nl.Discard()
	from.movedAway.Add(1)
	p.moves.Add(1)
	l.bind()
	if p.log != nil {
		p.log.Info("balancer: session moved", "from", from.addr, "to", moved.c.addr, "cause", cause)
	}
	return nil
}
