package kerberos

import (
	"errors"
	"strings"

	"github.com/impalalb/impalalb/internal/gss"
)

// Sentinel errors name why a Kerberos step failed. An [*Error] wraps one of
// them when the reason is known: test with errors.Is.
var (
	// ErrUnknownPrincipal means the KDC does not know the principal (client
	// or service) that was asked for.
	ErrUnknownPrincipal = gss.ErrUnknownPrincipal
	// ErrClockSkew means the clocks of client, KDC or service differ too
	// much.
	ErrClockSkew = gss.ErrClockSkew
	// ErrKDCUnreachable means no KDC of the realm answered.
	ErrKDCUnreachable = gss.ErrKDCUnreachable
	// ErrExpired means credentials (ticket, credential cache, password or
	// key) have expired and cannot be renewed.
	ErrExpired = gss.ErrExpired
	// ErrBadCredentials means the password or key was refused.
	ErrBadCredentials = gss.ErrBadCredentials
	// ErrProtocol means a GSSAPI or SASL token was malformed, failed its
	// integrity check, or came out of order.
	ErrProtocol = errors.New("GSSAPI protocol error")
	// ErrClosed means the Client was closed.
	ErrClosed = errors.New("client closed")
)

// Error is a failed Kerberos step. It names the principal that was asked
// for and wraps a sentinel saying why (Reason, nil when unknown) and the
// underlying error. It never holds key material or passwords.
type Error struct {
	// Op is the step: "login", "renew", "service ticket", "initiate",
	// "security layer", "wrap", "unwrap".
	Op string
	// Principal is the principal asked for (user or service), with realm.
	Principal string
	// Reason is one of the sentinel errors of this package, or nil when
	// the reason is not known.
	Reason error
	// Err is the underlying error, or nil.
	Err error
}

// Error formats "kerberos: <op> <principal>: <reason>: <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kerberos: ")
	b.WriteString(e.Op)
	if e.Principal != "" {
		b.WriteString(" ")
		b.WriteString(e.Principal)
	}
	if inner, ok := e.Err.(*Error); ok { //nolint:errorlint // only a direct cause is folded in: a deeper one keeps the text that wraps it
		// One step failed inside another: "service ticket X: login Y: why".
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(inner.Error(), "kerberos: "))
		return b.String()
	}
	if e.Reason != nil {
		b.WriteString(": ")
		b.WriteString(e.Reason.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Reason and Err, so that errors.Is sees both.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Reason != nil {
		errs = append(errs, e.Reason)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// newError wraps err for op and principal, classifying it when no reason is
// given. An err that already is an *Error is returned as is.
func newError(op, principal string, reason, err error) error {
	var ke *Error
	if errors.As(err, &ke) {
		return err
	}
	if reason == nil {
		reason = gss.Classify(err)
	}
	return &Error{Op: op, Principal: principal, Reason: reason, Err: err}
}

// ClientSide reports whether the failure is this client's own — its
// credentials (expired, refused), its KDC (unreachable, clock skew) or a
// closed Client — rather than the coordinator's. Such a failure would be
// the same on every coordinator, so package balancer neither marks the
// coordinator down for it nor tries the next one.
func (e *Error) ClientSide() bool {
	switch e.Op {
	case "login", "renew", "service ticket", "initiate":
	default:
		return false
	}
	for _, r := range []error{ErrKDCUnreachable, ErrExpired, ErrBadCredentials, ErrClockSkew, ErrClosed} {
		if errors.Is(e, r) {
			return true
		}
	}
	return false
}
