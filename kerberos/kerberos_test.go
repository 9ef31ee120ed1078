package kerberos_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
)

var testHosts = []string{"coord1.impalalb.test", "coord2.impalalb.test"}

func startKDC(t testing.TB, opts kdctest.Options) *kdctest.KDC {
	t.Helper()
	if opts.Hosts == nil {
		opts.Hosts = testHosts
	}
	return kdctest.Start(t, opts)
}

func newClient(t testing.TB, cfg kerberos.Config) *kerberos.Client {
	t.Helper()
	c, err := kerberos.NewClient(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func passwordConfig(k *kdctest.KDC) kerberos.Config {
	return kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Password: secret.New(k.Password)}
}

func newAcceptor(t testing.TB, cfg krbacceptor.Config) *krbacceptor.Acceptor {
	t.Helper()
	a, err := krbacceptor.New(cfg)
	require.NoError(t, err)
	return a
}

// handshake drives a client mechanism against a server mechanism in memory,
// as the SASL transport would, for at most 10 round trips.
func handshake(ctx context.Context, m sasl.Mechanism, s saslserver.Mechanism, host string) error {
	resp, err := m.Start(ctx, host)
	if err != nil {
		return err
	}
	clientDone := false
	for range 10 {
		challenge, done, err := s.Step(resp)
		if err != nil {
			return err
		}
		if done {
			if !clientDone {
				return errors.New("server done before client")
			}
			return nil
		}
		if clientDone {
			return errors.New("client done but server wants more")
		}
		resp, clientDone, err = m.Step(ctx, challenge)
		if err != nil {
			return err
		}
	}
	return errors.New("handshake did not end in 10 round trips")
}

func TestLoginMethods(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	ctx := context.Background()

	t.Run("password", func(t *testing.T) {
		c := newClient(t, passwordConfig(k))
		require.NoError(t, c.Login(ctx))
		require.Equal(t, k.UserPrincipal(), c.Principal())
		require.EqualValues(t, 1, c.Stats().Logins)
	})
	t.Run("keytab", func(t *testing.T) {
		c := newClient(t, kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Keytab: k.UserKeytab})
		require.NoError(t, c.Login(ctx))
		require.EqualValues(t, 1, c.Stats().Logins)
	})
	t.Run("ccache", func(t *testing.T) {
		cc := filepath.Join(t.TempDir(), "krb5cc")
		k.Kinit(t, cc)
		c := newClient(t, kerberos.Config{Krb5Conf: k.Krb5Conf, CCache: "FILE:" + cc})
		require.Equal(t, k.UserPrincipal(), c.Principal())
		require.NoError(t, c.Login(ctx))
	})
	t.Run("ccache from KRB5CCNAME and KRB5_CONFIG", func(t *testing.T) {
		cc := filepath.Join(t.TempDir(), "krb5cc")
		k.Kinit(t, cc)
		t.Setenv("KRB5CCNAME", "FILE:"+cc)
		t.Setenv("KRB5_CONFIG", k.Krb5Conf)
		c := newClient(t, kerberos.Config{})
		require.Equal(t, k.UserPrincipal(), c.Principal())
		a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})
		require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := passwordConfig(k)
		cfg.Password = secret.New("not-the-password")
		c := newClient(t, cfg)
		err := c.Login(ctx)
		require.ErrorIs(t, err, kerberos.ErrBadCredentials)
		require.Contains(t, err.Error(), k.UserPrincipal())
		require.NotContains(t, err.Error(), "not-the-password")
		require.NotContains(t, cfg.String(), "not-the-password")
	})
	t.Run("unknown user", func(t *testing.T) {
		cfg := passwordConfig(k)
		cfg.Principal = "mallory@" + k.Realm
		c := newClient(t, cfg)
		err := c.Login(ctx)
		require.ErrorIs(t, err, kerberos.ErrUnknownPrincipal)
		require.Contains(t, err.Error(), "mallory@"+k.Realm)
	})
	t.Run("missing ccache", func(t *testing.T) {
		_, err := kerberos.NewClient(kerberos.Config{Krb5Conf: k.Krb5Conf, CCache: filepath.Join(t.TempDir(), "none")})
		require.ErrorIs(t, err, kerberos.ErrExpired)
		require.Contains(t, err.Error(), "kinit")
	})
}

