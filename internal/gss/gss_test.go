package gss

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/stretchr/testify/require"
)

// contextPair makes an initiator and an acceptor context sharing a key.
func contextPair(t testing.TB) (*SecContext, *SecContext) {
	key, err := RandomKey(etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	require.NoError(t, err)
	ini, err := NewSecContext(true, key, true, 7, 1000)
	require.NoError(t, err)
	acc, err := NewSecContext(false, key, true, 1000, 7)
	require.NoError(t, err)
	return ini, acc
}

func TestWrapRotationAndSequence(t *testing.T) {
	ini, acc := contextPair(t)
	for _, conf := range []bool{false, true} {
		tok, err := ini.Wrap([]byte("payload"), conf)
		require.NoError(t, err)
		// Rotate the body right by 5 and say so in RRC, as Windows does.
		body := tok[16:]
		r := 5 % len(body)
		rot := append(append([]byte{}, body[len(body)-r:]...), body[:len(body)-r]...)
		rtok := append(append([]byte{}, tok[:16]...), rot...)
		rtok[6], rtok[7] = 0, 5
		p, sealed, err := acc.Unwrap(rtok)
		require.NoError(t, err)
		require.Equal(t, conf, sealed)
		require.Equal(t, "payload", string(p))
	}
	// Out of order.
	t1, err := ini.Wrap([]byte("a"), false)
	require.NoError(t, err)
	t2, err := ini.Wrap([]byte("b"), false)
	require.NoError(t, err)
	_, _, err = acc.Unwrap(t2)
	require.Error(t, err)
	_, _, err = acc.Unwrap(t1)
	require.NoError(t, err)
}

func TestClassify(t *testing.T) {
	for in, want := range map[string]error{
		"KRB Error: (7) KDC_ERR_S_PRINCIPAL_UNKNOWN Server not found": ErrUnknownPrincipal,
		"KRB Error: (37) KRB_AP_ERR_SKEW Clock skew too great":        ErrClockSkew,
		"KRB Error: (32) KRB_AP_ERR_TKT_EXPIRED Ticket expired":       ErrExpired,
		"KRB Error: (24) KDC_ERR_PREAUTH_FAILED":                      ErrBadCredentials,
		"[Root cause: Networking_Error] ...":                          ErrKDCUnreachable,
		"something else":                                              nil,
	} {
		require.Equal(t, want, Classify(bytesError(in)), in)
	}
}

type bytesError string

func (e bytesError) Error() string { return string(e) }

// FuzzUnwrap: hostile wrap tokens never panic and never unwrap.
func FuzzUnwrap(f *testing.F) {
	ini, _ := contextPair(f)
	for _, conf := range []bool{false, true} {
		tok, err := ini.Wrap([]byte("seed"), conf)
		require.NoError(f, err)
		f.Add(tok)
	}
	f.Add([]byte{0x05, 0x04, 0x05, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, acc := contextPair(t)
		p, _, err := acc.Unwrap(b)
		if err == nil && !bytes.Equal(p, []byte("seed")) {
			t.Fatalf("forged token unwrapped to %q", p)
		}
	})
}

func aes256(t testing.TB) etype.EType {
	et, err := crypto.GetEtype(etypeID.AES256_CTS_HMAC_SHA1_96)
	require.NoError(t, err)
	return et
}

// FuzzVerifyAPRep: a hostile server's reply never panics the client.
func FuzzVerifyAPRep(f *testing.F) {
	key, err := RandomKey(etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	require.NoError(f, err)
	sub, err := RandomKey(etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	require.NoError(f, err)
	auth, err := types.NewAuthenticator("EXAMPLE.COM", types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"))
	require.NoError(f, err)
	rep, err := NewAPRepToken(key, auth, sub, 42)
	require.NoError(f, err)
	f.Add(rep)
	st := &ServiceTicket{Key: key}
	st.mc = newMsgCrypto(aes256(f), key.KeyValue, keyusage.AP_REP_ENCPART)
	f.Fuzz(func(t *testing.T, b []byte) {
		id, msg, err := UnframeToken(b)
		if err != nil || id != TokAPRep {
			return
		}
		_, _ = VerifyAPRep(msg, st, auth)
	})
}

// BenchmarkWrapUnwrap measures one data frame through Wrap and Unwrap.
func BenchmarkWrapUnwrap(b *testing.B) {
	for _, size := range []int{256, 16 << 10} {
		for _, conf := range []bool{false, true} {
			name := fmt.Sprintf("auth-int/%d", size)
			if conf {
				name = fmt.Sprintf("auth-conf/%d", size)
			}
			b.Run(name, func(b *testing.B) {
				ini, acc := contextPair(b)
				msg := make([]byte, size)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					w, err := ini.Wrap(msg, conf)
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := acc.Unwrap(w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestFastPathMatchesGokrb5: the pre-derived AES-SHA1 path and gokrb5's
// per-message path produce each other's ciphertexts and checksums.
func TestFastPathMatchesGokrb5(t *testing.T) {
	for id, size := range map[int32]int{etypeID.AES128_CTS_HMAC_SHA1_96: 16, etypeID.AES256_CTS_HMAC_SHA1_96: 32} {
		key, err := RandomKey(id, size)
		require.NoError(t, err)
		et, err := crypto.GetEtype(id)
		require.NoError(t, err)
		fast := newMsgCrypto(et, key.KeyValue, usageInitiatorSeal)
		require.NotNil(t, fast.fast)
		slow := &msgCrypto{et: et, key: key.KeyValue}
		for _, n := range []int{0, 1, 15, 16, 17, 100, 4096} {
			msg := bytes.Repeat([]byte{byte(n)}, n)
			ct, err := fast.encrypt(usageInitiatorSeal, msg)
			require.NoError(t, err)
			pt, err := slow.decrypt(usageInitiatorSeal, ct)
			require.NoError(t, err)
			require.Equal(t, msg, pt)
			ct, err = slow.encrypt(usageInitiatorSeal, msg)
			require.NoError(t, err)
			pt, err = fast.decrypt(usageInitiatorSeal, ct)
			require.NoError(t, err)
			require.Equal(t, msg, pt)
			a, err := fast.checksum(usageInitiatorSeal, msg, []byte("hdr"))
			require.NoError(t, err)
			b, err := slow.checksum(usageInitiatorSeal, msg, []byte("hdr"))
			require.NoError(t, err)
			require.Equal(t, b, a)
		}
	}
}

func TestWrapRFC8009Types(t *testing.T) {
	for id, size := range map[int32]int{etypeID.AES128_CTS_HMAC_SHA256_128: 16, etypeID.AES256_CTS_HMAC_SHA384_192: 32} {
		key, err := RandomKey(id, size)
		require.NoError(t, err)
		ini, err := NewSecContext(true, key, false, 1, 2)
		require.NoError(t, err)
		acc, err := NewSecContext(false, key, false, 2, 1)
		require.NoError(t, err)
		for _, conf := range []bool{false, true} {
			w, err := ini.Wrap([]byte("rows"), conf)
			require.NoError(t, err)
			p, sealed, err := acc.Unwrap(w)
			require.NoError(t, err)
			require.Equal(t, conf, sealed)
			require.Equal(t, "rows", string(p))
		}
	}
}

func TestUniqueCTime(t *testing.T) {
	now := time.Now()
	seen := map[[2]int64]bool{}
	for range 1000 {
		s, us := uniqueCTime(now)
		k := [2]int64{s.Unix(), int64(us)}
		require.False(t, seen[k])
		require.Less(t, us, 1000000)
		seen[k] = true
	}
}
