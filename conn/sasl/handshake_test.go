package sasl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testUser     = "alice"
	testPassword = "s3cr3t-Pa55"
)

var errBadCredentials = errors.New("invalid credentials")

func checkTestUser(user, password string) error {
	if user == testUser && password == testPassword {
		return nil
	}
	return errBadCredentials
}

func plainMechs() map[string]ServerMechanismFactory {
	return map[string]ServerMechanismFactory{PlainName: NewPlainServer(checkTestUser)}
}

type acceptResult struct {
	tr   *Transport
	user string
	err  error
}

// serve runs Accept on c in a goroutine.
func serve(t *testing.T, c net.Conn, mechs map[string]ServerMechanismFactory) <-chan acceptResult {
	t.Helper()
	ctx := testCtx(t)
	res := make(chan acceptResult, 1)
	go func() {
		tr, user, err := AcceptContext(ctx, c, mechs, Config{})
		res <- acceptResult{tr, user, err}
	}()
	return res
}

func TestPlainHandshake(t *testing.T) {
	pairs := map[string]func(*testing.T) (net.Conn, net.Conn){"pipe": pipePair, "tcp": tcpPair}
	for name, pair := range pairs {
		t.Run(name+"/good", func(t *testing.T) {
			cc, sc := pair(t)
			res := serve(t, sc, plainMechs())
			tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
			require.NoError(t, err)
			require.NoError(t, tr.Handshake(testCtx(t), "localhost"))
			require.True(t, tr.IsOpen())
			require.NoError(t, tr.Open())
			require.False(t, tr.SecurityLayerActive())
			require.Equal(t, PlainName, tr.Mechanism())

			r := <-res
			require.NoError(t, r.err)
			require.Equal(t, testUser, r.user)
			require.True(t, r.tr.IsOpen())
			require.Equal(t, PlainName, r.tr.Mechanism())

			exchange(t, tr, r.tr, []byte("ping"))
			exchange(t, r.tr, tr, []byte("pong"))
			require.NoError(t, tr.Close())
			require.NoError(t, r.tr.Close())
		})
		t.Run(name+"/wrong password", func(t *testing.T) {
			cc, sc := pair(t)
			res := serve(t, sc, plainMechs())
			tr, err := NewClient(cc, NewPlain(testUser, "wrong-"+testPassword), Config{})
			require.NoError(t, err)
			err = tr.Handshake(testCtx(t), "localhost")
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			require.True(t, he.Rejected())
			require.ErrorIs(t, err, ErrRejected)
			require.Equal(t, StatusBad, he.Status)
			require.Equal(t, "client", he.Side)
			require.Contains(t, he.PeerMessage, `authentication failed for user "alice"`)
			require.Contains(t, err.Error(), `sasl: PLAIN client handshake failed at read reply 1: server answered BAD "sasl: PLAIN: authentication failed for user \"alice\": invalid credentials"`)
			require.NotContains(t, err.Error(), testPassword)
			require.False(t, tr.IsOpen())

			r := <-res
			require.ErrorIs(t, r.err, errBadCredentials)
			require.NotContains(t, r.err.Error(), testPassword)
			require.Nil(t, r.tr)
			require.Empty(t, r.user)
		})
	}
}

// exchange sends p from one transport to the other as one frame.
func exchange(t *testing.T, from, to *Transport, p []byte) {
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
	cc, sc := pipePair(t)
	res := serve(t, sc, plainMechs())
	tr, err := NewClient(cc, &xorClient{}, Config{})
	require.NoError(t, err)
	err = tr.Handshake(testCtx(t), "h")
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorContains(t, err, `server answered BAD "unsupported mechanism \"XOR-TEST\""`)

	r := <-res
	require.ErrorIs(t, r.err, ErrUnknownMechanism)
	require.ErrorContains(t, r.err, `sasl: server handshake failed at select mechanism: unsupported mechanism "XOR-TEST"`)
}

