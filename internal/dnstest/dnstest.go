// Package dnstest runs a real DNS server on loopback for tests: Debian's
// dnsmasq (package dnsmasq-base), answering A and AAAA queries from a
// hosts file that the test rewrites while it runs.
//
//	s := dnstest.Start(t, map[string][]string{"coords.impalalb.test": {"127.0.0.2", "127.0.0.3"}})
//	r := s.Resolver() // a net.Resolver whose every query goes to s
//	s.Set(map[string][]string{"coords.impalalb.test": {"127.0.0.2"}}) // rewrite and SIGHUP
//
// dnsmasq runs in the foreground on a free loopback port, without
// upstream servers and without /etc/hosts, and is stopped in t.Cleanup.
// When dnsmasq is missing the test fails (never skips) with a message
// naming the package to install.
package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running dnsmasq.
type Server struct {
	// Addr is its address, 127.0.0.1:port (UDP and TCP).
	Addr string

	hosts string
	cmd   *exec.Cmd
	done  chan struct{}

	mu  sync.Mutex // guards gen
	gen int
}

// LookPath returns the dnsmasq binary, or an error naming the Debian
// package to install.
func LookPath() (string, error) {
	if p, err := exec.LookPath("dnsmasq"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/dnsmasq", "/sbin/dnsmasq"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("dnstest: dnsmasq not found; install it with: apt-get install -y dnsmasq-base")
}

// Start starts dnsmasq answering records (name → addresses) and waits
// until it answers.
func Start(t testing.TB, records map[string][]string) *Server {
	t.Helper()
	bin, err := LookPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{hosts: filepath.Join(dir, "hosts"), done: make(chan struct{})}
	if err := s.write(records); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 5 { // a free port can be taken between the probe and dnsmasq's bind
		port, err := freePort()
		if err != nil {
			t.Fatalf("dnstest: no free loopback port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
		cmd := exec.Command(bin, "--keep-in-foreground", "--port="+fmt.Sprint(port), "--listen-address=127.0.0.1",
			"--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts="+s.hosts,
			"--pid-file=", "--user=", "--group=", "--log-facility=-", "--conf-file=/dev/null")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("dnstest: start dnsmasq: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }() // its exit is what waitAnswer and stop watch
		if lastErr = s.waitAnswer(done); lastErr == nil {
			s.cmd, s.done = cmd, done
			t.Cleanup(s.stop)
			return s
		}
		_ = cmd.Process.Kill() // fails only when it exited already
		<-done
		lastErr = fmt.Errorf("%w; dnsmasq said: %s", lastErr, strings.TrimSpace(out.String()))
	}
	t.Fatalf("dnstest: dnsmasq did not come up: %v", lastErr)
	return nil
}

// waitAnswer queries the server until it answers (bounded), or until its
// process exits.
func (s *Server) waitAnswer(exited <-chan struct{}) error {
	r := s.Resolver()
	var err error
	for range 200 {
		select {
		case <-exited:
			return errors.New("dnsmasq exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = r.LookupNetIP(ctx, "ip", "dnstest-probe.invalid.")
		cancel()
		var dnsErr *net.DNSError
		if err == nil || errors.As(err, &dnsErr) && (dnsErr.IsNotFound || !dnsErr.IsTimeout && !strings.Contains(dnsErr.Err, "refused")) {
			return nil // an answer, even "no such host", means it serves
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no answer: %w", err)
}

// Resolver returns a resolver whose queries all go to the server.
func (s *Server) Resolver() *net.Resolver {
	addr := s.Addr
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Set replaces the records and has dnsmasq read them again (SIGHUP). It
// returns once the server answers with the new records for every name
// given (bounded in time).
func (s *Server) Set(t testing.TB, records map[string][]string) {
	t.Helper()
	if err := s.write(records); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("dnstest: SIGHUP: %v", err)
	}
	r := s.Resolver()
	for name, want := range records {
		want = slices.Clone(want)
		slices.Sort(want)
		var got []string
		for i := 0; ; i++ {
			got = got[:0]
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			ips, err := r.LookupNetIP(ctx, "ip", name)
			cancel()
			if err == nil {
				for _, ip := range ips {
					got = append(got, ip.Unmap().String())
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					break
				}
			}
			if i == 500 {
				t.Fatalf("dnstest: %s still answers %v (%v), want %v", name, got, err, want)
			}
			time.Sleep(5 * time.Millisecond) // dnsmasq re-reads on its own time after the signal
		}
	}
}

// write writes the hosts file: one "address name" line per record.
func (s *Server) write(records map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	var b strings.Builder
	fmt.Fprintf(&b, "# dnstest generation %d\n", s.gen)
	names := make([]string, 0, len(records))
	for n := range records {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, a := range records[n] {
			fmt.Fprintf(&b, "%s %s\n", a, strings.TrimSuffix(n, "."))
		}
	}
	tmp := s.hosts + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil { //nolint:gosec // G306: dnsmasq reads it, as nobody when started as root
		return err
	}
	return os.Rename(tmp, s.hosts)
}

// Stop stops dnsmasq: lookups fail from then on.
func (s *Server) Stop() { s.stop() }

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM) // fails only when it exited already
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePort returns a loopback port free for both UDP and TCP now.
func freePort() (int, error) {
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
		_ = u.Close() // only held the port while TCP was tried
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no port free for both UDP and TCP")
}
