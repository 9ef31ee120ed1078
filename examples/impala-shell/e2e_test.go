package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/secret"
)

// mainEnv makes the test binary run the shell's main instead of the tests,
// so that the terminal test drives the race-checked shell without a build.
const mainEnv = "IMPALALB_SHELL_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		return
	}
	os.Exit(runTests(m))
}

// userCacheDir is the user's cache directory of the real home.
var userCacheDir string

// runTests runs the tests away from the config files of this machine: an
// empty home (no ~/.impalarc) and an empty global config file.
func runTests(m *testing.M) int {
	// The venv's default place is in the user's cache directory, found
	// before the home directory changes.
	userCacheDir, _ = os.UserCacheDir()
	// The go command (building cmd/impalad) keeps the real build cache.
	if os.Getenv("GOCACHE") == "" && userCacheDir != "" {
		os.Setenv("GOCACHE", filepath.Join(userCacheDir, "go-build"))
	}
	home, err := os.MkdirTemp("", "impala-shell-test-home")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(home)
	global := filepath.Join(home, "global-impalarc")
	if err := os.WriteFile(global, nil, 0o600); err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Setenv(globalConfigEnv, global)
	return m.Run()
}

// startCluster starts n coordinators on one catalog with the DDL delay.
func startCluster(t *testing.T, n int, ddlDelay time.Duration, cfg impalad.Config) ([]*impalad.Coordinator, string) {
	t.Helper()
	cos, err := impalad.NewCluster(ddlDelay).StartN(n, cfg)
	require.NoError(t, err)
	addrs := make([]string, n)
	for i, co := range cos {
		t.Cleanup(func() { _ = co.Close() })
		addrs[i] = co.HS2Addr()
	}
	return cos, strings.Join(addrs, ",")
}

// runShell runs the shell in-process and returns its status and output.
func runShell(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestQuery(t *testing.T) {
	_, addrs := startCluster(t, 3, 0, impalad.Config{})
	code, out, errs := runShell(t, "-i", addrs, "-q", "select 1 as one, 'a' as s, null as n, true as b; select id, double_col from gen.rows_2")
	require.Equal(t, 0, code, errs)
	require.Equal(t, ""+
		"+-----+---+------+------+\n"+
		"| one | s | n    | b    |\n"+
		"+-----+---+------+------+\n"+
		"| 1   | a | NULL | true |\n"+
		"+-----+---+------+------+\n"+
		"+----+------------+\n"+
		"| id | double_col |\n"+
		"+----+------------+\n"+
		"| 0  | -100.0     |\n"+
		"| 1  | -99.75     |\n"+
		"+----+------------+\n", out)
	require.Contains(t, errs, "Connected to 127.0.0.1:")
	require.Equal(t, 2, strings.Count(errs, "Fetched "), errs)
	require.Contains(t, errs, "Fetched 2 row(s) in ")
}

func TestQueryFailure(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	code, out, errs := runShell(t, "-i", addrs, "-q", "select * from missing; select 1")
	require.Equal(t, 1, code)
	require.Empty(t, out, "the statement after the failure must not run")
	// impala-shell's lines: the error with a timestamp, Impala's
	// "Query <id> failed:\n<detail>\n" (QUERY_ERROR_FORMAT), and the
	// statement that could not run.
	require.Regexp(t, `(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[Exception\]  ERROR: Query [0-9a-f]{16}:[0-9a-f]{16} failed:\nAnalysisException: Could not resolve table reference: 'missing'\n\n\nCould not execute command: select \* from missing\n`, errs)
	ran := 0
	for _, co := range cos {
		ran += int(co.Stats().StatementsExecuted)
	}
	require.Equal(t, 1, ran, "only the SET ALL that reads the options at connect ran")

	// -c goes on after a failure and, as impala-shell, exits 0.
	code, out, _ = runShell(t, "-i", addrs, "-c", "-B", "-q", "select fail('boom'); select 7")
	require.Equal(t, 0, code)
	require.Equal(t, "7\n", out)

	// No coordinator answers.
	code, _, errs = runShell(t, "-i", "127.0.0.1:1", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "Socket error 111: [Errno 111] Connection refused\nNot connected to Impala, could not execute queries.\n")
}

// TestScriptOneSession runs DDL and the queries that depend on it from a
// file on a cluster whose catalog propagates DDL only after an hour: it works
// only because every statement goes through one session.
func TestScriptOneSession(t *testing.T) {
	cos, addrs := startCluster(t, 3, time.Hour, impalad.Config{})
	dir := t.TempDir()
	script := filepath.Join(dir, "etl.sql")
	require.NoError(t, os.WriteFile(script, []byte(`
-- a comment; with a semicolon
create table etl_t (id int, name string);
insert into etl_t values (1, 'a;b'), (2, NULL);
select * from etl_t;
select count(*) from etl_t
`), 0o600))
	outFile := filepath.Join(dir, "out.csv")
	code, out, errs := runShell(t, "-i", addrs, "-f", script, "-B", "--output_delimiter=,", "--print_header", "-o", outFile)
	require.Equal(t, 0, code, errs)
	require.Empty(t, out)
	b, err := os.ReadFile(outFile)
	require.NoError(t, err)
	require.Equal(t, "summary\nTable has been created.\nid,name\n1,a;b\n2,NULL\ncount(*)\n2\n", string(b))
	require.Contains(t, errs, "Modified 2 row(s)")

	sessions := map[string]bool{}
	for _, co := range cos {
		for _, st := range co.Statements() {
			sessions[st.SessionID] = true
		}
	}
	require.Len(t, sessions, 1, "every statement of -f goes through one session")
}

func TestBeeswaxAndDatabase(t *testing.T) {
	cos, _ := startCluster(t, 2, 0, impalad.Config{})
	addrs := cos[0].BeeswaxAddr() + "," + cos[1].BeeswaxAddr()
	code, out, errs := runShell(t, "-i", addrs, "--protocol", "beeswax", "-d", "gen", "-B", "-q", "select count(*) from rows_5")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "5\n", out)
}

