package saslwire

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/sasltest"
)

// fuzzFrameLimit is the frame limit in FuzzReadFrame: large next to any
// input the fuzzer makes, so that allocating a claimed length would show.
const fuzzFrameLimit = 8 << 20

// FuzzReadFrame feeds arbitrary bytes to a transport in the data phase,
// with and without a security layer. It must not panic, must not return
// more bytes than came in, and must allocate in proportion to the input,
// whatever the length prefixes claim.
func FuzzReadFrame(f *testing.F) {
	f.Add(sasltest.Frame([]byte("hello")), false)
	f.Add(sasltest.Frame([]byte("hello")), true)
	f.Add([]byte{0x7F, 0xFF, 0xFF, 0xFF}, false)
	f.Add([]byte{0x00, 0x7F, 0xFF, 0xFF, 1, 2, 3}, true)
	f.Add(append(sasltest.Frame(nil), sasltest.Frame([]byte("x"))...), false)
	f.Fuzz(func(t *testing.T, data []byte, layered bool) {
		var layer SecurityLayer
		if layered {
			layer = &sasltest.XORLayer{Key: 0x42}
		}
		var (
			got []byte
			err error
			tr  *Transport
		)
		allocated := sasltest.BytesAllocated(func() {
			tr = openTransport(sasltest.NewMemConn(data), fuzzFrameLimit, layer)
			got, err = io.ReadAll(tr)
		})
		require.LessOrEqual(t, len(got), len(data))
		require.LessOrEqual(t, cap(tr.rbuf), fuzzFrameLimit)
		require.LessOrEqual(t, allocated, uint64(4*len(data)+sasltest.AllocSlack),
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
	f.Add(sasltest.Msg(StatusStart, "PLAIN"))
	f.Add(sasltest.Msg(StatusComplete, ""))
	f.Add(sasltest.Msg(StatusBad, "denied"))
	f.Add(sasltest.RawHeader(2, 0xFFFFFFFF))
	f.Add(sasltest.RawHeader(9, 1))
	f.Add([]byte("HTTP/1.1 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			m   Message
			err error
		)
		allocated := sasltest.BytesAllocated(func() {
			m, err = ReadMessage(strings.NewReader(string(data)), testMaxNeg)
		})
		require.LessOrEqual(t, allocated, uint64(2*len(data)+sasltest.AllocSlack))
		if err != nil {
			require.Zero(t, m)
			return
		}
		require.True(t, validStatus(m.Status))
		require.LessOrEqual(t, len(m.Payload), testMaxNeg)
		require.LessOrEqual(t, len(m.Payload)+MessageHeaderLen, len(data))
		again, err := AppendMessage(nil, m.Status, m.Payload)
		require.NoError(t, err)
		require.Equal(t, data[:len(again)], again)
	})
}
