// Package gss holds the Kerberos V5 GSS-API mechanism pieces (RFC 4121)
// that gokrb5 does not offer as a whole, shared by the initiator (package
// kerberos) and the acceptor of the test coordinator
// (internal/krbacceptor): the AP-REQ with a known authenticator (sequence
// number), the AP-REP (build and verify), Wrap tokens with and without
// confidentiality, the security-layer messages of SASL GSSAPI (RFC 4752),
// and the reasons a Kerberos step fails, read from gokrb5's errors (package
// kerberos exports them).
package gss
