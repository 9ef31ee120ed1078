package reliability

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/haproxytest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/tlsserver"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
	"github.com/impalalb/impalalb/tlsconf"
)

// The matrix cells that need a real outside component: an MIT KDC, TLS
// certificates rotated on disk, a real HAProxy.

var krbHosts = []string{"coord1.impalalb.test", "coord2.impalalb.test", "coord3.impalalb.test"}

// kerberized starts a KDC and three coordinators accepting GSSAPI for the
// load balancer's principal; it returns a client logged in with the user's
// password asking for that principal.
func kerberized(t *testing.T) (*kdctest.KDC, []*impalad.Coordinator, []string, *kerberos.Client) {
	t.Helper()
	k := kdctest.Start(t, kdctest.Options{Hosts: krbHosts})
	cluster := impalad.NewCluster(0)
	var cos []*impalad.Coordinator
	var addrs []string
	for _, h := range k.Hosts {
		acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: k.Keytab(h)})
		require.NoError(t, err)
		co, err := impalad.Start(impalad.Config{
			Cluster:    cluster,
			Mechanisms: map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()},
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = co.Close() })
		cos = append(cos, co)
		addrs = append(addrs, co.HS2Addr())
	}
	c, err := kerberos.NewClient(kerberos.Config{
		Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Password: secret.New(k.Password), HostFQDN: k.LBHost,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return k, cos, addrs, c
}

// TestFaultKDCDown: with the KDC stopped, open sessions and dials with a
// cached service ticket go on; a dial that needs the KDC fails typed,
// naming the coordinator, safe to retry, within the connect timeout; when
// the KDC is back, dials work again.
func TestFaultKDCDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	k, cos, addrs, c := kerberized(t)
	t.Cleanup(func() { requireNothingTwice(t, cos) })
	opts := fastOpts()
	opts.Mechanism = c.MechanismFactory()
	p := newPool(t, addrs, opts, nil)
	warm(ctx, t, p, 6)

	k.Stop(t)
	workSucceeds(ctx, t, p, 6) // idle sessions and the cached ticket
	s, err := conn.Dial(ctx, addrs[1], opts)
	require.NoError(t, err, "a cached service ticket needs no KDC")
	require.NoError(t, s.Close())

	c.ForgetServiceTickets()
	start := time.Now()
	_, err = conn.Dial(ctx, addrs[0], opts)
	require.Error(t, err)
	within(t, time.Since(start), connectTimeout, "dial with the KDC down")
	requireTyped(t, err, addrs[0])
	require.True(t, conn.SafeToRetry(err))
	require.True(t, errors.Is(err, kerberos.ErrKDCUnreachable), "want ErrKDCUnreachable: %v", err)
	t.Logf("dial with the KDC down: %v", err)
	workSucceeds(ctx, t, p, 6) // the idle sessions still serve

	k.Restart(t)
	s, err = conn.Dial(ctx, addrs[0], opts)
	require.NoError(t, err, "KDC back")
	require.NoError(t, runStmt(ctx, s, tagged("kdc-back")))
	require.NoError(t, s.Close())
	workSucceeds(ctx, t, p, 6)
}

const lbName = "impala-lb.impalalb.test"

