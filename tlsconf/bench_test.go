package tlsconf_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/tlsconf"
)

// BenchmarkHandshake compares a full TLS handshake (client and server, over
// net.Pipe, ECDSA P-256, TLS 1.3, no resumption) made with a plain
// *tls.Config against the same handshake through tlsconf, which stats the
// CA file (and, with mTLS, the certificate and key files) and verifies with
// the current pool.
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b, "bench CA")
	srvCert, srvKey, srv := p.server(b, "server", lbName)
	cliCert, cliKey, cli := p.client(b, "client", "alice")
	// Files older than the racy window: each check is a stat, as in a
	// cluster whose files last changed minutes ago.
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{p.caFile, srvCert, srvKey, cliCert, cliKey} {
		require.NoError(b, os.Chtimes(f, old, old))
	}

	for _, mtls := range []bool{false, true} {
		server := &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}, MinVersion: tls.VersionTLS12}
		plain := &tls.Config{RootCAs: p.ca.Pool(), ServerName: lbName, MinVersion: tls.VersionTLS12}
		cfg := tlsconf.Config{CAFile: p.caFile, ServerName: lbName}
		suffix := ""
		if mtls {
			server.ClientCAs = p.ca.Pool()
			server.ClientAuth = tls.RequireAndVerifyClientCert
			plain.Certificates = []tls.Certificate{cli.TLSCertificate()}
			cfg.CertFile, cfg.KeyFile = cliCert, cliKey
			suffix = "-mtls"
		}
		cl, err := tlsconf.NewClient(cfg)
		require.NoError(b, err)

		b.Run("plain"+suffix, func(b *testing.B) {
			benchHandshake(b, server, func(ctx context.Context, c net.Conn) error {
				return tls.Client(c, plain).HandshakeContext(ctx)
			})
		})
		b.Run("tlsconf-shared"+suffix, func(b *testing.B) {
			shared := cl.TLSConfig()
			benchHandshake(b, server, func(ctx context.Context, c net.Conn) error {
				return tls.Client(c, shared).HandshakeContext(ctx)
			})
		})
		b.Run("tlsconf-handshake"+suffix, func(b *testing.B) {
			benchHandshake(b, server, func(ctx context.Context, c net.Conn) error {
				_, err := cl.Handshake(ctx, c, "127.0.0.1:21050")
				return err
			})
		})
	}
}

func benchHandshake(b *testing.B, server *tls.Config, client func(context.Context, net.Conn) error) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cc, sc := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- tls.Server(sc, server).HandshakeContext(ctx) }()
		if err := client(ctx, cc); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		cc.Close()
		sc.Close()
	}
}

// BenchmarkHandshakeOverhead interleaves plain and tlsconf handshakes (with
// mutual TLS, so that all three files are checked) in one loop, so that a
// busy machine slows both alike, and reports each one's median and
// tlsconf's overhead in percent. ns/op covers one handshake of each kind.
func BenchmarkHandshakeOverhead(b *testing.B) {
	p := newPKI(b, "bench CA")
	srvCert, srvKey, srv := p.server(b, "server", lbName)
	cliCert, cliKey, cli := p.client(b, "client", "alice")
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{p.caFile, srvCert, srvKey, cliCert, cliKey} {
		require.NoError(b, os.Chtimes(f, old, old))
	}
	server := &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()},
		ClientCAs:    p.ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	plain := &tls.Config{RootCAs: p.ca.Pool(), ServerName: lbName, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{cli.TLSCertificate()}}
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, CertFile: cliCert, KeyFile: cliKey})
	require.NoError(b, err)

	ctx := context.Background()
	one := func(client func(net.Conn) error) time.Duration {
		start := time.Now()
		cc, sc := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- tls.Server(sc, server).HandshakeContext(ctx) }()
		if err := client(cc); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		cc.Close()
		sc.Close()
		return time.Since(start)
	}
	plainHS := func(c net.Conn) error { return tls.Client(c, plain).HandshakeContext(ctx) }
	ourHS := func(c net.Conn) error { _, err := cl.Handshake(ctx, c, "127.0.0.1:21050"); return err }

	// Medians, not means: on a shared machine a few handshakes are
	// preempted for milliseconds.
	var tPlain, tOurs []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		if len(tPlain)%2 == 0 {
			tPlain = append(tPlain, one(plainHS))
			tOurs = append(tOurs, one(ourHS))
		} else {
			tOurs = append(tOurs, one(ourHS))
			tPlain = append(tPlain, one(plainHS))
		}
	}
	mp, mo := median(tPlain), median(tOurs)
	b.ReportMetric(float64(mp.Nanoseconds()), "plain-median-ns")
	b.ReportMetric(float64(mo.Nanoseconds()), "tlsconf-median-ns")
	b.ReportMetric(100*(float64(mo)/float64(mp)-1), "overhead-%")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
