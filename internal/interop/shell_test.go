package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/testenv"
)

const (
	ldapUser     = "alice"
	ldapPassword = "interop-pw"
)

// shell runs impala-shell and requires it to succeed; it returns stdout.
func shell(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := run(t, env, "impala-shell", args...)
	require.NoError(t, r.Err, "impala-shell %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r
}

// lines splits output into lines without the final newline.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestImpalaShellNoAuth runs impala-shell over HS2 and beeswax, with -q and
// -f, against cmd/impalad without authentication.
func TestImpalaShellNoAuth(t *testing.T) {
	venv(t)
	p := startImpalad(t)
	const q = "select * from gen.rows_20"

	t.Run("hs2 -q", func(t *testing.T) {
		r := shell(t, nil, "-i", p.HS2, "--protocol=hs2", "-B", "-q", q)
		require.Equal(t, shellRows(20, styleHS2), lines(r.Stdout))
		require.Contains(t, r.Stderr, "Fetched 20 row(s)")
	})
	t.Run("beeswax -q", func(t *testing.T) {
		r := shell(t, nil, "-i", p.Beeswax, "--protocol=beeswax", "-B", "-q", q)
		require.Equal(t, shellRows(20, styleBeeswax), lines(r.Stdout))
		require.Contains(t, r.Stderr, "Fetched 20 row(s)")
	})
	for _, proto := range []string{"hs2", "beeswax"} {
		t.Run(proto+" -f", func(t *testing.T) {
			addr := p.HS2
			if proto == "beeswax" {
				addr = p.Beeswax
			}
			db := "interop_" + proto
			script := strings.Join([]string{
				"create database " + db + ";",
				"use " + db + ";",
				"create table t (id int, s string, d decimal(5,2));",
				"insert into t values (1, 'one', 1.50), (2, NULL, NULL);",
				"set mem_limit=1g;",
				"select * from t;",
				"select count(*) from t;",
				"show tables;",
				"select 'tab\there', cast(7 as tinyint), 1.25, true;",
				"create table ice (id int) stored as iceberg tblproperties ('format-version'='2');",
				"insert into ice values (1), (2), (3);",
				"delete from ice where id > 1;",
			}, "\n")
			file := filepath.Join(t.TempDir(), "script.sql")
			require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
			r := shell(t, nil, "-i", addr, "--protocol="+proto, "-B", "-f", file)
			// Over HS2 the shell knows the string is one value and
			// quotes it; beeswax's text rows cannot tell (its known gap).
			last := "\"tab\there\"\t7\t1.25\ttrue"
			if proto == "beeswax" {
				last = "tab\there\t7\t1.25\ttrue"
			}
			require.Equal(t, []string{
				"Database has been created.",
				"Table has been created.",
				"1\tone\t1.50",
				"2\tNULL\tNULL",
				"2",
				"t",
				last,
				"Table has been created.",
			}, lines(r.Stdout))
			require.Contains(t, r.Stderr, "Modified 2 row(s)")
			// An Iceberg DELETE's DML result (0 modified, 2 deleted), and
			// no row errors but for Kudu tables.
			require.Contains(t, r.Stderr, "Modified 3 row(s) in")
			require.Contains(t, r.Stderr, "Deleted 2 row(s) in")
			require.NotContains(t, r.Stderr, "row error")
			require.Contains(t, r.Stderr, "MEM_LIMIT set to 1g")
		})
	}
	t.Run("error", func(t *testing.T) {
		r := run(t, nil, "impala-shell", "-i", p.HS2, "--protocol=hs2", "-B", "-q", "select nosuchcolumn from gen.rows_1")
		require.Error(t, r.Err, "a failing statement makes impala-shell exit non-zero")
		require.Contains(t, r.Stderr, "AnalysisException")
	})
}

// TestImpalaShellLDAP runs impala-shell -l (SASL PLAIN) with the right and
// a wrong password.
func TestImpalaShellLDAP(t *testing.T) {
	venv(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte(ldapUser+":"+ldapPassword+"\n"), 0o600))
	p := startImpalad(t, "--ldap_users="+users)
	for _, proto := range []string{"hs2", "beeswax"} {
		addr := p.HS2
		if proto == "beeswax" {
			addr = p.Beeswax
		}
		t.Run(proto, func(t *testing.T) {
			r := shell(t, nil, "-i", addr, "--protocol="+proto, "-l", "-u", ldapUser, "--auth_creds_ok_in_clear",
				"--ldap_password_cmd=echo -n "+ldapPassword, "-B", "-q", "select * from gen.rows_9")
			style := styleHS2
			if proto == "beeswax" {
				style = styleBeeswax
			}
			require.Equal(t, shellRows(9, style), lines(r.Stdout))

			bad := run(t, nil, "impala-shell", "-i", addr, "--protocol="+proto, "-l", "-u", ldapUser, "--auth_creds_ok_in_clear",
				"--ldap_password_cmd=echo -n wrong", "-B", "-q", "select 1")
			require.Error(t, bad.Err)
			require.Empty(t, bad.Stdout)
			require.NotContains(t, bad.Stderr+bad.Stdout, ldapPassword)
		})
	}
}

