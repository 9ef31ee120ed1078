// Package impalalb moves the load balancer that sits in front of Apache
// Impala into the client. Where a company runs HAProxy or an F5 in front of
// its impalad coordinators so that applications see one host and port,
// impalalb gives a Go program the same without the extra hop: a pool of
// HiveServer2 (port 21050) and beeswax (port 21000) sessions that picks a
// coordinator per session by least connections or by session affinity (the
// client-side equivalent of HAProxy's "balance source"), skips dead
// coordinators, checks idle connections before reuse, and speaks Kerberos
// (with the service principal's host set to the load balancer's name, as
// impala-shell's -b/--kerberos_host_fqdn does) and TLS.
//
// The packages:
//
//   - [github.com/impalalb/impalalb/balancer]: the coordinator set, the
//     policies, health checks and the session pool.
//   - [github.com/impalalb/impalalb/conn]: one connection and session to one
//     coordinator, HiveServer2 or beeswax, with NOSASL, PLAIN or GSSAPI.
//   - [github.com/impalalb/impalalb/kerberos]: pure-Go Kerberos login and the
//     SASL GSSAPI mechanism.
//   - [github.com/impalalb/impalalb/tlsconf]: TLS settings for the proxy
//     models of Impala's load balancer guide.
//
// This package parses the DSN ([ParseDSN], [Config.FormatDSN]) and registers
// the database/sql driver "impala".
package impalalb
