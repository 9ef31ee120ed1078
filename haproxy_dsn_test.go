package impalalb_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
)

// guideHAProxyConfig writes one of the guide's haproxy.cfg examples
// (balancer/testdata/haproxy) with the replacements made (its hosts
// become test coordinators) and returns its path.
func guideHAProxyConfig(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("balancer", "testdata", "haproxy", name))
	require.NoError(t, err)
	text := strings.NewReplacer(replace...).Replace(string(b))
	for i := 0; i < len(replace); i += 2 {
		require.NotContains(t, text, replace[i])
	}
	p := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// hapDSN opens the DSN (with the file's path escaped in) through
// NewConnector, with a logger, and closes it at cleanup.
func hapDSN(t *testing.T, dsn string, logs *testenv.LockedBuffer) (*sql.DB, *impalalb.Connector) {
	t.Helper()
	cfg, err := impalalb.ParseDSN(dsn)
	require.NoError(t, err)
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return openDB(t, cfg)
}

// TestDSNHAProxyGuideSample: the guide's sample haproxy.cfg, its four
// hosts replaced by test coordinators. Its "impala" section (beeswax,
// leastconn) spreads sessions; its "impalajdbc" section (HS2, balance
// source) keeps them on one coordinator; the DSN's own settings override
// the file's; the directives without a client-side meaning are logged.
func TestDSNHAProxyGuideSample(t *testing.T) {
	var cos []*impalad.Coordinator
	var replace []string
	for i := 1; i <= 4; i++ {
		co := startCoord(t, impalad.Config{})
		cos = append(cos, co)
		replace = append(replace,
			fmt.Sprintf("impala-host-%d.example.com:21000", i), co.BeeswaxAddr(),
			fmt.Sprintf("impala-host-%d.example.com:21050", i), co.HS2Addr())
	}
	file := url.QueryEscape(guideHAProxyConfig(t, "guide-sample.cfg", replace...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("impala: beeswax, leastconn", func(t *testing.T) {
		var logs testenv.LockedBuffer
		db, c := hapDSN(t, "impala://tester@?haproxy_config="+file+"&haproxy_backend=impala&protocol=beeswax", &logs)
		// Four sessions held at once: one on each coordinator.
		for range cos {
			sc, err := db.Conn(ctx)
			require.NoError(t, err)
			defer sc.Close()
			var one int
			require.NoError(t, sc.QueryRowContext(ctx, "select 1").Scan(&one))
		}
		st := c.Stats()
		require.Len(t, st.Coordinators, 4)
		for i, cs := range st.Coordinators {
			require.Equal(t, cos[i].BeeswaxAddr(), cs.Addr)
			require.Equal(t, 1, cs.InUse, "leastconn: %s", cs.Addr)
		}
		// The file's settings: check (inter 2s, rise 2, fall 3), timeout
		// connect 5000, retries 3, no slowstart.
		bc, o, err := c.Effective()
		require.NoError(t, err)
		require.Equal(t, balancer.LeastConn, bc.Policy)
		require.Equal(t, 2*time.Second, bc.Interval)
		require.Equal(t, 5*time.Second, bc.DialTimeout)
		require.Equal(t, 5*time.Second, o.ConnectTimeout)
		require.Equal(t, 3, bc.Retries)
		require.Negative(t, bc.SlowStart)
		// Each directive that was not carried over is logged, with its line.
		for _, d := range []string{`directive="timeout client 3600s"`, `directive="option tcplog"`, `directive="bind :25003"`} {
			require.Contains(t, logs.String(), d)
		}
		require.Contains(t, logs.String(), `msg="impalalb: haproxy_config: directive not carried over"`)
		require.Contains(t, logs.String(), `line=47 section=defaults directive="timeout client 3600s"`)
	})

	t.Run("impalajdbc: hs2, balance source, the DSN over the file", func(t *testing.T) {
		db, c := hapDSN(t, "impala://tester@/default?haproxy_config="+file+"&haproxy_backend=impalajdbc&slow_start=1s&retries=-1", nil)
		// Each statement on a new session: all of them on one coordinator.
		db.SetMaxIdleConns(0)
		before := make([]int64, len(cos))
		for i, co := range cos {
			before[i] = co.Stats().StatementsExecuted
		}
		for range 8 {
			var one int
			require.NoError(t, db.QueryRowContext(ctx, "select 1").Scan(&one))
		}
		placed, ok := c.Placement()
		require.True(t, ok, "balance source places this host's key")
		for i, co := range cos {
			ran := co.Stats().StatementsExecuted - before[i]
			if co.HS2Addr() == placed {
				require.GreaterOrEqual(t, ran, int64(8))
			} else {
				require.Zero(t, ran, "%s is not the key's coordinator", co.HS2Addr())
			}
		}
		bc, _, err := c.Effective()
		require.NoError(t, err)
		require.Equal(t, balancer.Affinity, bc.Policy)
		require.Equal(t, time.Second, bc.SlowStart, "slow_start over the file's none")
		require.Equal(t, -1, bc.Retries, "retries over the file's 3")
	})

	t.Run("errors", func(t *testing.T) {
		cfg, err := impalalb.ParseDSN("impala://?haproxy_config=" + file)
		require.NoError(t, err)
		_, err = impalalb.NewConnector(cfg)
		require.ErrorContains(t, err, "impalalb: haproxy_config: balancer: ")
		require.ErrorContains(t, err, "2 backends have servers (impala, impalajdbc): name the one to use")
		cfg.HAProxyBackend = "stats"
		_, err = impalalb.NewConnector(cfg)
		require.ErrorContains(t, err, "mode http")
		var ce *balancer.HAProxyConfigError
		require.ErrorAs(t, err, &ce)
		cfg.HAProxyConfig = filepath.Join(t.TempDir(), "missing.cfg")
		_, err = impalalb.NewConnector(cfg)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

// TestDSNHAProxyGuideAutoTLS: the guide's auto-TLS haproxy.cfg, its two
// hosts replaced by TLS test coordinators: the servers' "ssl ca-file"
// turns TLS on with that CA, and the DSN's ca_cert overrides the file's.
func TestDSNHAProxyGuideAutoTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := certtest.NewCA("impalalb haproxy test CA")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	other, err := certtest.NewCA("another CA")
	require.NoError(t, err)
	otherFile, err := other.WriteCertFile(dir, "other.pem")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	tc := impalad.Config{TLS: &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}}}
	var cos []*impalad.Coordinator
	for range 2 {
		cos = append(cos, startCoord(t, tc))
	}
	config := func(ca string) string {
		return url.QueryEscape(guideHAProxyConfig(t, "guide-autotls.cfg",
			"ve1311.halxg.cloudera.com:21050", cos[0].HS2Addr(), "ve1312.halxg.cloudera.com:21050", cos[1].HS2Addr(),
			"ve1311.halxg.cloudera.com:21000", cos[0].BeeswaxAddr(), "ve1312.halxg.cloudera.com:21000", cos[1].BeeswaxAddr(),
			"/var/lib/cloudera-scm-agent/agent-cert/cm-auto-global_cacerts.pem", ca))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	query := func(t *testing.T, dsn string) error {
		db, _ := hapDSN(t, dsn, nil)
		var one int
		return db.QueryRowContext(ctx, "select 1").Scan(&one)
	}

	// The frontend's name leads to its default_backend; TLS with the
	// file's CA, though the DSN says nothing of TLS.
	good := config(caFile)
	require.NoError(t, query(t, "impala://?haproxy_config="+good+"&haproxy_backend=impala-autotls-jdbc&health_interval=-1ns"))
	require.NoError(t, query(t, "impala://?haproxy_config="+good+"&haproxy_backend=impala-auto-tls-thrift&protocol=beeswax&health_interval=-1ns"))

	// A file whose CA did not sign the coordinators' certificates: the
	// sessions fail, unless the DSN gives the right CA.
	bad := config(otherFile)
	err = query(t, "impala://?haproxy_config="+bad+"&haproxy_backend=jdbc_autotls_backend&health_interval=-1ns&retries=-1")
	require.ErrorContains(t, err, "certificate")
	require.NoError(t, query(t, "impala://?haproxy_config="+bad+"&haproxy_backend=jdbc_autotls_backend&health_interval=-1ns&tls=true&ca_cert="+url.QueryEscape(caFile)))
}