func TestLocalMode(t *testing.T) {
	code, out, errs := runShell(t, "--local", "2", "-B", "-q", "select 1")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "1\n", out)
	require.Contains(t, errs, "Started 2 local in-process test coordinators")
}

func TestLDAPOverTLS(t *testing.T) {
	ca, err := certtest.NewCA("shell test CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	caFile, err := ca.WriteCertFile(t.TempDir(), "ca.pem")
	require.NoError(t, err)
	_, addrs := startCluster(t, 2, 0, impalad.Config{
		TLS:   &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}},
		Users: map[string]string{"alice": "s3cret"},
	})
	code, out, errs := runShell(t, "-i", addrs, "--ssl", "--ca_cert", caFile, "-l", "-u", "alice",
		"--ldap_password_cmd", "printf s3cret", "-B", "-q", "select 'ok'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "ok\n", out)

	code, _, errs = runShell(t, "-i", addrs, "--ssl", "--ca_cert", caFile, "-l", "-u", "alice",
		"--ldap_password_cmd", "printf wrong", "-q", "select 'ok'")
	require.Equal(t, 1, code)
	require.NotContains(t, errs, "wrong")
	require.Contains(t, errs, "[Exception] Error connecting sasl ")
	require.Contains(t, errs, "Not connected to Impala, could not execute queries.")
}

func TestAffinityKeepsCoordinator(t *testing.T) {
	cos, addrs := startCluster(t, 3, 0, impalad.Config{})
	for i := 0; i < 4; i++ {
		code, _, errs := runShell(t, "-i", addrs, "--balance", "affinity", "--affinity_key", "etl-user", "-q", "select 1")
		require.Equal(t, 0, code, errs)
	}
	used := 0
	for _, co := range cos {
		if co.Stats().StatementsExecuted > 0 {
			used++
		}
	}
	require.Equal(t, 1, used, "one affinity key, one coordinator")
}

// The shell names each statement's query id where its progress shows on
// the coordinator's web UI, as the coordinator records it; --quiet does
// not.
func TestQueryIDLink(t *testing.T) {
	cos, addrs := startCluster(t, 1, 0, impalad.Config{})
	code, _, errs := runShell(t, "-i", addrs, "-V", "-q", "select 1; select 2")
	require.Equal(t, 0, code, errs)
	var stmts []impalad.Statement
	for _, st := range cos[0].Statements() {
		if strings.HasPrefix(st.Text, "select") {
			stmts = append(stmts, st)
		}
	}
	require.Len(t, stmts, 2)
	for _, st := range stmts {
		require.Contains(t, errs, "Query state can be monitored at: http://127.0.0.1:25000/query_plan?query_id="+st.ID+"\n")
	}
	code, _, errs = runShell(t, "-i", addrs, "--quiet", "-q", "select 3")
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs)
}

