// Package kerberos is pure-Go Kerberos for impalalb: a login (keytab,
// credential cache or password) that renews itself, the SASL GSSAPI
// mechanism of RFC 4752 that package conn uses to authenticate to Impala
// coordinators, and SPNEGO for HiveServer2 over HTTP and for web servers.
// It is built on gokrb5 (no cgo, no system krb5 libraries).
//
// # Logging in
//
// A [Client] holds one login. Exactly one method applies, chosen from
// [Config]: a keytab with a principal, a password with a principal, or the
// credential cache that kinit leaves (Config.CCache, else $KRB5CCNAME).
// krb5.conf comes from Config.Krb5Conf, else $KRB5_CONFIG, else
// /etc/krb5.conf.
//
//	c, err := kerberos.NewClient(kerberos.Config{
//		Principal: "etl@EXAMPLE.COM",
//		Keytab:    "/etc/security/etl.keytab",
//		HostFQDN:  "impala-lb.example.com", // kerberos_host_fqdn
//	})
//	if err != nil { ... }
//	defer c.Close()
//
// The TGT is obtained on first use (or by [Client.Login]) and replaced a
// margin before it ends (Config.RenewBefore, default a fifth of its
// lifetime): renewed at the KDC when renewable, else obtained again from the
// keytab or password, or read again from the credential cache (where an
// external kinit -R may have refreshed it). One goroutine per Client does
// this in the background; [Client.Close] stops it. Service tickets are
// cached per service principal and replaced the same way. Concurrent
// handshakes that need the same ticket share one KDC exchange.
//
// # The service principal
//
// A handshake with host asks for ServiceName/host@REALM, or, when
// Config.HostFQDN (Impala's kerberos_host_fqdn) is set,
// ServiceName/HostFQDN@REALM whatever coordinator the socket reaches. This
// is the setup of Impala's guide for clusters behind a load balancer: every
// coordinator's keytab holds the balancer's principal besides its own, so a
// client-side balancer can use the balancer's name for all of them.
// ServiceName defaults to "impala"; REALM is Config.Realm, else krb5.conf's
// domain_realm mapping of the host, else its default realm.
//
// # SASL GSSAPI
//
// [Client.MechanismFactory] gives conn one [Mechanism] per connection. Its
// initial response is a GSS-API Kerberos V5 AP-REQ asking for mutual
// authentication; it verifies the server's AP-REP, then answers the
// server's security-layer offer (RFC 4752 section 3.1) with the first
// layer of Config.QOP the server offers: by default "auth" when offered,
// else "auth-int", else "auth-conf". With auth-int or auth-conf the
// Mechanism is an active sasl.SecurityLayer whose Wrap and Unwrap make and
// check RFC 4121 wrap tokens (checksummed, or encrypted and checksummed)
// with sequence numbers. Kerberos keys of the AES types are supported (the
// defaults of MIT and Active Directory today); RC4 and DES are not.
//
// The Mechanism is cross-checked in the tests against MIT krb5's GSS-API
// (python3-gssapi) and a real MIT KDC.
//
// # SPNEGO over HTTP
//
// For HiveServer2 over HTTP, [Client.NegotiateHeader] (conn's HTTPAuth)
// makes the value of an "Authorization: Negotiate" header (RFC 4559): a
// SPNEGO NegTokenInit carrying the same AP-REQ, for the same service
// principal as above. conn asks for it once per session; the coordinator's
// auth cookie carries the rest.
//
// For web servers that ask "WWW-Authenticate: Negotiate" (Impala's with
// --webserver_require_spnego), [Client.SPNEGO] wraps an http.Client that
// answers the challenge with the same token for HTTP/<HostFQDN or
// host>@REALM ([HTTPServiceName]). Both come from the Client's one login
// and ticket cache.
//
// # Errors
//
// Failures are [*Error] values naming the step and the principal asked for,
// wrapping a sentinel that says why: [ErrUnknownPrincipal],
// [ErrClockSkew], [ErrKDCUnreachable], [ErrExpired], [ErrBadCredentials],
// [ErrClosed] or [ErrProtocol]. Errors, logs and [Config.String] never
// contain passwords, keys or tickets.
//
// gokrb5's KDC exchanges take no context; a handshake's ctx ends the
// caller's wait, while the exchange finishes in the background within
// gokrb5's own timeouts (a few seconds per KDC) and fills the cache.
package kerberos
