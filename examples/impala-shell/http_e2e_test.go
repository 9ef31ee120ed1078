package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/jwttest"
)

// TestHS2HTTP: --protocol hs2-http with LDAP (-l) and with a JWT (-j
// --jwt_cmd) over TLS, balanced over two coordinators, and in local mode.
func TestHS2HTTP(t *testing.T) {
	dir := t.TempDir()
	ca, err := certtest.NewCA("shell test CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	is, err := jwttest.New("k1")
	require.NoError(t, err)
	jwks, err := is.WriteJWKS(dir)
	require.NoError(t, err)
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte(is.Token("carol", time.Hour, nil)), 0o600))
	cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{
		HS2HTTPAddr: "127.0.0.1:0",
		TLS:         &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}},
		Users:       map[string]string{"alice": "s3cret"},
		JWKSFile:    jwks,
	})
	require.NoError(t, err)
	addrs := make([]string, len(cos))
	for i, co := range cos {
		t.Cleanup(func() { _ = co.Close() })
		addrs[i] = co.HS2HTTPAddr()
	}
	list := strings.Join(addrs, ",")

	code, out, errs := runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-l", "-u", "alice",
		"--ldap_password_cmd", "printf s3cret", "-B", "-q", "select user()")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "alice\n", out)

	code, out, errs = runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-j",
		"--jwt_cmd", "cat "+tok, "-B", "-q", "select user()")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "carol\n", out)

	code, _, errs = runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-l", "-u", "alice",
		"--ldap_password_cmd", "printf wrong", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "401 Unauthorized")
	require.NotContains(t, errs, "wrong")

	code, out, errs = runShell(t, "--local", "2", "--protocol", "hs2-http", "-B", "-q", "select 1")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)
}
