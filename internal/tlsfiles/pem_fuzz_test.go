package tlsfiles

import (
	"testing"

	"github.com/impalalb/impalalb/internal/certtest"
)

// FuzzPEM feeds arbitrary file contents to the parsers of CA, certificate
// and key files: they must never panic, and a success must carry a value.
func FuzzPEM(f *testing.F) {
	ca, err := certtest.NewCA("fuzz CA")
	if err != nil {
		f.Fatal(err)
	}
	c, err := ca.Client("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ca.CertPEM(), c.KeyPEM())
	f.Add(c.CertPEM(), c.KeyPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("junk"))
	f.Add([]byte{}, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		if certs, err := ParseCerts(certPEM); err == nil && len(certs) == 0 {
			t.Fatal("ParseCerts: no error and no certificate")
		}
		if pool, err := CAPool(nil, "CAFile", "ca.pem", certPEM); err == nil && pool == nil {
			t.Fatal("CAPool: no error and no pool")
		}
		_ = checkKeyPEM(keyPEM)
		pair, err := KeyPair("CertFile", "c.pem", certPEM, "KeyFile", "k.pem", keyPEM)
		if err == nil && (pair == nil || len(pair.Certificate) == 0) {
			t.Fatal("KeyPair: no error and no certificate")
		}
		if err != nil {
			if _, ok := err.(*Error); !ok { //nolint:errorlint // the contract: KeyPair's error is an *Error itself
				t.Fatalf("KeyPair: %T is not an *Error", err)
			}
		}
	})
}
