package sasl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"
)

func TestStatusString(t *testing.T) {
	for st, want := range map[Status]string{
		StatusStart: "START", StatusOK: "OK", StatusBad: "BAD", StatusError: "ERROR",
		StatusComplete: "COMPLETE", 0: "Status(0)", 9: "Status(9)",
	} {
		require.Equal(t, want, st.String())
	}
}

func TestReadMessage(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name    string
		in      []byte
		limit   int
		want    message
		wantErr error // nil, or a target for errors.Is
	}{
		{name: "start", in: msg(StatusStart, "PLAIN"), want: message{StatusStart, []byte("PLAIN")}},
		{name: "ok", in: msg(StatusOK, "challenge"), want: message{StatusOK, []byte("challenge")}},
		{name: "bad", in: msg(StatusBad, "bad password"), want: message{StatusBad, []byte("bad password")}},
		{name: "error", in: msg(StatusError, "oops"), want: message{StatusError, []byte("oops")}},
		{name: "complete empty", in: msg(StatusComplete, ""), want: message{StatusComplete, nil}},
		{name: "at limit", in: msg(StatusOK, long), limit: 100, want: message{StatusOK, []byte(long)}},
		{name: "trailing bytes ignored", in: append(msg(StatusOK, "a"), 1, 2), want: message{StatusOK, []byte("a")}},
		{name: "empty stream", in: nil, wantErr: io.EOF},
		{name: "truncated header", in: []byte{2, 0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: msg(StatusOK, "abcdef")[:8], wantErr: io.ErrUnexpectedEOF},
		{name: "header only", in: rawHeader(2, 3), wantErr: io.ErrUnexpectedEOF},
		{name: "over limit", in: msg(StatusOK, long), limit: 99, wantErr: ErrFrameTooLarge},
		{name: "negative length", in: rawHeader(2, 0x80000000), wantErr: ErrFrameTooLarge},
		{name: "max uint32 length", in: rawHeader(5, 0xFFFFFFFF), wantErr: ErrFrameTooLarge},
		{name: "status zero", in: rawHeader(0, 0), wantErr: ErrProtocol},
		{name: "status six", in: rawHeader(6, 0), wantErr: ErrProtocol},
		{name: "http", in: []byte("HTTP/1.1 400 Bad Request\r\n"), wantErr: ErrProtocol},
		{name: "thrift strict message", in: []byte{0x80, 0x01, 0x00, 0x03, 0, 0, 0, 4}, wantErr: ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = DefaultMaxNegotiationSize
			}
			got, err := readMessage(bytes.NewReader(tc.in), limit)
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
	_, err := readMessage(bytes.NewReader([]byte("HTTP/1.1")), 10)
	require.ErrorContains(t, err, `sasl: invalid negotiation status byte 72 (header bytes "HTTP/")`)
	_, err = readMessage(bytes.NewReader(rawHeader(2, 11)), 10)
	require.ErrorContains(t, err, "sasl: negotiation message of 11 bytes exceeds the limit of 10")
}

func TestAppendMessageRoundTrip(t *testing.T) {
	for st := StatusStart; st <= StatusComplete; st++ {
		b, err := appendMessage([]byte("prefix"), st, []byte("payload"))
		require.NoError(t, err)
		require.Equal(t, []byte("prefix"), b[:6])
		m, err := readMessage(bytes.NewReader(b[6:]), 100)
		require.NoError(t, err)
		require.Equal(t, st, m.status)
		require.Equal(t, "payload", string(m.payload))
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
		{name: "one frame", in: frame([]byte("hello")), want: "hello"},
		{name: "two frames", in: append(frame([]byte("hel")), frame([]byte("lo"))...), want: "hello"},
		{name: "empty frames skipped", in: bytes.Join([][]byte{frame(nil), frame([]byte("a")), frame(nil), frame([]byte("b"))}, nil), want: "ab"},
		{name: "at limit", in: frame([]byte("12345678")), max: 8, want: "12345678"},
		{name: "over limit", in: frame([]byte("123456789")), max: 8, wantErr: ErrFrameTooLarge},
		{name: "negative length", in: []byte{0x80, 0, 0, 0, 1}, wantErr: ErrFrameTooLarge},
		{name: "max length", in: []byte{0xFF, 0xFF, 0xFF, 0xFF}, wantErr: ErrFrameTooLarge},
		{name: "truncated header", in: []byte{0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: frame([]byte("hello"))[:7], want: "hel", wantErr: io.ErrUnexpectedEOF},
		{name: "second frame truncated", in: append(frame([]byte("ok")), 0, 0, 0, 9, 'x'), want: "okx", wantErr: io.ErrUnexpectedEOF},
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
					x := &xorLayer{key: 0x5A}
					layer = x
					in = wrapFrames(t, x, tc.in)
				}
				limit := tc.max
				if layered && limit > 0 {
					limit++ // the layer's byte of overhead
				}
				tr := openTransportLayer(newMemConn(in), Config{MaxFrameSize: limit}, layer)
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
func wrapFrames(t *testing.T, x *xorLayer, in []byte) []byte {
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
		out = append(out, frame(w)...)
		in = in[4+n:]
	}
	x.wraps.Store(0)
	return append(out, in...)
}

func TestFrameTooLargeError(t *testing.T) {
	tr := openTransportFor(newMemConn([]byte{0x7F, 0xFF, 0xFF, 0xFF}), Config{})
	_, err := tr.Read(make([]byte, 10))
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.EqualError(t, err, "sasl: data frame of 2147483647 bytes exceeds the limit of 16777216")
}

func TestWriteFlushFrames(t *testing.T) {
	var out bytes.Buffer
	tr := openTransportFor(newMemConnTo(nil, &out), Config{})
	ctx := testCtx(t)
	_, err := tr.Write([]byte("hel"))
	require.NoError(t, err)
	_, err = tr.WriteString("lo")
	require.NoError(t, err)
	require.Zero(t, out.Len(), "Write must not send")
	require.NoError(t, tr.Flush(ctx))
	require.NoError(t, tr.Flush(ctx), "an empty flush sends nothing")
	require.NoError(t, tr.WriteByte('!'))
	require.NoError(t, tr.Flush(ctx))
	require.Equal(t, append(frame([]byte("hello")), frame([]byte("!"))...), out.Bytes())
}

func TestNotOpen(t *testing.T) {
	tr, err := NewClient(newMemConn(nil), NewPlain("u", "p"), Config{})
	require.NoError(t, err)
	require.False(t, tr.IsOpen())
	require.ErrorIs(t, tr.Open(), ErrNotOpen)
	_, err = tr.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNotOpen)
	_, err = tr.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrNotOpen)
	require.ErrorIs(t, tr.Flush(testCtx(t)), ErrNotOpen)

	open := openTransportFor(newMemConn(nil), Config{})
	require.NoError(t, open.Open())
	require.NoError(t, open.Close())
	require.NoError(t, open.Close(), "Close is idempotent")
	require.False(t, open.IsOpen())
	_, err = open.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNotOpen)
	require.ErrorIs(t, open.Open(), ErrNotOpen)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	require.NoError(t, DefaultConfig().Validate())
	require.ErrorContains(t, Config{MaxFrameSize: -1}.Validate(), "sasl: Config.MaxFrameSize")
	require.ErrorContains(t, Config{MaxNegotiationSize: -1}.Validate(), "sasl: Config.MaxNegotiationSize")
	_, err := NewClient(newMemConn(nil), NewPlain("u", "p"), Config{MaxFrameSize: -5})
	require.ErrorContains(t, err, "MaxFrameSize")
	require.Equal(t, DefaultConfig(), Config{}.withDefaults())
}

