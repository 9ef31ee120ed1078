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
	var sigAt, deadAt atomic.Int64
	var before, after []int64
	var down atomic.Int64
	during := func(ctx context.Context, t0 time.Time, t *target) {
		if st, err := e.proxy.Stats(ctx); err == nil && mode == modeHAProxy {
			s := st[victim]
			before = []int64{s.ConnectErrors, s.Retries, s.Redispatches}
		}
		select {
		case <-time.After(time.Until(t0.Add(cfg.foKillAt))):
		case <-ctx.Done():
			return
		}
		// Statements begun before the signal were in flight; those begun
		// until the process is gone (reaped) met a dying coordinator whose
		// sockets were still open; those begun later had every chance to
		// avoid it.
		e.coords[victim].Kill(func() { sigAt.Store(time.Now().UnixNano()) })
		deadAt.Store(time.Now().UnixNano())
		logf("failover %s: coordinator %d killed", mode, victim+1)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if down.Load() != 0 {
				if mode == modeHAProxy {
					if st, err := e.proxy.Stats(ctx); err == nil {
						s := st[victim]
						after = []int64{s.ConnectErrors, s.Retries, s.Redispatches}
					}
				}
				continue
			}
			switch mode {
			case modeImpalalb:
				if cs, ok := t.pool.Stats().Coordinator(e.coords[victim].Addr()); ok && cs.State == balancer.StateDown {
					down.Store(time.Now().UnixNano())
				}
			case modeHAProxy:
				if st, err := e.proxy.Stats(ctx); err == nil && !st[victim].Up() {
					down.Store(time.Now().UnixNano())
				}
			}
		}
	}
	res, err := runCell(ctx, e, cellSpec{mode: mode, wl: wl, clients: cfg.foClients,
		warmup: cfg.warmup, dur: cfg.foDuration, bucket: cfg.bucket, during: during,
		sigAt: &sigAt, deadAt: &deadAt, errPause: 10 * time.Millisecond, think: cfg.foThink})
	if err != nil {
		return nil, err
	}
	fo.cell = res
	if d := down.Load(); d != 0 {
		fo.downAfter = time.Duration(d - sigAt.Load())
	}
	fo.dying = time.Duration(deadAt.Load() - sigAt.Load())
	if before != nil && after != nil {
		fo.connErrs, fo.retries, fo.redispatches = after[0]-before[0], after[1]-before[1], after[2]-before[2]
	}
	if n := len(res.lat); n > 0 {
		fo.maxLatency = res.lat[n-1]
	}
	return fo, nil
}
