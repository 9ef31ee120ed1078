package impalalb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/secret"
)

// Protocol is the wire protocol spoken to the coordinators.
type Protocol string

// The protocols a coordinator speaks.
const (
	// ProtocolHS2 is HiveServer2 (TCLIService with Impala's extensions),
	// port 21050 by default. Prefer it: it carries typed, columnar results.
	ProtocolHS2 Protocol = "hs2"
	// ProtocolBeeswax is the older beeswax ImpalaService, port 21000 by
	// default. Rows come back as tab-separated text.
	ProtocolBeeswax Protocol = "beeswax"
	// ProtocolHS2HTTP is HiveServer2 over HTTP, port 28000 by default
	// (Impala's --hs2_http_port): how Impala is reached through HTTP load
	// balancers, Apache Knox and Kubernetes ingresses. Each call is a POST
	// to HTTPPath; LDAP is Basic, Kerberos is SPNEGO, and AuthJWT is open.
	ProtocolHS2HTTP Protocol = "hs2-http"
)

// Balance names the policy that picks a coordinator for a new session.
type Balance string

// The balancing policies.
const (
	// BalanceLeastConn picks the coordinator with the fewest sessions in
	// use from this client.
	BalanceLeastConn Balance = "leastconn"
	// BalanceAffinity sends the same affinity key to the same coordinator
	// while it is healthy (rendezvous hashing with a bounded load).
	BalanceAffinity Balance = "affinity"
	// BalanceRoundRobin takes the coordinators in turn. Supported, but not
	// recommended for Impala, whose queries vary widely in cost.
	BalanceRoundRobin Balance = "roundrobin"
)

// SyncDDL names when the driver adds SYNC_DDL=1 to statements that change
// the catalog (Config.SyncDDL).
type SyncDDL string

// The SyncDDL modes.
const (
	SyncDDLAuto   SyncDDL = "auto"
	SyncDDLAlways SyncDDL = "always"
	SyncDDLNever  SyncDDL = "never"
)

// Auth names how the client authenticates to the coordinators.
type Auth string

// The authentication modes. The DSN also accepts "ldap" as a synonym for
// "plain" (Impala's LDAP authentication is SASL PLAIN on the wire).
const (
	// AuthNone sends no credentials (Impala's NOSASL transport).
	AuthNone Auth = "none"
	// AuthPlain is SASL PLAIN with User and Password (LDAP on the
	// server); use it with TLS.
	AuthPlain Auth = "plain"
	// AuthGSSAPI is Kerberos through SASL GSSAPI (RFC 4752); over
	// hs2-http, SPNEGO ("Authorization: Negotiate").
	AuthGSSAPI Auth = "gssapi"
	// AuthJWT is a JSON Web Token sent as "Authorization: Bearer"
	// (Impala's JWT authentication, impala-shell's -j), from JWT, JWTFile
	// or JWTFunc. hs2-http only; use it with TLS.
	AuthJWT Auth = "jwt"
)

// Discovery names how the coordinators are found at run time.
type Discovery string

// The discovery modes.
const (
	// DiscoveryDNS resolves the host name of each address periodically:
	// each A and AAAA record is a coordinator on that address's port (a
	// Kubernetes headless service, round-robin DNS).
	DiscoveryDNS Discovery = "dns"
	// DiscoveryImpala reads the cluster's membership from the
	// coordinators' web servers (/backends?json): each coordinator's host
	// on the port of the first address; quiescing ones are drained.
	DiscoveryImpala Discovery = "impala"
)

// WebAuth names how the client answers a coordinator's web server that asks
// for credentials.
type WebAuth string

// The web server authentication modes.
const (
	// WebAuthNone sends no credentials.
	WebAuthNone WebAuth = "none"
	// WebAuthBasic sends User and Password with HTTP Basic (Impala's
	// --webserver_require_ldap), over TLS only.
	WebAuthBasic WebAuth = "basic"
	// WebAuthSPNEGO sends a Kerberos ticket for HTTP/<host> with
	// Negotiate (Impala's --webserver_require_spnego); auth=gssapi only.
	WebAuthSPNEGO WebAuth = "spnego"
)

// Ports and limits of the DSN. The other defaults of [Config] are the
// balancer's and conn's, each defined once: [balancer.DefaultDialTimeout],
// [balancer.DefaultRetries], [balancer.DefaultMaxIdleTime],
// [balancer.DefaultValidateAfter], [balancer.DefaultInterval],
// [conn.DefaultFetchSize], [kerberos.DefaultServiceName].
const (
	// DefaultPort is the coordinators' HS2 port.
	DefaultPort = 21050
	// DefaultBeeswaxPort is the coordinators' beeswax port.
	DefaultBeeswaxPort = 21000
	// DefaultHTTPPort is the coordinators' HiveServer2 over HTTP port.
	DefaultHTTPPort = 28000

	// MaxFetchSize is the largest accepted fetch_size.
	MaxFetchSize = 1 << 24
	// MaxRetries is the largest accepted retries.
	MaxRetries = 100
	// MaxReplyMemory is the largest accepted max_reply_memory (1 TiB).
	MaxReplyMemory = 1 << 40
	// MaxOutlierFailures is the largest accepted outlier_failures.
	MaxOutlierFailures = 1000
	// MaxStickyTableSize is the largest accepted sticky_table_size.
	MaxStickyTableSize = 100_000_000
	// DefaultWebPort is the coordinators' web server port.
	DefaultWebPort = balancer.DefaultWebPort
)

const dsnScheme = "impala://"

