package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{
		"-i", "h1,h2:21051,[::1],::2,h1:21050",
		"-d", "sales", "-k", "-b", "lb.example.com", "--kerberos_service_name=imp",
		"--ssl", "--ca_cert", "ca.pem", "-B", "--output_delimiter=,", "--print_header",
		"-o", "out.txt", "--query_option", "mem_limit=1g", "--query_option=SYNC_DDL=1",
		"--balance", "affinity", "--affinity_key", "etl", "-q", "select 1",
	}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"h1:21050", "h2:21051", "[::1]:21050", "[::2]:21050"}, o.impalads)
	require.Zero(t, o.local)
	require.Equal(t, "sales", o.database)
	require.True(t, o.kerberos)
	require.Equal(t, "lb.example.com", o.kerberosHostFQDN)
	require.Equal(t, "imp", o.kerberosServiceName)
	require.True(t, o.ssl)
	require.Equal(t, "ca.pem", o.caCert)
	require.True(t, o.delimited)
	require.Equal(t, ",", o.outputDelimiter)
	require.True(t, o.printHeader)
	require.Equal(t, "out.txt", o.outputFile)
	require.Equal(t, map[string]string{"MEM_LIMIT": "1g", "SYNC_DDL": "1"}, o.queryOptions.clone())
	require.Equal(t, balancer.Affinity, o.balance)
	require.Equal(t, "etl", o.affinityKey)
	require.Equal(t, "select 1", o.query)
	require.Equal(t, conn.HS2, o.protocol)
	require.NotEmpty(t, o.user)
	require.True(t, o.verbose, "impala-shell is verbose by default")
	require.True(t, o.liveProgress)
	require.Equal(t, 8192, o.fetchSize)

	// Long forms, beeswax default port, local mode; the delimiter is kept as
	// given (impala-shell unescapes it when it prints).
	o, err = parseFlags([]string{"--impalad=h1", "--protocol", "beeswax", "--kerberos", "--kerberos_host_fqdn=lb", "--delimited", "--user", "bob"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"h1:21000"}, o.impalads)
	require.Equal(t, conn.Beeswax, o.protocol)
	require.Equal(t, `\t`, o.outputDelimiter)
	require.Equal(t, "bob", o.user)
	require.Equal(t, "impala", o.kerberosServiceName)

	// hs2-http: its port, path, JWT and X-Forwarded-For.
	o, err = parseFlags([]string{"-i", "h1,h2:443", "--protocol", "hs2-http", "-j", "--jwt_cmd", "cat t", "--ssl", "--http_path", "gateway/impala", "--hs2_x_forward", "10.0.0.1"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"h1:28000", "h2:443"}, o.impalads)
	require.Equal(t, conn.HS2HTTP, o.protocol)
	require.True(t, o.jwt)
	require.Equal(t, "cat t", o.jwtCmd)
	require.Equal(t, "gateway/impala", o.httpPath)
	require.Equal(t, "10.0.0.1", o.hs2XForward)

	o, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, defaultLocal, o.local)
	require.Equal(t, balancer.LeastConn, o.balance)
	o, err = parseFlags([]string{"--local", "5", "-f", "x.sql", "-c", "--quiet", "--disable_live_progress", "-E",
		"--history_file=h", "--history_max=7", "-t", "5", "--fetch_size=10", "--beeswax_compat_num_rows", "-p",
		"--profile_output=p.txt"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 5, o.local)
	require.Equal(t, "x.sql", o.queryFile)
	require.True(t, o.ignoreFailures)
	require.False(t, o.verbose)
	require.False(t, o.liveProgress)
	require.True(t, o.vertical)
	require.Equal(t, "h", o.historyFile)
	require.Equal(t, 7, o.historyMax)
	require.Equal(t, 5, o.connectTimeoutMs)
	require.Equal(t, 10, o.fetchSize)
	require.True(t, o.beeswaxCompatNumRows)
	require.True(t, o.showProfiles)
	require.Equal(t, "p.txt", o.profileOutput)
	o, err = parseFlags([]string{"-i", "h", "-l", "--ldap_password_cmd", "echo pw", "--ssl"}, io.Discard)
	require.NoError(t, err)
	require.True(t, o.ldap)
	require.Equal(t, "echo pw", o.ldapPasswordCmd)
	o, err = parseFlags([]string{"-v"}, io.Discard)
	require.NoError(t, err)
	require.True(t, o.version)
	o, err = parseFlags([]string{"--haproxy_config", "h.cfg", "--haproxy_backend", "impala"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "h.cfg", o.haproxyConfig)
	require.Equal(t, "impala", o.haproxyBackend)
	require.Zero(t, o.local, "the file names the coordinators")
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  string
		fatal bool // impala-shell's own check: status 1
	}{
		{[]string{"-i", "h1", "--local", "2"}, "exclude", false},
		{[]string{"--local", "0"}, "1 to 64", false},
		{[]string{"-q", "x", "-f", "y"}, "exclude", false},
		{[]string{"-i", "h", "-k", "-l", "--ssl"}, "Please specify at most one authentication mechanism (-k, -l, -j, or -a)", true},
		{[]string{"-i", "h", "-b", "lb"}, "needs -k", false},
		{[]string{"-i", "h", "-l"}, "LDAP credentials may not be sent over insecure connections. Enable SSL or set --auth_creds_ok_in_clear", true},
		{[]string{"-k"}, "need -i", false},
		{[]string{"--local", "2", "--ssl"}, "need -i", false},
		{[]string{"--ldap_password_cmd", "x"}, "Option --ldap_password_cmd requires using LDAP authentication mechanism (-l)", true},
		{[]string{"-i", "h", "--ca_cert", "x"}, "needs --ssl", false},
		{[]string{"--protocol", "http"}, "hs2, beeswax or hs2-http", false},
		{[]string{"-i", "h", "-j", "--ssl"}, "Invalid protocol 'hs2'. JWT authentication requires using the 'hs2-http' protocol", true},
		{[]string{"-i", "h", "--protocol", "hs2-http", "-j"}, "JWTs may not be sent over insecure connections. Enable SSL or set --auth_creds_ok_in_clear", true},
		{[]string{"-i", "h", "--protocol", "hs2-http", "--jwt_cmd", "echo x"}, "Option --jwt_cmd requires using JWT authentication mechanism (-j)", true},
		{[]string{"-i", "h", "--protocol", "hs2-http", "-j", "-l", "--ssl"}, "Please specify at most one authentication mechanism (-k, -l, -j, or -a)", true},
		{[]string{"-j", "--protocol", "hs2-http", "--ssl"}, "need -i", false},
		{[]string{"-i", "h", "--hs2_x_forward", "1.2.3.4"}, "--hs2_x_forward needs --protocol hs2-http", false},
		{[]string{"--balance", "random"}, "leastconn or affinity", false},
		{[]string{"--affinity_key", "k"}, "needs --balance affinity", false},
		{[]string{"-i", "h1:99999"}, "bad address", false},
		{[]string{"-i", "use gen"}, "bad address", false},
		{[]string{"-i", ","}, "no coordinator", false},
		{[]string{"--query_option", "novalue"}, "KEY=VALUE", false},
		{[]string{"extra"}, "unexpected argument", false},
		{[]string{"--nope"}, "not defined", false},
		{[]string{"-V", "--quiet"}, "--verbose and --quiet are mutually exclusive", false},
		{[]string{"--live_progress", "--disable_live_progress"}, "mutually exclusive", false},
		{[]string{"-B", "--output_delimiter=ab"}, "Illegal delimiter ab, the delimiter must be a 1-character string.", true},
		{[]string{"--haproxy_backend", "b"}, "needs --haproxy_config", false},
		{[]string{"--haproxy_config", "f", "-i", "h"}, "excludes -i", false},
		{[]string{"--fetch_size=0"}, "at least 1", false},
		{[]string{"--profile_format=json"}, "only string", false},
		{[]string{"--history_max=x"}, "whole number", false},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, &stderr)
		require.Error(t, err, tc.args)
		require.Contains(t, err.Error()+stderr.String(), tc.want, tc.args)
		var fe *fatalError
		require.Equal(t, tc.fatal, errors.As(err, &fe), tc.args)
	}
	_, err := parseFlags([]string{"-h"}, io.Discard)
	require.True(t, errors.Is(err, flag.ErrHelp))
}

