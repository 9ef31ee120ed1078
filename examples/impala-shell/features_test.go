package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// sent returns the statements the coordinators received, in no set order
// between coordinators.
func sent(cos []*impalad.Coordinator) []impalad.Statement {
	var all []impalad.Statement
	for _, co := range cos {
		all = append(all, co.Statements()...)
	}
	return all
}

// texts returns the text of each statement.
func texts(sts []impalad.Statement) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.Text
	}
	return out
}

func TestQueryWithVars(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	code, out, errs := runShell(t, "-i", addrs, "--var", "n=7", "--var=S=hi", "--var=both=${var:n}${VAR:s}", "-B",
		"-q", "select ${var:n} as n, '${VAR:s}' -- ${var:both}\n, '${hivevar:Both}'; select '\\${var:n}'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "7\thi\t7hi\n${var:n}\n", out)
	require.Contains(t, errs, "Query: select 7 as n, 'hi' -- 7hi\n, '7hi'\n")

	// An undefined variable: the statement is not sent, and -q stops there.
	code, out, errs = runShell(t, "-i", addrs, "-B", "-q", "select 1; select ${var:nope} -- or ${oops}\n; select 2")
	require.Equal(t, 1, code)
	require.Equal(t, "1\n", out)
	require.Contains(t, errs, "Error: Unknown variable NOPE\n")
	require.Contains(t, errs, "Error: Unknown substitution syntax (OOPS). Use ${VAR:var_name}.\n")
	require.Contains(t, errs, "Could not execute command: select ${var:nope} -- or ${oops}\n")
	for _, text := range texts(sent(cos)) {
		require.NotContains(t, text, "nope", "a statement with an undefined variable was sent")
		require.NotContains(t, text, "select 2", "the statements after it did not run")
	}

	// -c goes on, and impala-shell's status then says all is well.
	code, out, _ = runShell(t, "-i", addrs, "-B", "-c", "-q", "select ${var:nope}; select 2")
	require.Equal(t, 0, code)
	require.Equal(t, "2\n", out)

	// A bad --var is a bad command line.
	code, _, errs = runShell(t, "-i", addrs, "--var", "1x=2", "-q", "select 1")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "NAME=VALUE")
}

func TestScriptWithVars(t *testing.T) {
	cos, addrs := startCluster(t, 3, 0, impalad.Config{})
	script := filepath.Join(t.TempDir(), "vars.sql")
	require.NoError(t, os.WriteFile(script, []byte(`
set var:tbl=etl_vars;
-- creates ${var:tbl}
create table ${var:tbl} (id int, name string);
insert into ${VAR:TBL} values (1, '${var:tbl}'), (2, 'b');
SET VAR:cond = limit 1;
select id, name from ${hivevar:tbl} ${var:cond};
unset var:cond;
unset var:cond;
select '\${var:cond}' as kept;
select ${var:cond};
select 'not reached';
`), 0o600))
	code, out, errs := runShell(t, "-i", addrs, "-f", script, "-B")
	require.Equal(t, 1, code, errs)
	require.Equal(t, "Table has been created.\n1\tetl_vars\nUnsetting variable COND\nNo variable called COND is set\n${var:cond}\n", out)
	require.Contains(t, errs, "Variable TBL set to etl_vars")
	require.Contains(t, errs, "Error: Unknown variable COND")
	got := texts(sent(cos))
	require.Contains(t, got, "-- creates etl_vars\ncreate table etl_vars (id int, name string)")
	require.Contains(t, got, "insert into etl_vars values (1, 'etl_vars'), (2, 'b')")
	require.Contains(t, got, "select id, name from etl_vars limit 1")
	for _, text := range got {
		require.NotContains(t, text, "not reached")
	}
}

func TestShowProfiles(t *testing.T) {
	_, addrs := startCluster(t, 2, 0, impalad.Config{})
	dir := t.TempDir()
	outFile := filepath.Join(dir, "out.txt")
	code, out, errs := runShell(t, "-i", addrs, "-p", "-B", "-o", outFile, "-q", "select 1; use gen; select count(*) from rows_3")
	require.Equal(t, 0, code, errs)
	// Profiles go to stdout, results to -o, as impala-shell does; a
	// statement without results (USE) has none.
	require.Equal(t, 2, strings.Count(out, "Query Runtime Profile:\n"), out)
	require.Contains(t, out, "Sql Statement: select 1\n")
	require.Contains(t, out, "Sql Statement: select count(*) from rows_3\n")
	require.NotContains(t, out, "use gen")
	b, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.Equal(t, "1\n3\n", string(b))

	// --profile_output takes them.
	profFile := filepath.Join(dir, "prof.txt")
	code, out, errs = runShell(t, "-i", addrs, "-p", "-B", "--profile_output", profFile, "-q", "select 5")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "5\n", out)
	b, err = os.ReadFile(profFile)
	require.NoError(t, err)
	require.Contains(t, string(b), "Query Runtime Profile:\nQuery (id=")

	// Without -p, none.
	code, out, errs = runShell(t, "-i", addrs, "-B", "-q", "select 1")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)
}

