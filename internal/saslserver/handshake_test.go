package saslserver_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/sasltest"
	"github.com/impalalb/impalalb/internal/saslwire"
)

// transport is what the two sides' transports have in common.
type transport interface {
	io.Reader
	io.Writer
	Flush(context.Context) error
}

const (
	testUser     = sasltest.User
	testPassword = sasltest.Password
)

func TestMain(m *testing.M) { sasltest.Main(m) }

func plainMechs() map[string]saslserver.MechanismFactory {
	return map[string]saslserver.MechanismFactory{sasl.PlainName: saslserver.NewPlain(sasltest.CheckUser)}
}

type acceptResult struct {
	tr   *saslwire.Transport
	user string
	err  error
}

// serve runs Accept on c in a goroutine.
func serve(t *testing.T, c net.Conn, mechs map[string]saslserver.MechanismFactory) <-chan acceptResult {
	t.Helper()
	ctx := sasltest.Ctx(t)
	res := make(chan acceptResult, 1)
	go func() {
		tr, user, err := saslserver.AcceptContext(ctx, c, mechs, sasl.Config{})
		res <- acceptResult{tr, user, err}
	}()
	return res
}

func TestPlainHandshake(t *testing.T) {
	pairs := map[string]func(testing.TB) (net.Conn, net.Conn){"pipe": sasltest.PipePair, "tcp": sasltest.TCPPair}
	for name, pair := range pairs {
		t.Run(name+"/good", func(t *testing.T) {
			cc, sc := pair(t)
			res := serve(t, sc, plainMechs())
			tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
			require.NoError(t, err)
			require.NoError(t, tr.Handshake(sasltest.Ctx(t), "localhost"))
			require.True(t, tr.IsOpen())
			require.NoError(t, tr.Open())
			require.False(t, tr.SecurityLayerActive())
			require.Equal(t, sasl.PlainName, tr.Mechanism())

			r := <-res
			require.NoError(t, r.err)
			require.Equal(t, testUser, r.user)
			require.True(t, r.tr.IsOpen())
			require.Equal(t, sasl.PlainName, r.tr.Mechanism())

			exchange(t, tr, r.tr, []byte("ping"))
			exchange(t, r.tr, tr, []byte("pong"))
			require.NoError(t, tr.Close())
			require.NoError(t, r.tr.Close())
		})
		t.Run(name+"/wrong password", func(t *testing.T) {
			cc, sc := pair(t)
			res := serve(t, sc, plainMechs())
			tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, "wrong-"+testPassword), sasl.Config{})
			require.NoError(t, err)
			err = tr.Handshake(sasltest.Ctx(t), "localhost")
			var he *sasl.HandshakeError
			require.ErrorAs(t, err, &he)
			require.True(t, he.Rejected())
			require.ErrorIs(t, err, sasl.ErrRejected)
			require.Equal(t, sasl.StatusBad, he.Status)
			require.Equal(t, "client", he.Side)
			require.Contains(t, he.PeerMessage, `authentication failed for user "alice"`)
			require.Contains(t, err.Error(), `sasl: PLAIN client handshake failed at read reply 1: server answered BAD "sasl: PLAIN: authentication failed for user \"alice\": invalid credentials"`)
			require.NotContains(t, err.Error(), testPassword)
			require.False(t, tr.IsOpen())

			r := <-res
			require.ErrorIs(t, r.err, sasltest.ErrBadCredentials)
			require.NotContains(t, r.err.Error(), testPassword)
			require.Nil(t, r.tr)
			require.Empty(t, r.user)
		})
	}
}

// exchange sends p from one transport to the other as one frame.
func exchange(t *testing.T, from, to transport, p []byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := from.Write(p)
		if err == nil {
			err = from.Flush(context.Background())
		}
		errc <- err
	}()
	got := make([]byte, len(p))
	_, err := io.ReadFull(to, got)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.Equal(t, p, got)
}

func TestUnknownMechanism(t *testing.T) {
	cc, sc := sasltest.PipePair(t)
	res := serve(t, sc, plainMechs())
	tr, err := sasl.NewClient(cc, &sasltest.XORClient{}, sasl.Config{})
	require.NoError(t, err)
	err = tr.Handshake(sasltest.Ctx(t), "h")
	require.ErrorIs(t, err, sasl.ErrRejected)
	require.ErrorContains(t, err, `server answered BAD "unsupported mechanism \"XOR-TEST\""`)

	r := <-res
	require.ErrorIs(t, r.err, saslserver.ErrUnknownMechanism)
	require.ErrorContains(t, r.err, `sasl: server handshake failed at select mechanism: unsupported mechanism "XOR-TEST"`)
}

