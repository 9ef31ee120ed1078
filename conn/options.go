package conn

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"time"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/secret"
)

// Protocol is the client protocol a Session speaks.
type Protocol uint8

const (
	// HS2 is HiveServer2 (Impala's port 21050): columnar results,
	// reattachable sessions, per-statement options. The default.
	HS2 Protocol = iota
	// Beeswax is Impala's older protocol (port 21000): text rows, the
	// session bound to its connection. Deprecated by Impala; prefer HS2.
	Beeswax
	// HS2HTTP is HiveServer2 over HTTP (Impala's --hs2_http_port, 28000):
	// the same session as HS2, each call a POST of its Thrift message to
	// [Options.HTTPPath], authenticated by [Options.HTTPAuth] and the
	// cookie the coordinator returns. It is how Impala is reached through
	// HTTP load balancers, Apache Knox and Kubernetes ingresses.
	HS2HTTP
)

// String returns "hs2", "beeswax" or "hs2-http" (impala-shell's names).
func (p Protocol) String() string {
	switch p {
	case HS2:
		return "hs2"
	case Beeswax:
		return "beeswax"
	case HS2HTTP:
		return "hs2-http"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Defaults applied by Dial to zero fields of Options.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultKeepAlive      = 30 * time.Second
	DefaultFetchSize      = 10240
	DefaultPollMin        = 1 * time.Millisecond
	DefaultPollMax        = 200 * time.Millisecond
	DefaultCancelTimeout  = 5 * time.Second
	DefaultMaxMessageSize = 256 << 20
	// DefaultHTTPPath is the path of HS2HTTP requests, impala-shell's
	// --http_path default. Impala's server takes any path.
	DefaultHTTPPath = "cliservice"
	// DefaultUserAgent is the User-Agent of HS2HTTP requests, unless
	// Options.HTTPHeaders sets one.
	DefaultUserAgent = "impalalb (Go)"
)

// Options configure Dial. The zero value dials HS2 without TLS and without
// SASL (NOSASL), as user "" with the coordinator's default database and
// options. Dial keeps a private copy; later changes to the caller's value
// (or its SessionOptions map) have no effect.
type Options struct {
	// Protocol is HS2 (the zero value), Beeswax or HS2HTTP.
	Protocol Protocol

	// ConnectTimeout bounds the whole of Dial: TCP connect, TLS and SASL
	// handshakes, OpenSession and the first ping. Zero means
	// DefaultConnectTimeout; the ctx given to Dial may end it sooner.
	ConnectTimeout time.Duration

	// KeepAlive is the TCP keep-alive period. Zero means DefaultKeepAlive;
	// negative disables keep-alives.
	KeepAlive time.Duration

	// TLS, when not nil, wraps the connection in TLS with this config. An
	// empty ServerName is set to the host part of the dialed address.
	TLS *tls.Config

	// TLSHandshake, when not nil, runs the TLS handshake instead of TLS:
	// it gets the connected socket and the dialed address and returns the
	// TLS connection. It is how a per-coordinator verifier such as
	// tlsconf.Client.Handshake plugs in (its errors name the expected and
	// the presented certificate names). Nil means use TLS as above.
	TLSHandshake func(ctx context.Context, raw net.Conn, addr string) (net.Conn, error)

	// DialContext, when not nil, opens the TCP connection instead of a
	// net.Dialer with ConnectTimeout and KeepAlive. Tests use it to reach
	// host names that resolve only inside the test; services use it for
	// custom resolution or socket options.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Mechanism makes the SASL mechanism for each connection (PLAIN for
	// LDAP, GSSAPI from package kerberos). Nil means no SASL (NOSASL),
	// unless Password is set: then Dial uses SASL PLAIN with User and
	// Password. Not with HS2HTTP, which authenticates with HTTPAuth.
	Mechanism sasl.MechanismFactory

	// HTTPAuth makes the Authorization header of HS2HTTP requests:
	// [BasicAuth] (LDAP), [BearerAuth] (JWT), or a Kerberos client's
	// SPNEGO (kerberos.Client.NegotiateHeader). It is asked only while the
	// session holds no auth cookie from the coordinator (Impala's
	// impala.auth: a cookie named *.auth), and again when the coordinator
	// refuses that cookie. Nil means Basic with User and Password when
	// Password is set, else no Authorization header. HS2HTTP only.
	HTTPAuth HTTPAuth

	// HTTPPath is the path HS2HTTP requests are sent to, with or without
	// its leading "/"; a query string ("cliservice?doAs=bob") goes as is.
	// Empty means DefaultHTTPPath. HS2HTTP only.
	HTTPPath string

	// HTTPHeaders are extra headers of every HS2HTTP request (a tenant or
	// routing header a proxy wants, X-Forwarded-For as impala-shell's
	// --hs2_x_forward sends it); a User-Agent here replaces
	// DefaultUserAgent. The headers the transport owns (Host,
	// Content-Type, Content-Length, Transfer-Encoding, Connection,
	// Authorization, Cookie, Expect, Upgrade, TE, Trailer) are refused.
	// The values are secret.Values (secret.New(v)), revealed only into
	// the request: a header may carry a proxy's key or token, so none of
	// them prints. Nil means none. HS2HTTP only.
	HTTPHeaders map[string]secret.Value

	// User is the user name: HS2 OpenSession's username, beeswax's
	// hadoop_user on each query. With SASL the authenticated user is the
	// mechanism's; a different User asks Impala for impersonation.
	User string

	// Password is used only for SASL PLAIN when Mechanism is nil (see
	// Mechanism), and over HS2HTTP for Basic when HTTPAuth is nil:
	// secret.New(pw). It is never sent in OpenSession (Impala
	// authenticates in the SASL or HTTP layer and ignores OpenSession's
	// password), never logged, never in an error, and prints redacted
	// under every verb. The zero Value means none.
	Password secret.Value

	// Database is the current database of new sessions, and the one Reset
	// restores. Empty means the coordinator's default ("default").
	Database string

	// SessionOptions are query options for the whole session: HS2
	// OpenSession's configuration; beeswax sends them with every query.
	// Reset restores them. Nil means none.
	SessionOptions map[string]string

	// FetchSize is the number of rows asked for by each fetch. Zero means
	// DefaultFetchSize. Impala produces 1024-row batches; larger sizes
	// help when it spools results.
	FetchSize int

	// BeeswaxText keeps beeswax rows as the coordinator sends them, one
	// string a row with tab-separated fields, in Batch.TextRows, instead of
	// decoding them into typed columns: for a client that prints them as
	// they are (as impala-shell does), including rows whose values hold a
	// tab. Such a Batch has only Len and TextRows. No effect on HS2.
	BeeswaxText bool

	// PollQueries makes Execute poll the status of queries too, as it does
	// for every other statement, instead of fetching their first rows at
	// once (see Session.Execute). For a server that mishandles an early
	// fetch; costs a status call per query and up to a quarter of its run
	// time in latency.
	PollQueries bool

	// PollMin and PollMax bound the wait between two status polls of a
	// running statement that is polled (see Session.Execute; an HS2 query
	// to Impala is fetched instead): the first poll is immediate, then each wait is a
	// quarter of the time since it, at least PollMin and at most PollMax,
	// so that a statement is seen finished at most about a quarter of its
	// run time late. Zero means DefaultPollMin and DefaultPollMax.
	PollMin, PollMax time.Duration

	// CancelTimeout bounds the clean-up after a cancelled or expired ctx:
	// cancelling and closing the operation on the coordinator. Zero means
	// DefaultCancelTimeout.
	CancelTimeout time.Duration

	// MaxMessageSize is the largest Thrift message (and SASL frame; over
	// HS2HTTP, reply body) accepted from the coordinator, in bytes on the
	// wire; a reply that goes past it fails the call with
	// ErrReplyTooLarge, and a length claiming more fails before anything
	// of that size is allocated. Zero means DefaultMaxMessageSize.
	MaxMessageSize int

	// MaxReplyMemory bounds the memory that decoding one reply of the
	// coordinator may make the client hold, in bytes, counted as Go holds
	// it: string and slice headers, values at their Go size, structs, the
	// bytes of strings, not only the bytes on the wire (an empty string
	// takes 4 bytes there and 16 in memory). A reply that would take more
	// fails the call with ErrReplyTooLarge before the excess is
	// allocated. Besides, a fetch's reply may hold no more rows than the
	// fetch asked for (FetchSize), nor a batch other columns than the
	// schema's: more is an error wrapping ErrBadRowSet. Zero means
	// MaxMessageSize (256 MiB by default); a 10240-row batch of 256 mixed
	// columns takes about 36 MiB (BENCHMARKS.md). A SASL data frame
	// wrapped by a security layer is besides buffered whole, up to
	// MaxMessageSize.
	MaxReplyMemory int

	// AllowNonImpala lets an HS2 session talk to any HiveServer2 (Apache
	// Hive, Spark's Thrift server), not only Impala. conn then uses only
	// the standard TCLIService calls: GetInfo instead of
	// PingImpalaHS2Service to prove the session at open and in Ping
	// (ServerVersion is GetInfo's CLI_DBMS_VER; Apache Hive's GetInfo fails
	// for an unknown session as Impala's ping does, but Spark's Thrift
	// server answers it without looking at the session, so there Ping
	// proves the connection and the server only), CloseOperation instead of
	// CloseImpalaOperation (so Operation.RowsAffected stays unknown, -1),
	// and Summary and Profile fail with ErrNotImpala without a call. A
	// fetch ends at the first empty batch (HiveServer2 always says
	// hasMoreRows=false), and Reattach fails with ErrReattachUnsupported
	// (HiveServer2 closes a session with its connection). SessionOptions
	// go to OpenSession as "set:hiveconf:key", and Reset re-sets them with
	// HiveServer2's unquoted SET (RESET key, Spark SQL's, for one without
	// a value in SessionOptions). Use it only
	// for servers that are not Impala: against Impala it loses the above,
	// and a fetch that comes back empty when fetch_rows_timeout_ms passes
	// would end the result early. Not valid with Beeswax, which only
	// Impala serves.
	AllowNonImpala bool

	// SyncDDL says when a statement that changes the catalog (DDL, and DML
	// that adds files or partitions) carries SYNC_DDL=1, so that it
	// returns only when every coordinator has seen the change, unless the
	// user chose a SYNC_DDL value (for the statement, in SessionOptions or
	// by SET). The zero value, SyncDDLAuto, does so for sessions a pool
	// placed without an affinity key, whose next statements may run
	// elsewhere.
	SyncDDL SyncDDL

	// Tracer, when not nil, is told of every statement's start and end
	// (see [Tracer]). Nil means no tracing.
	Tracer Tracer

	// Logger receives debug records (dial, open, close, broken
	// connections); never statements' text, passwords or tokens. Nil
	// means no logging.
	Logger *slog.Logger
}

// WithDefaults returns a copy of o with every zero field set to its
// default, as Dial uses it (a Password without Mechanism becomes SASL
// PLAIN), or an error naming the first field out of range.
func (o Options) WithDefaults() (Options, error) {
	switch {
	case o.Protocol != HS2 && o.Protocol != Beeswax && o.Protocol != HS2HTTP:
		return o, fmt.Errorf("conn: Options.Protocol %d is not HS2, Beeswax or HS2HTTP", o.Protocol)
	case o.AllowNonImpala && o.Protocol == Beeswax:
		return o, fmt.Errorf("conn: Options.AllowNonImpala is for HS2 only: beeswax is Impala's own protocol")
	case o.ConnectTimeout < 0:
		return o, fmt.Errorf("conn: Options.ConnectTimeout %v is negative", o.ConnectTimeout)
	case o.FetchSize < 0 || o.FetchSize > math.MaxInt32:
		return o, fmt.Errorf("conn: Options.FetchSize %d out of range", o.FetchSize)
	case o.PollMin < 0 || o.PollMax < 0:
		return o, fmt.Errorf("conn: Options.PollMin/PollMax must not be negative")
	case o.CancelTimeout < 0:
		return o, fmt.Errorf("conn: Options.CancelTimeout %v is negative", o.CancelTimeout)
	case o.SyncDDL > SyncDDLNever:
		return o, fmt.Errorf("conn: Options.SyncDDL %d is not a SyncDDL mode", o.SyncDDL)
	case o.MaxMessageSize < 0 || o.MaxMessageSize > math.MaxInt32:
		return o, fmt.Errorf("conn: Options.MaxMessageSize %d out of range", o.MaxMessageSize)
	case o.MaxReplyMemory < 0:
		return o, fmt.Errorf("conn: Options.MaxReplyMemory %d is negative", o.MaxReplyMemory)
	}
	if err := o.checkHTTP(); err != nil {
		return o, err
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.FetchSize == 0 {
		o.FetchSize = DefaultFetchSize
	}
	if o.PollMin == 0 {
		o.PollMin = DefaultPollMin
	}
	if o.PollMax == 0 {
		o.PollMax = DefaultPollMax
	}
	if o.PollMax < o.PollMin {
		o.PollMax = o.PollMin
	}
	if o.CancelTimeout == 0 {
		o.CancelTimeout = DefaultCancelTimeout
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxReplyMemory == 0 {
		o.MaxReplyMemory = o.MaxMessageSize
	}
	if o.Protocol == HS2HTTP {
		if o.HTTPAuth == nil && !o.Password.IsZero() {
			o.HTTPAuth = BasicAuth(o.User, o.Password)
		}
		if o.HTTPPath == "" {
			o.HTTPPath = DefaultHTTPPath
		}
		o.HTTPHeaders = maps.Clone(o.HTTPHeaders)
	} else if o.Mechanism == nil && !o.Password.IsZero() {
		o.Mechanism = sasl.PlainFactory(o.User, o.Password.Reveal())
	}
	o.SessionOptions = maps.Clone(o.SessionOptions)
	if o.TLS != nil {
		o.TLS = o.TLS.Clone()
	}
	return o, nil
}

// backoff yields the waits between polls: 0 first, then a quarter of the
// time since that first poll, within [min, max]. A statement is thus seen
// finished at most about a quarter of its run time late (doubling waits
// saw a 50 ms statement at 63 ms); impala-shell and impyla likewise poll
// by elapsed time, not by count.
type backoff struct {
	min, max time.Duration
	start    time.Time
	started  bool
	now      func() time.Time // nil: time.Now
}

func (b *backoff) next() time.Duration {
	now := time.Now
	if b.now != nil {
		now = b.now
	}
	if !b.started {
		b.started = true
		b.start = now()
		return 0
	}
	return min(max(now().Sub(b.start)/4, b.min), b.max)
}
