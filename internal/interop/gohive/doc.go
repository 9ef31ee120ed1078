// Package gohive checks that github.com/beltran/gohive, a HiveServer2
// client that no one here wrote, works against the test coordinator
// internal/impalad: NOSASL, LDAP (SASL PLAIN) with and without TLS, and
// Kerberos (SASL GSSAPI through MIT's libgssapi_krb5, against the real KDC
// of internal/kdctest). It is its own module so that the library's go.mod
// does not grow; run it with `go test ./...` in this folder.
//
// gohive's GSSAPI needs cgo and, at build time, Debian's libkrb5-dev.
package gohive
