package sasl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/impalalb/impalalb/internal/saslwire"
)

var (
	// ErrRejected is wrapped by a *HandshakeError when the peer ended the
	// negotiation with BAD or ERROR: wrong credentials, an unsupported
	// mechanism, a failure on the peer's side. The peer's message is in
	// HandshakeError.PeerMessage. It is wrapped too when the server closed
	// the connection instead of answering the client's credentials, as
	// Impala does when it refuses them. The peer itself is reachable and
	// speaks SASL; whether the refusal is the client's fault (a wrong
	// password) or the server's (a keytab without the service principal)
	// depends on the mechanism: package conn's Error.ClientSide decides.
	ErrRejected = errors.New("sasl: peer rejected the authentication")

	// ErrFrameTooLarge is wrapped by the error for a data frame or a
	// negotiation message whose length prefix exceeds the configured limit
	// (Config.MaxFrameSize, Config.MaxNegotiationSize). Nothing of the
	// claimed size is allocated; the connection cannot be used afterwards.
	ErrFrameTooLarge = saslwire.ErrFrameTooLarge

	// ErrNotSASL is wrapped by the handshake error when the server's first
	// reply is not a SASL negotiation message: an HTTP endpoint, a Thrift
	// server without SASL (NOSASL), or anything else on the port.
	ErrNotSASL = saslwire.ErrNotSASL

	// ErrProtocol is wrapped by errors for a message that breaks the
	// negotiation rules: an unknown status byte, a status out of turn, a
	// peer that says COMPLETE while the local mechanism is not done.
	ErrProtocol = saslwire.ErrProtocol

	// ErrNotOpen is returned by Read, Write and Flush before the handshake
	// has completed and after Close.
	ErrNotOpen = saslwire.ErrNotOpen
)

// HandshakeError is returned when the SASL negotiation fails. Callers
// branch with errors.Is on ErrRejected, ErrNotSASL, ErrProtocol,
// ErrFrameTooLarge, io.EOF or a context error, all reachable through
// Unwrap.
type HandshakeError struct {
	// Side is the side that reports the error: "client" for the errors of
	// Handshake.
	Side string
	// Mechanism is the SASL mechanism name (empty only on a server that
	// failed before it learned it).
	Mechanism string
	// Step names where the negotiation stopped, e.g. "send start",
	// "read reply 1", "evaluate challenge 2".
	Step string
	// Status is StatusBad or StatusError when the peer rejected the
	// negotiation, zero otherwise.
	Status Status
	// PeerMessage is the message the peer sent with BAD or ERROR, cut to
	// 1 KiB.
	PeerMessage string
	// Err is the underlying cause; nil when the peer rejected the
	// negotiation and nothing else went wrong.
	Err error
}

// Error returns a message starting "sasl:" that names the side, mechanism
// and step, and quotes the peer's message if there is one.
func (e *HandshakeError) Error() string {
	var b strings.Builder
	b.WriteString("sasl: ")
	if e.Mechanism != "" {
		b.WriteString(e.Mechanism)
		b.WriteByte(' ')
	}
	b.WriteString(e.Side)
	b.WriteString(" handshake failed")
	if e.Step != "" {
		b.WriteString(" at ")
		b.WriteString(e.Step)
	}
	if e.Rejected() {
		peer := "server"
		if e.Side == "server" {
			peer = "client"
		}
		fmt.Fprintf(&b, ": %s answered %s %q", peer, e.Status, e.PeerMessage)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "sasl: "))
	}
	return b.String()
}

// Rejected reports whether the peer ended the negotiation with BAD or ERROR.
func (e *HandshakeError) Rejected() bool {
	return e.Status == StatusBad || e.Status == StatusError
}

// Unwrap returns the cause, and ErrRejected when the peer rejected the
// negotiation.
func (e *HandshakeError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Rejected() {
		errs = append(errs, ErrRejected)
	}
	return errs
}

// closedDuringAuth reports a server that closed the connection instead of
// answering the client's first message, which carries its credentials:
// Impala's way of refusing them (TSaslTransport::doSaslNegotiation, in
// Impala's be/src/transport/TSaslTransport.cpp, rethrows the
// authentication failure without a BAD frame, and the connection closes).
// A server that does not speak SASL rather waits for more bytes.
type closedDuringAuth struct{ err error }

func (e *closedDuringAuth) Error() string {
	return "sasl: the server closed the connection during authentication (the credentials were refused, or it does not speak SASL): " + e.err.Error()
}

func (e *closedDuringAuth) Unwrap() []error { return []error{e.err, ErrRejected} }
