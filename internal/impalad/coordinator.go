package impalad

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// Protocol names one of Impala's two client protocols.
type Protocol string

// The protocols a Coordinator serves. HS2HTTP names the HTTP listener; its
// sessions are HS2 sessions.
const (
	HS2     Protocol = "hs2"
	Beeswax Protocol = "beeswax"
	HS2HTTP Protocol = "hs2-http"
)

// Coordinator is one simulated impalad: an HS2 and a beeswax Thrift server
// sharing sessions, statements and a catalog. Its methods are safe for
// concurrent use.
type Coordinator struct {
	cfg     Config
	cluster *Cluster
	member  int
	log     *slog.Logger
	hs2Proc thrift.TProcessor
	bzProc  thrift.TProcessor
	mechs   map[string]saslserver.MechanismFactory
	faults  Faults
	threads chan struct{} // FrontendThreads slots; nil: no cap

	// Counters read by Stats without the lock.
	connsAccepted  atomic.Int64
	sessionsOpened atomic.Int64
	executed       atomic.Int64
	rejected       atomic.Int64
	expired        atomic.Int64 // statements ended by a time limit
	rpcs           atomic.Int64
	waiting        atomic.Int64 // connections waiting for a frontend thread
	logName        atomic.Pointer[string]

	// lifeMu serializes Close, Kill and Restart (held for their whole
	// run, without mu), so a Kill that a fault started from another
	// goroutine finishes before a Restart begins.
	lifeMu sync.Mutex

	mu        sync.Mutex // guards the fields below and every session and operation
	state     coordState
	life      *life
	hs2Addr   string // resolved listen addresses, reused by Restart
	bzAddr    string
	webAddrLn string
	httpAddr  string
	http      httpAuth // the HTTP listener's authentication (http.go)
	// reserved holds the ports of a killed coordinator (or of refused
	// listeners) until the next run binds them again; see reservePort.
	reserved   []io.Closer
	sessions   map[[16]byte]*session
	ops        map[[16]byte]*operation
	statements []Statement
	// archive holds recently closed operations for profiles and summaries.
	archive      map[[16]byte]*operation
	archiveOrder [][16]byte
	// interrupted holds the status of statements QUERY_TIMEOUT_S
	// unregistered, for later calls about them.
	interrupted map[[16]byte]string
	nextConnID  uint64
	shut        shutdownState // graceful shutdown (shutdown.go)
	startedAt   time.Time     // start of the current run: the backend's process_start_time
}

type coordState int

const (
	stateRunning coordState = iota
	stateKilled
	stateClosed
)

// life is the state of one run of the servers, between Start (or Restart)
// and Kill or Close.
type life struct {
	ctx    context.Context // cancelled when the run ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, connection goroutines, the janitor
	// guarded by Coordinator.mu:
	hs2Ln, bzLn net.Listener
	webLn       net.Listener // nil without Config.WebAddr
	httpLn      net.Listener // nil without Config.HS2HTTPAddr
	web         *http.Server
	conns       map[*serverConn]struct{}
}

// Start starts a coordinator as cfg says and returns once its listeners are
// bound.
func Start(cfg Config) (*Coordinator, error) {
	cfg = cfg.withDefaults()
	co := &Coordinator{
		cfg:      cfg,
		cluster:  cfg.Cluster,
		log:      cfg.Logger,
		sessions: map[[16]byte]*session{},
		ops:      map[[16]byte]*operation{},
	}
	co.faults.co = co
	if err := co.http.init(&cfg); err != nil {
		return nil, err
	}
	if cfg.FrontendThreads > 0 {
		co.threads = make(chan struct{}, cfg.FrontendThreads)
	}
	if cfg.saslEnabled() {
		co.mechs = map[string]saslserver.MechanismFactory{}
		for name, f := range cfg.Mechanisms {
			co.mechs[name] = f
		}
		if cfg.Users != nil {
			users := make(map[string]string, len(cfg.Users))
			for u, p := range cfg.Users {
				users[u] = p
			}
			co.mechs[sasl.PlainName] = saslserver.NewPlain(func(user, password string) error {
				if want, ok := users[user]; ok && want == password {
					return nil
				}
				return errors.New("invalid user name or password")
			})
		}
	}
	hs2 := &hs2Handler{co: co}
	hs2Proc := impala.NewImpalaHiveServer2ServiceProcessor(hs2)
	hs2Proc.AddToProcessorMap("FetchResults", &fetchProcessor{h: hs2}) // see fetchenc.go
	co.hs2Proc = hs2Proc
	bh := &beeswaxHandler{co: co}
	bzProc := impala.NewImpalaServiceProcessor(bh)
	addUndeclaredProcessors(bzProc, bh)
	co.bzProc = bzProc
	co.member = co.cluster.join(co)
	// The listeners share their ports with the reservations of a killed
	// coordinator (SO_REUSEPORT, see listen), which would let two
	// coordinators bind one port given twice: find that out first.
	bz := cfg.BeeswaxAddr
	if cfg.DisableBeeswax {
		bz = ""
	}
	if err := checkFree(cfg.HS2Addr, bz, cfg.WebAddr, cfg.HS2HTTPAddr); err != nil {
		co.cluster.leave(co.member)
		return nil, err
	}
	if err := co.startLife(cfg.HS2Addr, cfg.BeeswaxAddr, cfg.WebAddr, cfg.HS2HTTPAddr); err != nil {
		co.cluster.leave(co.member)
		return nil, err
	}
	return co, nil
}

