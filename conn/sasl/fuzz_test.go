package sasl

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzFrameLimit is the frame limit in FuzzReadFrame: large next to any
// input the fuzzer makes, so that allocating a claimed length would show.
const fuzzFrameLimit = 8 << 20

// allocSlack covers the fixed costs of a transport (its read buffer, the
// first chunk of a wrapped frame) and runtime noise.
const allocSlack = 512 << 10

// FuzzReadFrame feeds arbitrary bytes to a transport in the data phase,
// with and without a security layer. It must not panic, must not return
// more bytes than came in, and must allocate in proportion to the input,
// whatever the length prefixes claim.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame([]byte("hello")), false)
	f.Add(frame([]byte("hello")), true)
	f.Add([]byte{0x7F, 0xFF, 0xFF, 0xFF}, false)
	f.Add([]byte{0x00, 0x7F, 0xFF, 0xFF, 1, 2, 3}, true)
	f.Add(append(frame(nil), frame([]byte("x"))...), false)
	f.Fuzz(func(t *testing.T, data []byte, layered bool) {
		var layer SecurityLayer
		if layered {
			layer = &xorLayer{key: 0x42}
		}
		var (
			got []byte
			err error
			tr  *Transport
		)
		allocated := bytesAllocated(func() {
			tr = openTransportLayer(newMemConn(data), Config{MaxFrameSize: fuzzFrameLimit}, layer)
			got, err = io.ReadAll(tr)
		})
		require.LessOrEqual(t, len(got), len(data))
		require.LessOrEqual(t, cap(tr.rbuf), fuzzFrameLimit)
		require.LessOrEqual(t, allocated, uint64(4*len(data)+allocSlack),
			"allocation must follow the input (%d bytes), not the length prefixes", len(data))
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "sasl: ") || errors.Is(err, io.EOF), err.Error())
			_, again := tr.Read(make([]byte, 1))
			require.Equal(t, err, again, "read errors are sticky")
		}
		if errors.Is(err, ErrFrameTooLarge) {
			require.True(t, hasHeaderOver(data, fuzzFrameLimit))
		}
	})
}

// hasHeaderOver reports whether some frame header in the stream, read in
// order, claims more than limit.
func hasHeaderOver(data []byte, limit int) bool {
	for len(data) >= 4 {
		n := uint64(data[0])<<24 | uint64(data[1])<<16 | uint64(data[2])<<8 | uint64(data[3])
		if n > uint64(limit) {
			return true
		}
		if n > uint64(len(data)-4) {
			return false
		}
		data = data[4+n:]
	}
	return false
}

// FuzzReadMessage feeds arbitrary bytes to the negotiation reader.
func FuzzReadMessage(f *testing.F) {
	f.Add(msg(StatusStart, "PLAIN"))
	f.Add(msg(StatusComplete, ""))
	f.Add(msg(StatusBad, "denied"))
	f.Add(rawHeader(2, 0xFFFFFFFF))
	f.Add(rawHeader(9, 1))
	f.Add([]byte("HTTP/1.1 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			m   message
			err error
		)
		allocated := bytesAllocated(func() {
			m, err = readMessage(strings.NewReader(string(data)), DefaultMaxNegotiationSize)
		})
		require.LessOrEqual(t, allocated, uint64(2*len(data)+allocSlack))
		if err != nil {
			require.Zero(t, m)
			return
		}
		require.True(t, m.status.valid())
		require.LessOrEqual(t, len(m.payload), DefaultMaxNegotiationSize)
		require.LessOrEqual(t, len(m.payload)+messageHeaderLen, len(data))
		again, err := appendMessage(nil, m.status, m.payload)
		require.NoError(t, err)
		require.Equal(t, data[:len(again)], again)
	})
}

// echoMech is a client mechanism that answers every challenge with itself
// and is done when the challenge is "done".
type echoMech struct{}

func (echoMech) Name() string                                  { return "ECHO-TEST" }
func (echoMech) Start(context.Context, string) ([]byte, error) { return []byte("start"), nil }
func (echoMech) Step(_ context.Context, ch []byte) ([]byte, bool, error) {
	if len(ch) > 100 {
		return nil, false, errors.New("echo: challenge too long")
	}
	return ch, string(ch) == "done", nil
}

// FuzzClientHandshake runs a client handshake against arbitrary server
// bytes.
func FuzzClientHandshake(f *testing.F) {
	f.Add(msg(StatusComplete, ""), false)
	f.Add(msg(StatusBad, "no"), false)
	f.Add(append(msg(StatusOK, "x"), msg(StatusOK, "done")...), true)
	f.Add(append(msg(StatusOK, "done"), msg(StatusComplete, "")...), true)
	f.Add([]byte("HTTP/1.0 400\r\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, echo bool) {
		var mech Mechanism = NewPlain(testUser, testPassword)
		if echo {
			mech = echoMech{}
		}
		tr, err := NewClient(newMemConn(data), mech, Config{MaxNegotiationSize: 1024})
		require.NoError(t, err)
		allocated := bytesAllocated(func() { err = tr.Handshake(context.Background(), "h") })
		require.LessOrEqual(t, allocated, uint64(4*len(data)+allocSlack))
		if err == nil {
			require.True(t, tr.IsOpen())
			return
		}
		var he *HandshakeError
		require.ErrorAs(t, err, &he)
		require.True(t, strings.HasPrefix(err.Error(), "sasl: "))
		require.NotContains(t, err.Error(), testPassword)
		require.False(t, tr.IsOpen())
	})
}

// FuzzAccept runs the server side against arbitrary client bytes.
func FuzzAccept(f *testing.F) {
	f.Add(append(msg(StatusStart, "PLAIN"), msg(StatusOK, "\x00alice\x00"+testPassword)...))
	f.Add(append(msg(StatusStart, "PLAIN"), msg(StatusComplete, "\x00alice\x00wrong")...))
	f.Add(append(msg(StatusStart, "XOR-TEST"), msg(StatusOK, "hello")...))
	f.Add(msg(StatusStart, "GSSAPI"))
	f.Add([]byte{0x80, 0x01, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		mechs := plainMechs()
		mechs["XOR-TEST"] = func() ServerMechanism { return &xorServer{} }
		var (
			tr   *Transport
			user string
			err  error
		)
		allocated := bytesAllocated(func() {
			tr, user, err = Accept(newMemConn(data), mechs, Config{MaxNegotiationSize: 1024})
		})
		require.LessOrEqual(t, allocated, uint64(4*len(data)+allocSlack))
		if err == nil {
			require.True(t, tr.IsOpen())
			require.NotEmpty(t, user)
			return
		}
		var he *HandshakeError
		require.ErrorAs(t, err, &he)
		require.True(t, strings.HasPrefix(err.Error(), "sasl: "))
		require.Nil(t, tr)
	})
}
