package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/dnstest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
	"github.com/impalalb/impalalb/secret"
)

// TestDiscoveryImpalaFlag: the only coordinator of -i is in its graceful
// shutdown; without --discovery the shell has nowhere to go, with
// --discovery impala it learns the cluster from that coordinator's web
// server (HTTPS trusting --ca_cert, Basic with -l's user and password, as
// --web_auth defaults to) and runs on another. --cluster_load reads the
// same web servers.
func TestDiscoveryImpalaFlag(t *testing.T) {
	webTLS, _, caFile := testenv.WebTLS(t, testenv.Host(0), testenv.Host(1), testenv.Host(2))
	users := map[string]string{"alice": "pw-alice"}
	lc := testenv.StartLoopbackCluster(t, 3, impalad.Config{Users: users, WebUsers: users, ShutdownGracePeriod: time.Minute, WebTLS: webTLS})
	_, err := lc.Coords[0].StartShutdown(time.Minute)
	require.NoError(t, err)
	seed := lc.Addr(0)
	auth := []string{"-l", "-u", "alice", "--ldap_password_cmd", "printf pw-alice", "--auth_creds_ok_in_clear"}

	code, out, errs := runShell(t, append(auth, "-i", seed, "-B", "-q", "select 1")...)
	require.Equal(t, 1, code, "the seed refuses new sessions: %s", errs)
	require.Empty(t, out)

	args := append(auth, "-i", seed, "--discovery", "impala", "--discovery_interval", "20ms",
		"--web_port", fmt.Sprint(lc.WebPort), "--web_tls", "--ca_cert", caFile,
		"--cluster_load", "--cluster_load_interval", "50ms", "-B", "-q", "select 1")
	code, out, errs = runShell(t, args...)
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)
	require.NotContains(t, errs, "Connected to "+seed)
	require.True(t, strings.Contains(errs, "Connected to "+lc.Addr(1)) || strings.Contains(errs, "Connected to "+lc.Addr(2)), errs)
	require.NotContains(t, errs, "pw-alice")
}

// TestDiscoveryDNSFlag: -i names a host that only --dns_server knows;
// --discovery dns resolves it there and runs on its record.
func TestDiscoveryDNSFlag(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 2, impalad.Config{})
	const name = "impala.impalalb.test"
	dns := dnstest.Start(t, map[string][]string{name: {testenv.Host(1)}})
	code, out, errs := runShell(t, "-i", fmt.Sprintf("%s:%d", name, lc.HS2Port), "--discovery", "dns",
		"--dns_server", dns.Addr, "--discovery_interval", "20ms", "-B", "-q", "select 2")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "2\n", out)
	require.Contains(t, errs, "Connected to "+lc.Addr(1))
}

// TestDiscoveryFlagsChecked: the discovery flags are checked against each
// other and against the authentication, as the DSN's parameters are.
func TestDiscoveryFlagsChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "h:1", "--discovery_interval", "1s"}, "--discovery_interval needs --discovery"},
		{[]string{"-i", "h:1", "--discovery", "impala", "--dns_server", "127.0.0.1:53"}, "--dns_server needs --discovery dns"},
		{[]string{"-i", "h:1", "--discovery", "dns", "--dns_server", "nope"}, `--dns_server: "nope" is not host:port`},
		{[]string{"-i", "h:1", "--cluster_load_interval", "1s"}, "--cluster_load_interval needs --cluster_load"},
		{[]string{"--discovery", "dns"}, "--discovery needs the seed coordinators of -i"},
		{[]string{"-i", "h:1", "--discovery", "dns", "--web_tls"}, "--web_tls needs --discovery impala or --cluster_load"},
		{[]string{"-i", "h:1", "--web_port", "8080"}, "--web_port needs --discovery impala or --cluster_load"},
		{[]string{"-i", "h:1", "--cluster_load", "--web_port", "70000"}, "--web_port: 70000 is not a port"},
		{[]string{"-i", "h:1", "--cluster_load", "--web_auth", "basic", "--web_tls"}, "--web_auth basic needs -l"},
		{[]string{"-i", "h:1", "--cluster_load", "--web_auth", "basic", "-l", "--auth_creds_ok_in_clear"}, "--web_auth basic needs --web_tls"},
		{[]string{"-i", "h:1", "--cluster_load", "--web_auth", "spnego"}, "--web_auth spnego needs -k"},
		{[]string{"-i", "h:1", "--cluster_load", "--web_auth", "digest"}, "want none, basic or spnego"},
		{[]string{"-i", "h:1", "--discovery", "consul"}, "want dns or impala"},
		{[]string{"-i", "h:1", "--discovery", "dns", "--discovery_interval", "-1s"}, "positive Go duration"},
	} {
		code, _, errs := runShell(t, append(c.args, "-q", "select 1")...)
		require.Equal(t, 2, code, "%v: %s", c.args, errs)
		require.Contains(t, errs, c.want, "%v", c.args)
	}
}

