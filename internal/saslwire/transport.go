package saslwire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

const (
	// readBufferSize is the size of the buffered reader over the connection.
	readBufferSize = 32 << 10
	// minFrameChunk is the first allocation when a wrapped frame is read in
	// growing chunks.
	minFrameChunk = 64 << 10
	// retainBuffer is the capacity above which a read or write buffer is
	// dropped after use instead of kept for the next frame, so an idle
	// pooled connection does not pin a large buffer.
	retainBuffer = 1 << 20
)

// SecurityLayer wraps and unwraps the data frames after a handshake that
// negotiated one; it has the methods of sasl.SecurityLayer.
type SecurityLayer interface {
	Active() bool
	Wrap(p []byte) ([]byte, error)
	Unwrap(p []byte) ([]byte, error)
}

// Transport is Thrift's SASL transport over one net.Conn, for either side.
// It implements thrift.TTransport (and thrift.TRichTransport): once the
// side's handshake called Finish, Write buffers, Flush sends the buffer as
// one frame, and Read serves the current frame and reads the next one when
// it is used up. With an active SecurityLayer each frame's payload is
// wrapped on Flush and unwrapped when read. Before Finish, the handshake
// talks through ReadMessage, SendMessage and SendFailure.
//
// Like every Thrift transport, a Transport is used by one goroutine at a
// time; Close may be called from any goroutine and unblocks pending I/O.
// After a read error (a cut connection, a frame over the limit) the stream
// position is lost and every later Read returns the same error.
type Transport struct {
	conn     net.Conn
	side     string // "client" or "server", for logs
	maxFrame int
	maxNeg   int
	log      *slog.Logger
	br       *bufio.Reader

	mechName string

	open      atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// layer wraps and unwraps frames; nil when no security layer is active.
	layer SecurityLayer

	// Read state. Without a layer, frame payloads stream from br and
	// remaining counts the bytes of the current frame not yet read. With a
	// layer, a whole frame is read into rbuf and its unwrapped bytes not
	// yet served are in rdata.
	remaining int
	rbuf      []byte
	rdata     []byte
	rerr      error // sticky read error
	rone      [1]byte
	rhdr      [frameHeaderLen]byte // scratch for frame headers, kept here so it does not escape per read

	// wbuf holds frameHeaderLen bytes for the header, then the payload
	// written since the last Flush.
	wbuf []byte
	// wdeadline is set while Flush left a write deadline from a ctx on conn.
	wdeadline bool
	// wframe holds a wrapped frame, header and payload, so that it goes
	// out in one Write (one TLS record on a TLS connection).
	wframe []byte
}

var (
	_ thrift.TTransport     = (*Transport)(nil)
	_ thrift.TRichTransport = (*Transport)(nil)
)

// New returns a transport over c for side ("client" or "server") that
// reads data frames of at most maxFrame bytes and negotiation payloads of
// at most maxNeg bytes (both positive), logging handshake events at debug
// level to log (nil: none). It is not open until Finish.
func New(c net.Conn, side string, maxFrame, maxNeg int, log *slog.Logger) *Transport {
	return &Transport{
		conn:     c,
		side:     side,
		maxFrame: maxFrame,
		maxNeg:   maxNeg,
		log:      log,
		br:       bufio.NewReaderSize(c, readBufferSize),
		wbuf:     make([]byte, frameHeaderLen, 4096),
	}
}

// Conn returns the connection under the transport, for deadlines and
// addresses. Reading or writing it directly corrupts the stream.
func (t *Transport) Conn() net.Conn { return t.conn }

// Mechanism returns the SASL mechanism name of the handshake, empty before
// SetMechanism.
func (t *Transport) Mechanism() string { return t.mechName }

// SetMechanism records the mechanism name of the handshake.
func (t *Transport) SetMechanism(name string) { t.mechName = name }

// SecurityLayerActive reports whether frames are wrapped by the mechanism's
// SecurityLayer.
func (t *Transport) SecurityLayerActive() bool { return t.layer != nil }

// Closed reports whether Close was called.
func (t *Transport) Closed() bool { return t.closed.Load() }

