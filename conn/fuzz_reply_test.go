package conn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// recordingConn copies every byte the coordinator sends into buf.
type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// conversation runs what FuzzReply feeds replies into: open a session,
// run a statement, read its rows, close both.
func conversation(ctx context.Context, addr string, opts conn.Options) error {
	s, err := conn.Dial(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	op, err := s.Execute(ctx, "select * from gen.rows_3", nil)
	if err != nil {
		return err
	}
	for {
		b, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for r := range b.Len() {
			for c := range b.NumColumns() {
				_ = b.Value(c, r)
			}
		}
	}
	return op.Close(ctx)
}

// FuzzReply feeds arbitrary bytes as everything a coordinator answers to a
// whole conversation (OpenSession, ping, ExecuteStatement, polls, metadata,
// fetches, close), over HS2, beeswax and HS2 over HTTP (where the bytes are
// the HTTP replies, heads and bodies): whatever comes back, the client
// returns an error or results, never panics, and stops within its
// timeouts. The seeds are real conversations with internal/impalad,
// recorded when the fuzz target starts.
func FuzzReply(f *testing.F) {
	for _, proto := range []conn.Protocol{conn.HS2, conn.Beeswax, conn.HS2HTTP} {
		co, err := impalad.Start(impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			f.Fatal(err)
		}
		addr := co.HS2Addr()
		switch proto {
		case conn.Beeswax:
			addr = co.BeeswaxAddr()
		case conn.HS2HTTP:
			addr = co.HS2HTTPAddr()
		}
		var mu sync.Mutex
		var rec bytes.Buffer
		opts := conn.Options{Protocol: proto, DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			return recordingConn{Conn: c, mu: &mu, buf: &rec}, nil
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = conversation(ctx, addr, opts)
		cancel()
		_ = co.Close()
		if err != nil {
			f.Fatalf("recording the %s seed: %v", proto, err)
		}
		mu.Lock()
		f.Add(byte(proto), bytes.Clone(rec.Bytes()))
		mu.Unlock()
	}
	f.Add(byte(conn.HS2), []byte{})
	f.Add(byte(conn.HS2), []byte{0x80, 0x01, 0x00, 0x02, 0x7f, 0xff, 0xff, 0xff})

	// A loopback listener whose connections answer with the fuzz input and
	// then half-close, so that the client reads EOF after the last byte
	// while its own writes still go through.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = ln.Close() })
	// Every connection of a conversation (a reattach, an HTTP reconnect)
	// gets the input of its run.
	var current atomic.Pointer[[]byte]
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var reply []byte
			if p := current.Load(); p != nil {
				reply = *p
			}
			go func() {
				defer c.Close()
				go func() { _, _ = io.Copy(io.Discard, c) }()
				_, _ = c.Write(reply)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()

	f.Fuzz(func(t *testing.T, proto byte, reply []byte) {
		current.Store(&reply)
		opts := conn.Options{
			Protocol:       conn.Protocol(proto % 3),
			ConnectTimeout: 2 * time.Second,
			CancelTimeout:  100 * time.Millisecond,
			MaxMessageSize: 1 << 20,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, ln.Addr().String())
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := conversation(ctx, "fuzz.impala.test:21050", opts)
		if os.Getenv("FUZZ_REPLY_DEBUG") != "" {
			t.Logf("conversation: %v", err)
		}
	})
}
