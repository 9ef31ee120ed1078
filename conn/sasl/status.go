package sasl

import "fmt"

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
