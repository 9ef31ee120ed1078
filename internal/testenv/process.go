package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// impaladPackage is the test coordinator as a program.
const impaladPackage = "github.com/impalalb/impalalb/internal/impalad/cmd/impalad"

// BuildImpalad builds cmd/impalad (the test coordinator as a program, for
// clients that run as processes of their own: impala-shell, impyla) into
// dir and returns the binary's path. The go command runs with the test's
// environment, from its working directory inside the module.
func BuildImpalad(dir string) (string, error) {
	bin := filepath.Join(dir, "impalad")
	cmd := exec.Command("go", "build", "-o", bin, impaladPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: go build cmd/impalad: %w\n%s", err, out)
	}
	return bin, nil
}

// ImpaladProcess is cmd/impalad running as a process on loopback.
type ImpaladProcess struct {
	// HS2 and Beeswax are the addresses it listens on.
	HS2, Beeswax string
	// HTTP is its HiveServer2-over-HTTP address, with --hs2_http_port;
	// empty without.
	HTTP string

	stderr LockedBuffer
}

// Stderr is what the process wrote to stderr so far.
func (p *ImpaladProcess) Stderr() string { return p.stderr.String() }

// LockedBuffer is a bytes.Buffer that a process's copier or a logger's
// goroutines write while the test reads it. The zero value is empty and
// ready.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartImpaladProcess runs bin (see [BuildImpalad]) with args on fresh
// loopback ports and waits for it to print its addresses. In t.Cleanup it
// is sent SIGTERM, and killed if it has not exited 15 seconds later.
func StartImpaladProcess(t testing.TB, bin string, args ...string) *ImpaladProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--hs2_port=0", "--beeswax_port=0"}, args...)...)
	p := &ImpaladProcess{}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testenv: impalad: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: impalad: %v", err)
	}
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
	// It prints "hs2=ADDR", "hs2-http=ADDR" (with --hs2_http_port) and
	// "beeswax=ADDR", in that order, once it listens; the scan ends at
	// beeswax's or when it exits.
	sc := bufio.NewScanner(stdout)
	for (p.HS2 == "" || p.Beeswax == "") && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "hs2":
			p.HS2 = v
		case "hs2-http":
			p.HTTP = v
		case "beeswax":
			p.Beeswax = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if p.HS2 == "" || p.Beeswax == "" {
		t.Fatalf("testenv: impalad printed no HS2 or beeswax address; stderr:\n%s", p.Stderr())
	}
	return p
}