// checkFree fails when one of the addresses with a port given (not 0) is
// in use, by binding it for a moment without SO_REUSEPORT.
func checkFree(addrs ...string) error {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a); err == nil && port == "0" {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("impalad: listen on %s: %w", a, err)
		}
		ln.Close()
	}
	return nil
}

// startLife binds the listeners and starts the accept loops. Called without
// co.mu held.
func (co *Coordinator) startLife(hs2Addr, bzAddr, webAddr, httpAddr string) error {
	hs2Ln, err := listen(hs2Addr)
	if err != nil {
		return fmt.Errorf("impalad: listen HS2 on %s: %w", hs2Addr, err)
	}
	var bzLn net.Listener
	if !co.cfg.DisableBeeswax {
		bzLn, err = listen(bzAddr)
		if err != nil {
			hs2Ln.Close()
			return fmt.Errorf("impalad: listen beeswax on %s: %w", bzAddr, err)
		}
	}
	var webLn net.Listener
	if webAddr != "" {
		webLn, err = listen(webAddr)
		if err != nil {
			hs2Ln.Close()
			if bzLn != nil {
				bzLn.Close()
			}
			return fmt.Errorf("impalad: listen web server on %s: %w", webAddr, err)
		}
	}
	var httpLn net.Listener
	if httpAddr != "" {
		httpLn, err = listen(httpAddr)
		if err != nil {
			for _, ln := range []net.Listener{hs2Ln, bzLn, webLn} {
				if ln != nil {
					ln.Close()
				}
			}
			return fmt.Errorf("impalad: listen HS2 HTTP on %s: %w", httpAddr, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &life{ctx: ctx, cancel: cancel, hs2Ln: hs2Ln, bzLn: bzLn, webLn: webLn, httpLn: httpLn, conns: map[*serverConn]struct{}{}}
	co.mu.Lock()
	co.releasePortsLocked()
	co.life = l
	co.state = stateRunning
	co.resetShutdownLocked()
	co.startedAt = time.Now()
	co.hs2Addr = hs2Ln.Addr().String()
	name := co.hs2Addr
	co.logName.Store(&name)
	if bzLn != nil {
		co.bzAddr = bzLn.Addr().String()
	}
	if webLn != nil {
		co.webAddrLn = webLn.Addr().String()
		co.startWeb(l, webLn)
	}
	l.wg.Add(2)
	go co.acceptLoop(l, hs2Ln, HS2)
	go co.janitor(l)
	if bzLn != nil {
		l.wg.Add(1)
		go co.acceptLoop(l, bzLn, Beeswax)
	}
	if httpLn != nil {
		co.httpAddr = httpLn.Addr().String()
		// A new run is a new impalad process: a new cookie key
		// (AuthenticationHash), so cookies of the last run are refused.
		co.http.newKey()
		l.wg.Add(1)
		go co.acceptLoop(l, httpLn, HS2HTTP)
	}
	co.mu.Unlock()
	co.debug("coordinator started", slog.String("hs2", co.hs2Addr), slog.String("beeswax", co.bzAddr), slog.String("hs2-http", co.httpAddr))
	return nil
}

// HS2Addr returns the HiveServer2 address (host:port).
func (co *Coordinator) HS2Addr() string {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.hs2Addr
}

// WebAddr returns the web server address, empty without Config.WebAddr.
func (co *Coordinator) WebAddr() string {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.webAddrLn
}

// HS2HTTPAddr returns the address of HiveServer2 over HTTP, empty without
// Config.HS2HTTPAddr.
func (co *Coordinator) HS2HTTPAddr() string {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.httpAddr
}

// BeeswaxAddr returns the beeswax address, empty when beeswax is off.
func (co *Coordinator) BeeswaxAddr() string {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.bzAddr
}

// Cluster returns the catalog the coordinator belongs to.
func (co *Coordinator) Cluster() *Cluster { return co.cluster }

// Faults returns the fault-injection handle of the coordinator.
func (co *Coordinator) Faults() *Faults { return &co.faults }

// Close shuts the coordinator down for good: listeners close, every
// connection is closed (FIN), running statements are cancelled, sessions
// end, and Close waits for every goroutine it started. It is idempotent.
func (co *Coordinator) Close() error {
	co.lifeMu.Lock()
	defer co.lifeMu.Unlock()
	co.mu.Lock()
	if co.state == stateClosed {
		co.mu.Unlock()
		return nil
	}
	co.state = stateClosed
	l := co.life
	co.life = nil
	co.releasePortsLocked()
	co.mu.Unlock()
	co.faults.stop()
	if l != nil {
		co.endLife(l, false)
	}
	co.forgetAll()
	co.cluster.leave(co.member)
	co.debug("coordinator closed")
	return nil
}

// Kill simulates a crash: listeners close, every connection is reset (RST),
// and all sessions and operations are forgotten. Restart brings the
// coordinator back on the same ports. Statement records and counters are
// kept. Kill of a killed or closed coordinator does nothing.
func (co *Coordinator) Kill() {
	co.lifeMu.Lock()
	defer co.lifeMu.Unlock()
	co.kill()
}

// kill is Kill with lifeMu held.
func (co *Coordinator) kill() {
	co.mu.Lock()
	if co.state != stateRunning {
		co.mu.Unlock()
		return
	}
	co.state = stateKilled
	l := co.life
	co.life = nil
	co.mu.Unlock()
	co.endLife(l, true)
	co.forgetAll()
	co.debug("coordinator killed")
}

// Restart kills the coordinator if it is running, then starts it again on
// the same addresses. Sessions of the previous run are gone ("Invalid
// session id"). It fails with ErrClosed after Close, or when a port cannot
// be bound again.
func (co *Coordinator) Restart() error {
	co.lifeMu.Lock()
	defer co.lifeMu.Unlock()
	co.kill()
	co.mu.Lock()
	if co.state == stateClosed {
		co.mu.Unlock()
		return ErrClosed
	}
	hs2, bz, web, hh := co.hs2Addr, co.bzAddr, co.webAddrLn, co.httpAddr
	co.mu.Unlock()
	co.faults.resetRefuse()
	return co.startLife(hs2, bz, web, hh)
}

// endLife stops one run: cancel, close listeners and connections, wait. A
// kill (reset) keeps the ports reserved for Restart.
func (co *Coordinator) endLife(l *life, reset bool) {
	l.cancel()
	co.mu.Lock()
	lns := []net.Listener{l.hs2Ln, l.bzLn, l.webLn, l.httpLn}
	if reset {
		// Before the listeners close: no moment without the ports.
		for _, ln := range lns {
			if ln != nil {
				co.keepPortLocked(ln)
			}
		}
	}
	if l.web != nil {
		_ = l.web.Close() // closes webLn; nothing to report at shutdown
	}
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
	conns := make([]*serverConn, 0, len(l.conns))
	for sc := range l.conns {
		conns = append(conns, sc)
	}
	co.mu.Unlock()
	for _, sc := range conns {
		sc.close(reset)
	}
	l.wg.Wait()
}

// keepPortLocked reserves the port of ln, which is about to close, until
// releasePortsLocked. Without a reservation (off Linux, or when it fails) the
// port is merely closed and a Restart may find it taken. co.mu held.
func (co *Coordinator) keepPortLocked(ln net.Listener) {
	r, err := reservePort(ln)
	if err != nil {
		co.warn("cannot keep the port while down", slog.String("error", err.Error()))
		return
	}
	if r != nil {
		co.reserved = append(co.reserved, r)
	}
}

// releasePortsLocked lets go of the reserved ports: the listeners of the
// next run hold them now, or the coordinator is closed. co.mu held.
func (co *Coordinator) releasePortsLocked() {
	for _, r := range co.reserved {
		r.Close()
	}
	co.reserved = nil
}

// forgetAll drops every session and operation.
func (co *Coordinator) forgetAll() {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, op := range co.ops {
		op.closeLocked()
	}
	co.ops = map[[16]byte]*operation{}
	co.sessions = map[[16]byte]*session{}
	co.archive, co.archiveOrder = nil, nil
	co.interrupted = nil
}

func (co *Coordinator) acceptLoop(l *life, ln net.Listener, p Protocol) {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// A temporary failure (out of file descriptors): back off.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			co.warn("accept failed", slog.String("error", err.Error()))
			select {
			case <-time.After(backoff):
				continue
			case <-l.ctx.Done():
				return
			}
		}
		backoff = 0
		co.connsAccepted.Add(1)
		if co.faults.acceptAndClose.Load() {
			c.Close()
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true) // Go's default already; an error shows on the next write
		}
		sc := &serverConn{co: co, raw: c, proto: p, done: make(chan struct{}), sessions: map[*session]struct{}{}}
		if p == HS2HTTP {
			// Its sessions are HS2 sessions.
			sc.proto, sc.http = HS2, true
		}
		sc.touch()
		co.mu.Lock()
		if l.ctx.Err() != nil {
			co.mu.Unlock()
			c.Close()
			return
		}
		co.nextConnID++
		sc.id = co.nextConnID
		l.conns[sc] = struct{}{}
		l.wg.Add(1)
		co.mu.Unlock()
		go co.serve(l, sc)
	}
}

