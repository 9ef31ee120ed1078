package certtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
)

func TestServerCertVerifiesForEveryHost(t *testing.T) {
	ca, err := certtest.NewCA("test CA")
	require.NoError(t, err)
	srv, err := ca.Server("lb.impala.test", "*.coords.impala.test", "127.0.0.1", "::1")
	require.NoError(t, err)

	require.Equal(t, "lb.impala.test", srv.Leaf.Subject.CommonName)
	require.Equal(t, []string{"lb.impala.test", "*.coords.impala.test"}, srv.Leaf.DNSNames)
	require.Len(t, srv.Leaf.IPAddresses, 2)

	for _, name := range []string{"lb.impala.test", "c1.coords.impala.test", "127.0.0.1", "::1"} {
		_, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name})
		require.NoError(t, err, name)
	}
	_, err = srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "other.impala.test"})
	require.Error(t, err)

	other, err := certtest.NewCA("other CA")
	require.NoError(t, err)
	_, err = srv.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "lb.impala.test"})
	require.ErrorAs(t, err, new(x509.UnknownAuthorityError))
}

func TestClientCertUsage(t *testing.T) {
	ca, err := certtest.NewCA("test CA")
	require.NoError(t, err)
	cl, err := ca.Client("alice")
	require.NoError(t, err)
	require.Equal(t, "alice", cl.Leaf.Subject.CommonName)
	_, err = cl.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	_, err = cl.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	require.Error(t, err, "a client certificate must not serve as a server certificate")
}

func TestIntermediateChain(t *testing.T) {
	root, err := certtest.NewCA("root")
	require.NoError(t, err)
	mid1, err := root.Intermediate("mid1")
	require.NoError(t, err)
	mid2, err := mid1.Intermediate("mid2")
	require.NoError(t, err)
	require.Same(t, root, mid2.Root())

	leaf, err := mid2.Server("h.impala.test")
	require.NoError(t, err)
	require.Len(t, leaf.Chain, 2)
	require.Equal(t, "mid2", leaf.Chain[0].Subject.CommonName)
	require.Equal(t, "mid1", leaf.Chain[1].Subject.CommonName)

	inter := x509.NewCertPool()
	for _, c := range leaf.Chain {
		inter.AddCert(c)
	}
	chains, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inter, DNSName: "h.impala.test"})
	require.NoError(t, err)
	require.Len(t, chains[0], 4)

	// Without the intermediates the root alone is not enough.
	_, err = leaf.Leaf.Verify(x509.VerifyOptions{Roots: root.Pool(), DNSName: "h.impala.test"})
	require.Error(t, err)
}

func TestWriteFilesLoadAsKeyPair(t *testing.T) {
	ca, err := certtest.NewCA("test CA")
	require.NoError(t, err)
	mid, err := ca.Intermediate("mid")
	require.NoError(t, err)
	srv, err := mid.Server("lb.impala.test")
	require.NoError(t, err)

	dir := t.TempDir()
	certFile, keyFile, err := srv.WriteFiles(dir, "server")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)

	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	require.Len(t, pair.Certificate, 2, "leaf and intermediate")
	require.Equal(t, srv.Leaf.Raw, pair.Certificate[0])

	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	require.Equal(t, ca.CertPEM(), caPEM)

	// Rewriting replaces the content and leaves no temporary files behind.
	srv2, err := mid.Server("lb.impala.test")
	require.NoError(t, err)
	_, _, err = srv2.WriteFiles(dir, "server")
	require.NoError(t, err)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	require.Equal(t, srv2.Leaf.Raw, pair.Certificate[0])
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3)

	bundle, err := srv2.WriteBundle(dir, "bundle")
	require.NoError(t, err)
	pair, err = tls.LoadX509KeyPair(bundle, bundle)
	require.NoError(t, err)
	require.Equal(t, srv2.Leaf.Raw, pair.Certificate[0])
	require.Len(t, pair.Certificate, 2)

	tc := srv2.TLSCertificate()
	require.Len(t, tc.Certificate, 2)
	require.Same(t, srv2.Leaf, tc.Leaf)
}

func TestValidityWindow(t *testing.T) {
	ca, err := certtest.NewCA("test CA")
	require.NoError(t, err)
	past := time.Now().Add(-48 * time.Hour)
	expired, err := ca.Issue(certtest.Request{Hosts: []string{"old.impala.test"}, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	_, err = expired.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "old.impala.test"})
	var inv x509.CertificateInvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, x509.Expired, inv.Reason)

	def, err := ca.Issue(certtest.Request{})
	require.NoError(t, err)
	require.Equal(t, "certtest", def.Leaf.Subject.CommonName)
	require.Equal(t, certtest.DefaultValidity, def.Leaf.NotAfter.Sub(def.Leaf.NotBefore))
}