// startShell makes the shell of "-i addrs -B --quiet" over its own pool,
// as main does, and starts it; what it prints goes to out and errb. The
// shell and the pool are closed in t.Cleanup.
func startShell(t *testing.T, addrs string) (sh *shell, out, errb *bytes.Buffer) {
	t.Helper()
	o, err := parseFlags([]string{"-i", addrs, "-B", "--quiet", "-q", "x"}, io.Discard)
	require.NoError(t, err)
	cfg, _, err := poolConfig(o, io.Discard)
	require.NoError(t, err)
	d, cleanup, err := newDialer(o, secret.Value{}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(cleanup)
	pool, err := balancer.New(cfg, d)
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })
	out, errb = &bytes.Buffer{}, &bytes.Buffer{}
	sh = newShell(o, pool, out, errb)
	t.Cleanup(sh.close)
	sh.startup(context.Background())
	return sh, out, errb
}

// TestFailover kills the coordinator the shell's session is on: the next
// statement goes to another coordinator, as nothing of it was sent.
func TestFailover(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	sh, out, errb := startShell(t, addrs)
	ctx := context.Background()
	require.True(t, sh.runList(ctx, []string{"select 1"}), errb.String())
	first := sh.coordinator()
	for _, co := range cos {
		if co.HS2Addr() == first {
			co.Kill()
		}
	}
	require.True(t, sh.runList(ctx, []string{"select 2"}), errb.String())
	require.NotEqual(t, first, sh.coordinator())
	require.Equal(t, "1\n2\n", out.String())
}

// TestMoveKeepsState: the coordinator of the shell's session starts a
// graceful shutdown between two statements; the next statement runs on the
// other coordinator with the session's USE and SET, and the prompt names
// the new coordinator.
func TestMoveKeepsState(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{ShutdownGracePeriod: time.Minute})
	sh, out, errb := startShell(t, addrs)
	ctx := context.Background()
	require.True(t, sh.runList(ctx, []string{"use gen", "set mem_limit=3g", "select count(*) from rows_5"}), errb.String())
	first := sh.coordinator()
	require.Contains(t, sh.prompt(), hostPort(first))
	for _, co := range cos {
		if co.HS2Addr() == first {
			_, err := co.StartShutdown(time.Minute)
			require.NoError(t, err)
		}
	}
	require.True(t, sh.runList(ctx, []string{"select count(*) from rows_5"}), errb.String())
	moved := sh.coordinator()
	require.NotEqual(t, first, moved)
	require.Equal(t, "["+hostPort(moved)+"] gen> ", sh.prompt())
	require.Equal(t, "5\n5\n", out.String())
	// The shell's SET, as impala-shell's, is sent with each statement.
	var last impalad.Statement
	for _, co := range cos {
		if co.HS2Addr() == moved {
			sts := co.Statements()
			last = sts[len(sts)-1]
		}
	}
	require.Equal(t, "select count(*) from rows_5", last.Text)
	memLimit := ""
	for k, v := range last.Overlay {
		if strings.EqualFold(k, "mem_limit") {
			memLimit = v
		}
	}
	require.Equal(t, "3g", memLimit, "the SET holds on the new coordinator")
	require.Equal(t, moved, sh.sess.Addr())
}

// TestInterruptCancelsStatement: Ctrl-C in a script cancels the statement
// running on the coordinator and the script goes on, as impala-shell does.
func TestInterruptCancelsStatement(t *testing.T) {
	cos, addrs := startCluster(t, 1, 0, impalad.Config{})
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-i", addrs, "-B", "-q", "select sleep(20000); select 2")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// The link to the query's page is printed once the coordinator has
	// accepted it: then interrupt.
	sc := bufio.NewScanner(stderr)
	var errLines []string
	for sc.Scan() {
		errLines = append(errLines, sc.Text())
		if strings.HasPrefix(sc.Text(), "Query state can be monitored at:") {
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			break
		}
	}
	for sc.Scan() {
		errLines = append(errLines, sc.Text())
	}
	require.NoError(t, cmd.Wait(), strings.Join(errLines, "\n"))
	require.Equal(t, "2\n", out.String())
	require.Regexp(t, `\[Warning\] Query Interrupted`, strings.Join(errLines, "\n"))
	sleeps := 0
	for _, st := range cos[0].Statements() {
		if strings.Contains(st.Text, "sleep(20000)") {
			sleeps++
		}
	}
	require.Equal(t, 1, sleeps)
}