// Open implements thrift.TTransport. It does not run the handshake, which
// needs a context: it returns nil once the handshake has succeeded, and an
// error wrapping ErrNotOpen before that or after Close.
func (t *Transport) Open() error {
	if t.IsOpen() {
		return nil
	}
	if t.closed.Load() {
		return fmt.Errorf("%w: closed", ErrNotOpen)
	}
	return fmt.Errorf("%w: Open does not run the SASL handshake", ErrNotOpen)
}

// IsOpen reports whether the handshake has succeeded and Close has not been
// called.
func (t *Transport) IsOpen() bool { return t.open.Load() && !t.closed.Load() }

// Close closes the connection. It is safe to call more than once and from
// another goroutine than the one doing I/O; later calls return what the
// first one did.
func (t *Transport) Close() error {
	t.closed.Store(true)
	t.closeOnce.Do(func() {
		if err := t.conn.Close(); err != nil {
			t.closeErr = fmt.Errorf("sasl: close: %w", err)
		}
	})
	return t.closeErr
}

// RemainingBytes implements thrift.ReadSizeProvider. It returns
// thrift.UnknownRemainingBytes: a peer may split one Thrift message over
// several frames, so the bytes left in the current frame are no bound for
// the message.
func (t *Transport) RemainingBytes() uint64 { return thrift.UnknownRemainingBytes }

// Read reads payload bytes of the current frame, reading the next frame
// first when the current one is used up. It returns io.EOF when the peer
// closed the connection between frames, and an error wrapping
// io.ErrUnexpectedEOF when it did so inside a frame.
func (t *Transport) Read(p []byte) (int, error) {
	if !t.IsOpen() {
		return 0, ErrNotOpen
	}
	if t.rerr != nil {
		return 0, t.rerr
	}
	if len(p) == 0 {
		return 0, nil
	}
	if t.layer != nil {
		for len(t.rdata) == 0 {
			if err := t.readWrappedFrame(); err != nil {
				return 0, t.failRead(err)
			}
		}
		n := copy(p, t.rdata)
		t.rdata = t.rdata[n:]
		return n, nil
	}
	for t.remaining == 0 {
		n, err := t.readFrameHeader()
		if err != nil {
			return 0, t.failRead(err)
		}
		t.remaining = n
	}
	if len(p) > t.remaining {
		p = p[:t.remaining]
	}
	n, err := t.br.Read(p)
	t.remaining -= n
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, t.failRead(fmt.Errorf("sasl: read frame: %w", err))
	}
	return n, nil
}

// ReadByte implements io.ByteReader for thrift.TRichTransport.
func (t *Transport) ReadByte() (byte, error) {
	if t.layer == nil && t.remaining > 0 && t.rerr == nil && t.IsOpen() {
		b, err := t.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, t.failRead(fmt.Errorf("sasl: read frame: %w", err))
		}
		t.remaining--
		return b, nil
	}
	if _, err := io.ReadFull(t, t.rone[:]); err != nil {
		return 0, err
	}
	return t.rone[0], nil
}

// failRead records err as the sticky read error; io.EOF between frames
// stays io.EOF so callers can tell a clean close.
func (t *Transport) failRead(err error) error {
	t.rerr = err
	return err
}

// frameTooLargeError reports a data frame header over the limit.
type frameTooLargeError struct {
	size  uint32
	limit int
}

func (e *frameTooLargeError) Error() string {
	return fmt.Sprintf("sasl: data frame of %d bytes exceeds the limit of %d", e.size, e.limit)
}

func (e *frameTooLargeError) Unwrap() error { return ErrFrameTooLarge }

