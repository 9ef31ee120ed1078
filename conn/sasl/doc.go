// Package sasl is the client side of Thrift's SASL transport, the
// interface a SASL mechanism implements, and the SASL PLAIN mechanism.
// Impala's HiveServer2 and beeswax ports speak it when LDAP (PLAIN) or
// Kerberos (GSSAPI, in package kerberos) is on.
//
// # Wire format
//
// The negotiation is a series of messages, each a status byte, a 4-byte
// big-endian payload length and the payload:
//
//	START(1)    client → server: the mechanism name
//	OK(2)       a challenge or a response; the exchange goes on
//	BAD(3)      the sender rejects the exchange; payload: a message
//	ERROR(4)    the sender failed; payload: a message
//	COMPLETE(5) the sender has finished; payload: its last data
//
// The client sends START and, right after it, its initial response with
// OK (COMPLETE when its mechanism is already done, see [Completer]). The
// server answers each client message with OK and a challenge, or with
// COMPLETE when it has authenticated the client. After COMPLETE each Thrift
// message travels in a data frame: a 4-byte big-endian length and the
// payload, wrapped by the mechanism's [SecurityLayer] when a quality of
// protection other than "auth" was negotiated.
//
// # Client
//
//	mech := sasl.NewPlain("alice", password)
//	tr, err := sasl.NewClient(conn, mech, sasl.Config{})
//	if err != nil {
//		return err
//	}
//	if err := tr.Handshake(ctx, "impalad-1.example.com"); err != nil {
//		return err // *HandshakeError; conn is closed
//	}
//	proto := thrift.NewTBinaryProtocolConf(tr, &thrift.TConfiguration{})
//
// [Transport] implements thrift.TTransport: Write buffers, Flush sends one
// frame, Read serves frames as they come. Reads are bounded by
// [Config].MaxFrameSize (16 MiB by default): a frame header that claims more
// fails with [ErrFrameTooLarge] before anything of that size is allocated,
// and even an allowed frame costs memory only as its bytes arrive.
//
// # Errors
//
// Handshake failures are [*HandshakeError] values that name the mechanism
// and the step, and quote the server's BAD or ERROR message.
// errors.Is tells the cases apart: [ErrRejected] (the peer refused, e.g. a
// wrong password: the coordinator itself is fine), [ErrNotSASL] (the port
// answered with something that is not SASL: an HTTP endpoint or a server
// without SASL), [ErrProtocol], [ErrFrameTooLarge], io.EOF, and the context
// errors. No error, log record or String output holds a password.
package sasl
