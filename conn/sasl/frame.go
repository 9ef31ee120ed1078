package sasl

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Status is the status byte that starts every negotiation message of
// Thrift's SASL transport.
type Status byte

// The negotiation statuses of Thrift's SASL transport.
const (
	// StatusStart opens the negotiation; its payload is the mechanism name.
	StatusStart Status = 1
	// StatusOK carries a challenge or a response; the exchange goes on.
	StatusOK Status = 2
	// StatusBad rejects the peer's message (an authentication failure, an
	// unknown mechanism); its payload is a message for people.
	StatusBad Status = 3
	// StatusError reports a failure of the sender itself; its payload is a
	// message for people.
	StatusError Status = 4
	// StatusComplete tells that the sender has finished its side of the
	// exchange; its payload is the sender's last data, often empty.
	StatusComplete Status = 5
)

// String returns the name Thrift gives the status ("START", "OK", ...).
func (s Status) String() string {
	switch s {
	case StatusStart:
		return "START"
	case StatusOK:
		return "OK"
	case StatusBad:
		return "BAD"
	case StatusError:
		return "ERROR"
	case StatusComplete:
		return "COMPLETE"
	}
	return fmt.Sprintf("Status(%d)", byte(s))
}

// valid reports whether s is one of the five statuses of the protocol.
func (s Status) valid() bool { return s >= StatusStart && s <= StatusComplete }

const (
	// messageHeaderLen is the status byte plus the 4-byte payload length.
	messageHeaderLen = 5
	// frameHeaderLen is the 4-byte length before every data frame.
	frameHeaderLen = 4
	// maxWireLen is the largest length the peers accept: Thrift's Java and
	// C++ transports read the length as a signed 32-bit integer.
	maxWireLen = math.MaxInt32
)

// message is one negotiation message.
type message struct {
	status  Status
	payload []byte
}

// messageHeaderError is a negotiation header that is not a valid SASL
// header: an unknown status byte, or a length over the limit.
type messageHeaderError struct {
	header [messageHeaderLen]byte
	// badStatus is set when the status byte is unknown; otherwise the
	// length was too large.
	badStatus bool
	length    uint32
	limit     int
}

func (e *messageHeaderError) Error() string {
	if e.badStatus {
		return fmt.Sprintf("sasl: invalid negotiation status byte %d (header bytes %q)", e.header[0], e.header[:])
	}
	return fmt.Sprintf("sasl: negotiation message of %d bytes exceeds the limit of %d (header bytes %q)",
		e.length, e.limit, e.header[:])
}

func (e *messageHeaderError) Unwrap() error {
	if e.badStatus {
		return ErrProtocol
	}
	return ErrFrameTooLarge
}

// readMessage reads one negotiation message whose payload is at most limit
// bytes. The payload is allocated only after the length passed the limit
// check, so a lying header costs nothing. A stream that ends before the
// first header byte gives io.EOF; one that ends inside a message gives
// io.ErrUnexpectedEOF.
func readMessage(r io.Reader, limit int) (message, error) {
	var hdr [messageHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return message{}, err
	}
	st := Status(hdr[0])
	n := binary.BigEndian.Uint32(hdr[1:])
	if !st.valid() {
		return message{}, &messageHeaderError{header: hdr, badStatus: true, length: n, limit: limit}
	}
	if uint64(n) > uint64(limit) {
		return message{}, &messageHeaderError{header: hdr, length: n, limit: limit}
	}
	m := message{status: st}
	if n == 0 {
		return m, nil
	}
	m.payload = make([]byte, n)
	if _, err := io.ReadFull(r, m.payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return message{}, err
	}
	return m, nil
}

// appendMessage appends the encoding of one negotiation message to dst.
func appendMessage(dst []byte, st Status, payload []byte) ([]byte, error) {
	if len(payload) > maxWireLen {
		return dst, fmt.Errorf("sasl: negotiation payload of %d bytes is too large for the wire: %w", len(payload), ErrFrameTooLarge)
	}
	dst = append(dst, byte(st))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...), nil
}
