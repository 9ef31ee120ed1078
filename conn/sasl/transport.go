package sasl

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/saslwire"
)

const (
	// DefaultMaxFrameSize is the largest data frame a Transport reads when
	// Config.MaxFrameSize is zero: 16 MiB, the order of Thrift's own default
	// (thrift.DEFAULT_MAX_FRAME_SIZE). One Thrift message is normally one
	// frame, so a fetch of many wide rows may need more.
	DefaultMaxFrameSize = 16 << 20

	// DefaultMaxNegotiationSize is the largest negotiation payload a
	// Transport reads when Config.MaxNegotiationSize is zero: 64 KiB, ample
	// for PLAIN and for Kerberos tickets.
	DefaultMaxNegotiationSize = 64 << 10
)

// Config holds the limits and logging of a Transport. The zero value is
// ready to use: every zero field means its default.
type Config struct {
	// MaxFrameSize is the largest data frame, in bytes on the wire, that
	// Read accepts. A frame header claiming more fails with an error
	// wrapping ErrFrameTooLarge, before anything of that size is
	// allocated. Zero means DefaultMaxFrameSize. It does not limit writes.
	MaxFrameSize int

	// MaxNegotiationSize is the largest negotiation payload the handshake
	// accepts. Zero means DefaultMaxNegotiationSize.
	MaxNegotiationSize int

	// Logger receives debug records of handshakes (mechanism, steps,
	// statuses; never payloads). Nil means no logging.
	Logger *slog.Logger
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	if c.MaxFrameSize < 0 || c.MaxFrameSize > saslwire.MaxWireLen {
		return fmt.Errorf("sasl: Config.MaxFrameSize %d out of range [0, %d]", c.MaxFrameSize, saslwire.MaxWireLen)
	}
	if c.MaxNegotiationSize < 0 || c.MaxNegotiationSize > saslwire.MaxWireLen {
		return fmt.Errorf("sasl: Config.MaxNegotiationSize %d out of range [0, %d]", c.MaxNegotiationSize, saslwire.MaxWireLen)
	}
	return nil
}

// Transport is the client side of Thrift's SASL transport over one
// net.Conn. It implements thrift.TTransport (and thrift.TRichTransport):
// after Handshake, Write buffers, Flush sends the buffer as one frame, and
// Read serves the current frame and reads the next one when it is used up.
// With an active SecurityLayer each frame's payload is wrapped on Flush and
// unwrapped when read.
//
// Like every Thrift transport, a Transport is used by one goroutine at a
// time; Close may be called from any goroutine and unblocks pending I/O.
// After a read error (a cut connection, a frame over the limit) the stream
// position is lost and every later Read returns the same error.
type Transport struct {
	w    *saslwire.Transport
	mech Mechanism
	// started is set when the handshake began; a Mechanism serves one
	// handshake only.
	started bool
}

var (
	_ thrift.TTransport     = (*Transport)(nil)
	_ thrift.TRichTransport = (*Transport)(nil)
)

// Conn returns the connection under the transport, for deadlines and
// addresses. Reading or writing it directly corrupts the stream.
func (t *Transport) Conn() net.Conn { return t.w.Conn() }

// Mechanism returns the SASL mechanism name of the handshake.
func (t *Transport) Mechanism() string { return t.w.Mechanism() }

// SecurityLayerActive reports whether frames are wrapped by the mechanism's
// SecurityLayer.
func (t *Transport) SecurityLayerActive() bool { return t.w.SecurityLayerActive() }

// Open implements thrift.TTransport. It does not run the handshake, which
// needs a context and a host: it returns nil once Handshake has succeeded,
// and an error wrapping ErrNotOpen before that or after Close.
func (t *Transport) Open() error { return t.w.Open() }

// IsOpen reports whether the handshake has succeeded and Close has not been
// called.
func (t *Transport) IsOpen() bool { return t.w.IsOpen() }

// Close closes the connection. It is safe to call more than once and from
// another goroutine than the one doing I/O; later calls return what the
// first one did.
func (t *Transport) Close() error { return t.w.Close() }

// RemainingBytes implements thrift.ReadSizeProvider. It returns
// thrift.UnknownRemainingBytes: a peer may split one Thrift message over
// several frames, so the bytes left in the current frame are no bound for
// the message.
func (t *Transport) RemainingBytes() uint64 { return t.w.RemainingBytes() }

// Read reads payload bytes of the current frame, reading the next frame
// first when the current one is used up. It returns io.EOF when the peer
// closed the connection between frames, and an error wrapping
// io.ErrUnexpectedEOF when it did so inside a frame.
func (t *Transport) Read(p []byte) (int, error) { return t.w.Read(p) }

// ReadByte implements io.ByteReader for thrift.TRichTransport.
func (t *Transport) ReadByte() (byte, error) { return t.w.ReadByte() }

// Write appends p to the frame being built; nothing is sent before Flush.
func (t *Transport) Write(p []byte) (int, error) { return t.w.Write(p) }

// WriteByte implements io.ByteWriter for thrift.TRichTransport.
func (t *Transport) WriteByte(c byte) error { return t.w.WriteByte(c) }

// WriteString implements io.StringWriter for thrift.TRichTransport.
func (t *Transport) WriteString(s string) (int, error) { return t.w.WriteString(s) }

// Flush sends what was written since the last Flush as one frame, wrapped
// when a security layer is active. Nothing is sent when nothing was
// written. A deadline of ctx applies to the write; a ctx without one leaves
// the connection's write deadline alone (unless an earlier Flush set it,
// which this one then clears). The buffer is emptied even when the write
// fails.
func (t *Transport) Flush(ctx context.Context) error { return t.w.Flush(ctx) }