// finalMech needs the server's final data: it is done only after Step
// sees "final" (or, with acceptEmpty, an empty challenge).
type finalMech struct {
	steps       [][]byte
	acceptEmpty bool
	failStep    bool
}

func (m *finalMech) Name() string                                  { return "FINAL-TEST" }
func (m *finalMech) Start(context.Context, string) ([]byte, error) { return []byte("init"), nil }
func (m *finalMech) Step(_ context.Context, ch []byte) ([]byte, bool, error) {
	m.steps = append(m.steps, bytes.Clone(ch))
	if m.failStep {
		return nil, false, errors.New("final: cannot verify the server")
	}
	if string(ch) == "final" || (m.acceptEmpty && len(ch) == 0) {
		return nil, true, nil
	}
	return []byte("more"), false, nil
}

func TestClientAgainstScriptedServer(t *testing.T) {
	httpReply := []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
	thriftReply := []byte{0x80, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}
	tests := []struct {
		name     string
		mech     func() Mechanism
		reply    []byte
		wantErr  []error // all must match; nil means success
		wantText string
		// wantSent are the statuses the server sees after START.
		wantSent []Status
		// closeAfter makes the server close right after its reply.
		closeAfter bool
	}{
		{name: "complete", reply: msg(StatusComplete, ""), wantSent: []Status{StatusComplete}},
		{name: "complete with data ignored when done", reply: msg(StatusComplete, "extra"), wantSent: []Status{StatusComplete}},
		{name: "bad", reply: msg(StatusBad, "denied\nby policy"), wantErr: []error{ErrRejected},
			wantText: `server answered BAD "denied\nby policy"`, wantSent: []Status{StatusComplete}},
		{name: "error", reply: msg(StatusError, "internal"), wantErr: []error{ErrRejected},
			wantText: `server answered ERROR "internal"`},
		{name: "challenge after done", reply: msg(StatusOK, "x"), wantErr: []error{ErrProtocol},
			wantSent: []Status{StatusComplete, StatusError}},
		{name: "start from server", reply: msg(StatusStart, "PLAIN"), wantErr: []error{ErrProtocol}},
		{name: "http", reply: httpReply, wantErr: []error{ErrNotSASL},
			wantText: `peer did not answer with SASL: its first bytes "HTTP/" give status byte 72 (an HTTP endpoint, or a Thrift server without SASL?)`},
		{name: "thrift without sasl", reply: thriftReply, wantErr: []error{ErrNotSASL, ErrProtocol}},
		{name: "oversize first reply", reply: rawHeader(2, 1<<30), wantErr: []error{ErrNotSASL, ErrFrameTooLarge},
			wantText: "give a length of 1073741824 bytes (limit 65536)"},
		{name: "closed without reply", reply: nil, wantErr: []error{io.EOF, ErrRejected},
			wantText: "the server closed the connection during authentication (the credentials were refused, or it does not speak SASL)"},
		{name: "truncated reply", reply: msg(StatusComplete, "abc")[:6], closeAfter: true, wantErr: []error{io.ErrUnexpectedEOF}},
		{name: "final data evaluated", mech: func() Mechanism { return &finalMech{} },
			reply: msg(StatusComplete, "final"), wantSent: []Status{StatusOK}},
		{name: "final empty evaluated", mech: func() Mechanism { return &finalMech{acceptEmpty: true} },
			reply: msg(StatusComplete, ""), wantSent: []Status{StatusOK}},
		{name: "complete before mechanism done", mech: func() Mechanism { return &finalMech{} },
			reply: msg(StatusComplete, ""), wantErr: []error{ErrProtocol}, wantText: "before the client mechanism finished"},
		{name: "mechanism step error sent as BAD", mech: func() Mechanism { return &finalMech{failStep: true} },
			reply: msg(StatusOK, "challenge"), wantErr: []error{}, wantText: "cannot verify the server",
			wantSent: []Status{StatusOK, StatusBad}},
		{name: "challenge answered", mech: func() Mechanism { return &finalMech{} },
			reply: append(msg(StatusOK, "c"), msg(StatusComplete, "final")...), wantSent: []Status{StatusOK, StatusOK}},
		{name: "second reply over limit", mech: func() Mechanism { return &finalMech{} },
			reply: append(msg(StatusOK, "c"), rawHeader(5, 1<<20)...), wantErr: []error{ErrFrameTooLarge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := pipePair(t)
			reply := tc.reply
			if reply == nil {
				reply = []byte{}
			}
			var got <-chan []message
			if len(reply) == 0 {
				got = scriptClose(t, sc)
			} else {
				got = scriptThen(t, sc, reply, tc.closeAfter)
			}
			var mech Mechanism = NewPlain(testUser, testPassword)
			if tc.mech != nil {
				mech = tc.mech()
			}
			tr, err := NewClient(cc, mech, Config{})
			require.NoError(t, err)
			err = tr.Handshake(testCtx(t), "h")
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.True(t, tr.IsOpen())
				require.NoError(t, tr.Close())
			} else {
				var he *HandshakeError
				require.ErrorAs(t, err, &he)
				require.True(t, strings.HasPrefix(err.Error(), "sasl: "), err.Error())
				for _, target := range tc.wantErr {
					require.ErrorIs(t, err, target)
				}
				if tc.wantText != "" {
					require.ErrorContains(t, err, tc.wantText)
				}
				require.NotContains(t, err.Error(), testPassword)
				require.False(t, tr.IsOpen())
			}
			msgs := <-got
			require.GreaterOrEqual(t, len(msgs), 1)
			require.Equal(t, StatusStart, msgs[0].status)
			require.Equal(t, mech.Name(), string(msgs[0].payload))
			if tc.wantSent != nil {
				var sent []Status
				for _, m := range msgs[1:] {
					sent = append(sent, m.status)
				}
				require.Equal(t, tc.wantSent, sent)
			}
			if fm, ok := mech.(*finalMech); ok && tc.name == "final data evaluated" {
				require.Equal(t, [][]byte{[]byte("final")}, fm.steps)
			}
		})
	}
}

