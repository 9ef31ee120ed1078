// Package impalalb moves the load balancer that sits in front of Apache
// Impala into the client. Where a company runs HAProxy or an F5 in front of
// its impalad coordinators so that applications see one host and port,
// impalalb gives a Go program the same without the extra hop: a pool of
// HiveServer2 (port 21050), HiveServer2 over HTTP (port 28000) and beeswax
// (port 21000) sessions that picks a
// coordinator per session by least connections or by session affinity (the
// client-side equivalent of HAProxy's "balance source"), skips dead
// coordinators, checks idle connections before reuse, and speaks Kerberos
// (with the service principal's host set to the load balancer's name, as
// impala-shell's -b/--kerberos_host_fqdn does), LDAP, JWT and TLS.
//
// The packages:
//
//   - [github.com/impalalb/impalalb/balancer]: the coordinator set, the
//     policies, health checks and the session pool.
//   - [github.com/impalalb/impalalb/conn]: one connection and session to one
//     coordinator, HiveServer2 (over TCP or HTTP) or beeswax, with NOSASL,
//     PLAIN or GSSAPI; over HTTP Basic, SPNEGO or JWT, and cookies.
//   - [github.com/impalalb/impalalb/kerberos]: pure-Go Kerberos login and the
//     SASL GSSAPI mechanism.
//   - [github.com/impalalb/impalalb/tlsconf]: TLS settings for the proxy
//     models of Impala's load balancer guide.
//   - [github.com/impalalb/impalalb/secret]: the type every password and
//     token is held in, which no fmt verb, logger or panic prints.
//
// This package registers the database/sql driver "impala":
//
//	import (
//		"database/sql"
//		_ "github.com/impalalb/impalalb"
//	)
//
//	db, err := sql.Open("impala", "impala://etl@c1:21050,c2:21050,c3:21050/sales?auth=gssapi&kerberos_host_fqdn=lb.example.com")
//
// Each database/sql connection is a session leased from one balancer pool
// per [Connector] (database/sql closes it at DB.Close). The DSN and its
// parameters are documented at [ParseDSN]; [Config.FormatDSN] is its
// inverse. [Config.Password] is a [secret.Value]: no error, log, panic
// or fmt verb shows it.
//
// Statements: placeholders "?" and "@name" are filled in on the client by
// [Interpolate] with Impala's literal syntax, since Impala has no
// server-side bind parameters; a value can never end its literal. Impala
// echoes a statement's text in its errors (a syntax error shows the line):
// an argument passed as a string, a password in an UPDATE say, would be in
// the error. Pass such an argument as a [secret.Value]
// (secret.New(token)): it is interpolated as the string it holds and
// every error of the statement shows it as "<redacted>". A
// cancelled context or query_timeout cancels the statement on the
// coordinator. Exec reports the rows a DML statement changed. Query options
// for one statement only travel in its context: [WithQueryOptions]; so
// does conn.WithStatementStarted, which reports each statement's Impala
// query id and coordinator as soon as it is accepted (errors of a
// statement that ran name its query id too). There are no transactions:
// Begin returns [ErrNoTransactions].
//
// Values: BOOLEAN → bool, TINYINT..BIGINT → int64, FLOAT/DOUBLE → float64,
// STRING/VARCHAR/CHAR and DECIMAL → string (scan DECIMAL into [Decimal] for
// an exact value), TIMESTAMP and DATE → time.Time (UTC), BINARY → []byte,
// NULL → nil (sql.Null* and pointers work).
//
// Failures: driver.ErrBadConn, which makes database/sql retry on another
// connection, is returned only when the statement cannot have reached a
// coordinator; once it may have, the real error comes back (naming the
// coordinator) and the connection is discarded, so a statement is never
// silently run twice. A SET or USE run through a connection is undone
// before database/sql hands the connection to anyone else.
//
// Configuration: every [Config] field's zero value is its documented
// default, the same as the DSN parameter left out, so a Config built by
// hand behaves like the DSN that says the same; the defaults are the
// balancer's and conn's, defined once. [Config.Tracer] traces statements
// (and acquires, when it also implements balancer.Tracer) for logs,
// metrics or OpenTelemetry spans; [Config.Hooks] are the pool's lifecycle
// hooks.
//
// Leaving HAProxy: the DSN parameter haproxy_config ([Config.HAProxyConfig])
// takes the coordinators, the balance, the health checks, the timeouts and
// the TLS of one backend of an HAProxy configuration (the haproxy.cfg of
// Impala's load-balancer guide, read by balancer.LoadHAProxyConfig) in
// place of the host list; the DSN's own parameters override the file's,
// and the directives without a client-side meaning are logged.
//
// Discovery: with discovery=dns (each address's name resolved
// periodically, a Kubernetes headless service) or discovery=impala (the
// cluster's membership from the coordinators' web servers, quiescing
// coordinators drained) the coordinators follow the cluster, the DSN's
// addresses being the seed list; a coordinator that leaves is drained, not
// cut, and a discovery that fails keeps the last good list. With
// cluster_load=true leastconn also counts every client's queries on each
// coordinator, read from its web server, so that many client processes
// balance as one. The web_port, web_tls and web_auth parameters say how
// the web servers are reached; see [ParseDSN].
//
// [NewConnector] with sql.OpenDB gives the pool's per-coordinator figures
// through [Connector.Stats]; inside sql.Conn.Raw a connection is a
// [RawConn] (its coordinator, and the *conn.Session itself).
package impalalb
