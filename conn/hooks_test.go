package conn_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/tlsconf"
)

// TestTLSHandshakeHook plugs tlsconf's per-address verifier into Dial: with
// the load balancer's name as ServerName every coordinator's certificate
// (issued to that name) is accepted; without it the error names both the
// name that was expected and the names the certificate holds.
func TestTLSHandshakeHook(t *testing.T) {
	ca, err := certtest.NewCA("impalalb test CA")
	require.NoError(t, err)
	leaf, err := ca.Server("lb.impala.test")
	require.NoError(t, err)
	dir := t.TempDir()
	caFile, err := ca.WriteCertFile(dir, "ca")
	require.NoError(t, err)
	co, err := impalad.Start(impalad.Config{TLS: &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })

	client, err := tlsconf.NewClient(tlsconf.Config{CAFile: caFile, ServerName: "lb.impala.test"})
	require.NoError(t, err)
	s, err := conn.Dial(context.Background(), co.HS2Addr(), conn.Options{TLSHandshake: client.HandshakeConn})
	require.NoError(t, err)
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
	require.NoError(t, s.Close())

	// No override: the coordinator's certificate does not name 127.0.0.1.
	direct, err := tlsconf.NewClient(tlsconf.Config{CAFile: caFile})
	require.NoError(t, err)
	_, err = conn.Dial(context.Background(), co.HS2Addr(), conn.Options{TLSHandshake: direct.HandshakeConn})
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, conn.OpTLS, ce.Op)
	require.True(t, conn.SafeToRetry(err))
	var mm *tlsconf.NameMismatchError
	require.ErrorAs(t, err, &mm)
	require.Contains(t, err.Error(), "lb.impala.test")
	require.Contains(t, err.Error(), "127.0.0.1")
}

// TestDialContextHook: a custom dialer reaches a host name that only the
// test resolves, and the session works through it.
func TestDialContextHook(t *testing.T) {
	co, err := impalad.Start(impalad.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	_, port, err := net.SplitHostPort(co.HS2Addr())
	require.NoError(t, err)

	var dialed atomic.Int32
	opts := conn.Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(host, ".impala.test") {
			return nil, &net.DNSError{Err: "not a test host", Name: host, IsNotFound: true}
		}
		dialed.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
	}}
	s, err := conn.Dial(context.Background(), net.JoinHostPort("coord1.impala.test", port), opts)
	require.NoError(t, err)
	require.Equal(t, "coord1.impala.test:"+port, s.Addr())
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
	require.NoError(t, s.Close())
	require.Equal(t, int32(1), dialed.Load())

	_, err = conn.Dial(context.Background(), net.JoinHostPort("elsewhere.example", port), opts)
	require.Error(t, err)
	require.True(t, conn.SafeToRetry(err))
	require.Contains(t, err.Error(), "elsewhere.example")
}
