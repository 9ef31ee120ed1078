package sasl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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
	t := newTransport(c, cfg, "client")
	t.mech = mech
	t.mechName = mech.Name()
	return t, nil
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
func (t *Transport) Handshake(ctx context.Context, host string) (err error) {
	if t.mech == nil {
		return errors.New("sasl: Handshake called on a server transport")
	}
	if t.started {
		return errors.New("sasl: Handshake called twice")
	}
	if t.closed.Load() {
		return ErrNotOpen
	}
	t.started = true
	done := t.bindContext(ctx)
	defer func() {
		done(&err)
		if err != nil {
			_ = t.Close()
			t.debug("sasl handshake failed", slog.String("error", err.Error()))
		}
	}()
	return t.clientNegotiate(ctx, host)
}

func (t *Transport) clientNegotiate(ctx context.Context, host string) error {
	fail := func(step string, err error) error {
		return &HandshakeError{Side: t.side, Mechanism: t.mechName, Step: step, Err: err}
	}
	name := t.mechName
	if name == "" || len(name) > 255 {
		return fail("start", fmt.Errorf("sasl: invalid mechanism name of %d bytes", len(name)))
	}
	initial, err := t.mech.Start(ctx, host)
	if err != nil {
		return fail("start mechanism", err)
	}
	done := false
	if c, ok := t.mech.(Completer); ok {
		done = c.Complete()
	}
	st := StatusOK
	if done {
		st = StatusComplete
	}
	b, _ := appendMessage(make([]byte, 0, 2*messageHeaderLen+len(name)+len(initial)), StatusStart, []byte(name))
	b, err = appendMessage(b, st, initial)
	if err != nil {
		return fail("send start", err)
	}
	t.debug("sasl send start", slog.String("status", st.String()))
	if err := t.send(b); err != nil {
		return fail("send start", err)
	}

	for round := 1; round <= maxRounds; round++ {
		step := fmt.Sprintf("read reply %d", round)
		m, err := readMessage(t.br, t.cfg.MaxNegotiationSize)
		if err != nil {
			return fail(step, t.classifyReadError(err, round == 1))
		}
		t.debug("sasl received", slog.String("status", m.status.String()), slog.Int("round", round))
		switch m.status {
		case StatusBad, StatusError:
			return &HandshakeError{Side: t.side, Mechanism: name, Step: step,
				Status: m.status, PeerMessage: peerMessage(m.payload)}
		case StatusOK:
			step = fmt.Sprintf("evaluate challenge %d", round)
			if done {
				t.sendFailure(StatusError, "client mechanism is already complete")
				return fail(step, fmt.Errorf("%w: server sent a challenge after the client mechanism completed", ErrProtocol))
			}
			resp, d, err := t.mech.Step(ctx, m.payload)
			if err != nil {
				t.sendFailure(StatusBad, err.Error())
				return fail(step, err)
			}
			done = d
			st := StatusOK
			if done {
				st = StatusComplete
			}
			b, err := appendMessage(nil, st, resp)
			if err != nil {
				return fail(step, err)
			}
			if err := t.send(b); err != nil {
				return fail(fmt.Sprintf("send response %d", round), err)
			}
		case StatusComplete:
			if !done {
				step = "evaluate final data"
				_, d, err := t.mech.Step(ctx, m.payload)
				if err != nil {
					return fail(step, err)
				}
				if !d {
					return fail(step, fmt.Errorf("%w: server said COMPLETE before the client mechanism finished", ErrProtocol))
				}
			}
			t.finish(t.mech)
			return nil
		default: // StatusStart
			t.sendFailure(StatusError, "unexpected START from server")
			return fail(step, fmt.Errorf("%w: server sent %s", ErrProtocol, m.status))
		}
	}
	t.sendFailure(StatusError, "too many negotiation rounds")
	return fail("negotiate", fmt.Errorf("%w: more than %d rounds", ErrProtocol, maxRounds))
}

// classifyReadError explains a failed read of a negotiation message. On the
// peer's first message, a header that is not SASL means the peer speaks
// something else, and a close means it may not speak SASL at all.
func (t *Transport) classifyReadError(err error, first bool) error {
	var he *messageHeaderError
	if errors.As(err, &he) {
		if first {
			return &notSASLError{peer: "server", header: he}
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
