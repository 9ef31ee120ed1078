package sasl

import "context"

// Mechanism is one SASL mechanism on the client side of Thrift's SASL
// transport. A Mechanism value serves one handshake: Dial calls Start once,
// then Step for every challenge the server sends until the server answers
// COMPLETE. It is called from the dialing goroutine only.
//
// When the server answers COMPLETE before Step has reported done, the
// transport calls Step once more with the server's final data (possibly
// empty) and ignores its response; if the mechanism still does not report
// done the handshake fails, so that a server cannot skip a step such as
// mutual authentication. A mechanism that is done right after Start may
// say so through the optional [Completer] interface. Errors of Start and
// Step are sent to the server with BAD and must not hold secrets.
//
// PLAIN lives in this package; GSSAPI (RFC 4752) lives in package kerberos.
// Package conn dials with a Mechanism.
type Mechanism interface {
	// Name is the SASL mechanism name sent in the START frame ("PLAIN", "GSSAPI").
	Name() string
	// Start returns the initial response. host is the host part of the
	// address being dialed (a mechanism may ignore it, e.g. GSSAPI with a
	// kerberos_host_fqdn override).
	Start(ctx context.Context, host string) ([]byte, error)
	// Step answers one server challenge. done reports that the client side
	// has nothing more to send after this response.
	Step(ctx context.Context, challenge []byte) (response []byte, done bool, err error)
}

// SecurityLayer is implemented by a Mechanism that negotiated a quality of
// protection other than "auth" (auth-int, auth-conf). After the handshake
// every data frame's payload is passed through Wrap on the way out and Unwrap
// on the way in. A mechanism that negotiated "auth" returns false from
// Active and is not asked to wrap.
type SecurityLayer interface {
	Active() bool
	Wrap(p []byte) ([]byte, error)
	Unwrap(p []byte) ([]byte, error)
}

// MechanismFactory makes a new Mechanism for each connection.
type MechanismFactory func() (Mechanism, error)
