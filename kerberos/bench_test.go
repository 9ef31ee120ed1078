package kerberos_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/kerberos"
)

// BenchmarkHandshake measures one full SASL GSSAPI handshake in memory
// (client mechanism and acceptor, no network transport) against a real
// MIT KDC on loopback:
//   - cached-ticket: the service ticket is in the client's cache (no KDC);
//   - client-initial-token-cached: the client's Start alone, cached ticket;
//   - first-ticket: the client holds a TGT, the service ticket comes from
//     the KDC (one TGS exchange);
//   - login-and-ticket: a new client per handshake (AS and TGS exchanges).
func BenchmarkHandshake(b *testing.B) {
	k := kdctest.Start(b, kdctest.Options{Hosts: testHosts})
	a := newAcceptor(b, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})
	ctx := context.Background()
	cfg := kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Keytab: k.UserKeytab, HostFQDN: k.LBHost}

	b.Run("cached-ticket", func(b *testing.B) {
		c := newClient(b, cfg)
		require.NoError(b, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		require.EqualValues(b, 1, c.Stats().TicketsFetched)
	})
	b.Run("client-initial-token-cached", func(b *testing.B) {
		// The client's share: Start (AP-REQ from a cached ticket) only.
		c := newClient(b, cfg)
		require.NoError(b, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Mechanism().Start(ctx, testHosts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-ticket", func(b *testing.B) {
		c := newClient(b, cfg)
		require.NoError(b, c.Login(ctx))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			c.ForgetServiceTickets()
			if err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		require.Zero(b, c.Stats().TicketCacheHits)
	})
	b.Run("login-and-ticket", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := kerberos.NewClient(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]); err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
}
