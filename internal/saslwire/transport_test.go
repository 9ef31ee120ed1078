package saslwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/sasltest"
)

// The statuses by name, as package sasl names them.
const (
	StatusStart byte = iota + 1
	StatusOK
	StatusBad
	StatusError
	StatusComplete
)

func TestReadMessage(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name    string
		in      []byte
		limit   int
		want    Message
		wantErr error // nil, or a target for errors.Is
	}{
		{name: "start", in: sasltest.Msg(StatusStart, "PLAIN"), want: Message{StatusStart, []byte("PLAIN")}},
		{name: "ok", in: sasltest.Msg(StatusOK, "challenge"), want: Message{StatusOK, []byte("challenge")}},
		{name: "bad", in: sasltest.Msg(StatusBad, "bad password"), want: Message{StatusBad, []byte("bad password")}},
		{name: "error", in: sasltest.Msg(StatusError, "oops"), want: Message{StatusError, []byte("oops")}},
		{name: "complete empty", in: sasltest.Msg(StatusComplete, ""), want: Message{StatusComplete, nil}},
		{name: "at limit", in: sasltest.Msg(StatusOK, long), limit: 100, want: Message{StatusOK, []byte(long)}},
		{name: "trailing bytes ignored", in: append(sasltest.Msg(StatusOK, "a"), 1, 2), want: Message{StatusOK, []byte("a")}},
		{name: "empty stream", in: nil, wantErr: io.EOF},
		{name: "truncated header", in: []byte{2, 0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: sasltest.Msg(StatusOK, "abcdef")[:8], wantErr: io.ErrUnexpectedEOF},
		{name: "header only", in: sasltest.RawHeader(2, 3), wantErr: io.ErrUnexpectedEOF},
		{name: "over limit", in: sasltest.Msg(StatusOK, long), limit: 99, wantErr: ErrFrameTooLarge},
		{name: "negative length", in: sasltest.RawHeader(2, 0x80000000), wantErr: ErrFrameTooLarge},
		{name: "max uint32 length", in: sasltest.RawHeader(5, 0xFFFFFFFF), wantErr: ErrFrameTooLarge},
		{name: "status zero", in: sasltest.RawHeader(0, 0), wantErr: ErrProtocol},
		{name: "status six", in: sasltest.RawHeader(6, 0), wantErr: ErrProtocol},
		{name: "http", in: []byte("HTTP/1.1 400 Bad Request\r\n"), wantErr: ErrProtocol},
		{name: "thrift strict message", in: []byte{0x80, 0x01, 0x00, 0x03, 0, 0, 0, 4}, wantErr: ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = testMaxNeg
			}
			got, err := ReadMessage(bytes.NewReader(tc.in), limit)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMessageHeaderErrorText(t *testing.T) {
	_, err := ReadMessage(bytes.NewReader([]byte("HTTP/1.1")), 10)
	require.ErrorContains(t, err, `sasl: invalid negotiation status byte 72 (header bytes "HTTP/")`)
	_, err = ReadMessage(bytes.NewReader(sasltest.RawHeader(2, 11)), 10)
	require.ErrorContains(t, err, "sasl: negotiation message of 11 bytes exceeds the limit of 10")
}

func TestAppendMessageRoundTrip(t *testing.T) {
	for st := StatusStart; st <= StatusComplete; st++ {
		b, err := AppendMessage([]byte("prefix"), st, []byte("payload"))
		require.NoError(t, err)
		require.Equal(t, []byte("prefix"), b[:6])
		m, err := ReadMessage(bytes.NewReader(b[6:]), 100)
		require.NoError(t, err)
		require.Equal(t, st, m.Status)
		require.Equal(t, "payload", string(m.Payload))
	}
}

func TestReadDataFrames(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    string
		wantErr error // error after want was read; nil means io.EOF
	}{
		{name: "one frame", in: sasltest.Frame([]byte("hello")), want: "hello"},
		{name: "two frames", in: append(sasltest.Frame([]byte("hel")), sasltest.Frame([]byte("lo"))...), want: "hello"},
		{name: "empty frames skipped", in: bytes.Join([][]byte{sasltest.Frame(nil), sasltest.Frame([]byte("a")), sasltest.Frame(nil), sasltest.Frame([]byte("b"))}, nil), want: "ab"},
		{name: "at limit", in: sasltest.Frame([]byte("12345678")), max: 8, want: "12345678"},
		{name: "over limit", in: sasltest.Frame([]byte("123456789")), max: 8, wantErr: ErrFrameTooLarge},
		{name: "negative length", in: []byte{0x80, 0, 0, 0, 1}, wantErr: ErrFrameTooLarge},
		{name: "max length", in: []byte{0xFF, 0xFF, 0xFF, 0xFF}, wantErr: ErrFrameTooLarge},
		{name: "truncated header", in: []byte{0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: sasltest.Frame([]byte("hello"))[:7], want: "hel", wantErr: io.ErrUnexpectedEOF},
		{name: "second frame truncated", in: append(sasltest.Frame([]byte("ok")), 0, 0, 0, 9, 'x'), want: "okx", wantErr: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		for _, layered := range []bool{false, true} {
			name := tc.name
			if layered {
				name += "/layer"
			}
			t.Run(name, func(t *testing.T) {
				in := tc.in
				var layer SecurityLayer
				if layered {
					x := &sasltest.XORLayer{Key: 0x5A}
					layer = x
					in = wrapFrames(t, x, tc.in)
				}
				limit := tc.max
				if layered && limit > 0 {
					limit++ // the layer's byte of overhead
				}
				tr := openTransport(sasltest.NewMemConn(in), limit, layer)
				got, err := io.ReadAll(tr)
				if tc.wantErr == nil {
					require.NoError(t, err) // ReadAll turns io.EOF into nil
				} else {
					require.ErrorIs(t, err, tc.wantErr)
					// The error is sticky.
					_, err2 := tr.Read(make([]byte, 1))
					require.Equal(t, err, err2)
				}
				if !layered || tc.wantErr == nil {
					// A wrapped frame is all or nothing.
					require.Equal(t, tc.want, string(got))
				}
			})
		}
	}
}

// wrapFrames rewrites a stream of plain frames into wrapped frames, keeping
// every header that is not followed by a whole frame (a lying or truncated
// one) as it is, adjusted by the layer's one byte of overhead.
func wrapFrames(t *testing.T, x *sasltest.XORLayer, in []byte) []byte {
	t.Helper()
	var out []byte
	for len(in) >= 4 {
		n := int(uint32(in[0])<<24 | uint32(in[1])<<16 | uint32(in[2])<<8 | uint32(in[3]))
		if n < 0 || n > len(in)-4 {
			if n >= 0 && n < 1<<30 {
				n++ // the layer adds one byte
			}
			out = append(out, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			return append(out, in[4:]...)
		}
		w, err := x.Wrap(in[4 : 4+n])
		require.NoError(t, err)
		out = append(out, sasltest.Frame(w)...)
		in = in[4+n:]
	}
	x.Wraps.Store(0)
	return append(out, in...)
}

func TestFrameTooLargeError(t *testing.T) {
	tr := openTransport(sasltest.NewMemConn([]byte{0x7F, 0xFF, 0xFF, 0xFF}), 0, nil)
	_, err := tr.Read(make([]byte, 10))
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.EqualError(t, err, "sasl: data frame of 2147483647 bytes exceeds the limit of 16777216")
}

func TestWriteFlushFrames(t *testing.T) {
	var out bytes.Buffer
	tr := openTransport(sasltest.NewMemConnTo(nil, &out), 0, nil)
	ctx := sasltest.Ctx(t)
	_, err := tr.Write([]byte("hel"))
	require.NoError(t, err)
	_, err = tr.WriteString("lo")
	require.NoError(t, err)
	require.Zero(t, out.Len(), "Write must not send")
	require.NoError(t, tr.Flush(ctx))
	require.NoError(t, tr.Flush(ctx), "an empty flush sends nothing")
	require.NoError(t, tr.WriteByte('!'))
	require.NoError(t, tr.Flush(ctx))
	require.Equal(t, append(sasltest.Frame([]byte("hello")), sasltest.Frame([]byte("!"))...), out.Bytes())
}

func TestNotOpen(t *testing.T) {
	tr := New(sasltest.NewMemConn(nil), "client", testMaxFrame, testMaxNeg, nil)
	require.False(t, tr.IsOpen())
	require.ErrorIs(t, tr.Open(), ErrNotOpen)
	_, err := tr.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNotOpen)
	_, err = tr.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrNotOpen)
	require.ErrorIs(t, tr.Flush(sasltest.Ctx(t)), ErrNotOpen)

	open := openTransport(sasltest.NewMemConn(nil), 0, nil)
	require.NoError(t, open.Open())
	require.NoError(t, open.Close())
	require.NoError(t, open.Close(), "Close is idempotent")
	require.False(t, open.IsOpen())
	_, err = open.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNotOpen)
	require.ErrorIs(t, open.Open(), ErrNotOpen)
}

// TestLyingHeaderAllocatesLittle checks that a header claiming a large
// frame, within the limit, that is followed by a few bytes costs memory in
// proportion to the bytes received, not to the claim.
func TestLyingHeaderAllocatesLittle(t *testing.T) {
	in := append([]byte{0x00, 0xFF, 0xFF, 0x00}, "only a few bytes"...) // claims ~16 MiB
	for _, layered := range []bool{false, true} {
		var layer SecurityLayer
		if layered {
			layer = &sasltest.XORLayer{Key: 1}
		}
		allocated := sasltest.BytesAllocated(func() {
			tr := openTransport(sasltest.NewMemConn(in), 0, layer)
			_, err := io.ReadAll(tr)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		})
		require.Less(t, allocated, uint64(1<<20), "layered=%v", layered)
	}
}

func TestReadBoundedGrowth(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 300<<10)
	buf, err := ReadBounded(bytes.NewReader(data), nil, len(data))
	require.NoError(t, err)
	require.Equal(t, data, buf)
	require.LessOrEqual(t, cap(buf), len(data), "never allocates past n")

	buf, err = ReadBounded(bytes.NewReader(data[:10]), nil, 10<<20)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Len(t, buf, 10)
	require.LessOrEqual(t, cap(buf), minFrameChunk)
}