// TestImpalaShellTLS runs impala-shell --ssl --ca_cert, with and without
// LDAP.
func TestImpalaShellTLS(t *testing.T) {
	venv(t)
	dir := t.TempDir()
	ca, err := certtest.NewCA("interop CA")
	require.NoError(t, err)
	srv, err := ca.Server("localhost", "127.0.0.1")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	certFile, keyFile, err := srv.WriteFiles(dir, "server")
	require.NoError(t, err)
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte(ldapUser+":"+ldapPassword+"\n"), 0o600))
	p := startImpalad(t, "--tls_cert="+certFile, "--tls_key="+keyFile, "--ldap_users="+users)
	for _, proto := range []string{"hs2", "beeswax"} {
		addr := p.HS2
		style := styleHS2
		if proto == "beeswax" {
			addr, style = p.Beeswax, styleBeeswax
		}
		t.Run(proto, func(t *testing.T) {
			r := shell(t, nil, "-i", addr, "--protocol="+proto, "--ssl", "--ca_cert="+caFile, "-l", "-u", ldapUser,
				"--ldap_password_cmd=echo -n "+ldapPassword, "-B", "-q", "select * from gen.rows_12")
			require.Equal(t, shellRows(12, style), lines(r.Stdout))
		})
	}
	t.Run("wrong CA", func(t *testing.T) {
		other, err := certtest.NewCA("another CA")
		require.NoError(t, err)
		otherFile, err := other.WriteCertFile(dir, "other.pem")
		require.NoError(t, err)
		r := run(t, nil, "impala-shell", "-i", p.HS2, "--ssl", "--ca_cert="+otherFile, "-l", "-u", ldapUser,
			"--ldap_password_cmd=echo -n "+ldapPassword, "-B", "-q", "select 1")
		require.Error(t, r.Err)
		require.Contains(t, r.Stderr, "CERTIFICATE_VERIFY_FAILED")
	})
}

// krbSetup starts a KDC, a Kerberos cmd/impalad whose keytab holds its own
// and the load balancer's principal, and gets alice a TGT with MIT's kinit.
// It returns the KDC, the coordinator and the environment for clients.
func krbSetup(t *testing.T, args ...string) (*kdctest.KDC, *testenv.ImpaladProcess, []string) {
	const host = "coord1.impalalb.test"
	k := kdctest.Start(t, kdctest.Options{Hosts: []string{host}})
	p := startImpalad(t, append([]string{"--keytab=" + k.Keytab(host)}, args...)...)
	ccache := filepath.Join(t.TempDir(), "ccache")
	k.Kinit(t, ccache)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	return k, p, env
}

