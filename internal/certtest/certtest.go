package certtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DefaultValidity is how long a certificate is valid when its Request leaves
// NotAfter zero, counted from one hour before it was made (so that small
// clock differences never make a fresh certificate "not yet valid").
const DefaultValidity = 24 * time.Hour

// CA is a throwaway certificate authority: a root made by NewCA or an
// intermediate made by CA.Intermediate. Its fields must not be changed.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// Key is the CA's signing key.
	Key *ecdsa.PrivateKey
	// chain is this CA's certificate followed by the certificates of the
	// intermediates above it, up to but excluding the root.
	chain []*x509.Certificate
	// root is the root CA at the top of the chain (itself for a root).
	root *CA
}

// Request describes a certificate for CA.Issue. The zero value asks for a
// certificate with no names, usable for server and client authentication.
type Request struct {
	// CommonName is the subject's common name. Empty means the first entry
	// of Hosts, or "certtest" when Hosts is empty too.
	CommonName string
	// Hosts are the subject alternative names: an entry that parses as an
	// IP address becomes an IP SAN, any other entry a DNS SAN (wildcards
	// such as "*.impala.test" included).
	Hosts []string
	// ExtKeyUsage restricts what the certificate may be used for. Nil means
	// both server and client authentication.
	ExtKeyUsage []x509.ExtKeyUsage
	// NotBefore and NotAfter bound the validity. Zero NotBefore means one
	// hour ago; zero NotAfter means NotBefore plus DefaultValidity.
	NotBefore, NotAfter time.Time
}

// Cert is a certificate with its private key.
type Cert struct {
	// Leaf is the certificate itself.
	Leaf *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
	// Chain are the certificates of the intermediate CAs between Leaf and
	// the root, nearest first; empty when a root issued Leaf.
	Chain []*x509.Certificate
}

// NewCA makes a self-signed root CA named commonName.
func NewCA(commonName string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(commonName)
	cert, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, chain: []*x509.Certificate{cert}}
	ca.root = ca
	return ca, nil
}

// caTemplate is the template of a CA certificate named commonName, valid
// from an hour ago for DefaultValidity.
func caTemplate(commonName string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"impalalb certtest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(-time.Hour + DefaultValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// Intermediate makes a CA named commonName signed by ca. Certificates it
// issues carry it (and any intermediate above it) in Cert.Chain, the way a
// cluster's certificate chain files do.
func (ca *CA) Intermediate(commonName string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(commonName)
	cert, err := sign(tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	chain := []*x509.Certificate{cert}
	if ca.root != ca {
		chain = append(chain, ca.chain...)
	}
	return &CA{Cert: cert, Key: key, chain: chain, root: ca.root}, nil
}

// Root returns the root CA at the top of ca's chain (ca itself for a root).
func (ca *CA) Root() *CA { return ca.root }

// CertPEM returns the PEM encoding of the CA's own certificate.
func (ca *CA) CertPEM() []byte { return encodeCerts(ca.Cert) }

// Pool returns a new pool holding only the CA's own certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCertFile writes the CA's certificate as PEM to dir/name and returns
// the path.
func (ca *CA) WriteCertFile(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	return path, WriteFile(path, ca.CertPEM(), 0o644)
}

// Server issues a certificate for server authentication whose subject
// alternative names are hosts (DNS names or IP addresses) and whose common
// name is the first of them.
func (ca *CA) Server(hosts ...string) (*Cert, error) {
	return ca.Issue(Request{Hosts: hosts, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
}

// Client issues a certificate for client authentication named commonName,
// with no subject alternative names.
func (ca *CA) Client(commonName string) (*Cert, error) {
	return ca.Issue(Request{CommonName: commonName, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

// Issue makes a new key and a certificate for it, signed by ca, as req
// describes.
func (ca *CA) Issue(req Request) (*Cert, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: req.CommonName, Organization: []string{"impalalb certtest"}},
		NotBefore:             req.NotBefore,
		NotAfter:              req.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           req.ExtKeyUsage,
		BasicConstraintsValid: true,
	}
	if tmpl.Subject.CommonName == "" {
		tmpl.Subject.CommonName = "certtest"
		if len(req.Hosts) > 0 {
			tmpl.Subject.CommonName = req.Hosts[0]
		}
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = tmpl.NotBefore.Add(DefaultValidity)
	}
	if tmpl.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	for _, h := range req.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	leaf, err := sign(tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	c := &Cert{Leaf: leaf, Key: key}
	if ca.root != ca {
		c.Chain = append(c.Chain, ca.chain...)
	}
	return c, nil
}

// CertPEM returns the PEM encoding of the leaf followed by its chain.
func (c *Cert) CertPEM() []byte {
	return encodeCerts(append([]*x509.Certificate{c.Leaf}, c.Chain...)...)
}

// KeyPEM returns the PEM encoding (PKCS #8, unencrypted) of the private key.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		// An ECDSA P-256 key always marshals; failing here is a broken
		// invariant, not an input error.
		panic("certtest: marshal key: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLSCertificate returns c as a tls.Certificate (leaf, chain and key), ready
// for tls.Config.Certificates.
func (c *Cert) TLSCertificate() tls.Certificate {
	tc := tls.Certificate{PrivateKey: c.Key, Leaf: c.Leaf}
	tc.Certificate = append(tc.Certificate, c.Leaf.Raw)
	for _, ic := range c.Chain {
		tc.Certificate = append(tc.Certificate, ic.Raw)
	}
	return tc
}

// WriteFiles writes the certificate chain to dir/name.pem and the key to
// dir/name-key.pem (mode 0600), replacing any files of those names
// atomically, and returns both paths.
func (c *Cert) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := WriteFile(certFile, c.CertPEM(), 0o644); err != nil {
		return "", "", err
	}
	if err := WriteFile(keyFile, c.KeyPEM(), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// WriteBundle writes the certificate chain followed by the key to one file,
// dir/name.pem (mode 0600), the form HAProxy's "crt" option reads, and
// returns its path.
func (c *Cert) WriteBundle(dir, name string) (string, error) {
	path := filepath.Join(dir, name+".pem")
	return path, WriteFile(path, append(c.CertPEM(), c.KeyPEM()...), 0o600)
}

// WriteFile writes data to path atomically: to a temporary file in the same
// directory first, then renamed over path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("certtest: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp, perm)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("certtest: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("certtest: %w", err)
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certtest: generate key: %w", err)
	}
	return key, nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certtest: serial: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("certtest: create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certtest: parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

func encodeCerts(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}
