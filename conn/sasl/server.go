package sasl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// Accept runs the server side of the SASL negotiation on c and returns the
// open transport with the authenticated user name. mechs maps mechanism
// names to factories; a client that asks for another mechanism gets BAD
// ("unsupported mechanism ...") and Accept returns an error wrapping
// ErrUnknownMechanism. A mechanism's Step error is sent to the client with
// BAD (so it must not hold secrets) and returned. On failure c is closed
// and the error is a *HandshakeError.
//
// Accept sets no deadline; use AcceptContext, or set one on c.
func Accept(c net.Conn, mechs map[string]ServerMechanismFactory, cfg Config) (*Transport, string, error) {
	return AcceptContext(context.Background(), c, mechs, cfg)
}

// AcceptContext is Accept bounded by ctx: its deadline is set on the
// connection for the negotiation and its cancellation interrupts pending
// I/O. When it returns, the connection has no deadline.
func AcceptContext(ctx context.Context, c net.Conn, mechs map[string]ServerMechanismFactory, cfg Config) (tr *Transport, user string, err error) {
	if c == nil {
		return nil, "", errors.New("sasl: Accept: nil net.Conn")
	}
	if err := cfg.Validate(); err != nil {
		return nil, "", err
	}
	t := newTransport(c, cfg, "server")
	done := t.bindContext(ctx)
	defer func() {
		done(&err)
		if err != nil {
			_ = t.Close()
			t.debug("sasl handshake failed", slog.String("error", err.Error()))
			tr, user = nil, ""
		}
	}()
	user, err = t.serverNegotiate(mechs)
	return t, user, err
}

func (t *Transport) serverNegotiate(mechs map[string]ServerMechanismFactory) (string, error) {
	fail := func(step string, err error) error {
		return &HandshakeError{Side: t.side, Mechanism: t.mechName, Step: step, Err: err}
	}
	m, err := readMessage(t.br, t.cfg.MaxNegotiationSize)
	if err != nil {
		var he *messageHeaderError
		switch {
		case errors.As(err, &he):
			t.sendFailure(StatusError, "expected a SASL START message")
			err = &notSASLError{peer: "client", header: he}
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("client closed the connection before START: %w", err)
		}
		return "", fail("read start", err)
	}
	if m.status != StatusStart {
		t.sendFailure(StatusError, fmt.Sprintf("expected START, received %s", m.status))
		return "", fail("read start", fmt.Errorf("%w: client sent %s instead of START", ErrProtocol, m.status))
	}
	name := string(m.payload)
	factory := mechs[name]
	if factory == nil {
		t.sendFailure(StatusBad, fmt.Sprintf("unsupported mechanism %q", name))
		return "", fail("select mechanism", fmt.Errorf("%w %q", ErrUnknownMechanism, name))
	}
	sm := factory()
	if sm == nil {
		t.sendFailure(StatusError, "server failed to set up the mechanism")
		return "", fail("select mechanism", fmt.Errorf("sasl: factory for %q returned nil", name))
	}
	t.mechName = name
	t.debug("sasl start received")

	for round := 1; round <= maxRounds; round++ {
		step := fmt.Sprintf("read response %d", round)
		m, err := readMessage(t.br, t.cfg.MaxNegotiationSize)
		if err != nil {
			return "", fail(step, err)
		}
		switch m.status {
		case StatusBad, StatusError:
			return "", &HandshakeError{Side: t.side, Mechanism: name, Step: step,
				Status: m.status, PeerMessage: peerMessage(m.payload)}
		case StatusOK, StatusComplete:
		default:
			t.sendFailure(StatusError, fmt.Sprintf("unexpected %s", m.status))
			return "", fail(step, fmt.Errorf("%w: client sent %s", ErrProtocol, m.status))
		}
		step = fmt.Sprintf("evaluate response %d", round)
		challenge, done, err := sm.Step(m.payload)
		if err != nil {
			t.sendFailure(StatusBad, err.Error())
			return "", fail(step, err)
		}
		if done {
			b, err := appendMessage(nil, StatusComplete, challenge)
			if err == nil {
				err = t.send(b)
			}
			if err != nil {
				return "", fail("send complete", err)
			}
			t.finish(sm)
			return sm.User(), nil
		}
		if m.status == StatusComplete {
			t.sendFailure(StatusError, "client completed before the server mechanism")
			return "", fail(step, fmt.Errorf("%w: client said COMPLETE before the server mechanism finished", ErrProtocol))
		}
		b, err := appendMessage(nil, StatusOK, challenge)
		if err == nil {
			err = t.send(b)
		}
		if err != nil {
			return "", fail(fmt.Sprintf("send challenge %d", round), err)
		}
	}
	t.sendFailure(StatusError, "too many negotiation rounds")
	return "", fail("negotiate", fmt.Errorf("%w: more than %d rounds", ErrProtocol, maxRounds))
}
