package kerberos_test

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/testenv"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
	"github.com/impalalb/impalalb/tlsconf"
)

// These tests run Kerberos end to end: a real MIT KDC (internal/kdctest),
// test coordinators (internal/impalad) with GSSAPI acceptors, and the
// balancer over conn sessions. Coordinators have host names
// (coordN.impalalb.test) that only the test resolves: the pool and conn see
// "coordN.impalalb.test:port", so the mechanism builds the principal and TLS
// checks the certificate from that name, while conn.Options.DialContext
// (testenv.Hosts) connects the socket to 127.0.0.1:port.

var clusterHosts = []string{"coord1.impalalb.test", "coord2.impalalb.test", "coord3.impalalb.test"}

// krbCluster is a KDC and three coordinators that accept GSSAPI.
type krbCluster struct {
	k     *kdctest.KDC
	hosts testenv.Hosts
	cos   []*impalad.Coordinator
	addrs []string // "coordN.impalalb.test:port", as the pool knows them
	byAdr map[string]*impalad.Coordinator
}

type clusterOpts struct {
	kdc kdctest.Options
	// keytab returns the keytab path of host; nil means the standard one
	// (host's own principal and the LB's).
	keytab func(k *kdctest.KDC, host string) string
	// tls returns the server TLS config of host; nil means no TLS.
	tls func(host string) *tls.Config
	// qop returns the layers the acceptor of host offers; nil means auth.
	qop func(host string) kerberos.QOP
	// http serves HS2 over HTTP with SPNEGO instead: the cluster's
	// addresses are the HTTP listeners.
	http bool
}

func startKrbCluster(t testing.TB, o clusterOpts) *krbCluster {
	t.Helper()
	o.kdc.Hosts = clusterHosts
	k := kdctest.Start(t, o.kdc)
	kc := &krbCluster{k: k, byAdr: map[string]*impalad.Coordinator{}}
	cluster := impalad.NewCluster(0)
	for _, h := range clusterHosts {
		path := k.Keytab(h)
		if o.keytab != nil {
			path = o.keytab(k, h)
		}
		var qop kerberos.QOP
		if o.qop != nil {
			qop = o.qop(h)
		}
		acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: path, QOP: qop})
		require.NoError(t, err)
		cfg := impalad.Config{
			DisableBeeswax: true,
			Cluster:        cluster,
			Mechanisms:     map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()},
		}
		if o.tls != nil {
			cfg.TLS = o.tls(h)
		}
		if o.http {
			cfg.HS2HTTPAddr = "127.0.0.1:0"
			cfg.Negotiate = acc.AcceptNegotiate
		}
		co, err := impalad.Start(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = co.Close() })
		listen := co.HS2Addr()
		if o.http {
			listen = co.HS2HTTPAddr()
		}
		addr := kc.hosts.Add(h, listen)
		kc.cos = append(kc.cos, co)
		kc.addrs = append(kc.addrs, addr)
		kc.byAdr[addr] = co
	}
	return kc
}

func (kc *krbCluster) client(t testing.TB, hostFQDN string) *kerberos.Client {
	t.Helper()
	c, err := kerberos.NewClient(kerberos.Config{
		Krb5Conf:  kc.k.Krb5Conf,
		Principal: kc.k.UserPrincipal(),
		Password:  secret.New(kc.k.Password),
		HostFQDN:  hostFQDN,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// spnLog records, per handshake, the host conn gave the mechanism and
// the service principal the mechanism asked a ticket for.
type spnLog struct {
	mu   sync.Mutex
	seen []spnEntry
}

type spnEntry struct{ host, principal string }

// spyMechanism is the kerberos Mechanism unchanged, except that Start also
// records what it was asked for. Embedding keeps Step and the security
// layer (Active, Wrap, Unwrap).
type spyMechanism struct {
	*kerberos.Mechanism
	rec *spnLog
}

func (m spyMechanism) Start(ctx context.Context, host string) ([]byte, error) {
	b, err := m.Mechanism.Start(ctx, host)
	m.rec.mu.Lock()
	m.rec.seen = append(m.rec.seen, spnEntry{host, m.Mechanism.ServicePrincipal()})
	m.rec.mu.Unlock()
	return b, err
}

func (h *spnLog) factory(c *kerberos.Client) sasl.MechanismFactory {
	return func() (sasl.Mechanism, error) { return spyMechanism{c.Mechanism(), h}, nil }
}

func (h *spnLog) all() []spnEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]spnEntry(nil), h.seen...)
}

