package interop

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// impyla runs impyla_check.py (connect, cursor execute and fetch) and
// returns its output lines.
func impyla(t *testing.T, env []string, addr, auth string, opts []string, stmts ...string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	script, err := filepath.Abs("impyla_check.py")
	require.NoError(t, err)
	args := append([]string{script, host, port, auth}, opts...)
	args = append(append(args, "--"), stmts...)
	r := run(t, env, "python", args...)
	require.NoError(t, r.Err, "impyla %s\nstdout:\n%s\nstderr:\n%s", auth, r.Stdout, r.Stderr)
	return lines(r.Stdout)
}

// impylaGen is what impyla_check.py prints for "select * from gen.rows_n".
func impylaGen(n int) []string {
	schema := impalad.GenSchema()
	out := []string{fmt.Sprintf("stmt select * from gen.rows_%d", n)}
	for _, c := range schema {
		out = append(out, "col "+c.Name+" "+impylaTypeName(c.Type))
	}
	for r := range n {
		out = append(out, "row")
		for c, col := range schema {
			out = append(out, "val "+pyValue(col.Type, impalad.GenValue(c, int64(r))))
		}
	}
	return out
}

// impylaTypeName is the type name impyla's cursor.description gives: the
// HS2 type without parameters.
func impylaTypeName(t impalad.Type) string {
	s := strings.ToUpper(t.String())
	s, _, _ = strings.Cut(s, "(")
	return s
}

// TestImpyla runs impyla's connect + cursor execute/fetch for every scalar
// type, with NULLs, with auth_mechanism NOSASL, PLAIN (also over TLS) and
// GSSAPI with krb_host.
func TestImpyla(t *testing.T) {
	venv(t)
	const n = 1500 // more than one 1024-row batch
	want := append(impylaGen(n), "done")

	t.Run("NOSASL", func(t *testing.T) {
		p := startImpalad(t)
		got := impyla(t, nil, p.HS2, "NOSASL", nil, fmt.Sprintf("select * from gen.rows_%d", n))
		require.Equal(t, want, got)
		got = impyla(t, nil, p.HS2, "NOSASL", nil,
			"select cast(null as int), cast(null as string), 1, 'x', cast(2.5 as double), true")
		require.Equal(t, []string{
			"stmt select cast(null as int), cast(null as string), 1, 'x', cast(2.5 as double), true",
			"col cast(null as int) INT", "col cast(null as string) STRING", "col 1 TINYINT",
			"col 'x' STRING", "col cast(2.5 as double) DOUBLE", "col true BOOLEAN",
			"row", "val None", "val None", "val int:1", "val str:x", "val float:2.5", "val True",
			"done",
		}, got)
	})

	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte(ldapUser+":"+ldapPassword+"\n"), 0o600))
	t.Run("PLAIN", func(t *testing.T) {
		p := startImpalad(t, "--ldap_users="+users)
		got := impyla(t, nil, p.HS2, "PLAIN", []string{"user=" + ldapUser, "password=" + ldapPassword},
			fmt.Sprintf("select * from gen.rows_%d", n))
		require.Equal(t, want, got)
		host, port, _ := net.SplitHostPort(p.HS2)
		script, _ := filepath.Abs("impyla_check.py")
		bad := run(t, nil, "python", script, host, port, "PLAIN", "user="+ldapUser, "password=wrong", "--", "select 1")
		require.Error(t, bad.Err)
		require.NotContains(t, bad.Stdout, "done")
	})
	t.Run("PLAIN over TLS", func(t *testing.T) {
		ca, err := certtest.NewCA("interop CA")
		require.NoError(t, err)
		srv, err := ca.Server("localhost", "127.0.0.1")
		require.NoError(t, err)
		caFile, err := ca.WriteCertFile(dir, "ca.pem")
		require.NoError(t, err)
		certFile, keyFile, err := srv.WriteFiles(dir, "server")
		require.NoError(t, err)
		p := startImpalad(t, "--ldap_users="+users, "--tls_cert="+certFile, "--tls_key="+keyFile)
		got := impyla(t, nil, p.HS2, "PLAIN", []string{"user=" + ldapUser, "password=" + ldapPassword,
			"use_ssl=true", "ca_cert=" + caFile}, "select * from gen.rows_40")
		require.Equal(t, append(impylaGen(40), "done"), got)
	})
	t.Run("GSSAPI", func(t *testing.T) {
		k, p, env := krbSetup(t)
		got := impyla(t, env, p.HS2, "GSSAPI", []string{"krb_host=" + k.LBHost, "kerberos_service_name=impala"},
			fmt.Sprintf("select * from gen.rows_%d", n))
		require.Equal(t, want, got)
	})
}

// TestImpylaImpalaErrors: impyla reports the test coordinator's errors as
// Impala 4.5's (the query id, INSERT's type check), and a statement that
// fails at run time (a DECIMAL division by zero) as an error too.
func TestImpylaImpalaErrors(t *testing.T) {
	venv(t)
	p := startImpalad(t)
	host, port, err := net.SplitHostPort(p.HS2)
	require.NoError(t, err)
	script, err := filepath.Abs("impyla_check.py")
	require.NoError(t, err)
	require.Equal(t, []string{"stmt create table imp (ti tinyint)", "col summary STRING", "row", "val str:Table has been created.",
		"stmt select count(*) from imp", "col count(*) BIGINT", "row", "val int:0", "done"},
		impyla(t, nil, p.HS2, "NOSASL", nil, "create table imp (ti tinyint)", "select count(*) from imp"))
	for q, want := range map[string]string{
		"insert into imp values (300)": "AnalysisException: Possible loss of precision for target table 'default.imp'.",
		"select 1.0/0":                 "UDF ERROR: Cannot divide decimal by zero",
	} {
		r := run(t, nil, "python", script, host, port, "NOSASL", "--", q)
		require.Error(t, r.Err, q)
		require.Regexp(t, `Query [0-9a-f]{16}:[0-9a-f]{16} failed:`, r.Stderr, q)
		require.Contains(t, r.Stderr, want, q)
	}
}
