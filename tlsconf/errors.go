package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"

	"github.com/impalalb/impalalb/internal/tlsfiles"
)

// ErrClientCertRequired is matched (errors.Is) by a ClientCertError when the
// server asked for a client certificate, none was configured, and the server
// then refused the connection.
var ErrClientCertRequired = errors.New("tlsconf: server requires a client certificate and none is configured")

// ErrClientCertRejected is matched (errors.Is) by a ClientCertError when the
// server refused the client certificate that was sent.
var ErrClientCertRejected = errors.New("tlsconf: server refused the client certificate")

// ErrNoServerName is returned by a handshake when there is no name to check
// the server's certificate against: Config.ServerName is empty and the
// connection was made without a host name (tls.Client with an empty
// tls.Config.ServerName, or an IP address passed to tls.Dial). Use
// Client.Handshake or Client.ConfigFor, which take the dialed address, or
// set Config.ServerName.
var ErrNoServerName = errors.New("tlsconf: no server name to verify the certificate against (set Config.ServerName or use Client.Handshake with the dialed address)")

// ConfigError reports an invalid Config field, or a file named by one that
// cannot be read or parsed.
type ConfigError struct {
	// Field is the name of the field at fault, such as "CAFile".
	Field string
	// File is the file the field names, if any.
	File string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("tlsconf: %s %q: %v", e.Field, e.File, e.Err)
	}
	return fmt.Sprintf("tlsconf: %s: %v", e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// configError turns the errors of the shared file code, which name the
// field and file, into ConfigErrors; others pass through.
func configError(err error) error {
	var fe *tlsfiles.Error
	if errors.As(err, &fe) {
		return &ConfigError{Field: fe.Field, File: fe.File, Err: fe.Err}
	}
	return err
}

// NameMismatchError reports a server certificate that is valid but not for
// the name it was checked against.
type NameMismatchError struct {
	// Addr is the address that was dialed; empty when it is not known (a
	// handshake through the shared tls.Config rather than Client.Handshake).
	Addr string
	// Expected is the name the certificate was checked against: the
	// Config.ServerName override or the host that was dialed.
	Expected string
	// Overridden reports that Expected came from Config.ServerName.
	Overridden bool
	// CommonName, DNSNames and IPAddresses are the names the certificate
	// holds.
	CommonName  string
	DNSNames    []string
	IPAddresses []net.IP
	// Err is the x509.HostnameError behind this error.
	Err error
}

// Error implements error.
func (e *NameMismatchError) Error() string {
	var b strings.Builder
	b.WriteString("tlsconf: certificate name mismatch")
	if e.Addr != "" {
		fmt.Fprintf(&b, " at %s", e.Addr)
	}
	fmt.Fprintf(&b, ": expected %q", e.Expected)
	if e.Overridden {
		b.WriteString(" (Config.ServerName)")
	}
	b.WriteString(", certificate holds ")
	b.WriteString(certNames(e.CommonName, e.DNSNames, e.IPAddresses))
	if !e.Overridden && len(e.DNSNames) > 0 {
		b.WriteString("; if the coordinators share the load balancer's certificate, set Config.ServerName to its name")
	}
	return b.String()
}

// Unwrap returns the x509.HostnameError.
func (e *NameMismatchError) Unwrap() error { return e.Err }

// UnknownAuthorityError reports a server certificate signed by a CA that is
// not trusted: not in the configured CA bundle, or not in the system roots
// when no bundle is configured.
type UnknownAuthorityError struct {
	// Addr is the address that was dialed, when known.
	Addr string
	// Subject and Issuer describe the server's certificate.
	Subject, Issuer string
	// Trusted says what was trusted: "system roots", "CAFile \"x.pem\"", ...
	Trusted string
	// Err is the x509.UnknownAuthorityError behind this error.
	Err error
}

// Error implements error.
func (e *UnknownAuthorityError) Error() string {
	at := ""
	if e.Addr != "" {
		at = " at " + e.Addr
	}
	return fmt.Sprintf("tlsconf: certificate%s is signed by an unknown authority: subject %q issued by %q, which is not among the trusted CAs (%s)",
		at, e.Subject, e.Issuer, e.Trusted)
}

// Unwrap returns the x509.UnknownAuthorityError.
func (e *UnknownAuthorityError) Unwrap() error { return e.Err }

// VerifyError reports any other failure to verify the server's certificate
// (expired, not valid for server authentication, malformed chain).
type VerifyError struct {
	// Addr is the address that was dialed, when known.
	Addr string
	// Err is the cause, usually from crypto/x509.
	Err error
}

// Error implements error.
func (e *VerifyError) Error() string {
	if e.Addr != "" {
		return fmt.Sprintf("tlsconf: verifying the certificate of %s: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("tlsconf: verifying the server certificate: %v", e.Err)
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// ClientCertError reports that the server refused the connection because of
// the client certificate: none was sent though the server asked for one
// (errors.Is ErrClientCertRequired), or the one sent was refused
// (errors.Is ErrClientCertRejected). With TLS 1.3 the server decides after
// the client considers the handshake complete, so this error can come from
// the first Read of a Conn rather than from the handshake.
type ClientCertError struct {
	// Addr is the address that was dialed.
	Addr string
	// Sent reports whether a client certificate was sent.
	Sent bool
	// Subject is the subject of the certificate that was sent, if any.
	Subject string
	// Err is the TLS alert the server sent.
	Err error
}

// Error implements error.
func (e *ClientCertError) Error() string {
	if !e.Sent {
		return fmt.Sprintf("tlsconf: server %s requires a client certificate and none is configured (set Config.CertFile and Config.KeyFile): %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("tlsconf: server %s refused our client certificate %q: %v", e.Addr, e.Subject, e.Err)
}

// Unwrap returns the matching sentinel and the server's alert.
func (e *ClientCertError) Unwrap() []error {
	if e.Sent {
		return []error{ErrClientCertRejected, e.Err}
	}
	return []error{ErrClientCertRequired, e.Err}
}

// HandshakeError wraps a handshake failure that is none of the typed errors
// above (connection reset, protocol mismatch, a server that does not speak
// TLS) with the address that was dialed.
type HandshakeError struct {
	// Addr is the address that was dialed.
	Addr string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *HandshakeError) Error() string {
	msg := fmt.Sprintf("tlsconf: TLS handshake with %s: %v", e.Addr, e.Err)
	var rh tls.RecordHeaderError
	if errors.As(e.Err, &rh) {
		msg += " (the server does not speak TLS: is TLS enabled on it?)"
	}
	return msg
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// certNames formats the names a certificate holds for an error message.
func certNames(cn string, dns []string, ips []net.IP) string {
	var parts []string
	for _, d := range dns {
		parts = append(parts, "DNS:"+d)
	}
	for _, ip := range ips {
		parts = append(parts, "IP:"+ip.String())
	}
	var b strings.Builder
	if len(parts) == 0 {
		b.WriteString("no subject alternative names")
	} else {
		b.WriteString("[" + strings.Join(parts, ", ") + "]")
	}
	if cn != "" {
		fmt.Fprintf(&b, " (subject CN %q, which is not checked)", cn)
	}
	return b.String()
}

// TLS alert codes (RFC 8446 section 6, RFC 5246 section 7.2) that a server
// sends when it refuses a client certificate.
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertCertificateRequired    = 116
)

// remoteAlert returns the TLS alert code of err when err is an alert the peer
// sent. crypto/tls reports those as a *net.OpError with Op "remote error"
// whose Err is its unexported alert type, a uint8.
func remoteAlert(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 || v.Type().PkgPath() != "crypto/tls" {
		return 0, false
	}
	return uint8(v.Uint()), true
}

// isClientCertAlert reports whether code is an alert a server sends about
// the client's certificate.
func isClientCertAlert(code uint8) bool {
	switch code {
	case alertHandshakeFailure, alertBadCertificate, alertUnsupportedCertificate,
		alertCertificateRevoked, alertCertificateExpired, alertCertificateUnknown,
		alertUnknownCA, alertAccessDenied, alertCertificateRequired:
		return true
	}
	return false
}

// classifyVerify turns an error from x509.Certificate.Verify into one of the
// package's typed errors.
func classifyVerify(err error, addr, expected string, overridden bool, leaf *x509.Certificate, trusted string) error {
	var he x509.HostnameError
	if errors.As(err, &he) {
		return &NameMismatchError{
			Addr: addr, Expected: expected, Overridden: overridden,
			CommonName: leaf.Subject.CommonName, DNSNames: leaf.DNSNames, IPAddresses: leaf.IPAddresses,
			Err: err,
		}
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return &UnknownAuthorityError{
			Addr: addr, Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
			Trusted: trusted, Err: err,
		}
	}
	return &VerifyError{Addr: addr, Err: err}
}
