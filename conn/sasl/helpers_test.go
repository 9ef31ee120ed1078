package sasl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memConn is a net.Conn whose reads come from r and whose writes go to w.
type memConn struct {
	r io.Reader
	w io.Writer
}

func (c *memConn) Read(p []byte) (int, error)            { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)           { return c.w.Write(p) }
func (c *memConn) Close() error                          { return nil }
func (c *memConn) LocalAddr() net.Addr                   { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr                  { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error           { return nil }
func (c *memConn) SetReadDeadline(time.Time) error       { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error      { return nil }
func newMemConn(in []byte) *memConn                      { return &memConn{r: bytes.NewReader(in), w: io.Discard} }
func newMemConnTo(in []byte, out io.Writer) *memConn     { return &memConn{r: bytes.NewReader(in), w: out} }
func newLoopConn() (*memConn, *bytes.Buffer)             { b := new(bytes.Buffer); return &memConn{r: b, w: b}, b }
func openTransportFor(c net.Conn, cfg Config) *Transport { return openTransportLayer(c, cfg, nil) }

// openTransportLayer returns a transport in the data phase, as after a
// handshake, with layer as its security layer (nil for none).
func openTransportLayer(c net.Conn, cfg Config, layer SecurityLayer) *Transport {
	t := newTransport(c, cfg, "client")
	t.layer = layer
	t.open.Store(true)
	return t
}

// frame encodes one data frame.
func frame(payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload))
	b[0], b[1], b[2], b[3] = byte(len(payload)>>24), byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	return append(b, payload...)
}

// msg encodes one negotiation message.
func msg(st Status, payload string) []byte {
	b, err := appendMessage(nil, st, []byte(payload))
	if err != nil {
		panic(err)
	}
	return b
}

// rawHeader encodes a negotiation header with any status byte and length.
func rawHeader(st byte, n uint32) []byte {
	return []byte{st, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// xorLayer is a toy security layer: Wrap prefixes a marker byte and XORs
// the payload with key; Unwrap undoes it. It counts its calls.
type xorLayer struct {
	key     byte
	wraps   atomic.Int32
	unwraps atomic.Int32
}

const xorMarker = 0xA5

func (x *xorLayer) Active() bool { return true }

func (x *xorLayer) Wrap(p []byte) ([]byte, error) {
	x.wraps.Add(1)
	out := make([]byte, len(p)+1)
	out[0] = xorMarker
	for i, b := range p {
		out[i+1] = b ^ x.key
	}
	return out, nil
}

func (x *xorLayer) Unwrap(p []byte) ([]byte, error) {
	x.unwraps.Add(1)
	if len(p) == 0 || p[0] != xorMarker {
		return nil, errors.New("xor: missing marker")
	}
	out := make([]byte, len(p)-1)
	for i, b := range p[1:] {
		out[i] = b ^ x.key
	}
	return out, nil
}

// xorClient is a three-message test mechanism: initial response "hello",
// then it answers challenge "c1" with "r1" and "c2" with "r2" (done). It
// then activates an xorLayer.
type xorClient struct {
	xorLayer
	done bool
}

func (m *xorClient) Name() string { return "XOR-TEST" }

func (m *xorClient) Start(context.Context, string) ([]byte, error) { return []byte("hello"), nil }

func (m *xorClient) Step(_ context.Context, ch []byte) ([]byte, bool, error) {
	switch string(ch) {
	case "c1":
		return []byte("r1"), false, nil
	case "c2":
		m.done = true
		return []byte("r2"), true, nil
	}
	return nil, false, fmt.Errorf("xor: unexpected challenge %q", ch)
}

func (m *xorClient) Active() bool { return m.done }

// xorServer is the server side of xorClient.
type xorServer struct {
	xorLayer
	step int
	done bool
}

func (m *xorServer) Name() string { return "XOR-TEST" }
func (m *xorServer) User() string { return "xor-user" }

func (m *xorServer) Step(resp []byte) ([]byte, bool, error) {
	m.step++
	want := [...]string{"", "hello", "r1", "r2"}
	if m.step >= len(want) || string(resp) != want[m.step] {
		return nil, false, fmt.Errorf("xor: unexpected response %q at step %d", resp, m.step)
	}
	switch m.step {
	case 1:
		return []byte("c1"), false, nil
	case 2:
		return []byte("c2"), false, nil
	}
	m.done = true
	return nil, true, nil
}

func (m *xorServer) Active() bool { return m.done }

// script is a fake server: it reads the client's START and initial
// response, writes reply, and drains whatever comes next until the client
// closes. It returns the messages it read.
func script(t *testing.T, c net.Conn, reply []byte) <-chan []message {
	t.Helper()
	return scriptThen(t, c, reply, false)
}

// scriptThen is script that closes the connection right after the reply
// when closeAfter is set.
func scriptThen(t *testing.T, c net.Conn, reply []byte, closeAfter bool) <-chan []message {
	t.Helper()
	got := make(chan []message, 1)
	go func() {
		var msgs []message
		defer func() { got <- msgs }()
		for range 2 {
			m, err := readMessage(c, DefaultMaxNegotiationSize)
			if err != nil {
				return
			}
			msgs = append(msgs, m)
		}
		if _, err := c.Write(reply); err != nil || closeAfter {
			_ = c.Close()
			return
		}
		for {
			m, err := readMessage(c, DefaultMaxNegotiationSize)
			if err != nil {
				return
			}
			msgs = append(msgs, m)
		}
	}()
	return got
}

// tcpPair returns the two ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	return tcpPairB(t)
}

// tcpPairB is tcpPair for tests and benchmarks.
func tcpPairB(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var (
		wg   sync.WaitGroup
		aerr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, aerr = ln.Accept()
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, aerr)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// pipePair returns the two ends of a net.Pipe, closed at cleanup.
func pipePair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	client, server = net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