// TestQueryOptionsSent: -Q, [impala.query_options] and SET reach the
// coordinator with every statement, as impala-shell sends them.
func TestQueryOptionsSent(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	rc := writeConfig(t, "impalarc", "[impala]\nimpalad="+addrs+"\nwrite_delimited=true\nB=false\noutput_delimiter=,\nvar=x=5\n"+
		"query_option=SYNC_DDL=1\n\n[impala.query_options]\nmem_limit=3g\nmt_dop=2\n")
	code, out, errs := runShell(t, "--config_file", rc, "-Q", "mt_dop=4", "-q", "select ${var:x}, 'a'; set mem_limit=5g; select 2")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "5,a\n2\n", out)
	var overlays []map[string]string
	for _, st := range sent(cos) {
		if strings.HasPrefix(st.Text, "select") {
			overlays = append(overlays, st.Overlay)
		}
	}
	// CLIENT_IDENTIFIER is the shell's version string, set as impala-shell
	// sets it when the coordinator knows the option.
	require.Equal(t, []map[string]string{
		{"MEM_LIMIT": "3g", "MT_DOP": "4", "SYNC_DDL": "1", "CLIENT_IDENTIFIER": versionString},
		{"MEM_LIMIT": "5g", "MT_DOP": "4", "SYNC_DDL": "1", "CLIENT_IDENTIFIER": versionString},
	}, overlays)

	// The command line wins over the file.
	code, out, errs = runShell(t, "--config_file", rc, "--output_delimiter=|", "--var=x=6", "-q", "select ${var:x}, 'a'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "6|a\n", out)

	// A bad file stops the shell before it connects.
	bad := writeConfig(t, "bad", "[impala]\nimpalad="+addrs+"\nprint_header=yes\n")
	code, _, errs = runShell(t, "--config_file", bad, "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "config file "+bad+", line 3: print_header: want true, false, 1 or 0")
}

// TestHAProxyConfigFlag takes the coordinators, the policy and the health
// settings from an haproxy.cfg in the guide's shape, with one server
// disabled and one a backup: the statements go to the two others only.
func TestHAProxyConfigFlag(t *testing.T) {
	cos, _ := startCluster(t, 4, 0, impalad.Config{})
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 5000
    timeout client 3600s

listen impala
    bind :25003
    balance leastconn
    server s1 %s check inter 500ms rise 1
    server s2 %s check inter 500ms rise 1
    server s3 %s check disabled
    server s4 %s check backup

listen other
    balance source
    server x1 127.0.0.1:1
`, cos[0].HS2Addr(), cos[1].HS2Addr(), cos[2].HS2Addr(), cos[3].HS2Addr())), 0o600))
	for i := 0; i < 6; i++ {
		code, out, errs := runShell(t, "--haproxy_config", cfg, "--haproxy_backend", "impala", "-B", "-q", "select 1")
		require.Equal(t, 0, code, errs)
		require.Equal(t, "1\n", out)
		if i == 0 {
			require.Contains(t, errs, "--haproxy_config: ignored line 5 (defaults): timeout client 3600s: ")
			require.Contains(t, errs, "server s3: disabled: a disabled server is not a coordinator of the pool")
		}
	}
	for _, co := range cos[2:] {
		require.Zero(t, co.Stats().StatementsExecuted, "a disabled or backup server got work")
	}
	require.NotZero(t, cos[0].Stats().StatementsExecuted+cos[1].Stats().StatementsExecuted)

	// Two backups have servers: the name is needed, and a bad name says so.
	code, _, errs := runShell(t, "--haproxy_config", cfg, "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "2 backends have servers (impala, other): name the one to use")
	code, _, errs = runShell(t, "--haproxy_config", cfg, "--haproxy_backend", "nosuch", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, `no backend, listen or frontend section named "nosuch"`)
}

// TestSyncDDLFlag: by default the shell adds no SYNC_DDL (its script runs
// on one session, as impala-shell's); --sync_ddl always adds SYNC_DDL=1 to
// a statement that changes the catalog, and to that one only.
func TestSyncDDLFlag(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	syncOf := func(table string) map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, st := range sent(cos) {
			if strings.Contains(st.Text, table) {
				got[strings.Fields(st.Text)[0]] = st.Overlay["SYNC_DDL"]
			}
		}
		return got
	}
	code, _, errs := runShell(t, "-i", addrs, "-q", "create table t_plain (a int); select * from t_plain")
	require.Equal(t, 0, code, errs)
	require.Equal(t, map[string]string{"create": "", "select": ""}, syncOf("t_plain"))

	code, _, errs = runShell(t, "-i", addrs, "--sync_ddl", "always", "-q", "create table t_sync (a int); select * from t_sync")
	require.Equal(t, 0, code, errs)
	require.Equal(t, map[string]string{"create": "1", "select": ""}, syncOf("t_sync"))

	code, _, errs = runShell(t, "-i", addrs, "--sync_ddl", "sometimes", "-q", "select 1")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "want never, auto or always")
}