// serverConn is one accepted client connection.
type serverConn struct {
	co    *Coordinator
	id    uint64
	raw   net.Conn // the TCP connection
	proto Protocol
	user  string // authenticated SASL user, if any; over HTTP, the last request's
	// http says the connection is the HTTP listener's (proto is HS2).
	http bool
	// doAs is the doAs parameter of the last HTTP request's path.
	doAs string

	lastActive atomic.Int64 // unix nanoseconds of the last request or response
	busy       atomic.Bool  // an RPC is being served
	// crashOnFlush makes the next response flush kill the coordinator
	// instead (Faults.CrashOn after execution).
	crashOnFlush atomic.Bool
	closed       atomic.Bool
	done         chan struct{} // closed by close

	// guarded by co.mu:
	sessions map[*session]struct{} // HS2 sessions used on this connection
	bz       *session              // the beeswax session of the connection

	// replyBuf is the buffer of the connection's FetchResults replies
	// (fetchenc.go), used by its serve goroutine only.
	replyBuf []byte
}

func (sc *serverConn) touch() { sc.lastActive.Store(time.Now().UnixNano()) }

// close closes the connection; with reset, the peer gets an RST.
func (sc *serverConn) close(reset bool) {
	if !sc.closed.CompareAndSwap(false, true) {
		return
	}
	if tc, ok := sc.raw.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0) // best effort: the close below ends the connection either way
	}
	sc.raw.Close()
	close(sc.done)
}