// Config is the configuration of the database/sql driver and of the
// connector behind it: where the coordinators are, how to authenticate,
// how to balance, and the session options. The zero value of every field
// means its documented default, the same as the DSN parameter that is
// left out; negative durations and counts turn off what can be turned
// off. A Config built by hand behaves like the DSN that says the same:
// [ParseDSN] fills only the fields the DSN names.
//
// Config is printed (String, GoString, slog) with the password redacted.
type Config struct {
	// User is the user name: the SASL PLAIN user, the user of OpenSession,
	// and with auth=gssapi the Kerberos client principal when Principal is
	// empty. Empty means none.
	User string
	// Password is the SASL PLAIN password, or with auth=gssapi the password
	// to log in to the KDC with: secret.New(pw). The zero Value means none.
	// Never printed, whatever the verb (only FormatDSN writes it).
	Password secret.Value `json:"-"`

	// Addrs are the coordinators, "host:port" with IPv6 hosts in brackets
	// ("[::1]:21050"). A missing port means DefaultPort (DefaultBeeswaxPort
	// with ProtocolBeeswax, DefaultHTTPPort with ProtocolHS2HTTP). At least
	// one is required, unless HAProxyConfig is set, and then none may be
	// given; ParseDSN always fills in the port.
	Addrs []string
	// HAProxyConfig is the path of an HAProxy configuration, such as the
	// haproxy.cfg of Impala's load-balancer guide, to take the coordinators
	// from in place of Addrs: the servers of the HAProxyBackend section,
	// with its balance, health checks (check, inter, rise, fall,
	// downinter, slowstart), timeout connect, retries, maxconn and TLS (ssl
	// ca-file, verifyhost or sni, crt), read by [balancer.LoadHAProxyConfig]
	// when the Connector is made. Balance, HealthInterval, ConnectTimeout,
	// Retries and SlowStart, when not zero, override the file; so do TLS
	// and its CACert, ServerName and ClientCert/ClientKey, each on its own.
	// Directives without a client-side meaning are logged to Logger. The
	// protocol is still Protocol (the guide's :21000 servers need
	// ProtocolBeeswax). Empty means none: Addrs lists the coordinators.
	HAProxyConfig string
	// HAProxyBackend is the backend or listen section of HAProxyConfig to
	// read, or a frontend whose default_backend is read. Empty means the
	// only section that has servers. Only with HAProxyConfig.
	HAProxyBackend string
	// Database is the database sessions start in. Empty means the server's
	// default ("default").
	Database string

	// Protocol is hs2, beeswax or hs2-http. Empty means hs2.
	Protocol Protocol
	// HTTPPath is the path of hs2-http requests (impala-shell's
	// --http_path). Empty means conn.DefaultHTTPPath ("cliservice"). Only
	// with ProtocolHS2HTTP.
	HTTPPath string
	// HTTPHeaders are extra headers of every hs2-http request (DSN
	// "http_header.NAME=value"), by header name; a User-Agent replaces the
	// library's. The values are secret.Values (secret.New(v)): a header
	// may carry a proxy's key or token, so String shows the names only.
	// Nil means none. Only with ProtocolHS2HTTP.
	HTTPHeaders map[string]secret.Value `json:"-"`
	// Balance is the policy over Addrs. Empty means leastconn.
	Balance Balance
	// AffinityKey is the key of BalanceAffinity. Empty means this host's
	// address (the equivalent of HAProxy's "balance source"). Only valid
	// with BalanceAffinity.
	AffinityKey string
	// StickyTableSize bounds the table that keeps each affinity key on the
	// coordinator it was placed on (HAProxy's stick-table "size"). Zero
	// means 100000 keys (balancer.DefaultStickyTableSize); negative means
	// no table: a key moves whenever the loads shift. Only valid with
	// BalanceAffinity.
	StickyTableSize int
	// StickyExpire forgets a key not used for this long (HAProxy's
	// stick-table "expire"). Zero means 30 minutes
	// (balancer.DefaultStickyExpire); negative means never. Only valid with
	// BalanceAffinity.
	StickyExpire time.Duration
	// ReturnHome sends a key that moved away from a coordinator that went
	// down back to it, once, when it is up again and its slow start is
	// over (balancer.Config.ReturnHome). False means the key stays where
	// it moved. Only valid with BalanceAffinity.
	ReturnHome bool

	// Auth is the authentication mode. Empty means none. ParseDSN sets
	// plain when the DSN has a password and no auth parameter.
	Auth Auth
	// JWT is the token of AuthJWT, secret.New(tok): it prints redacted
	// under every verb. The zero Value means JWTFile or JWTFunc gives it.
	JWT secret.Value `json:"-"`
	// JWTFile is the path of a file that holds the token of AuthJWT, read
	// again whenever it changes. Empty means JWT or JWTFunc gives it.
	JWTFile string
	// JWTFunc gives the token of AuthJWT each time a session
	// authenticates (a call to an identity provider; a session
	// authenticates once, then holds the coordinator's cookie). Nil means
	// JWT or JWTFile gives it. Not part of the DSN.
	JWTFunc func(ctx context.Context) (secret.Value, error) `json:"-"`
	// KerberosHostFQDN is the host part of the service principal
	// (service/host@REALM) to ask tickets for, whatever coordinator the
	// socket reaches: the load balancer's name. Empty means each
	// coordinator's own host name. Only with AuthGSSAPI.
	KerberosHostFQDN string
	// ServiceName is the Kerberos service name. Empty means
	// kerberos.DefaultServiceName ("impala"). Only with AuthGSSAPI.
	ServiceName string
	// Krb5Conf is the path of krb5.conf. Empty means $KRB5_CONFIG, else
	// /etc/krb5.conf. Only with AuthGSSAPI.
	Krb5Conf string
	// Keytab is the path of a keytab to log in with. Empty means no keytab
	// (a password or the credential cache is used). Only with AuthGSSAPI.
	Keytab string
	// Principal is the client principal (user@REALM). Empty means User.
	// Only with AuthGSSAPI.
	Principal string
	// CCache is the path of a credential cache. Empty means $KRB5CCNAME or
	// the system default when neither Keytab nor Password is set. Only with
	// AuthGSSAPI.
	CCache string

	// TLS turns on TLS to the coordinators. False means plain TCP.
	TLS bool
	// CACert is the path of a PEM bundle of CAs to trust. Empty means the
	// system roots. Only with TLS.
	CACert string
	// ServerName is the name the certificates must be valid for, typically
	// the load balancer's name on every coordinator's certificate. Empty
	// means each coordinator's host name. Only with TLS.
	ServerName string
	// ClientCert is the path of a PEM client certificate; ClientKey must be
	// set with it. Empty means no client certificate. Only with TLS.
	ClientCert string
	// ClientKey is the path of the PEM private key of ClientCert.
	ClientKey string
	// TLSInsecureSkipVerify accepts any server certificate. For tests only.
	TLSInsecureSkipVerify bool

	// ConnectTimeout bounds opening one session (dial, TLS, SASL,
	// OpenSession), and the pool's pings, reattaches and resets. Zero
	// means 10 s (balancer.DefaultDialTimeout); it cannot be turned off.
	ConnectTimeout time.Duration
	// QueryTimeout bounds each statement, from submission to the last row;
	// on expiry the query is cancelled on the coordinator. Zero means no
	// bound beyond the caller's context.
	QueryTimeout time.Duration
	// FetchSize is the number of rows asked for per fetch. Zero means
	// 10240 (conn.DefaultFetchSize).
	FetchSize int
	// MaxReplyMemory bounds the memory, in bytes, that decoding one reply
	// of a coordinator may make the client hold, counted as Go holds it
	// (conn.Options.MaxReplyMemory); a fetch's reply besides holds no more
	// rows than FetchSize. Zero means 256 MiB (conn.DefaultMaxMessageSize);
	// a 10240-row batch of 256 mixed columns takes about 36 MiB.
	MaxReplyMemory int
	// Retries is how many more coordinators are tried when opening a
	// session fails. Zero means 3 (balancer.DefaultRetries); negative
	// means a single attempt. A statement already sent is never retried.
	Retries int
	// MaxIdleTime closes a pooled session idle for longer. Zero means 30
	// minutes (balancer.DefaultMaxIdleTime); negative keeps idle sessions.
	MaxIdleTime time.Duration
	// ValidateAfter is the idle time after which a pooled session is
	// pinged on its coordinator before reuse (its socket is always checked,
	// without a round trip). Zero means 30 s
	// (balancer.DefaultValidateAfter); negative means never ping.
	ValidateAfter time.Duration
	// HealthInterval is the period of the active health checks of the
	// coordinators. Zero means 2 s (balancer.DefaultInterval, HAProxy's
	// "inter"); negative turns active checks off (failures still eject a
	// coordinator passively).
	HealthInterval time.Duration
	// SlowStart is how long a coordinator that comes back (or joins) takes
	// to ramp up to its full share of new sessions (HAProxy's
	// "slowstart"). Zero means 10 s (balancer.DefaultSlowStart); negative
	// turns it off.
	SlowStart time.Duration
	// OutlierFailures is how many statements in a row that get no answer
	// from one coordinator (a timeout, a connection lost or reset) eject
	// it while another answers: it takes no new work for OutlierEjectTime,
	// then health checks bring it back (balancer.Config.OutlierFailures).
	// Zero means 5 (balancer.DefaultOutlierFailures); negative turns
	// ejection off.
	OutlierFailures int
	// OutlierWindow is how close together those failures must be. Zero
	// means 1 minute (balancer.DefaultOutlierWindow); negative means no
	// window.
	OutlierWindow time.Duration
	// OutlierEjectTime is how long a coordinator is out at its first
	// ejection, doubled at each one that follows up to 5 minutes
	// (balancer.DefaultOutlierEjectTimeMax), or up to OutlierEjectTime
	// when that is longer. Zero means 30 s
	// (balancer.DefaultOutlierEjectTime).
	OutlierEjectTime time.Duration
	// OutlierMaxEjected is the largest fraction of the coordinators
	// ejected at once (at least one, never all). Zero means 0.5
	// (balancer.DefaultOutlierMaxEjected).
	OutlierMaxEjected float64

	// Discovery finds the coordinators at run time (DSN "discovery"), Addrs
	// being the seed list: the coordinators until discovery first answers,
	// and where DiscoveryImpala first asks. A coordinator that joins is
	// taken in with slow start; one that leaves (or, with DiscoveryImpala,
	// quiesces) is drained, not cut: its sessions finish their statements
	// and move at their next one. A discovery that fails keeps the last
	// good list. Empty means Addrs are the coordinators.
	Discovery Discovery
	// DiscoveryInterval is the period of discovery's polls, jittered by
	// ±20 %. Zero means 10 s (balancer.DefaultDiscoveryInterval). Only with
	// Discovery.
	DiscoveryInterval time.Duration
	// DiscoveryTimeout bounds one poll of discovery. Zero means 5 s
	// (balancer.DefaultDiscoveryTimeout). Only with Discovery.
	DiscoveryTimeout time.Duration
	// ClusterLoad turns on cluster-wide least connections: leastconn
	// counts, beside this client's own sessions, every client's queries on
	// each coordinator, read from its web server
	// (impala-server.num-queries-registered of /jsonmetrics?json), so that
	// many client processes balance as one (see the balancer package doc
	// for the formula). False means this client's sessions only.
	ClusterLoad bool
	// ClusterLoadInterval is the period of those reads, jittered by ±20 %.
	// Zero means 1 s (balancer.DefaultClusterLoadInterval). Only with
	// ClusterLoad.
	ClusterLoadInterval time.Duration
	// WebPort is the coordinators' web server port (impalad's
	// --webserver_port). Zero means 25000 (DefaultWebPort). Only with
	// DiscoveryImpala or ClusterLoad.
	WebPort int
	// WebTLS makes the requests to the web servers HTTPS, with CACert,
	// ServerName, ClientCert and ClientKey as for the sessions. False
	// means plain HTTP. Only with DiscoveryImpala or ClusterLoad.
	WebTLS bool
	// WebAuth is how a web server that asks for credentials is answered;
	// none is sent to one that does not ask. Empty means as Auth: basic
	// with AuthPlain (sent over WebTLS only), spnego with AuthGSSAPI,
	// none otherwise. Only with DiscoveryImpala or ClusterLoad.
	WebAuth WebAuth

	// Resolver resolves the addresses' host names for DiscoveryDNS. Nil
	// means net.DefaultResolver. Not part of the DSN.
	Resolver *net.Resolver `json:"-"`

	// PollQueries makes a query wait by polling its status, as every other
	// statement does, instead of fetching its first rows at once (which
	// Impala holds until they are ready). A way back should a coordinator
	// mishandle the early fetch. HS2 only (beeswax always polls).
	PollQueries bool

	// SyncDDL says when a statement that changes the catalog (DDL, and DML
	// that adds files or partitions) carries SYNC_DDL=1, so that it
	// returns only once every coordinator has seen the change: "auto" (the
	// zero value) on connections placed by leastconn or round-robin, whose
	// next statements may run on another coordinator (with balance=affinity
	// they stay on one); "always"; "never". A SYNC_DDL the user chose (opt.,
	// SET, WithQueryOptions) wins.
	SyncDDL SyncDDL

	// AllowNonImpala lets the driver talk to a HiveServer2 that is not
	// Impala (Apache Hive, Spark's Thrift server): no Impala-only calls,
	// paging until an empty batch, no session reattach. False means the
	// driver refuses a server that does not answer Impala's ping. HS2 only.
	AllowNonImpala bool

	// QueryOptions are Impala query options set on every session at
	// OpenSession (DSN "opt.NAME=value"), keyed by the upper-case option
	// name. Nil means none.
	QueryOptions map[string]string

	// Tracer, when not nil, is told of every statement's start and end
	// (see conn.Tracer); when it also implements balancer.Tracer, of every
	// acquire of a session too. Nil means no tracing. Not part of the DSN.
	Tracer conn.Tracer `json:"-"`

	// Hooks are the pool's lifecycle hooks (after a session is opened,
	// before it is handed to a connection, after it is released, before it
	// is closed). The zero value means none. Not part of the DSN.
	Hooks balancer.Hooks[*conn.Session] `json:"-"`

	// Logger receives the driver's logs. Nil means no logging. Not part of
	// the DSN.
	Logger *slog.Logger `json:"-"`
}

