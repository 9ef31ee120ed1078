package impalalb_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/secret"
)

// TestGSSAPI: auth=gssapi against two coordinators that accept Kerberos,
// asking for the load balancer's service principal (kerberos_host_fqdn)
// whatever coordinator the socket reaches, with a keytab and with a
// password, over both protocols.
func TestGSSAPI(t *testing.T) {
	k := kdctest.Start(t, kdctest.Options{Hosts: []string{"coord1.impalalb.test", "coord2.impalalb.test"}})
	cluster := impalad.NewCluster(0)
	var addrs, bzAddrs, httpAddrs []string
	for _, h := range k.Hosts {
		acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: k.Keytab(h)})
		require.NoError(t, err)
		co := startCoord(t, impalad.Config{
			Cluster:    cluster,
			Mechanisms: map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()},
			Negotiate:  acc.AcceptNegotiate,
		})
		addrs = append(addrs, co.HS2Addr())
		bzAddrs = append(bzAddrs, co.BeeswaxAddr())
		httpAddrs = append(httpAddrs, co.HS2HTTPAddr())
	}
	for _, p := range protocols {
		hosts := addrs
		switch p {
		case impalalb.ProtocolBeeswax:
			hosts = bzAddrs
		case impalalb.ProtocolHS2HTTP:
			hosts = httpAddrs
		}
		for _, login := range []string{"keytab", "password"} {
			t.Run(string(p)+"/"+login, func(t *testing.T) {
				cfg := &impalalb.Config{}
				cfg.Addrs = hosts
				cfg.Protocol = p
				cfg.HealthInterval = -1
				cfg.Auth = impalalb.AuthGSSAPI
				cfg.KerberosHostFQDN = k.LBHost
				cfg.Krb5Conf = k.Krb5Conf
				cfg.Principal = k.UserPrincipal()
				if login == "keytab" {
					cfg.Keytab = k.UserKeytab
				} else {
					cfg.User = k.User
					cfg.Password = secret.New(k.Password)
				}
				db, c := openDB(t, cfg)
				db.SetMaxOpenConns(4)
				for range 8 {
					var one int
					require.NoError(t, db.QueryRow("select 1").Scan(&one))
				}
				// Both coordinators accepted the LB principal.
				var held []*sql.Conn
				for range 2 {
					sc, err := db.Conn(t.Context())
					require.NoError(t, err)
					held = append(held, sc)
				}
				require.NotEqual(t, coordinatorOf(t, held[0]), coordinatorOf(t, held[1]))
				for _, sc := range held {
					require.NoError(t, sc.Close())
				}
				require.NotContains(t, fmt.Sprint(c.Config()), k.Password)
			})
		}
	}

	// Through a DSN, with a wrong password: a clear error without the
	// password.
	dsn := fmt.Sprintf("impala://%s:%s@%s?auth=gssapi&kerberos_host_fqdn=%s&krb5_conf=%s&principal=%s&retries=0&health_interval=-1s",
		k.User, "not-the-password", addrs[0], k.LBHost, url.QueryEscape(k.Krb5Conf), url.QueryEscape(k.UserPrincipal()))
	db, err := sql.Open("impala", dsn)
	require.NoError(t, err)
	defer db.Close()
	err = db.Ping()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not-the-password")
}