type connKey struct{}

func connFrom(ctx context.Context) *serverConn {
	sc, _ := ctx.Value(connKey{}).(*serverConn)
	return sc
}

// serve runs one connection: TLS, SASL or NOSASL, then Thrift RPCs until
// the connection ends.
func (co *Coordinator) serve(l *life, sc *serverConn) {
	defer l.wg.Done()
	defer co.connClosed(l, sc)
	defer sc.close(false)
	if co.threads != nil {
		co.waiting.Add(1)
		select {
		case co.threads <- struct{}{}:
			co.waiting.Add(-1)
			defer func() { <-co.threads }()
		case <-l.ctx.Done():
			co.waiting.Add(-1)
			return
		case <-sc.done:
			co.waiting.Add(-1)
			return
		}
	}
	if !co.faults.waitHang(l.ctx, sc) {
		return
	}
	c := sc.raw
	hctx, hcancel := context.WithTimeout(l.ctx, co.cfg.HandshakeTimeout)
	defer hcancel()
	if co.cfg.TLS != nil {
		tc := tls.Server(c, co.cfg.TLS)
		if err := tc.HandshakeContext(hctx); err != nil {
			co.debug("TLS handshake failed", slog.String("remote", c.RemoteAddr().String()), slog.String("error", err.Error()))
			return
		}
		c = tc
	}
	if sc.http {
		hcancel()
		co.serveHTTP(l, sc, c)
		return
	}
	var t *serverTransport
	if co.mechs != nil {
		tr, user, err := saslserver.AcceptContext(hctx, c, closingMechs(co.mechs, c), sasl.Config{Logger: co.log})
		if err != nil {
			co.debug("SASL handshake failed", slog.String("remote", c.RemoteAddr().String()), slog.String("error", err.Error()))
			return
		}
		sc.user = user
		t = &serverTransport{sc: sc, r: bufio.NewReaderSize(tr, 32<<10), w: tr, flush: tr.Flush}
	} else {
		bw := bufio.NewWriterSize(c, 32<<10)
		t = &serverTransport{sc: sc, r: bufio.NewReaderSize(c, 32<<10), w: bw,
			flush: func(context.Context) error { return bw.Flush() }}
		if tc, ok := c.(*net.TCPConn); ok {
			t.bw, t.tcp = bw, tc
		}
	}
	hcancel()
	proto := thrift.NewTBinaryProtocolConf(t, &thrift.TConfiguration{
		MaxMessageSize:     256 << 20,
		TBinaryStrictRead:  new(false),
		TBinaryStrictWrite: new(true),
	})
	proc := co.hs2Proc
	if sc.proto == Beeswax {
		proc = co.bzProc
		co.openBeeswaxSession(sc)
	}
	ctx := context.WithValue(l.ctx, connKey{}, sc)
	co.debug("connection open", slog.String("protocol", string(sc.proto)), slog.String("remote", sc.raw.RemoteAddr().String()))
	for {
		sc.busy.Store(false)
		sc.touch()
		if _, err := t.r.Peek(1); err != nil {
			return
		}
		sc.busy.Store(true)
		sc.touch()
		if !co.faults.beforeRPC(l.ctx, sc) {
			return
		}
		if !co.process(ctx, sc, proc, proto) {
			return
		}
	}
}