// scriptClose reads START and closes the connection without answering.
func scriptClose(t *testing.T, c net.Conn) <-chan []message {
	got := make(chan []message, 1)
	go func() {
		m, err := readMessage(c, DefaultMaxNegotiationSize)
		_, _ = readMessage(c, DefaultMaxNegotiationSize)
		_ = c.Close()
		if err != nil {
			got <- nil
			return
		}
		got <- []message{m}
	}()
	return got
}

func TestPlainInitialResponseOnTheWire(t *testing.T) {
	cc, sc := pipePair(t)
	got := script(t, sc, msg(StatusComplete, ""))
	tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(testCtx(t), "h"))
	require.NoError(t, tr.Close())
	msgs := <-got
	require.Len(t, msgs, 2)
	require.Equal(t, message{StatusStart, []byte("PLAIN")}, msgs[0])
	require.Equal(t, message{StatusComplete, []byte("\x00alice\x00" + testPassword)}, msgs[1])
}

func TestHandshakeContext(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		cc, sc := pipePair(t)
		go func() { _, _ = io.Copy(io.Discard, sc) }() // a server that never answers
		tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no SASL answer before the deadline")
		var he *HandshakeError
		require.ErrorAs(t, err, &he)
	})
	t.Run("cancel", func(t *testing.T) {
		cc, sc := pipePair(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			_, _ = readMessage(sc, DefaultMaxNegotiationSize)
			_, _ = readMessage(sc, DefaultMaxNegotiationSize)
			cancel() // the client is now waiting for the reply
			_, _ = io.Copy(io.Discard, sc)
		}()
		tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("deadline cleared after success", func(t *testing.T) {
		cc, sc := tcpPair(t)
		res := serve(t, sc, plainMechs())
		tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, tr.Handshake(ctx, "h"))
		cancel() // must not break the open transport
		r := <-res
		require.NoError(t, r.err)
		exchange(t, tr, r.tr, []byte("after cancel"))
		exchange(t, r.tr, tr, []byte("still fine"))
	})
}

