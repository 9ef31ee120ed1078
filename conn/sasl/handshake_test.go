package sasl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/sasltest"
	"github.com/impalalb/impalalb/internal/saslwire"
)

const (
	testUser     = sasltest.User
	testPassword = sasltest.Password
)

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
		mech     func() sasl.Mechanism
		reply    []byte
		wantErr  []error // all must match; nil means success
		wantText string
		// wantSent are the statuses the server sees after START.
		wantSent []sasl.Status
		// closeAfter makes the server close right after its reply.
		closeAfter bool
	}{
		{name: "complete", reply: sasltest.Msg(sasl.StatusComplete, ""), wantSent: []sasl.Status{sasl.StatusComplete}},
		{name: "complete with data ignored when done", reply: sasltest.Msg(sasl.StatusComplete, "extra"), wantSent: []sasl.Status{sasl.StatusComplete}},
		{name: "bad", reply: sasltest.Msg(sasl.StatusBad, "denied\nby policy"), wantErr: []error{sasl.ErrRejected},
			wantText: `server answered BAD "denied\nby policy"`, wantSent: []sasl.Status{sasl.StatusComplete}},
		{name: "error", reply: sasltest.Msg(sasl.StatusError, "internal"), wantErr: []error{sasl.ErrRejected},
			wantText: `server answered ERROR "internal"`},
		{name: "challenge after done", reply: sasltest.Msg(sasl.StatusOK, "x"), wantErr: []error{sasl.ErrProtocol},
			wantSent: []sasl.Status{sasl.StatusComplete, sasl.StatusError}},
		{name: "start from server", reply: sasltest.Msg(sasl.StatusStart, "PLAIN"), wantErr: []error{sasl.ErrProtocol}},
		{name: "http", reply: httpReply, wantErr: []error{sasl.ErrNotSASL},
			wantText: `peer did not answer with SASL: its first bytes "HTTP/" give status byte 72 (an HTTP endpoint, or a Thrift server without SASL?)`},
		{name: "thrift without sasl", reply: thriftReply, wantErr: []error{sasl.ErrNotSASL, sasl.ErrProtocol}},
		{name: "oversize first reply", reply: sasltest.RawHeader(2, 1<<30), wantErr: []error{sasl.ErrNotSASL, sasl.ErrFrameTooLarge},
			wantText: "give a length of 1073741824 bytes (limit 65536)"},
		{name: "closed without reply", reply: nil, wantErr: []error{io.EOF, sasl.ErrRejected},
			wantText: "the server closed the connection during authentication (the credentials were refused, or it does not speak SASL)"},
		{name: "truncated reply", reply: sasltest.Msg(sasl.StatusComplete, "abc")[:6], closeAfter: true, wantErr: []error{io.ErrUnexpectedEOF}},
		{name: "final data evaluated", mech: func() sasl.Mechanism { return &finalMech{} },
			reply: sasltest.Msg(sasl.StatusComplete, "final"), wantSent: []sasl.Status{sasl.StatusOK}},
		{name: "final empty evaluated", mech: func() sasl.Mechanism { return &finalMech{acceptEmpty: true} },
			reply: sasltest.Msg(sasl.StatusComplete, ""), wantSent: []sasl.Status{sasl.StatusOK}},
		{name: "complete before mechanism done", mech: func() sasl.Mechanism { return &finalMech{} },
			reply: sasltest.Msg(sasl.StatusComplete, ""), wantErr: []error{sasl.ErrProtocol}, wantText: "before the client mechanism finished"},
		{name: "mechanism step error sent as BAD", mech: func() sasl.Mechanism { return &finalMech{failStep: true} },
			reply: sasltest.Msg(sasl.StatusOK, "challenge"), wantErr: []error{}, wantText: "cannot verify the server",
			wantSent: []sasl.Status{sasl.StatusOK, sasl.StatusBad}},
		{name: "challenge answered", mech: func() sasl.Mechanism { return &finalMech{} },
			reply: append(sasltest.Msg(sasl.StatusOK, "c"), sasltest.Msg(sasl.StatusComplete, "final")...), wantSent: []sasl.Status{sasl.StatusOK, sasl.StatusOK}},
		{name: "second reply over limit", mech: func() sasl.Mechanism { return &finalMech{} },
			reply: append(sasltest.Msg(sasl.StatusOK, "c"), sasltest.RawHeader(5, 1<<20)...), wantErr: []error{sasl.ErrFrameTooLarge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := sasltest.PipePair(t)
			reply := tc.reply
			if reply == nil {
				reply = []byte{}
			}
			var got <-chan []saslwire.Message
			if len(reply) == 0 {
				got = scriptClose(t, sc)
			} else {
				got = scriptThen(t, sc, reply, tc.closeAfter)
			}
			var mech sasl.Mechanism = sasl.NewPlain(testUser, testPassword)
			if tc.mech != nil {
				mech = tc.mech()
			}
			tr, err := sasl.NewClient(cc, mech, sasl.Config{})
			require.NoError(t, err)
			err = tr.Handshake(sasltest.Ctx(t), "h")
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.True(t, tr.IsOpen())
				require.NoError(t, tr.Close())
			} else {
				var he *sasl.HandshakeError
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
			require.Equal(t, sasl.StatusStart, sasl.Status(msgs[0].Status))
			require.Equal(t, mech.Name(), string(msgs[0].Payload))
			if tc.wantSent != nil {
				var sent []sasl.Status
				for _, m := range msgs[1:] {
					sent = append(sent, sasl.Status(m.Status))
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
func scriptClose(t *testing.T, c net.Conn) <-chan []saslwire.Message {
	got := make(chan []saslwire.Message, 1)
	go func() {
		m, err := saslwire.ReadMessage(c, sasl.DefaultMaxNegotiationSize)
		_, _ = saslwire.ReadMessage(c, sasl.DefaultMaxNegotiationSize)
		_ = c.Close()
		if err != nil {
			got <- nil
			return
		}
		got <- []saslwire.Message{m}
	}()
	return got
}

func TestPlainInitialResponseOnTheWire(t *testing.T) {
	cc, sc := sasltest.PipePair(t)
	got := script(t, sc, sasltest.Msg(sasl.StatusComplete, ""))
	tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(sasltest.Ctx(t), "h"))
	require.NoError(t, tr.Close())
	msgs := <-got
	require.Len(t, msgs, 2)
	require.Equal(t, saslwire.Message{Status: byte(sasl.StatusStart), Payload: []byte("PLAIN")}, msgs[0])
	require.Equal(t, saslwire.Message{Status: byte(sasl.StatusComplete), Payload: []byte("\x00alice\x00" + testPassword)}, msgs[1])
}

func TestHandshakeContext(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		cc, sc := sasltest.PipePair(t)
		go func() { _, _ = io.Copy(io.Discard, sc) }() // a server that never answers
		tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no SASL answer before the deadline")
		var he *sasl.HandshakeError
		require.ErrorAs(t, err, &he)
	})
	t.Run("cancel", func(t *testing.T) {
		cc, sc := sasltest.PipePair(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			_, _ = saslwire.ReadMessage(sc, sasl.DefaultMaxNegotiationSize)
			_, _ = saslwire.ReadMessage(sc, sasl.DefaultMaxNegotiationSize)
			cancel() // the client is now waiting for the reply
			_, _ = io.Copy(io.Discard, sc)
		}()
		tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
		require.NoError(t, err)
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestHandshakeMisuse(t *testing.T) {
	cc, sc := sasltest.PipePair(t)
	got := script(t, sc, sasltest.Msg(sasl.StatusComplete, ""))
	tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(sasltest.Ctx(t), "h"))
	require.ErrorContains(t, tr.Handshake(sasltest.Ctx(t), "h"), "sasl: Handshake called twice")
	require.NoError(t, tr.Close())
	<-got

	_, err = sasl.NewClient(nil, sasl.NewPlain("u", "p"), sasl.Config{})
	require.Error(t, err)
	_, err = sasl.NewClient(cc, nil, sasl.Config{})
	require.Error(t, err)
}

func TestNotSASLOverRealServers(t *testing.T) {
	t.Run("http answering at once", func(t *testing.T) {
		// Like a server that rejects a request line as soon as it sees a
		// byte that cannot start an HTTP method.
		cc, sc := sasltest.TCPPair(t)
		go func() {
			_, _ = sc.Read(make([]byte, 1))
			_, _ = io.WriteString(sc, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			_ = sc.Close()
		}()
		tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
		require.NoError(t, err)
		err = tr.Handshake(sasltest.Ctx(t), "h")
		require.ErrorIs(t, err, sasl.ErrNotSASL)
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
		tr, err := sasl.NewClient(c, sasl.NewPlain(testUser, testPassword), sasl.Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err = tr.Handshake(ctx, "h")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no SASL answer before the deadline")
	})
	t.Run("closing server", func(t *testing.T) {
		cc, sc := sasltest.TCPPair(t)
		go func() { _, _ = sc.Read(make([]byte, 64)); _ = sc.Close() }()
		tr, err := sasl.NewClient(cc, sasl.NewPlain(testUser, testPassword), sasl.Config{})
		require.NoError(t, err)
		err = tr.Handshake(sasltest.Ctx(t), "h")
		require.ErrorContains(t, err, "the server closed the connection during authentication")
		require.ErrorIs(t, err, sasl.ErrRejected)
	})
}
