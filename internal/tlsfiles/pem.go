package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParseCerts returns every CERTIFICATE block of data. Blocks of other types
// are skipped; data without any certificate, or a certificate that does not
// parse, is an error that says what was found instead.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var others []string
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			others = append(others, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(others) == 0 {
			return nil, errors.New("no PEM data found")
		}
		return nil, fmt.Errorf("no CERTIFICATE block (found %s)", strings.Join(others, ", "))
	}
	return certs, nil
}

// CAPool builds a pool from the CA certificates of static (a Config's PEM
// field, already checked) and of file, the content of the CA file named
// by path (none when path is empty). Errors are *Error naming field and
// path.
func CAPool(static []*x509.Certificate, field, path string, file []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, c := range static {
		pool.AddCert(c)
	}
	if path != "" {
		certs, err := ParseCerts(file)
		if err != nil {
			return nil, &Error{Field: field, File: path, Err: err}
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// KeyPair parses a certificate chain and its private key, with errors that
// name the field at fault.
func KeyPair(certField, certFile string, certPEM []byte, keyField, keyFile string, keyPEM []byte) (*tls.Certificate, error) {
	if _, err := ParseCerts(certPEM); err != nil {
		return nil, &Error{Field: certField, File: certFile, Err: err}
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return nil, &Error{Field: keyField, File: keyFile, Err: err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &Error{Field: keyField, File: keyFile, Err: fmt.Errorf("does not go with %s %q: %w", certField, certFile, err)}
	}
	return &pair, nil
}

// checkKeyPEM makes sure data holds an unencrypted private key, so that the
// common mistakes get a message of their own.
func checkKeyPEM(data []byte) error {
	var found []string
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] == "4,ENCRYPTED":
			return errors.New("the private key is encrypted; write an unencrypted copy readable only by this user (for example with openssl pkey)")
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return nil
		}
		found = append(found, b.Type)
	}
	if len(found) == 0 {
		return errors.New("no PEM data found")
	}
	return fmt.Errorf("no PRIVATE KEY block (found %s)", strings.Join(found, ", "))
}

// CheckMinVersion refuses a TLS version other than zero (the default), 1.2
// and 1.3, with an *Error naming the MinVersion field.
func CheckMinVersion(v uint16) error {
	switch v {
	case 0, tls.VersionTLS12, tls.VersionTLS13:
		return nil
	}
	return &Error{Field: "MinVersion", Err: fmt.Errorf("%#04x is not supported; use tls.VersionTLS12 or tls.VersionTLS13", v)}
}
