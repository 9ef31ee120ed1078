package kerberos

import (
	"errors"
	"strings"
)

// Sentinel errors name why a Kerberos step failed. An [*Error] wraps one of
// them when the reason is known: test with errors.Is.
var (
	// ErrUnknownPrincipal: the KDC does not know the principal (client or
	// service) that was asked for.
	ErrUnknownPrincipal = errors.New("no such principal in the realm")
	// ErrClockSkew: clocks of client, KDC or service differ too much.
	ErrClockSkew = errors.New("clock skew too large")
	// ErrKDCUnreachable: no KDC of the realm answered.
	ErrKDCUnreachable = errors.New("KDC unreachable")
	// ErrExpired: credentials (ticket, credential cache, password or key)
	// have expired and cannot be renewed.
	ErrExpired = errors.New("credentials expired")
	// ErrBadCredentials: the password or key was refused.
	ErrBadCredentials = errors.New("password or key refused")
	// ErrNotInKeytab: the acceptor's keytab holds no key for the service
	// principal the client's ticket is for.
	ErrNotInKeytab = errors.New("service principal not in the acceptor's keytab")
	// ErrProtocol: a GSSAPI or SASL token was malformed, failed its integrity
	// check, or came out of order.
	ErrProtocol = errors.New("GSSAPI protocol error")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client closed")
)

// Error is a failed Kerberos step. It names the principal that was asked
// for and wraps a sentinel saying why (Reason, nil when unknown) and the
// underlying error. It never holds key material or passwords.
type Error struct {
	// Op is the step: "login", "renew", "service ticket", "initiate",
	// "accept", "security layer", "wrap", "unwrap".
	Op string
	// Principal is the principal asked for (user or service), with realm.
	Principal string
	// Reason is one of the sentinel errors of this package, or nil.
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
	if inner, ok := e.Err.(*Error); ok {
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
		reason = classify(err)
	}
	return &Error{Op: op, Principal: principal, Reason: reason, Err: err}
}

// classify maps gokrb5's error texts (which carry the RFC 4120 error code
// names, but not as typed values) to the sentinels.
func classify(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("KDC_ERR_S_PRINCIPAL_UNKNOWN", "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return ErrUnknownPrincipal
	case has("KRB_AP_ERR_SKEW", "clock skew"):
		return ErrClockSkew
	case has("KRB_AP_ERR_TKT_EXPIRED", "KDC_ERR_KEY_EXPIRED", "KDC_ERR_CLIENT_REVOKED", "KDC_ERR_TGT_REVOKED",
		"KDC_ERR_CANNOT_POSTDATE", "KRB_AP_ERR_TKT_NYV", "ticket is expired", "ticket expired"):
		return ErrExpired
	case has("KDC_ERR_PREAUTH_FAILED", "KRB_AP_ERR_BAD_INTEGRITY", "client password/keytab incorrect",
		"Matching key not found in keytab"):
		return ErrBadCredentials
	case has("Networking_Error", "error sending to a KDC", "communication error with KDC",
		"failed to communicate with KDC", "no KDC", "connection refused", "i/o timeout"):
		return ErrKDCUnreachable
	}
	return nil
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
