package krbacceptor_test

import (
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/gss"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/kerberos"
)

// testServiceTicket makes a service ticket for sname encrypted with its key
// in kt, as a KDC would.
func testServiceTicket(t testing.TB, kt *keytab.Keytab, cname, sname types.PrincipalName, start, end time.Time) *gss.ServiceTicket {
	tkt, key, err := messages.NewTicket(cname, "EXAMPLE.COM", sname, "EXAMPLE.COM", types.NewKrbFlags(), kt,
		etypeID.AES256_CTS_HMAC_SHA1_96, 1, start, start, end, end)
	require.NoError(t, err)
	st, err := gss.NewServiceTicket(tkt, key)
	require.NoError(t, err)
	return st
}

// seedToken makes a keytab for impala/lb.example.com and a genuine AP-REQ
// of alice for it, with the service ticket and the authenticator.
func seedToken(t testing.TB) (*keytab.Keytab, *gss.ServiceTicket, []byte, types.Authenticator) {
	kt := keytab.New()
	require.NoError(t, kt.AddEntry("impala/lb.example.com", "EXAMPLE.COM", "pw", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96))
	now := time.Now().UTC()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "impala/lb.example.com")
	st := testServiceTicket(t, kt, cname, sname, now, now.Add(time.Hour))
	tok, auth, err := gss.NewAPReqToken(cname, "EXAMPLE.COM", st)
	require.NoError(t, err)
	return kt, st, tok, auth
}

// FuzzAcceptorStep: hostile initial tokens never panic the acceptor. The
// seed is a genuine AP-REQ for the keytab's principal.
func FuzzAcceptorStep(f *testing.F) {
	kt, _, tok, _ := seedToken(f)
	f.Add(tok)
	f.Add([]byte{0x60, 0x00})
	f.Add([]byte{})
	a, err := krbacceptor.New(krbacceptor.Config{Keytab: kt})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := a.NewMechanism()
		_, _, _ = s.Step(b)
	})
}

func TestAcceptorSeedToken(t *testing.T) {
	kt, st, tok, auth := seedToken(t)
	a, err := krbacceptor.New(krbacceptor.Config{Keytab: kt})
	require.NoError(t, err)
	s := a.NewMechanism()
	rep, done, err := s.Step(tok)
	require.NoError(t, err)
	require.False(t, done)
	_, msg, err := gss.UnframeToken(rep)
	require.NoError(t, err)
	part, err := gss.VerifyAPRep(msg, st, auth)
	require.NoError(t, err)
	require.NotZero(t, part.Subkey.KeyType)
	// The same token again is a replay.
	_, _, err = a.NewMechanism().Step(tok)
	require.Error(t, err)
}

// TestAcceptorRefusals: skewed authenticators and expired tickets are
// refused with the reason and the principal.
func TestAcceptorRefusals(t *testing.T) {
	kt := keytab.New()
	require.NoError(t, kt.AddEntry("impala/lb.example.com", "EXAMPLE.COM", "pw", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96))
	a, err := krbacceptor.New(krbacceptor.Config{Keytab: kt, MaxClockSkew: time.Minute})
	require.NoError(t, err)
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "impala/lb.example.com")
	now := time.Now().UTC()
	for _, tc := range []struct {
		name      string
		ctime     time.Time
		end       time.Time
		want      error
		wantWords string
	}{
		{"skew", now.Add(-10 * time.Minute), now.Add(time.Hour), kerberos.ErrClockSkew, "clock skew"},
		{"expired", now, now.Add(-10 * time.Minute), kerberos.ErrExpired, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tkt, key, err := messages.NewTicket(cname, "EXAMPLE.COM", sname, "EXAMPLE.COM", types.NewKrbFlags(), kt,
				etypeID.AES256_CTS_HMAC_SHA1_96, 1, now.Add(-time.Hour), now.Add(-time.Hour), tc.end, tc.end)
			require.NoError(t, err)
			auth, err := types.NewAuthenticator("EXAMPLE.COM", cname)
			require.NoError(t, err)
			auth.CTime, auth.Cusec = tc.ctime.Truncate(time.Second), 0
			ck := make([]byte, 24)
			ck[0] = 16
			auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
			req, err := messages.NewAPReq(tkt, key, auth)
			require.NoError(t, err)
			b, err := req.Marshal()
			require.NoError(t, err)
			_, _, err = a.NewMechanism().Step(gss.FrameToken(gss.TokAPReq, b))
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "impala/lb.example.com@EXAMPLE.COM")
			require.Contains(t, err.Error(), tc.wantWords)
		})
	}
}
