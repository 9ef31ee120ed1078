package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadUsers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.txt")
	require.NoError(t, os.WriteFile(p, []byte("# comment\nalice:pw1\n\nbob:p:w\n"), 0o600))
	users, err := readUsers(p)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"alice": "pw1", "bob": "p:w"}, users)

	require.NoError(t, os.WriteFile(p, []byte("nopassword\n"), 0o600))
	_, err = readUsers(p)
	require.ErrorContains(t, err, "line 1")
	require.NotContains(t, err.Error(), "nopassword")
}

func TestRunBadFlags(t *testing.T) {
	require.Error(t, run([]string{"--no_such_flag"}))
	require.Error(t, run([]string{"--tls_cert=missing.pem", "--tls_key=missing.key"}))
	require.Error(t, run([]string{"--ldap_users=" + filepath.Join(t.TempDir(), "none")}))
	require.Error(t, run([]string{"--keytab=" + filepath.Join(t.TempDir(), "none")}))
	require.Error(t, run([]string{"--keytab=x", "--kerberos_qop=bogus"}))
	require.Error(t, run([]string{"--coordinators=0"}))
	require.ErrorContains(t, run([]string{"--hs2_http_port=0", "--jwks_file_path=" + filepath.Join(t.TempDir(), "none")}), "JWT authentication should be only used with TLS enabled.")
	require.ErrorContains(t, run([]string{"--hs2_http_port=0", "--jwt_allow_without_tls", "--jwks_file_path=" + filepath.Join(t.TempDir(), "none")}), "JWKS file")
}
