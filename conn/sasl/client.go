package sasl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/impalalb/impalalb/internal/saslwire"
)

// Completer is an optional interface of a Mechanism. Complete reports
// whether the client has finished its side of the exchange; the transport
// asks it right after Start. A mechanism that is done after its initial
// response (PLAIN) implements it, and the initial response then goes out
// with COMPLETE, as Thrift's Java client sends it; otherwise it goes out
// with OK, as the Python client (thrift_sasl) sends it. Servers accept both.
type Completer interface {
	Complete() bool
}

// NewClient returns the client side of a SASL transport over c that will
// authenticate with mech. Call Handshake before using it. c is not touched
// until then.
func NewClient(c net.Conn, mech Mechanism, cfg Config) (*Transport, error) {
	if c == nil {
		return nil, errors.New("sasl: NewClient: nil net.Conn")
	}
	if mech == nil {
		return nil, errors.New("sasl: NewClient: nil Mechanism")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := saslwire.New(c, "client", cmp.Or(cfg.MaxFrameSize, DefaultMaxFrameSize),
		cmp.Or(cfg.MaxNegotiationSize, DefaultMaxNegotiationSize), cfg.Logger)
	w.SetMechanism(mech.Name())
	return &Transport{w: w, mech: mech}, nil
}

// Handshake runs the client side of the SASL negotiation: START with the
// mechanism name and the initial response, then the mechanism's answers to
// the server's challenges until the server says COMPLETE. host is passed to
// the mechanism's Start (the host part of the dialed address).
//
// ctx bounds the whole negotiation: its deadline is set on the connection,
// and its cancellation interrupts pending I/O; when Handshake returns, the
// connection has no deadline. On failure the connection is closed and the
// error is a *HandshakeError (see its Unwrap for what callers can test).
// Handshake may be called once per Transport.
func (t *Transport) Handshake(ctx context.Context, host string) error {
	if t.started {
		return errors.New("sasl: Handshake called twice")
	}
	if t.w.Closed() {
		return ErrNotOpen
	}
	t.started = true
	return t.w.Handshake(ctx, func() (*error, error) {
		if he := t.clientNegotiate(ctx, host); he != nil {
			return &he.Err, he
		}
		return nil, nil
	})
}

// clientNegotiate runs the negotiation; it returns nil or the failure.
func (t *Transport) clientNegotiate(ctx context.Context, host string) *HandshakeError {
	name := t.w.Mechanism()
	if name == "" || len(name) > 255 {
		return t.failed("start", fmt.Errorf("sasl: invalid mechanism name of %d bytes", len(name)))
	}
	done, he := t.sendStart(ctx, host)
	if he != nil {
		return he
	}
	for round := 1; round <= saslwire.MaxRounds; round++ {
		step := fmt.Sprintf("read reply %d", round)
		m, err := t.w.ReadMessage()
		if err != nil {
			return t.failed(step, classifyReadError(err, round == 1))
		}
		status := Status(m.Status)
		t.w.Debug("sasl received", slog.String("status", status.String()), slog.Int("round", round))
		switch status {
		case StatusBad, StatusError:
			return &HandshakeError{Side: "client", Mechanism: name, Step: step,
				Status: status, PeerMessage: saslwire.PeerMessage(m.Payload)}
		case StatusOK:
			if done, he = t.answerChallenge(ctx, round, m.Payload, done); he != nil {
				return he
			}
		case StatusComplete:
			return t.acceptComplete(ctx, m.Payload, done)
		default: // StatusStart
			t.w.SendFailure(byte(StatusError), "unexpected START from server")
			return t.failed(step, fmt.Errorf("%w: server sent %s", ErrProtocol, status))
		}
	}
	t.w.SendFailure(byte(StatusError), "too many negotiation rounds")
	return t.failed("negotiate", fmt.Errorf("%w: more than %d rounds", ErrProtocol, saslwire.MaxRounds))
}

// failed is the client's failure at step, caused by err.
func (t *Transport) failed(step string, err error) *HandshakeError {
	return &HandshakeError{Side: "client", Mechanism: t.w.Mechanism(), Step: step, Err: err}
}

// sendStart starts the mechanism and sends START with its name and the
// initial response. done reports whether the mechanism finished with it
// (a Completer that says so); the response then goes with COMPLETE.
func (t *Transport) sendStart(ctx context.Context, host string) (done bool, he *HandshakeError) {
	name := t.w.Mechanism()
	initial, err := t.mech.Start(ctx, host)
	if err != nil {
		return false, t.failed("start mechanism", err)
	}
	if c, ok := t.mech.(Completer); ok {
		done = c.Complete()
	}
	st := stepStatus(done)
	b, _ := saslwire.AppendMessage(make([]byte, 0, 2*saslwire.MessageHeaderLen+len(name)+len(initial)), byte(StatusStart), []byte(name))
	b, err = saslwire.AppendMessage(b, byte(st), initial)
	if err != nil {
		return false, t.failed("send start", err)
	}
	t.w.Debug("sasl send start", slog.String("status", st.String()))
	if err := t.w.Send(b); err != nil {
		return false, t.failed("send start", err)
	}
	return done, nil
}

// answerChallenge answers the server's challenge of round with the
// mechanism's next response, and reports whether the mechanism is done.
// done says it was before: a challenge then is a protocol error. Failures
// are also sent to the server.
func (t *Transport) answerChallenge(ctx context.Context, round int, challenge []byte, done bool) (bool, *HandshakeError) {
	step := fmt.Sprintf("evaluate challenge %d", round)
	if done {
		t.w.SendFailure(byte(StatusError), "client mechanism is already complete")
		return true, t.failed(step, fmt.Errorf("%w: server sent a challenge after the client mechanism completed", ErrProtocol))
	}
	resp, done, err := t.mech.Step(ctx, challenge)
	if err != nil {
		t.w.SendFailure(byte(StatusBad), err.Error())
		return false, t.failed(step, err)
	}
	b, err := saslwire.AppendMessage(nil, byte(stepStatus(done)), resp)
	if err != nil {
		return done, t.failed(step, err)
	}
	if err := t.w.Send(b); err != nil {
		return done, t.failed(fmt.Sprintf("send response %d", round), err)
	}
	return done, nil
}

// acceptComplete ends the negotiation at the server's COMPLETE. When the
// mechanism was not done yet, it evaluates the payload (final) and must
// finish with it.
func (t *Transport) acceptComplete(ctx context.Context, final []byte, done bool) *HandshakeError {
	if !done {
		const step = "evaluate final data"
		_, d, err := t.mech.Step(ctx, final)
		if err != nil {
			return t.failed(step, err)
		}
		if !d {
			return t.failed(step, fmt.Errorf("%w: server said COMPLETE before the client mechanism finished", ErrProtocol))
		}
	}
	t.w.Finish(t.mech)
	return nil
}

// stepStatus is the status a client message goes with: COMPLETE once the
// mechanism is done, OK while it is not.
func stepStatus(done bool) Status {
	if done {
		return StatusComplete
	}
	return StatusOK
}

// classifyReadError explains a failed read of a negotiation message. On the
// peer's first message, a header that is not SASL means the peer speaks
// something else, and a close means it may not speak SASL at all.
func classifyReadError(err error, first bool) error {
	var he *saslwire.HeaderError
	if errors.As(err, &he) {
		if first {
			return &saslwire.NotSASLError{Peer: "server", Header: he}
		}
		return err
	}
	if first && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return &closedDuringAuth{err: err}
	}
	if first && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no SASL answer before the deadline (a server without SASL waits silently): %w", err)
	}
	return err
}
