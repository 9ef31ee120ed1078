package saslserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/saslwire"
)

// ErrUnknownMechanism is wrapped by Accept's error when the client asked
// for a mechanism that is not offered. The client was told with BAD.
var ErrUnknownMechanism = errors.New("sasl: unsupported mechanism")

// Mechanism is one SASL mechanism on the server side. A value serves one
// handshake, from one goroutine. One that negotiated a security layer
// implements sasl.SecurityLayer as well.
type Mechanism interface {
	// Name is the SASL mechanism name the client selects in its START frame.
	Name() string
	// Step consumes one client response (the first call gets the initial
	// response) and returns the next challenge. done reports that the
	// exchange succeeded; the transport then sends COMPLETE with challenge.
	Step(response []byte) (challenge []byte, done bool, err error)
	// User is the authenticated user name, valid once Step reported done.
	User() string
}

// MechanismFactory makes a new Mechanism for each connection.
type MechanismFactory func() Mechanism

// Accept runs the server side of the SASL negotiation on c and returns the
// open transport with the authenticated user name. mechs maps mechanism
// names to factories; a client that asks for another mechanism gets BAD
// ("unsupported mechanism ...") and Accept returns an error wrapping
// ErrUnknownMechanism. A mechanism's Step error is sent to the client with
// BAD (so it must not hold secrets) and returned. On failure c is closed
// and the error is a *sasl.HandshakeError with Side "server".
//
// Accept sets no deadline; use AcceptContext, or set one on c.
func Accept(c net.Conn, mechs map[string]MechanismFactory, cfg sasl.Config) (*saslwire.Transport, string, error) {
	return AcceptContext(context.Background(), c, mechs, cfg)
}

// AcceptContext is Accept bounded by ctx: its deadline is set on the
// connection for the negotiation and its cancellation interrupts pending
// I/O. When it returns, the connection has no deadline.
func AcceptContext(ctx context.Context, c net.Conn, mechs map[string]MechanismFactory, cfg sasl.Config) (*saslwire.Transport, string, error) {
	if c == nil {
		return nil, "", errors.New("sasl: Accept: nil net.Conn")
	}
	if err := cfg.Validate(); err != nil {
		return nil, "", err
	}
	t := saslwire.New(c, "server", cmp.Or(cfg.MaxFrameSize, sasl.DefaultMaxFrameSize),
		cmp.Or(cfg.MaxNegotiationSize, sasl.DefaultMaxNegotiationSize), cfg.Logger)
	var user string
	err := t.Handshake(ctx, func() (*error, error) {
		var he *sasl.HandshakeError
		if user, he = negotiate(t, mechs); he != nil {
			return &he.Err, he
		}
		return nil, nil
	})
	if err != nil {
		return nil, "", err
	}
	return t, user, nil
}

// negotiate runs the server's side of the exchange on t; it returns the
// user, or the failure.
func negotiate(t *saslwire.Transport, mechs map[string]MechanismFactory) (string, *sasl.HandshakeError) {
	fail := func(step string, err error) *sasl.HandshakeError {
		return &sasl.HandshakeError{Side: "server", Mechanism: t.Mechanism(), Step: step, Err: err}
	}
	m, err := t.ReadMessage()
	if err != nil {
		var he *saslwire.HeaderError
		switch {
		case errors.As(err, &he):
			t.SendFailure(byte(sasl.StatusError), "expected a SASL START message")
			err = &saslwire.NotSASLError{Peer: "client", Header: he}
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("client closed the connection before START: %w", err)
		}
		return "", fail("read start", err)
	}
	if st := sasl.Status(m.Status); st != sasl.StatusStart {
		t.SendFailure(byte(sasl.StatusError), fmt.Sprintf("expected START, received %s", st))
		return "", fail("read start", fmt.Errorf("%w: client sent %s instead of START", sasl.ErrProtocol, st))
	}
	name := string(m.Payload)
	factory := mechs[name]
	if factory == nil {
		t.SendFailure(byte(sasl.StatusBad), fmt.Sprintf("unsupported mechanism %q", name))
		return "", fail("select mechanism", fmt.Errorf("%w %q", ErrUnknownMechanism, name))
	}
	sm := factory()
	if sm == nil {
		t.SendFailure(byte(sasl.StatusError), "server failed to set up the mechanism")
		return "", fail("select mechanism", fmt.Errorf("sasl: factory for %q returned nil", name))
	}
	t.SetMechanism(name)
	t.Debug("sasl start received")

	for round := 1; round <= saslwire.MaxRounds; round++ {
		step := fmt.Sprintf("read response %d", round)
		m, err := t.ReadMessage()
		if err != nil {
			return "", fail(step, err)
		}
		st := sasl.Status(m.Status)
		switch st {
		case sasl.StatusBad, sasl.StatusError:
			return "", &sasl.HandshakeError{Side: "server", Mechanism: name, Step: step,
				Status: st, PeerMessage: saslwire.PeerMessage(m.Payload)}
		case sasl.StatusOK, sasl.StatusComplete:
		default:
			t.SendFailure(byte(sasl.StatusError), fmt.Sprintf("unexpected %s", st))
			return "", fail(step, fmt.Errorf("%w: client sent %s", sasl.ErrProtocol, st))
		}
		step = fmt.Sprintf("evaluate response %d", round)
		challenge, done, err := sm.Step(m.Payload)
		if err != nil {
			t.SendFailure(byte(sasl.StatusBad), err.Error())
			return "", fail(step, err)
		}
		if done {
			if err := t.SendMessage(byte(sasl.StatusComplete), challenge); err != nil {
				return "", fail("send complete", err)
			}
			t.Finish(sm)
			return sm.User(), nil
		}
		if st == sasl.StatusComplete {
			t.SendFailure(byte(sasl.StatusError), "client completed before the server mechanism")
			return "", fail(step, fmt.Errorf("%w: client said COMPLETE before the server mechanism finished", sasl.ErrProtocol))
		}
		if err := t.SendMessage(byte(sasl.StatusOK), challenge); err != nil {
			return "", fail(fmt.Sprintf("send challenge %d", round), err)
		}
	}
	t.SendFailure(byte(sasl.StatusError), "too many negotiation rounds")
	return "", fail("negotiate", fmt.Errorf("%w: more than %d rounds", sasl.ErrProtocol, saslwire.MaxRounds))
}
