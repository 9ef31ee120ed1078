package conn_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// hiveServer is a plain HiveServer2 (no Impala extensions) that answers
// OpenSession with a given protocol version. Only OpenSession and
// CloseSession are implemented; conn calls nothing else before it gives
// up on such a server.
type hiveServer struct {
	tcli.TCLIService
	version tcli.TProtocolVersion
	closed  chan struct{}
}

func (h *hiveServer) OpenSession(_ context.Context, req *tcli.TOpenSessionReq) (*tcli.TOpenSessionResp, error) {
	return &tcli.TOpenSessionResp{
		Status:                &tcli.TStatus{StatusCode: tcli.TStatusCode_SUCCESS_STATUS},
		ServerProtocolVersion: h.version,
		SessionHandle:         &tcli.TSessionHandle{SessionId: &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}},
	}, nil
}

func (h *hiveServer) CloseSession(context.Context, *tcli.TCloseSessionReq) (*tcli.TCloseSessionResp, error) {
	h.closed <- struct{}{}
	return &tcli.TCloseSessionResp{Status: &tcli.TStatus{StatusCode: tcli.TStatusCode_SUCCESS_STATUS}}, nil
}

func startHive(t *testing.T, v tcli.TProtocolVersion) (string, *hiveServer) {
	h := &hiveServer{version: v, closed: make(chan struct{}, 1)}
	return serveTCLI(t, h), h
}

// serveTCLI serves h as a plain HiveServer2 (binary protocol, no SASL) on
// loopback until the test ends, and returns its address.
func serveTCLI(t *testing.T, h tcli.TCLIService) string {
	ss, err := thrift.NewTServerSocket("127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ss.Listen())
	srv := thrift.NewTSimpleServer4(tcli.NewTCLIServiceProcessor(h), ss,
		thrift.NewTBufferedTransportFactory(8192), thrift.NewTBinaryProtocolFactoryConf(nil))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return ss.Addr().String()
}

func TestHiveServerIsNotImpala(t *testing.T) {
	opts := conn.Options{ConnectTimeout: 5 * time.Second}
	t.Run("old protocol", func(t *testing.T) {
		addr, h := startHive(t, tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5)
		_, err := conn.Dial(context.Background(), addr, opts)
		require.ErrorIs(t, err, conn.ErrProtocolVersion)
		require.True(t, conn.SafeToRetry(err))
		<-h.closed // the session it opened was closed again
	})
	t.Run("no impala extensions", func(t *testing.T) {
		addr, h := startHive(t, tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
		_, err := conn.Dial(context.Background(), addr, opts)
		require.ErrorIs(t, err, conn.ErrNotImpala)
		require.True(t, conn.SafeToRetry(err))
		<-h.closed
	})
}

func TestHugeLengthPrefix(t *testing.T) {
	// A reply whose method name claims 2 GiB: refused by the message size
	// limit before anything of that size is allocated.
	addr := fakePeer(t, []byte{0x80, 0x01, 0x00, 0x02, 0x7f, 0xff, 0xff, 0xff})
	opts := conn.Options{ConnectTimeout: 5 * time.Second, MaxMessageSize: 1 << 20}
	_, err := conn.Dial(context.Background(), addr, opts)
	require.ErrorIs(t, err, conn.ErrNotImpala)
	require.True(t, conn.SafeToRetry(err))
}
