package balancer

import (
	"context"
	"time"
)

// Hooks are functions the pool calls at points of a session's life, as
// pgxpool's BeforeConnect, AfterConnect, BeforeAcquire and AfterRelease
// do. Every field is optional; nil means no hook. Hooks run on the
// goroutine that triggers them (an Acquire, the background work after a
// Release, the pool's loop) and must be safe for concurrent use.
type Hooks[S Session] struct {
	// AfterDial runs after a session was opened on the coordinator at
	// addr, before the pool hands it out, with the dial's context: to run
	// set-up statements, or to refuse the session. An error closes the
	// session and fails the Acquire with it, wrapped; the coordinator's
	// state is not changed and the acquire is not redispatched, since the
	// hook, not the coordinator, refused.
	AfterDial func(ctx context.Context, addr string, s S) error
	// BeforeAcquire runs before Acquire returns a session, new or idle,
	// with the caller's context. False closes the session and the acquire
	// goes on as if it had not been there.
	BeforeAcquire func(ctx context.Context, s S) bool
	// AfterRelease runs when a released session is about to go back to
	// the pool, after its reset. False closes it instead.
	AfterRelease func(s S) bool
	// BeforeClose runs before the pool closes a session, whatever the
	// reason.
	BeforeClose func(s S)
}

// Tracer traces acquires: [Config.Tracer] is called at the start and the
// end of every [Pool.Acquire], as pgx's AcquireTracer. It must be safe for
// concurrent use and must not block. Package conn's [conn.Tracer] traces
// the statements; one type may implement both (see the root package's
// Config.Tracer).
type Tracer interface {
	// TraceAcquireStart is called when Acquire starts; the context it
	// returns is passed to TraceAcquireEnd.
	TraceAcquireStart(ctx context.Context, data TraceAcquireStartData) context.Context
	// TraceAcquireEnd is called once when Acquire returns.
	TraceAcquireEnd(ctx context.Context, data TraceAcquireEndData)
}

// TraceAcquireStartData describes an acquire.
type TraceAcquireStartData struct {
	// Key is the affinity key given to Acquire ("" for leastconn).
	Key string
}

// TraceAcquireEndData describes how an acquire ended.
type TraceAcquireEndData struct {
	// Coordinator is the address of the session's coordinator; empty on
	// error.
	Coordinator string
	// Duration is the whole acquire; Wait the part of it spent waiting for
	// capacity (MaxPerCoordinator, MaxSessions).
	Duration, Wait time.Duration
	// Dialed reports that a new session was opened (not an idle one
	// reused).
	Dialed bool
	// Redispatches counts the coordinators given up on after a failed
	// dial before this one.
	Redispatches int
	// Err is Acquire's error.
	Err error
}
