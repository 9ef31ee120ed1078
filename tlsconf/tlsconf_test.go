package tlsconf_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/tlsserver"
	"github.com/impalalb/impalalb/tlsconf"
)

const lbName = "lb.impala.test"

func serverTLS(t testing.TB, sc tlsserver.Config) *tls.Config {
	t.Helper()
	cfg, err := sc.Build()
	require.NoError(t, err)
	return cfg
}

// startCoordinators starts n echo servers, each with its own certificate
// holding the load balancer's name and the coordinator's own name.
func startCoordinators(t *testing.T, p *pki, n int) []*echoServer {
	var out []*echoServer
	for i := range n {
		name := "coord" + string(rune('1'+i))
		certFile, keyFile, _ := p.server(t, name, lbName, name+".impala.test")
		out = append(out, startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile})))
	}
	return out
}

func TestPassthroughServerNameOverride(t *testing.T) {
	p := newPKI(t, "passthrough CA")
	coords := startCoordinators(t, p, 3)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
	require.NoError(t, err)
	for _, s := range coords {
		c, err := cl.DialContext(ctx, "tcp", s.addr)
		require.NoError(t, err, s.addr)
		require.NoError(t, roundTrip(c, "hello"))
		require.Equal(t, s.addr, c.Addr())
		require.Equal(t, lbName, c.ConnectionState().ServerName, "SNI is the load balancer's name")
		require.Equal(t, lbName, nextState(t, s).ServerName)
		require.NoError(t, c.Close())
	}

	// The shared *tls.Config works too, since the override gives it a name.
	shared, err := tlsconf.Config{CAFile: p.caFile, ServerName: lbName}.Build()
	require.NoError(t, err)
	for _, s := range coords {
		d := tls.Dialer{Config: shared}
		c, err := d.DialContext(ctx, "tcp", s.addr)
		require.NoError(t, err)
		require.NoError(t, roundTrip(c, "shared"))
		require.NoError(t, c.Close())
	}
}

func TestPassthroughWithoutOverrideIsClearMismatch(t *testing.T) {
	p := newPKI(t, "passthrough CA")
	coords := startCoordinators(t, p, 3)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile})
	require.NoError(t, err)
	for i, s := range coords {
		_, err := cl.DialContext(ctx, "tcp", s.addr)
		var nm *tlsconf.NameMismatchError
		require.ErrorAs(t, err, &nm)
		require.Equal(t, s.addr, nm.Addr)
		require.Equal(t, "127.0.0.1", nm.Expected)
		require.False(t, nm.Overridden)
		own := "coord" + string(rune('1'+i)) + ".impala.test"
		require.Equal(t, []string{lbName, own}, nm.DNSNames)
		require.ErrorAs(t, err, new(x509.HostnameError))

		msg := err.Error()
		for _, want := range []string{s.addr, `expected "127.0.0.1"`, "DNS:" + lbName, "DNS:" + own, "Config.ServerName"} {
			require.Contains(t, msg, want)
		}
		t.Log(msg)
	}

	// An override that is not in the certificate names itself as the source.
	cl, err = tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: "other.impala.test"})
	require.NoError(t, err)
	_, err = cl.DialContext(ctx, "tcp", coords[0].addr)
	var nm *tlsconf.NameMismatchError
	require.ErrorAs(t, err, &nm)
	require.True(t, nm.Overridden)
	require.Contains(t, err.Error(), `expected "other.impala.test" (Config.ServerName)`)
}

func TestDirectHostNames(t *testing.T) {
	// No proxy: each coordinator's certificate names its own address.
	p := newPKI(t, "direct CA")
	certFile, keyFile, _ := p.server(t, "coord", "coord1.impala.test", "127.0.0.1")
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile}))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile})
	require.NoError(t, err)
	c, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	require.NoError(t, roundTrip(c, "direct"))
	require.NoError(t, c.Close())

	// The shared config checks against SNI, so it works with a host name...
	raw, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	cfg := cl.TLSConfig().Clone()
	cfg.ServerName = "coord1.impala.test"
	tc := tls.Client(raw, cfg)
	require.NoError(t, tc.HandshakeContext(ctx))
	require.NoError(t, tc.Close())

	// ...but not with an IP address, where there is no SNI: it says so.
	raw, err = net.Dial("tcp", s.addr)
	require.NoError(t, err)
	cfg = cl.TLSConfig().Clone()
	cfg.ServerName = "127.0.0.1"
	tc = tls.Client(raw, cfg)
	require.ErrorIs(t, tc.HandshakeContext(ctx), tlsconf.ErrNoServerName)
	tc.Close()

	// ConfigFor binds the address, IP or not.
	raw, err = net.Dial("tcp", s.addr)
	require.NoError(t, err)
	tc = tls.Client(raw, cl.ConfigFor(s.addr))
	require.NoError(t, tc.HandshakeContext(ctx))
	require.NoError(t, tc.Close())
}

