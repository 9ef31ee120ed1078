package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// tmuxShell is the shell running in a real terminal: a detached tmux session
// on a private tmux server.
type tmuxShell struct {
	t      *testing.T
	socket string
}

func startTmuxShell(t *testing.T, args ...string) *tmuxShell {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: the interactive shell is tested in a real terminal (apt-get install tmux; scripts/test.sh does)")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	// A private server whose socket lives in the test's temporary directory.
	ts := &tmuxShell{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	// The shell's exit status stays on the screen, so a crash shows.
	line := "env " + mainEnv + "=1 " + shellQuote(exe)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	line += "; echo SHELL-EXITED-$?; sleep 60"
	ts.tmux("new-session", "-d", "-x", "160", "-y", "50", line)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", ts.socket, "kill-server").Run() })
	return ts
}

func (ts *tmuxShell) tmux(args ...string) string {
	ts.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", ts.socket, "-f", "/dev/null"}, args...)...)
	cmd.Env = append(os.Environ(), "TMUX=")
	out, err := cmd.CombinedOutput()
	require.NoError(ts.t, err, "tmux %v: %s", args, out)
	return string(out)
}

// typeLine types text and Enter. A trailing ';' would end tmux's command,
// so it is escaped.
func (ts *tmuxShell) typeLine(text string) {
	ts.t.Helper()
	if strings.HasSuffix(text, ";") {
		text = strings.TrimSuffix(text, ";") + `\;`
	}
	ts.tmux("send-keys", "-t", "0", "-l", text)
	ts.tmux("send-keys", "-t", "0", "Enter")
}

func (ts *tmuxShell) screen() string {
	return ts.tmux("capture-pane", "-p", "-t", "0", "-S", "-200")
}

// waitFor polls the screen until it holds n occurrences of want.
// waitForRegexp polls the screen until re matches it (bounded).
func (ts *tmuxShell) waitForRegexp(re string) string {
	ts.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := ts.screen()
		if rx.MatchString(s) {
			return s
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("waiting for /%s/; screen:\n%s", re, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ts *tmuxShell) waitFor(want string, n int) string {
	ts.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := ts.screen()
		if strings.Count(s, want) >= n {
			return s
		}
		if strings.Contains(s, "SHELL-EXITED-") && !strings.Contains(want, "SHELL-EXITED-") {
			ts.t.Fatalf("the shell exited while waiting for %q; screen:\n%s", want, s)
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("waiting for %d× %q; screen:\n%s", n, want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInteractive(t *testing.T) {
	cos, addrs := startCluster(t, 2, 0, impalad.Config{})
	ts := startTmuxShell(t, "-i", addrs)
	s := ts.waitFor("] default>", 1)
	require.Contains(t, s, "Connected to 127.0.0.1:")

	// A statement over several lines, with quotes and a comment.
	ts.typeLine("select")
	ts.waitFor("   >", 1)
	ts.typeLine("  1 as a, -- a comment; not the end")
	ts.typeLine("'x;y' as b;")
	s = ts.waitFor("Fetched 1 row(s)", 1)
	require.Contains(t, s, "| a | b   |")
	require.Contains(t, s, "| 1 | x;y |")

	// Ctrl-C cancels a long statement on the coordinator; the shell stays.
	ts.typeLine("select sleep(5000) as slept;")
	ts.waitFor("Query progress: [", 1)
	// The bar follows the coordinator's exec summary: a percentage shows
	// once a summary has arrived (the coordinator reports its share of the
	// 5 s as scan ranges done).
	ts.waitForRegexp(`Query progress: \[#+ *\] +[1-9][0-9]?% `)
	ts.tmux("send-keys", "-t", "0", "C-c")
	s = ts.waitFor("Query Interrupted", 1)
	require.Regexp(t, `\d\d:\d\d:\d\d \[Warning\] Query Interrupted`, s)
	var slept int
	for _, co := range cos {
		for _, st := range co.Statements() {
			if strings.Contains(st.Text, "sleep(5000)") {
				slept++
			}
		}
	}
	require.Equal(t, 1, slept)
	// The cancelled operation is closed on the coordinator.
	deadline := time.Now().Add(10 * time.Second)
	for {
		open := 0
		for _, co := range cos {
			open += co.Stats().OperationsOpen
		}
		if open == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "operations still open: %d", open)
		time.Sleep(20 * time.Millisecond)
	}

	ts.typeLine("select 42 as answer;")
	s = ts.waitFor("| 42     |", 1)
	require.NotContains(t, s, "| slept", "the cancelled statement printed no rows")

	// Ctrl-C at the prompt drops the line being typed; history recalls.
	ts.tmux("send-keys", "-t", "0", "-l", "select 'dropped'")
	ts.tmux("send-keys", "-t", "0", "C-c")
	ts.waitFor("^C", 1)
	ts.tmux("send-keys", "-t", "0", "Up", "Enter")
	ts.waitFor("| 42     |", 2)

	// Shell commands.
	ts.typeLine("set mem_limit=1g;")
	ts.waitFor("MEM_LIMIT set to 1g", 1)
	// Variables.
	ts.typeLine("set var:answer=77;")
	ts.waitFor("Variable ANSWER set to 77", 1)
	ts.typeLine("select ${VAR:answer} as v;")
	ts.waitFor("| 77 |", 1)
	ts.typeLine("select ${var:nope};")
	ts.waitFor("Error: Unknown variable NOPE", 1)
	ts.typeLine("summary")
	ts.waitFor("| Operator | #Hosts |", 1)
	ts.typeLine("profile;")
	ts.waitFor("Query Runtime Profile", 1)
	ts.typeLine("connect")
	ts.waitFor("Connected to 127.0.0.1:", 2)
	ts.typeLine("select * from nowhere;")
	s = ts.waitFor("AnalysisException", 1)
	require.Regexp(t, `\[Exception\]  ERROR: Query [0-9a-f]{16}:[0-9a-f]{16} failed:\nAnalysisException: Could not resolve table reference: 'nowhere'`, s)

	ts.typeLine("quit;")
	ts.waitFor("SHELL-EXITED-0", 1)

	// The history file holds the statements, one a line, a statement of
	// several lines joined by impala-shell's delimiter.
	b, err := os.ReadFile(filepath.Join(os.Getenv("HOME"), ".impalahistory"))
	require.NoError(t, err)
	hist := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Contains(t, hist, "select_IMP_DELIM_  1 as a, -- a comment; not the end_IMP_DELIM_'x;y' as b;")
	require.Contains(t, hist, "select 42 as answer;")
	require.Equal(t, "quit;", hist[len(hist)-1])
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