// Clone returns a deep copy of c (Addrs, QueryOptions and HTTPHeaders are
// copied; the Logger is shared).
func (c *Config) Clone() *Config {
	n := *c
	n.Addrs = slices.Clone(c.Addrs)
	n.HTTPHeaders = maps.Clone(c.HTTPHeaders)
	if c.QueryOptions != nil {
		n.QueryOptions = make(map[string]string, len(c.QueryOptions))
		for k, v := range c.QueryOptions {
			n.QueryOptions[k] = v
		}
	}
	return &n
}

// DefaultPort returns the port of an address without one: DefaultPort,
// DefaultBeeswaxPort with ProtocolBeeswax, DefaultHTTPPort with
// ProtocolHS2HTTP.
func (c *Config) DefaultPort() int {
	switch c.Protocol {
	case ProtocolBeeswax:
		return DefaultBeeswaxPort
	case ProtocolHS2HTTP:
		return DefaultHTTPPort
	}
	return DefaultPort
}

// DSNError is the error of [ParseDSN] and [Config.Validate]. It names the
// DSN parameter (or part: "scheme", "user", "password", "address",
// "database") and says what is wrong. It never contains the password.
type DSNError struct {
	// Param is the DSN parameter or part at fault, e.g. "fetch_size",
	// "opt.MEM_LIMIT", "address". Empty when it cannot be shown safely.
	Param string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any (e.g. from strconv or
	// time.ParseDuration); never one that holds the password.
	Err error
}

// Error implements error.
func (e *DSNError) Error() string {
	var b strings.Builder
	b.WriteString("impalalb: dsn: ")
	if e.Param != "" {
		b.WriteString(e.Param)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DSNError) Unwrap() error { return e.Err }

func dsnErr(param, reason string) *DSNError { return &DSNError{Param: param, Reason: reason} }

const encodeHint = "percent-encode '/', '?' and '%' in the user name and password"

// ParseDSN parses a data source name of the form
//
//	impala://[user[:password]@]host1[:port][,host2[:port]...][/database][?param=value&...]
//
// into a Config that holds what the DSN says, every other field zero (its
// default). The host list may be empty only with haproxy_config. Hosts are
// names, IPv4
// addresses or IPv6 addresses in brackets ("[::1]:21050", a zone written
// as "%25"); a missing port is 21050, 21000 with protocol=beeswax, 28000
// with protocol=hs2-http. The
// user name and password are percent-decoded: '%', '/' and '?' in them
// must be written %25, %2F and %3F, and ':' in the user name %3A ('@' and
// ':' in the password may stay as they are). The database is an
// identifier (letters, digits, underscore). Parameter values are
// percent-decoded with '+' meaning a space.
//
// Parameters (the default in brackets):
//
//   - haproxy_config: path of an HAProxy configuration whose backend gives
//     the coordinators (the host list must then be empty), the balance,
//     the health checks, the connect timeout, the retries, the slow start
//     and TLS [none]; the parameters of this DSN override the file's (see
//     [Config.HAProxyConfig]).
//   - haproxy_backend: the backend, listen or frontend section of
//     haproxy_config to read [the only one with servers]. haproxy_config
//     only.
//   - protocol: hs2, beeswax or hs2-http (HiveServer2 over HTTP) [hs2].
//   - http_path: path of hs2-http requests, impala-shell's --http_path
//     [cliservice]. hs2-http only.
//   - balance: leastconn, affinity or roundrobin [leastconn].
//   - affinity_key: key of balance=affinity [this host's address].
//   - sticky_table_size: affinity keys kept on the coordinator they were
//     placed on, up to 100000000 [100000]; -1 means no table.
//     balance=affinity only.
//   - sticky_expire: Go duration after which an unused key is forgotten
//     [30m]; negative means never. balance=affinity only.
//   - return_home: true sends a key that moved off a coordinator that went
//     down back to it, once, after its slow start [false].
//     balance=affinity only.
//   - auth: none, plain, ldap (same as plain), gssapi or jwt [plain when a
//     password is given, else none]. Over hs2-http plain is Basic, gssapi
//     is SPNEGO (Negotiate) and jwt is Bearer; jwt is hs2-http only.
//   - kerberos_host_fqdn: host of the service principal, e.g. the load
//     balancer's name [each coordinator's host name]. gssapi only.
//   - service_name: Kerberos service name [impala]. gssapi only.
//   - krb5_conf: path of krb5.conf [$KRB5_CONFIG, else /etc/krb5.conf].
//     gssapi only.
//   - keytab: path of the client keytab [none]. gssapi only; not with a
//     password or ccache.
//   - principal: client principal, user@REALM [the user name]. gssapi only.
//   - ccache: path of the credential cache [$KRB5CCNAME or the system
//     default]. gssapi only; not with a password or keytab.
//   - jwt: the JSON Web Token (a secret, never printed). jwt only; not
//     with jwt_file.
//   - jwt_file: path of a file holding the token, read again when it
//     changes (a token another process renews). jwt only.
//   - tls: true or false [false].
//   - ca_cert: path of a PEM CA bundle [system roots]. tls only.
//   - server_name: name the certificates must be valid for [each
//     coordinator's host name]. tls only.
//   - client_cert, client_key: paths of a PEM client certificate and its
//     key, both or neither [none]. tls only.
//   - tls_insecure_skip_verify: true or false [false]. tls only; tests only.
//   - connect_timeout: Go duration bounding dial, TLS, SASL and
//     OpenSession [10s].
//   - query_timeout: Go duration bounding each statement [none].
//   - fetch_size: rows per fetch, up to 16777216 [10240]. A large result is
//     read up to two batches ahead of the caller, decoded.
//   - max_reply_memory: bytes of memory decoding one reply of a coordinator
//     may make the client hold, up to 2^40 [268435456, 256 MiB]; a fetch's
//     reply besides holds no more rows than fetch_size.
//   - retries: further coordinators tried when opening a session fails,
//     up to 100 [3]; -1 means none.
//   - max_idle_time: Go duration after which an idle session is closed
//     [30m]; negative means never.
//   - validate_after: Go duration of idleness after which a session is
//     pinged before reuse [30s]; negative means never.
//   - health_interval: Go duration between active health checks [2s];
//     negative turns them off.
//   - slow_start: Go duration over which a returning coordinator ramps up
//     to its full share of new sessions [10s]; negative turns it off.
//   - outlier_failures: statements in a row without an answer (a timeout,
//     a connection lost) that eject a coordinator while another answers,
//     up to 1000 [5]; -1 turns ejection off.
//   - outlier_window: Go duration within which those failures count [1m];
//     negative means no window.
//   - outlier_eject_time: Go duration of a first ejection, doubled at each
//     one that follows up to 5m (or itself, when longer) [30s].
//   - outlier_max_ejected: largest fraction of the coordinators ejected at
//     once, from 0 to 1 [0.5]; at least one, never all.
//   - discovery: dns (each address's host name resolved periodically, each
//     record a coordinator on that address's port) or impala (the
//     cluster's membership from the coordinators' web servers,
//     /backends?json, on the first address's port) [none: the addresses
//     are the coordinators]. The addresses are then the seed list.
//   - discovery_interval, discovery_timeout: Go durations, the period and
//     the bound of discovery's polls [10s, 5s]. discovery only.
//   - cluster_load: true for cluster-wide least connections, every
//     client's queries on each coordinator counted from its web server
//     [false].
//   - cluster_load_interval: Go duration between those reads [1s].
//     cluster_load only.
//   - web_port: the coordinators' web server port [25000].
//     discovery=impala or cluster_load only.
//   - web_tls: true for HTTPS to the web servers, with ca_cert,
//     server_name, client_cert and client_key [false]. discovery=impala or
//     cluster_load only.
//   - web_auth: none, basic (the user and password, web_tls only) or
//     spnego (auth=gssapi only), sent only to a web server that asks [as
//     auth: basic with plain, spnego with gssapi]. discovery=impala or
//     cluster_load only.
//   - allow_non_impala: true to talk to a HiveServer2 that is not Impala
//     (Apache Hive, Spark's Thrift server) [false]. hs2 only.
//   - poll_queries: true to have queries wait by polling their status,
//     like every other statement, instead of fetching their first rows at
//     once [false]. A way back should a coordinator mishandle the early
//     fetch.
//   - http_header.NAME=value: an extra header on every hs2-http request
//     (a proxy's routing or tenant header; X-Forwarded-For as
//     impala-shell's --hs2_x_forward). The headers the transport writes
//     (Authorization, Cookie, Host, Content-*, ...) are refused.
//   - sync_ddl: auto, always or never [auto]: when a statement that
//     changes the catalog (DDL; DML that adds files or partitions) carries
//     SYNC_DDL=1, which makes it return once every coordinator has seen
//     the change. auto: on connections placed by leastconn or round-robin,
//     whose next statements may run on another coordinator. A SYNC_DDL
//     the user chose wins.
//   - opt.NAME=value: the Impala query option NAME (letters, digits and
//     underscores, case-insensitive, e.g. opt.MEM_LIMIT=2g,
//     opt.REQUEST_POOL=etl, opt.SYNC_DDL=1) set on every session. The value
//     may not hold a line break or NUL.
//
// A value of 0 means the default, as a zero Config field does. Durations
// are Go durations ("500ms", "1m30s"); booleans are what
// strconv.ParseBool accepts. An unknown parameter, a parameter given
// twice, a bad value, or a combination that cannot work (for example a
// password with auth=none, client_cert without client_key, ca_cert without
// tls=true) is a *[DSNError] naming it. Errors never contain the password.
//
// [Config.FormatDSN] is the inverse of ParseDSN.
func ParseDSN(dsn string) (*Config, error) {
	if len(dsn) < len(dsnScheme) || !strings.EqualFold(dsn[:len(dsnScheme)], dsnScheme) {
		return nil, dsnErr("scheme", `must start with "impala://"`)
	}
	rest := dsn[len(dsnScheme):]

	// The host list ends at the first '/' or '?'; user information ends at
	// the last '@' before it, so an '@' in the password may stay as is.
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	c := &Config{}
	hasUserinfo, hasPassword := false, false
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		hasUserinfo = true
		var err error
		if hasPassword, err = c.parseUserinfo(authority[:at]); err != nil {
			return nil, err
		}
		authority = authority[at+1:]
	}

	path, query, _ := strings.Cut(tail, "?")
	// Without user information, an '@' further on may end a password whose
	// '/' or '?' was not encoded: then errors show nothing of the input.
	hide := dsnHider(!hasUserinfo && strings.Contains(tail, "@"))
	if err := c.parseHosts(authority); err != nil {
		return nil, hide(err, "address")
	}
	if err := c.parseDatabase(path, hide); err != nil {
		return nil, err
	}
	authGiven, err := c.parseQuery(query)
	if err != nil {
		return nil, hide(err, "")
	}
	if !authGiven && hasPassword {
		c.Auth = AuthPlain
	}
	// Fill the ports now that the protocol is known.
	for i, a := range c.Addrs {
		if addr, err := normalizeAddr(a, i+1, c.DefaultPort(), false); err == nil {
			c.Addrs[i] = addr
		}
	}
	if err := c.Validate(); err != nil {
		var param string
		var de *DSNError
		if errors.As(err, &de) {
			param = de.Param
		}
		return nil, hide(err, param)
	}
	return c, nil
}

// dsnHider returns what ParseDSN passes its errors through: when suspect
// (an '@' after the host list of a DSN without user information, which
// may end a password whose '/' or '?' was not encoded), an error that
// shows nothing of the input, naming only the parameter.
func dsnHider(suspect bool) func(err error, param string) error {
	return func(err error, param string) error {
		if !suspect {
			return err
		}
		return dsnErr(param, "malformed; "+encodeHint)
	}
}

// parseUserinfo sets the user and the password of a DSN's user
// information ("user[:password]", percent-encoded) and reports whether a
// non-empty password was given.
func (c *Config) parseUserinfo(userinfo string) (hasPassword bool, err error) {
	user, pass, hasPass := strings.Cut(userinfo, ":")
	u, ok := unescapeDSN(user, false)
	if !ok {
		return false, dsnErr("user", "invalid percent-encoding")
	}
	c.User = u
	if !hasPass {
		return false, nil
	}
	p, ok := unescapeDSN(pass, false)
	if !ok {
		return false, dsnErr("password", "invalid percent-encoding")
	}
	c.Password = secret.New(p)
	return p != "", nil
}

// parseHosts sets the addresses of a DSN's host list (comma-separated;
// empty for haproxy_config, which Validate checks).
func (c *Config) parseHosts(authority string) error {
	if authority == "" {
		return nil
	}
	for i, a := range strings.Split(authority, ",") {
		addr, err := normalizeAddr(a, i+1, 0, true)
		if err != nil {
			return err
		}
		c.Addrs = append(c.Addrs, addr)
	}
	return nil
}

// parseDatabase sets the database of a DSN's path ("" or "/name").
func (c *Config) parseDatabase(path string, hide func(error, string) error) error {
	if path == "" {
		return nil
	}
	db := path[1:] // path starts with '/'
	if strings.Contains(db, "@") {
		return dsnErr("", "'@' after the host list; "+encodeHint)
	}
	d, ok := unescapeDSN(db, false)
	if !ok {
		return dsnErr("database", "invalid percent-encoding")
	}
	if d != "" && !isIdent(d, false) {
		return hide(dsnErr("database", fmt.Sprintf("%q is not a database name (letters, digits, underscore)", d)), "database")
	}
	c.Database = d
	return nil
}

// parseQuery sets the parameters of a DSN's query, each once, and reports
// whether auth was among them.
func (c *Config) parseQuery(query string) (authGiven bool, err error) {
	seen := make(map[string]bool)
	for seg := range strings.SplitSeq(query, "&") {
		if seg == "" {
			continue
		}
		key, value, err := dsnParam(seg)
		if err != nil {
			return false, err
		}
		if seen[key] {
			return false, dsnErr(key, "given more than once")
		}
		seen[key] = true
		authGiven = authGiven || key == "auth"
		if err := c.setParam(key, value); err != nil {
			return false, err
		}
	}
	return authGiven, nil
}

// dsnParam unescapes one "key=value" of a DSN's query, opt.* keys
// upper-cased and http_header.* keys canonical.
func dsnParam(seg string) (key, value string, err error) {
	rawKey, rawValue, hasValue := strings.Cut(seg, "=")
	key, ok := unescapeDSN(rawKey, true)
	if !ok || !isParamName(key) {
		return "", "", dsnErr("", "malformed parameter name")
	}
	if !hasValue {
		return "", "", dsnErr(key, "missing '=value'")
	}
	if value, ok = unescapeDSN(rawValue, true); !ok {
		return "", "", dsnErr(key, "invalid percent-encoding")
	}
	if name, isOpt := strings.CutPrefix(key, "opt."); isOpt {
		if !isIdent(name, true) {
			return "", "", dsnErr("", fmt.Sprintf("query option %q: name must be letters, digits and underscores", name))
		}
		key = "opt." + strings.ToUpper(name)
	}
	if name, isHeader := strings.CutPrefix(key, "http_header."); isHeader {
		if !isHeaderName(name) {
			return "", "", dsnErr("", fmt.Sprintf("http_header.%s: not a header name", name))
		}
		key = "http_header." + http.CanonicalHeaderKey(name)
	}
	return key, value, nil
}

// setParam sets one known parameter (opt.* keys arrive upper-cased).
func (c *Config) setParam(key, value string) error {
	if name, ok := strings.CutPrefix(key, "opt."); ok {
		if c.QueryOptions == nil {
			c.QueryOptions = make(map[string]string)
		}
		c.QueryOptions[name] = value
		return validOptionValue(key, value)
	}
	if name, ok := strings.CutPrefix(key, "http_header."); ok {
		if c.HTTPHeaders == nil {
			c.HTTPHeaders = make(map[string]secret.Value)
		}
		c.HTTPHeaders[name] = secret.New(value)
		return nil
	}
	var err error
	switch key {
	case "haproxy_config":
		c.HAProxyConfig = value
	case "haproxy_backend":
		c.HAProxyBackend = value
	case "protocol":
		c.Protocol = Protocol(value)
		if c.Protocol != ProtocolHS2 && c.Protocol != ProtocolBeeswax && c.Protocol != ProtocolHS2HTTP {
			return dsnErr(key, fmt.Sprintf("%q is not hs2, beeswax or hs2-http", value))
		}
	case "http_path":
		c.HTTPPath = value
	case "balance":
		c.Balance = Balance(value)
		if c.Balance != BalanceLeastConn && c.Balance != BalanceAffinity && c.Balance != BalanceRoundRobin {
			return dsnErr(key, fmt.Sprintf("%q is not leastconn, affinity or roundrobin", value))
		}
	case "affinity_key":
		c.AffinityKey = value
	case "sticky_table_size":
		c.StickyTableSize, err = parseInt(key, value, -1, MaxStickyTableSize)
	case "sticky_expire":
		c.StickyExpire, err = parseDuration(key, value, true)
	case "return_home":
		c.ReturnHome, err = parseBool(key, value)
	case "auth":
		switch value {
		case "none", "plain", "gssapi", "jwt":
			c.Auth = Auth(value)
		case "ldap":
			c.Auth = AuthPlain
		default:
			return dsnErr(key, fmt.Sprintf("%q is not none, plain, ldap, gssapi or jwt", value))
		}
	case "kerberos_host_fqdn":
		c.KerberosHostFQDN = value
	case "service_name":
		c.ServiceName = value
	case "krb5_conf":
		c.Krb5Conf = value
	case "keytab":
		c.Keytab = value
	case "principal":
		c.Principal = value
	case "ccache":
		c.CCache = value
	case "jwt":
		c.JWT = secret.New(value)
	case "jwt_file":
		c.JWTFile = value
	case "tls":
		c.TLS, err = parseBool(key, value)
	case "ca_cert":
		c.CACert = value
	case "server_name":
		c.ServerName = value
	case "client_cert":
		c.ClientCert = value
	case "client_key":
		c.ClientKey = value
	case "tls_insecure_skip_verify":
		c.TLSInsecureSkipVerify, err = parseBool(key, value)
	case "connect_timeout":
		c.ConnectTimeout, err = parseDuration(key, value, false)
	case "query_timeout":
		c.QueryTimeout, err = parseDuration(key, value, false)
	case "fetch_size":
		c.FetchSize, err = parseInt(key, value, 0, MaxFetchSize)
	case "max_reply_memory":
		c.MaxReplyMemory, err = parseInt(key, value, 0, MaxReplyMemory)
	case "outlier_failures":
		c.OutlierFailures, err = parseInt(key, value, -1, MaxOutlierFailures)
	case "outlier_window":
		c.OutlierWindow, err = parseDuration(key, value, true)
	case "outlier_eject_time":
		c.OutlierEjectTime, err = parseDuration(key, value, false)
	case "outlier_max_ejected":
		c.OutlierMaxEjected, err = parseFraction(key, value)
	case "retries":
		c.Retries, err = parseInt(key, value, -1, MaxRetries)
	case "max_idle_time":
		c.MaxIdleTime, err = parseDuration(key, value, true)
	case "validate_after":
		c.ValidateAfter, err = parseDuration(key, value, true)
	case "health_interval":
		c.HealthInterval, err = parseDuration(key, value, true)
	case "slow_start":
		c.SlowStart, err = parseDuration(key, value, true)
	case "discovery":
		c.Discovery = Discovery(value)
		if c.Discovery != DiscoveryDNS && c.Discovery != DiscoveryImpala {
			return dsnErr(key, fmt.Sprintf("%q is not dns or impala", value))
		}
	case "discovery_interval":
		c.DiscoveryInterval, err = parseDuration(key, value, false)
	case "discovery_timeout":
		c.DiscoveryTimeout, err = parseDuration(key, value, false)
	case "cluster_load":
		c.ClusterLoad, err = parseBool(key, value)
	case "cluster_load_interval":
		c.ClusterLoadInterval, err = parseDuration(key, value, false)
	case "web_port":
		c.WebPort, err = parseInt(key, value, 0, 65535)
	case "web_tls":
		c.WebTLS, err = parseBool(key, value)
	case "web_auth":
		c.WebAuth = WebAuth(value)
		if c.WebAuth != WebAuthNone && c.WebAuth != WebAuthBasic && c.WebAuth != WebAuthSPNEGO {
			return dsnErr(key, fmt.Sprintf("%q is not none, basic or spnego", value))
		}
	case "allow_non_impala":
		c.AllowNonImpala, err = parseBool(key, value)
	case "poll_queries":
		c.PollQueries, err = parseBool(key, value)
	case "sync_ddl":
		c.SyncDDL = SyncDDL(value)
		if c.SyncDDL != SyncDDLAuto && c.SyncDDL != SyncDDLAlways && c.SyncDDL != SyncDDLNever {
			return dsnErr(key, fmt.Sprintf("%q is not auto, always or never", value))
		}
	default:
		return dsnErr(key, "unknown parameter")
	}
	return err
}

func parseBool(key, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, dsnErr(key, fmt.Sprintf("%q is not a boolean", v))
	}
	return b, nil
}

