package tlsconf_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/tlsserver"
	"github.com/impalalb/impalalb/tlsconf"
)

// The guide's TLS models with Impala's real wire protocols: a real HAProxy
// (bridging, offload) and client-side balancing (passthrough), each with
// HS2 and beeswax, against the test coordinator.

const sessionsPerModel = 6 // held open together: 2 per coordinator under leastconn

// startImpalads starts three test coordinators; with TLS each holds a
// certificate for its own name (coordN.impala.test), and for the load
// balancer's name as well when withLBName is set (passthrough).
func startImpalads(t *testing.T, p *pki, useTLS, withLBName bool) []*impalad.Coordinator {
	t.Helper()
	var out []*impalad.Coordinator
	for i := range 3 {
		name := "coord" + string(rune('1'+i)) + ".impala.test"
		cfg := impalad.Config{}
		if useTLS {
			hosts := []string{name}
			if withLBName {
				hosts = append(hosts, lbName)
			}
			certFile, keyFile, _ := p.server(t, name, hosts...)
			cfg.TLS = serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile})
		}
		co, err := impalad.Start(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { co.Close() })
		out = append(out, co)
	}
	return out
}

// startLB starts HAProxy in front of the coordinators with one TLS frontend
// per protocol holding the load balancer's certificate, in the shape of the
// guide's Auto-TLS example; bridging re-encrypts to the coordinators and
// verifies their certificates, offload talks plain TCP to them.
func startLB(t *testing.T, p *pki, coords []*impalad.Coordinator, bridging bool) *haproxytest.Proxy {
	t.Helper()
	lbCert, err := p.ca.Server(lbName)
	require.NoError(t, err)
	bundle, err := lbCert.WriteBundle(p.dir, "lb-bundle")
	require.NoError(t, err)
	servers := func(addr func(*impalad.Coordinator) string) []haproxytest.Server {
		var s []haproxytest.Server
		for i, co := range coords {
			srv := haproxytest.Server{Name: "coord" + string(rune('1'+i)), Addr: addr(co), Check: true}
			if bridging {
				srv.TLS = &haproxytest.ServerTLS{CAFile: p.caFile, VerifyHost: srv.Name + ".impala.test"}
			}
			s = append(s, srv)
		}
		return s
	}
	return haproxytest.StartT(t, haproxytest.Options{
		Frontends: []haproxytest.Frontend{
			{Name: "hs2", CertBundle: bundle, Balance: "leastconn", Servers: servers((*impalad.Coordinator).HS2Addr)},
			{Name: "beeswax", CertBundle: bundle, Balance: "leastconn", Servers: servers((*impalad.Coordinator).BeeswaxAddr)},
		},
	})
}

// requireSelectOne runs the checks of every model on one session: ping, then
// "select 1" with its exact result.
func requireSelectOne(t *testing.T, s *conn.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, s.Ping(ctx))
	op, err := s.Execute(ctx, "select 1", nil)
	require.NoError(t, err)
	defer op.Close(ctx)
	cols := op.Columns()
	require.Len(t, cols, 1)
	require.Equal(t, "1", cols[0].Name)
	require.Equal(t, "TINYINT", cols[0].TypeName)
	batches, err := op.Fetch(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Equal(t, 1, batches[0].Len())
	require.Equal(t, int8(1), batches[0].Value(0, 0))
	require.NoError(t, op.Close(ctx))
}

// requireSpread asserts that each coordinator ran exactly want "select 1"
// statements of the protocol, in want distinct sessions.
func requireSpread(t *testing.T, coords []*impalad.Coordinator, proto impalad.Protocol, want int) {
	t.Helper()
	for i, co := range coords {
		stmts, sessions := 0, map[string]bool{}
		for _, st := range co.Statements() {
			if st.Protocol == proto {
				require.Equal(t, "select 1", st.Text)
				stmts++
				sessions[st.SessionID] = true
			}
		}
		require.Equal(t, want, stmts, "coordinator %d, %s statements", i+1, proto)
		require.Len(t, sessions, want, "coordinator %d, %s sessions", i+1, proto)
	}
}