func (kc *krbCluster) options(mech sasl.MechanismFactory) conn.Options {
	return conn.Options{Mechanism: mech, DialContext: kc.hosts.DialContext, ConnectTimeout: 10 * time.Second}
}

func (kc *krbCluster) pool(t testing.TB, opts conn.Options, cfg balancer.Config) *balancer.Pool[*conn.Session] {
	t.Helper()
	cfg.Coordinators = kc.addrs
	if cfg.Interval == 0 {
		cfg.Interval = -1
	}
	p, err := balancer.New(cfg, balancer.NewConnDialer(opts))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func runOn(ctx context.Context, l *balancer.Lease[*conn.Session], stmt string) error {
	return testenv.Exec(ctx, l.Session(), stmt)
}

// holdN acquires n leases at once (leastconn spreads them), runs select 1
// on each and returns them, still held.
func holdN(t testing.TB, ctx context.Context, p *balancer.Pool[*conn.Session], n int) []*balancer.Lease[*conn.Session] {
	t.Helper()
	leases := make([]*balancer.Lease[*conn.Session], n)
	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		g.Go(func() error {
			l, err := p.Acquire(gctx, "")
			if err != nil {
				return err
			}
			leases[i] = l
			return runOn(gctx, l, "select 1")
		})
	}
	err := g.Wait()
	for _, l := range leases {
		if l != nil {
			t.Cleanup(l.Release)
		}
	}
	require.NoError(t, err)
	return leases
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// TestBalancerKerberosHostFQDN: with kerberos_host_fqdn set to the
// balancer's name, every session authenticates with the LB principal,
// whichever coordinator it lands on.
func TestBalancerKerberosHostFQDN(t *testing.T) {
	kc := startKrbCluster(t, clusterOpts{})
	var rec spnLog
	p := kc.pool(t, kc.options(rec.factory(kc.client(t, kc.k.LBHost))), balancer.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	leases := holdN(t, ctx, p, 30)
	for _, co := range kc.cos {
		require.Equal(t, 10, co.Stats().SessionsOpen, "leastconn spreads the sessions")
		for _, st := range co.Statements() {
			require.Equal(t, kc.k.UserPrincipal(), st.User, "the session runs as the authenticated user")
		}
	}
	hs := rec.all()
	require.Len(t, hs, 30)
	hosts := map[string]bool{}
	for _, h := range hs {
		require.Equal(t, kc.k.LBPrincipal(), h.principal, "handshake with %s", h.host)
		hosts[h.host] = true
	}
	require.Len(t, hosts, 3, "conn gave the mechanism each coordinator's host name")
	for _, l := range leases {
		require.Contains(t, clusterHosts, hostOf(l.Coordinator()))
	}
}

// TestBalancerKerberosOwnPrincipal: without kerberos_host_fqdn, each
// coordinator's own principal is used; their keytabs hold nothing else.
func TestBalancerKerberosOwnPrincipal(t *testing.T) {
	kc := startKrbCluster(t, clusterOpts{keytab: func(k *kdctest.KDC, host string) string {
		return k.WriteKeytab(t, k.HostPrincipal(host))
	}})
	var rec spnLog
	p := kc.pool(t, kc.options(rec.factory(kc.client(t, ""))), balancer.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	holdN(t, ctx, p, 12)
	hs := rec.all()
	require.Len(t, hs, 12)
	for _, h := range hs {
		require.Equal(t, kc.k.HostPrincipal(h.host), h.principal)
	}
	for _, co := range kc.cos {
		require.Positive(t, co.Stats().SessionsOpen)
	}
}

// TestBalancerKerberosMissingPrincipal: a coordinator whose keytab lacks the
// LB principal refuses the ticket; the error names the principal, the pool
// marks it down and the acquire succeeds on another.
func TestBalancerKerberosMissingPrincipal(t *testing.T) {
	kc, badAddr := missingPrincipalCluster(t, false)
	c := kc.client(t, kc.k.LBHost)
	p := kc.pool(t, kc.options(c.MechanismFactory()), balancer.Config{BackoffMin: time.Minute, BackoffMax: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lastErr := requireGoesAround(t, ctx, kc, p, badAddr)
	t.Logf("error seen by the pool: %v", lastErr)
	// Impala closes the connection on a failed authentication, saying
	// nothing of why (the test coordinator too).
	require.ErrorContains(t, lastErr, "the server closed the connection during authentication")
	var de *balancer.DialError
	require.ErrorAs(t, lastErr, &de)
	require.True(t, conn.SafeToRetry(de.Err))
}

// missingPrincipalCluster starts a cluster (serving HS2 over HTTP with
// http) whose last coordinator's keytab holds its own principal only, not
// the load balancer's; it returns that coordinator's address.
func missingPrincipalCluster(t *testing.T, http bool) (*krbCluster, string) {
	bad := clusterHosts[2]
	kc := startKrbCluster(t, clusterOpts{http: http, keytab: func(k *kdctest.KDC, host string) string {
		if host == bad {
			return k.WriteKeytab(t, k.HostPrincipal(host))
		}
		return k.Keytab(host)
	}})
	for _, a := range kc.addrs {
		if hostOf(a) == bad {
			return kc, a
		}
	}
	t.Fatalf("no coordinator on %s", bad)
	return nil, ""
}

// requireGoesAround holds six leases of p one after the other (leastconn
// then tries every coordinator) and requires that none is on bad, that the
// pool redispatched once and marked bad down, and that no session was
// opened there. It returns bad's last error.
func requireGoesAround(t *testing.T, ctx context.Context, kc *krbCluster, p *balancer.Pool[*conn.Session], bad string) error {
	t.Helper()
	for range 6 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NotEqual(t, bad, l.Coordinator())
		require.NoError(t, runOn(ctx, l, "select 1"))
		t.Cleanup(l.Release)
	}
	st := p.Stats()
	require.EqualValues(t, 1, st.Redispatches)
	cs, _ := st.Coordinator(bad)
	require.Equal(t, balancer.StateDown, cs.State)
	require.Error(t, cs.LastError)
	require.Zero(t, kc.byAdr[bad].Stats().SessionsOpened)
	return cs.LastError
}

// TestBalancerKerberosShortTickets: with tickets that live a few seconds,
// a session opened after they expired still works (the client logs in
// again or renews), and nothing is left running afterwards.
func TestBalancerKerberosShortTickets(t *testing.T) {
	const life = 3 * time.Second
	kc := startKrbCluster(t, clusterOpts{kdc: kdctest.Options{TicketLifetime: life}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	baseline := runtime.NumGoroutine()

	c, err := kerberos.NewClient(kerberos.Config{
		Krb5Conf: kc.k.Krb5Conf, Principal: kc.k.UserPrincipal(), Password: secret.New(kc.k.Password), HostFQDN: kc.k.LBHost,
	})
	require.NoError(t, err)
	cfg := balancer.Config{Coordinators: kc.addrs, Interval: -1, MaxIdlePerCoordinator: -1} // every acquire opens a session
	p, err := balancer.New(cfg, balancer.NewConnDialer(kc.options(c.MechanismFactory())))
	require.NoError(t, err)

	acquire := func() {
		t.Helper()
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NoError(t, runOn(ctx, l, "select 1"))
		l.Release()
	}
	acquire()
	start := time.Now()
	first := c.Stats()
	// Sessions keep opening across two ticket lifetimes.
	for time.Since(start) < 2*life+500*time.Millisecond {
		acquire()
		time.Sleep(250 * time.Millisecond)
	}
	acquire()
	last := c.Stats()
	t.Logf("client stats: first %+v, after %v: %+v", first, 2*life, last)
	require.Greater(t, last.Logins+last.Renewals, first.Logins+first.Renewals, "the TGT was replaced")
	require.Greater(t, last.TicketsFetched, first.TicketsFetched, "the service ticket was replaced")

	require.NoError(t, p.Close())
	require.NoError(t, c.Close())
	require.True(t, pollUntil(10*time.Second, func() bool { return runtime.NumGoroutine() <= baseline }),
		"goroutines: %d before, %d after", baseline, runtime.NumGoroutine())
}

// TestBalancerKerberosKDCDown: with the KDC stopped, a client without
// tickets gets a clear error before its deadline; with the KDC back, it
// works again.
func TestBalancerKerberosKDCDown(t *testing.T) {
	kc := startKrbCluster(t, clusterOpts{})
	c := kc.client(t, kc.k.LBHost)
	p := kc.pool(t, kc.options(c.MechanismFactory()), balancer.Config{DialTimeout: 10 * time.Second, Retries: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	kc.k.Stop(t)
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := p.Acquire(actx, "")
	acancel()
	require.Error(t, err)
	t.Logf("KDC down: %v", err)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the failure itself ended the acquire, not the deadline")
	require.ErrorIs(t, err, kerberos.ErrKDCUnreachable)
	var ke *kerberos.Error
	require.ErrorAs(t, err, &ke)
	require.True(t, strings.HasSuffix(ke.Principal, "@"+kc.k.Realm), ke.Principal)

	kc.k.Restart(t)
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.NoError(t, runOn(ctx, l, "select 1"))
	l.Release()
}

// TestBalancerKerberosTLS: Kerberos inside TLS, the passthrough model of
// Impala's guide: every coordinator's certificate carries the balancer's
// name (and its own), the client checks them against the balancer's name
// and authenticates with the LB principal. One coordinator also requires
// auth-conf, so GSSAPI wraps every frame inside TLS.
func TestBalancerKerberosTLS(t *testing.T) {
	ca, err := certtest.NewCA("impalalb kerberos test CA")
	require.NoError(t, err)
	lb := "lb.impalalb.test"
	kc := startKrbCluster(t, clusterOpts{
		tls: func(host string) *tls.Config {
			cert, err := ca.Server(lb, host)
			require.NoError(t, err)
			return &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}, MinVersion: tls.VersionTLS12}
		},
		qop: func(host string) kerberos.QOP {
			if host == clusterHosts[0] {
				return kerberos.QOPAuthConf
			}
			return kerberos.QOPAuth
		},
	})
	tc, err := tlsconf.NewClient(tlsconf.Config{CAPEM: ca.CertPEM(), ServerName: lb})
	require.NoError(t, err)
	opts := kc.options(kc.client(t, lb).MechanismFactory())
	opts.TLSHandshake = tc.HandshakeConn
	p := kc.pool(t, opts, balancer.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	holdN(t, ctx, p, 9)
	for _, co := range kc.cos {
		require.Equal(t, 3, co.Stats().SessionsOpen)
	}

	// Without TLS the coordinators refuse to talk: the socket really is TLS.
	plain := kc.options(kc.client(t, lb).MechanismFactory())
	_, err = conn.Dial(ctx, kc.addrs[1], plain)
	require.Error(t, err)
}

func pollUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkGSSAPISessionOpen measures conn.Dial (TCP, SASL GSSAPI,
// OpenSession, ping) plus Close against a test coordinator, with the
// service ticket cached and with a first ticket fetched from the KDC for
// every session (the TGT is cached in both). NOSASL is the baseline.
func BenchmarkGSSAPISessionOpen(b *testing.B) {
	kc := startKrbCluster(b, clusterOpts{})
	c := kc.client(b, kc.k.LBHost)
	ctx := context.Background()
	open := func(b *testing.B, opts conn.Options, addr string, before func()) {
		b.ReportAllocs()
		for b.Loop() {
			if before != nil {
				before()
			}
			s, err := conn.Dial(ctx, addr, opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached-ticket", func(b *testing.B) {
		opts := kc.options(c.MechanismFactory())
		s, err := conn.Dial(ctx, kc.addrs[0], opts) // warm the TGT and ticket
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
		open(b, opts, kc.addrs[0], nil)
	})
	b.Run("first-ticket", func(b *testing.B) {
		open(b, kc.options(c.MechanismFactory()), kc.addrs[0], c.ForgetServiceTickets)
	})
	b.Run("nosasl-baseline", func(b *testing.B) {
		co, err := impalad.Start(impalad.Config{DisableBeeswax: true})
		if err != nil {
			b.Fatal(err)
		}
		defer co.Close()
		open(b, conn.Options{}, co.HS2Addr(), nil)
	})
}
