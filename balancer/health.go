package balancer

import (
	"context"
	"errors"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/impalalb/impalalb/conn"
)

// slowStartFloor is the weight a coordinator starts its slow start with.
const slowStartFloor = fullWeight / 16

// maxParallelChecks bounds the health checks the loop runs at once.
const maxParallelChecks = 16

// maxLoopSleep bounds how long the background loop sleeps between passes.
const maxLoopSleep = time.Minute

// pruneEvery is the period of the background socket check of idle sessions
// (sooner when an acquire found a cut one).
const pruneEvery = 15 * time.Second

// markDown takes c out of the snapshot after a failure, closes its idle
// sessions and schedules its first re-probe. Called from acquires (passive
// health) and from the background loop (active health). A draining
// coordinator that stops answering is down too.
func (p *Pool[S]) markDown(c *coord[S], err error) {
	p.leave(c, StateDown, err, StateUp, StateDraining)
}

// markDraining takes c out of the snapshot because it refused new work
// while shutting down (conn.ErrShuttingDown): as markDown, but the
// sessions it runs go on and move to another coordinator for their next
// statement, and it is shown as draining.
func (p *Pool[S]) markDraining(c *coord[S], err error) {
	p.leave(c, StateDraining, err, StateUp, StateDown)
}

// leave moves c from one of the states from to to (down or draining):
// out of the snapshot, idle sessions closed, first re-probe scheduled.
func (p *Pool[S]) leave(c *coord[S], to State, err error, from ...State) {
	now := p.now()
	p.pickMu.Lock()
	c.mu.Lock()
	c.failures.Add(1)
	c.failSeq.Store(p.failSeq.Add(1))
	c.lastErr, c.lastErrAt = err, now
	if !slices.Contains(from, c.getState()) {
		c.mu.Unlock()
		p.pickMu.Unlock()
		return
	}
	wasUp := c.getState() == StateUp
	c.state.Store(int32(to))
	c.rise, c.fall = 0, 0
	if wasUp || c.backoff == 0 {
		c.backoff = p.cfg.BackoffMin
	}
	c.nextCheck = now.Add(p.jitter(c.backoff))
	if c.out.ejectUntil.After(c.nextCheck) {
		c.nextCheck = c.out.ejectUntil // ejected: not even probed before
	}
	idle := c.idleList
	c.idleList = nil
	c.idle.Store(0)
	c.mu.Unlock()
	p.rebuild()
	p.pickMu.Unlock()
	for _, e := range idle {
		p.closeEntry(e)
	}
	p.stateChanged(c, to, err)
	p.kickLoop()
}

// markFailed takes c down or draining as err says.
func (p *Pool[S]) markFailed(c *coord[S], err error) {
	if errors.Is(err, conn.ErrShuttingDown) {
		p.markDraining(c, err)
		return
	}
	p.markDown(c, err)
}

// suspect asks the background loop to check an up coordinator at once; a
// failed check then takes it down without waiting for Fall.
func (p *Pool[S]) suspect(c *coord[S]) {
	c.mu.Lock()
	if c.getState() == StateUp && !c.suspect {
		c.suspect = true
		c.nextCheck = p.now()
	}
	c.mu.Unlock()
	p.kickLoop()
}

// markUp brings a down or draining coordinator back, with slow start.
func (p *Pool[S]) markUp(c *coord[S]) {
	now := p.now()
	p.pickMu.Lock()
	c.mu.Lock()
	if st := c.getState(); st != StateDown && st != StateDraining {
		c.mu.Unlock()
		p.pickMu.Unlock()
		return
	}
	c.state.Store(int32(StateUp))
	c.rise, c.fall = 0, 0
	c.backoff = 0
	c.out.ejected = false
	if p.cfg.Interval > 0 {
		c.nextCheck = now.Add(p.cfg.Interval)
	}
	if p.cfg.SlowStart > 0 {
		c.upSince = now
		c.weight.Store(slowStartFloor)
	}
	c.mu.Unlock()
	p.rebuild()
	p.pickMu.Unlock()
	p.stateChanged(c, StateUp, nil)
	p.broadcast()
	p.kickLoop()
}

