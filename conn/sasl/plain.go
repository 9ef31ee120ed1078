package sasl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/impalalb/impalalb/secret"
)

// PlainName is the SASL name of the PLAIN mechanism (RFC 4616), which
// Impala uses for LDAP authentication.
const PlainName = "PLAIN"

// Plain is the client side of SASL PLAIN: it sends an empty authorization
// identity, the user name and the password in its initial response and is
// then done. The password never appears in errors nor in any fmt verb's
// output. Send PLAIN over TLS only: the password crosses the wire in
// clear.
type Plain struct {
	user     string
	password secret.Value
	started  bool
}

var (
	_ Mechanism = (*Plain)(nil)
	_ Completer = (*Plain)(nil)
)

// NewPlain returns a PLAIN mechanism for one handshake.
func NewPlain(user, password string) *Plain {
	return &Plain{user: user, password: secret.New(password)}
}

// PlainFactory returns a MechanismFactory that makes a new PLAIN mechanism
// for every connection.
func PlainFactory(user, password string) MechanismFactory {
	return func() (Mechanism, error) { return NewPlain(user, password), nil }
}

// Name returns "PLAIN".
func (p *Plain) Name() string { return PlainName }

// Start returns the initial response: NUL, user, NUL, password. It fails
// when the user name is empty or either value holds a NUL byte.
func (p *Plain) Start(context.Context, string) ([]byte, error) {
	if p.user == "" {
		return nil, errors.New("sasl: PLAIN: empty user name")
	}
	if strings.IndexByte(p.user, 0) >= 0 {
		return nil, errors.New("sasl: PLAIN: user name contains a NUL byte")
	}
	pw := p.password.Reveal()
	if strings.IndexByte(pw, 0) >= 0 {
		return nil, errors.New("sasl: PLAIN: password contains a NUL byte")
	}
	b := make([]byte, 0, 2+len(p.user)+len(pw))
	b = append(b, 0)
	b = append(b, p.user...)
	b = append(b, 0)
	b = append(b, pw...)
	p.started = true
	return b, nil
}

// Step accepts only the server's empty final data: PLAIN has no challenges.
func (p *Plain) Step(_ context.Context, challenge []byte) ([]byte, bool, error) {
	if len(challenge) != 0 {
		return nil, false, fmt.Errorf("sasl: PLAIN: unexpected challenge of %d bytes", len(challenge))
	}
	return nil, true, nil
}

// Complete reports true once Start has produced the initial response.
func (p *Plain) Complete() bool { return p.started }

// String names the mechanism and user, never the password.
func (p *Plain) String() string { return fmt.Sprintf("PLAIN(user=%q)", p.user) }

// GoString is String, so that %#v does not print the password.
func (p *Plain) GoString() string { return "sasl." + p.String() }
