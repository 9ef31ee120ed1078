package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// venv returns the Python virtual environment of these tests, or fails the
// test with the command that makes it.
func venv(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("IMPALALB_VENV")
	if dir == "" {
		// scripts/venv.sh's default place.
		dir = os.Getenv("IMPALALB_VENV_DIR")
		if dir == "" {
			cache, err := os.UserCacheDir()
			require.NoError(t, err)
			dir = filepath.Join(cache, "impalalb", "venv")
		}
	}
	for _, f := range []string{"bin/python", "bin/impala-shell"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("interop: the Python venv is missing (%v): create it with scripts/venv.sh "+
				"(needs Debian's libsasl2-dev libkrb5-dev and network access to PyPI), or set IMPALALB_VENV", err)
		}
	}
	return dir
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// impaladBinary builds cmd/impalad once per test binary.
func impaladBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "interop-impalad-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "impalad"), "./internal/impalad/cmd/impalad")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/impalad: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, "impalad")
}

// impaladProc is cmd/impalad running as a process.
type impaladProc struct {
	HS2, Beeswax string
	HTTP         string // with --hs2_http_port
	stderr       *lockedWriter
}

// Stderr is what the process wrote to stderr so far.
func (p *impaladProc) Stderr() string {
	p.stderr.mu.Lock()
	defer p.stderr.mu.Unlock()
	return p.stderr.w.(*bytes.Buffer).String()
}

// startImpalad runs cmd/impalad with args on free loopback ports and waits
// for it to print its addresses. It is stopped in t.Cleanup.
func startImpalad(t testing.TB, args ...string) *impaladProc {
	t.Helper()
	bin := impaladBinary(t)
	cmd := exec.Command(bin, append([]string{"--hs2_port=0", "--beeswax_port=0"}, args...)...)
	p := &impaladProc{stderr: &lockedWriter{w: &bytes.Buffer{}}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "hs2":
			p.HS2 = v
		case "beeswax":
			p.Beeswax = v
		case "hs2-http":
			p.HTTP = v
		}
		if p.HS2 != "" && p.Beeswax != "" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	require.NotEmpty(t, p.HS2, "impalad printed no address; stderr:\n%s", p.Stderr())
	require.NotEmpty(t, p.Beeswax, "impalad printed no beeswax address; stderr:\n%s", p.Stderr())
	return p
}

// lockedWriter makes a bytes.Buffer safe for the process's writer
// goroutine and the test's reads.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// result is what a client process did.
type result struct {
	Stdout, Stderr string
	Err            error
}

// run runs a venv program with args and extra environment, bounded in time.
func run(t testing.TB, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(venv(t), "bin", name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	return result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}
