package impalad

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/impalalb/impalalb/internal/saslserver"
)

// Config configures a Coordinator. The zero value is usable: HS2 and beeswax
// on fresh loopback ports, no authentication, no TLS, no idle timeout.
type Config struct {
	// HS2Addr is the HiveServer2 listen address (Impala's port 21050).
	// Empty means "127.0.0.1:0": a free loopback port.
	HS2Addr string
	// BeeswaxAddr is the beeswax listen address (Impala's port 21000).
	// Empty means "127.0.0.1:0"; "-" turns beeswax off, as does
	// DisableBeeswax.
	BeeswaxAddr string
	// DisableBeeswax turns the beeswax listener off.
	DisableBeeswax bool

	// HS2HTTPAddr is the listen address of HiveServer2 over HTTP (Impala's
	// --hs2_http_port, 28000 there; http.go). Empty means no HTTP
	// listener. It authenticates with Users (Basic), Negotiate and
	// JWKSFile, and issues auth cookies, as Impala's.
	HS2HTTPAddr string

	// TLS, when set, makes every connection start with a TLS handshake
	// (server side) before SASL or Thrift, or HTTP.
	TLS *tls.Config

	// Users, when non-nil, turns on SASL with the PLAIN mechanism (Impala's
	// LDAP authentication) checked against this user → password table.
	// Without Users and Mechanisms the coordinator speaks NOSASL.
	Users map[string]string
	// Mechanisms adds SASL server mechanisms by name (e.g. "GSSAPI" from
	// package kerberos). Any mechanism turns SASL on for every connection.
	Mechanisms map[string]saslserver.MechanismFactory

	// Negotiate, when set, turns Kerberos on for the HTTP listener
	// ("Authorization: Negotiate", SPNEGO): it accepts a client's token in
	// one step and returns the client principal and the token of the
	// answer (krbacceptor.Acceptor.AcceptNegotiate). Impala turns it on
	// with its principal, as GSSAPI on the binary port. Nil means off.
	Negotiate func(tok []byte) (user string, reply []byte, err error)
	// JWKSFile is the path of a JSON Web Key Set: it turns JWT
	// authentication on for the HTTP listener ("Authorization: Bearer",
	// Impala's --jwt_token_auth with --jwks_file_path), signatures checked
	// against its keys (see jwt.go). Empty means off. Start refuses it
	// without TLS unless JWTAllowWithoutTLS, as Impala refuses to start.
	JWKSFile string
	// JWTUsernameClaim is the JWT claim that holds the user name (Impala's
	// --jwt_custom_claim_username). Empty means "username".
	JWTUsernameClaim string
	// JWTAllowWithoutTLS allows JWT authentication without TLS (Impala's
	// hidden --jwt_allow_without_tls, for a proxy that ends TLS).
	JWTAllowWithoutTLS bool
	// CookieLifetime is how long the auth cookies the HTTP listener issues
	// stay valid (Impala's --max_cookie_lifetime_s). Zero means one day,
	// Impala's default; negative turns cookies off (Impala's 0).
	CookieLifetime time.Duration

	// Version is the coordinator's build version ("4.5.0-RELEASE"), as
	// GetInfo(CLI_DBMS_VER) reports it; the pings and version() say
	// "impalad version <Version> RELEASE (build ...)". Empty means
	// DefaultVersion.
	Version string
	// WebAddr is the listen address of a small web server with impalad's
	// /healthz, /jsonmetrics, /metrics?json and /metrics_prometheus (see
	// web.go), reported in OpenSession's http_addr and the pings. Empty
	// means no web server; the reported address is then the HS2 host with
	// port 25000, where nothing listens.
	WebAddr string
	// WebTLS, when set, makes the web server HTTPS (Impala's
	// --webserver_certificate_file and --webserver_private_key_file).
	WebTLS *tls.Config
	// WebUsers, when non-nil, makes the web server require HTTP Basic
	// authentication checked against this user → password table (Impala's
	// --webserver_require_ldap, where LDAP checks them). Nil means no
	// authentication.
	WebUsers map[string]string

	// ServiceTime is the simulated work of every statement: an operation
	// stays RUNNING this long after ExecuteStatement. Zero: none.
	ServiceTime time.Duration
	// PlanningTime is the simulated planning of every statement:
	// ExecuteStatement (beeswax query) answers only after it, as Impala's
	// does once it has planned the statement. A cancel or the connection's
	// end stops the wait. Zero: ExecuteStatement answers at once.
	PlanningTime time.Duration
	// IdleSessionTimeout expires sessions idle that long (Impala's
	// --idle_session_timeout); a session's own idle_session_timeout option
	// (seconds, set at OpenSession) overrides it. Zero: never.
	IdleSessionTimeout time.Duration
	// DisconnectedSessionTimeout is how long an HS2 session outlives its
	// last connection, so a client can reattach it on a new connection
	// (Impala's --disconnected_session_timeout). Zero means 15 minutes;
	// negative closes sessions with their connection. Beeswax sessions
	// always close with their connection.
	DisconnectedSessionTimeout time.Duration
	// ShutdownGracePeriod is how long a graceful shutdown waits before the
	// coordinator may exit (Impala's --shutdown_grace_period_s). Zero means
	// 120 s, Impala's default.
	ShutdownGracePeriod time.Duration
	// ShutdownDeadline is the default deadline of a graceful shutdown, when
	// the coordinator exits whatever still runs (Impala's
	// --shutdown_deadline_s). Zero means one hour, Impala's default.
	ShutdownDeadline time.Duration
	// OnShutdownDone, when set, is called once each time a graceful
	// shutdown ends and the coordinator exits, right after ShutdownDone's
	// channel is closed: cmd/impalad ends the process then, as Impala's
	// ShutdownThread does. Nil: nothing is called.
	OnShutdownDone func()
	// ShutdownCheckInterval is how often a shutting-down coordinator checks
	// whether it may exit. Zero means one second, as Impala's
	// ShutdownThread.
	ShutdownCheckInterval time.Duration
	// FetchRowsTimeout bounds how long a fetch waits for rows of a running
	// statement before it returns an empty batch that still has more rows
	// (Impala's fetch_rows_timeout_ms query option, which overrides it per
	// session or statement). Zero means 10 s.
	FetchRowsTimeout time.Duration
	// HandshakeTimeout bounds the TLS and SASL handshakes of a connection.
	// Zero means 10 s.
	HandshakeTimeout time.Duration

	// MaxStatements bounds the statement records kept for Statements: when
	// exceeded, the oldest half is dropped (Stats still counts every
	// statement). Zero means 1,000,000; negative keeps none.
	MaxStatements int

	// FrontendThreads caps the connections served at once, as Impala's
	// --fe_service_threads (64 by default there) does: a further
	// connection is accepted by the kernel and then waits, unanswered, for
	// a served one to close. Zero means no cap.
	FrontendThreads int

	// Cluster is the catalog shared with other coordinators; nil gives this
	// coordinator a private one with no DDL delay.
	Cluster *Cluster

	// Logger receives connection and session events at debug level, and
	// each statement registered ("query registered": its query and
	// session ids, database, query options and text, as Impala's
	// "Analyzing query" line and profile), and errors at warn level. Nil:
	// no logging.
	Logger *slog.Logger
}