// process serves one RPC of sc and reports whether the connection goes on.
func (co *Coordinator) process(ctx context.Context, sc *serverConn, proc thrift.TProcessor, proto thrift.TProtocol) bool {
	co.rpcs.Add(1)
	ok, err := proc.Process(ctx, proto, proto)
	if err != nil {
		var te thrift.TTransportException
		var pe thrift.TProtocolException
		if errors.As(err, &te) || errors.As(err, &pe) || sc.closed.Load() {
			return false
		}
		co.debug("RPC failed", slog.String("error", err.Error()))
	}
	return ok
}

// closingMechs returns mechs with every mechanism's failure closing c at
// once, before the SASL transport could answer BAD: as Impala's
// TSaslTransport::doSaslNegotiation (be/src/transport/TSaslTransport.cpp)
// rethrows a failed authentication, and the client sees the connection
// close. (An unsupported mechanism still gets BAD, as in Impala's
// TSaslServerTransport.)
func closingMechs(mechs map[string]saslserver.MechanismFactory, c net.Conn) map[string]saslserver.MechanismFactory {
	out := make(map[string]saslserver.MechanismFactory, len(mechs))
	for name, f := range mechs {
		out[name] = func() saslserver.Mechanism {
			m := f()
			if m == nil {
				return nil
			}
			cm := &closingMech{Mechanism: m, c: c}
			if sl, ok := m.(sasl.SecurityLayer); ok {
				return &closingLayerMech{closingMech: cm, SecurityLayer: sl}
			}
			return cm
		}
	}
	return out
}

// closingMech is a ServerMechanism whose failure closes its connection.
type closingMech struct {
	saslserver.Mechanism
	c net.Conn
}

// closingLayerMech is a closingMech that keeps its mechanism's security
// layer (GSSAPI with a QOP other than auth).
type closingLayerMech struct {
	*closingMech
	sasl.SecurityLayer
}

func (m *closingMech) Step(response []byte) ([]byte, bool, error) {
	challenge, done, err := m.Mechanism.Step(response)
	if err != nil {
		m.c.Close()
	}
	return challenge, done, err
}