func lbProtocols() []struct {
	name  string
	proto conn.Protocol
	imp   impalad.Protocol
} {
	return []struct {
		name  string
		proto conn.Protocol
		imp   impalad.Protocol
	}{{"hs2", conn.HS2, impalad.HS2}, {"beeswax", conn.Beeswax, impalad.Beeswax}}
}

func TestThroughHAProxy(t *testing.T) {
	for _, model := range []struct {
		name     string
		bridging bool
	}{{"bridging", true}, {"offload", false}} {
		t.Run(model.name, func(t *testing.T) {
			p := newPKI(t, "impalalb test CA")
			// Offload: plain coordinators; bridging: TLS ones with their own
			// names, which HAProxy checks (verifyhost).
			coords := startImpalads(t, p, model.bridging, false)
			lb := startLB(t, p, coords, model.bridging)
			if model.bridging {
				require.Contains(t, lb.Config(), "ssl verify required ca-file")
			} else {
				require.NotContains(t, lb.Config(), " ssl verify")
			}
			// The client trusts the CA and checks the LB's certificate
			// against the LB's name, whatever address it dialed.
			cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
			require.NoError(t, err)

			for _, pr := range lbProtocols() {
				t.Run(pr.name, func(t *testing.T) {
					addr := lb.Addr(pr.name)
					var sessions []*conn.Session
					for range sessionsPerModel {
						ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
						s, err := conn.Dial(ctx, addr, conn.Options{Protocol: pr.proto, TLS: cl.ConfigFor(addr)})
						cancel()
						require.NoError(t, err)
						sessions = append(sessions, s)
						requireSelectOne(t, s)
					}
					// Held open together, the sessions were spread by
					// leastconn: two on each coordinator.
					requireSpread(t, coords, pr.imp, sessionsPerModel/len(coords))
					for _, s := range sessions {
						require.NoError(t, s.Close())
					}
					stats, err := lb.Stats(context.Background())
					require.NoError(t, err)
					for _, st := range stats {
						if st.Backend == "be_"+pr.name {
							require.EqualValues(t, sessionsPerModel/len(coords), st.Total, st.Server)
						}
					}
				})
			}

			t.Run("wrong name", func(t *testing.T) {
				// Without the override the client checks the LB's
				// certificate against the address it dialed, 127.0.0.1:
				// the error names what was expected and what it holds.
				plain, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile})
				require.NoError(t, err)
				addr := lb.Addr("hs2")
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				_, err = conn.Dial(ctx, addr, conn.Options{TLS: plain.ConfigFor(addr)})
				require.Error(t, err)
				var nm *tlsconf.NameMismatchError
				require.True(t, errors.As(err, &nm), "%v", err)
				require.Equal(t, "127.0.0.1", nm.Expected)
				require.Equal(t, []string{lbName}, nm.DNSNames)
				require.ErrorContains(t, err, lbName)
				require.True(t, conn.SafeToRetry(err))
			})
		})
	}
}

// TestBridgingRefusesCoordinatorWithWrongName: HAProxy verifies the
// coordinators' certificates (verifyhost); a coordinator whose certificate
// is for another name is marked down by the checks, and the client gets no
// session through it rather than a session with an unverified coordinator.
func TestBridgingRefusesCoordinatorWithWrongName(t *testing.T) {
	p := newPKI(t, "impalalb test CA")
	certFile, keyFile, _ := p.server(t, "other", "other.impala.test")
	co, err := impalad.Start(impalad.Config{TLS: serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile})})
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	lbCert, err := p.ca.Server(lbName)
	require.NoError(t, err)
	bundle, err := lbCert.WriteBundle(p.dir, "lb-bundle")
	require.NoError(t, err)
	lb := haproxytest.StartT(t, haproxytest.Options{Frontends: []haproxytest.Frontend{{
		Name: "hs2", CertBundle: bundle,
		Servers: []haproxytest.Server{{Name: "coord1", Addr: co.HS2Addr(),
			TLS: &haproxytest.ServerTLS{CAFile: p.caFile, VerifyHost: "coord1.impala.test"}}},
	}}})
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName})
	require.NoError(t, err)
	addr := lb.Addr("hs2")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err = conn.Dial(ctx, addr, conn.Options{TLS: cl.ConfigFor(addr)})
	require.Error(t, err)
	require.True(t, conn.SafeToRetry(err), "nothing was sent: %v", err)
	require.Zero(t, co.Stats().SessionsOpened, "no session behind an unverified certificate")
}

