package impalalb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/secret"
)

// base returns what ParseDSN gives for "impala://h".
func base() *Config {
	return &Config{Addrs: []string{"h:21050"}}
}

// dsnCases are valid DSNs, what they parse to (as a change of base()) and
// their canonical form ("" when the input is canonical already).
var dsnCases = []struct {
	in        string
	want      func(c *Config)
	canonical string
}{
	{in: "impala://h", want: func(c *Config) {}},
	{in: "IMPALA://h/", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h:21050", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://H.Example.COM:0021051", want: func(c *Config) { c.Addrs = []string{"h.example.com:21051"} }, canonical: "impala://h.example.com:21051"},
	{in: "impala://h1,h2:1,10.0.0.3:21050,[::1],[2001:DB8::1]:7", want: func(c *Config) {
		c.Addrs = []string{"h1:21050", "h2:1", "10.0.0.3:21050", "[::1]:21050", "[2001:db8::1]:7"}
	}, canonical: "impala://h1,h2:1,10.0.0.3,[::1],[2001:db8::1]:7"},
	{in: "impala://[fe80::1%25eth0]:21051", want: func(c *Config) { c.Addrs = []string{"[fe80::1%eth0]:21051"} }},
	{in: "impala://[fe80::1%eth0]", want: func(c *Config) { c.Addrs = []string{"[fe80::1%eth0]:21050"} }, canonical: "impala://[fe80::1%25eth0]"},
	{in: "impala://[fe80::1%252]", want: func(c *Config) { c.Addrs = []string{"[fe80::1%2]:21050"} }},
	{in: "impala://[fe80::1%2525x]", want: func(c *Config) { c.Addrs = []string{"[fe80::1%25x]:21050"} }},
	{in: "impala://h/sales_2024", want: func(c *Config) { c.Database = "sales_2024" }},
	{in: "impala://bob@h", want: func(c *Config) { c.User = "bob" }},
	{in: "impala://bob:@h", want: func(c *Config) { c.User = "bob" }, canonical: "impala://bob@h"},
	{in: "impala://bob:s3cret@h", want: func(c *Config) { c.User, c.Password, c.Auth = "bob", secret.New("s3cret"), AuthPlain }},
	{in: "impala://b%40b%3Ax:p@ss:w%2Frd%3F%25@h/db", want: func(c *Config) {
		c.User, c.Password, c.Auth, c.Database = "b@b:x", secret.New("p@ss:w/rd?%"), AuthPlain, "db"
	}, canonical: "impala://b%40b%3Ax:p%40ss%3Aw%2Frd%3F%25@h/db"},
	{in: "impala://bob:pw@h?auth=ldap", want: func(c *Config) { c.User, c.Password, c.Auth = "bob", secret.New("pw"), AuthPlain }, canonical: "impala://bob:pw@h"},
	{in: "impala://bob@h?auth=plain", want: func(c *Config) { c.User, c.Auth = "bob", AuthPlain }},
	{in: "impala://bob:pw@h?auth=gssapi", want: func(c *Config) { c.User, c.Password, c.Auth = "bob", secret.New("pw"), AuthGSSAPI }},
	{in: "impala://h?auth=none", want: func(c *Config) { c.Auth = AuthNone }},
	{in: "impala://h?protocol=beeswax", want: func(c *Config) { c.Protocol = ProtocolBeeswax; c.Addrs = []string{"h:21000"} }},
	{in: "impala://h:21050?protocol=beeswax", want: func(c *Config) { c.Protocol = ProtocolBeeswax }},
	{in: "impala://h?protocol=hs2", want: func(c *Config) { c.Protocol = ProtocolHS2 }},
	{in: "impala://h?protocol=hs2-http", want: func(c *Config) { c.Protocol = ProtocolHS2HTTP; c.Addrs = []string{"h:28000"} }},
	{in: "impala://h:28000,g:443?protocol=hs2-http&http_path=gateway%2Fcdp-proxy-api%2Fimpala&http_header.x-forwarded-for=10.0.0.1&http_header.X-Tenant=a+b",
		want: func(c *Config) {
			c.Protocol, c.Addrs, c.HTTPPath = ProtocolHS2HTTP, []string{"h:28000", "g:443"}, "gateway/cdp-proxy-api/impala"
			c.HTTPHeaders = map[string]secret.Value{"X-Forwarded-For": secret.New("10.0.0.1"), "X-Tenant": secret.New("a b")}
		}, canonical: "impala://h,g:443?protocol=hs2-http&http_path=gateway/cdp-proxy-api/impala&http_header.X-Forwarded-For=10.0.0.1&http_header.X-Tenant=a%20b"},
	{in: "impala://h?protocol=hs2-http&auth=jwt&jwt=eyJ.eyJ.sig", want: func(c *Config) {
		c.Protocol, c.Addrs, c.Auth, c.JWT = ProtocolHS2HTTP, []string{"h:28000"}, AuthJWT, secret.New("eyJ.eyJ.sig")
	}},
	{in: "impala://h?protocol=hs2-http&auth=jwt&jwt_file=%2Fvar%2Frun%2Ftoken", want: func(c *Config) {
		c.Protocol, c.Addrs, c.Auth, c.JWTFile = ProtocolHS2HTTP, []string{"h:28000"}, AuthJWT, "/var/run/token"
	}, canonical: "impala://h?protocol=hs2-http&auth=jwt&jwt_file=/var/run/token"},
	{in: "impala://bob:pw@h?protocol=hs2-http&auth=gssapi&kerberos_host_fqdn=lb", want: func(c *Config) {
		c.Protocol, c.Addrs, c.User, c.Password, c.Auth, c.KerberosHostFQDN = ProtocolHS2HTTP, []string{"h:28000"}, "bob", secret.New("pw"), AuthGSSAPI, "lb"
	}},
	{in: "impala://h?balance=affinity&affinity_key=tenant%2042", want: func(c *Config) { c.Balance, c.AffinityKey = BalanceAffinity, "tenant 42" }, canonical: "impala://h?balance=affinity&affinity_key=tenant%2042"},
	{in: "impala://h?balance=affinity&sticky_table_size=-1&sticky_expire=2h&return_home=true", want: func(c *Config) {
		c.Balance, c.StickyTableSize, c.StickyExpire, c.ReturnHome = BalanceAffinity, -1, 2*time.Hour, true
	}, canonical: "impala://h?balance=affinity&sticky_table_size=-1&sticky_expire=2h0m0s&return_home=true"},
	{in: "impala://h?balance=affinity&affinity_key=a+b", want: func(c *Config) { c.Balance, c.AffinityKey = BalanceAffinity, "a b" }, canonical: "impala://h?balance=affinity&affinity_key=a%20b"},
	{in: "impala://h?balance=roundrobin", want: func(c *Config) { c.Balance = BalanceRoundRobin }},
	{in: "impala://h?balance=leastconn", want: func(c *Config) { c.Balance = BalanceLeastConn }},
	{in: "impala://h?auth=gssapi&kerberos_host_fqdn=lb.example.com&service_name=impala2&krb5_conf=/etc/k.conf&keytab=/k/u.keytab&principal=u@EXAMPLE.COM",
		want: func(c *Config) {
			c.Auth, c.KerberosHostFQDN, c.ServiceName = AuthGSSAPI, "lb.example.com", "impala2"
			c.Krb5Conf, c.Keytab, c.Principal = "/etc/k.conf", "/k/u.keytab", "u@EXAMPLE.COM"
		}},
	{in: "impala://h?auth=gssapi&service_name=impala", want: func(c *Config) { c.Auth, c.ServiceName = AuthGSSAPI, "impala" }},
	{in: "impala://h?auth=gssapi&ccache=/cc/krb5cc_1", want: func(c *Config) { c.Auth, c.CCache = AuthGSSAPI, "/cc/krb5cc_1" }},
	{in: "impala://h?tls=true", want: func(c *Config) { c.TLS = true }},
	{in: "impala://h?tls=1", want: func(c *Config) { c.TLS = true }, canonical: "impala://h?tls=true"},
	{in: "impala://h?tls=false", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?tls=true&ca_cert=/c/ca.pem&server_name=lb.example.com&client_cert=/c/c.pem&client_key=/c/k.pem&tls_insecure_skip_verify=true",
		want: func(c *Config) {
			c.TLS, c.CACert, c.ServerName, c.ClientCert, c.ClientKey = true, "/c/ca.pem", "lb.example.com", "/c/c.pem", "/c/k.pem"
			c.TLSInsecureSkipVerify = true
		}},
	{in: "impala://h?connect_timeout=1m30s", want: func(c *Config) { c.ConnectTimeout = 90 * time.Second }},
	{in: "impala://h?connect_timeout=0", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?connect_timeout=10s", want: func(c *Config) { c.ConnectTimeout = 10 * time.Second }},
	{in: "impala://h?query_timeout=250ms", want: func(c *Config) { c.QueryTimeout = 250 * time.Millisecond }},
	{in: "impala://h?fetch_size=1024", want: func(c *Config) { c.FetchSize = 1024 }},
	{in: "impala://h?fetch_size=10240", want: func(c *Config) { c.FetchSize = 10240 }},
	{in: "impala://h?retries=0", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?retries=-1", want: func(c *Config) { c.Retries = -1 }},
	{in: "impala://h?retries=100", want: func(c *Config) { c.Retries = 100 }},
	{in: "impala://h?max_idle_time=1h", want: func(c *Config) { c.MaxIdleTime = time.Hour }, canonical: "impala://h?max_idle_time=1h0m0s"},
	{in: "impala://h?validate_after=0s", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?validate_after=-1s&max_idle_time=-1s&health_interval=-1s", want: func(c *Config) {
		c.ValidateAfter, c.MaxIdleTime, c.HealthInterval = -time.Second, -time.Second, -time.Second
	}, canonical: "impala://h?max_idle_time=-1s&validate_after=-1s&health_interval=-1s"},
	{in: "impala://h?fetch_size=0", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?health_interval=2.5s", want: func(c *Config) { c.HealthInterval = 2500 * time.Millisecond }},
	{in: "impala://h?slow_start=-1s", want: func(c *Config) { c.SlowStart = -time.Second }},
	{in: "impala://h?max_reply_memory=67108864", want: func(c *Config) { c.MaxReplyMemory = 64 << 20 }},
	{in: "impala://h?max_reply_memory=0", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?outlier_failures=-1", want: func(c *Config) { c.OutlierFailures = -1 }},
	{in: "impala://h?outlier_failures=3&outlier_window=10s&outlier_eject_time=1m&outlier_max_ejected=0.25", want: func(c *Config) {
		c.OutlierFailures, c.OutlierWindow, c.OutlierEjectTime, c.OutlierMaxEjected = 3, 10*time.Second, time.Minute, 0.25
	}, canonical: "impala://h?outlier_failures=3&outlier_window=10s&outlier_eject_time=1m0s&outlier_max_ejected=0.25"},
	{in: "impala://h?outlier_window=-1s&outlier_max_ejected=1", want: func(c *Config) { c.OutlierWindow, c.OutlierMaxEjected = -time.Second, 1 }},
	{in: "impala://h?sync_ddl=never", want: func(c *Config) { c.SyncDDL = SyncDDLNever }},
	{in: "impala://h?sync_ddl=auto", want: func(c *Config) { c.SyncDDL = SyncDDLAuto }},
	{in: "impala://h?allow_non_impala=true", want: func(c *Config) { c.AllowNonImpala = true }},
	{in: "impala://h?allow_non_impala=false", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?poll_queries=true", want: func(c *Config) { c.PollQueries = true }},
	{in: "impala://h?discovery=dns", want: func(c *Config) { c.Discovery = DiscoveryDNS }},
	{in: "impala://h?discovery=impala&discovery_interval=1s&discovery_timeout=500ms&web_port=25001", want: func(c *Config) {
		c.Discovery, c.DiscoveryInterval, c.DiscoveryTimeout, c.WebPort = DiscoveryImpala, time.Second, 500*time.Millisecond, 25001
	}},
	{in: "impala://h?cluster_load=true&cluster_load_interval=250ms", want: func(c *Config) { c.ClusterLoad, c.ClusterLoadInterval = true, 250*time.Millisecond }},
	{in: "impala://h?cluster_load=false", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://bob:pw@h?discovery=impala&cluster_load=true&web_tls=true&web_auth=basic&ca_cert=/c/ca.pem", want: func(c *Config) {
		c.User, c.Password, c.Auth = "bob", secret.New("pw"), AuthPlain
		c.CACert, c.Discovery, c.ClusterLoad, c.WebTLS, c.WebAuth = "/c/ca.pem", DiscoveryImpala, true, true, WebAuthBasic
	}, canonical: "impala://bob:pw@h?ca_cert=/c/ca.pem&discovery=impala&cluster_load=true&web_tls=true&web_auth=basic"},
	{in: "impala://h?auth=gssapi&cluster_load=true&web_auth=spnego", want: func(c *Config) { c.Auth, c.ClusterLoad, c.WebAuth = AuthGSSAPI, true, WebAuthSPNEGO }},
	{in: "impala://h?cluster_load=true&web_auth=none&web_port=0", want: func(c *Config) { c.ClusterLoad, c.WebAuth = true, WebAuthNone },
		canonical: "impala://h?cluster_load=true&web_auth=none"},
	{in: "impala://h?poll_queries=false", want: func(c *Config) {}, canonical: "impala://h"},
	{in: "impala://h?opt.mem_limit=2g&opt.REQUEST_POOL=etl%20pool&opt.Sync_DDL=1&opt.x=", want: func(c *Config) {
		c.QueryOptions = map[string]string{"MEM_LIMIT": "2g", "REQUEST_POOL": "etl pool", "SYNC_DDL": "1", "X": ""}
	}, canonical: "impala://h?opt.MEM_LIMIT=2g&opt.REQUEST_POOL=etl%20pool&opt.SYNC_DDL=1&opt.X="},
	{in: "impala://h?opt.DEBUG_ACTION=a%26b%3Dc%2Bd", want: func(c *Config) {
		c.QueryOptions = map[string]string{"DEBUG_ACTION": "a&b=c+d"}
	}, canonical: "impala://h?opt.DEBUG_ACTION=a%26b%3Dc%2Bd"},
	{in: "impala://h?&&fetch_size=5&", want: func(c *Config) { c.FetchSize = 5 }, canonical: "impala://h?fetch_size=5"},
	{in: "impala://h?t%6Cs=true", want: func(c *Config) { c.TLS = true }, canonical: "impala://h?tls=true"},
	{in: "impala://?haproxy_config=/etc/haproxy/haproxy.cfg&haproxy_backend=impala", want: func(c *Config) {
		c.Addrs, c.HAProxyConfig, c.HAProxyBackend = nil, "/etc/haproxy/haproxy.cfg", "impala"
	}},
	{in: "impala://etl@/sales?protocol=beeswax&haproxy_config=haproxy.cfg", want: func(c *Config) {
		c.Addrs, c.User, c.Database, c.Protocol, c.HAProxyConfig = nil, "etl", "sales", ProtocolBeeswax, "haproxy.cfg"
	}, canonical: "impala://etl@/sales?haproxy_config=haproxy.cfg&protocol=beeswax"},
	{in: "impala:///?haproxy_backend=impala-jdbc:2.x&haproxy_config=%2Fetc%2Fha+proxy.cfg&balance=leastconn&health_interval=5s", want: func(c *Config) {
		c.Addrs, c.HAProxyConfig, c.HAProxyBackend = nil, "/etc/ha proxy.cfg", "impala-jdbc:2.x"
		c.Balance, c.HealthInterval = BalanceLeastConn, 5*time.Second
	}, canonical: "impala://?haproxy_config=/etc/ha%20proxy.cfg&haproxy_backend=impala-jdbc:2.x&balance=leastconn&health_interval=5s"},
	{in: "impala://h?retries=1&fetch_size=2&tls=true&protocol=beeswax", want: func(c *Config) {
		c.Retries, c.FetchSize, c.TLS, c.Protocol, c.Addrs = 1, 2, true, ProtocolBeeswax, []string{"h:21000"}
	}, canonical: "impala://h?protocol=beeswax&tls=true&fetch_size=2&retries=1"},
}

func TestParseDSN(t *testing.T) {
	for _, tc := range dsnCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDSN(tc.in)
			require.NoError(t, err)
			want := base()
			tc.want(want)
			require.Equal(t, want, got)

			canonical := tc.canonical
			if canonical == "" {
				canonical = tc.in
			}
			require.Equal(t, canonical, got.FormatDSN())

			again, err := ParseDSN(got.FormatDSN())
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func TestDefaultPort(t *testing.T) {
	c := &Config{}
	require.Equal(t, 21050, c.DefaultPort())
	c.Protocol = ProtocolBeeswax
	require.Equal(t, 21000, c.DefaultPort())
	require.Error(t, (&Config{}).Validate(), "no coordinator")
}

const pwSecret = "Sup3r-Secr3t"

func TestParseDSNErrors(t *testing.T) {
	cases := []struct {
		in, param, reason string
	}{
		{"", "scheme", "impala://"},
		{"impala://h?discovery=consul", "discovery", `"consul" is not dns or impala`},
		{"impala://h?discovery_interval=1s", "discovery_interval", "needs discovery"},
		{"impala://h?discovery=dns&discovery_timeout=-1s", "discovery_timeout", "negative"},
		{"impala://h?cluster_load_interval=1s", "cluster_load_interval", "needs cluster_load=true"},
		{"impala://h?cluster_load=yes", "cluster_load", "not a boolean"},
		{"impala://h?web_port=25000", "web_port", "needs discovery=impala or cluster_load=true"},
		{"impala://h?discovery=dns&web_tls=true", "web_tls", "needs discovery=impala or cluster_load=true"},
		{"impala://h?cluster_load=true&web_port=70000", "web_port", "not an integer from 0 to 65535"},
		{"impala://h?cluster_load=true&web_auth=digest", "web_auth", "not none, basic or spnego"},
		{"impala://bob:pw@h?cluster_load=true&web_auth=basic", "web_auth", "needs web_tls=true"},
		{"impala://h?cluster_load=true&web_tls=true&web_auth=basic", "web_auth", "needs a user name and a password"},
		{"impala://bob:pw@h?cluster_load=true&web_auth=spnego", "web_auth", "spnego needs auth=gssapi"},
		{"impala://h?cluster_load=true&ca_cert=/ca.pem", "ca_cert", "needs tls=true (or web_tls=true)"},
		{"mysql://h", "scheme", "impala://"},
		{"impala:/h", "scheme", "impala://"},
		{"impala://", "address", "no coordinator"},
		{"impala:///db", "address", "no coordinator"},
		{"impala://u:" + pwSecret + "@", "address", "no coordinator"},
		{"impala://?haproxy_backend=impala", "address", "or give haproxy_config"},
		{"impala://h?haproxy_config=/etc/haproxy/haproxy.cfg", "haproxy_config", "not with coordinator addresses"},
		{"impala://h?haproxy_backend=impala", "haproxy_backend", "needs haproxy_config"},
		{"impala://?haproxy_config=h.cfg&haproxy_backend=a%20b", "haproxy_backend", `"a b" is not a section name`},
		{"impala://?haproxy_config=h%00.cfg", "haproxy_config", "NUL"},
		{"impala://?haproxy_config=a&haproxy_config=b", "haproxy_config", "more than once"},
		{"impala://h,", "address", "coordinator 2: empty host"},
		{"impala://h:", "address", "empty port"},
		{"impala://h:0", "address", "port is not a number"},
		{"impala://h:65536", "address", "port is not a number"},
		{"impala://h:-1", "address", "port is not a number"},
		{"impala://h:+1", "address", "port is not a number"},
		{"impala://h:x", "address", "port is not a number"},
		{"impala://::1", "address", "in brackets"},
		{"impala://[::1", "address", "missing ']'"},
		{"impala://[::1]x", "address", "after ']'"},
		{"impala://[::1]:", "address", "empty port"},
		{"impala://[10.0.0.1]", "address", "not an IPv6"},
		{"impala://[zz]", "address", "not an IPv6"},
		{"impala://[fe80::1%25]", "address", "bad IPv6 zone"},
		{"impala://[fe80::1%25a%2525b]", "address", "bad IPv6 zone"},
		{"impala://[fe80::1%a b]", "address", "bad IPv6 zone"},
		{"impala://h%20x", "address", "not a host name"},
		{"impala://h,H", "address", "coordinators 1 and 2 are both h:21050"},
		{"impala://h:21000,h?protocol=beeswax", "address", "both h:21000"},
		{"impala://h/db-1", "database", `"db-1" is not a database name`},
		{"impala://h/db%zz", "database", "percent-encoding"},
		{"impala://h/a@b", "", "'@' after the host list"},
		{"impala://u%zz@h", "user", "percent-encoding"},
		{"impala://u:" + pwSecret + "%zz@h", "password", "percent-encoding"},
		{"impala://u:" + pwSecret + "%@h", "password", "percent-encoding"},
		{"impala://u:" + pwSecret + "%0@h", "password", "percent-encoding"},
		{"impala://u%00:x@h", "user", "NUL"},
		{"impala://u:" + pwSecret + "%00@h", "password", "NUL"},
		{"impala://h?tls", "tls", "missing '=value'"},
		{"impala://h?=1", "", "malformed parameter name"},
		{"impala://h?a%zz=1", "", "malformed parameter name"},
		{"impala://h?a-b=1", "a-b", "unknown parameter"},
		{"impala://h?a+b=1", "", "malformed parameter name"},
		{"impala://h?bogus=1", "bogus", "unknown parameter"},
		{"impala://h?TLS=true", "TLS", "unknown parameter"},
		{"impala://h?tls=true&tls=true", "tls", "more than once"},
		{"impala://h?opt.mem_limit=1&opt.MEM_LIMIT=2", "opt.MEM_LIMIT", "more than once"},
		{"impala://h?opt.=1", "", "query option"},
		{"impala://h?opt.1abc=1", "", "query option"},
		{"impala://h?opt.a.b=1", "", "query option"},
		{"impala://h?opt.X=a%0Ab", "opt.X", "line break"},
		{"impala://h?opt.X=a%0Db", "opt.X", "line break"},
		{"impala://h?opt.X=a%00b", "opt.X", "NUL"},
		{"impala://h?opt.X=%FF", "opt.X", "UTF-8"},
		{"impala://h?fetch_size=%zz", "fetch_size", "percent-encoding"},
		{"impala://h?protocol=http", "protocol", `"http" is not hs2, beeswax or hs2-http`},
		{"impala://h?http_path=x", "http_path", "needs protocol=hs2-http"},
		{"impala://h?http_header.X-A=1", "http_header.X-A", "needs protocol=hs2-http"},
		{"impala://h?protocol=hs2-http&http_header.x-a=1&http_header.X-A=2", "http_header.X-A", "more than once"},
		{"impala://h?protocol=hs2-http&http_header.Cookie=1", "http_header.Cookie", "the transport's own header"},
		{"impala://h?protocol=hs2-http&http_header.authorization=1", "http_header.Authorization", "the transport's own header"},
		{"impala://h?protocol=hs2-http&http_header.X-A=a%0Db", "http_header.X-A", "line break"},
		{"impala://h?protocol=hs2-http&http_header.X%20A=1", "", "malformed parameter name"},
		{"impala://h?protocol=hs2-http&http_header.=1", "", "not a header name"},
		{"impala://h?protocol=hs2-http&http_path=a%20b", "http_path", "space"},
		{"impala://h?auth=jwt&jwt=abc", "auth", "jwt needs protocol=hs2-http"},
		{"impala://h?protocol=hs2-http&auth=jwt", "auth", "jwt needs a token"},
		{"impala://h?protocol=hs2-http&auth=jwt&jwt=a&jwt_file=/t", "auth", "one token source"},
		{"impala://h?protocol=hs2-http&jwt=a", "jwt", "needs auth=jwt"},
		{"impala://h?protocol=hs2-http&jwt_file=/t", "jwt_file", "needs auth=jwt"},
		{"impala://h?protocol=hs2-http&auth=jwt&jwt=a%20b", "jwt", "space"},
		{"impala://u:pw@h?protocol=hs2-http&auth=jwt&jwt=a", "auth", "a password needs"},
		{"impala://h?protocol=", "protocol", "is not hs2"},
		{"impala://h?balance=random", "balance", "is not leastconn"},
		{"impala://h?affinity_key=x", "affinity_key", "needs balance=affinity"},
		{"impala://h?balance=roundrobin&affinity_key=x", "affinity_key", "needs balance=affinity"},
		{"impala://h?sticky_table_size=10", "sticky_table_size", "needs balance=affinity"},
		{"impala://h?balance=leastconn&sticky_expire=1m", "sticky_expire", "needs balance=affinity"},
		{"impala://h?return_home=true", "return_home", "needs balance=affinity"},
		{"impala://h?balance=affinity&sticky_table_size=-2", "sticky_table_size", ""},
		{"impala://h?balance=affinity&sticky_table_size=100000001", "sticky_table_size", ""},
		{"impala://h?auth=kerberos", "auth", "is not none, plain, ldap, gssapi or jwt"},
		{"impala://u:" + pwSecret + "@h?auth=none", "auth", "a password needs"},
		{"impala://:" + pwSecret + "@h", "auth", "plain needs a user name"},
		{"impala://h?auth=ldap", "auth", "plain needs a user name"},
		{"impala://h?kerberos_host_fqdn=lb", "kerberos_host_fqdn", "needs auth=gssapi"},
		{"impala://h?service_name=hive", "service_name", "needs auth=gssapi"},
		{"impala://h?krb5_conf=/k", "krb5_conf", "needs auth=gssapi"},
		{"impala://h?keytab=/k", "keytab", "needs auth=gssapi"},
		{"impala://h?principal=p", "principal", "needs auth=gssapi"},
		{"impala://h?ccache=/c", "ccache", "needs auth=gssapi"},
		{"impala://u:" + pwSecret + "@h?auth=plain&keytab=/k", "keytab", "needs auth=gssapi"},
		{"impala://u@h?auth=gssapi&keytab=/k&ccache=/c", "keytab", "not with ccache"},
		{"impala://u:" + pwSecret + "@h?auth=gssapi&keytab=/k", "keytab", "not with a password"},
		{"impala://u:" + pwSecret + "@h?auth=gssapi&ccache=/c", "ccache", "not with a password"},
		{"impala://h?auth=gssapi&keytab=/k", "principal", "needs a principal or a user"},
		{"impala://:" + pwSecret + "@h?auth=gssapi", "principal", "needs a principal or a user"},
		{"impala://h?auth=gssapi&kerberos_host_fqdn=a%2Fb", "kerberos_host_fqdn", "not a host name"},
		{"impala://h?auth=gssapi&service_name=a%2Fb", "service_name", "not a service name"},
		{"impala://h?auth=gssapi&principal=a%09b", "principal", "control character"},
		{"impala://h?auth=gssapi&keytab=a%00b&principal=p", "keytab", "NUL"},
		{"impala://h?tls=yes", "tls", `"yes" is not a boolean`},
		{"impala://h?tls_insecure_skip_verify=2", "tls_insecure_skip_verify", "not a boolean"},
		{"impala://h?ca_cert=/c", "ca_cert", "needs tls=true"},
		{"impala://h?server_name=lb", "server_name", "needs tls=true"},
		{"impala://h?client_cert=/c", "client_cert", "needs tls=true"},
		{"impala://h?client_key=/c", "client_key", "needs tls=true"},
		{"impala://h?tls_insecure_skip_verify=true", "tls_insecure_skip_verify", "needs tls=true"},
		{"impala://h?tls=true&client_cert=/c", "client_cert", "needs client_key"},
		{"impala://h?tls=true&client_key=/c", "client_key", "needs client_cert"},
		{"impala://h?tls=true&server_name=a%20b", "server_name", "not a host name"},
		{"impala://h?tls=true&ca_cert=a%00", "ca_cert", "NUL"},
		{"impala://h?connect_timeout=10", "connect_timeout", "not a duration"},
		{"impala://h?connect_timeout=-1s", "connect_timeout", "negative"},
		{"impala://h?query_timeout=x", "query_timeout", "not a duration"},
		{"impala://h?validate_after=1d", "validate_after", "not a duration"},
		{"impala://h?allow_non_impala=yes", "allow_non_impala", "not a boolean"},
		{"impala://h?poll_queries=often", "poll_queries", "not a boolean"},
		{"impala://h?sync_ddl=sometimes", "sync_ddl", "not auto, always or never"},
		{"impala://h?protocol=beeswax&allow_non_impala=true", "allow_non_impala", "needs protocol=hs2"},
		{"impala://h?fetch_size=-1", "fetch_size", "not an integer from 0 to 16777216"},
		{"impala://h?fetch_size=16777217", "fetch_size", "from 0 to"},
		{"impala://h?fetch_size=1e3", "fetch_size", "not an integer"},
		{"impala://h?retries=-2", "retries", "from -1 to 100"},
		{"impala://h?retries=101", "retries", "from -1 to 100"},
		{"impala://h?max_reply_memory=-1", "max_reply_memory", "not an integer from 0"},
		{"impala://h?max_reply_memory=1099511627777", "max_reply_memory", "from 0 to"},
		{"impala://h?outlier_failures=-2", "outlier_failures", "from -1 to 1000"},
		{"impala://h?outlier_eject_time=-1s", "outlier_eject_time", "negative"},
		{"impala://h?outlier_window=x", "outlier_window", "not a duration"},
		{"impala://h?outlier_max_ejected=1.5", "outlier_max_ejected", "from 0 to 1"},
		{"impala://h?outlier_max_ejected=NaN", "outlier_max_ejected", "from 0 to 1"},
		// A password whose '/' or '?' was not encoded: nothing of it shows.
		{"impala://u:" + pwSecret + "/x@h", "address", "malformed; percent-encode"},
		{"impala://u:12/" + pwSecret + "@h", "", "'@' after the host list"},
		{"impala://u:12/" + pwSecret + "?a=b@h", "database", "malformed; percent-encode"},
		{"impala://u:1?" + pwSecret + "=x@h", "", "malformed; percent-encode"},
		{"impala://u:1?tls=" + pwSecret + "@h", "", "malformed; percent-encode"},
		{"impala://u:1,Secr3t:0/x@h", "address", "malformed; percent-encode"},
		{"impala://u:1?principal=" + pwSecret + "@h", "principal", "malformed; percent-encode"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseDSN(tc.in)
			require.Error(t, err)
			require.Nil(t, c)
			var de *DSNError
			require.True(t, errors.As(err, &de), "%T", err)
			require.Equal(t, tc.param, de.Param)
			require.Contains(t, err.Error(), tc.reason)
			require.True(t, strings.HasPrefix(err.Error(), "impalalb: dsn: "), err.Error())
			require.NotContains(t, err.Error(), pwSecret)
			require.NotContains(t, err.Error(), "Secr3t")
		})
	}
}

func TestDSNErrorUnwrap(t *testing.T) {
	_, err := ParseDSN("impala://h?connect_timeout=zz")
	var de *DSNError
	require.True(t, errors.As(err, &de))
	require.Error(t, errors.Unwrap(err))
	require.Contains(t, err.Error(), "connect_timeout: not a duration")
	require.Equal(t, "impalalb: dsn: bad", (&DSNError{Reason: "bad"}).Error())
}

func TestConfigRedaction(t *testing.T) {
	c, err := ParseDSN("impala://bob:" + pwSecret + "@h1,h2/db?tls=true")
	require.NoError(t, err)
	require.Contains(t, c.FormatDSN(), pwSecret)

	want := "impala://bob:xxxxx@h1,h2/db?tls=true"
	require.Equal(t, want, c.String())
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", c, "value", *c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "config", c, "value", *c)
	j, err := json.Marshal(c)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprint(*c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprintf("%v %+v %#v %s", *c, *c, *c, *c), logs.String(), string(j),
	} {
		require.NotContains(t, s, pwSecret)
	}
	require.Contains(t, fmt.Sprintf("%#v", c), "impalalb.Config(")
	require.Contains(t, logs.String(), "xxxxx")
	// String does not change the Config.
	require.Equal(t, pwSecret, c.Password.Reveal())

	c.Password = secret.Value{}
	require.Equal(t, "impala://bob@h1,h2/db?auth=plain&tls=true", c.String())
}

// TestConfigRedactionJWT: the token of auth=jwt is a secret like the
// password, and so is the value of an HTTP header (a proxy's key).
func TestConfigRedactionJWT(t *testing.T) {
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VybmFtZSI6ImNhcm9sIn0.c2lnbmF0dXJl"
	c, err := ParseDSN("impala://h?protocol=hs2-http&auth=jwt&jwt=" + tok + "&http_header.X-Api-Key=c2lnbmF0dXJl-key")
	require.NoError(t, err)
	require.Contains(t, c.FormatDSN(), tok)
	require.Contains(t, c.FormatDSN(), "http_header.X-Api-Key=c2lnbmF0dXJl-key")
	require.Equal(t, "impala://h?protocol=hs2-http&auth=jwt&jwt=xxxxx&http_header.X-Api-Key=xxxxx", c.String())
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "config", c, "value", *c)
	j, err := json.Marshal(c)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v", *c, *c, *c), logs.String(), string(j)} {
		require.NotContains(t, s, tok)
		require.NotContains(t, s, "c2lnbmF0dXJl")
	}
}

func TestConfigClone(t *testing.T) {
	c, err := ParseDSN("impala://h1,h2?opt.MEM_LIMIT=1g")
	require.NoError(t, err)
	d := c.Clone()
	require.Equal(t, c, d)
	d.Addrs[0] = "x:1"
	d.QueryOptions["MEM_LIMIT"] = "2g"
	require.Equal(t, "h1:21050", c.Addrs[0])
	require.Equal(t, "1g", c.QueryOptions["MEM_LIMIT"])
}

func TestConfigValidateByHand(t *testing.T) {
	ok := func() *Config {
		return &Config{Addrs: []string{"h1", "h2:21051", "[::1]"}}
	}
	require.NoError(t, ok().Validate())

	zero := &Config{Addrs: []string{"h"}}
	require.NoError(t, zero.Validate(), "zero values mean defaults")
	require.Equal(t, "impala://h", zero.FormatDSN(), "a zero Config is the DSN without parameters")

	cases := []struct {
		name   string
		change func(c *Config)
		param  string
	}{
		{"dup", func(c *Config) { c.Addrs = []string{"h", "h:21050"} }, "address"},
		{"bad addr", func(c *Config) { c.Addrs = []string{"h h"} }, "address"},
		{"db", func(c *Config) { c.Database = "a b" }, "database"},
		{"protocol", func(c *Config) { c.Protocol = "x" }, "protocol"},
		{"balance", func(c *Config) { c.Balance = "x" }, "balance"},
		{"auth", func(c *Config) { c.Auth = "ldap" }, "auth"},
		{"empty auth with password", func(c *Config) { c.Auth, c.User, c.Password = "", "u", secret.New("p") }, "auth"},
		{"fetch", func(c *Config) { c.FetchSize = -1 }, "fetch_size"},
		{"retries", func(c *Config) { c.Retries = MaxRetries + 1 }, "retries"},
		{"connect", func(c *Config) { c.ConnectTimeout = -1 }, "connect_timeout"},
		{"discovery", func(c *Config) { c.Discovery = "static" }, "discovery"},
		{"web port", func(c *Config) { c.ClusterLoad, c.WebPort = true, -1 }, "web_port"},
		{"web auth", func(c *Config) { c.ClusterLoad, c.WebAuth = true, "x" }, "web_auth"},
		{"query", func(c *Config) { c.QueryTimeout = -1 }, "query_timeout"},
		{"opt name", func(c *Config) { c.QueryOptions = map[string]string{"A B": "1"} }, ""},
		{"opt dup", func(c *Config) { c.QueryOptions = map[string]string{"a": "1", "A": "2"} }, "opt.A"},
		{"opt value", func(c *Config) { c.QueryOptions = map[string]string{"A": "1\n"} }, "opt.A"},
		{"user NUL", func(c *Config) { c.User = "a\x00" }, "user"},
		{"haproxy_config with addresses", func(c *Config) { c.HAProxyConfig = "haproxy.cfg" }, "haproxy_config"},
		{"haproxy_backend alone", func(c *Config) { c.HAProxyBackend = "impala" }, "haproxy_backend"},
		{"no coordinator", func(c *Config) { c.Addrs = nil }, "address"},
		{"password NUL", func(c *Config) { c.Auth, c.User, c.Password = AuthPlain, "u", secret.New("a\x00"+pwSecret) }, "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.change(c)
			err := c.Validate()
			var de *DSNError
			require.True(t, errors.As(err, &de), "%v", err)
			require.Equal(t, tc.param, de.Param)
			require.NotContains(t, err.Error(), pwSecret)
		})
	}

	// A hand-made Config with lower-case option names formats canonically.
	c := ok()
	c.QueryOptions = map[string]string{"mem_limit": "1g"}
	c.Addrs = []string{"H1:21050", "[::1]:21051"}
	require.Equal(t, "impala://H1,[::1]:21051?opt.MEM_LIMIT=1g", c.FormatDSN())
	p, err := ParseDSN(c.FormatDSN())
	require.NoError(t, err)
	require.Equal(t, []string{"h1:21050", "[::1]:21051"}, p.Addrs)
	require.Equal(t, map[string]string{"MEM_LIMIT": "1g"}, p.QueryOptions)
}