// connClosed detaches the connection's sessions: beeswax sessions end, HS2
// sessions left without a connection start their disconnected timeout.
func (co *Coordinator) connClosed(l *life, sc *serverConn) {
	co.mu.Lock()
	defer co.mu.Unlock()
	delete(l.conns, sc)
	now := time.Now()
	for s := range sc.sessions {
		delete(s.conns, sc)
		if len(s.conns) == 0 {
			s.disconnectedAt = now
			if co.cfg.DisconnectedSessionTimeout < 0 {
				co.closeSessionLocked(s)
			}
		}
	}
	sc.sessions = nil
	if sc.bz != nil {
		co.closeSessionLocked(sc.bz)
		sc.bz = nil
	}
}

// serverTransport is the Thrift transport of one connection: buffered reads
// (so the serve loop can wait for the next request without consuming it)
// over either the raw connection or the SASL transport.
type serverTransport struct {
	sc    *serverConn
	r     *bufio.Reader
	w     bufferedWriter // writes buffer until flush
	flush func(context.Context) error
	// bw and tcp are set when w is a *bufio.Writer straight over a TCP
	// connection (no TLS, no SASL): writeReply writes a large reply past
	// the buffer, in one writev.
	bw  *bufio.Writer
	tcp *net.TCPConn
}

// bufferedWriter is a *bufio.Writer (NOSASL) or a *saslwire.Transport.
type bufferedWriter interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

func (t *serverTransport) Read(p []byte) (int, error)        { return t.r.Read(p) }
func (t *serverTransport) ReadByte() (byte, error)           { return t.r.ReadByte() }
func (t *serverTransport) Write(p []byte) (int, error)       { return t.w.Write(p) }
func (t *serverTransport) WriteByte(c byte) error            { return t.w.WriteByte(c) }
func (t *serverTransport) WriteString(s string) (int, error) { return t.w.WriteString(s) }
func (t *serverTransport) Flush(ctx context.Context) error {
	if t.sc.crashOnFlush.Load() {
		t.sc.co.faults.crashNow(t.sc)
		return errCrashed
	}
	err := t.flush(ctx)
	t.sc.touch()
	return err
}
func (t *serverTransport) Close() error           { t.sc.close(false); return nil }
func (t *serverTransport) Open() error            { return nil }
func (t *serverTransport) IsOpen() bool           { return !t.sc.closed.Load() }
func (t *serverTransport) RemainingBytes() uint64 { return thrift.UnknownRemainingBytes }

var _ thrift.TRichTransport = (*serverTransport)(nil)

// janitor closes connections idle longer than the idle-connection fault
// allows and sweeps expired sessions, for the life of one run.
func (co *Coordinator) janitor(l *life) {
	defer l.wg.Done()
	for {
		idle := time.Duration(co.faults.idleClose.Load())
		wait := 100 * time.Millisecond
		if idle > 0 {
			wait = min(max(idle/8, time.Millisecond), 100*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-co.faults.kickChan():
			t.Stop()
		case <-t.C:
		}
		if idle > 0 {
			limit := time.Now().Add(-idle).UnixNano()
			var victims []*serverConn
			co.mu.Lock()
			for sc := range l.conns {
				if !sc.busy.Load() && sc.lastActive.Load() < limit {
					victims = append(victims, sc)
				}
			}
			co.mu.Unlock()
			for _, sc := range victims {
				co.debug("closing idle connection", slog.Uint64("conn", sc.id))
				sc.close(false)
			}
		}
		co.sweepSessions()
		co.expireQueries(time.Now())
	}
}

func (co *Coordinator) debug(msg string, attrs ...slog.Attr) {
	if co.log != nil {
		co.log.LogAttrs(context.Background(), slog.LevelDebug, "impalad: "+msg, append(attrs, slog.String("coordinator", co.hs2AddrNoLock()))...)
	}
}

func (co *Coordinator) warn(msg string, attrs ...slog.Attr) {
	if co.log != nil {
		co.log.LogAttrs(context.Background(), slog.LevelWarn, "impalad: "+msg, attrs...)
	}
}

// hs2AddrNoLock returns the HS2 address for logging, without co.mu (the
// caller may hold it).
func (co *Coordinator) hs2AddrNoLock() string {
	if p := co.logName.Load(); p != nil {
		return *p
	}
	return co.cfg.HS2Addr
}
