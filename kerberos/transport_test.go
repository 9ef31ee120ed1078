package kerberos_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/kerberos"
)

// TestThroughSASLTransport runs the mechanisms through package sasl's
// Thrift SASL transport over loopback TCP: handshake, then data frames
// wrapped by the negotiated layer.
func TestThroughSASLTransport(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	cfg := passwordConfig(k)
	cfg.HostFQDN = k.LBHost
	c := newClient(t, cfg)
	for _, tc := range []struct {
		name    string
		keytab  string
		offer   kerberos.QOP
		wantErr string
	}{
		{"auth", k.Keytab(testHosts[0]), kerberos.QOPAuth, ""},
		{"auth-conf", k.Keytab(testHosts[1]), kerberos.QOPAuthConf, ""},
		{"keytab lacks the LB principal", k.WriteKeytab(t, k.HostPrincipal(testHosts[0])), kerberos.QOPAuth, k.LBPrincipal()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcceptor(t, krbacceptor.Config{KeytabPath: tc.keytab, QOP: tc.offer})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = ln.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			type result struct {
				user string
				err  error
			}
			served := make(chan result, 1)
			go func() {
				sc, err := ln.Accept()
				if err != nil {
					served <- result{err: err}
					return
				}
				defer func() { _ = sc.Close() }()
				tr, user, err := saslserver.AcceptContext(ctx, sc, map[string]saslserver.MechanismFactory{"GSSAPI": a.Factory()}, sasl.Config{})
				if err != nil {
					served <- result{err: err}
					return
				}
				// Echo one frame upper-cased.
				buf := make([]byte, 5)
				if _, err := io.ReadFull(tr, buf); err != nil {
					served <- result{err: err}
					return
				}
				for i := range buf {
					buf[i] -= 'a' - 'A'
				}
				if _, err = tr.Write(buf); err == nil {
					err = tr.Flush(ctx)
				}
				served <- result{user: user, err: err}
			}()

			cc, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = cc.Close() })
			m := c.Mechanism()
			tr, err := sasl.NewClient(cc, m, sasl.Config{})
			require.NoError(t, err)
			err = tr.Handshake(ctx, testHosts[0])
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				r := <-served
				require.ErrorIs(t, r.err, krbacceptor.ErrNotInKeytab)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.offer != kerberos.QOPAuth, tr.SecurityLayerActive())
			_, err = tr.Write([]byte("hello"))
			require.NoError(t, err)
			require.NoError(t, tr.Flush(ctx))
			got := make([]byte, 5)
			_, err = io.ReadFull(tr, got)
			require.NoError(t, err)
			require.Equal(t, "HELLO", string(got))
			r := <-served
			require.NoError(t, r.err)
			require.Equal(t, k.UserPrincipal(), r.user)
		})
	}
}