func TestHandshakeMisuse(t *testing.T) {
	cc, sc := pipePair(t)
	res := serve(t, sc, plainMechs())
	tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(testCtx(t), "h"))
	require.ErrorContains(t, tr.Handshake(testCtx(t), "h"), "sasl: Handshake called twice")
	r := <-res
	require.NoError(t, r.err)
	require.ErrorContains(t, r.tr.Handshake(testCtx(t), "h"), "server transport")

	_, err = NewClient(nil, NewPlain("u", "p"), Config{})
	require.Error(t, err)
	_, err = NewClient(cc, nil, Config{})
	require.Error(t, err)
	_, _, err = Accept(nil, nil, Config{})
	require.Error(t, err)
}

func TestNotSASLOverRealServers(t *testing.T) {
	t.Run("http answering at once", func(t *testing.T) {
		// Like a server that rejects a request line as soon as it sees a
		// byte that cannot start an HTTP method.
		cc, sc := tcpPair(t)
		go func() {
			_, _ = sc.Read(make([]byte, 1))
			_, _ = io.WriteString(sc, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			_ = sc.Close()
		}()
		tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		err = tr.Handshake(testCtx(t), "h")
		require.ErrorIs(t, err, ErrNotSASL)
		require.ErrorContains(t, err, `sasl: PLAIN client handshake failed at read reply 1: peer did not answer with SASL: its first bytes "HTTP/"`)
	})
	t.Run("net/http waiting for a request line", func(t *testing.T) {
		// Go's HTTP server waits for a newline that never comes: the
		// deadline ends the handshake, with a hint.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "hello")
		}))
		t.Cleanup(srv.Close)
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		tr, err := NewClient(c, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no SASL answer before the deadline")
	})
	t.Run("closing server", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() { _, _ = sc.Read(make([]byte, 64)); _ = sc.Close() }()
		tr, err := NewClient(cc, NewPlain(testUser, testPassword), Config{})
		require.NoError(t, err)
		err = tr.Handshake(testCtx(t), "h")
		require.ErrorContains(t, err, "the server closed the connection during authentication")
		require.ErrorIs(t, err, ErrRejected)
	})
}

func TestServerAgainstScriptedClient(t *testing.T) {
	tests := []struct {
		name     string
		send     []byte
		wantErr  []error
		wantText string
		// wantReply is the status the client gets back, 0 for none.
		wantReply Status
	}{
		{name: "not sasl", send: []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, 'P', 'i', 'n', 'g'},
			wantErr: []error{ErrNotSASL}, wantReply: StatusError},
		{name: "ok before start", send: msg(StatusOK, "x"), wantErr: []error{ErrProtocol},
			wantText: "client sent OK instead of START", wantReply: StatusError},
		{name: "oversize start", send: rawHeader(1, 1<<20), wantErr: []error{ErrNotSASL, ErrFrameTooLarge}, wantReply: StatusError},
		{name: "closed", send: []byte{}, wantErr: []error{io.EOF}, wantText: "client closed the connection before START"},
		{name: "client gives up", send: append(msg(StatusStart, "PLAIN"), msg(StatusBad, "no thanks")...),
			wantErr: []error{ErrRejected}, wantText: `client answered BAD "no thanks"`},
		{name: "start twice", send: append(msg(StatusStart, "PLAIN"), msg(StatusStart, "PLAIN")...),
			wantErr: []error{ErrProtocol}, wantReply: StatusError},
		{name: "malformed plain", send: append(msg(StatusStart, "PLAIN"), msg(StatusOK, "nouser")...),
			wantText: "malformed message", wantReply: StatusBad},
		{name: "authzid refused", send: append(msg(StatusStart, "PLAIN"), msg(StatusOK, "root\x00alice\x00"+testPassword)...),
			wantText: `user "alice" may not act as "root"`, wantReply: StatusBad},
		{name: "truncated response", send: append(msg(StatusStart, "PLAIN"), msg(StatusOK, "abc")[:6]...),
			wantErr: []error{io.ErrUnexpectedEOF}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := pipePair(t)
			res := serve(t, sc, plainMechs())
			replies := make(chan []message, 1)
			go func() {
				var got []message
				defer func() { replies <- got }()
				if _, err := cc.Write(tc.send); err != nil {
					return
				}
				if len(tc.send) == 0 || tc.wantReply == 0 {
					_ = cc.Close()
				}
				for {
					m, err := readMessage(cc, DefaultMaxNegotiationSize)
					if err != nil {
						return
					}
					got = append(got, m)
				}
			}()
			r := <-res
			var he *HandshakeError
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
				require.Equal(t, tc.wantReply, got[len(got)-1].status)
				require.NotContains(t, string(got[len(got)-1].payload), testPassword)
			}
		})
	}
}

