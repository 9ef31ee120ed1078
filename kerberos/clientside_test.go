package kerberos

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClientSide: failures of the client's own credentials or KDC are
// client-side, whatever wraps them; a service principal missing from a
// coordinator's keytab or a protocol error is the coordinator's.
func TestClientSide(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want bool
	}{
		{&Error{Op: "login", Principal: "alice@R", Reason: ErrKDCUnreachable}, true},
		{&Error{Op: "service ticket", Principal: "impala/lb@R", Err: &Error{Op: "login", Reason: ErrExpired}}, true},
		{&Error{Op: "renew", Reason: ErrBadCredentials}, true},
		{&Error{Op: "initiate", Reason: ErrClosed}, true},
		{&Error{Op: "service ticket", Principal: "impala/c1@R", Reason: ErrUnknownPrincipal}, false},
		{&Error{Op: "accept", Reason: ErrClockSkew}, false}, // the test coordinator's acceptor
		{&Error{Op: "security layer", Reason: ErrProtocol}, false},
	} {
		require.Equal(t, tc.want, tc.err.ClientSide(), tc.err.Error())
		var cs interface{ ClientSide() bool }
		wrapped := fmt.Errorf("conn: sasl c1:21050: %w", tc.err)
		require.True(t, errors.As(wrapped, &cs))
		require.Equal(t, tc.want, cs.ClientSide())
	}
}
