// Package sasltest holds the test doubles and helpers that the tests of
// conn/sasl, internal/saslwire and internal/saslserver share: in-memory and
// loopback connections, hand-encoded SASL messages and frames, a toy
// mechanism with a security layer (XOR-TEST) for both sides, and a TestMain
// that fails the run when the tests leave goroutines behind. It imports
// none of those packages, so that each can use it in its own tests.
package sasltest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// User and Password are the credentials the tests' PLAIN server accepts.
const (
	User     = "alice"
	Password = "s3cr3t-Pa55"
)

// ErrBadCredentials is CheckUser's refusal.
var ErrBadCredentials = errors.New("invalid credentials")

// CheckUser accepts User with Password only.
func CheckUser(user, password string) error {
	if user == User && password == Password {
		return nil
	}
	return ErrBadCredentials
}

// MemConn is a net.Conn whose reads come from R and whose writes go to W.
// Deadlines are ignored.
type MemConn struct {
	R io.Reader
	W io.Writer
}

// Read reads from R.
func (c *MemConn) Read(p []byte) (int, error) { return c.R.Read(p) }

// Write writes to W.
func (c *MemConn) Write(p []byte) (int, error) { return c.W.Write(p) }

// Close does nothing: the buffers stay readable.
func (c *MemConn) Close() error { return nil }

// LocalAddr returns an empty TCP address.
func (c *MemConn) LocalAddr() net.Addr { return &net.TCPAddr{} }

// RemoteAddr returns an empty TCP address.
func (c *MemConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// SetDeadline does nothing: deadlines are ignored.
func (c *MemConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing, as SetDeadline.
func (c *MemConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing, as SetDeadline.
func (c *MemConn) SetWriteDeadline(time.Time) error { return nil }

// NewMemConn reads in and discards writes.
func NewMemConn(in []byte) *MemConn { return &MemConn{R: bytes.NewReader(in), W: io.Discard} }

// NewMemConnTo reads in and writes to out.
func NewMemConnTo(in []byte, out io.Writer) *MemConn {
	return &MemConn{R: bytes.NewReader(in), W: out}
}

// NewLoopConn reads back what was written to it.
func NewLoopConn() (*MemConn, *bytes.Buffer) {
	b := new(bytes.Buffer)
	return &MemConn{R: b, W: b}, b
}

// Frame encodes one data frame.
func Frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// Msg encodes one negotiation message with status byte st.
func Msg[S ~byte](st S, payload string) []byte {
	return append(RawHeader(byte(st), uint32(len(payload))), payload...)
}

// RawHeader encodes a negotiation header with any status byte and length.
func RawHeader(st byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{st}, n)
}

// XORLayer is a toy security layer: Wrap prefixes a marker byte and XORs
// the payload with Key; Unwrap undoes it. It counts its calls.
type XORLayer struct {
	Key     byte
	Wraps   atomic.Int32
	Unwraps atomic.Int32
}

const xorMarker = 0xA5

// Active is true.
func (x *XORLayer) Active() bool { return true }

// Wrap prefixes the marker and XORs p with Key.
func (x *XORLayer) Wrap(p []byte) ([]byte, error) {
	x.Wraps.Add(1)
	out := make([]byte, len(p)+1)
	out[0] = xorMarker
	for i, b := range p {
		out[i+1] = b ^ x.Key
	}
	return out, nil
}

// Unwrap checks the marker and XORs the rest with Key.
func (x *XORLayer) Unwrap(p []byte) ([]byte, error) {
	x.Unwraps.Add(1)
	if len(p) == 0 || p[0] != xorMarker {
		return nil, errors.New("xor: missing marker")
	}
	out := make([]byte, len(p)-1)
	for i, b := range p[1:] {
		out[i] = b ^ x.Key
	}
	return out, nil
}

// XORClient is the client side of a three-message test mechanism
// (XOR-TEST): initial response "hello", then it answers challenge "c1" with
// "r1" and "c2" with "r2" (done). It then activates its XORLayer.
type XORClient struct {
	XORLayer
	done bool
}

// Name is "XOR-TEST".
func (m *XORClient) Name() string { return "XOR-TEST" }

// Start returns "hello".
func (m *XORClient) Start(context.Context, string) ([]byte, error) { return []byte("hello"), nil }

// Step answers c1 and c2.
func (m *XORClient) Step(_ context.Context, ch []byte) ([]byte, bool, error) {
	switch string(ch) {
	case "c1":
		return []byte("r1"), false, nil
	case "c2":
		m.done = true
		return []byte("r2"), true, nil
	}
	return nil, false, fmt.Errorf("xor: unexpected challenge %q", ch)
}

// Active reports whether the exchange is done.
func (m *XORClient) Active() bool { return m.done }

// XORServer is the server side of XORClient; its user is "xor-user".
type XORServer struct {
	XORLayer
	step int
	done bool
}

// Name is "XOR-TEST".
func (m *XORServer) Name() string { return "XOR-TEST" }

// User is "xor-user".
func (m *XORServer) User() string { return "xor-user" }

// Step expects "hello", "r1", "r2".
func (m *XORServer) Step(resp []byte) ([]byte, bool, error) {
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

// Active reports whether the exchange is done.
func (m *XORServer) Active() bool { return m.done }

// TCPPair returns the two ends of a TCP connection on 127.0.0.1, closed at
// cleanup.
func TCPPair(t testing.TB) (client, server net.Conn) {
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

// PipePair returns the two ends of a net.Pipe, closed at cleanup.
func PipePair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	client, server = net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// Ctx is a context that ends after 10 s or at cleanup.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// AllocSlack covers the fixed costs of a transport (its read buffer, the
// first chunk of a wrapped frame) and runtime noise in the fuzzers' bounds
// on allocation.
const AllocSlack = 512 << 10

// BytesAllocated returns the bytes allocated while f ran.
func BytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Main runs the tests and fails the run when goroutines started by them
// outlive them (not when fuzzing).
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if f := flag.Lookup("test.fuzz"); code == 0 && (f == nil || f.Value.String() == "") {
		if err := checkGoroutines(before); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines waits, for a bounded time, for the goroutine count to come
// back to before. Goroutine exit cannot be signalled, so it polls.
func checkGoroutines(before int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines left after the tests, %d before:\n%s", n, before, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
