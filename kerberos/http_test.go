package kerberos_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
)

// negotiateSpy counts the Negotiate headers made, per coordinator host.
type negotiateSpy struct {
	mu    sync.Mutex
	hosts map[string]int
}

func (s *negotiateSpy) auth(c *kerberos.Client) conn.HTTPAuth {
	return func(ctx context.Context, host string) (secret.Value, error) {
		s.mu.Lock()
		if s.hosts == nil {
			s.hosts = map[string]int{}
		}
		s.hosts[host]++
		s.mu.Unlock()
		return c.NegotiateHeader(ctx, host)
	}
}

func (s *negotiateSpy) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.hosts {
		out[k] = v
	}
	return out
}

func (kc *krbCluster) httpOptions(auth conn.HTTPAuth) conn.Options {
	return conn.Options{Protocol: conn.HS2HTTP, HTTPAuth: auth, DialContext: kc.hosts.DialContext, ConnectTimeout: 10 * time.Second}
}

// TestBalancerKerberosHTTP: HS2 over HTTP with SPNEGO against a real MIT
// KDC, balanced over three coordinators. With kerberos_host_fqdn (HostFQDN)
// the token is for the load balancer's principal, the only one the
// coordinators' keytabs hold; without it, for each coordinator's own. Each
// session authenticates once: the coordinator's cookie carries the rest.
func TestBalancerKerberosHTTP(t *testing.T) {
	for _, c := range []struct {
		name     string
		hostFQDN func(k *kdctest.KDC) string
		keytab   func(k *kdctest.KDC, host string) string
	}{
		{"lb principal", func(k *kdctest.KDC) string { return k.LBHost },
			func(k *kdctest.KDC, host string) string { return k.WriteKeytab(t, k.LBPrincipal()) }},
		{"own principal", func(*kdctest.KDC) string { return "" },
			func(k *kdctest.KDC, host string) string { return k.WriteKeytab(t, k.HostPrincipal(host)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			kc := startKrbCluster(t, clusterOpts{http: true, keytab: c.keytab})
			var spy negotiateSpy
			p := kc.pool(t, kc.httpOptions(spy.auth(kc.client(t, c.hostFQDN(kc.k)))), balancer.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			leases := holdN(t, ctx, p, 12)
			for _, l := range leases {
				require.NoError(t, runOn(ctx, l, "select 2"))
			}
			for _, co := range kc.cos {
				require.Equal(t, 4, co.Stats().SessionsOpen, "leastconn spreads the sessions")
				for _, st := range co.Statements() {
					require.Equal(t, kc.k.UserPrincipal(), st.User, "the session runs as the authenticated user")
				}
			}
			got := spy.counts()
			require.Len(t, got, 3, "conn gave the header maker each coordinator's host name")
			for h, n := range got {
				require.Contains(t, clusterHosts, h)
				require.Equal(t, 4, n, "one authentication per session, the cookie does the rest")
			}
		})
	}
}

// TestKerberosHTTPRefused: a coordinator whose keytab lacks the principal
// the token is for answers 401 and names the coordinator and the status.
// As a GSSAPI refusal over SASL, it is the coordinator's fault, not the
// client's: a pool marks it down and the acquire succeeds on another.
func TestKerberosHTTPRefused(t *testing.T) {
	kc, badAddr := missingPrincipalCluster(t, true)
	c := kc.client(t, kc.k.LBHost)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := conn.Dial(ctx, badAddr, kc.httpOptions(c.NegotiateHeader))
	var he *conn.HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, 401, he.StatusCode)
	require.Equal(t, "Negotiate", he.Sent)
	require.Contains(t, err.Error(), badAddr)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.False(t, ce.ClientSide(), "a refused ticket is the coordinator's keytab")
	require.True(t, conn.SafeToRetry(err))

	p := kc.pool(t, kc.httpOptions(c.NegotiateHeader), balancer.Config{BackoffMin: time.Minute, BackoffMax: time.Minute})
	require.ErrorContains(t, requireGoesAround(t, ctx, kc, p, badAddr), "401 Unauthorized")
}
