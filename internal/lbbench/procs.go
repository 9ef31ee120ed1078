package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// coordProc is one test coordinator running as its own process
// (internal/impalad/cmd/impalad).
type coordProc struct {
	index   int
	name    string // reported as the server version: identifies it through a proxy
	bin     string
	args    []string
	env     []string // added to this process's environment
	hs2Port int
	// httpPort is the HiveServer2-over-HTTP port: -1 off, 0 any free one
	// (the first start), then the one taken, which Restart reuses.
	httpPort int
	// web turns the web server on (/healthz); webPort is its port, free
	// at the first start and kept for restarts.
	web     bool
	webPort int
	// stderr, when set, receives the process's standard error line by
	// line, each line whole and in order, before exited is closed;
	// nil: this program's standard error.
	stderr func(line string)

	mu       sync.Mutex // guards cmd, exited, addr, httpAddr, webAddr
	cmd      *exec.Cmd
	exited   chan struct{}
	addr     string
	httpAddr string
	webAddr  string
}

// buildImpalad builds the coordinator command into dir and returns its path.
func buildImpalad(ctx context.Context, dir string) (string, error) {
	out := dir + "/impalad"
	// Built inside the library's own module (found through the replace
	// directive), with its go.sum, not with this module's.
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/impalalb/impalalb").Output()
	if err != nil {
		return "", fmt.Errorf("lbbench: find the impalalb module (or pass -impalad): %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./internal/impalad/cmd/impalad")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lbbench: build the coordinator (or pass -impalad): %w", err)
	}
	return out, nil
}

// startCoord starts coordinator index as a process; the first start takes a
// free port, Restart reuses it.
// With http it listens for HiveServer2 over HTTP too.
func startCoord(ctx context.Context, bin string, index int, serviceTime time.Duration, maxProcs int, http bool) (*coordProc, error) {
	c := newCoord(bin, index, serviceTime, maxProcs)
	if http {
		c.httpPort = 0
	}
	return c, c.start(ctx)
}

// newCoord prepares coordinator index without starting it, without
// HiveServer2 over HTTP.
func newCoord(bin string, index int, serviceTime time.Duration, maxProcs int) *coordProc {
	c := &coordProc{
		index:    index,
		name:     fmt.Sprintf("lbbench-coord%d", index+1),
		bin:      bin,
		args:     []string{"--beeswax_port=-1", "--service_time=" + serviceTime.String()},
		httpPort: -1,
	}
	c.args = append(c.args, "--version="+c.name)
	if maxProcs > 0 {
		c.env = []string{"GOMAXPROCS=" + strconv.Itoa(maxProcs)}
	}
	return c
}

func (c *coordProc) start(ctx context.Context) error {
	args := append([]string{"--hs2_port=" + strconv.Itoa(c.hs2Port), "--hs2_http_port=" + strconv.Itoa(c.httpPort)}, c.args...)
	if c.web {
		args = append(args, "--webserver_port="+strconv.Itoa(c.webPort))
	}
	cmd := exec.Command(c.bin, args...)
	cmd.SysProcAttr = procAttr()
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.Stderr = os.Stderr
	if c.stderr != nil {
		// Not an *os.File: exec copies through a pipe and Wait returns
		// only once every line has been handed over.
		cmd.Stderr = &lineWriter{fn: c.stderr}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lbbench: start coordinator %d: %w", c.index+1, err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // drained so that the process never blocks on it
	}()
	go func() {
		_ = cmd.Wait() // how it exited is not used: that it did is
		close(exited)
	}()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()

	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	var hs2, httpAddr, web string
	for {
		select {
		case line := <-lines:
			// "hs2=", then "hs2-http=" (when on), then "web=" (when on).
			key, a, _ := strings.Cut(line, "=")
			if key != "hs2" && key != "hs2-http" && key != "web" {
				continue
			}
			_, port, err := net.SplitHostPort(a)
			if err != nil {
				c.Stop()
				return fmt.Errorf("lbbench: coordinator %d printed %q", c.index+1, line)
			}
			n, _ := strconv.Atoi(port)
			switch key {
			case "hs2":
				hs2, c.hs2Port = a, n
			case "hs2-http":
				httpAddr, c.httpPort = a, n
			default:
				web, c.webPort = a, n
			}
			if hs2 != "" && (httpAddr != "" || c.httpPort < 0) && (web != "" || !c.web) {
				c.mu.Lock()
				c.addr, c.httpAddr, c.webAddr = hs2, httpAddr, web
				c.mu.Unlock()
				return nil
			}
		case <-exited:
			return fmt.Errorf("lbbench: coordinator %d exited at start", c.index+1)
		case <-timer.C:
			c.Stop()
			return fmt.Errorf("lbbench: coordinator %d did not print its address", c.index+1)
		case <-ctx.Done():
			c.Stop()
			return ctx.Err()
		}
	}
}

// Addr returns the HS2 address.
func (c *coordProc) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// HTTPAddr returns the HiveServer2-over-HTTP address ("" when off).
func (c *coordProc) HTTPAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.httpAddr
}

// WebAddr returns the web server's address ("" when it is off).
func (c *coordProc) WebAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.webAddr
}

// Exited returns a channel closed when the current run of the process has
// ended (and its standard error has been read to the end).
func (c *coordProc) Exited() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exited
}

// Signal sends sig to the current run of the process.
func (c *coordProc) Signal(sig os.Signal) error {
	c.mu.Lock()
	cmd := c.cmd
	c.mu.Unlock()
	return cmd.Process.Signal(sig)
}

// Pid returns the process id of the current run.
func (c *coordProc) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd.Process.Pid
}

// Kill sends SIGKILL (a crash) and waits for the process to be gone;
// signalled, if not nil, is called right after the signal is sent.
func (c *coordProc) Kill(signalled func()) {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // fails only if the process is gone already, which exited says
	if signalled != nil {
		signalled()
	}
	<-exited
}

// Restart starts the coordinator again on the same port.
func (c *coordProc) Restart(ctx context.Context) error {
	c.Kill(nil)
	var err error
	// The port is free once the process is gone; retry briefly in case the
	// kernel has not released it yet.
	for range 50 {
		if err = c.start(ctx); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop ends the process at once: SIGINT (SIGTERM would start a graceful
// shutdown), then SIGKILL after 5 s.
func (c *coordProc) Stop() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGINT) // fails only if the process is gone already, which exited says
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// procAttr puts a child in its own process group (a Ctrl-C reaches only
// this program, which stops the children in order) and has the kernel kill
// it should this program die without doing so.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// selfCPU returns this process's user+system CPU time (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// lineWriter hands each line written to it to fn, without its line
// feed. exec's copy calls Write from one goroutine; a last line without a
// line feed is not handed over (the coordinator ends every line).
type lineWriter struct {
	fn  func(line string)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	// Keep the buffer from growing without bound across many writes.
	if len(w.buf) == 0 {
		w.buf = w.buf[:0:0]
	}
	return len(p), nil
}