// parseDuration reads a Go duration; off says a negative one is allowed
// (it turns the feature off).
func parseDuration(key, v string, off bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &DSNError{Param: key, Reason: "not a duration such as 10s or 1m30s", Err: err}
	}
	if d < 0 && !off {
		return 0, dsnErr(key, fmt.Sprintf("%q is negative", v))
	}
	return d, nil
}

// parseFraction reads a number from 0 to 1.
func parseFraction(key, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, dsnErr(key, fmt.Sprintf("%q is not a number from 0 to 1", v))
	}
	return f, nil
}

func parseInt(key, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, dsnErr(key, fmt.Sprintf("%q is not an integer from %d to %d", v, lo, hi))
	}
	return n, nil
}

// Validate checks c as ParseDSN does after parsing: every value in range
// and no combination that cannot work. The error is a *[DSNError] naming
// the DSN parameter.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateHAProxy,
		c.validateAddrs,
		c.validateSession,
		c.validateHTTP,
		c.validateExecution,
		c.validateBalance,
		c.validateAuth,
		c.validateTLS,
		c.validateLimits,
		c.validateDiscovery,
		c.validateQueryOptions,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateAddrs checks that every coordinator address is host[:port] and
// that no two name the same coordinator once the default port is added.
func (c *Config) validateAddrs() error {
	seen := make(map[string]int, len(c.Addrs))
	for i, a := range c.Addrs {
		n, err := normalizeAddr(a, i+1, c.DefaultPort(), false)
		if err != nil {
			return err
		}
		if j, dup := seen[n]; dup {
			return dsnErr("address", fmt.Sprintf("coordinators %d and %d are both %s", j, i+1, n))
		}
		seen[n] = i + 1
	}
	return nil
}