// DefaultVersion is the build version a Coordinator reports when
// Config.Version is empty: the Impala release whose behaviour it follows.
const DefaultVersion = "4.5.0-RELEASE"

// buildHash stands for the git hash of Impala's build in the version
// strings.
const buildHash = "impalalb-test-coordinator"

// versionString is GetVersionString (be/src/util/debug-util.cc):
// "impalad version <build version> RELEASE (build <hash>)", and in full
// (version()) the build time on a second line.
func versionString(version string, compact bool) string {
	s := "impalad version " + version + " RELEASE (build " + buildHash + ")"
	if !compact {
		s += "\nBuilt on Thu Jan  1 00:00:00 UTC 1970"
	}
	return s
}

// ErrClosed is returned by Restart and Faults methods after Close.
var ErrClosed = errors.New("impalad: coordinator closed")

func (c *Config) withDefaults() Config {
	cfg := *c
	if cfg.HS2Addr == "" {
		cfg.HS2Addr = "127.0.0.1:0"
	}
	if cfg.BeeswaxAddr == "" {
		cfg.BeeswaxAddr = "127.0.0.1:0"
	}
	if cfg.BeeswaxAddr == "-" {
		cfg.DisableBeeswax = true
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.DisconnectedSessionTimeout == 0 {
		cfg.DisconnectedSessionTimeout = 15 * time.Minute
	}
	if cfg.ShutdownGracePeriod == 0 {
		cfg.ShutdownGracePeriod = 120 * time.Second
	}
	if cfg.ShutdownDeadline == 0 {
		cfg.ShutdownDeadline = time.Hour
	}
	if cfg.ShutdownCheckInterval == 0 {
		cfg.ShutdownCheckInterval = time.Second
	}
	if cfg.FetchRowsTimeout == 0 {
		cfg.FetchRowsTimeout = 10 * time.Second
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxStatements == 0 {
		cfg.MaxStatements = 1_000_000
	}
	if cfg.Cluster == nil {
		cfg.Cluster = NewCluster(0)
	}
	return cfg
}

func (c *Config) saslEnabled() bool {
	return c.Users != nil || len(c.Mechanisms) > 0
}
