package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/jwttest"
)

// TestImpalaShellHTTP runs impala-shell 4.6 with --protocol hs2-http
// against cmd/impalad's HTTP listener: no authentication (-q and -f), LDAP
// (-l, Basic), Kerberos (-k -b, SPNEGO against the real KDC) and JWT (-j
// --jwt_cmd); a wrong password and an unknown principal are refused.
func TestImpalaShellHTTP(t *testing.T) {
	venv(t)
	dir := t.TempDir()
	t.Run("no auth", func(t *testing.T) {
		p := startImpalad(t, "--hs2_http_port=0")
		require.NotEmpty(t, p.HTTP)
		r := shell(t, nil, "-i", p.HTTP, "--protocol=hs2-http", "-B", "-q", "select * from gen.rows_20")
		require.Equal(t, shellRows(20, styleHS2), lines(r.Stdout))
		require.Contains(t, r.Stderr, "Fetched 20 row(s)")
		script := strings.Join([]string{
			"create database interop_http;",
			"use interop_http;",
			"create table t (id int, s string);",
			"insert into t values (1, 'one'), (2, NULL);",
			"set mem_limit=1g;",
			"select * from t;",
		}, "\n")
		file := filepath.Join(t.TempDir(), "script.sql")
		require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
		r = shell(t, nil, "-i", p.HTTP, "--protocol=hs2-http", "--http_path=gateway/impala", "-B", "-f", file)
		require.Equal(t, []string{"Database has been created.", "Table has been created.", "1\tone", "2\tNULL"}, lines(r.Stdout))
		require.Contains(t, r.Stderr, "Modified 2 row(s)")
	})
	t.Run("ldap", func(t *testing.T) {
		users := filepath.Join(dir, "users")
		require.NoError(t, os.WriteFile(users, []byte(ldapUser+":"+ldapPassword+"\n"), 0o600))
		p := startImpalad(t, "--hs2_http_port=0", "--ldap_users="+users)
		r := shell(t, nil, "-i", p.HTTP, "--protocol=hs2-http", "-l", "-u", ldapUser, "--auth_creds_ok_in_clear",
			"--ldap_password_cmd=echo -n "+ldapPassword, "-B", "-q", "select * from gen.rows_9; select user()")
		require.Equal(t, append(shellRows(9, styleHS2), ldapUser), lines(r.Stdout))
		bad := run(t, nil, "impala-shell", "-i", p.HTTP, "--protocol=hs2-http", "-l", "-u", ldapUser, "--auth_creds_ok_in_clear",
			"--ldap_password_cmd=echo -n wrong", "-B", "-q", "select 1")
		require.Error(t, bad.Err)
		require.Empty(t, bad.Stdout)
		require.Contains(t, bad.Stderr, "401")
	})
	t.Run("kerberos", func(t *testing.T) {
		k, p, env := krbSetup(t, "--hs2_http_port=0")
		r := shell(t, env, "-i", p.HTTP, "--protocol=hs2-http", "-k", "-b", k.LBHost, "-B", "-q", "select * from gen.rows_10; select user()")
		require.Equal(t, append(shellRows(10, styleHS2), k.UserPrincipal()), lines(r.Stdout))
		k.AddPrincipal(t, k.HostPrincipal("other.impalalb.test"))
		bad := run(t, env, "impala-shell", "-i", p.HTTP, "--protocol=hs2-http", "-k", "-b", "other.impalalb.test", "-B", "-q", "select 1")
		require.Error(t, bad.Err)
		require.Empty(t, bad.Stdout)
	})
	t.Run("jwt", func(t *testing.T) {
		is, err := jwttest.New("interop")
		require.NoError(t, err)
		jwks, err := is.WriteJWKS(dir)
		require.NoError(t, err)
		p := startImpalad(t, "--hs2_http_port=0", "--jwks_file_path="+jwks, "--jwt_allow_without_tls")
		tok := filepath.Join(dir, "token")
		require.NoError(t, os.WriteFile(tok, []byte(is.Token("carol", time.Hour, nil)), 0o600))
		r := shell(t, nil, "-i", p.HTTP, "--protocol=hs2-http", "-j", "--jwt_cmd=cat "+tok, "--auth_creds_ok_in_clear",
			"-B", "-q", "select * from gen.rows_5; select user()")
		require.Equal(t, append(shellRows(5, styleHS2), "carol"), lines(r.Stdout))
		require.NoError(t, os.WriteFile(tok, []byte(is.Token("carol", -time.Hour, nil)), 0o600))
		bad := run(t, nil, "impala-shell", "-i", p.HTTP, "--protocol=hs2-http", "-j", "--jwt_cmd=cat "+tok, "--auth_creds_ok_in_clear",
			"-B", "-q", "select 1")
		require.Error(t, bad.Err)
		require.Empty(t, bad.Stdout)
	})
}

// TestImpylaHTTP runs impyla 0.24 with use_http_transport=True against
// cmd/impalad's HTTP listener, for every scalar type with NULLs: NOSASL,
// LDAP (Basic), GSSAPI (SPNEGO with krb_host) and JWT.
func TestImpylaHTTP(t *testing.T) {
	venv(t)
	const n = 1500
	want := append(impylaGen(n), "done")
	q := fmt.Sprintf("select * from gen.rows_%d", n)
	httpOpts := []string{"use_http_transport=true", "http_path=cliservice"}
	t.Run("NOSASL", func(t *testing.T) {
		p := startImpalad(t, "--hs2_http_port=0")
		require.Equal(t, want, impyla(t, nil, p.HTTP, "NOSASL", httpOpts, q))
	})
	t.Run("LDAP", func(t *testing.T) {
		users := filepath.Join(t.TempDir(), "users")
		require.NoError(t, os.WriteFile(users, []byte(ldapUser+":"+ldapPassword+"\n"), 0o600))
		p := startImpalad(t, "--hs2_http_port=0", "--ldap_users="+users)
		got := impyla(t, nil, p.HTTP, "LDAP", append([]string{"user=" + ldapUser, "password=" + ldapPassword}, httpOpts...), q)
		require.Equal(t, want, got)
	})
	t.Run("GSSAPI", func(t *testing.T) {
		k, p, env := krbSetup(t, "--hs2_http_port=0")
		got := impyla(t, env, p.HTTP, "GSSAPI", append([]string{"krb_host=" + k.LBHost, "kerberos_service_name=impala"}, httpOpts...), q)
		require.Equal(t, want, got)
	})
	t.Run("JWT", func(t *testing.T) {
		dir := t.TempDir()
		is, err := jwttest.New("interop")
		require.NoError(t, err)
		jwks, err := is.WriteJWKS(dir)
		require.NoError(t, err)
		p := startImpalad(t, "--hs2_http_port=0", "--jwks_file_path="+jwks, "--jwt_allow_without_tls")
		got := impyla(t, nil, p.HTTP, "JWT", append([]string{"jwt=" + is.Token("dave", time.Hour, nil)}, httpOpts...), "select user()")
		require.Equal(t, []string{"stmt select user()", "col user() STRING", "row", "val str:dave", "done"}, got)
	})
}
