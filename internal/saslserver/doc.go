// Package saslserver is the server side of Thrift's SASL transport, for the
// test coordinator (internal/impalad) and the tests: Accept runs the
// negotiation against a set of server mechanisms (PLAIN here, GSSAPI in
// internal/krbacceptor) and returns the open transport with the
// authenticated user. It shares the wire with the client, package
// conn/sasl, through internal/saslwire, and reports failures with
// sasl.HandshakeError (Side "server").
//
//	tr, user, err := saslserver.Accept(conn, map[string]saslserver.MechanismFactory{
//		sasl.PlainName: saslserver.NewPlain(checkPassword),
//	}, sasl.Config{})
package saslserver