func TestProgressLine(t *testing.T) {
	l := progressLine(1500*time.Millisecond, 0.5, "c1:21050")
	require.Equal(t, "Query progress: [###############               ]  50% 1.5s on c1:21050 (Ctrl-C cancels)", l)
	for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second} {
		l := progressLine(d, -1, "c1")
		require.Equal(t, 6, strings.Count(l, "="), l)
		require.Contains(t, l, "on c1")
	}
}

// TestParseLine reads statements as impala-shell's parseline: the leading
// comment kept apart, the command word, '?' and '!' and '@'.
func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in                      string
		comment, cmd, arg, line string
	}{
		{"select 1", "", "select", "1", "select 1"},
		{"  SELECT\n  1 ", "", "SELECT", "1", "SELECT\n  1"},
		{"-- c\nselect 1; -- t", "-- c\n", "select", "1; -- t", "select 1; -- t"},
		{"/* x */ show   tables  ", "/* x */ ", "show", "tables", "show   tables"},
		{"!echo hi", "", "shell", "echo hi", "shell echo hi"},
		{"?set", "", "help", "set", "help set"},
		{"@3", "", "rerun", "3", "rerun 3"},
		{"(select 1)", "", "", "(select 1)", "(select 1)"},
		{"-- only", "-- only", "", "", ""},
		{"", "", "", "", ""},
	} {
		p := parseLine(tc.in)
		require.Equal(t, parsedLine{comment: tc.comment, cmd: tc.cmd, arg: tc.arg, line: tc.line}, p, tc.in)
	}
}

