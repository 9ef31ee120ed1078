package impalad

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// Faults injects failures into one coordinator, for tests of the clients'
// failure handling. Get it with Coordinator.Faults. Every method is safe
// for concurrent use and takes effect at once; faults stay in force until
// changed, Reset, or the coordinator is closed. Kill and Restart keep them,
// except that Restart listens again (undoing RefuseConnections).
type Faults struct {
	co *Coordinator

	acceptAndClose atomic.Bool
	idleClose      atomic.Int64 // time.Duration
	delay          atomic.Int64 // time.Duration
	failOpen       atomic.Int64
	emptyFetches   atomic.Int64
	kickOnce       sync.Once
	kickCh         chan struct{}

	mu          sync.Mutex    // guards the fields below
	hangCh      chan struct{} // non-nil while hanging; closed when lifted
	refused     bool
	crashMethod string // CrashOn's method; empty: none armed
	crashAfter  bool
}

func (f *Faults) kickChan() chan struct{} {
	f.kickOnce.Do(func() { f.kickCh = make(chan struct{}, 1) })
	return f.kickCh
}

// kick wakes the janitor so it picks up a new idle timeout.
func (f *Faults) kickJanitor() {
	select {
	case f.kickChan() <- struct{}{}:
	default:
	}
}

// RefuseConnections closes the listeners, so connection attempts are
// refused by the kernel (ECONNREFUSED), as with a coordinator that is down.
// Open connections are left alone. AcceptConnections undoes it.
func (f *Faults) RefuseConnections() {
	co := f.co
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused {
		return
	}
	f.refused = true
	co.mu.Lock()
	defer co.mu.Unlock()
	if l := co.life; l != nil {
		for _, ln := range []net.Listener{l.hs2Ln, l.bzLn, l.httpLn} {
			if ln != nil {
				co.keepPortLocked(ln) // before the close: no moment without the port
				ln.Close()
			}
		}
	}
}

// AcceptConnections listens again on the same addresses after
// RefuseConnections. It fails when a port was taken meanwhile.
func (f *Faults) AcceptConnections() error {
	co := f.co
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.refused {
		return nil
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	if co.state == stateClosed {
		return ErrClosed
	}
	f.refused = false
	l := co.life
	if l == nil {
		return nil // killed: Restart will listen
	}
	hs2, err := listen(co.hs2Addr)
	if err != nil {
		return err
	}
	l.hs2Ln = hs2
	l.wg.Add(1)
	go co.acceptLoop(l, hs2, HS2)
	for _, o := range []struct {
		addr  string
		ln    *net.Listener
		proto Protocol
	}{{co.bzAddr, &l.bzLn, Beeswax}, {co.httpAddr, &l.httpLn, HS2HTTP}} {
		if o.addr == "" {
			continue
		}
		ln, err := listen(o.addr)
		if err != nil {
			return err
		}
		*o.ln = ln
		l.wg.Add(1)
		go co.acceptLoop(l, ln, o.proto)
	}
	co.releasePortsLocked()
	return nil
}

func (f *Faults) resetRefuse() {
	f.mu.Lock()
	f.refused = false
	f.mu.Unlock()
}

// SetAcceptAndClose makes the coordinator accept new connections and close
// them at once, before any byte is exchanged (the client sees EOF or a
// reset on its first read).
func (f *Faults) SetAcceptAndClose(on bool) { f.acceptAndClose.Store(on) }

// CloseConnections closes every open connection (a FIN, as a proxy or a
// restarting server does) and returns how many it closed. HS2 sessions
// survive for Config.DisconnectedSessionTimeout and can be reattached.
func (f *Faults) CloseConnections() int { return f.co.closeConns(false) }

// ResetConnections closes every open connection with an RST (SO_LINGER 0)
// and returns how many it reset.
func (f *Faults) ResetConnections() int { return f.co.closeConns(true) }

// Hang makes the coordinator accept connections and never answer: new
// connections get no TLS, SASL or Thrift reply, and requests on open
// connections get no response, until Hang(false). Clients see their own
// timeouts, as with an impalad whose frontend threads are all busy.
func (f *Faults) Hang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.hangCh == nil:
		f.hangCh = make(chan struct{})
	case !on && f.hangCh != nil:
		close(f.hangCh)
		f.hangCh = nil
	}
}

// SetDelay makes every RPC wait d before it is served (a slow
// coordinator). Zero turns it off.
func (f *Faults) SetDelay(d time.Duration) { f.delay.Store(int64(d)) }

// FailOpenSessions makes the next n HS2 OpenSession calls fail with an
// error status (as when Impala is shutting down or out of sessions).
func (f *Faults) FailOpenSessions(n int) { f.failOpen.Store(int64(n)) }

