// Package krbacceptor is the server side of SASL GSSAPI (RFC 4752) for the
// test coordinator (internal/impalad) and the tests: an [Acceptor] accepts
// Kerberos tickets for the principals of a keytab, answers with an AP-REP
// carrying an acceptor subkey, and offers the security layers of
// Config.QOP; each handshake is one [Mechanism], a saslserver.Mechanism.
// It shares the GSS-API token code with the client, package kerberos,
// through internal/gss, and reports failures as *kerberos.Error values.
// It is cross-checked in the tests against MIT krb5's GSS-API
// (python3-gssapi) and a real MIT KDC.
//
//	acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: keytab})
//	co, err := impalad.Start(impalad.Config{
//		Mechanisms: map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()},
//	})
package krbacceptor
