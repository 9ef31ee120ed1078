//go:build unix

package balancer_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

// lineServer is a tiny coordinator on loopback speaking a line protocol:
// "OPEN" → "OK", "PING" → "PONG". A hung one accepts and never answers; one
// with an idle timeout closes connections quiet for that long, as a proxy
// would.
type lineServer struct {
	ln     net.Listener
	hang   bool
	idle   atomic.Int64  // idle timeout in ns; 0: none
	cut    chan struct{} // one value per connection closed for idleness
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func startLineServer(t *testing.T, hang bool, idle time.Duration) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &lineServer{ln: ln, hang: hang, cut: make(chan struct{}, 1024), conns: map[net.Conn]bool{}}
	s.idle.Store(int64(idle))
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.stop)
	return s
}

func (s *lineServer) addr() string { return s.ln.Addr().String() }

func (s *lineServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *lineServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	for {
		if idle := time.Duration(s.idle.Load()); idle > 0 {
			_ = c.SetReadDeadline(time.Now().Add(idle))
		}
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.Close() // before the signal: the client sees the cut
				s.cut <- struct{}{}
			}
			return
		}
		if s.hang {
			continue
		}
		reply := "ERR\n"
		switch strings.TrimSpace(line) {
		case "OPEN":
			reply = "OK\n"
		case "PING":
			reply = "PONG\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

func (s *lineServer) stop() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// tcpDialer opens lineServer sessions.
type tcpDialer struct{}

type tcpSession struct {
	c net.Conn
	r *bufio.Reader
}

func (tcpDialer) Dial(ctx context.Context, addr string) (balancer.Session, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &tcpSession{c: c, r: bufio.NewReader(c)}
	if err := s.roundTrip(ctx, "OPEN", "OK"); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *tcpSession) roundTrip(ctx context.Context, req, want string) error {
	stop := context.AfterFunc(ctx, func() { _ = s.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := s.c.Write([]byte(req + "\n")); err != nil {
		return err
	}
	line, err := s.r.ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if got := strings.TrimSpace(line); got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

func (s *tcpSession) Ping(ctx context.Context) error { return s.roundTrip(ctx, "PING", "PONG") }
func (s *tcpSession) Close() error                   { return s.c.Close() }

// Alive peeks one byte without blocking: EOF or pending data means the
// session cannot be reused.
func (s *tcpSession) Alive() bool {
	if s.r.Buffered() > 0 {
		return false
	}
	rc, err := s.c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK))
		return true
	})
	return err == nil && alive
}

// A hung coordinator (accepts, never answers) on real sockets: acquires
// complete on the others.
func TestRealSocketsHungCoordinator(t *testing.T) {
	hung := startLineServer(t, true, 0)
	a := startLineServer(t, false, 0)
	b := startLineServer(t, false, 0)
	cfg := testCfg{Dialer: tcpDialer{}, Config: balancer.Config{
		Coordinators: []string{hung.addr(), a.addr(), b.addr()},
		DialTimeout:  300 * time.Millisecond,
		Interval:     -1,
		BackoffMin:   time.Hour,
		BackoffMax:   time.Hour,
	}}
	p := newPool(t, cfg, balancer.TestOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*cfg.DialTimeout)
				l, err := p.Acquire(ctx, "")
				if err == nil {
					if l.Coordinator() == hung.addr() {
						err = errors.New("handed out on the hung coordinator")
					} else {
						err = l.Session().Ping(ctx)
					}
					l.Release()
				}
				cancel()
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	hs, _ := p.Stats().Coordinator(hung.addr())
	require.Equal(t, balancer.StateDown, hs.State)
	require.ErrorIs(t, hs.LastError, context.DeadlineExceeded)
}

// Connections cut while idle (a proxy's idle timeout) on real sockets: after
// the cut, 1000 acquires see no error.
func TestRealSocketsIdleCut(t *testing.T) {
	var addrs []string
	var servers []*lineServer
	for range 3 {
		s := startLineServer(t, false, 200*time.Millisecond)
		servers = append(servers, s)
		addrs = append(addrs, s.addr())
	}
	cfg := testCfg{Dialer: tcpDialer{}, Config: balancer.Config{
		Coordinators:  addrs,
		Interval:      -1,
		ValidateAfter: time.Hour, // rely on the socket check alone
	}}
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
	releaseAll(acquireSerial(t, p, 6))
	for range 6 { // the servers signal each connection they cut
		select {
		case <-servers[0].cut:
		case <-servers[1].cut:
		case <-servers[2].cut:
		case <-time.After(10 * time.Second):
			t.Fatal("idle connections were not cut")
		}
	}
	for _, s := range servers { // one cut is the scenario; no more during the check
		s.idle.Store(0)
	}
	ctx := context.Background()
	for range 1000 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.NoError(t, l.Session().Ping(ctx))
		l.Release()
	}
	p.Maintain() // the background pass that prunes dead idle sessions everywhere
	var replaced uint64
	for _, cs := range p.Stats().Coordinators {
		replaced += cs.Replaced
	}
	require.EqualValues(t, 6, replaced, "every cut session was found by the socket check, without a ping")
}