func TestHandshakeLBAndHostPrincipals(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	ctx := context.Background()
	a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})

	t.Run("kerberos_host_fqdn", func(t *testing.T) {
		cfg := passwordConfig(k)
		cfg.HostFQDN = k.LBHost
		c := newClient(t, cfg)
		// Whatever host is dialed, the LB principal is asked for.
		for _, host := range []string{testHosts[0], testHosts[1], "127.0.0.1"} {
			m := c.Mechanism()
			s := a.NewMechanism()
			require.NoError(t, handshake(ctx, m, s, host))
			require.Equal(t, k.LBPrincipal(), m.ServicePrincipal())
			require.Equal(t, k.LBPrincipal(), s.ServicePrincipal())
			require.Equal(t, k.UserPrincipal(), s.User())
			require.Equal(t, kerberos.QOPAuth, m.QOP())
			require.False(t, m.Active())
		}
		st := c.Stats()
		require.EqualValues(t, 1, st.TicketsFetched)
		require.EqualValues(t, 2, st.TicketCacheHits)
	})
	t.Run("host principal", func(t *testing.T) {
		c := newClient(t, passwordConfig(k))
		m := c.Mechanism()
		s := a.NewMechanism()
		require.NoError(t, handshake(ctx, m, s, strings.ToUpper(testHosts[0])))
		require.Equal(t, k.HostPrincipal(testHosts[0]), m.ServicePrincipal())
		require.Equal(t, k.UserPrincipal(), s.User())
	})
	t.Run("factory", func(t *testing.T) {
		c := newClient(t, passwordConfig(k))
		m, err := c.MechanismFactory()()
		require.NoError(t, err)
		require.Equal(t, "GSSAPI", m.Name())
		require.NoError(t, handshake(ctx, m, a.Factory()(), testHosts[0]))
	})
}

func TestPrincipalMissingFromKeytab(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	ctx := context.Background()
	// coord1's keytab lacks coord2's principal, which the KDC knows.
	a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})
	c := newClient(t, passwordConfig(k))
	err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[1])
	require.ErrorIs(t, err, krbacceptor.ErrNotInKeytab)
	require.Contains(t, err.Error(), k.HostPrincipal(testHosts[1]))

	// A principal the KDC does not know: the client's error names it.
	err = handshake(ctx, c.Mechanism(), a.NewMechanism(), "nosuch.impalalb.test")
	require.ErrorIs(t, err, kerberos.ErrUnknownPrincipal)
	require.Contains(t, err.Error(), "impala/nosuch.impalalb.test@"+k.Realm)

	// A keytab holding only the LB principal refuses host principals.
	lbOnly := newAcceptor(t, krbacceptor.Config{KeytabPath: k.WriteKeytab(t, k.LBPrincipal())})
	err = handshake(ctx, c.Mechanism(), lbOnly.NewMechanism(), testHosts[0])
	require.ErrorIs(t, err, krbacceptor.ErrNotInKeytab)
	require.Contains(t, err.Error(), k.HostPrincipal(testHosts[0]))
}

func TestSecurityLayers(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	ctx := context.Background()
	c := newClient(t, passwordConfig(k))
	for _, tc := range []struct {
		offer kerberos.QOP
		want  kerberos.QOP
	}{
		{kerberos.QOPAuth, kerberos.QOPAuth},
		{kerberos.QOPAuth | kerberos.QOPAuthConf, kerberos.QOPAuth},
		{kerberos.QOPAuthInt, kerberos.QOPAuthInt},
		{kerberos.QOPAuthConf, kerberos.QOPAuthConf},
		{kerberos.QOPAuthInt | kerberos.QOPAuthConf, kerberos.QOPAuthInt},
	} {
		t.Run(tc.offer.String()+"->"+tc.want.String(), func(t *testing.T) {
			a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), QOP: tc.offer})
			m := c.Mechanism()
			s := a.NewMechanism()
			require.NoError(t, handshake(ctx, m, s, testHosts[0]))
			require.Equal(t, tc.want, m.QOP())
			require.Equal(t, tc.want, s.QOP())
			if tc.want == kerberos.QOPAuth {
				require.False(t, m.Active())
				require.False(t, s.Active())
				return
			}
			require.True(t, m.Active())
			require.True(t, s.Active())
			for i, msg := range [][]byte{[]byte("SELECT 1"), {}, make([]byte, 70000)} {
				w, err := m.Wrap(msg)
				require.NoError(t, err)
				if tc.want == kerberos.QOPAuthConf && len(msg) > 4 {
					require.NotContains(t, string(w), string(msg), "frame %d not encrypted", i)
				}
				got, err := s.Unwrap(w)
				require.NoError(t, err)
				require.Equal(t, msg, got)

				w, err = s.Wrap(msg)
				require.NoError(t, err)
				got, err = m.Unwrap(w)
				require.NoError(t, err)
				require.Equal(t, msg, got)
			}
			// Replayed, reflected and tampered frames are refused.
			w, err := m.Wrap([]byte("once"))
			require.NoError(t, err)
			_, err = s.Unwrap(w)
			require.NoError(t, err)
			_, err = s.Unwrap(w)
			require.ErrorIs(t, err, kerberos.ErrProtocol)
			w, err = m.Wrap([]byte("mine"))
			require.NoError(t, err)
			_, err = m.Unwrap(w)
			require.ErrorIs(t, err, kerberos.ErrProtocol)
			w[len(w)-1] ^= 1
			_, err = s.Unwrap(w)
			require.ErrorIs(t, err, kerberos.ErrProtocol)
		})
	}
	t.Run("client refuses offered layers", func(t *testing.T) {
		cfg := passwordConfig(k)
		cfg.QOP = []kerberos.QOP{kerberos.QOPAuthConf}
		c2 := newClient(t, cfg)
		a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), QOP: kerberos.QOPAuth})
		err := handshake(ctx, c2.Mechanism(), a.NewMechanism(), testHosts[0])
		require.ErrorIs(t, err, kerberos.ErrProtocol)
		require.Contains(t, err.Error(), "auth-conf")
	})
}

