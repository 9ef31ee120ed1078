// Package certtest makes throwaway certificate authorities and certificates
// for tests: a root CA, optional intermediate CAs, server certificates whose
// subject alternative names are DNS names and IP addresses, and client
// certificates for mutual TLS. Keys are ECDSA P-256, so that a test can make
// dozens of them in a few milliseconds.
//
// A typical test:
//
//	ca, err := certtest.NewCA("impalalb test CA")
//	require.NoError(t, err)
//	srv, err := ca.Server("lb.impala.test", "coord1.impala.test", "127.0.0.1")
//	require.NoError(t, err)
//	dir := t.TempDir()
//	caFile, err := ca.WriteCertFile(dir, "ca.pem")
//	require.NoError(t, err)
//	certFile, keyFile, err := srv.WriteFiles(dir, "server")
//	require.NoError(t, err)
//
// Files are written atomically (a temporary file renamed over the target), so
// a test that rotates certificates while handshakes run never lets a reader
// see a half-written file.
//
// Nothing here is fit for production use: the keys are made for one test
// run and written unencrypted.
package certtest
