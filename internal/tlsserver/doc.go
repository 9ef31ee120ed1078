// Package tlsserver builds the server side of TLS for the test coordinator,
// the tests and the local demo: a *tls.Config for a listener whose
// certificate, key and client CA file are read again when they change on
// disk (with the rules of package tlsconf, through internal/tlsfiles),
// requiring client certificates when a client CA is given.
//
//	cfg, err := tlsserver.Config{CertFile: "server.pem", KeyFile: "server.key"}.Build()
//	ln := tls.NewListener(tcpListener, cfg)
package tlsserver
