package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// writeConfig writes a config file in a temporary directory.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestParseINI(t *testing.T) {
	entries, err := parseINI("rc", "# comment\n; comment\n\n[impala]\nB = true\n  # indented comment\nq: select 1\n  from t\n\tlimit 2\n"+
		"[other]\nx=1\n[impala.query_options] ; trailing\nmem_limit=2g\nempty=\n")
	require.NoError(t, err)
	require.Equal(t, []iniEntry{
		{path: "rc", line: 5, section: "impala", key: "B", value: "true"},
		{path: "rc", line: 7, section: "impala", key: "q", value: "select 1\nfrom t\nlimit 2"},
		{path: "rc", line: 11, section: "other", key: "x", value: "1"},
		{path: "rc", line: 13, section: "impala.query_options", key: "mem_limit", value: "2g"},
		{path: "rc", line: 14, section: "impala.query_options", key: "empty", value: ""},
	}, entries)

	for _, tc := range []struct {
		text string
		line int
		want string
	}{
		{"x=1\n", 1, "a [section] line must come first"},
		{"[impala]\n\nnovalue\n", 3, "want KEY=VALUE"},
		{"[impala]\n=1\n", 2, "want KEY=VALUE"},
		{"[]\n", 1, "want [section]"},
	} {
		_, err := parseINI("rc", tc.text)
		var ce *configError
		require.True(t, errors.As(err, &ce), tc.text)
		require.Equal(t, tc.line, ce.line, tc.text)
		require.Contains(t, err.Error(), "config file rc, line ", tc.text)
		require.Contains(t, err.Error(), tc.want, tc.text)
	}
}

