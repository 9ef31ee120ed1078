package balancer

import "context"

// Session is one open session on one coordinator, as the pool sees it.
//
// The pool never runs a statement on a Session: it only dials, pings, resets
// and closes. A Session is used by one goroutine at a time: by the pool while
// it is idle, by the holder of its [Lease] otherwise.
type Session interface {
	// Ping makes a cheap round trip (PingImpalaHS2Service on HS2,
	// PingImpalaService on beeswax). A nil error also proves that the
	// coordinator still knows the session.
	Ping(ctx context.Context) error
	// Close ends the session and its connection. The pool calls it once.
	Close() error
}

// LivenessChecker is implemented by a [Session] that can tell, without a
// round trip and without blocking, whether its socket is still open. The pool
// calls Alive before it hands out an idle session; false means the peer
// closed or reset the connection (a proxy that drops idle connections, a
// coordinator that restarted).
type LivenessChecker interface {
	Alive() bool
}

// Resetter is implemented by a [Session] that tracks changes a user made to
// it (SET, USE). When NeedsReset reports true at release, the pool calls
// Reset to restore the pool's query options and database before anyone else
// gets the session; if Reset fails, the session is closed. One user's options
// never leak to the next.
type Resetter interface {
	NeedsReset() bool
	Reset(ctx context.Context) error
}

// Reattacher is implemented by a [Session] whose server-side state can
// outlive its connection (Impala keeps a disconnected HS2 session for
// disconnected_session_timeout). When an idle session's socket is found dead,
// or its Ping fails, the pool first calls Reattach, which should open a new
// connection to the same coordinator and resume the same session; if it
// fails, the session is closed and replaced by a new one.
//
// A Session whose type has Reattach but cannot use it (conn's beeswax
// sessions: beeswax state dies with its connection) also has a method
// CanReattach() bool that returns false; the pool then treats it as having
// no Reattach.
type Reattacher interface {
	Reattach(ctx context.Context) error
}

// Dialer opens sessions. The pool calls Dial from the goroutine of the
// [Pool.Acquire] that needs a new session, with a context bounded by
// [Config.DialTimeout], and from its background loop for health checks when
// the Dialer is not a [Checker].
//
// Dial covers everything up to a usable session (TCP, TLS, SASL,
// OpenSession, the pool's options). It never sends a user's statement, so any
// error from Dial means nothing of the caller's work reached a coordinator:
// the pool marks the coordinator down and redispatches the acquire. The
// exception is a failure that is the client's own: when an error in the
// chain has a method ClientSide() bool that returns true (package
// kerberos's errors do for an unreachable KDC or expired credentials), the
// acquire fails with it at once and the coordinator stays up, since every
// coordinator would refuse the same way; an active health check that fails
// so leaves the coordinator's state as it was.
type Dialer interface {
	Dial(ctx context.Context, addr string) (Session, error)
}

// Checker is optionally implemented by a [Dialer] to check a coordinator's
// health at protocol level (for example connect, handshake and ping) more
// cheaply than a full session. Without it, the pool checks with Dial, Ping
// and Close. A nil error means healthy.
type Checker interface {
	Check(ctx context.Context, addr string) error
}