// validateSession checks what the session is opened with: the database,
// the user name and password (no NUL), and the protocol.
func (c *Config) validateSession() error {
	if c.Database != "" && !isIdent(c.Database, false) {
		return dsnErr("database", fmt.Sprintf("%q is not a database name (letters, digits, underscore)", c.Database))
	}
	if strings.IndexByte(c.User, 0) >= 0 {
		return dsnErr("user", "contains NUL")
	}
	if strings.IndexByte(c.Password.Reveal(), 0) >= 0 {
		return dsnErr("password", "contains NUL")
	}
	switch c.Protocol {
	case "", ProtocolHS2, ProtocolBeeswax, ProtocolHS2HTTP:
	default:
		return dsnErr("protocol", fmt.Sprintf("%q is not hs2, beeswax or hs2-http", c.Protocol))
	}
	return nil
}

// validateExecution checks how statements run: sync_ddl, and
// allow_non_impala, which needs HS2.
func (c *Config) validateExecution() error {
	switch c.SyncDDL {
	case "", SyncDDLAuto, SyncDDLAlways, SyncDDLNever:
	default:
		return dsnErr("sync_ddl", fmt.Sprintf("%q is not auto, always or never", c.SyncDDL))
	}
	if c.AllowNonImpala && c.Protocol == ProtocolBeeswax {
		return dsnErr("allow_non_impala", "beeswax is Impala's own protocol; allow_non_impala needs protocol=hs2")
	}
	return nil
}

