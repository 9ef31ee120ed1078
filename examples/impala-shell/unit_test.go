package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
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

	// Long forms, beeswax default port, local mode.
	o, err = parseFlags([]string{"--impalad=h1", "--protocol", "beeswax", "--kerberos", "--kerberos_host_fqdn=lb", "--delimited", "--user", "bob"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"h1:21000"}, o.impalads)
	require.Equal(t, conn.Beeswax, o.protocol)
	require.Equal(t, "\t", o.outputDelimiter)
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
	o, err = parseFlags([]string{"--local", "5", "-f", "x.sql", "-c", "--quiet"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 5, o.local)
	require.Equal(t, "x.sql", o.queryFile)
	require.True(t, o.ignoreFailures)
	require.True(t, o.quiet)
	o, err = parseFlags([]string{"-i", "h", "-l", "--ldap_password_cmd", "echo pw", "--ssl"}, io.Discard)
	require.NoError(t, err)
	require.True(t, o.ldap)
	require.Equal(t, "echo pw", o.ldapPasswordCmd)
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "h1", "--local", "2"}, "exclude"},
		{[]string{"--local", "0"}, "1 to 64"},
		{[]string{"-q", "x", "-f", "y"}, "exclude"},
		{[]string{"-i", "h", "-k", "-l", "--ssl"}, "exclude"},
		{[]string{"-i", "h", "-b", "lb"}, "needs -k"},
		{[]string{"-i", "h", "-l"}, "insecure"},
		{[]string{"-k"}, "need -i"},
		{[]string{"--local", "2", "--ssl"}, "need -i"},
		{[]string{"--ldap_password_cmd", "x"}, "needs -l"},
		{[]string{"-i", "h", "--ca_cert", "x"}, "needs --ssl"},
		{[]string{"--protocol", "http"}, "hs2, beeswax or hs2-http"},
		{[]string{"-i", "h", "-j", "--ssl"}, "-j/--jwt needs --protocol hs2-http"},
		{[]string{"-i", "h", "--protocol", "hs2-http", "-j"}, "JWTs may not be sent over insecure connections"},
		{[]string{"-i", "h", "--protocol", "hs2-http", "--jwt_cmd", "echo x"}, "--jwt_cmd needs -j"},
		{[]string{"-i", "h", "--hs2_x_forward", "1.2.3.4"}, "--hs2_x_forward needs --protocol hs2-http"},
		{[]string{"--balance", "random"}, "leastconn or affinity"},
		{[]string{"--affinity_key", "k"}, "needs --balance affinity"},
		{[]string{"-i", "h1:99999"}, "bad address"},
		{[]string{"-i", "use gen"}, "bad address"},
		{[]string{"-i", ","}, "no coordinator"},
		{[]string{"--query_option", "novalue"}, "KEY=VALUE"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--nope"}, "not defined"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, &stderr)
		require.Error(t, err, tc.args)
		require.Contains(t, err.Error()+stderr.String(), tc.want, tc.args)
	}
	_, err := parseFlags([]string{"-h"}, io.Discard)
	require.True(t, errors.Is(err, flag.ErrHelp))
}

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		in      string
		stmts   []string
		pending bool
	}{
		{"select 1;", []string{"select 1"}, false},
		{"select 1; select 2", []string{"select 1"}, true},
		{"select ';' ; select \"a;b\";", []string{"select ';'", `select "a;b"`}, false},
		{"select 'it\\'s;'; x", []string{`select 'it\'s;'`}, true},
		{"select 1 -- no; split\n, 2;", []string{"select 1 \n, 2"}, false},
		{"select /* a; b */ 3;", []string{"select   3"}, false},
		{"select `a;b` from t;", []string{"select `a;b` from t"}, false},
		{";; -- only a comment", nil, false},
		{"select 'open;", nil, true},
		{"/* open; ", nil, true},
		{"create table t (i int);\ninsert into t values (1);\nselect * from t;\n", []string{"create table t (i int)", "insert into t values (1)", "select * from t"}, false},
	} {
		stmts, _, pending := splitStatements(tc.in)
		require.Equal(t, tc.stmts, stmts, tc.in)
		require.Equal(t, tc.pending, pending, tc.in)
	}
	// The rest is raw, so that more lines complete it.
	_, rest, pending := splitStatements("select 1; select 'a;\n")
	require.True(t, pending)
	require.Equal(t, " select 'a;\n", rest)
	stmts, _, pending := splitStatements(rest + "b';")
	require.False(t, pending)
	require.Equal(t, []string{"select 'a;\nb'"}, stmts)
}

func TestTableWriter(t *testing.T) {
	tw := &tableWriter{header: []string{"id", "name"}}
	tw.add([]string{"1", "ünï"})
	tw.add([]string{"10", "NULL"})
	var b bytes.Buffer
	require.NoError(t, tw.write(&b))
	require.Equal(t, ""+
		"+----+------+\n"+
		"| id | name |\n"+
		"+----+------+\n"+
		"| 1  | ünï  |\n"+
		"| 10 | NULL |\n"+
		"+----+------+\n", b.String())
}

func TestSmallFormats(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeDelimited(&b, []string{"a", "NULL", "c"}, ","))
	require.Equal(t, "a,NULL,c\n", b.String())
	require.Equal(t, "Fetched 3 row(s) in 1.25s", fetchedLine(3, false, 1250*time.Millisecond))
	require.Equal(t, "Modified 1 row(s) in 0.00s", fetchedLine(1, true, 0))
	require.Equal(t, "AnalysisException: x y", oneLine("AnalysisException: x\r\n  y\n"))

	l := progressLine(1500*time.Millisecond, 0.5, "c1:21050")
	require.Equal(t, "Query progress: [###############               ]  50% 1.5s on c1:21050 (Ctrl-C cancels)", l)
	for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second} {
		l := progressLine(d, -1, "c1")
		require.Equal(t, 6, strings.Count(l, "="), l)
		require.Contains(t, l, "on c1")
	}
}

func TestFirstWord(t *testing.T) {
	w, rest := firstWord("  CONNECT\th1,h2 ")
	require.Equal(t, "connect", w)
	require.Equal(t, "h1,h2", rest)
	w, rest = firstWord("quit")
	require.Equal(t, "quit", w)
	require.Empty(t, rest)
}

func TestPrintableBinary(t *testing.T) {
	require.Equal(t, "abc ü", printableBinary([]byte("abc ü")))
	require.Equal(t, `\x00\xffa\n`, printableBinary([]byte{0, 0xff, 'a', '\n'}))
}
