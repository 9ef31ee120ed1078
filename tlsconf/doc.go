// Package tlsconf builds the TLS configuration impalalb uses to reach Impala
// coordinators, for each of the proxy models of Impala's load balancer
// guide.
//
// # Proxy models
//
// With client-side balancing the client connects to each coordinator
// itself, yet clusters behind a load balancer often give their coordinators
// certificates issued to the load balancer's name.
//
//   - Passthrough: every coordinator holds the load balancer's certificate
//     (a SAN or wildcard certificate). Set [Config.ServerName] to the load
//     balancer's name: every coordinator's certificate is checked against
//     it, whatever address was dialed, and it is sent in SNI.
//   - Bridging: a proxy ends TLS with its own certificate and opens TLS to
//     the coordinators. The client dials the proxy and checks the proxy's
//     certificate against the proxy's name; no override is needed.
//   - Offload: as bridging on the client side; the proxy talks plain TCP
//     to the coordinators.
//   - Direct, no proxy: each coordinator has a certificate for its own host
//     name; leave ServerName empty.
//
// # Use
//
//	cl, err := tlsconf.NewClient(tlsconf.Config{
//		CAFile:     "cm-auto-global_cacerts.pem",
//		ServerName: "lb.example.com",
//	})
//	if err != nil {
//		return err // a *ConfigError naming the field and file
//	}
//	conn, err := cl.DialContext(ctx, "tcp", "coord1.example.com:21050")
//
// [Client.Handshake] does the same over a connection dialed by the caller.
// [Config.Build] returns a plain *tls.Config for code that wants one; it
// cannot check coordinators dialed by IP address unless ServerName is set,
// because crypto/tls does not tell a verification callback which address
// was dialed.
//
// # Verification and errors
//
// Certificates are verified by a VerifyConnection callback against the CA
// pool current at that handshake ([Config.CAFile] and [Config.CAPEM], or the
// system roots when neither is set). A failure is a typed error:
// [*NameMismatchError] says the name expected, the names the certificate
// holds and the address dialed; [*UnknownAuthorityError] says the issuer is
// not trusted and what was trusted; [*ClientCertError] says the server wanted
// a client certificate we do not have ([ErrClientCertRequired]) or refused
// ours ([ErrClientCertRejected]). With TLS 1.3 the server refuses a client
// certificate only after the client finished its handshake, so that error
// comes from the first Read of the [Conn]. InsecureSkipVerify turns all
// checks off and is logged as a warning.
//
// # Reload
//
// Cluster tools such as Auto-TLS rotate certificates and CA bundles on disk.
// Every handshake that needs a file stats it (size, modification time, file
// identity); when it changed, the file is read, and parsed again if its
// content hash differs. A file modified in the last two seconds is read and
// hashed at every check, so that a rewrite within the file system's
// timestamp granularity is not missed. New handshakes use the new files;
// connections already open are not touched. A file that cannot be parsed (half written,
// a certificate whose new key is not in place yet) leaves the last good one
// in use, with a warning in [Config.Logger]; it is tried again when it
// changes next. A rotation should keep old and new CAs in the bundle while
// certificates are switched, as cluster tools do. No goroutine runs, so
// there is nothing to close.
package tlsconf