// validateLimits checks the numeric settings: timeouts, fetch size,
// retries, reply memory and outlier ejection, each in its range.
func (c *Config) validateLimits() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect_timeout", c.ConnectTimeout}, {"query_timeout", c.QueryTimeout}, {"outlier_eject_time", c.OutlierEjectTime}} {
		if d.v < 0 {
			return dsnErr(d.name, "is negative")
		}
	}
	if c.FetchSize < 0 || c.FetchSize > MaxFetchSize {
		return dsnErr("fetch_size", fmt.Sprintf("%d is not from 1 to %d", c.FetchSize, MaxFetchSize))
	}
	if c.Retries > MaxRetries {
		return dsnErr("retries", fmt.Sprintf("%d is more than %d", c.Retries, MaxRetries))
	}
	if c.MaxReplyMemory < 0 || c.MaxReplyMemory > MaxReplyMemory {
		return dsnErr("max_reply_memory", fmt.Sprintf("%d is not from 0 to %d", c.MaxReplyMemory, MaxReplyMemory))
	}
	if c.OutlierFailures > MaxOutlierFailures {
		return dsnErr("outlier_failures", fmt.Sprintf("%d is more than %d", c.OutlierFailures, MaxOutlierFailures))
	}
	if !(c.OutlierMaxEjected >= 0 && c.OutlierMaxEjected <= 1) {
		return dsnErr("outlier_max_ejected", fmt.Sprintf("%v is not from 0 to 1", c.OutlierMaxEjected))
	}
	return nil
}

// validateQueryOptions checks the query options: names of letters, digits
// and underscores, each given once whatever its case, values that can be
// sent.
func (c *Config) validateQueryOptions() error {
	upper := make(map[string]bool, len(c.QueryOptions))
	for _, name := range sortedKeys(c.QueryOptions) {
		if !isIdent(name, true) {
			return dsnErr("", fmt.Sprintf("query option %q: name must be letters, digits and underscores", name))
		}
		u := strings.ToUpper(name)
		if upper[u] {
			return dsnErr("opt."+u, "given more than once")
		}
		upper[u] = true
		if err := validOptionValue("opt."+u, c.QueryOptions[name]); err != nil {
			return err
		}
	}
	return nil
}

// validateHAProxy checks where the coordinators come from: Addrs, or the
// file of HAProxyConfig.
func (c *Config) validateHAProxy() error {
	switch {
	case c.HAProxyConfig == "" && len(c.Addrs) == 0:
		return dsnErr("address", "no coordinator given (list them, or give haproxy_config)")
	case c.HAProxyConfig == "" && c.HAProxyBackend != "":
		return dsnErr("haproxy_backend", "needs haproxy_config")
	case c.HAProxyConfig != "" && len(c.Addrs) > 0:
		return dsnErr("haproxy_config", "not with coordinator addresses: the coordinators are the servers of the file's backend")
	case strings.IndexByte(c.HAProxyConfig, 0) >= 0:
		return dsnErr("haproxy_config", "contains NUL")
	case c.HAProxyBackend != "" && !isHAProxyName(c.HAProxyBackend):
		return dsnErr("haproxy_backend", fmt.Sprintf("%q is not a section name (letters, digits, '-', '_', '.', ':')", c.HAProxyBackend))
	}
	return nil
}

// validateAuth checks the authentication settings: those of the mechanism
// auth names, and none of another's.
func (c *Config) validateAuth() error {
	if err := c.validateJWT(); err != nil {
		return err
	}
	switch c.Auth {
	case "", AuthNone, AuthJWT:
		if !c.Password.IsZero() {
			return dsnErr("auth", "a password needs auth=plain (ldap) or auth=gssapi")
		}
	case AuthPlain:
		if c.User == "" {
			return dsnErr("auth", "plain needs a user name")
		}
	case AuthGSSAPI:
		return c.validateGSSAPI()
	default:
		// ParseDSN turns "ldap" into AuthPlain; a Config holds one of the
		// constants.
		return dsnErr("auth", fmt.Sprintf("%q is not none, plain, gssapi or jwt", c.Auth))
	}
	for _, p := range []struct{ name, v string }{
		{"kerberos_host_fqdn", c.KerberosHostFQDN}, {"krb5_conf", c.Krb5Conf},
		{"keytab", c.Keytab}, {"principal", c.Principal}, {"ccache", c.CCache},
	} {
		if p.v != "" {
			return dsnErr(p.name, "needs auth=gssapi")
		}
	}
	if c.ServiceName != "" {
		return dsnErr("service_name", "needs auth=gssapi")
	}
	return nil
}

// validateGSSAPI checks the Kerberos settings of auth=gssapi: one source
// of credentials (keytab, ccache or password), a principal or user name
// for a login, and names and paths that can be used.
func (c *Config) validateGSSAPI() error {
	switch {
	case c.Keytab != "" && c.CCache != "":
		return dsnErr("keytab", "not with ccache: give one of keytab, ccache or a password")
	case c.Keytab != "" && !c.Password.IsZero():
		return dsnErr("keytab", "not with a password: give one of keytab, ccache or a password")
	case c.CCache != "" && !c.Password.IsZero():
		return dsnErr("ccache", "not with a password: give one of keytab, ccache or a password")
	case (c.Keytab != "" || !c.Password.IsZero()) && c.Principal == "" && c.User == "":
		return dsnErr("principal", "a keytab or password login needs a principal or a user name")
	}
	if c.KerberosHostFQDN != "" && !isHostName(c.KerberosHostFQDN) {
		return dsnErr("kerberos_host_fqdn", fmt.Sprintf("%q is not a host name", c.KerberosHostFQDN))
	}
	if c.ServiceName != "" && (strings.ContainsAny(c.ServiceName, "/@") || !printable(c.ServiceName)) {
		return dsnErr("service_name", fmt.Sprintf("%q is not a service name", c.ServiceName))
	}
	if !printable(c.Principal) {
		return dsnErr("principal", "contains a control character")
	}
	for _, p := range []struct{ name, v string }{{"krb5_conf", c.Krb5Conf}, {"keytab", c.Keytab}, {"ccache", c.CCache}} {
		if strings.IndexByte(p.v, 0) >= 0 {
			return dsnErr(p.name, "contains NUL")
		}
	}
	return nil
}

func (c *Config) validateDiscovery() error {
	switch c.Discovery {
	case "", DiscoveryDNS, DiscoveryImpala:
	default:
		return dsnErr("discovery", fmt.Sprintf("%q is not dns or impala", c.Discovery))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		ok   bool
		need string
	}{
		{"discovery_interval", c.DiscoveryInterval, c.Discovery != "", "needs discovery"},
		{"discovery_timeout", c.DiscoveryTimeout, c.Discovery != "", "needs discovery"},
		{"cluster_load_interval", c.ClusterLoadInterval, c.ClusterLoad, "needs cluster_load=true"},
	} {
		if d.v < 0 {
			return dsnErr(d.name, "is negative")
		}
		if d.v != 0 && !d.ok {
			return dsnErr(d.name, d.need)
		}
	}
	web := c.Discovery == DiscoveryImpala || c.ClusterLoad
	for _, p := range []struct {
		name string
		set  bool
	}{{"web_port", c.WebPort != 0}, {"web_tls", c.WebTLS}, {"web_auth", c.WebAuth != ""}} {
		if p.set && !web {
			return dsnErr(p.name, "needs discovery=impala or cluster_load=true")
		}
	}
	if c.WebPort < 0 || c.WebPort > 65535 {
		return dsnErr("web_port", fmt.Sprintf("%d is not a port from 1 to 65535", c.WebPort))
	}
	switch c.WebAuth {
	case "", WebAuthNone:
	case WebAuthBasic:
		if c.User == "" || c.Password.IsZero() {
			return dsnErr("web_auth", "basic needs a user name and a password")
		}
		if !c.WebTLS {
			return dsnErr("web_auth", "basic sends the password: it needs web_tls=true")
		}
	case WebAuthSPNEGO:
		if c.Auth != AuthGSSAPI {
			return dsnErr("web_auth", "spnego needs auth=gssapi")
		}
	default:
		return dsnErr("web_auth", fmt.Sprintf("%q is not none, basic or spnego", c.WebAuth))
	}
	return nil
}

// webAuth is the effective WebAuth: as Auth when empty.
func (c *Config) webAuth() WebAuth {
	if c.WebAuth != "" {
		return c.WebAuth
	}
	switch c.Auth {
	case AuthPlain:
		return WebAuthBasic
	case AuthGSSAPI:
		return WebAuthSPNEGO
	}
	return WebAuthNone
}

