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
// --jwt_cmd) over TLS, balanced over two coordinators, and in local mode;
// neither the password nor a token, good or refused, is ever printed.
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
	tok, token := filepath.Join(dir, "token"), is.Token("carol", time.Hour, nil)
	require.NoError(t, os.WriteFile(tok, []byte(token), 0o600))
	expiredTok, expired := filepath.Join(dir, "expired"), is.Token("carol", -time.Hour, nil)
	require.NoError(t, os.WriteFile(expiredTok, []byte(expired), 0o600))
	// printed gathers everything the shell printed, grepped at the end.
	var printed strings.Builder
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
	printed.WriteString(out + errs)

	code, out, errs = runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-j",
		"--jwt_cmd", "cat "+tok, "-B", "-q", "select user()")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "carol\n", out)
	printed.WriteString(out + errs)

	code, out, errs = runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-j",
		"--jwt_cmd", "cat "+expiredTok, "-V", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "401 Unauthorized")
	printed.WriteString(out + errs)

	code, _, errs = runShell(t, "-i", list, "--protocol", "hs2-http", "--ssl", "--ca_cert", caFile, "-l", "-u", "alice",
		"--ldap_password_cmd", "printf wrong", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "401 Unauthorized")
	require.NotContains(t, errs, "wrong")
	printed.WriteString(out + errs)

	code, out, errs = runShell(t, "--local", "2", "--protocol", "hs2-http", "-B", "-q", "select 1")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)

	require.NotEmpty(t, printed.String())
	for _, s := range []string{"s3cret", token, expired, strings.Split(token, ".")[2], strings.Split(expired, ".")[2]} {
		require.NotContains(t, printed.String(), s)
	}
}
