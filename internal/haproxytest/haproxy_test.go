package haproxytest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/haproxytest"
)

// echoServer answers each line with "<name> <line>" and counts connections.
type echoServer struct {
	name     string
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex // guards conns
	conns    map[net.Conn]struct{}
}

func startEcho(t *testing.T, name string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{name: name, ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, s.name+" "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) string {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, msg+"\n")
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

func TestLeastConnSpreadsAndCounts(t *testing.T) {
	var servers []haproxytest.Server
	echo := map[string]*echoServer{}
	for _, n := range []string{"s1", "s2", "s3"} {
		e := startEcho(t, n)
		echo[n] = e
		servers = append(servers, haproxytest.Server{Name: n, Addr: e.ln.Addr().String(), Check: true})
	}
	p := haproxytest.StartT(t, haproxytest.Options{
		Frontends: []haproxytest.Frontend{{Name: "tcp", Balance: "leastconn", Servers: servers}},
	})
	require.Contains(t, p.Config(), "balance leastconn")
	require.Contains(t, p.Config(), "option redispatch")
	require.Contains(t, p.Config(), "default-server inter 2000ms fall 3 rise 2")

	seen := map[string]int{}
	for range 9 {
		c, err := net.Dial("tcp", p.Addr("tcp"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		got := roundTrip(t, c, bufio.NewReader(c), "hello")
		name, rest, ok := strings.Cut(got, " ")
		require.True(t, ok, "answer %q", got)
		require.Equal(t, "hello", rest)
		seen[name]++
	}
	require.Equal(t, map[string]int{"s1": 3, "s2": 3, "s3": 3}, seen)

	stats, err := p.Stats(context.Background())
	require.NoError(t, err)
	require.Len(t, stats, 3)
	for _, s := range stats {
		require.Equal(t, "be_tcp", s.Backend)
		require.True(t, s.Up(), "%s is %s", s.Server, s.Status)
		require.EqualValues(t, 3, s.Total, s.Server)
		require.EqualValues(t, 3, s.Current, s.Server)
	}

	user, sys, err := p.CPUTime()
	require.NoError(t, err)
	require.GreaterOrEqual(t, user+sys, time.Duration(0))
}

func TestTimeoutClientDropsIdleConnections(t *testing.T) {
	e := startEcho(t, "s1")
	p := haproxytest.StartT(t, haproxytest.Options{
		TimeoutClient: 100 * time.Millisecond,
		Frontends: []haproxytest.Frontend{{Name: "idle", Servers: []haproxytest.Server{
			{Name: "s1", Addr: e.ln.Addr().String()},
		}}},
	})
	c, err := net.Dial("tcp", p.Addr("idle"))
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	require.Equal(t, "s1 ping", roundTrip(t, c, r, "ping"))
	// The proxy closes the idle connection: the next read sees EOF, not
	// the deadline.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = r.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestStopIsIdempotentAndClosesListeners(t *testing.T) {
	e := startEcho(t, "s1")
	p, err := haproxytest.Start(context.Background(), haproxytest.Options{
		Dir: t.TempDir(),
		Frontends: []haproxytest.Frontend{{Name: "x", Servers: []haproxytest.Server{
			{Name: "s1", Addr: e.ln.Addr().String()},
		}}},
	})
	require.NoError(t, err)
	addr := p.Addr("x")
	require.NoError(t, p.Stop())
	require.NoError(t, p.Stop())
	<-p.Exited()
	_, err = net.DialTimeout("tcp", addr, 5*time.Second)
	require.Error(t, err, "nobody listens after Stop")
}

func TestErrors(t *testing.T) {
	e := startEcho(t, "s1")
	srv := []haproxytest.Server{{Name: "s1", Addr: e.ln.Addr().String()}}

	_, err := haproxytest.Start(context.Background(), haproxytest.Options{
		Binary:    filepath.Join(t.TempDir(), "no-haproxy"),
		Dir:       t.TempDir(),
		Frontends: []haproxytest.Frontend{{Name: "x", Servers: srv}},
	})
	require.ErrorIs(t, err, haproxytest.ErrNotInstalled)
	require.ErrorContains(t, err, "install Debian's haproxy")

	if _, err := haproxytest.LookPath(""); err != nil {
		t.Fatal(err)
	}
	// HAProxy refuses the configuration: its own message is in the error.
	_, err = haproxytest.Start(context.Background(), haproxytest.Options{
		Dir: t.TempDir(),
		Frontends: []haproxytest.Frontend{{Name: "x", CertBundle: filepath.Join(t.TempDir(), "missing.pem"),
			Servers: srv}},
	})
	require.ErrorContains(t, err, "configuration refused")
	require.ErrorContains(t, err, "missing.pem")

	_, err = haproxytest.Start(context.Background(), haproxytest.Options{Dir: t.TempDir()})
	require.ErrorContains(t, err, "no frontend")
	_, err = haproxytest.Start(context.Background(), haproxytest.Options{
		Dir:       t.TempDir(),
		Frontends: []haproxytest.Frontend{{Name: "bad name", Servers: srv}},
	})
	require.ErrorContains(t, err, "bad name")
	require.False(t, errors.Is(err, haproxytest.ErrNotInstalled))
}

// TestHTTPCheck: with Frontend.HTTPCheck and Server.CheckPort, a server is
// up while its health page answers 2xx, whatever its traffic port does.
func TestHTTPCheck(t *testing.T) {
	var servers []haproxytest.Server
	for i, code := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		e := startEcho(t, fmt.Sprintf("s%d", i+1))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
		}), ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		servers = append(servers, haproxytest.Server{Name: e.name, Addr: e.ln.Addr().String(), Check: true,
			CheckPort: ln.Addr().(*net.TCPAddr).Port})
	}
	p := haproxytest.StartT(t, haproxytest.Options{Inter: 50 * time.Millisecond, Rise: 1, Fall: 1,
		Frontends: []haproxytest.Frontend{{Name: "web", HTTPCheck: "GET /healthz", Servers: servers}},
	})
	require.Contains(t, p.Config(), "option httpchk GET /healthz\n")
	require.Contains(t, p.Config(), fmt.Sprintf(" check port %d\n", servers[0].CheckPort))
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := p.Stats(context.Background())
		require.NoError(t, err)
		if st[0].Status == "UP" && st[1].Status == "DOWN" {
			break
		}
		require.True(t, time.Now().Before(deadline), "checks did not settle: %+v", st)
		time.Sleep(20 * time.Millisecond)
	}
	for range 4 {
		c, err := net.Dial("tcp", p.Addr("web"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.Equal(t, "s1 hi", roundTrip(t, c, bufio.NewReader(c), "hi"))
	}
	_, err := haproxytest.Start(context.Background(), haproxytest.Options{Dir: t.TempDir(),
		Frontends: []haproxytest.Frontend{{Name: "x", HTTPCheck: "GET /\r\nHost: x", Servers: servers}}})
	require.ErrorContains(t, err, "one line")
}
