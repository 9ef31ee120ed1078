package tlsconf

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
)

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// trusts reports whether pool verifies a fresh server certificate of ca.
func trusts(t *testing.T, pool *x509.CertPool, ca *certtest.CA) bool {
	t.Helper()
	c, err := ca.Server("h.impala.test")
	require.NoError(t, err)
	_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "h.impala.test"})
	return err == nil
}

func TestCAFileTouchIsNotReparsed(t *testing.T) {
	dir := t.TempDir()
	ca1, err := certtest.NewCA("CA 1")
	require.NoError(t, err)
	path, err := ca1.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	cl, err := NewClient(Config{CAFile: path})
	require.NoError(t, err)
	require.EqualValues(t, 1, cl.caFile.Loads())
	require.True(t, trusts(t, cl.roots(), ca1))

	// Same content, new modification time: read and hashed, not parsed.
	future := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(path, future, future))
	pool := cl.roots()
	require.EqualValues(t, 1, cl.caFile.Loads())
	require.Same(t, pool, cl.roots())

	// New content: parsed once, then stable.
	ca2, err := certtest.NewCA("CA 2")
	require.NoError(t, err)
	_, err = ca2.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	require.True(t, trusts(t, cl.roots(), ca2))
	require.False(t, trusts(t, cl.roots(), ca1))
	require.EqualValues(t, 2, cl.caFile.Loads())
	require.Same(t, cl.roots(), cl.roots())
}

func TestReloadKeepsLastGoodFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := certtest.NewCA("CA")
	require.NoError(t, err)
	c1, err := ca.Client("alice")
	require.NoError(t, err)
	certFile, keyFile, err := c1.WriteFiles(dir, "client")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)

	log, logs := testLogger()
	cl, err := NewClient(Config{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, Logger: log})
	require.NoError(t, err)
	first := cl.cert.Get()
	require.Equal(t, c1.Leaf.Raw, first.Certificate[0])

	// Half a rotation: the new certificate is there, its key is not yet.
	c2, err := ca.Client("alice")
	require.NoError(t, err)
	require.NoError(t, certtest.WriteFile(certFile, c2.CertPEM(), 0o644))
	for range 5 {
		require.Same(t, first, cl.cert.Get(), "the previous pair stays in use")
	}
	require.Equal(t, 1, strings.Count(logs.String(), "reload failed"), "logged once: %s", logs)
	require.Contains(t, logs.String(), "KeyFile")
	require.EqualValues(t, 1, cl.cert.Loads())

	// The key arrives: the new pair is used.
	require.NoError(t, certtest.WriteFile(keyFile, c2.KeyPEM(), 0o600))
	require.Equal(t, c2.Leaf.Raw, cl.cert.Get().Certificate[0])
	require.EqualValues(t, 2, cl.cert.Loads())
	require.Contains(t, logs.String(), "tlsconf: reloaded")

	// A CA file that disappears or turns to garbage leaves the pool as it was.
	pool := cl.roots()
	require.NoError(t, os.Remove(caFile))
	require.Same(t, pool, cl.roots())
	require.Same(t, pool, cl.roots())
	require.NoError(t, certtest.WriteFile(caFile, []byte("garbage"), 0o644))
	require.Same(t, pool, cl.roots())
	require.Same(t, pool, cl.roots())
	require.Equal(t, 3, strings.Count(logs.String(), "reload failed"), "one line per distinct failure: %s", logs)
	require.NotContains(t, logs.String(), "BEGIN", "no file content in logs")
}

func TestReloadConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	var cas []*certtest.CA
	for _, n := range []string{"CA a", "CA b", "CA c"} {
		ca, err := certtest.NewCA(n)
		require.NoError(t, err)
		cas = append(cas, ca)
	}
	path, err := cas[0].WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	cl, err := NewClient(Config{CAFile: path})
	require.NoError(t, err)

	const readers, reads, writes = 8, 300, 30
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range reads {
				if cl.roots() == nil {
					t.Error("nil pool")
					return
				}
			}
		}()
	}
	for i := range writes {
		_, err := cas[i%len(cas)].WriteCertFile(dir, "ca.pem")
		require.NoError(t, err)
	}
	wg.Wait()
	last := cas[(writes-1)%len(cas)]
	require.True(t, trusts(t, cl.roots(), last))
	require.LessOrEqual(t, cl.caFile.Loads(), uint64(writes+1))
}

// BenchmarkReloadCheck is the cost a handshake pays to learn that the CA
// file did not change (one stat), and for mTLS the certificate pair (two).
func BenchmarkReloadCheck(b *testing.B) {
	dir := b.TempDir()
	ca, err := certtest.NewCA("CA")
	require.NoError(b, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(b, err)
	c, err := ca.Client("alice")
	require.NoError(b, err)
	certFile, keyFile, err := c.WriteFiles(dir, "client")
	require.NoError(b, err)
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{caFile, certFile, keyFile} {
		require.NoError(b, os.Chtimes(f, old, old))
	}
	cl, err := NewClient(Config{CAFile: caFile, CertFile: certFile, KeyFile: keyFile})
	require.NoError(b, err)
	b.Run("CAFile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cl.roots()
		}
	})
	b.Run("CertFile+KeyFile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cl.cert.Get()
		}
	})
}

// TestRacyRewriteIsSeen rewrites the CA file in place, with the same size
// and modification time, right after it was read: the stamps cannot tell,
// the racy-window rule still catches it.
func TestRacyRewriteIsSeen(t *testing.T) {
	dir := t.TempDir()
	ca1, err := certtest.NewCA("CA 1")
	require.NoError(t, err)
	ca2, err := certtest.NewCA("CA 2")
	require.NoError(t, err)
	pem1, pem2 := ca1.CertPEM(), ca2.CertPEM()
	// Pad the shorter one (text outside PEM blocks is ignored).
	for len(pem1) < len(pem2) {
		pem1 = append(pem1, '\n')
	}
	for len(pem2) < len(pem1) {
		pem2 = append(pem2, '\n')
	}
	path := dir + string(os.PathSeparator) + "ca.pem"
	require.NoError(t, os.WriteFile(path, pem1, 0o644))
	before, err := os.Stat(path)
	require.NoError(t, err)

	cl, err := NewClient(Config{CAFile: path})
	require.NoError(t, err)
	require.True(t, trusts(t, cl.roots(), ca1))

	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(pem2, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(path, before.ModTime(), before.ModTime()))
	after, err := os.Stat(path)
	require.NoError(t, err)
	require.True(t, before.Size() == after.Size() && before.ModTime().Equal(after.ModTime()) && os.SameFile(before, after), "the stamps are identical")

	require.True(t, trusts(t, cl.roots(), ca2))
}
