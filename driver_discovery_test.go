package impalalb_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/dnstest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
)

// coordinatorsOf holds n connections at once and returns the coordinators
// they are on.
func coordinatorsOf(t *testing.T, db *sql.DB, n int) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
		require.NoError(t, c.Raw(func(dc any) error {
			out[dc.(impalalb.RawConn).Coordinator()]++
			return nil
		}))
		var one int
		require.NoError(t, c.QueryRowContext(ctx, "select 1").Scan(&one))
	}
	for _, c := range conns {
		c.Close()
	}
	return out
}

// waitMembers polls the connector's figures until its discovery source
// lists n coordinators (bounded).
func waitMembers(t *testing.T, c *impalalb.Connector, n int) {
	t.Helper()
	for i := 0; ; i++ {
		st := c.Stats()
		if len(st.Discovery) == 1 && st.Discovery[0].Members == n {
			return
		}
		require.Less(t, i, 1000, "discovery lists %d coordinators: %+v", n, st.Discovery)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDriverDiscoveryImpala: a DSN with one seed finds the cluster through
// the coordinators' web servers (HTTPS with the DSN's CA, Basic with the
// DSN's LDAP user, as web_auth defaults to with auth=plain), and with
// cluster_load reads their load from the same web servers.
func TestDriverDiscoveryImpala(t *testing.T) {
	webTLS, _, caFile := testenv.WebTLS(t, testenv.Host(0), testenv.Host(1), testenv.Host(2))
	users := map[string]string{"alice": "pw-alice"}
	lc := testenv.StartLoopbackCluster(t, 3, impalad.Config{Users: users, WebUsers: users, WebTLS: webTLS})
	cfg, err := impalalb.ParseDSN(fmt.Sprintf("impala://alice:pw-alice@%s?discovery=impala&discovery_interval=20ms&web_tls=true&ca_cert=%s&web_port=%d&cluster_load=true&cluster_load_interval=100ms",
		lc.Addr(0), caFile, lc.WebPort))
	require.NoError(t, err)
	c, err := impalalb.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	waitMembers(t, c, 3)
	got := coordinatorsOf(t, db, 6)
	require.Len(t, got, 3, "spread over the discovered coordinators: %v", got)
	for i := 0; ; i++ {
		read := 0
		for _, cs := range c.Stats().Coordinators {
			if !cs.ClusterQueriesAt.IsZero() {
				read++
			}
		}
		if read == 3 {
			break
		}
		require.Less(t, i, 1000, "every coordinator's load is read: %+v", c.Stats())
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, db.Close())
}

// TestDriverDiscoveryDNS: with discovery=dns the address's name is
// resolved (here by a real DNS server through Config.Resolver), each
// record a coordinator on the address's port.
func TestDriverDiscoveryDNS(t *testing.T) {
	lc := testenv.StartLoopbackCluster(t, 2, impalad.Config{})
	const name = "impala.impalalb.test"
	dns := dnstest.Start(t, map[string][]string{name: {testenv.Host(0), testenv.Host(1)}})
	cfg, err := impalalb.ParseDSN(fmt.Sprintf("impala://%s:%d?discovery=dns&discovery_interval=20ms", name, lc.HS2Port))
	require.NoError(t, err)
	cfg.Resolver = dns.Resolver()
	c, err := impalalb.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	waitMembers(t, c, 2)
	got := coordinatorsOf(t, db, 4)
	require.Equal(t, map[string]int{lc.Addr(0): 2, lc.Addr(1): 2}, got)
	st := c.Stats()
	cs, ok := st.Coordinator(name + ":" + fmt.Sprint(lc.HS2Port))
	require.True(t, !ok || cs.State == balancer.StateRemoved, "the seed's name gave way to the records")
}
