package saslwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// The range of the status byte that starts every negotiation message:
// START (1) to COMPLETE (5), as Thrift numbers them. Package sasl names
// them (sasl.Status); this package only tells a SASL header from other
// bytes.
const (
	firstStatus = 1
	lastStatus  = 5
)

const (
	// MaxWireLen is the largest length the peers accept: Thrift's Java and
	// C++ transports read the length as a signed 32-bit integer.
	MaxWireLen = math.MaxInt32
	// MaxRounds bounds the challenge/response rounds of one handshake;
	// real mechanisms need at most a handful.
	MaxRounds = 32
	// MaxPeerMessage bounds how much of a peer's BAD or ERROR message is
	// kept in an error or sent.
	MaxPeerMessage = 1024

	// MessageHeaderLen is the status byte plus the 4-byte payload length.
	MessageHeaderLen = 5
	// frameHeaderLen is the 4-byte length before every data frame.
	frameHeaderLen = 4
)

var (
	// ErrFrameTooLarge is wrapped by the error for a data frame or a
	// negotiation message whose length prefix exceeds the limit.
	ErrFrameTooLarge = errors.New("sasl: frame too large")
	// ErrNotSASL is wrapped by the error for a peer whose first message is
	// not a SASL negotiation message.
	ErrNotSASL = errors.New("sasl: peer did not answer with SASL")
	// ErrProtocol is wrapped by errors for a message that breaks the
	// negotiation rules.
	ErrProtocol = errors.New("sasl: protocol violation")
	// ErrNotOpen is returned by Read, Write and Flush before the handshake
	// has completed and after Close.
	ErrNotOpen = errors.New("sasl: transport not open")
)

// validStatus reports whether st is one of the five statuses.
func validStatus(st byte) bool { return st >= firstStatus && st <= lastStatus }

// Message is one negotiation message.
type Message struct {
	Status  byte
	Payload []byte
}

// HeaderError is a negotiation header that is not a valid SASL header: an
// unknown status byte, or a length over the limit.
type HeaderError struct {
	Header [MessageHeaderLen]byte
	// BadStatus is set when the status byte is unknown; otherwise the
	// length was too large.
	BadStatus bool
	Length    uint32
	Limit     int
}

func (e *HeaderError) Error() string {
	if e.BadStatus {
		return fmt.Sprintf("sasl: invalid negotiation status byte %d (header bytes %q)", e.Header[0], e.Header[:])
	}
	return fmt.Sprintf("sasl: negotiation message of %d bytes exceeds the limit of %d (header bytes %q)",
		e.Length, e.Limit, e.Header[:])
}

// Unwrap returns ErrProtocol for a bad status, ErrFrameTooLarge for a bad
// length.
func (e *HeaderError) Unwrap() error {
	if e.BadStatus {
		return ErrProtocol
	}
	return ErrFrameTooLarge
}

// ReadMessage reads one negotiation message whose payload is at most limit
// bytes. The payload is allocated only after the length passed the limit
// check, so a lying header costs nothing. A stream that ends before the
// first header byte gives io.EOF; one that ends inside a message gives
// io.ErrUnexpectedEOF. A header that is not SASL gives a *HeaderError.
func ReadMessage(r io.Reader, limit int) (Message, error) {
	var hdr [MessageHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Message{}, err
	}
	st := hdr[0]
	n := binary.BigEndian.Uint32(hdr[1:])
	if !validStatus(st) {
		return Message{}, &HeaderError{Header: hdr, BadStatus: true, Length: n, Limit: limit}
	}
	if uint64(n) > uint64(limit) {
		return Message{}, &HeaderError{Header: hdr, Length: n, Limit: limit}
	}
	m := Message{Status: st}
	if n == 0 {
		return m, nil
	}
	m.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, m.Payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	return m, nil
}

// AppendMessage appends the encoding of one negotiation message to dst.
func AppendMessage(dst []byte, st byte, payload []byte) ([]byte, error) {
	if len(payload) > MaxWireLen {
		return dst, fmt.Errorf("sasl: negotiation payload of %d bytes is too large for the wire: %w", len(payload), ErrFrameTooLarge)
	}
	dst = append(dst, st)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...), nil
}

// PeerMessage turns the payload of a BAD or ERROR message into text for an
// error, cut to MaxPeerMessage bytes on a rune boundary.
func PeerMessage(p []byte) string {
	s := strings.ToValidUTF8(string(p), "\uFFFD")
	if len(s) <= MaxPeerMessage {
		return s
	}
	cut := MaxPeerMessage
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// NotSASLError reports a first message from the peer that is not SASL.
type NotSASLError struct {
	// Peer is "server" or "client".
	Peer   string
	Header *HeaderError
}

func (e *NotSASLError) Error() string {
	h := e.Header
	what := fmt.Sprintf("status byte %d", h.Header[0])
	if !h.BadStatus {
		what = fmt.Sprintf("a length of %d bytes (limit %d)", h.Length, h.Limit)
	}
	hint := "an HTTP endpoint, or a Thrift server without SASL?"
	if e.Peer == "client" {
		hint = "a client without SASL?"
	}
	return fmt.Sprintf("sasl: peer did not answer with SASL: its first bytes %q give %s (%s)", h.Header[:], what, hint)
}

// Unwrap returns ErrNotSASL and the header error.
func (e *NotSASLError) Unwrap() []error { return []error{ErrNotSASL, e.Header} }