func TestKDCDownAndBack(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})
	c := newClient(t, passwordConfig(k))
	k.Stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0])
	require.ErrorIs(t, err, kerberos.ErrKDCUnreachable)
	require.NoError(t, ctx.Err(), "the error must come before the timeout")
	require.Contains(t, err.Error(), k.UserPrincipal())
	require.Contains(t, err.Error(), k.HostPrincipal(testHosts[0]))

	k.Restart(t)
	require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))

	// With a TGT but no service ticket yet, the error names the service.
	k.Stop(t)
	err = handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[1])
	require.ErrorIs(t, err, kerberos.ErrKDCUnreachable)
	require.Contains(t, err.Error(), k.HostPrincipal(testHosts[1]))
	// A cached service ticket needs no KDC.
	require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
	k.Restart(t)
}

func TestContextCancelEndsWait(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	c := newClient(t, passwordConfig(k))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Mechanism().Start(ctx, testHosts[0])
	require.ErrorIs(t, err, context.Canceled)
}

// waitGoroutines waits (bounded) until the goroutine count is at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	var got int
	for range 200 {
		got = runtime.NumGoroutine()
		if got <= n {
			return
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("goroutines: %d, want at most %d\n%s", got, n, buf)
}

func TestShortTicketRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for tickets to expire")
	}
	const life = 5 * time.Second
	for _, tc := range []struct {
		name   string
		renew  time.Duration
		ccache bool
	}{
		{"password relogin", 0, false},
		{"password renewable", time.Minute, false},
		{"ccache renewable", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := startKDC(t, kdctest.Options{TicketLifetime: life, RenewLifetime: tc.renew})
			// A tight skew makes the acceptor refuse expired tickets.
			a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), MaxClockSkew: time.Second})
			ctx := context.Background()
			cfg := passwordConfig(k)
			if tc.ccache {
				cc := filepath.Join(t.TempDir(), "krb5cc")
				k.Kinit(t, cc, "-r", "60")
				cfg = kerberos.Config{Krb5Conf: k.Krb5Conf, CCache: cc}
			}
			c := newClient(t, cfg)
			start := time.Now()
			require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
			// Sessions opened over more than two ticket lifetimes all
			// authenticate.
			for time.Since(start) < 12*life/5 {
				time.Sleep(life / 3)
				require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
			}
			st := c.Stats()
			t.Logf("%+v", st)
			require.GreaterOrEqual(t, st.Logins+st.Renewals, int64(2), "%+v", st)
			require.GreaterOrEqual(t, st.TicketsFetched, int64(2), "%+v", st)
			if tc.renew > 0 {
				require.Positive(t, st.Renewals, "%+v", st)
			}
		})
	}
	t.Run("ccache expires", func(t *testing.T) {
		t.Parallel()
		k := startKDC(t, kdctest.Options{TicketLifetime: 2 * time.Second})
		a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), MaxClockSkew: time.Second})
		cc := filepath.Join(t.TempDir(), "krb5cc")
		k.Kinit(t, cc)
		c := newClient(t, kerberos.Config{Krb5Conf: k.Krb5Conf, CCache: cc})
		ctx := context.Background()
		require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
		time.Sleep(3 * time.Second)
		err := handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0])
		require.ErrorIs(t, err, kerberos.ErrExpired)
		require.Contains(t, err.Error(), k.UserPrincipal())
		require.Contains(t, err.Error(), "kinit")
		// kinit again: the client picks the new TGT up.
		k.Kinit(t, cc)
		require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
	})
}