// TestImpalaShellKerberos runs impala-shell -k -b <lb fqdn> against the
// real KDC: the shell asks for a ticket for impala/<lb fqdn> and connects
// to the coordinator by address (-i 127.0.0.1:port), as behind a proxy;
// the coordinator's keytab holds the LB principal. No name resolves
// through DNS: -b only names the service principal.
func TestImpalaShellKerberos(t *testing.T) {
	venv(t)
	k, p, env := krbSetup(t)
	for _, proto := range []string{"hs2", "beeswax"} {
		addr := p.HS2
		style := styleHS2
		if proto == "beeswax" {
			addr, style = p.Beeswax, styleBeeswax
		}
		t.Run(proto, func(t *testing.T) {
			r := shell(t, env, "-i", addr, "--protocol="+proto, "-k", "-b", k.LBHost, "-B", "-q", "select * from gen.rows_10")
			require.Equal(t, shellRows(10, style), lines(r.Stdout))
		})
	}
	t.Run("no ticket", func(t *testing.T) {
		noCache := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "none")}
		r := run(t, noCache, "impala-shell", "-i", p.HS2, "-k", "-b", k.LBHost, "-B", "-q", "select 1")
		require.Error(t, r.Err)
		require.Empty(t, r.Stdout)
	})
	t.Run("unknown service principal", func(t *testing.T) {
		// A principal that exists in the realm but is not in the
		// coordinator's keytab: the coordinator must refuse the ticket.
		k.AddPrincipal(t, k.HostPrincipal("other.impalalb.test"))
		r := run(t, env, "impala-shell", "-i", p.HS2, "-k", "-b", "other.impalalb.test", "-B", "-q", "select 1")
		require.Error(t, r.Err)
		require.Empty(t, r.Stdout)
	})
}

// TestImpalaShellImpalaSemantics runs impala-shell against what the test
// coordinator does as Impala 4.5 does: errors naming the query id, INSERT's
// type checks, a DECIMAL division by zero failing at run time, beeswax's
// float text, the server version of the pings.
func TestImpalaShellImpalaSemantics(t *testing.T) {
	venv(t)
	p := startImpalad(t)
	fails := func(addr, proto, q string) string {
		t.Helper()
		r := run(t, nil, "impala-shell", "-i", addr, "--protocol="+proto, "-B", "-q", q)
		require.Error(t, r.Err, "%s: a failing statement makes impala-shell exit non-zero", q)
		return r.Stderr
	}
	shell(t, nil, "-i", p.HS2, "--protocol=hs2", "-q", "create table sem (ti tinyint)")
	require.Regexp(t, `ERROR: Query [0-9a-f]{16}:[0-9a-f]{16} failed:\nAnalysisException: Possible loss of precision for target table 'default\.sem'\.\nExpression '300' \(type: SMALLINT\) would need to be cast to TINYINT for column 'ti'`,
		fails(p.HS2, "hs2", "insert into sem values (300)"))
	require.Contains(t, fails(p.HS2, "hs2", "select 1.0/0"), "UDF ERROR: Cannot divide decimal by zero")
	require.Contains(t, fails(p.Beeswax, "beeswax", "select 1.0/0"), "UDF ERROR: Cannot divide decimal by zero")
	r := shell(t, nil, "-i", p.Beeswax, "--protocol=beeswax", "-B", "-q", "select cast(1e6 as double), cast(0.1 as float), 1/0")
	require.Equal(t, []string{"1000000\t0.1000000014901161\tInfinity"}, lines(r.Stdout))
	for _, c := range []struct{ addr, proto string }{{p.HS2, "hs2"}, {p.Beeswax, "beeswax"}} {
		r = shell(t, nil, "-i", c.addr, "--protocol="+c.proto, "-q", "version")
		require.Contains(t, r.Stdout+r.Stderr, "impalad version "+impalad.DefaultVersion+" RELEASE (build ", c.proto)
	}
}
