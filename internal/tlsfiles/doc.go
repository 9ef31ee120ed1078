// Package tlsfiles reads the PEM files of a TLS configuration (CA bundles,
// certificate chains, private keys) and reads them again when they change
// on disk, for the client side (package tlsconf) and the server side of the
// tests (internal/tlsserver). Package tlsconf documents the reload rules.
package tlsfiles