func TestReadByte(t *testing.T) {
	for _, layered := range []bool{false, true} {
		in := append(sasltest.Frame([]byte("ab")), sasltest.Frame([]byte("c"))...)
		var layer SecurityLayer
		if layered {
			x := &sasltest.XORLayer{Key: 3}
			layer = x
			in = wrapFrames(t, x, in)
		}
		tr := openTransport(sasltest.NewMemConn(in), 0, layer)
		var got []byte
		for {
			b, err := tr.ReadByte()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			got = append(got, b)
		}
		require.Equal(t, "abc", string(got))
	}
}

func TestPeerMessage(t *testing.T) {
	require.Equal(t, "short", PeerMessage([]byte("short")))
	require.Equal(t, "bad \uFFFD byte", PeerMessage([]byte("bad \xff byte")))
	long := strings.Repeat("é", MaxPeerMessage) // two bytes each
	got := PeerMessage([]byte(long))
	require.True(t, strings.HasSuffix(got, "..."))
	require.LessOrEqual(t, len(got), MaxPeerMessage+3)
	require.True(t, utf8.ValidString(strings.TrimSuffix(got, "...")))
}

// deadlineConn records write deadlines.
type deadlineConn struct {
	sasltest.MemConn
	writeDeadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(d time.Time) error {
	c.writeDeadlines = append(c.writeDeadlines, d)
	return nil
}

func TestFlushContext(t *testing.T) {
	var out bytes.Buffer
	c := &deadlineConn{MemConn: sasltest.MemConn{R: bytes.NewReader(nil), W: &out}}
	tr := openTransport(c, 0, nil)
	require.Equal(t, thrift.UnknownRemainingBytes, tr.RemainingBytes())
	require.Same(t, c, tr.Conn())

	d := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	defer cancel()
	_, _ = tr.Write([]byte("a"))
	require.NoError(t, tr.Flush(ctx))
	_, _ = tr.Write([]byte("b"))
	require.NoError(t, tr.Flush(context.Background()))
	_, _ = tr.Write([]byte("c"))
	require.NoError(t, tr.Flush(context.Background()))
	require.Equal(t, []time.Time{d, {}}, c.writeDeadlines, "set from ctx, cleared once, then left alone")

	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, _ = tr.Write([]byte("lost"))
	require.ErrorIs(t, tr.Flush(canceled), context.Canceled)
	require.NoError(t, tr.Flush(context.Background()), "the buffer was emptied")
	require.Equal(t, bytes.Join([][]byte{sasltest.Frame([]byte("a")), sasltest.Frame([]byte("b")), sasltest.Frame([]byte("c"))}, nil), out.Bytes())
}

func TestLargeWriteBufferReleased(t *testing.T) {
	var out bytes.Buffer
	for _, layer := range []SecurityLayer{nil, &sasltest.XORLayer{Key: 1}} {
		out.Reset()
		tr := openTransport(sasltest.NewMemConnTo(nil, &out), 0, layer)
		big := make([]byte, 2*retainBuffer)
		_, err := tr.Write(big)
		require.NoError(t, err)
		require.NoError(t, tr.Flush(context.Background()))
		require.LessOrEqual(t, cap(tr.wbuf), retainBuffer)
		require.LessOrEqual(t, cap(tr.wframe), retainBuffer)
		require.Equal(t, frameHeaderLen+len(big)+map[bool]int{true: 1, false: 0}[layer != nil], out.Len())
	}
}

// The limits package sasl uses by default.
const (
	testMaxFrame = 16 << 20
	testMaxNeg   = 64 << 10
)

// openTransport returns a transport in the data phase, as after a
// handshake, with layer as its security layer (nil for none) and a frame
// limit of maxFrame (zero: testMaxFrame).
func openTransport(c net.Conn, maxFrame int, layer SecurityLayer) *Transport {
	if maxFrame == 0 {
		maxFrame = testMaxFrame
	}
	t := New(c, "client", maxFrame, testMaxNeg, nil)
	t.layer = layer
	t.open.Store(true)
	return t
}

func TestUnwrapErrorIsSticky(t *testing.T) {
	in := sasltest.Frame([]byte("not wrapped"))
	tr := openTransport(sasltest.NewMemConn(in), 0, &sasltest.XORLayer{Key: 1})
	_, err := tr.Read(make([]byte, 4))
	require.ErrorContains(t, err, "sasl: unwrap frame: xor: missing marker")
	_, err2 := tr.Read(make([]byte, 4))
	require.Equal(t, err, err2)
}