func TestCloseStopsGoroutines(t *testing.T) {
	k := startKDC(t, kdctest.Options{TicketLifetime: time.Minute, RenewLifetime: time.Hour})
	a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0])})
	ctx := context.Background()
	// Warm the process-wide goroutines (gokrb5's replay cache cleaner).
	c0 := newClient(t, kerberos.Config{Krb5Conf: k.Krb5Conf, Principal: k.UserPrincipal(), Keytab: k.UserKeytab, NoBackgroundRenewal: true})
	require.NoError(t, handshake(ctx, c0.Mechanism(), a.NewMechanism(), testHosts[0]))
	require.NoError(t, c0.Close())
	base := runtime.NumGoroutine()
	for range 5 {
		c, err := kerberos.NewClient(passwordConfig(k))
		require.NoError(t, err)
		require.NoError(t, handshake(ctx, c.Mechanism(), a.NewMechanism(), testHosts[0]))
		require.NoError(t, c.Close())
		require.NoError(t, c.Close())
		_, err = c.Mechanism().Start(ctx, testHosts[0])
		require.ErrorIs(t, err, kerberos.ErrClosed)
		_, err = c.MechanismFactory()()
		require.ErrorIs(t, err, kerberos.ErrClosed)
	}
	waitGoroutines(t, base)
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kerberos.Config
		want string
	}{
		{"keytab and password", kerberos.Config{Principal: "a", Keytab: "x", Password: secret.New("y")}, "both set"},
		{"keytab without principal", kerberos.Config{Keytab: "x"}, "Principal is required"},
		{"password without principal", kerberos.Config{Password: secret.New("secret-pw")}, "Principal is required"},
		{"bad service", kerberos.Config{ServiceName: "a/b", Password: secret.New("p"), Principal: "a"}, "ServiceName"},
		{"bad qop", kerberos.Config{QOP: []kerberos.QOP{3}, Password: secret.New("p"), Principal: "a"}, "QOP"},
		{"keyring cache", kerberos.Config{CCache: "KEYRING:persistent:0"}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kerberos.NewClient(tc.cfg)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "secret-pw")
		})
	}
}

func TestConcurrentHandshakesShareOneFetch(t *testing.T) {
	k := startKDC(t, kdctest.Options{})
	a := newAcceptor(t, krbacceptor.Config{KeytabPath: k.Keytab(testHosts[0]), QOP: kerberos.QOPAuthConf})
	cfg := passwordConfig(k)
	cfg.HostFQDN = k.LBHost
	c := newClient(t, cfg)
	ctx := context.Background()
	const workers, each = 8, 5
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m, s := c.Mechanism(), a.NewMechanism()
				err := handshake(ctx, m, s, testHosts[1])
				if err == nil {
					var w []byte
					if w, err = m.Wrap([]byte("x")); err == nil {
						_, err = s.Unwrap(w)
					}
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := c.Stats()
	require.EqualValues(t, 1, st.Logins, "%+v", st)
	require.EqualValues(t, 1, st.TicketsFetched, "%+v", st)
}

func TestServicePrincipal(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`[libdefaults]
	default_realm = EXAMPLE.COM
	dns_lookup_kdc = false
[realms]
	EXAMPLE.COM = {
		kdc = 127.0.0.1:1
	}
	CORP.EXAMPLE.COM = {
		kdc = 127.0.0.1:1
	}
[domain_realm]
	.corp.example.com = CORP.EXAMPLE.COM
`), 0o600))
	for _, tc := range []struct {
		name string
		cfg  kerberos.Config
		host string
		want string
	}{
		{"dialed host", kerberos.Config{}, "Coord1.Example.com.", "impala/coord1.example.com@EXAMPLE.COM"},
		{"domain_realm", kerberos.Config{}, "c1.corp.example.com", "impala/c1.corp.example.com@CORP.EXAMPLE.COM"},
		{"kerberos_host_fqdn", kerberos.Config{HostFQDN: "lb.corp.example.com"}, "c1.example.com", "impala/lb.corp.example.com@CORP.EXAMPLE.COM"},
		{"realm override", kerberos.Config{Realm: "OTHER.ORG"}, "c1.corp.example.com", "impala/c1.corp.example.com@OTHER.ORG"},
		{"service name", kerberos.Config{ServiceName: "hive"}, "c1.example.com", "hive/c1.example.com@EXAMPLE.COM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Krb5Conf, cfg.Principal, cfg.Password = conf, "alice", secret.New("pw")
			c := newClient(t, cfg)
			require.Equal(t, "alice@EXAMPLE.COM", c.Principal())
			require.Equal(t, tc.want, c.ServicePrincipal(tc.host))
		})
	}
	t.Run("no host", func(t *testing.T) {
		c := newClient(t, kerberos.Config{Krb5Conf: conf, Principal: "alice", Password: secret.New("pw")})
		_, err := c.Mechanism().Start(context.Background(), "")
		require.ErrorContains(t, err, "HostFQDN")
	})
}