// validateBalance checks the policy and the settings of affinity.
func (c *Config) validateBalance() error {
	switch c.Balance {
	case "", BalanceLeastConn, BalanceRoundRobin:
		for _, p := range []struct {
			name  string
			given bool
		}{{"affinity_key", c.AffinityKey != ""}, {"sticky_table_size", c.StickyTableSize != 0},
			{"sticky_expire", c.StickyExpire != 0}, {"return_home", c.ReturnHome}} {
			if p.given {
				return dsnErr(p.name, "needs balance=affinity")
			}
		}
	case BalanceAffinity:
	default:
		return dsnErr("balance", fmt.Sprintf("%q is not leastconn, affinity or roundrobin", c.Balance))
	}
	return nil
}

func (c *Config) validateTLS() error {
	if !c.TLS && !c.WebTLS {
		for _, p := range []struct {
			name string
			set  bool
		}{
			{"ca_cert", c.CACert != ""}, {"server_name", c.ServerName != ""},
			{"client_cert", c.ClientCert != ""}, {"client_key", c.ClientKey != ""},
			{"tls_insecure_skip_verify", c.TLSInsecureSkipVerify},
		} {
			if p.set {
				return dsnErr(p.name, "needs tls=true (or web_tls=true)")
			}
		}
		return nil
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		if c.ClientCert == "" {
			return dsnErr("client_key", "needs client_cert")
		}
		return dsnErr("client_cert", "needs client_key")
	}
	if c.ServerName != "" && !isHostName(c.ServerName) {
		return dsnErr("server_name", fmt.Sprintf("%q is not a host name", c.ServerName))
	}
	for _, p := range []struct{ name, v string }{{"ca_cert", c.CACert}, {"client_cert", c.ClientCert}, {"client_key", c.ClientKey}} {
		if strings.IndexByte(p.v, 0) >= 0 {
			return dsnErr(p.name, "contains NUL")
		}
	}
	return nil
}

func validOptionValue(key, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return dsnErr(key, "value contains a line break or NUL")
	}
	if !utf8.ValidString(v) {
		return dsnErr(key, "value is not valid UTF-8")
	}
	return nil
}

// FormatDSN returns the DSN of c, the inverse of [ParseDSN]: parsing the
// result gives back c. The form is canonical: parameters in the order of
// the ParseDSN documentation, query options sorted by name, zero fields
// (which mean their defaults) left out, ports equal to the protocol's
// default left out.
// It contains the password; use [Config.String] to print a Config.
func (c *Config) FormatDSN() string {
	var b strings.Builder
	b.WriteString(dsnScheme)
	if c.User != "" || !c.Password.IsZero() {
		b.WriteString(escapeDSN(c.User, false))
		if !c.Password.IsZero() {
			b.WriteByte(':')
			b.WriteString(escapeDSN(c.Password.Reveal(), false))
		}
		b.WriteByte('@')
	}
	for i, a := range c.Addrs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(formatAddr(a, c.DefaultPort()))
	}
	if c.Database != "" {
		b.WriteByte('/')
		b.WriteString(escapeDSN(c.Database, true))
	}

	sep := byte('?')
	param := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(escapeDSN(v, true))
	}
	str := func(k, v, def string) {
		if v != "" && v != def {
			param(k, v)
		}
	}
	boolean := func(k string, v bool) {
		if v {
			param(k, "true")
		}
	}
	dur := func(k string, v time.Duration) {
		if v != 0 {
			param(k, v.String())
		}
	}
	str("haproxy_config", c.HAProxyConfig, "")
	str("haproxy_backend", c.HAProxyBackend, "")
	str("protocol", string(c.Protocol), "")
	str("http_path", c.HTTPPath, "")
	str("balance", string(c.Balance), "")
	str("affinity_key", c.AffinityKey, "")
	if c.StickyTableSize != 0 {
		param("sticky_table_size", strconv.Itoa(c.StickyTableSize))
	}
	dur("sticky_expire", c.StickyExpire)
	boolean("return_home", c.ReturnHome)
	// ParseDSN takes a password without auth for auth=plain.
	implied := Auth("")
	if !c.Password.IsZero() {
		implied = AuthPlain
	}
	str("auth", string(c.Auth), string(implied))
	str("kerberos_host_fqdn", c.KerberosHostFQDN, "")
	str("service_name", c.ServiceName, "")
	str("krb5_conf", c.Krb5Conf, "")
	str("keytab", c.Keytab, "")
	str("principal", c.Principal, "")
	str("ccache", c.CCache, "")
	str("jwt", c.JWT.Reveal(), "")
	str("jwt_file", c.JWTFile, "")
	boolean("tls", c.TLS)
	str("ca_cert", c.CACert, "")
	str("server_name", c.ServerName, "")
	str("client_cert", c.ClientCert, "")
	str("client_key", c.ClientKey, "")
	boolean("tls_insecure_skip_verify", c.TLSInsecureSkipVerify)
	dur("connect_timeout", c.ConnectTimeout)
	dur("query_timeout", c.QueryTimeout)
	if c.FetchSize != 0 {
		param("fetch_size", strconv.Itoa(c.FetchSize))
	}
	if c.MaxReplyMemory != 0 {
		param("max_reply_memory", strconv.Itoa(c.MaxReplyMemory))
	}
	if c.Retries != 0 {
		param("retries", strconv.Itoa(c.Retries))
	}
	dur("max_idle_time", c.MaxIdleTime)
	dur("validate_after", c.ValidateAfter)
	dur("health_interval", c.HealthInterval)
	dur("slow_start", c.SlowStart)
	if c.OutlierFailures != 0 {
		param("outlier_failures", strconv.Itoa(c.OutlierFailures))
	}
	dur("outlier_window", c.OutlierWindow)
	dur("outlier_eject_time", c.OutlierEjectTime)
	if c.OutlierMaxEjected != 0 {
		param("outlier_max_ejected", strconv.FormatFloat(c.OutlierMaxEjected, 'g', -1, 64))
	}
	str("discovery", string(c.Discovery), "")
	dur("discovery_interval", c.DiscoveryInterval)
	dur("discovery_timeout", c.DiscoveryTimeout)
	boolean("cluster_load", c.ClusterLoad)
	dur("cluster_load_interval", c.ClusterLoadInterval)
	if c.WebPort != 0 {
		param("web_port", strconv.Itoa(c.WebPort))
	}
	boolean("web_tls", c.WebTLS)
	str("web_auth", string(c.WebAuth), "")
	boolean("allow_non_impala", c.AllowNonImpala)
	boolean("poll_queries", c.PollQueries)
	str("sync_ddl", string(c.SyncDDL), "")
	prefixed := func(prefix, k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(prefix)
		b.WriteString(escapeDSN(k, true))
		b.WriteByte('=')
		b.WriteString(escapeDSN(v, true))
	}
	for _, k := range sortedKeys(c.HTTPHeaders) {
		prefixed("http_header.", http.CanonicalHeaderKey(k), c.HTTPHeaders[k].Reveal())
	}
	for _, k := range sortedKeys(c.QueryOptions) {
		prefixed("opt.", strings.ToUpper(k), c.QueryOptions[k])
	}
	return b.String()
}

// redactedDSN is what String writes in place of a secret.
var redactedDSN = secret.New("xxxxx")

// String returns the DSN with the password, the JWT and the values of
// the HTTP headers replaced by "xxxxx".
func (c Config) String() string {
	if !c.Password.IsZero() {
		c.Password = redactedDSN
	}
	if !c.JWT.IsZero() {
		c.JWT = redactedDSN
	}
	if len(c.HTTPHeaders) > 0 {
		h := make(map[string]secret.Value, len(c.HTTPHeaders))
		for k := range c.HTTPHeaders {
			h[k] = redactedDSN
		}
		c.HTTPHeaders = h
	}
	return c.FormatDSN()
}

// GoString returns the redacted DSN for %#v.
func (c Config) GoString() string { return "impalalb.Config(" + c.String() + ")" }

// LogValue implements slog.LogValuer with the redacted DSN.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(strings.ToUpper(a), strings.ToUpper(b)) })
	return keys
}