func TestSecurityLayerWrapsEveryFrame(t *testing.T) {
	cc, sc := pipePair(t)
	var wire bytes.Buffer
	var wireMu sync.Mutex
	tap := &tapConn{Conn: cc, mu: &wireMu, w: &wire}

	mechs := map[string]ServerMechanismFactory{"XOR-TEST": func() ServerMechanism { return &xorServer{xorLayer: xorLayer{key: 0x3C}} }}
	res := serve(t, sc, mechs)
	cm := &xorClient{xorLayer: xorLayer{key: 0x3C}}
	tr, err := NewClient(tap, cm, Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(testCtx(t), "h"))
	require.True(t, tr.SecurityLayerActive())
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, "xor-user", r.user)
	require.True(t, r.tr.SecurityLayerActive())
	sm := r.tr.layer.(*xorServer)

	wireMu.Lock()
	wire.Reset() // keep only the data phase
	wireMu.Unlock()
	payloads := []string{"first secret payload", "second secret payload", "third"}
	for _, p := range payloads {
		exchange(t, tr, r.tr, []byte(p))
	}
	exchange(t, r.tr, tr, []byte("reply secret"))

	require.EqualValues(t, len(payloads), cm.wraps.Load(), "one Wrap per client frame")
	require.EqualValues(t, len(payloads), sm.unwraps.Load(), "one Unwrap per frame on the server")
	require.EqualValues(t, 1, sm.wraps.Load())
	require.EqualValues(t, 1, cm.unwraps.Load())

	wireMu.Lock()
	defer wireMu.Unlock()
	require.NotContains(t, wire.String(), "secret", "payloads must not cross the wire in clear")
	// The first frame on the wire is the wrapped first payload.
	first := wire.Bytes()[:4+1+len(payloads[0])]
	require.Equal(t, frame(mustWrap(t, 0x3C, payloads[0])), first)
}

func mustWrap(t *testing.T, key byte, p string) []byte {
	t.Helper()
	x := &xorLayer{key: key}
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

func TestUnwrapErrorIsSticky(t *testing.T) {
	in := frame([]byte("not wrapped"))
	tr := openTransportLayer(newMemConn(in), Config{}, &xorLayer{key: 1})
	_, err := tr.Read(make([]byte, 4))
	require.ErrorContains(t, err, "sasl: unwrap frame: xor: missing marker")
	_, err2 := tr.Read(make([]byte, 4))
	require.Equal(t, err, err2)
}

func TestLoggerNeverSeesPassword(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cc, sc := pipePair(t)
	res := make(chan error, 1)
	go func() {
		_, _, err := AcceptContext(testCtx(t), sc, plainMechs(), Config{Logger: logger})
		res <- err
	}()
	tr, err := NewClient(cc, NewPlain(testUser, "wrong"+testPassword), Config{Logger: logger})
	require.NoError(t, err)
	require.Error(t, tr.Handshake(testCtx(t), "h"))
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
