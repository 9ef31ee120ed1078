//go:build unix

package reliability

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// impaladBinary builds cmd/impalad once per test binary.
var impaladBinary = sync.OnceValues(func() (string, error) {
	dir, err := osTempDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "impalad")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/impalalb/impalalb/internal/impalad/cmd/impalad")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "building cmd/impalad: " + e.err.Error() + "\n" + e.out }

// proc is a coordinator in its own process, for a real SIGKILL.
type proc struct {
	t    *testing.T
	bin  string
	cmd  *exec.Cmd
	addr string
}

// startProc starts cmd/impalad on port (0: a free one) and waits for its
// address line.
func startProc(t *testing.T, port int) *proc {
	t.Helper()
	bin, err := impaladBinary()
	require.NoError(t, err)
	p := &proc{t: t, bin: bin}
	p.start(port)
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start(port int) {
	p.t.Helper()
	cmd := exec.Command(p.bin, "--hs2_port="+strconv.Itoa(port), "--beeswax_port=-1",
		"--disconnected_session_timeout=1m")
	out, err := cmd.StdoutPipe()
	require.NoError(p.t, err)
	require.NoError(p.t, cmd.Start())
	p.cmd = cmd
	r := bufio.NewScanner(out)
	for r.Scan() {
		if a, ok := strings.CutPrefix(r.Text(), "hs2="); ok {
			p.addr = a
			break
		}
	}
	require.NotEmpty(p.t, p.addr, "cmd/impalad printed no address")
	go func() { // drain the rest so the child never blocks on stdout
		for r.Scan() {
		}
	}()
}

// kill sends SIGKILL and reaps the process.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *proc) port() int {
	_, ps, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(ps)
	return n
}

// TestFaultSIGKILL kills a coordinator process with SIGKILL, once while its
// sessions are idle in the pool and once in the middle of a fetch, then
// starts it again on the same port.
func TestFaultSIGKILL(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cos, addrs := startCluster(t, 2, impalad.Config{})
	t.Cleanup(func() { requireNothingTwice(t, cos) })
	px := startProc(t, 0)
	all := append([]string{px.addr}, addrs...)
	p := newPool(t, all, fastOpts(), nil)

	// Killed while idle.
	warm(ctx, t, p, 6)
	idle, err := conn.Dial(ctx, px.addr, fastOpts())
	require.NoError(t, err)
	defer idle.Close()
	px.kill()
	start := time.Now()
	err = runStmt(ctx, idle, tagged("sigkill-idle"))
	require.Error(t, err)
	within(t, time.Since(start), stmtTimeout, "statement on a SIGKILLed coordinator")
	requireTyped(t, err, px.addr)
	t.Logf("idle session after SIGKILL: %v (SafeToRetry=%v)", err, conn.SafeToRetry(err))
	used := workSucceeds(ctx, t, p, 9)
	require.Zero(t, used[px.addr])
	px.start(px.port())
	recovers(ctx, t, p, px.addr, 3)

	// Killed in the middle of a fetch: the fetch fails, it never ends early.
	l := leaseOn(ctx, t, p, px.addr)
	start = time.Now()
	rows, err := fetchIDs(ctx, t, sess(l), 5000, func(batch int) {
		if batch == 2 {
			px.kill()
		}
	})
	require.Error(t, err, "a fetch cut by SIGKILL must fail")
	within(t, time.Since(start), stmtTimeout+cancelTimeout, "fetch from a SIGKILLed coordinator")
	requireTyped(t, err, px.addr)
	require.False(t, conn.SafeToRetry(err), "the statement had run: %v", err)
	require.Equal(t, 2048, rows)
	t.Logf("fetch cut by SIGKILL: %v", err)
	l.Discard()
	workSucceeds(ctx, t, p, 9)
	px.start(px.port())
	recovers(ctx, t, p, px.addr, 3)
}