// normalizeAddr checks one coordinator address ("host", "host:port",
// "[v6]", "[v6]:port", "[v6%zone]"; fromDSN when a is DSN text, where the
// zone's '%' is written %25, else it is a Config's address) and
// returns it as host:port with a lower-case host, the canonical form of an
// IP address and defPort when the port is missing (no port at all when
// defPort is 0). Errors show the host only when it is a well-formed name,
// and never the port text, in case a badly encoded password ended up here.
func normalizeAddr(a string, n, defPort int, fromDSN bool) (string, error) {
	where := fmt.Sprintf("coordinator %d", n)
	var host, port string
	if strings.HasPrefix(a, "[") {
		var err error
		if host, port, err = bracketedAddr(a, where, fromDSN); err != nil {
			return "", err
		}
	} else {
		host = a
		if i := strings.IndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
			if strings.IndexByte(port, ':') >= 0 {
				return "", dsnErr("address", where+": too many ':' (an IPv6 address must be in brackets)")
			}
			if port == "" {
				return "", dsnErr("address", where+": empty port")
			}
		}
		if host == "" {
			return "", dsnErr("address", where+": empty host")
		}
		if !isHostName(host) {
			return "", dsnErr("address", where+": host is not a host name or an address")
		}
		host = strings.ToLower(host)
		if ip, err := netip.ParseAddr(host); err == nil {
			host = ip.String()
		}
	}
	p := defPort
	if port != "" {
		v, err := strconv.Atoi(port)
		if err != nil || v < 1 || v > 65535 || port[0] == '+' || port[0] == '-' {
			return "", dsnErr("address", fmt.Sprintf("coordinator %d (%s): port is not a number from 1 to 65535", n, host))
		}
		p = v
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if p == 0 {
		return host, nil
	}
	return host + ":" + strconv.Itoa(p), nil
}

// bracketedAddr splits an address that starts with '[' (as normalizeAddr
// takes it) into its IPv6 host in canonical form and its port text.
func bracketedAddr(a, where string, fromDSN bool) (host, port string, err error) {
	end := strings.IndexByte(a, ']')
	if end < 0 {
		return "", "", dsnErr("address", where+": missing ']'")
	}
	inner := a[1:end]
	if i := strings.IndexByte(inner, '%'); i >= 0 {
		zone := inner[i+1:]
		if fromDSN && strings.HasPrefix(zone, "25") {
			zone = zone[2:] // RFC 6874: the zone's '%' written %25
		}
		if !isZone(zone) {
			return "", "", dsnErr("address", where+": bad IPv6 zone (letters, digits, '.', '_', '-', '~')")
		}
		inner = inner[:i+1] + zone
	}
	ip, err := netip.ParseAddr(inner)
	if err != nil || !ip.Is6() {
		return "", "", dsnErr("address", where+": not an IPv6 address in brackets")
	}
	host = ip.String()
	after := a[end+1:]
	if after != "" {
		if after[0] != ':' {
			return "", "", dsnErr("address", where+": unexpected text after ']'")
		}
		port = after[1:]
		if port == "" {
			return "", "", dsnErr("address", where+": empty port")
		}
	}
	return host, port, nil
}

// formatAddr writes a normalized address for the DSN, without the port
// when it is defPort and with an IPv6 zone as %25.
func formatAddr(a string, defPort int) string {
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		if end := strings.IndexByte(a, ']'); end >= 0 {
			host = a[:end+1]
			port = strings.TrimPrefix(a[end+1:], ":")
		}
		host = strings.Replace(host, "%", "%25", 1)
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port == "" || port == strconv.Itoa(defPort) {
		return host
	}
	return host + ":" + port
}

// isHostName reports whether s is a plausible host name or IPv4 address:
// letters, digits, '-', '.', '_', at most 253 bytes.
func isHostName(s string) bool {
	return bytesOK(s, 253, func(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c == '_' })
}

// isHAProxyName reports whether s can name a section of an HAProxy
// configuration: letters, digits, '-', '_', '.' and ':' (HAProxy's
// invalid_char).
func isHAProxyName(s string) bool {
	return bytesOK(s, 200, func(c byte) bool { return isAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':' })
}

// isZone reports whether s is a plausible IPv6 zone: an interface name or
// number.
func isZone(s string) bool {
	return bytesOK(s, 64, func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '~' })
}

// isParamName reports whether s looks like a parameter name, and so can be
// shown in an error: ASCII letters, digits, '_', '.' and '-' (of a header
// name).
func isParamName(s string) bool {
	return bytesOK(s, 200, func(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' })
}

// isHeaderName reports whether s is an HTTP header name (a token).
func isHeaderName(s string) bool {
	return bytesOK(s, 200, func(c byte) bool { return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 })
}

// ownedHeaders are the request headers the hs2-http transport writes
// itself (conn refuses them in Options.HTTPHeaders too).
var ownedHeaders = []string{"Host", "Content-Type", "Content-Length", "Transfer-Encoding",
	"Connection", "Authorization", "Cookie", "Expect", "Upgrade", "Te", "Trailer", "Proxy-Connection", "Keep-Alive"}

// validateHTTP checks the hs2-http settings: only with that protocol, and
// sendable.
func (c *Config) validateHTTP() error {
	if c.Protocol != ProtocolHS2HTTP {
		if c.HTTPPath != "" {
			return dsnErr("http_path", "needs protocol=hs2-http")
		}
		if len(c.HTTPHeaders) > 0 {
			k := sortedKeys(c.HTTPHeaders)[0]
			return dsnErr("http_header."+http.CanonicalHeaderKey(printableName(k)), "needs protocol=hs2-http")
		}
		return nil
	}
	for i := 0; i < len(c.HTTPPath); i++ {
		if ch := c.HTTPPath[i]; ch <= ' ' || ch >= 0x7f || ch == '#' {
			return dsnErr("http_path", "holds a space, control, non-ASCII or '#' byte")
		}
	}
	seen := map[string]bool{}
	for _, k := range sortedKeys(c.HTTPHeaders) {
		if !isHeaderName(k) {
			return dsnErr("", fmt.Sprintf("http_header.%s: not a header name", printableName(k)))
		}
		name := http.CanonicalHeaderKey(k)
		param := "http_header." + name
		if seen[name] {
			return dsnErr(param, "given more than once")
		}
		seen[name] = true
		for _, o := range ownedHeaders {
			if strings.EqualFold(o, k) {
				return dsnErr(param, "the transport's own header")
			}
		}
		if strings.ContainsAny(c.HTTPHeaders[k].Reveal(), "\r\n\x00") {
			return dsnErr(param, "value contains a line break or NUL")
		}
	}
	return nil
}

// validateJWT checks the token settings: only with auth=jwt, exactly one
// source, a token that fits in a header.
func (c *Config) validateJWT() error {
	n := 0
	for _, set := range []bool{!c.JWT.IsZero(), c.JWTFile != "", c.JWTFunc != nil} {
		if set {
			n++
		}
	}
	if c.Auth != AuthJWT {
		switch {
		case !c.JWT.IsZero():
			return dsnErr("jwt", "needs auth=jwt")
		case c.JWTFile != "":
			return dsnErr("jwt_file", "needs auth=jwt")
		case c.JWTFunc != nil:
			return dsnErr("auth", "Config.JWTFunc needs auth=jwt")
		}
		return nil
	}
	if c.Protocol != ProtocolHS2HTTP {
		return dsnErr("auth", "jwt needs protocol=hs2-http")
	}
	switch {
	case n == 0:
		return dsnErr("auth", "jwt needs a token: jwt, jwt_file or Config.JWTFunc")
	case n > 1:
		return dsnErr("auth", "jwt takes one token source: jwt, jwt_file or Config.JWTFunc")
	}
	jwt := c.JWT.Reveal()
	for i := 0; i < len(jwt); i++ {
		if ch := jwt[i]; ch <= ' ' || ch >= 0x7f {
			return dsnErr("jwt", "holds a space, control or non-ASCII byte")
		}
	}
	if strings.IndexByte(c.JWTFile, 0) >= 0 {
		return dsnErr("jwt_file", "contains NUL")
	}
	return nil
}

// printableName is s for an error when it is a plausible name, else a
// placeholder.
func printableName(s string) string {
	if isParamName(s) {
		return s
	}
	return "(name)"
}

// isIdent reports whether s is made of ASCII letters, digits and
// underscores (and, with letterFirst, starts with a letter or underscore),
// at most 128 bytes.
func isIdent(s string, letterFirst bool) bool {
	if letterFirst && s != "" && s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return bytesOK(s, 128, func(c byte) bool { return isAlnum(c) || c == '_' })
}

// bytesOK reports whether s has 1 to limit bytes, each of which ok accepts.
func bytesOK(s string, limit int, ok func(c byte) bool) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// unescapeDSN decodes %XX escapes (and '+' as a space when plus is set).
// It reports failure without saying where, so that no part of a password
// ends up in an error.
func unescapeDSN(s string, plus bool) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && (!plus || strings.IndexByte(s, '+') < 0) {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return "", false
			}
			h, ok1 := unhexDigit(s[i+1])
			l, ok2 := unhexDigit(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, h<<4|l)
			i += 2
		case c == '+' && plus:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

func unhexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeDSN percent-encodes every byte but letters, digits and "-._~"; in
// parameter values (value set) also "/:@," stay as they are, so that paths
// and principals read naturally.
func escapeDSN(s string, value bool) string {
	const hex = "0123456789ABCDEF"
	keep := func(c byte) bool {
		return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
			value && (c == '/' || c == ':' || c == '@' || c == ',')
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}
