package balancer_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/haproxytest"
)

// The two haproxy.cfg examples of Impala's load-balancer guide, copied
// verbatim into testdata.
const (
	guideSample  = "testdata/haproxy/guide-sample.cfg"
	guideAutoTLS = "testdata/haproxy/guide-autotls.cfg"
)

// directives returns the Directive of each ignored entry.
func directives(b balancer.HAProxyBackend) []string {
	var out []string
	for _, d := range b.Ignored {
		out = append(out, d.Directive)
	}
	return out
}

func TestHAProxyGuideSample(t *testing.T) {
	b, err := balancer.LoadHAProxyConfig(guideSample, "impala")
	require.NoError(t, err)
	require.Equal(t, "impala", b.Name)
	require.Equal(t, []string{
		"impala-host-1.example.com:21000", "impala-host-2.example.com:21000",
		"impala-host-3.example.com:21000", "impala-host-4.example.com:21000",
	}, b.Coordinators)
	require.Equal(t, balancer.LeastConn, b.Policy)
	require.True(t, b.Check)
	// HAProxy's defaults for "check" alone: inter 2s, rise 2, fall 3; a
	// check connects within min(inter, timeout connect 5000).
	require.Equal(t, 2*time.Second, b.Interval)
	require.Equal(t, 2, b.Rise)
	require.Equal(t, 3, b.Fall)
	require.Equal(t, 2*time.Second, b.CheckTimeout)
	require.Equal(t, 5*time.Second, b.ConnectTimeout)
	require.Equal(t, 3, b.Retries)
	require.True(t, b.Redispatch)
	require.False(t, b.TLS)
	require.Zero(t, b.SlowStart)

	// Every directive of the defaults and of the section that was not
	// carried over is reported, in line order.
	require.Equal(t, []string{
		"log global", "option httplog", "option dontlognull", "option http-server-close",
		"option forwardfor except 127.0.0.0/8", "maxconn 3000", "timeout client 3600s", "timeout server 3600s",
		"bind :25003", "option tcplog",
	}, directives(b))
	for _, d := range b.Ignored {
		require.NotEmpty(t, d.Reason, d.Directive)
		require.Contains(t, d.String(), d.Section)
	}
	require.Equal(t, "listen impala", b.Ignored[8].Section)
	require.Equal(t, "defaults", b.Ignored[0].Section)

	jdbc, err := balancer.LoadHAProxyConfig(guideSample, "impalajdbc")
	require.NoError(t, err)
	require.Equal(t, balancer.Affinity, jdbc.Policy, "balance source is affinity on this host")
	require.Equal(t, "impala-host-1.example.com:21050", jdbc.Coordinators[0])

	// Two sections have servers (stats has none): the name is needed.
	_, err = balancer.LoadHAProxyConfig(guideSample, "")
	var ce *balancer.HAProxyConfigError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "impala, impalajdbc")
	_, err = balancer.LoadHAProxyConfig(guideSample, "nosuch")
	require.ErrorContains(t, err, `no backend, listen or frontend section named "nosuch"`)
	// The stats section speaks HTTP.
	_, err = balancer.LoadHAProxyConfig(guideSample, "stats")
	require.ErrorContains(t, err, "mode http")

	cfg := balancer.Config{SlowStart: 5 * time.Second}
	b.Apply(&cfg)
	cfg = cfg.WithDefaults()
	require.Equal(t, b.Coordinators, cfg.Coordinators)
	require.Equal(t, balancer.LeastConn, cfg.Policy)
	require.Equal(t, 2*time.Second, cfg.Interval)
	require.Equal(t, 2*time.Second, cfg.CheckTimeout)
	require.Equal(t, 5*time.Second, cfg.DialTimeout)
	require.Equal(t, 2, cfg.Rise)
	require.Equal(t, 3, cfg.Fall)
	require.Equal(t, 3, cfg.Retries)
	require.Negative(t, cfg.SlowStart, "HAProxy has no slow start without slowstart")
	require.NoError(t, cfg.Validate())
}