// loop is the pool's one background goroutine.
func (p *Pool[S]) loop() {
	defer close(p.loopDone)
	t := time.NewTimer(maxLoopSleep)
	defer t.Stop()
	for {
		t.Reset(p.maintain())
		select {
		case <-p.closing:
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

// maintain does one pass: health checks and re-probes that are due, slow
// start ramps, idle expiry, removal of drained members. It returns how long
// to sleep before the next pass.
func (p *Pool[S]) maintain() time.Duration {
	if p.closed.Load() {
		return maxLoopSleep
	}
	now := p.now()
	next := now.Add(maxLoopSleep)
	earlier := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	p.mu.Lock()
	coords := append([]*coord[S](nil), p.coords...)
	p.mu.Unlock()
	due, stale, drained := p.survey(coords, now, earlier)
	for _, e := range stale {
		p.closeEntry(e)
	}
	p.pruneIfDue(coords, now)
	earlier(time.Unix(0, p.nextPrune.Load()))
	p.advanceEpoch(now, earlier)
	if drained {
		p.removeDrained()
	}
	if len(due) > 0 {
		p.runChecks(due)
		return 0 // recompute the schedule with the results
	}
	return max(next.Sub(p.now()), time.Millisecond)
}

// survey goes over coords, each under its lock: it returns those whose
// check or re-probe is due, the idle sessions that expired (taken out of
// the idle lists, for the caller to close) and whether a removed member
// has no session left; it ramps up slow starts, and tells earlier when the
// next of these falls due.
func (p *Pool[S]) survey(coords []*coord[S], now time.Time, earlier func(time.Time)) (due []*coord[S], stale []*entry[S], drained bool) {
	for _, c := range coords {
		c.mu.Lock()
		switch c.getState() {
		case StateRemoved:
			if c.open.Load() == 0 {
				drained = true
			}
		case StateDown, StateDraining:
			if checkDue(c, now, earlier) {
				due = append(due, c)
			}
		case StateUp:
			if (p.cfg.Interval > 0 || c.suspect) && checkDue(c, now, earlier) {
				due = append(due, c)
			}
			p.rampUp(c, now, earlier)
			stale = p.expireIdle(c, now, stale, earlier)
		}
		c.mu.Unlock()
	}
	return due, stale, drained
}

// checkDue reports whether c's next check is due at now (c.mu held); when
// it is not, it tells earlier when it will be.
func checkDue[S Session](c *coord[S], now time.Time, earlier func(time.Time)) bool {
	if !now.Before(c.nextCheck) {
		return true
	}
	earlier(c.nextCheck)
	return false
}

// pruneIfDue runs pruneDead over the up coordinators with idle sessions
// every pruneEvery, or sooner when an acquire found a cut idle session.
func (p *Pool[S]) pruneIfDue(coords []*coord[S], now time.Time) {
	if !p.pruneWanted.Swap(false) && now.UnixNano() < p.nextPrune.Load() {
		return
	}
	p.nextPrune.Store(now.Add(pruneEvery).UnixNano())
	for _, c := range coords {
		if c.getState() == StateUp && c.idle.Load() > 0 {
			p.pruneDead(c)
		}
	}
}

// advanceEpoch moves the sticky table's clock to now and trims the keys
// that expired, telling earlier when the next epoch starts (or now, when
// expired keys are left for the next pass). Without a sticky table it does
// nothing.
func (p *Pool[S]) advanceEpoch(now time.Time, earlier func(time.Time)) {
	if p.sticky == nil {
		return
	}
	ep := int64(now.Sub(p.epochStart) / p.tick)
	p.epoch.Store(ep)
	earlier(p.epochStart.Add(time.Duration(ep+1) * p.tick))
	if p.trimSticky(ep) {
		earlier(now) // more expired keys than one pass takes
	}
}

// rampUp sets c's slow-start weight for now and tells earlier when to
// raise it again.
func (p *Pool[S]) rampUp(c *coord[S], now time.Time, earlier func(time.Time)) {
	if c.weight.Load() >= fullWeight {
		return
	}
	w := p.slowWeight(c, now)
	c.weight.Store(w)
	if w < fullWeight {
		earlier(now.Add(max(p.cfg.SlowStart/32, time.Millisecond)))
	}
}

// expireIdle takes c's expired idle sessions out of its idle list (c.mu
// held), appends them to stale, and tells earlier when the next of those
// kept expires.
func (p *Pool[S]) expireIdle(c *coord[S], now time.Time, stale []*entry[S], earlier func(time.Time)) []*entry[S] {
	keep := c.idleList[:0]
	for _, e := range c.idleList {
		if p.idleExpired(e, now) {
			stale = append(stale, e)
			continue
		}
		keep = append(keep, e)
		if p.cfg.MaxIdleTime > 0 {
			earlier(e.lastUsed.Add(p.cfg.MaxIdleTime))
		}
		if !e.expires.IsZero() {
			earlier(e.expires)
		}
	}
	clear(c.idleList[len(keep):])
	c.idleList = keep
	c.idle.Store(int32(len(keep)))
	return stale
}

func (p *Pool[S]) idleExpired(e *entry[S], now time.Time) bool {
	if p.cfg.MaxIdleTime > 0 && now.Sub(e.lastUsed) > p.cfg.MaxIdleTime {
		return true
	}
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (p *Pool[S]) slowWeight(c *coord[S], now time.Time) int32 {
	el := now.Sub(c.upSince)
	if p.cfg.SlowStart <= 0 || el >= p.cfg.SlowStart {
		return fullWeight
	}
	w := int32(int64(fullWeight) * int64(el) / int64(p.cfg.SlowStart))
	return max(w, slowStartFloor)
}

func (p *Pool[S]) removeDrained() {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.coords[:0]
	for _, c := range p.coords {
		if c.getState() == StateRemoved && c.open.Load() == 0 {
			// The sticky table may still point to c: its keys move at
			// their next acquire, as for any draining coordinator.
			continue
		}
		keep = append(keep, c)
	}
	clear(p.coords[len(keep):])
	p.coords = keep
}

// maxTrimPerPass bounds the expired keys one pass of the background loop
// removes, so that it holds the pick lock briefly.
const maxTrimPerPass = 4096

// trimSticky removes expired keys from the sticky table; it reports
// whether some are left for the next pass.
func (p *Pool[S]) trimSticky(epoch int64) bool {
	p.pickMu.Lock()
	defer p.pickMu.Unlock()
	return p.sticky.trim(epoch, maxTrimPerPass)
}

// runChecks checks the due coordinators in parallel and applies the results.
func (p *Pool[S]) runChecks(due []*coord[S]) {
	results := make([]error, len(due))
	var g errgroup.Group
	g.SetLimit(maxParallelChecks)
	for i, c := range due {
		g.Go(func() error {
			results[i] = p.check(c.addr)
			return nil
		})
	}
	_ = g.Wait()
	if p.closed.Load() {
		return
	}
	for i, c := range due {
		p.applyCheck(c, results[i])
	}
}

// check is one protocol-level health check: the Dialer's Check, or Dial,
// Ping and Close.
func (p *Pool[S]) check(addr string) error {
	ctx, cancel := context.WithTimeout(p.bgCtx, p.cfg.CheckTimeout)
	defer cancel()
	if p.checker != nil {
		return p.checker.Check(ctx, addr)
	}
	s, err := p.dialer.Dial(ctx, addr)
	if err != nil {
		return err
	}
	if isNil(s) {
		return errors.New("balancer: Dialer returned a nil Session")
	}
	err = s.Ping(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkVerdict is what a check result does to a coordinator beyond its
// counters: applyCheck's steps decide it under c.mu and applyCheck acts on
// it once c.mu is released (markFailed, markUp and restarted take pickMu,
// which comes before it).
type checkVerdict uint8

const (
	checkCounted    checkVerdict = iota // counted toward Rise or Fall; the state stays
	checkFailed                         // markFailed: down, or draining when it refuses
	checkRisen                          // markUp: Rise reached
	checkRestarted                      // restarted: a draining coordinator answered
	checkClientSide                     // the client's own failure: no verdict, logged
)

// applyCheck counts a check result toward Rise or Fall.
func (p *Pool[S]) applyCheck(c *coord[S], err error) {
	now := p.now()
	c.mu.Lock()
	var v checkVerdict
	switch st := c.getState(); {
	case err != nil && clientSide(err):
		v = p.clientSideCheck(c, err, now)
	case st == StateUp:
		v = p.upCheck(c, err, now)
	case st == StateDown || st == StateDraining:
		v = p.downCheck(c, err, now)
	}
	c.mu.Unlock()
	switch v {
	case checkFailed:
		p.markFailed(c, err)
	case checkRisen:
		p.markUp(c)
	case checkRestarted:
		p.restarted(c)
	case checkClientSide:
		if p.log != nil {
			p.log.Warn("balancer: health check failed on the client's side; coordinator state kept", "coordinator", c.addr, "err", err)
		}
	}
}

// clientSideCheck records a check that failed on the client's side (c.mu
// held) and schedules the next one; it never changes c's state.
func (p *Pool[S]) clientSideCheck(c *coord[S], err error, now time.Time) checkVerdict {
	// The client's own failure (its KDC unreachable, its credentials
	// expired) says nothing of the coordinator: no verdict either way.
	// Taking it down would close its idle sessions, which still serve
	// without the KDC.
	c.lastErr, c.lastErrAt = err, now
	c.suspect = false
	if c.getState() == StateUp {
		if p.cfg.Interval > 0 {
			c.nextCheck = now.Add(p.cfg.Interval)
		}
	} else {
		c.nextCheck = now.Add(p.jitter(max(c.backoff, p.cfg.BackoffMin)))
	}
	return checkClientSide
}

// upCheck counts a check of an up coordinator toward Fall (c.mu held); it
// says checkFailed when c is to go down or drain.
func (p *Pool[S]) upCheck(c *coord[S], err error, now time.Time) checkVerdict {
	if p.cfg.Interval > 0 {
		c.nextCheck = now.Add(p.cfg.Interval)
	}
	suspect := c.suspect
	c.suspect = false
	if err == nil {
		c.fall = 0
		return checkCounted
	}
	c.fall++
	if c.fall >= p.cfg.Fall || suspect || errors.Is(err, conn.ErrShuttingDown) {
		// A refusal says it all at once: the coordinator is shutting
		// down.
		return checkFailed
	}
	c.failures.Add(1)
	c.lastErr, c.lastErrAt = err, now
	return checkCounted
}

// downCheck counts a re-probe of a down or draining coordinator toward
// Rise (c.mu held) and schedules the next one, backing off while it fails.
func (p *Pool[S]) downCheck(c *coord[S], err error, now time.Time) checkVerdict {
	st := c.getState()
	if err == nil && c.out.ejected && now.Before(c.out.ejectUntil) {
		// Ejected: a check that was already running when it was ejected
		// passes (it answers pings; its statements are what fail), and
		// does not count before the ejection time is up.
		c.nextCheck = c.out.ejectUntil
		return checkCounted
	}
	if err == nil {
		c.rise++
		if c.rise >= p.cfg.Rise {
			return checkRisen
		}
		c.nextCheck = now.Add(p.jitter(p.cfg.BackoffMin))
		if st == StateDraining {
			// Draining and answering: it restarted (a shutdown is not
			// undone). Down until Rise, and so tried by acquires while
			// no coordinator is up.
			return checkRestarted
		}
		return checkCounted
	}
	refusing := errors.Is(err, conn.ErrShuttingDown)
	if (st == StateDown && refusing) || (st == StateDraining && !refusing) {
		// Down and now refusing: it is back, shutting down; draining and
		// no longer answering: it is gone, for now.
		return checkFailed
	}
	c.rise = 0
	c.failures.Add(1)
	c.failSeq.Store(p.failSeq.Add(1))
	c.lastErr, c.lastErrAt = err, now
	if st == StateDraining {
		// Still refusing: alive, and back soon after its grace period. No
		// backing off, so that its return is seen soon.
		c.backoff = p.cfg.BackoffMin
	} else {
		c.backoff = min(max(c.backoff*2, p.cfg.BackoffMin), p.cfg.BackoffMax)
	}
	c.nextCheck = now.Add(p.jitter(c.backoff))
	return checkCounted
}

// restarted takes a draining coordinator that answered a check to down,
// its rise kept: it is no longer shutting down, and while no coordinator
// is up acquires try it (a success brings it up).
func (p *Pool[S]) restarted(c *coord[S]) {
	p.pickMu.Lock()
	c.mu.Lock()
	if c.getState() != StateDraining {
		c.mu.Unlock()
		p.pickMu.Unlock()
		return
	}
	c.state.Store(int32(StateDown))
	c.mu.Unlock()
	p.rebuild()
	p.pickMu.Unlock()
	if p.log != nil {
		p.log.Info("balancer: coordinator answers again after its shutdown (restarted); down until it rises", "coordinator", c.addr)
	}
	if p.onState != nil {
		p.onState(c.addr, StateDown)
	}
}
