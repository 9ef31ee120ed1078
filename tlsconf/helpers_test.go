package tlsconf_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
)

// testTimeout bounds every network wait of a test.
const testTimeout = 10 * time.Second

// echoServer is a TLS echo server on a loopback port: it handshakes, reports
// the connection state and echoes bytes until the client closes.
type echoServer struct {
	addr   string
	states chan tls.ConnectionState // one per successful handshake
}

func startEcho(t testing.TB, cfg *tls.Config) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{addr: ln.Addr().String(), states: make(chan tls.ConnectionState, 64)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				tc := tls.Server(c, cfg)
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				if err := tc.HandshakeContext(ctx); err != nil {
					return
				}
				select {
				case s.states <- tc.ConnectionState():
				default:
				}
				_, _ = io.Copy(tc, tc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// startPlain starts a TCP server that answers every connection with a line
// of text and closes it: something that does not speak TLS.
func startPlain(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// roundTrip writes a line and reads it back.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(testTimeout)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != msg+"\n" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// nextState waits for the server's next handshake.
func nextState(t testing.TB, s *echoServer) tls.ConnectionState {
	t.Helper()
	select {
	case st := <-s.states:
		return st
	case <-time.After(testTimeout):
		t.Fatal("no handshake reached the server")
		return tls.ConnectionState{}
	}
}

// pki is a CA with files in a directory.
type pki struct {
	dir    string
	ca     *certtest.CA
	caFile string
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	ca, err := certtest.NewCA(name)
	require.NoError(t, err)
	dir := t.TempDir()
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	return &pki{dir: dir, ca: ca, caFile: caFile}
}

// server issues a server certificate for hosts and writes it as name.pem and
// name-key.pem.
func (p *pki) server(t testing.TB, name string, hosts ...string) (certFile, keyFile string, cert *certtest.Cert) {
	t.Helper()
	c, err := p.ca.Server(hosts...)
	require.NoError(t, err)
	certFile, keyFile, err = c.WriteFiles(p.dir, name)
	require.NoError(t, err)
	return certFile, keyFile, c
}

// client issues a client certificate and writes it.
func (p *pki) client(t testing.TB, name, cn string) (certFile, keyFile string, cert *certtest.Cert) {
	t.Helper()
	c, err := p.ca.Client(cn)
	require.NoError(t, err)
	certFile, keyFile, err = c.WriteFiles(p.dir, name)
	require.NoError(t, err)
	return certFile, keyFile, c
}

func serialOf(c *x509.Certificate) string { return c.SerialNumber.String() }

// logBuffer is a slog handler target safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}