func TestHAProxyGuideAutoTLS(t *testing.T) {
	// The frontend's name leads to its default_backend.
	b, err := balancer.LoadHAProxyConfig(guideAutoTLS, "impala-auto-tls-thrift")
	require.NoError(t, err)
	require.Equal(t, "shell_autotls_backend", b.Name)
	require.Equal(t, []string{"ve1311.halxg.cloudera.com:21000", "ve1312.halxg.cloudera.com:21000"}, b.Coordinators)
	require.True(t, b.TLS)
	require.Equal(t, "/var/lib/cloudera-scm-agent/agent-cert/cm-auto-global_cacerts.pem", b.CAFile)
	require.Empty(t, b.ServerName, "each coordinator's own name")
	require.Equal(t, balancer.LeastConn, b.Policy)
	require.Equal(t, 5*time.Second, b.ConnectTimeout)
	require.Equal(t, []string{"timeout client 3600000ms", "timeout server 3600000ms"}, directives(b))

	jdbc, err := balancer.LoadHAProxyConfig(guideAutoTLS, "jdbc_autotls_backend")
	require.NoError(t, err)
	require.Equal(t, []string{"ve1311.halxg.cloudera.com:21050", "ve1312.halxg.cloudera.com:21050"}, jdbc.Coordinators)
}

// modernize rewrites a guide example into what HAProxy 2.x accepts
// without resolving a name or reading a file of another machine: the
// address of a listen line moves to a bind line, every server gets
// "init-addr none" from a default-server line, and the guide's certificate
// paths become files of the test.
func modernize(text string, paths map[string]string) string {
	listen := regexp.MustCompile(`(?m)^listen (\S+) (:\d+)$`)
	text = listen.ReplaceAllString(text, "listen $1\n    bind $2")
	text = regexp.MustCompile(`(?m)^(backend|listen) (\S+)$`).ReplaceAllString(text, "$1 $2\n    default-server init-addr none")
	for from, to := range paths {
		text = strings.ReplaceAll(text, from, to)
	}
	return text
}

// haproxyCheck runs "haproxy -c -f file" and returns its output and
// whether it found the file valid.
func haproxyCheck(t *testing.T, file string) (string, bool) {
	t.Helper()
	bin, err := haproxytest.LookPath("")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-c", "-f", file).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("haproxy -c: %v", err)
	}
	return string(out), err == nil
}

// TestHAProxyChecksTheSameFile has HAProxy itself check the guide's
// examples and reads the same files: what HAProxy accepts, the parser
// reads into the same backend as the guide's text.
func TestHAProxyChecksTheSameFile(t *testing.T) {
	dir := t.TempDir()

	// The guide's sample as written is HAProxy 1.x: 2.x wants the address
	// on a bind line. The parser reads both.
	out, ok := haproxyCheck(t, guideSample)
	require.False(t, ok)
	require.Contains(t, out, "please use the 'bind' keyword for listening addresses")

	ca, err := certtest.NewCA("haproxy cfg test CA")
	require.NoError(t, err)
	srv, err := ca.Server("localhost")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	bundle, err := srv.WriteBundle(dir, "bundle")
	require.NoError(t, err)
	paths := map[string]string{
		"/var/lib/cloudera-scm-agent/agent-cert/cm-auto-global_cacerts.pem": caFile,
		"/etc/haproxy/cm-auto-host_cert_chain_unenckey.pem":                 bundle,
	}
	for _, tc := range []struct {
		file     string
		backends []string
	}{
		{guideSample, []string{"impala", "impalajdbc"}},
		{guideAutoTLS, []string{"shell_autotls_backend", "jdbc_autotls_backend", "impala-auto-tls-thrift"}},
	} {
		orig, err := os.ReadFile(tc.file)
		require.NoError(t, err)
		modern := filepath.Join(dir, filepath.Base(tc.file))
		require.NoError(t, os.WriteFile(modern, []byte(modernize(string(orig), paths)), 0o600))
		out, ok := haproxyCheck(t, modern)
		require.True(t, ok, "haproxy -c %s:\n%s", tc.file, out)
		for _, name := range tc.backends {
			want, err := balancer.LoadHAProxyConfig(tc.file, name)
			require.NoError(t, err)
			got, err := balancer.LoadHAProxyConfig(modern, name)
			require.NoError(t, err)
			if want.CAFile != "" {
				require.Equal(t, paths[want.CAFile], got.CAFile)
				got.CAFile = want.CAFile
			}
			require.Contains(t, directives(got), "default-server: init-addr none")
			got.Ignored, want.Ignored = nil, nil
			got.File, want.File = "", ""
			require.Equal(t, want, got, name)
		}
	}
}