func TestUnknownAuthority(t *testing.T) {
	p := newPKI(t, "real CA")
	certFile, keyFile, _ := p.server(t, "coord", lbName)
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile}))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	other := newPKI(t, "other CA")
	for _, tc := range []struct {
		name    string
		cfg     tlsconf.Config
		trusted string
	}{
		{"CAFile", tlsconf.Config{CAFile: other.caFile, ServerName: lbName}, `CAFile "` + other.caFile + `"`},
		{"CAPEM", tlsconf.Config{CAPEM: other.ca.CertPEM(), ServerName: lbName}, "1 certificate(s) of CAPEM"},
		{"system roots", tlsconf.Config{ServerName: lbName}, "system roots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := tlsconf.NewClient(tc.cfg)
			require.NoError(t, err)
			_, err = cl.DialContext(ctx, "tcp", s.addr)
			var ua *tlsconf.UnknownAuthorityError
			require.ErrorAs(t, err, &ua)
			require.ErrorAs(t, err, new(x509.UnknownAuthorityError))
			require.Equal(t, s.addr, ua.Addr)
			require.Equal(t, tc.trusted, ua.Trusted)
			require.Contains(t, err.Error(), "unknown authority")
			require.Contains(t, err.Error(), "real CA")
			t.Log(err)
		})
	}
}

func TestIntermediateChain(t *testing.T) {
	p := newPKI(t, "root CA")
	mid, err := p.ca.Intermediate("issuing CA")
	require.NoError(t, err)
	leaf, err := mid.Server(lbName)
	require.NoError(t, err)
	certFile, keyFile, err := leaf.WriteFiles(p.dir, "chain")
	require.NoError(t, err)
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile}))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
	require.NoError(t, err)
	c, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	require.NoError(t, roundTrip(c, "chain"))
	require.NoError(t, c.Close())
}

func TestExpiredCertificate(t *testing.T) {
	p := newPKI(t, "CA")
	past := time.Now().Add(-72 * time.Hour)
	old, err := p.ca.Issue(certtest.Request{Hosts: []string{lbName}, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	certFile, keyFile, err := old.WriteFiles(p.dir, "old")
	require.NoError(t, err)
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile}))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
	require.NoError(t, err)
	_, err = cl.DialContext(ctx, "tcp", s.addr)
	var ve *tlsconf.VerifyError
	require.ErrorAs(t, err, &ve)
	var inv x509.CertificateInvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, x509.Expired, inv.Reason)
	require.Contains(t, err.Error(), s.addr)
}

func TestServerNotSpeakingTLS(t *testing.T) {
	addr := startPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl, err := tlsconf.NewClient(tlsconf.Config{})
	require.NoError(t, err)
	_, err = cl.DialContext(ctx, "tcp", addr)
	var he *tlsconf.HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, addr, he.Addr)
	require.Contains(t, err.Error(), "is TLS enabled")
}

func TestInsecureSkipVerifyIsLogged(t *testing.T) {
	p := newPKI(t, "CA")
	certFile, keyFile, _ := p.server(t, "coord", "somewhere.else")
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile}))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	log, buf := newLogger()
	cl, err := tlsconf.NewClient(tlsconf.Config{InsecureSkipVerify: true, Logger: log})
	require.NoError(t, err)
	require.Contains(t, buf.String(), "level=WARN")
	require.Contains(t, buf.String(), "InsecureSkipVerify")
	c, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	require.NoError(t, roundTrip(c, "insecure"))
	require.NoError(t, c.Close())

	// Without a logger nothing is written anywhere and nothing breaks.
	_, err = tlsconf.NewClient(tlsconf.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
}