func TestConfigFile(t *testing.T) {
	rc := writeConfig(t, "impalarc", `
[impala]
impalad=h1,h2:21051
default_db=sales
write_delimited=1
B=0
output_delimiter=|
print_header=True
show_profiles=true
use_kerberos=true
kerberos_host_fqdn=lb.example.com
b=ignored.example.com
d=ignored
var=a=1,var=b=${var:a}2
query_option=MT_DOP=2,query_option=SYNC_DDL=1
protocol=Beeswax
balance=affinity
rpc_stdout=true
config_file=other
verbose=false

[impala.query_options]
mem_limit=80%%
mt_dop=4
`)
	var warn bytes.Buffer
	o, err := parseFlags([]string{"--config_file", rc}, &warn)
	require.NoError(t, err, warn.String())
	require.Equal(t, []string{"h1:21000", "h2:21051"}, o.impalads)
	require.Equal(t, "sales", o.database)
	require.True(t, o.delimited)
	require.Equal(t, "|", o.outputDelimiter)
	require.True(t, o.printHeader)
	require.True(t, o.showProfiles)
	require.True(t, o.kerberos)
	require.Equal(t, "lb.example.com", o.kerberosHostFQDN)
	require.Equal(t, variables{"A": "1", "B": "12"}, o.vars.vars)
	// [impala] query_option overrides [impala.query_options].
	require.Equal(t, map[string]string{"MEM_LIMIT": "80%", "MT_DOP": "2", "SYNC_DDL": "1"}, o.queryOptions.clone())
	require.Equal(t, conn.Beeswax, o.protocol)
	require.Equal(t, balancer.Affinity, o.balance)
	require.False(t, o.verbose, "verbose=false is --quiet")
	require.Contains(t, warn.String(), "line 18: rpc_stdout: an impala-shell option this shell does not implement; ignored")
	require.Contains(t, warn.String(), "line 19: config_file: only the command line")

	// The command line overrides the file; repeatable flags add to it.
	o, err = parseFlags([]string{"--config_file", rc, "-i", "h3", "-d", "web", "--delimited=false",
		"--var=b=3", "--var=c=${var:b}${var:a}", "-Q", "mt_dop=8", "--protocol=hs2", "--balance", "leastconn"}, &warn)
	require.NoError(t, err)
	require.Equal(t, []string{"h3:21050"}, o.impalads)
	require.Equal(t, "web", o.database)
	require.False(t, o.delimited)
	require.Equal(t, variables{"A": "1", "B": "3", "C": "31"}, o.vars.vars)
	require.Equal(t, "8", o.queryOptions.clone()["MT_DOP"])
	require.Equal(t, balancer.LeastConn, o.balance)

	// "none" is the flag's default.
	rc2 := writeConfig(t, "rc2", "[impala]\nkerberos_service_name=hive\n[impala]\nkerberos_service_name=None\nlocal=none\n")
	o, err = parseFlags([]string{"--config_file", rc2}, &warn)
	require.NoError(t, err)
	require.Equal(t, "impala", o.kerberosServiceName)
	require.Equal(t, defaultLocal, o.local)

	// hs2-http's keys, -j's by its internal name use_jwt.
	rc3 := writeConfig(t, "rc3", "[impala]\nimpalad=h1\nprotocol=hs2-http\nuse_jwt=true\njwt_cmd=cat t\nssl=true\nhttp_path=gateway/impala\nhs2_x_forward=10.0.0.1\n")
	o, err = parseFlags([]string{"--config_file", rc3}, &warn)
	require.NoError(t, err)
	require.Equal(t, []string{"h1:28000"}, o.impalads)
	require.Equal(t, conn.HS2HTTP, o.protocol)
	require.True(t, o.jwt)
	require.Equal(t, "cat t", o.jwtCmd)
	require.Equal(t, "gateway/impala", o.httpPath)
	require.Equal(t, "10.0.0.1", o.hs2XForward)
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string
	}{
		{"[impala]\nB=maybe\n", "line 2: B: want true, false, 1 or 0"},
		{"[impala]\n\nnope=1\n", "line 3: nope: unknown option"},
		{"[impala]\nprotocol=http\n", "line 2: protocol: want hs2, beeswax or hs2-http"},
		{"[impala]\nbalance=random\n", "line 2: balance: want leastconn or affinity"},
		{"[impala]\nlocal=0\n", "line 2: local: want a number from 1 to 64"},
		{"[impala]\nvar=1=x\n", "line 2: var: want NAME=VALUE"},
		{"[impala]\nvar=a=${var:zz}\n", "line 2: var: a: undefined variable ZZ"},
		{"[impala]\nquery_option=novalue\n", "line 2: query_option: want KEY=VALUE"},
		{"[impala.query_options]\nmem_limit=80%\n", `line 2: mem_limit: a '%' must be written "%%"`},
		{"[impala.query_options]\nbad-key=1\n", "line 2: bad-key: not a query option name"},
		{"[impala]\nlocal=2\nimpalad=h1\n", "-i and --local exclude each other"},
		{"B=true\n", "line 1: B: a [section] line must come first"},
	} {
		rc := writeConfig(t, "impalarc", tc.text)
		var stderr bytes.Buffer
		_, err := parseFlags([]string{"--config_file", rc}, &stderr)
		require.Error(t, err, tc.text)
		require.Contains(t, err.Error(), tc.want, tc.text)
		if tc.want[0] == 'l' {
			require.Contains(t, err.Error(), "config file "+rc+", line ", tc.text)
		}
	}

	// A missing explicit file is an error naming it; a missing ~/.impalarc
	// is not (the tests run with an empty home).
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := parseFlags([]string{"--config_file", missing}, &bytes.Buffer{})
	require.ErrorContains(t, err, missing+" not found.")
	_, err = parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
}

func TestConfigFileDefaultsAndGlobal(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	global := writeConfig(t, "global", "[impala]\nwrite_delimited=true\noutput_delimiter=;\nkerberos_service_name=global\n[impala.query_options]\nmt_dop=1\nmem_limit=1g\n")
	t.Setenv(globalConfigEnv, global)
	require.NoError(t, os.WriteFile(filepath.Join(home, ".impalarc"), []byte("[impala]\noutput_delimiter=,\n[impala.query_options]\nMT_DOP=3\n"), 0o600))

	// ~/.impalarc over the global file, the command line over both.
	o, err := parseFlags([]string{"-s", "cmdline"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.True(t, o.delimited)
	require.Equal(t, ",", o.outputDelimiter)
	require.Equal(t, "cmdline", o.kerberosServiceName)
	require.Equal(t, map[string]string{"MT_DOP": "3", "MEM_LIMIT": "1g"}, o.queryOptions.clone())

	// --config_file replaces ~/.impalarc, not the global file.
	rc := writeConfig(t, "rc", "[impala]\nprint_header=true\n")
	o, err = parseFlags([]string{"--config_file=" + rc}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, ";", o.outputDelimiter)
	require.True(t, o.printHeader)

	// A global file named by the environment must exist.
	t.Setenv(globalConfigEnv, filepath.Join(home, "nope"))
	_, err = parseFlags(nil, &bytes.Buffer{})
	require.ErrorContains(t, err, filepath.Join(home, "nope")+" not found.")
}