// readFrameHeader reads the 4-byte length of the next data frame and checks
// it against the limit.
func (t *Transport) readFrameHeader() (int, error) {
	if _, err := io.ReadFull(t.br, t.rhdr[:]); err != nil {
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("sasl: read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(t.rhdr[:])
	if uint64(n) > uint64(t.maxFrame) {
		return 0, &frameTooLargeError{size: n, limit: t.maxFrame}
	}
	return int(n), nil
}

// readWrappedFrame reads one whole frame and unwraps it into rdata.
func (t *Transport) readWrappedFrame() error {
	n, err := t.readFrameHeader()
	if err != nil {
		return err
	}
	buf, err := ReadBounded(t.br, t.rbuf[:0], n)
	if err != nil {
		return fmt.Errorf("sasl: read frame: %w", err)
	}
	if cap(buf) > retainBuffer {
		t.rbuf = nil
	} else {
		t.rbuf = buf
	}
	out, err := t.layer.Unwrap(buf)
	if err != nil {
		return fmt.Errorf("sasl: unwrap frame: %w", err)
	}
	t.rdata = out
	return nil
}

// ReadBounded reads exactly n bytes into buf[:0], growing it in chunks as
// the data arrives, so that memory follows the bytes actually received and
// not the length a header claims. The caller has checked n against its
// limit; no allocation exceeds n. It fails with io.ErrUnexpectedEOF when
// the reader ends first. (conn reads the long values of a reply with it.)
func ReadBounded(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grow := max(2*cap(buf), minFrameChunk)
			nb := make([]byte, len(buf), min(grow, n))
			copy(nb, buf)
			buf = nb
		}
		end := min(cap(buf), n)
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// Write appends p to the frame being built; nothing is sent before Flush.
func (t *Transport) Write(p []byte) (int, error) {
	if !t.IsOpen() {
		return 0, ErrNotOpen
	}
	if len(t.wbuf)-frameHeaderLen > MaxWireLen-len(p) {
		return 0, fmt.Errorf("sasl: frame would exceed %d bytes: %w", MaxWireLen, ErrFrameTooLarge)
	}
	t.wbuf = append(t.wbuf, p...)
	return len(p), nil
}

// WriteByte implements io.ByteWriter for thrift.TRichTransport.
func (t *Transport) WriteByte(c byte) error {
	if !t.IsOpen() {
		return ErrNotOpen
	}
	if len(t.wbuf)-frameHeaderLen >= MaxWireLen {
		return fmt.Errorf("sasl: frame would exceed %d bytes: %w", MaxWireLen, ErrFrameTooLarge)
	}
	t.wbuf = append(t.wbuf, c)
	return nil
}

// WriteString implements io.StringWriter for thrift.TRichTransport.
func (t *Transport) WriteString(s string) (int, error) {
	if !t.IsOpen() {
		return 0, ErrNotOpen
	}
	if len(t.wbuf)-frameHeaderLen > MaxWireLen-len(s) {
		return 0, fmt.Errorf("sasl: frame would exceed %d bytes: %w", MaxWireLen, ErrFrameTooLarge)
	}
	t.wbuf = append(t.wbuf, s...)
	return len(s), nil
}

// Flush sends what was written since the last Flush as one frame, wrapped
// when a security layer is active. Nothing is sent when nothing was
// written. A deadline of ctx applies to the write; a ctx without one leaves
// the connection's write deadline alone (unless an earlier Flush set it,
// which this one then clears). The buffer is emptied even when the write
// fails.
func (t *Transport) Flush(ctx context.Context) error {
	if !t.IsOpen() {
		return ErrNotOpen
	}
	if len(t.wbuf) == frameHeaderLen {
		return nil
	}
	defer t.resetWriteBuffer()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sasl: flush: %w", err)
	}
	if d, ok := ctx.Deadline(); ok {
		if err := t.conn.SetWriteDeadline(d); err != nil {
			return fmt.Errorf("sasl: flush: %w", err)
		}
		t.wdeadline = true
	} else if t.wdeadline {
		if err := t.conn.SetWriteDeadline(time.Time{}); err != nil {
			return fmt.Errorf("sasl: flush: %w", err)
		}
		t.wdeadline = false
	}
	var err error
	if t.layer == nil {
		binary.BigEndian.PutUint32(t.wbuf, uint32(len(t.wbuf)-frameHeaderLen))
		_, err = t.conn.Write(t.wbuf)
	} else {
		err = t.writeWrapped(t.wbuf[frameHeaderLen:])
	}
	if err != nil {
		return fmt.Errorf("sasl: flush: %w", err)
	}
	return nil
}

func (t *Transport) writeWrapped(payload []byte) error {
	out, err := t.layer.Wrap(payload)
	if err != nil {
		return fmt.Errorf("wrap: %w", err)
	}
	if len(out) > MaxWireLen {
		return fmt.Errorf("wrapped frame of %d bytes: %w", len(out), ErrFrameTooLarge)
	}
	b := binary.BigEndian.AppendUint32(t.wframe[:0], uint32(len(out)))
	b = append(b, out...)
	_, err = t.conn.Write(b)
	if cap(b) > retainBuffer {
		b = nil
	}
	t.wframe = b
	return err
}

func (t *Transport) resetWriteBuffer() {
	if cap(t.wbuf) > retainBuffer {
		t.wbuf = make([]byte, frameHeaderLen, 4096)
		return
	}
	t.wbuf = t.wbuf[:frameHeaderLen]
}

// Handshake runs one side's negotiation, bounded by ctx: its deadline is
// set on the connection for the negotiation and its cancellation
// interrupts pending I/O; when Handshake returns, the connection has no
// deadline. negotiate returns nil, or a pointer to its failure's cause,
// into which the ctx error that ended the negotiation is joined
// (joinCause) when the failure does not wrap it already, and the failure.
// On failure the transport is closed and the failure logged.
func (t *Transport) Handshake(ctx context.Context, negotiate func() (cause *error, failure error)) error {
	unbind := t.bindContext(ctx)
	cause, failure := negotiate()
	if ctxErr := unbind(failure); ctxErr != nil {
		*cause = joinCause(ctxErr, *cause)
	}
	if failure != nil {
		_ = t.Close()
		t.Debug("sasl handshake failed", slog.String("error", failure.Error()))
	}
	return failure
}

// bindContext applies ctx to the connection for a handshake: its deadline
// becomes the connection's deadline, and its cancellation makes pending I/O
// fail at once. The returned func, given the handshake's error, undoes both
// (the connection is left with no deadline) and returns the ctx error that
// ended the handshake: nil when err is nil, when ctx did not end, or when
// err already wraps it.
func (t *Transport) bindContext(ctx context.Context) func(err error) error {
	if d, ok := ctx.Deadline(); ok {
		_ = t.conn.SetDeadline(d)
	}
	var (
		mu       sync.Mutex // guards finished and the deadline set on cancel
		finished bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			_ = t.conn.SetDeadline(time.Unix(1, 0))
		}
	})
	return func(err error) error {
		stop()
		mu.Lock()
		finished = true
		mu.Unlock()
		_ = t.conn.SetDeadline(time.Time{})
		if err == nil {
			return nil
		}
		cerr := ctx.Err()
		if d, ok := ctx.Deadline(); ok && cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
			// The connection's deadline fired just before ctx's timer.
			cerr = context.DeadlineExceeded
		}
		if cerr == nil || errors.Is(err, cerr) {
			return nil
		}
		return cerr
	}
}

