package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/testenv"
)

// The compatibility corpus: each file of testdata/compat is a script with
// the flags to run it with. TestCompatImpalaShell runs it with impala-shell
// 4.6 (the interop venv's) and with this shell, each against the same test
// coordinator (cmd/impalad, one process for the whole corpus), over the
// protocols the file names, and requires
//
//   - the same exit status;
//   - byte-identical stdout, and the same files written (-o);
//   - the same stderr lines once the harness has masked what differs from
//     run to run or is the runtime's: timestamps, query ids, elapsed
//     seconds, "using Python 3.11.7" / "using Go 1.26" in the start line,
//     the shell's version line, and the Python traceback impala-shell's
//     pip-installed entry point prints when it exits with status 1.
//
// A file may accept a difference: "accept stdout: REGEXP => REPLACEMENT #
// reason" (or stderr) rewrites both outputs before they are compared. Every
// such line, and the masks above, are listed with their reasons in
// examples/README.md.
//
// A case file is a header, a line "----", and the script; "@ADDR@" in the
// flags, the files and the script is the coordinator's address:
//
//	desc: what it covers
//	args: flags after -i and --protocol (split as a shell would)
//	protocols: hs2 beeswax          (the default: both)
//	input: file | query | stdin     (-f script.sql, -q script, -f - ; default file)
//	files: out.txt                  (files the run writes, compared too)
//	write: NAME TEXT                (a file to write first; \n and \t in TEXT are escapes)
//	cleanup: SQL run after each run (by this shell, quietly)
//	accept stdout: REGEXP => REPLACEMENT # reason
//	----
//	select 1;

// compatCase is one file of the corpus.
type compatCase struct {
	name, desc string
	args       []string
	protocols  []string
	input      string
	files      []string
	writes     map[string]string // files written in the run's directory first
	cleanup    string
	accepts    []compatAccept
	script     string
}

// compatAccept is an accepted difference: re replaced by repl in stream.
type compatAccept struct {
	stream string // "stdout" or "stderr"
	re     *regexp.Regexp
	repl   string
	reason string
}

// readCompatCase parses a corpus file.
func readCompatCase(path string) (*compatCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	head, script, found := strings.Cut(string(b), "\n----\n")
	if !found {
		return nil, fmt.Errorf("%s: no \"----\" line between header and script", path)
	}
	c := &compatCase{name: strings.TrimSuffix(filepath.Base(path), ".case"), protocols: []string{"hs2", "beeswax"}, input: "file", script: script}
	for i, line := range strings.Split(head, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value", path, i+1)
		}
		val = strings.TrimSpace(val)
		switch key {
		case "desc":
			c.desc = val
		case "args":
			if c.args, err = shlexSplit(val); err != nil {
				return nil, fmt.Errorf("%s:%d: args: %w", path, i+1, err)
			}
		case "protocols":
			c.protocols = strings.Fields(val)
		case "input":
			c.input = val
		case "files":
			c.files = strings.Fields(val)
		case "cleanup":
			c.cleanup = val
		case "write":
			name, text, ok := strings.Cut(val, " ")
			if !ok {
				return nil, fmt.Errorf("%s:%d: want write: NAME TEXT", path, i+1)
			}
			if c.writes == nil {
				c.writes = map[string]string{}
			}
			c.writes[name] = strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(text)
		case "accept stdout", "accept stderr":
			rule, reason, _ := strings.Cut(val, " # ")
			re, repl, ok := strings.Cut(rule, " => ")
			if !ok || strings.TrimSpace(reason) == "" {
				return nil, fmt.Errorf("%s:%d: want accept STREAM: REGEXP => REPLACEMENT # reason", path, i+1)
			}
			rx, err := regexp.Compile(re)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			c.accepts = append(c.accepts, compatAccept{stream: strings.TrimPrefix(key, "accept "), re: rx, repl: repl, reason: reason})
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", path, i+1, key)
		}
	}
	if c.desc == "" {
		return nil, fmt.Errorf("%s: no desc", path)
	}
	return c, nil
}

// The masks the harness applies to both shells' stderr (see the package
// comment above and examples/README.md).
var compatMasks = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "<time>"},
	{regexp.MustCompile(`[0-9a-f]{16}:[0-9a-f]{16}`), "<query id>"},
	{regexp.MustCompile(`\b\d+\.\d\ds\b`), "<secs>"},
	{regexp.MustCompile(`using (Python|Go) \d+\.\d+(\.\d+)?\S*`), "using <runtime>"},
	{regexp.MustCompile(`(?m)^Shell version: .*$`), "Shell version: <version>"},
}

// pythonTraceback is what impala-shell's entry point prints when it exits
// with status 1 (it does not catch its own FatalShellException).
var pythonTraceback = regexp.MustCompile(`(?s)Traceback \(most recent call last\):\n.*?\nimpala_shell\.impala_shell\.FatalShellException\n`)

// maskStderr applies the harness's masks.
func maskStderr(s string) string {
	s = pythonTraceback.ReplaceAllString(s, "")
	for _, m := range compatMasks {
		s = m.re.ReplaceAllString(s, m.repl)
	}
	return s
}

// compatRun is what one shell did with a case.
type compatRun struct {
	code           int
	stdout, stderr string
	files          map[string]string
}