// perAddrDialer dials with the TLS config of one tlsconf.Client made for
// each coordinator's address (Client.ConfigFor), so that a certificate is
// checked against the address dialed, an IP address included, and errors
// name it. balancer.ConnDialer shares one *tls.Config, which can check only
// a ServerName override or a host name.
type perAddrDialer struct {
	opts conn.Options
	tls  *tlsconf.Client
}

func (d perAddrDialer) Dial(ctx context.Context, addr string) (*conn.Session, error) {
	o := d.opts
	o.TLS = d.tls.ConfigFor(addr)
	return conn.Dial(ctx, addr, o)
}

// newLBPool makes a pool over addrs with the library's own dialer, or d
// when given.
func newLBPool(t *testing.T, addrs []string, opts conn.Options, d balancer.Dialer[*conn.Session]) *balancer.Pool[*conn.Session] {
	t.Helper()
	cfg := balancer.Config{}
	cfg.Coordinators = addrs
	if d == nil {
		d = balancer.NewConnDialer(opts)
	}
	cfg.SlowStart = -1
	cfg.Retries = -1
	pool, err := balancer.New(cfg, d)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	return pool
}

// TestPassthroughClientSideBalancing: no proxy; every coordinator holds the
// load balancer's name (SAN) and the client balances over them itself with
// ServerName set to that name.
func TestPassthroughClientSideBalancing(t *testing.T) {
	p := newPKI(t, "impalalb test CA")
	coords := startImpalads(t, p, true, true)
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, MinVersion: tls.VersionTLS13})
	require.NoError(t, err)
	for _, pr := range lbProtocols() {
		t.Run(pr.name, func(t *testing.T) {
			var addrs []string
			for _, co := range coords {
				if pr.proto == conn.HS2 {
					addrs = append(addrs, co.HS2Addr())
				} else {
					addrs = append(addrs, co.BeeswaxAddr())
				}
			}
			pool := newLBPool(t, addrs, conn.Options{Protocol: pr.proto, TLS: cl.TLSConfig()}, nil)
			var leases []*balancer.Lease[*conn.Session]
			for range sessionsPerModel {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				l, err := pool.Acquire(ctx, "")
				cancel()
				require.NoError(t, err)
				leases = append(leases, l)
				s := l.Session()
				require.Equal(t, l.Coordinator(), s.Addr())
				requireSelectOne(t, s)
			}
			requireSpread(t, coords, pr.imp, sessionsPerModel/len(coords))
			for _, l := range leases {
				l.Release()
			}
		})
	}

	t.Run("without ServerName", func(t *testing.T) {
		// The coordinators' certificates do not hold 127.0.0.1: each dial
		// fails with the clear mismatch, and the pool says which
		// coordinator it tried.
		plain, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile})
		require.NoError(t, err)
		pool := newLBPool(t, []string{coords[0].HS2Addr()}, conn.Options{}, perAddrDialer{tls: plain})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_, err = pool.Acquire(ctx, "")
		require.Error(t, err)
		var de *balancer.DialError
		require.True(t, errors.As(err, &de), "%v", err)
		require.Equal(t, coords[0].HS2Addr(), de.Coordinator)
		var nm *tlsconf.NameMismatchError
		require.True(t, errors.As(err, &nm), "%v", err)
		require.Equal(t, "127.0.0.1", nm.Expected)
		require.ElementsMatch(t, []string{"coord1.impala.test", lbName}, nm.DNSNames)
		require.ErrorContains(t, err, lbName)

		// One shared *tls.Config without ServerName cannot check an IP
		// address at all, and says so.
		shared := newLBPool(t, []string{coords[0].HS2Addr()}, conn.Options{TLS: plain.TLSConfig()}, nil)
		_, err = shared.Acquire(ctx, "")
		require.ErrorIs(t, err, tlsconf.ErrNoServerName)
	})
}