// mtlsServer wraps a ServerConfig's *tls.Config, capping the TLS version.
func capVersion(base *tls.Config, maxVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := base.GetConfigForClient(h)
			if err != nil {
				return nil, err
			}
			c = c.Clone()
			c.MaxVersion = maxVersion
			return c, nil
		},
	}
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t, "mTLS CA")
	certFile, keyFile, _ := p.server(t, "coord", lbName)
	base := serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: p.caFile})
	goodCert, goodKey, good := p.client(t, "alice", "alice")

	stranger := newPKI(t, "stranger CA")
	badCert, badKey, _ := stranger.client(t, "mallory", "mallory")

	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			s := startEcho(t, capVersion(base, v.max))
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			// attempt dials, handshakes and does one round trip: with
			// TLS 1.3 a refusal shows only on the first read.
			attempt := func(cfg tlsconf.Config) error {
				cl, err := tlsconf.NewClient(cfg)
				require.NoError(t, err)
				c, err := cl.DialContext(ctx, "tcp", s.addr)
				if err != nil {
					return err
				}
				defer c.Close()
				require.Equal(t, v.max, c.ConnectionState().Version)
				return roundTrip(c, "mtls")
			}

			require.NoError(t, attempt(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, CertFile: goodCert, KeyFile: goodKey}))
			st := nextState(t, s)
			require.Len(t, st.PeerCertificates, 1)
			require.Equal(t, serialOf(good.Leaf), serialOf(st.PeerCertificates[0]))

			err := attempt(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
			require.ErrorIs(t, err, tlsconf.ErrClientCertRequired)
			var ce *tlsconf.ClientCertError
			require.ErrorAs(t, err, &ce)
			require.False(t, ce.Sent)
			require.Equal(t, s.addr, ce.Addr)
			require.Contains(t, err.Error(), "requires a client certificate and none is configured")
			t.Log(err)

			err = attempt(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, CertFile: badCert, KeyFile: badKey})
			require.ErrorIs(t, err, tlsconf.ErrClientCertRejected)
			require.ErrorAs(t, err, &ce)
			require.True(t, ce.Sent)
			require.Contains(t, ce.Subject, "mallory")
			require.Contains(t, err.Error(), "refused our client certificate")
			t.Log(err)
		})
	}
}

func TestOrdinaryErrorsPassThroughConn(t *testing.T) {
	// A server that closes after the handshake gives io.EOF, not a
	// ClientCertError, even though it asked for a certificate.
	p := newPKI(t, "CA")
	certFile, keyFile, _ := p.server(t, "coord", lbName)
	base := serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: p.caFile, ClientAuth: tls.VerifyClientCertIfGiven})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, base)
		_ = tc.Handshake()
		tc.Close()
	}()
	t.Cleanup(func() { ln.Close(); <-done })

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
	require.NoError(t, err)
	c, err := cl.DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	require.False(t, errors.Is(err, tlsconf.ErrClientCertRequired), err)
	require.True(t, strings.Contains(err.Error(), "EOF"), err)
}

func TestIPv6AddressChecksIPSAN(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here:", err)
	}
	ln.Close()
	p := newPKI(t, "CA")
	certFile, keyFile, _ := p.server(t, "coord", "::1")
	cfg := serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile})
	ln, err = tls.Listen("tcp", "[::1]:0", cfg)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	t.Cleanup(func() { ln.Close(); <-done })

	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile})
	require.NoError(t, err)
	c, err := cl.DialContext(t.Context(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestHandshakeHonoursContext(t *testing.T) {
	// A server that accepts and never answers: the caller's context ends
	// the handshake, and the raw connection is closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	t.Cleanup(func() { ln.Close() })

	cl, err := tlsconf.NewClient(tlsconf.Config{})
	require.NoError(t, err)
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	srv := <-accepted
	require.NotNil(t, srv)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := cl.Handshake(ctx, raw, ln.Addr().String())
		result <- err
	}()
	// The ClientHello reaching the server shows the handshake is under way.
	buf := make([]byte, 5)
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(testTimeout)))
	_, err = srv.Read(buf)
	require.NoError(t, err)
	cancel()
	err = <-result
	var he *tlsconf.HandshakeError
	require.ErrorAs(t, err, &he)
	require.ErrorIs(t, err, context.Canceled)
	_, err = raw.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
}