// ReadMessage reads the peer's next negotiation message (see the function
// ReadMessage), within the negotiation limit.
func (t *Transport) ReadMessage() (Message, error) { return ReadMessage(t.br, t.maxNeg) }

// SendMessage sends one negotiation message.
func (t *Transport) SendMessage(st byte, payload []byte) error {
	b, err := AppendMessage(nil, st, payload)
	if err == nil {
		err = t.Send(b)
	}
	return err
}

// Send writes raw negotiation bytes: one or more encoded messages.
func (t *Transport) Send(b []byte) error {
	_, err := t.conn.Write(b)
	return err
}

// SendFailure tells the peer, best effort, why the negotiation stops: st
// is BAD or ERROR, msg is cut to MaxPeerMessage bytes.
func (t *Transport) SendFailure(st byte, msg string) {
	if len(msg) > MaxPeerMessage {
		msg = msg[:MaxPeerMessage]
	}
	_ = t.SendMessage(st, []byte(msg))
}

// Finish makes the transport open after a successful negotiation; mech's
// security layer wraps the frames when it has an active one.
func (t *Transport) Finish(mech any) {
	if sl, ok := mech.(SecurityLayer); ok && sl.Active() {
		t.layer = sl
	}
	t.open.Store(true)
	t.Debug("sasl handshake complete", slog.Bool("security_layer", t.layer != nil))
}

// Debug logs one handshake event with the side and the mechanism.
func (t *Transport) Debug(msg string, attrs ...slog.Attr) {
	if t.log == nil {
		return
	}
	attrs = append(attrs, slog.String("side", t.side), slog.String("mechanism", t.mechName))
	t.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}

// joinCause puts cause, the error of the ctx that ended a handshake, in
// front of err, the handshake's own cause: "cause: err", or cause alone.
func joinCause(cause, err error) error {
	if err == nil {
		return cause
	}
	return fmt.Errorf("%w: %w", cause, err)
}