// peerSerial returns the serial of the certificate addr presents.
func peerSerial(t *testing.T, c *tlsconf.Client, addr string) string {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw.Close()
	tc := tls.Client(raw, c.ConfigFor(addr))
	require.NoError(t, tc.Handshake())
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestFaultCertificateRotated: coordinators' certificates are replaced on
// disk. Same CA: new connections get the new certificate, open sessions
// go on, nothing fails. New CA before the client trusts it: new dials fail
// typed, naming the coordinator, safe to retry, within the connect
// timeout, while open sessions go on; once the client's CA bundle holds
// both CAs, dials work again without a restart.
func TestFaultCertificateRotated(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	ca1, err := certtest.NewCA("rel CA 1")
	require.NoError(t, err)
	ca2, err := certtest.NewCA("rel CA 2")
	require.NoError(t, err)
	issue := func(ca *certtest.CA) {
		cert, err := ca.Server(lbName)
		require.NoError(t, err)
		_, _, err = cert.WriteFiles(dir, "server")
		require.NoError(t, err)
	}
	issue(ca1)
	caFile := filepath.Join(dir, "ca.pem")
	writeCA := func(cas ...*certtest.CA) {
		var b []byte
		for _, ca := range cas {
			b = append(b, ca.CertPEM()...)
		}
		tmp := caFile + ".tmp"
		require.NoError(t, os.WriteFile(tmp, b, 0o600))
		require.NoError(t, os.Rename(tmp, caFile))
	}
	writeCA(ca1)
	srv, err := tlsserver.Config{
		CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
	}.Build()
	require.NoError(t, err)
	cos, addrs := startCluster(t, 3, impalad.Config{TLS: srv})
	t.Cleanup(func() { requireNothingTwice(t, cos) })
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: caFile, ServerName: lbName})
	require.NoError(t, err)
	opts := fastOpts()
	opts.TLSHandshake = cl.HandshakeConn
	// No active checks here: one that runs while the coordinators present
	// the untrusted certificate would (rightly) take them down and close
	// their idle sessions, and whether it runs inside that window is up to
	// the scheduler. This test is about the sessions already open.
	p := newPool(t, addrs, opts, func(c *balancer.Config) { c.Interval = -1 })
	warm(ctx, t, p, 6)

	before := peerSerial(t, cl, addrs[0])
	issue(ca1) // same CA
	require.NotEqual(t, before, peerSerial(t, cl, addrs[0]), "the coordinator did not reload its certificate")
	s, err := conn.Dial(ctx, addrs[0], opts)
	require.NoError(t, err)
	require.NoError(t, runStmt(ctx, s, tagged("rotated-same-ca")))
	require.NoError(t, s.Close())
	workSucceeds(ctx, t, p, 6)

	issue(ca2) // a CA the client does not trust yet
	start := time.Now()
	_, err = conn.Dial(ctx, addrs[0], opts)
	require.Error(t, err)
	within(t, time.Since(start), connectTimeout, "dial with an untrusted certificate")
	requireTyped(t, err, addrs[0])
	require.True(t, conn.SafeToRetry(err))
	t.Logf("dial after rotation to an untrusted CA: %v", err)
	workSucceeds(ctx, t, p, 6) // open sessions are not touched

	writeCA(ca1, ca2)
	s, err = conn.Dial(ctx, addrs[0], opts)
	require.NoError(t, err, "the client did not reload its CA bundle")
	require.NoError(t, runStmt(ctx, s, tagged("rotated-new-ca")))
	require.NoError(t, s.Close())
	recovers(ctx, t, p, addrs[0], 3)
}

// TestFaultHAProxyTimeoutClient puts a real HAProxy with a short
// "timeout client" between the pool and one coordinator, as the guide
// warns: the proxy cuts idle connections; a session used after the cut
// fails typed (naming the address dialed, the proxy) with a truthful
// SafeToRetry, and the pool hands out only working sessions.
func TestFaultHAProxyTimeoutClient(t *testing.T) {
	t.Parallel() // haproxytest.StartT fails with an install hint without haproxy
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cos, addrs := startCluster(t, 1, impalad.Config{})
	t.Cleanup(func() { requireNothingTwice(t, cos) })
	px := haproxytest.StartT(t, haproxytest.Options{
		TimeoutClient: 300 * time.Millisecond,
		TimeoutServer: 300 * time.Millisecond,
		Frontends: []haproxytest.Frontend{{
			Name:    "impala",
			Servers: []haproxytest.Server{{Name: "c1", Addr: addrs[0]}},
		}},
	})
	lb := px.Addr("impala")
	p := newPool(t, []string{lb}, fastOpts(), nil)
	warm(ctx, t, p, 3)
	s, err := conn.Dial(ctx, lb, fastOpts())
	require.NoError(t, err)
	defer s.Close()
	require.Eventually(t, func() bool { return cos[0].Stats().ConnectionsOpen == 0 },
		10*time.Second, 10*time.Millisecond, "HAProxy did not cut the idle connections")

	stmt := tagged("after-proxy-timeout")
	start := time.Now()
	err = runStmt(ctx, s, stmt)
	if err != nil {
		within(t, time.Since(start), stmtTimeout, "statement through a cut proxy connection")
		requireTyped(t, err, lb)
		requireRetryTruth(t, err, cos, stmt)
		t.Logf("statement on a connection the proxy cut: %v (SafeToRetry=%v)", err, conn.SafeToRetry(err))
	}
	used := workSucceeds(ctx, t, p, 6)
	require.Equal(t, 6, used[lb])
	t.Logf("pool through the proxy after the cut: %+v", p.Stats().Coordinators[0])
}