func ExampleParseDSN() {
	cfg, err := ParseDSN("impala://etl:s3cret@coord1,coord2:21051/sales?auth=ldap&tls=true&server_name=lb.example.com&opt.mem_limit=2g")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Addrs, cfg.Auth, cfg.QueryOptions)
	fmt.Println(cfg) // the password is redacted

	_, err = ParseDSN("impala://coord1?fetch_size=lots")
	fmt.Println(err)
	// Output:
	// [coord1:21050 coord2:21051] plain map[MEM_LIMIT:2g]
	// impala://etl:xxxxx@coord1,coord2:21051/sales?tls=true&server_name=lb.example.com&opt.MEM_LIMIT=2g
	// impalalb: dsn: fetch_size: "lots" is not an integer from 0 to 16777216
}

// TestConfigByHandIsTheDSN: one convention for every layer. A zero Config
// and a DSN without parameters give the pool and the dialer the same
// settings, and those are the documented defaults, defined once in
// balancer and conn; the same values written in a DSN and set by hand
// agree too.
func TestConfigByHandIsTheDSN(t *testing.T) {
	effective := func(c *Config) (balancer.Config, conn.Options) {
		t.Helper()
		cn, err := NewConnector(c)
		require.NoError(t, err)
		defer cn.Close()
		bc, o, err := cn.Effective()
		require.NoError(t, err)
		bc.Logger, o.Logger = nil, nil
		return bc, o
	}
	fromDSN := func(dsn string) *Config {
		c, err := ParseDSN(dsn)
		require.NoError(t, err)
		return c
	}
	bc, o := effective(&Config{Addrs: []string{"h:21050"}})
	bd, od := effective(fromDSN("impala://h"))
	require.Equal(t, bc, bd)
	require.Equal(t, o, od)
	require.Equal(t, 10*time.Second, bc.DialTimeout)
	require.Equal(t, 10*time.Second, o.ConnectTimeout)
	require.Equal(t, balancer.DefaultDialTimeout, conn.DefaultConnectTimeout)
	require.Equal(t, 3, bc.Retries)
	require.Equal(t, 30*time.Minute, bc.MaxIdleTime)
	require.Equal(t, 30*time.Second, bc.ValidateAfter)
	require.Equal(t, 2*time.Second, bc.Interval)
	require.Equal(t, 10240, o.FetchSize)
	require.Equal(t, balancer.LeastConn, bc.Policy)

	require.Equal(t, conn.DefaultMaxMessageSize, o.MaxReplyMemory)
	require.Equal(t, balancer.DefaultOutlierFailures, bc.OutlierFailures)
	require.Equal(t, balancer.DefaultOutlierWindow, bc.OutlierWindow)
	require.Equal(t, balancer.DefaultOutlierEjectTime, bc.OutlierEjectTime)
	require.Equal(t, balancer.DefaultOutlierMaxEjected, bc.OutlierMaxEjected)

	byHand := &Config{Addrs: []string{"h:21050"}, ConnectTimeout: 3 * time.Second, Retries: -1,
		MaxIdleTime: -1, ValidateAfter: time.Second, HealthInterval: -1, FetchSize: 99,
		Balance: BalanceAffinity, AffinityKey: "tenant", SyncDDL: SyncDDLNever, MaxReplyMemory: 1 << 20,
		OutlierFailures: 2, OutlierWindow: -1, OutlierEjectTime: 10 * time.Minute, OutlierMaxEjected: 0.2,
		StickyTableSize: 500, StickyExpire: time.Hour, ReturnHome: true}
	bc, o = effective(byHand)
	bd, od = effective(fromDSN("impala://h?connect_timeout=3s&retries=-1&max_idle_time=-1ns&validate_after=1s&health_interval=-1ns&fetch_size=99&balance=affinity&affinity_key=tenant&sync_ddl=never" +
		"&max_reply_memory=1048576&outlier_failures=2&outlier_window=-1ns&outlier_eject_time=10m&outlier_max_ejected=0.2" +
		"&sticky_table_size=500&sticky_expire=1h&return_home=true"))
	require.Equal(t, bc, bd)
	require.Equal(t, o, od)
	require.Equal(t, -1, bc.Retries, "negative: a single attempt")
	require.Negative(t, bc.Interval, "negative: no active checks")
	require.Equal(t, "tenant", bc.DefaultKey)
	require.Equal(t, 500, bc.StickyTableSize)
	require.Equal(t, time.Hour, bc.StickyExpire)
	require.True(t, bc.ReturnHome)
	require.Equal(t, 1<<20, o.MaxReplyMemory)
	require.Equal(t, 10*time.Minute, bc.OutlierEjectTimeMax, "a first ejection longer than the maximum is not doubled")

	// hs2-http: the port, the path and the credentials of the transport.
	bc, o = effective(&Config{Addrs: []string{"h:28000"}, Protocol: ProtocolHS2HTTP, User: "u", Password: secret.New("pw"), Auth: AuthPlain})
	bd, od = effective(fromDSN("impala://u:pw@h?protocol=hs2-http"))
	require.NotNil(t, o.HTTPAuth)
	require.NotNil(t, od.HTTPAuth)
	require.Nil(t, o.Mechanism, "no SASL over HTTP")
	o.HTTPAuth, od.HTTPAuth = nil, nil
	require.Equal(t, bc, bd)
	require.Equal(t, o, od)
	require.Equal(t, []string{"h:28000"}, bc.Coordinators)
	require.Equal(t, conn.HS2HTTP, o.Protocol)
	require.Equal(t, conn.DefaultHTTPPath, o.HTTPPath)
	bc, o = effective(&Config{Addrs: []string{"h:28000"}, Protocol: ProtocolHS2HTTP, Auth: AuthJWT, JWT: secret.New("a.b.c"), HTTPPath: "p", HTTPHeaders: map[string]secret.Value{"X-A": secret.New("1")}})
	bd, od = effective(fromDSN("impala://h?protocol=hs2-http&auth=jwt&jwt=a.b.c&http_path=p&http_header.x-a=1"))
	o.HTTPAuth, od.HTTPAuth = nil, nil
	require.Equal(t, bc, bd)
	require.Equal(t, o, od)

	// haproxy_config: the backend of the guide's haproxy.cfg (its hosts
	// made loopback addresses; no active checks, so nothing is dialed),
	// under the DSN's own pool settings.
	guide, err := os.ReadFile(filepath.Join("balancer", "testdata", "haproxy", "guide-sample.cfg"))
	require.NoError(t, err)
	hapFile := filepath.Join(t.TempDir(), "haproxy.cfg")
	loopback := strings.NewReplacer("impala-host-", "127.0.0.", ".example.com", "")
	require.NoError(t, os.WriteFile(hapFile, []byte(loopback.Replace(string(guide))), 0o600))
	byHand = &Config{HAProxyConfig: hapFile, HAProxyBackend: "impalajdbc", HealthInterval: -1, ConnectTimeout: 3 * time.Second}
	bc, o = effective(byHand)
	bd, od = effective(fromDSN("impala://?haproxy_config=" + escapeDSN(hapFile, true) + "&haproxy_backend=impalajdbc&health_interval=-1ns&connect_timeout=3s"))
	require.Equal(t, bc, bd)
	require.Equal(t, o, od)
	require.Equal(t, []string{"127.0.0.1:21050", "127.0.0.2:21050", "127.0.0.3:21050", "127.0.0.4:21050"}, bc.Coordinators)
	require.Equal(t, balancer.Affinity, bc.Policy, "balance source")
	require.Equal(t, 3*time.Second, bc.DialTimeout, "the DSN's connect_timeout over the file's timeout connect")
	require.Equal(t, 3*time.Second, o.ConnectTimeout)
	require.Negative(t, bc.Interval, "the DSN's health_interval over the file's check")
	require.Equal(t, 3, bc.Retries, "retries 3")
	require.Negative(t, bc.SlowStart, "no slowstart in the file: none")

	// Left out of the DSN, the file's settings stay.
	bc, o = effective(&Config{HAProxyConfig: hapFile, HAProxyBackend: "impala", HealthInterval: -1, Balance: BalanceAffinity})
	require.Equal(t, 5*time.Second, bc.DialTimeout, "timeout connect 5000")
	require.Equal(t, 5*time.Second, o.ConnectTimeout)
	require.Equal(t, balancer.Affinity, bc.Policy, "the DSN's balance over the file's leastconn")
	require.Equal(t, "127.0.0.1:21000", bc.Coordinators[0])

	// Discovery and cluster-wide leastconn: the same sources, and the
	// balancer's defaults for what is left out.
	// (Loopback names only: the pools start polling at once.)
	byHand = &Config{Addrs: []string{"127.0.0.1:21051"}, Discovery: DiscoveryImpala, ClusterLoad: true, WebPort: 25001, DiscoveryTimeout: time.Second}
	// The sources are compared by what they were given (their pollers
	// have started using them).
	sources := func(bc *balancer.Config) (*balancer.ImpalaMembership, *balancer.ImpalaLoad) {
		t.Helper()
		require.Len(t, bc.Discovery, 1)
		m, ok := bc.Discovery[0].(*balancer.ImpalaMembership)
		require.True(t, ok)
		load, ok := bc.ClusterLoad.(*balancer.ImpalaLoad)
		require.True(t, ok)
		require.Same(t, m.Web, load.Web, "one web client for the membership and the load")
		bc.Discovery, bc.ClusterLoad = nil, nil
		return m, load
	}
	bc, _ = effective(byHand)
	bd, _ = effective(fromDSN("impala://127.0.0.1:21051?discovery=impala&cluster_load=true&web_port=25001&discovery_timeout=1s"))
	for _, c := range []*balancer.Config{&bc, &bd} {
		m, load := sources(c)
		require.Equal(t, 21051, m.Port)
		require.Equal(t, 25001, m.Web.Port)
		require.Nil(t, m.Web.TLS)
		require.Nil(t, m.Web.TLSHandshake)
		require.Empty(t, m.Web.User)
		require.Empty(t, load.Metric)
	}
	require.Equal(t, bc, bd)
	require.Equal(t, balancer.DefaultDiscoveryInterval, bc.DiscoveryInterval)
	require.Equal(t, time.Second, bc.DiscoveryTimeout)
	require.Equal(t, balancer.DefaultClusterLoadInterval, bc.ClusterLoadInterval)
	bc, _ = effective(fromDSN("impala://127.0.0.1:1,localhost:2?discovery=dns"))
	require.Equal(t, []balancer.Discoverer{&balancer.DNSDiscovery{Name: "127.0.0.1", Port: 1}, &balancer.DNSDiscovery{Name: "localhost", Port: 2}}, bc.Discovery)
	require.Nil(t, bc.ClusterLoad)
}