func TestServerAgainstScriptedClient(t *testing.T) {
	tests := []struct {
		name     string
		send     []byte
		wantErr  []error
		wantText string
		// wantReply is the status the client gets back, 0 for none.
		wantReply sasl.Status
	}{
		{name: "not sasl", send: []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, 'P', 'i', 'n', 'g'},
			wantErr: []error{sasl.ErrNotSASL}, wantReply: sasl.StatusError},
		{name: "ok before start", send: sasltest.Msg(sasl.StatusOK, "x"), wantErr: []error{sasl.ErrProtocol},
			wantText: "client sent OK instead of START", wantReply: sasl.StatusError},
		{name: "oversize start", send: sasltest.RawHeader(1, 1<<20), wantErr: []error{sasl.ErrNotSASL, sasl.ErrFrameTooLarge}, wantReply: sasl.StatusError},
		{name: "closed", send: []byte{}, wantErr: []error{io.EOF}, wantText: "client closed the connection before START"},
		{name: "client gives up", send: append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusBad, "no thanks")...),
			wantErr: []error{sasl.ErrRejected}, wantText: `client answered BAD "no thanks"`},
		{name: "start twice", send: append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusStart, "PLAIN")...),
			wantErr: []error{sasl.ErrProtocol}, wantReply: sasl.StatusError},
		{name: "malformed plain", send: append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusOK, "nouser")...),
			wantText: "malformed message", wantReply: sasl.StatusBad},
		{name: "authzid refused", send: append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusOK, "root\x00alice\x00"+testPassword)...),
			wantText: `user "alice" may not act as "root"`, wantReply: sasl.StatusBad},
		{name: "truncated response", send: append(sasltest.Msg(sasl.StatusStart, "PLAIN"), sasltest.Msg(sasl.StatusOK, "abc")[:6]...),
			wantErr: []error{io.ErrUnexpectedEOF}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := sasltest.PipePair(t)
			res := serve(t, sc, plainMechs())
			replies := make(chan []saslwire.Message, 1)
			go func() {
				var got []saslwire.Message
				defer func() { replies <- got }()
				if _, err := cc.Write(tc.send); err != nil {
					return
				}
				if len(tc.send) == 0 || tc.wantReply == 0 {
					_ = cc.Close()
				}
				for {
					m, err := saslwire.ReadMessage(cc, sasl.DefaultMaxNegotiationSize)
					if err != nil {
						return
					}
					got = append(got, m)
				}
			}()
			r := <-res
			var he *sasl.HandshakeError
			require.ErrorAs(t, r.err, &he)
			require.Equal(t, "server", he.Side)
			for _, target := range tc.wantErr {
				require.ErrorIs(t, r.err, target)
			}
			if tc.wantText != "" {
				require.ErrorContains(t, r.err, tc.wantText)
			}
			require.NotContains(t, r.err.Error(), testPassword)
			got := <-replies
			if tc.wantReply != 0 {
				require.NotEmpty(t, got)
				require.Equal(t, tc.wantReply, sasl.Status(got[len(got)-1].Status))
				require.NotContains(t, string(got[len(got)-1].Payload), testPassword)
			}
		})
	}
}

func TestSecurityLayerWrapsEveryFrame(t *testing.T) {
	cc, sc := sasltest.PipePair(t)
	var wire bytes.Buffer
	var wireMu sync.Mutex
	tap := &tapConn{Conn: cc, mu: &wireMu, w: &wire}

	sm := &sasltest.XORServer{XORLayer: sasltest.XORLayer{Key: 0x3C}}
	mechs := map[string]saslserver.MechanismFactory{"XOR-TEST": func() saslserver.Mechanism { return sm }}
	res := serve(t, sc, mechs)
	cm := &sasltest.XORClient{XORLayer: sasltest.XORLayer{Key: 0x3C}}
	tr, err := sasl.NewClient(tap, cm, sasl.Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(sasltest.Ctx(t), "h"))
	require.True(t, tr.SecurityLayerActive())
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, "xor-user", r.user)
	require.True(t, r.tr.SecurityLayerActive())

	wireMu.Lock()
	wire.Reset() // keep only the data phase
	wireMu.Unlock()
	payloads := []string{"first secret payload", "second secret payload", "third"}
	for _, p := range payloads {
		exchange(t, tr, r.tr, []byte(p))
	}
	exchange(t, r.tr, tr, []byte("reply secret"))

	require.EqualValues(t, len(payloads), cm.Wraps.Load(), "one Wrap per client frame")
	require.EqualValues(t, len(payloads), sm.Unwraps.Load(), "one Unwrap per frame on the server")
	require.EqualValues(t, 1, sm.Wraps.Load())
	require.EqualValues(t, 1, cm.Unwraps.Load())

	wireMu.Lock()
	defer wireMu.Unlock()
	require.NotContains(t, wire.String(), "secret", "payloads must not cross the wire in clear")
	// The first frame on the wire is the wrapped first payload.
	first := wire.Bytes()[:4+1+len(payloads[0])]
	require.Equal(t, sasltest.Frame(mustWrap(t, 0x3C, payloads[0])), first)
}

func mustWrap(t *testing.T, key byte, p string) []byte {
	t.Helper()
	x := &sasltest.XORLayer{Key: key}
	w, err := x.Wrap([]byte(p))
	require.NoError(t, err)
	return w
}

// tapConn copies everything written to it into w.
type tapConn struct {
	net.Conn
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.w.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func TestLoggerNeverSeesPassword(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cc, sc := sasltest.PipePair(t)
	res := make(chan error, 1)
	go func() {
		_, _, err := saslserver.AcceptContext(sasltest.Ctx(t), sc, plainMechs(), sasl.Config{Logger: logger})
		res <- err
	}()
	tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, "wrong"+testPassword), sasl.Config{Logger: logger})
	require.NoError(t, err)
	require.Error(t, tr.Handshake(sasltest.Ctx(t), "h"))
	require.Error(t, <-res)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, logs.String(), "sasl handshake failed")
	require.NotContains(t, logs.String(), testPassword)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestDeadlineClearedAfterHandshake(t *testing.T) {
	cc, sc := sasltest.TCPPair(t)
	res := serve(t, sc, plainMechs())
	tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	require.NoError(t, tr.Handshake(ctx, "h"))
	cancel() // must not break the open transport
	r := <-res
	require.NoError(t, r.err)
	exchange(t, tr, r.tr, []byte("after cancel"))
	exchange(t, r.tr, tr, []byte("still fine"))
}

func TestAcceptMisuse(t *testing.T) {
	_, _, err := saslserver.Accept(nil, nil, sasl.Config{})
	require.Error(t, err)
	_, sc := sasltest.PipePair(t)
	_, _, err = saslserver.Accept(sc, nil, sasl.Config{MaxFrameSize: -1})
	require.ErrorContains(t, err, "MaxFrameSize")
}
