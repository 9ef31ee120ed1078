package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/testenv"
)

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
	buildDir  string // removed by TestMain
	buildBin  string
	buildErr  error
)

// impaladBinary builds cmd/impalad once per test binary.
func impaladBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "interop-impalad-")
		if buildErr == nil {
			buildBin, buildErr = testenv.BuildImpalad(buildDir)
		}
	})
	require.NoError(t, buildErr)
	return buildBin
}

// startImpalad runs cmd/impalad with args on free loopback ports and waits
// for it to print its addresses. It is stopped in t.Cleanup.
func startImpalad(t testing.TB, args ...string) *testenv.ImpaladProcess {
	t.Helper()
	return testenv.StartImpaladProcess(t, impaladBinary(t), args...)
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