// SetIdleConnectionTimeout closes connections that had no request for
// longer than d, as a proxy's idle timeout (HAProxy's timeout client) does;
// the client learns it only when it next uses the connection. Zero turns it
// off. Sessions outlive their connections as Config.DisconnectedSessionTimeout says.
func (f *Faults) SetIdleConnectionTimeout(d time.Duration) {
	f.idleClose.Store(int64(d))
	f.kickJanitor()
}

// EmptyFetches makes the next k fetches (HS2 FetchResults, beeswax fetch)
// of statements that still have rows return an empty batch that says more
// rows are coming, as Impala does when fetch_rows_timeout_ms passes
// (beeswax: ready=false).
func (f *Faults) EmptyFetches(k int) { f.emptyFetches.Store(int64(k)) }

// ExpireSessions expires every open session now, as the idle session
// timeout would: later calls with them fail with Impala's "Client session
// expired ..." error. It returns how many it expired.
func (f *Faults) ExpireSessions() int {
	co := f.co
	co.mu.Lock()
	defer co.mu.Unlock()
	n := 0
	for _, s := range co.sessions {
		if !s.expired {
			co.expireLocked(s)
			n++
		}
	}
	return n
}

// CrashOn arms a crash at a precise point: when the next call of the
// Thrift method named method arrives on either protocol ("OpenSession",
// "ExecuteStatement", "FetchResults", "CloseOperation", beeswax "query",
// "fetch", ...), the coordinator is killed as by Kill. With afterExecution
// false it dies before serving the call (a statement is not run); with
// true it serves the call (a statement is run and recorded) and dies
// before the reply leaves, so the client cannot tell whether it ran. The
// connection that made the call gets an RST. It fires once; an empty
// method disarms it.
func (f *Faults) CrashOn(method string, afterExecution bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashMethod, f.crashAfter = method, afterExecution
}

// enter is called at the start of every RPC handler. It returns
// thrift.ErrAbandonRequest when CrashOn fires before the call.
func (f *Faults) enter(ctx context.Context, method string) error {
	f.mu.Lock()
	if f.crashMethod == "" || f.crashMethod != method {
		f.mu.Unlock()
		return nil
	}
	after := f.crashAfter
	f.crashMethod = ""
	f.mu.Unlock()
	sc := connFrom(ctx)
	if after && sc != nil {
		sc.crashOnFlush.Store(true)
		return nil
	}
	f.crashNow(sc)
	return thrift.ErrAbandonRequest
}

// crashNow resets the calling connection and kills the coordinator from
// another goroutine (Kill waits for this connection's goroutine).
func (f *Faults) crashNow(sc *serverConn) {
	if sc != nil {
		sc.close(true)
	}
	go f.co.Kill()
}

// Reset turns every fault off (listening again if RefuseConnections was in
// force).
func (f *Faults) Reset() error {
	f.SetAcceptAndClose(false)
	f.Hang(false)
	f.SetDelay(0)
	f.FailOpenSessions(0)
	f.SetIdleConnectionTimeout(0)
	f.EmptyFetches(0)
	f.CrashOn("", false)
	return f.AcceptConnections()
}

// stop lifts the hang so goroutines waiting on it can end.
func (f *Faults) stop() { f.Hang(false) }

// takeFailOpen consumes one injected OpenSession failure.
func (f *Faults) takeFailOpen() bool { return takeOne(&f.failOpen) }

// takeEmptyFetch consumes one injected empty fetch.
func (f *Faults) takeEmptyFetch() bool { return takeOne(&f.emptyFetches) }

func takeOne(n *atomic.Int64) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// waitHang blocks while Hang is on; false means the connection or the run
// ended meanwhile.
func (f *Faults) waitHang(ctx context.Context, sc *serverConn) bool {
	for {
		f.mu.Lock()
		ch := f.hangCh
		f.mu.Unlock()
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-sc.done:
			return false
		}
	}
}

// beforeRPC applies Hang and SetDelay to one request.
func (f *Faults) beforeRPC(ctx context.Context, sc *serverConn) bool {
	if !f.waitHang(ctx, sc) {
		return false
	}
	if d := time.Duration(f.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		case <-sc.done:
			return false
		}
	}
	return true
}

func (co *Coordinator) closeConns(reset bool) int {
	co.mu.Lock()
	var conns []*serverConn
	if l := co.life; l != nil {
		for sc := range l.conns {
			conns = append(conns, sc)
		}
	}
	co.mu.Unlock()
	for _, sc := range conns {
		sc.close(reset)
	}
	return len(conns)
}

// errCrashed is returned by a flush that CrashOn stopped.
var errCrashed = errors.New("impalad: crashed by fault injection")
