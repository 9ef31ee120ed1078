package balancer

import (
	"fmt"
	"time"

	"github.com/impalalb/impalalb/conn"
)

// Outlier ejection, as Envoy's outlier detection: health checks prove that
// a coordinator accepts sessions and answers pings, not that it runs
// statements. One that hangs every statement (a stuck planner, a wedged
// catalog), or whose connections break under statements, would stay up
// and take its share of the work forever. So the sessions tell their lease
// how each statement ended ([conn.Observer]; a lease implements it):
// OutlierFailures consecutive timeouts or transport failures on one
// coordinator within OutlierWindow, while another is up and not failing,
// and while it still passes a health check (a dead coordinator goes down
// as a failed check takes it down, and returns when it answers again),
// eject it: it is taken down as by a failed dial (its idle sessions
// closed, the sessions in use move at their next statement, which never
// runs twice), and it is not even probed for OutlierEjectTime, which
// doubles at each ejection that follows up to OutlierEjectTimeMax. Then
// health checks bring it back through Rise and slow start. No more than
// OutlierMaxEjected of the members (at least one, never all) are ejected
// at once.
//
// On the hot path, a statement the coordinator answered costs one atomic
// load (the coordinator's failure count, zero when nothing fails).

// outlier is a coordinator's outlier-detection state. streak is read
// without a lock; the rest is guarded by coord.mu.
type outlier struct {
	streak      int32     // consecutive failures, under coord.mu (streakN mirrors it)
	streakStart time.Time // the first failure of the streak
	deciding    bool      // a check before ejecting runs (considerEjecting)
	ejected     bool      // down because of an ejection, until markUp
	ejections   int       // ejections in a row, for the doubling
	ejectUntil  time.Time // no re-probe before
	total       uint64    // ejections ever, for Stats
}

// CoordinatorAnswered tells the pool that the coordinator of the lease's
// session answered a statement (with rows or with the statement's own
// error). It implements conn.Observer; *conn.Session calls it.
func (l *Lease[S]) CoordinatorAnswered() {
	if c := l.e.c; c.streakN.Load() != 0 {
		c.mu.Lock()
		c.out.streak = 0
		c.streakN.Store(0)
		c.mu.Unlock()
	}
}

// CoordinatorFailed tells the pool that a statement of the lease's session
// got no answer from its coordinator: its deadline passed, or the
// connection was lost, reset or answered with what is not Impala's
// protocol. Enough of them in a row eject the coordinator (see
// [Config.OutlierFailures]). It implements conn.Observer; *conn.Session
// calls it.
func (l *Lease[S]) CoordinatorFailed(err error) {
	p, c := l.p, l.e.c
	if p.cfg.OutlierFailures < 0 {
		return
	}
	now := p.now()
	c.mu.Lock()
	if w := p.cfg.OutlierWindow; c.out.streak == 0 || (w > 0 && now.Sub(c.out.streakStart) > w) {
		c.out.streak, c.out.streakStart = 0, now
	}
	c.out.streak++
	n := c.out.streak
	c.streakN.Store(n)
	c.mu.Unlock()
	if int(n) >= p.cfg.OutlierFailures {
		p.considerEjecting(c, n, err)
	}
}

// considerEjecting checks c as a health check does, on a background task,
// before it ejects c: ejection is for a coordinator that passes its health
// checks and still fails statements. One that fails the check (a killed
// coordinator whose in-flight statements all failed at once) is dead, not
// an outlier: it goes down as a failed check takes it, and comes back
// through Rise as soon as it answers again, where an ejection would keep
// it out for OutlierEjectTime after its restart. One check at a time per
// coordinator.
func (p *Pool[S]) considerEjecting(c *coord[S], n int32, cause error) {
	c.mu.Lock()
	if c.out.deciding || c.getState() != StateUp {
		c.mu.Unlock()
		return
	}
	c.out.deciding = true
	c.mu.Unlock()
	p.bg.goDo(func() {
		err := p.check(c.addr)
		c.mu.Lock()
		c.out.deciding = false
		c.mu.Unlock()
		switch {
		case p.closed.Load():
		case err == nil:
			p.eject(c, n, cause)
		case clientSide(err):
			// The client's own failure says nothing of the coordinator.
		default:
			p.markFailed(c, err)
		}
	})
}

// eject takes c down for its ejection time when the rules allow: c is up,
// another member is up and not failing, and the ejected ones stay within
// OutlierMaxEjected.
func (p *Pool[S]) eject(c *coord[S], n int32, cause error) {
	p.outlierMu.Lock()
	defer p.outlierMu.Unlock()
	now := p.now()
	p.mu.Lock()
	members, ejected, healthy := 0, 0, 0
	for _, o := range p.coords {
		st := o.getState()
		if st == StateRemoved {
			continue
		}
		members++
		o.mu.Lock()
		if o.out.ejected && st != StateUp {
			ejected++
		}
		o.mu.Unlock()
		if o != c && st == StateUp && o.streakN.Load() == 0 {
			healthy++
		}
	}
	p.mu.Unlock()
	allowed := min(max(int(p.cfg.OutlierMaxEjected*float64(members)), 1), members-1)
	c.mu.Lock()
	if c.getState() != StateUp || healthy == 0 || ejected >= allowed {
		c.mu.Unlock()
		if p.log != nil && c.getState() == StateUp {
			p.log.Warn("balancer: coordinator failing statements, not ejected", "coordinator", c.addr, "failures", n,
				"healthy_others", healthy, "ejected", ejected, "max_ejected", allowed)
		}
		return
	}
	if !c.out.ejectUntil.IsZero() && now.Sub(c.out.ejectUntil) > p.cfg.OutlierEjectTimeMax {
		// In again for long enough since the last ejection: start over.
		c.out.ejections = 0
	}
	d := p.cfg.OutlierEjectTime
	for range min(c.out.ejections, 30) {
		d = min(2*d, p.cfg.OutlierEjectTimeMax)
	}
	c.out.ejections++
	c.out.total++
	c.out.ejected = true
	c.out.ejectUntil = now.Add(d)
	c.out.streak = 0
	c.streakN.Store(0)
	c.mu.Unlock()
	err := &EjectedError{Coordinator: c.addr, Failures: int(n), For: d, Err: cause}
	if p.log != nil {
		p.log.Warn("balancer: coordinator ejected", "coordinator", c.addr, "failures", n, "for", d, "err", cause)
	}
	p.leave(c, StateDown, err, StateUp)
}

// EjectedError is a coordinator's last error (in [CoordinatorStats]) while
// it is ejected: the statement failures that took it out.
type EjectedError struct {
	// Coordinator is the ejected coordinator's address.
	Coordinator string
	// Failures is how many statements in a row failed.
	Failures int
	// For is how long it is out before health checks may bring it back.
	For time.Duration
	// Err is the last failure.
	Err error
}

// Error says which coordinator is out, for how long and why.
func (e *EjectedError) Error() string {
	return fmt.Sprintf("balancer: coordinator %s ejected for %v after %d statements in a row got no answer: %v", e.Coordinator, e.For, e.Failures, e.Err)
}

// Unwrap returns the last failure.
func (e *EjectedError) Unwrap() error { return e.Err }

var _ conn.Observer = (*Lease[*conn.Session])(nil)