func TestSanitise(t *testing.T) {
	require.Equal(t, "select 1", sanitise("  select 1;;\n"))
	require.Equal(t, "select 1; -- c", sanitise("select 1; -- c"))
	// Comments before SET and UNSET go, so that the shell handles them.
	require.Equal(t, "set mem_limit=1g", sanitise("-- c\n/* d */ set mem_limit=1g;"))
	require.Equal(t, "UNSET x", sanitise("/* a\nb */ UNSET x"))
	require.Equal(t, "-- c\nselect 1", sanitise("-- c\nselect 1;"))
}

func TestWithIsDML(t *testing.T) {
	require.True(t, withIsDML("with t as (select 1) insert into x select * from t"))
	require.True(t, withIsDML("WITH a (c) AS (select 1), b AS (select (2)) UPSERT into k select 1"))
	require.False(t, withIsDML("with t as (select 'insert') select * from t"))
	require.False(t, withIsDML("with t as (select 1"))
	require.False(t, withIsDML("select 1"))
}

func TestColumnize(t *testing.T) {
	var b bytes.Buffer
	columnize(&b, documentedCommands, 79)
	require.Equal(t, ""+
		"compute  exit     help     profile  rerun   set    show  unset  values   with\n"+
		"connect  explain  history  quit     select  shell  tip   use    version\n", b.String())
	b.Reset()
	columnize(&b, []string{"one"}, 79)
	require.Equal(t, "one\n", b.String())
}

// TestHistoryFile keeps statements of several lines in impala-shell's
// history file format, bounded by --history_max.
func TestHistoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hist")
	require.NoError(t, os.WriteFile(path, []byte("select 1;\nselect_IMP_DELIM_2;\n"), 0o600))
	h := loadHistory(path, 3, io.Discard)
	require.Equal(t, 2, h.Len())
	require.Equal(t, "select\n2;", h.At(0))
	h.Add("a")
	h.Add("  ")
	h.Add("select\n  3;")
	require.Equal(t, 3, h.Len(), "bounded")
	h.dropLast(1)
	h.Add("b")
	h.save(io.Discard)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "select_IMP_DELIM_2;\na\nb\n", string(b))

	// A file that cannot be read turns the history off, with a warning.
	var warn bytes.Buffer
	h = loadHistory(t.TempDir(), 10, &warn)
	require.Contains(t, warn.String(), "Unable to load command history")
	h.Add("x")
	h.save(io.Discard)
}

func TestShlexSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"echo -n pw":         {"echo", "-n", "pw"},
		`cat '/a b/pw file'`: {"cat", "/a b/pw file"},
		`printf "%s" "x\"y"`: {"printf", "%s", `x"y`},
		`a\ b c`:             {"a b", "c"},
		`"a\qb"`:             {`a\qb`},
		`x''y`:               {"xy"},
		"  ":                 nil,
	} {
		got, err := shlexSplit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{`'open`, `"open`, `trailing\`} {
		_, err := shlexSplit(bad)
		require.Error(t, err, bad)
	}
}