func TestHAProxyParse(t *testing.T) {
	for _, tc := range []struct {
		name, text, backend string
		check               func(t *testing.T, b balancer.HAProxyBackend)
		err                 string
	}{{
		name: "default-server, named defaults, health options, maxconn",
		text: `
defaults base
    mode tcp
    timeout connect 3s
    timeout check 500ms
    default-server inter 1s fall 5 rise 1 slowstart 30s downinter 4s maxconn 20
backend b from base
    balance roundrobin
    server a 10.0.0.1:21050 check
    server b [fd00::2]:21050 check weight 50 # heavier
`,
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.Equal(t, []string{"10.0.0.1:21050", "[fd00::2]:21050"}, b.Coordinators)
			require.Equal(t, balancer.RoundRobin, b.Policy)
			require.Equal(t, time.Second, b.Interval)
			require.Equal(t, 1, b.Rise)
			require.Equal(t, 5, b.Fall)
			require.Equal(t, 30*time.Second, b.SlowStart)
			require.Equal(t, 4*time.Second, b.DownInterval)
			require.Equal(t, 1500*time.Millisecond, b.CheckTimeout, "min(inter, timeout connect) + timeout check")
			require.Equal(t, []string{"server b: weight 50"}, directives(b))
			cfg := balancer.Config{}
			b.Apply(&cfg)
			require.Equal(t, 20, cfg.MaxPerCoordinator)
			require.Equal(t, 4*time.Second, cfg.BackoffMin)
			require.Equal(t, 4*time.Second, cfg.BackoffMax)
			require.Equal(t, 30*time.Second, cfg.SlowStart)
			require.Equal(t, 3*time.Second, cfg.DialTimeout)
		},
	}, {
		name: "no check, no balance: roundrobin without active checks, legacy timeouts",
		text: "listen x\n  mode tcp\n  contimeout 2000\n  retries 0\n  server s1 h1:1 \n  server s2 h2:2 backup\n  server s3 h3:3 disabled\n  server s4 h1:1\n",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.Equal(t, []string{"h1:1"}, b.Coordinators)
			require.False(t, b.Check)
			require.Equal(t, balancer.RoundRobin, b.Policy)
			require.Equal(t, 2*time.Second, b.ConnectTimeout)
			require.Equal(t, []string{"server s2: backup", "server s3: disabled", "server s4 h1:1"}, directives(b))
			cfg := balancer.Config{}
			b.Apply(&cfg)
			require.Negative(t, cfg.Interval, "no check: no active checks")
			require.Negative(t, cfg.Retries)
		},
	}, {
		name: "TLS with verifyhost, a client certificate, quoting",
		text: `backend "tls b"
  balance source
  server s1 c1:21050 ssl ca-file '/etc/ca dir/ca.pem' verifyhost impala-lb.example.com crt /etc/c.pem check
  server s2 c2:21050 ssl ca-file "/etc/ca dir/ca.pem" verifyhost impala-lb.example.com crt /etc/c.pem check
`,
		backend: "tls b",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.True(t, b.TLS)
			require.Equal(t, "/etc/ca dir/ca.pem", b.CAFile)
			require.Equal(t, "impala-lb.example.com", b.ServerName)
			require.Equal(t, "/etc/c.pem", b.ClientCertFile)
			require.Equal(t, balancer.Affinity, b.Policy)
		},
	}, {
		name: "sni and verify none",
		text: "backend b\n server s1 c1:1 ssl sni str(lb.example.com) verify none\n",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.Equal(t, "lb.example.com", b.ServerName)
			require.Equal(t, []string{"server s1: verify none"}, directives(b))
		},
	}, {
		name: "server options without an equivalent, and why",
		text: "backend b\n server s1 c1:1 weight 10 ciphers HIGH agent-inter 2s frobnicate 3 tfo\n",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			var got [][2]string
			for _, d := range b.Ignored {
				got = append(got, [2]string{d.Directive, d.Reason})
			}
			require.Equal(t, [][2]string{
				{"server s1: weight 10", "impalalb weighs every coordinator alike"},
				{"server s1: ciphers HIGH", "impalalb uses Go's TLS defaults (TLS 1.2 or later, Go's cipher suites)"},
				{"server s1: agent-inter 2s", "no client-side equivalent"},
				{"server s1: frobnicate 3", "not an HAProxy server option impalalb knows"},
				{"server s1: tfo", "no client-side equivalent"},
			}, got)
		},
	}, {
		name: "rise of zero",
		text: "backend b\n server s1 c1:1 rise 0\n",
		err:  "server s1: rise must be at least 1",
	}, {
		name: "negative maxconn",
		text: "backend b\n server s1 c1:1 maxconn -1\n",
		err:  `server s1: maxconn "-1": want a non-negative number`,
	}, {
		name: "an algorithm without an equivalent",
		text: "backend b\n balance uri\n hash-type consistent\n server s1 c1:1\n",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.Equal(t, balancer.LeastConn, b.Policy)
			require.Equal(t, []string{"balance uri", "hash-type consistent"}, directives(b))
		},
	}, {
		name: "credentials are not shown",
		text: "backend b\n stats auth admin:" + "Sup3r-Secr3t" + "\n http-request set-header Authorization \"Basic Sup3r-Secr3t\"\n server s1 c1:1\n",
		check: func(t *testing.T, b balancer.HAProxyBackend) {
			require.Equal(t, []string{"stats auth (not shown)", "http-request set-header Authorization (not shown)"}, directives(b))
			for _, d := range b.Ignored {
				require.NotContains(t, d.String(), "Secr3t")
			}
		},
	}, {
		name: "servers differing in TLS",
		text: "backend b\n server s1 c1:1 ssl\n server s2 c2:1\n",
		err:  "its TLS settings (ssl, ca-file, crt, sni, verify, verifyhost) differ from server s1's (line 2)",
	}, {
		name: "mode http",
		text: "defaults\n mode http\nbackend b\n server s1 c1:1\n",
		err:  "test.cfg:2: backend b: mode http",
	}, {
		name: "bad time",
		text: "backend b\n timeout connect 5 s\n server s1 c1:1\n",
		err:  `timeout connect: want one time value, got "5 s"`,
	}, {
		name: "bad unit",
		text: "backend b\n server s1 c1:1 inter 3x\n",
		err:  `server s1: inter "3x": unknown unit "x"`,
	}, {
		name: "missing value",
		text: "backend b\n server s1 c1:1 rise\n",
		err:  "server s1: rise needs a value",
	}, {
		name: "unix socket",
		text: "backend b\n server s1 unix@/run/x.sock\n",
		err:  "only host:port addresses are coordinators",
	}, {
		name: "no port",
		text: "backend b\n server s1 c1\n",
		err:  `address "c1" has no port`,
	}, {
		name: "port offset",
		text: "backend b\n server s1 c1:+1\n",
		err:  "no ranges or offsets",
	}, {
		name: "outside a section",
		text: "server s1 c1:1\n",
		err:  `"server" is outside any section`,
	}, {
		name: "unknown from",
		text: "backend b from nope\n server s1 c1:1\n",
		err:  `no defaults section named "nope"`,
	}, {
		name: "environment variables",
		text: "backend b\n server s1 \"$HOST:1\"\n",
		err:  "environment variables",
	}, {
		name:    "a frontend without default_backend",
		text:    "frontend f\n bind :1\nbackend b\n server s1 c1:1\n",
		backend: "f",
		err:     "frontend f has no default_backend",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := balancer.ParseHAProxyConfig("test.cfg", tc.text, tc.backend)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				var ce *balancer.HAProxyConfigError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, "test.cfg", ce.File)
				return
			}
			require.NoError(t, err)
			tc.check(t, b)
		})
	}
}

func TestHAProxyMissingFile(t *testing.T) {
	_, err := balancer.LoadHAProxyConfig(filepath.Join(t.TempDir(), "none.cfg"), "")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "cannot read the file")
}

// FuzzHAProxyConfig reads arbitrary text: no panic, and whatever is
// accepted makes a valid pool configuration.
func FuzzHAProxyConfig(f *testing.F) {
	for _, p := range []string{guideSample, guideAutoTLS} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(string(b), "")
		f.Add(string(b), "impala")
	}
	f.Add("backend b\n server s c:1 check inter 1 rise 1 fall 1 ssl\n", "b")
	f.Fuzz(func(t *testing.T, text, name string) {
		b, err := balancer.ParseHAProxyConfig("", text, name)
		if err != nil {
			var ce *balancer.HAProxyConfigError
			require.ErrorAs(t, err, &ce)
			return
		}
		require.NotEmpty(t, b.Coordinators)
		cfg := balancer.Config{}
		b.Apply(&cfg)
		require.NoError(t, cfg.Validate())
	})
}
