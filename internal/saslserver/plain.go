package saslserver

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/impalalb/impalalb/conn/sasl"
)

// PlainCheck verifies a user name and password for the PLAIN server. Its
// error is sent to the client, so it must not hold the password.
type PlainCheck func(user, password string) error

// NewPlain returns a MechanismFactory for PLAIN that verifies
// the credentials with check (the test coordinator's user table, an LDAP
// bind, ...). An authorization identity other than empty or the user name
// itself is refused.
func NewPlain(check PlainCheck) MechanismFactory {
	return func() Mechanism { return &plainServer{check: check} }
}

type plainServer struct {
	check PlainCheck
	user  string
	asked bool
}

func (s *plainServer) Name() string { return sasl.PlainName }

func (s *plainServer) User() string { return s.user }

func (s *plainServer) String() string { return fmt.Sprintf("PLAIN server(user=%q)", s.user) }

func (s *plainServer) Step(response []byte) ([]byte, bool, error) {
	if len(response) == 0 && !s.asked {
		// A client without an initial response: ask for it with an empty
		// challenge (RFC 4616, section 2).
		s.asked = true
		return nil, false, nil
	}
	parts := bytes.Split(response, []byte{0})
	if len(parts) != 3 {
		return nil, false, errors.New("sasl: PLAIN: malformed message")
	}
	authz, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" {
		return nil, false, errors.New("sasl: PLAIN: empty user name")
	}
	if authz != "" && authz != user {
		return nil, false, fmt.Errorf("sasl: PLAIN: user %q may not act as %q", user, authz)
	}
	if s.check == nil {
		return nil, false, errors.New("sasl: PLAIN: no credential check configured")
	}
	if err := s.check(user, password); err != nil {
		return nil, false, fmt.Errorf("sasl: PLAIN: authentication failed for user %q: %w", user, err)
	}
	s.user = user
	return nil, true, nil
}
