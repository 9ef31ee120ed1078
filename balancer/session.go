package balancer

import (
	"context"
	"reflect"
)

// Session is what the pool needs of a session on one coordinator: a cheap
// round trip and a close. [*conn.Session] is one; tests use fakes.
//
// The pool never runs a statement on a Session: it only dials, pings,
// resets and closes. A Session is used by one goroutine at a time: by the
// pool while it is idle, by the holder of its [Lease] otherwise.
//
// What else the pool can do with a session is declared by the optional
// interfaces [LivenessChecker], [Resetter] and [Reattacher], which the pool
// looks for once, when the session is dialed.
type Session interface {
	// Ping makes a cheap round trip (PingImpalaHS2Service on HS2,
	// PingImpalaService on beeswax). A nil error also proves that the
	// coordinator still knows the session.
	Ping(ctx context.Context) error
	// Close ends the session and its connection. The pool calls it once.
	Close() error
}

// LivenessChecker is implemented by a [Session] that can tell, without a
// round trip and without blocking, whether its socket is still open. The
// pool calls Alive before it hands out an idle session; false means the
// peer closed or reset the connection (a proxy that drops idle
// connections, a coordinator that restarted).
type LivenessChecker interface {
	Alive() bool
}

// Breaker is implemented by a [Session] that knows, without a system
// call, that it cannot be used again (its connection broke in the middle
// of a call). The pool closes such a session at release instead of
// keeping it idle.
type Breaker interface {
	Broken() bool
}

// Resetter is implemented by a [Session] that tracks changes a user made to
// it (SET, USE). When NeedsReset reports true at release, the pool calls
// Reset (in the background: Release does not wait) to restore the pool's
// query options and database before anyone else gets the session; if Reset
// fails, the session is closed. One user's options never leak to the next.
type Resetter interface {
	NeedsReset() bool
	Reset(ctx context.Context) error
}

// Reattacher is implemented by a [Session] whose server-side state can
// outlive its connection (Impala keeps a disconnected HS2 session for
// disconnected_session_timeout). When an idle session's socket is found
// dead, or its Ping fails, and CanReattach reports true, the pool first
// calls Reattach, which should open a new connection to the same
// coordinator and resume the same session; if it fails, the session is
// closed and replaced by a new one. CanReattach reports false for sessions
// whose type has the method but whose state dies with the connection
// (conn's beeswax sessions).
type Reattacher interface {
	CanReattach() bool
	Reattach(ctx context.Context) error
}

// Dialer opens sessions of type S. The pool calls Dial from the goroutine
// of the [Pool.Acquire] that needs a new session, with a context bounded
// by [Config.DialTimeout], and from its background loop for health checks
// when the Dialer is not a [Checker].
//
// Dial covers everything up to a usable session (TCP, TLS, SASL,
// OpenSession, the pool's options). It never sends a user's statement, so
// any error from Dial means nothing of the caller's work reached a
// coordinator: the pool marks the coordinator down and redispatches the
// acquire. The exception is a failure that is the client's own, an error
// whose chain holds a [ClientSideError] that reports true: the acquire
// fails with it at once and the coordinator's state is kept, since every
// coordinator would refuse the same way.
type Dialer[S Session] interface {
	Dial(ctx context.Context, addr string) (S, error)
}

// Checker is optionally implemented by a [Dialer] to check a coordinator's
// health at protocol level (for example connect, handshake and ping) more
// cheaply than a full session. Without it, the pool checks with Dial, Ping
// and Close. A nil error means healthy.
type Checker interface {
	Check(ctx context.Context, addr string) error
}

// ClientSideError is implemented by errors that can say the failure is the
// client's own rather than the coordinator's: package kerberos's errors
// for an unreachable KDC or expired credentials, package conn's for
// credentials the server refused. When a Dial or a health check fails with
// an error whose chain holds one that reports true, the pool neither marks
// the coordinator down nor redispatches (every coordinator would refuse
// the same way, and trying would lock an LDAP account out).
type ClientSideError interface {
	error
	ClientSide() bool
}

// isNil reports whether a Dialer returned no session: a nil interface or a
// nil pointer (or other nil-able value) in it.
func isNil[S Session](s S) bool { return isNilValue(any(s)) }

// isNilValue reports whether v is nil or a nil pointer (or other nil-able
// value) in an interface.
func isNilValue(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