// TestDiscoveryConfig: what the flags make of the pool's configuration —
// the sources, their periods, and the web servers' port, TLS and
// credentials (Basic with -l, never over plain HTTP).
func TestDiscoveryConfig(t *testing.T) {
	ca, err := certtest.NewCA("shell web CA")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(t.TempDir(), "ca.pem")
	require.NoError(t, err)
	build := func(args ...string) balancer.Config {
		t.Helper()
		o, err := parseFlags(append(args, "-q", "x"), io.Discard)
		require.NoError(t, err)
		require.NoError(t, o.check())
		cfg, _, err := poolConfig(o, io.Discard)
		require.NoError(t, err)
		_, cleanup, err := newDialer(o, secret.New("pw"), nil, &cfg)
		require.NoError(t, err)
		cleanup()
		return cfg
	}
	cfg := build("-i", "a:21050,b:21050", "--discovery", "impala", "--discovery_interval", "3s", "--web_port", "25001",
		"--web_tls", "--ca_cert", caFile, "-l", "-u", "bob", "--auth_creds_ok_in_clear", "--cluster_load", "--cluster_load_interval", "2s")
	require.Equal(t, 3*time.Second, cfg.DiscoveryInterval)
	require.Equal(t, 2*time.Second, cfg.ClusterLoadInterval)
	require.Len(t, cfg.Discovery, 1)
	m, ok := cfg.Discovery[0].(*balancer.ImpalaMembership)
	require.True(t, ok, "%T", cfg.Discovery[0])
	require.Equal(t, 21050, m.Port)
	require.Equal(t, 25001, m.Web.Port)
	require.NotNil(t, m.Web.TLSHandshake)
	require.Equal(t, "bob", m.Web.User)
	load, ok := cfg.ClusterLoad.(*balancer.ImpalaLoad)
	require.True(t, ok, "%T", cfg.ClusterLoad)
	require.Same(t, m.Web, load.Web, "one web client for membership and load")

	cfg = build("-i", "a:21050", "--cluster_load", "-l", "-u", "bob", "--auth_creds_ok_in_clear")
	require.Empty(t, cfg.Discovery)
	load = cfg.ClusterLoad.(*balancer.ImpalaLoad)
	require.Equal(t, "bob", load.Web.User)
	require.False(t, load.Web.BasicInClear, "no Basic over plain HTTP")
	require.Nil(t, load.Web.TLSHandshake)
	require.Equal(t, balancer.DefaultWebPort, load.Web.Port)

	cfg = build("-i", "x.example:1,y.example:2", "--discovery", "dns")
	require.Len(t, cfg.Discovery, 2)
	require.Equal(t, &balancer.DNSDiscovery{Name: "y.example", Port: 2}, cfg.Discovery[1])
	require.Nil(t, cfg.ClusterLoad)
}
