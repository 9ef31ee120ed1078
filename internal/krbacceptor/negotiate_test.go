package krbacceptor_test

import (
	"testing"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/gss"
	"github.com/impalalb/impalalb/internal/krbacceptor"
)

// spnegoWrap wraps a Kerberos token in a SPNEGO NegTokenInit.
func spnegoWrap(t testing.TB, tok []byte) []byte {
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: tok}}
	b, err := st.Marshal()
	require.NoError(t, err)
	return b
}

// TestAcceptNegotiate: the token of "Authorization: Negotiate", SPNEGO or
// bare Kerberos, gives the client and an answer of the same kind with a
// valid AP-REP.
func TestAcceptNegotiate(t *testing.T) {
	for _, wrapped := range []bool{true, false} {
		kt, st, tok, auth := seedToken(t)
		a, err := krbacceptor.New(krbacceptor.Config{Keytab: kt})
		require.NoError(t, err)
		in := tok
		if wrapped {
			in = spnegoWrap(t, tok)
		}
		user, reply, err := a.AcceptNegotiate(in)
		require.NoError(t, err)
		require.Equal(t, "alice@EXAMPLE.COM", user)
		rep := reply
		if wrapped {
			var resp spnego.NegTokenResp
			require.NoError(t, resp.Unmarshal(reply))
			require.Equal(t, spnego.NegStateAcceptCompleted, resp.State())
			rep = resp.ResponseToken
		}
		_, msg, err := gss.UnframeToken(rep)
		require.NoError(t, err)
		_, err = gss.VerifyAPRep(msg, st, auth)
		require.NoError(t, err)
		_, _, err = a.AcceptNegotiate(in)
		require.Error(t, err, "a replay is refused")
	}
}

// FuzzAcceptNegotiate: hostile Negotiate tokens never panic the acceptor.
func FuzzAcceptNegotiate(f *testing.F) {
	kt, _, tok, _ := seedToken(f)
	f.Add(spnegoWrap(f, tok))
	f.Add(tok)
	f.Add([]byte{0x60, 0x08, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02})
	a, err := krbacceptor.New(krbacceptor.Config{Keytab: kt})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = a.AcceptNegotiate(b)
	})
}
