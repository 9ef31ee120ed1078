package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// sent returns the statements the coordinators received, in no set order
// between coordinators.
func sent(cos []*impalad.Coordinator) []string {
	var texts []string
	for _, co := range cos {
		for _, st := range co.Statements() {
			texts = append(texts, st.Text)
		}
	}
	return texts
}

func TestQueryWithVars(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	code, out, errs := runShell(t, "-i", addrs, "--var", "n=7", "--var=S=hi", "--var=both=${var:n}${VAR:s}", "-B",
		"-q", "select ${var:n} as n, '${VAR:s}' -- ${var:both}\n, '${hivevar:Both}'; select '\\${var:n}'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "7\thi\t7hi\n${var:n}\n", out)
	require.Contains(t, errs, "Query: select 7 as n, 'hi' , '7hi'")

	// An undefined variable: the statement is not sent, and -q stops there.
	code, out, errs = runShell(t, "-i", addrs, "-B", "-q", "select 1; select ${var:nope} -- or ${oops}\n; select 2")
	require.Equal(t, 1, code)
	require.Equal(t, "1\n", out)
	require.Contains(t, errs, "ERROR: undefined variable NOPE")
	require.Contains(t, errs, "unknown substitution syntax ${oops}")
	for _, text := range sent(cos) {
		require.NotContains(t, text, "nope", "a statement with an undefined variable was sent")
		require.NotContains(t, text, "select 2", "the statements after it did not run")
	}

	// -c goes on; the status still says that a statement failed.
	code, out, _ = runShell(t, "-i", addrs, "-B", "-c", "-q", "select ${var:nope}; select 2")
	require.Equal(t, 1, code)
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
set;
unset var:cond;
unset var:cond;
select '\${var:cond}' as kept;
select ${var:cond};
select 'not reached';
`), 0o600))
	code, out, errs := runShell(t, "-i", addrs, "-f", script, "-B")
	require.Equal(t, 1, code, errs)
	require.Equal(t, "Table has been created.\n1\tetl_vars\n"+
		"Query options of the session (--query_option):\n"+
		"Query options set in the shell (sent with each statement):\n"+
		"Variables:\n\tCOND: limit 1\n\tTBL: etl_vars\n"+
		"${var:cond}\n", out)
	require.Contains(t, errs, "Variable TBL set to etl_vars")
	require.Contains(t, errs, "Unset variable COND")
	require.Contains(t, errs, "No variable COND is set")
	require.Contains(t, errs, "ERROR: undefined variable COND")
	texts := sent(cos)
	require.Contains(t, texts, "create table etl_vars (id int, name string)")
	require.Contains(t, texts, "insert into etl_vars values (1, 'etl_vars'), (2, 'b')")
	require.Contains(t, texts, "select id, name from etl_vars limit 1")
	for _, text := range texts {
		require.NotContains(t, text, "not reached")
	}
}

func TestShowProfiles(t *testing.T) {
	_, addrs := startCluster(t, 2, 0, impalad.Config{})
	outFile := filepath.Join(t.TempDir(), "out.txt")
	code, out, errs := runShell(t, "-i", addrs, "-p", "-B", "-o", outFile, "-q", "select 1; use gen; select count(*) from rows_3")
	require.Equal(t, 0, code, errs)
	// Profiles go to stdout, results to -o, as impala-shell does; a
	// statement without results (USE) has none.
	require.Equal(t, 2, strings.Count(out, "Query Runtime Profile (from 127.0.0.1:"), out)
	require.Contains(t, out, "select 1")
	require.Contains(t, out, "select count(*) from rows_3")
	require.NotContains(t, out, "use gen")
	b, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.Equal(t, "1\n3\n", string(b))

	// Without -p, none.
	code, out, errs = runShell(t, "-i", addrs, "-B", "-q", "select 1")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)
}

func TestConfigFileEndToEnd(t *testing.T) {
	_, addrs := startCluster(t, 2, 0, impalad.Config{})
	rc := writeConfig(t, "impalarc", "[impala]\nimpalad="+addrs+"\nB=true\noutput_delimiter=,\nvar=x=5\n"+
		"query_option=SYNC_DDL=1\n\n[impala.query_options]\nmem_limit=3g\nmt_dop=2\n")
	code, out, errs := runShell(t, "--config_file", rc, "-q", "select ${var:x}, 'a'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "5,a\n", out)
	// The command line wins.
	code, out, errs = runShell(t, "--config_file", rc, "--output_delimiter=|", "--var=x=6", "-q", "select ${var:x}, 'a'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "6|a\n", out)

	// The query options of the file are those of the session: the
	// coordinator lists them for SET ALL.
	o, err := parseFlags([]string{"--config_file", rc, "-Q", "mt_dop=4"}, io.Discard)
	require.NoError(t, err)
	d, cleanup, err := newDialer(o, nil, io.Discard)
	require.NoError(t, err)
	defer cleanup()
	var res bytes.Buffer
	sh, err := newShell(o, o.impalads, d, &res, io.Discard, io.Discard)
	require.NoError(t, err)
	defer sh.close()
	require.NoError(t, sh.execute(context.Background(), "set all", false, ""))
	lines := strings.Split(res.String(), "\n")
	require.Contains(t, lines, "MEM_LIMIT,3221225472,REGULAR") // 3g, as Impala keeps it
	require.Contains(t, lines, "MT_DOP,4,REGULAR")
	require.Contains(t, lines, "SYNC_DDL,1,REGULAR")

	// A bad file stops the shell before it connects.
	bad := writeConfig(t, "bad", "[impala]\nimpalad="+addrs+"\nprint_header=yes\n")
	code, _, errs = runShell(t, "--config_file", bad, "-q", "select 1")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "config file "+bad+", line 3: print_header: want true, false, 1 or 0")
}
