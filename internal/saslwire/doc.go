// Package saslwire is the wire of Thrift's SASL transport, shared by the
// client (package conn/sasl) and the test coordinator's server
// (internal/saslserver): the negotiation messages (a status byte, a 4-byte
// big-endian length, the payload), the data frames (a 4-byte length and
// the payload, wrapped by a security layer when one was negotiated) and
// the Transport that carries both. Each side runs its own negotiation on
// it and reports failures with sasl.HandshakeError; the sentinel errors
// here are the ones package sasl exports.
package saslwire