// TestLyingHeaderAllocatesLittle checks that a header claiming a large
// frame, within the limit, that is followed by a few bytes costs memory in
// proportion to the bytes received, not to the claim.
func TestLyingHeaderAllocatesLittle(t *testing.T) {
	in := append([]byte{0x00, 0xFF, 0xFF, 0x00}, "only a few bytes"...) // claims ~16 MiB
	for _, layered := range []bool{false, true} {
		var layer SecurityLayer
		if layered {
			layer = &xorLayer{key: 1}
		}
		allocated := bytesAllocated(func() {
			tr := openTransportLayer(newMemConn(in), Config{}, layer)
			_, err := io.ReadAll(tr)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		})
		require.Less(t, allocated, uint64(1<<20), "layered=%v", layered)
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReadBoundedGrowth(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 300<<10)
	buf, err := readBounded(bytes.NewReader(data), nil, len(data))
	require.NoError(t, err)
	require.Equal(t, data, buf)
	require.LessOrEqual(t, cap(buf), len(data), "never allocates past n")

	buf, err = readBounded(bytes.NewReader(data[:10]), nil, 10<<20)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Len(t, buf, 10)
	require.LessOrEqual(t, cap(buf), minFrameChunk)
}

func TestReadByte(t *testing.T) {
	for _, layered := range []bool{false, true} {
		in := append(frame([]byte("ab")), frame([]byte("c"))...)
		var layer SecurityLayer
		if layered {
			x := &xorLayer{key: 3}
			layer = x
			in = wrapFrames(t, x, in)
		}
		tr := openTransportLayer(newMemConn(in), Config{}, layer)
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
	require.Equal(t, "short", peerMessage([]byte("short")))
	require.Equal(t, "bad \uFFFD byte", peerMessage([]byte("bad \xff byte")))
	long := strings.Repeat("é", maxPeerMessage) // two bytes each
	got := peerMessage([]byte(long))
	require.True(t, strings.HasSuffix(got, "..."))
	require.LessOrEqual(t, len(got), maxPeerMessage+3)
	require.True(t, utf8.ValidString(strings.TrimSuffix(got, "...")))
}

// deadlineConn records write deadlines.
type deadlineConn struct {
	memConn
	writeDeadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(d time.Time) error {
	c.writeDeadlines = append(c.writeDeadlines, d)
	return nil
}

func TestFlushContext(t *testing.T) {
	var out bytes.Buffer
	c := &deadlineConn{memConn: memConn{r: bytes.NewReader(nil), w: &out}}
	tr := openTransportFor(c, Config{})
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
	require.Equal(t, bytes.Join([][]byte{frame([]byte("a")), frame([]byte("b")), frame([]byte("c"))}, nil), out.Bytes())
}

func TestLargeWriteBufferReleased(t *testing.T) {
	var out bytes.Buffer
	for _, layer := range []SecurityLayer{nil, &xorLayer{key: 1}} {
		out.Reset()
		tr := openTransportLayer(newMemConnTo(nil, &out), Config{}, layer)
		big := make([]byte, 2*retainBuffer)
		_, err := tr.Write(big)
		require.NoError(t, err)
		require.NoError(t, tr.Flush(context.Background()))
		require.LessOrEqual(t, cap(tr.wbuf), retainBuffer)
		require.LessOrEqual(t, cap(tr.wframe), retainBuffer)
		require.Equal(t, frameHeaderLen+len(big)+map[bool]int{true: 1, false: 0}[layer != nil], out.Len())
	}
}