// compatEnv is the environment of both shells: a home of their own (no
// ~/.impalarc, no history), a UTF-8 locale, the user.
func compatEnv(home string) []string {
	env := []string{"HOME=" + home, "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	for _, k := range []string{"PATH", "USER", "LOGNAME", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runCompat runs one shell (bin with extra environment) on a case in dir.
func runCompat(t *testing.T, bin string, extraEnv []string, c *compatCase, proto, addr, dir string) compatRun {
	t.Helper()
	// @ADDR@ in the flags, the script and the files is the coordinator's
	// address for the protocol.
	at := strings.NewReplacer("@ADDR@", addr)
	args := []string{"-i", addr, "--protocol=" + proto}
	for _, a := range c.args {
		args = append(args, at.Replace(a))
	}
	for name, text := range c.writes {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(at.Replace(text)), 0o600))
	}
	script := at.Replace(c.script)
	var stdin io.Reader = strings.NewReader("")
	switch c.input {
	case "file":
		require.NoError(t, os.WriteFile(filepath.Join(dir, "script.sql"), []byte(script), 0o600))
		args = append(args, "-f", "script.sql")
	case "query":
		args = append(args, "-q", strings.TrimSuffix(script, "\n"))
	case "stdin":
		args = append(args, "-f", "-")
		stdin = strings.NewReader(script)
	case "none":
	default:
		t.Fatalf("%s: unknown input %q", c.name, c.input)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(compatEnv(dir), extraEnv...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	r := compatRun{code: code, stdout: out.String(), stderr: errb.String(), files: map[string]string{}}
	for _, f := range c.files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			r.files[f] = "<" + err.Error() + ">"
			continue
		}
		r.files[f] = string(b)
	}
	return r
}

// startCompatServer builds cmd/impalad and runs it until the test ends.
func startCompatServer(t *testing.T) *testenv.ImpaladProcess {
	t.Helper()
	bin, err := testenv.BuildImpalad(t.TempDir())
	require.NoError(t, err)
	return testenv.StartImpaladProcess(t, bin)
}

// impalaShellPath returns impala-shell of the interop venv, found as
// internal/interop finds it, or fails the test saying how to make it.
func impalaShellPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMPALALB_VENV")
	if dir == "" {
		dir = os.Getenv("IMPALALB_VENV_DIR")
		if dir == "" {
			require.NotEmpty(t, userCacheDir, "no user cache directory to find the venv in: set IMPALALB_VENV")
			dir = filepath.Join(userCacheDir, "impalalb", "venv")
		}
	}
	p := filepath.Join(dir, "bin", "impala-shell")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("compat: impala-shell 4.6 of the interop venv is missing (%v): create the venv with scripts/venv.sh "+
			"(needs Debian's libsasl2-dev libkrb5-dev and access to PyPI), or set IMPALALB_VENV to one", err)
	}
	return p
}

// TestCompatImpalaShell runs the corpus (see above).
func TestCompatImpalaShell(t *testing.T) {
	impalaShell := impalaShellPath(t)
	self, err := os.Executable()
	require.NoError(t, err)
	srv := startCompatServer(t)
	paths, err := filepath.Glob("testdata/compat/*.case")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	sort.Strings(paths)
	for _, p := range paths {
		c, err := readCompatCase(p)
		require.NoError(t, err)
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, proto := range c.protocols {
				addr := srv.HS2
				if proto == "beeswax" {
					addr = srv.Beeswax
				}
				cleanup := func() {
					if c.cleanup == "" {
						return
					}
					var out, errb bytes.Buffer
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					code := run(ctx, []string{"-i", srv.HS2, "--quiet", "-c", "-q", c.cleanup}, strings.NewReader(""), &out, &errb)
					require.Zero(t, code, "cleanup %q: %s", c.cleanup, errb.String())
				}
				cleanup()
				want := runCompat(t, impalaShell, nil, c, proto, addr, t.TempDir())
				cleanup()
				got := runCompat(t, self, []string{mainEnv + "=1"}, c, proto, addr, t.TempDir())
				cleanup()
				compareCompat(t, c, proto, want, got)
			}
		})
	}
}

// compareCompat requires got (this shell) to match want (impala-shell).
func compareCompat(t *testing.T, c *compatCase, proto string, want, got compatRun) {
	t.Helper()
	apply := func(stream, s string) string {
		for _, a := range c.accepts {
			if a.stream == stream {
				s = a.re.ReplaceAllString(s, a.repl)
			}
		}
		return s
	}
	wantOut, gotOut := apply("stdout", want.stdout), apply("stdout", got.stdout)
	wantErr, gotErr := apply("stderr", maskStderr(want.stderr)), apply("stderr", maskStderr(got.stderr))
	ctx := fmt.Sprintf("case %s over %s (%s)\nimpala-shell stderr:\n%s\nour stderr:\n%s", c.name, proto, c.desc, want.stderr, got.stderr)
	require.Equal(t, wantOut, gotOut, "stdout differs: %s", ctx)
	require.Equal(t, strings.Split(wantErr, "\n"), strings.Split(gotErr, "\n"), "stderr differs: %s", ctx)
	require.Equal(t, want.code, got.code, "exit status differs: %s", ctx)
	for _, f := range c.files {
		require.Equal(t, apply("stdout", want.files[f]), apply("stdout", got.files[f]), "file %s differs: %s", f, ctx)
	}
}
