package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// failoverResult is one failover run: a coordinator SIGKILLed at a fixed
// point under steady pooled traffic.
type failoverResult struct {
	mode   modeKind
	cell   *cellResult
	victim int
	// killAt is the kill's offset from the start of the measurement.
	killAt time.Duration
	// downAfter is the time from the kill until the balancing layer took
	// the coordinator out (the pool marked it down; HAProxy's status went
	// DOWN): from then on no new session goes to it. -1 if never seen.
	downAfter time.Duration
	// dying is the time from the SIGKILL until the process was reaped.
	dying time.Duration
	// maxLatency is the slowest successful operation of the run (the
	// kill and what follows it dominate it).
	maxLatency time.Duration
	// HAProxy's counters for the victim over the run.
	connErrs, retries, redispatches int64
}

func runFailover(ctx context.Context, e *env, mode modeKind) (*failoverResult, error) {
	cfg := e.cfg
	victim := len(e.coords) - 1
	// A fresh victim for each run: a process that has served the whole
	// benchmark holds a large heap, which makes it take longer to die.
	if err := e.coords[victim].Restart(ctx); err != nil {
		return nil, err
	}
	if err := e.waitProxyUp(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	stmt := fmt.Sprintf("select sleep(%d)", cfg.foStmt.Milliseconds())
	wl := workload{name: "failover", title: "pooled " + stmt, stmt: func(ctx context.Context, s *conn.Session, _ *rand.Rand) error {
		return runCount(ctx, s, stmt, 1)
	}}
	fo := &failoverResult{mode: mode, victim: victim, killAt: cfg.foKillAt, downAfter: -1}
	k := &failoverKill{e: e, mode: mode, victim: victim}
	res, err := runCell(ctx, e, cellSpec{mode: mode, wl: wl, clients: cfg.foClients,
		warmup: cfg.warmup, dur: cfg.foDuration, bucket: cfg.bucket, during: k.during,
		sigAt: &k.sigAt, deadAt: &k.deadAt, errPause: 10 * time.Millisecond, think: cfg.foThink})
	if err != nil {
		return nil, err
	}
	fo.cell = res
	if d := k.down.Load(); d != 0 {
		fo.downAfter = time.Duration(d - k.sigAt.Load())
	}
	fo.dying = time.Duration(k.deadAt.Load() - k.sigAt.Load())
	if k.before != nil && k.after != nil {
		fo.connErrs, fo.retries, fo.redispatches = k.after[0]-k.before[0], k.after[1]-k.before[1], k.after[2]-k.before[2]
	}
	if n := len(res.lat); n > 0 {
		fo.maxLatency = res.lat[n-1]
	}
	return fo, nil
}

// failoverKill kills the victim during a failover run and watches the
// balancing layer take it out.
type failoverKill struct {
	e      *env
	mode   modeKind
	victim int
	// sigAt and deadAt are when the SIGKILL was sent and when the process
	// was gone; down when the layer was first seen to have taken it out
	// (UnixNano; 0: not yet).
	sigAt, deadAt, down atomic.Int64
	// before and after are HAProxy's counters for the victim (connect
	// errors, retries, redispatches) before the kill and once it is out.
	before, after []int64
}

// during is the run's cellSpec.during: the kill at -failover-kill-at into
// the measurement, then a watch every 5 ms until the measurement ends.
func (k *failoverKill) during(ctx context.Context, t0 time.Time, t *target) {
	e, victim := k.e, k.victim
	if st, err := e.proxy.Stats(ctx); err == nil && k.mode == modeHAProxy {
		s := st[victim]
		k.before = []int64{s.ConnectErrors, s.Retries, s.Redispatches}
	}
	select {
	case <-time.After(time.Until(t0.Add(e.cfg.foKillAt))):
	case <-ctx.Done():
		return
	}
	// Statements begun before the signal were in flight; those begun
	// until the process is gone (reaped) met a dying coordinator whose
	// sockets were still open; those begun later had every chance to
	// avoid it.
	e.coords[victim].Kill(func() { k.sigAt.Store(time.Now().UnixNano()) })
	k.deadAt.Store(time.Now().UnixNano())
	logf("failover %s: coordinator %d killed", k.mode, victim+1)
	every(ctx, 5*time.Millisecond, func() { k.watch(ctx, t) })
}

// watch is one look at the layer after the kill: until the victim is
// out, whether it is; after, HAProxy's counters for it.
func (k *failoverKill) watch(ctx context.Context, t *target) {
	if k.down.Load() == 0 {
		if k.isDown(ctx, t) {
			k.down.Store(time.Now().UnixNano())
		}
		return
	}
	if k.mode == modeHAProxy {
		if st, err := k.e.proxy.Stats(ctx); err == nil {
			s := st[k.victim]
			k.after = []int64{s.ConnectErrors, s.Retries, s.Redispatches}
		}
	}
}

// every calls fn every period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fn()
	}
}

// isDown reports whether the layer has taken the victim out: the pool
// marked it down (impalalb) or its status is no longer UP (HAProxy).
func (k *failoverKill) isDown(ctx context.Context, t *target) bool {
	switch k.mode {
	case modeImpalalb:
		cs, ok := t.pool.Stats().Coordinator(k.e.coords[k.victim].Addr())
		return ok && cs.State == balancer.StateDown
	case modeHAProxy:
		st, err := k.e.proxy.Stats(ctx)
		return err == nil && !st[k.victim].Up()
	}
	return false
}
