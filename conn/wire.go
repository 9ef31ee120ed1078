package conn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
)

// wire is one connection to a coordinator: the TCP socket, optional TLS
// and SASL, and the Thrift binary protocol client over them; or, for
// HS2HTTP, the HTTP client bound to the coordinator (http.go). It is used
// by one goroutine at a time, except Alive, broken and close, which are
// safe to call concurrently.
type wire struct {
	addr   string
	link   link // what the calls travel over
	trans  thrift.TTransport
	client *thrift.TStandardClient
	broken atomic.Bool
	closed atomic.Bool
	log    *slog.Logger

	// callMu is held for the whole of a call, so that a Close from another
	// goroutine either waits for nothing (no call in flight: it may send
	// its own CloseSession) or interrupts the call by closing the socket.
	callMu sync.Mutex
}

// link is what a wire's calls travel over: one TCP connection (tcpLink),
// or the HTTP client of an HS2HTTP session (*httpTransport). Its methods
// but sent are safe to call from any goroutine.
type link interface {
	// sent returns a count that changes once a request may have reached
	// the server: any byte handed to the network (binary: a partial
	// message is never processed, but the count stays on the safe side),
	// an HTTP request written in full (HTTP: one whose body was not fully
	// written cannot have been processed).
	sent() int64
	// setDeadline sets the deadline of the network reads and writes (and
	// of the connect an HTTP call may make); zero means none.
	setDeadline(t time.Time)
	// check looks at the idle link without a round trip: an error means
	// it cannot carry the next call.
	check() error
	// close closes the link, interrupting a call in flight.
	close() error
	// newCall starts a call: what its reply may make the link read is
	// bounded from here by Options.MaxMessageSize (binary: the bytes read
	// during the call; HTTP: each reply's body, as its head announces it
	// or as it arrives).
	newCall()
}

// tcpLink is the link of the binary protocol: one TCP connection, maybe
// with TLS over it.
type tcpLink struct {
	raw    net.Conn // the TCP socket
	conn   *countingConn
	alive  *connChecker // the liveness check of raw, made once
	maxMsg int          // Options.MaxMessageSize: the bytes one reply may take on the wire
}

func (l *tcpLink) sent() int64             { return l.conn.written.Load() }
func (l *tcpLink) setDeadline(t time.Time) { _ = l.conn.SetDeadline(t) }
func (l *tcpLink) check() error            { return l.alive.check() }
func (l *tcpLink) close() error            { return l.raw.Close() }
func (l *tcpLink) newCall()                { l.conn.limitReads(l.maxMsg) }

// dialConn connects to addr and runs the TLS handshake of o: the raw TCP
// socket, and the connection to talk over (raw, or TLS over it). Failures
// are *Error with Op OpDial or OpTLS.
func dialConn(ctx context.Context, addr string, o *Options) (raw, c net.Conn, err error) {
	fail := func(op Op, err error) error {
		return &Error{Addr: addr, Op: op, Err: err}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fail("dial", fmt.Errorf("bad address %q: %w", addr, err))
	}
	dial := o.DialContext
	if dial == nil {
		d := net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: o.KeepAlive}
		dial = d.DialContext
	}
	raw, err = dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fail("dial", err)
	}
	c = raw
	if o.TLSHandshake != nil {
		tc, err := o.TLSHandshake(ctx, raw, addr)
		if err != nil {
			raw.Close()
			return nil, nil, fail("tls", err)
		}
		c = tc
	} else if o.TLS != nil {
		cfg := o.TLS
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			var rh tls.RecordHeaderError
			if errors.As(err, &rh) {
				err = fmt.Errorf("%w (is TLS enabled on the coordinator?): %w", ErrNotImpala, err)
			}
			return nil, nil, fail("tls", err)
		}
		c = tc
	}
	return raw, c, nil
}

// dialWire connects, runs TLS and SASL, and sets up the Thrift client; for
// HS2HTTP it sets up the HTTP client and connects it. Failures are *Error
// with Sent false.
func dialWire(ctx context.Context, addr string, o *Options) (*wire, error) {
	if o.Protocol == HS2HTTP {
		return dialHTTPWire(ctx, addr, o, nil)
	}
	fail := func(op Op, err error) error {
		return &Error{Addr: addr, Op: op, Err: err}
	}
	raw, c, err := dialConn(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	cc := &countingConn{Conn: c}
	var trans thrift.TTransport
	if o.Mechanism != nil {
		mech, err := o.Mechanism()
		if err != nil {
			raw.Close()
			return nil, fail("sasl", err)
		}
		st, err := sasl.NewClient(cc, mech, sasl.Config{MaxFrameSize: o.MaxMessageSize, Logger: o.Logger})
		if err != nil {
			raw.Close()
			return nil, fail("sasl", err)
		}
		if err := st.Handshake(ctx, host); err != nil {
			raw.Close()
			if errors.Is(err, sasl.ErrNotSASL) {
				err = fmt.Errorf("%w: %w", ErrNotImpala, err)
			}
			return nil, fail("sasl", err)
		}
		trans = st
	} else {
		trans = newBufTransport(cc)
	}
	return newWire(addr, &tcpLink{raw: raw, conn: cc, alive: newConnChecker(raw), maxMsg: o.MaxMessageSize}, trans, o), nil
}

// newWire sets up the Thrift client of a wire over trans.
func newWire(addr string, l link, trans thrift.TTransport, o *Options) *wire {
	w := &wire{addr: addr, link: l, trans: trans, log: o.Logger}
	max := int32(o.MaxMessageSize)
	strict := true
	cfg := &thrift.TConfiguration{
		MaxMessageSize:     max,
		MaxFrameSize:       max,
		TBinaryStrictRead:  &strict,
		TBinaryStrictWrite: &strict,
	}
	p := thrift.NewTBinaryProtocolConf(w.trans, cfg)
	w.client = thrift.NewTStandardClient(newBudgetProtocol(p, o.MaxReplyMemory), p)
	return w
}

// cutGrace is how long a call in flight may still take after its ctx
// ended before the socket's deadline cuts it: most calls (a status poll, a
// close) take far less, and one that completes keeps the connection in
// step, while one cut in the middle breaks it.
const cutGrace = 50 * time.Millisecond

// boundedGrace replaces cutGrace for a call the server ends by itself at
// about ctx's deadline (a first fetch bounded by FETCH_ROWS_TIMEOUT_MS):
// its answer, which keeps the connection, may come a little after the
// deadline, later still on a loaded machine.
const boundedGrace = time.Second

// graceKey keys a cut grace other than cutGrace in a context.
type graceKey struct{}

// withGrace returns ctx under which calls are cut d after ctx ends.
func withGrace(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, graceKey{}, d)
}

// call runs one Thrift call under ctx: ctx's deadline (plus cutGrace)
// becomes the connection's deadline, and its cancellation interrupts the
// call cutGrace later.
// A call that fails at the transport or protocol level (including one that
// ctx interrupted) leaves the stream in an unknown state: the wire is then
// marked broken. sent reports whether any byte was handed to the network.
func (w *wire) call(ctx context.Context, fn func(context.Context) error) (sent bool, err error) {
	w.callMu.Lock()
	defer w.callMu.Unlock()
	return w.callLocked(ctx, fn)
}

// callLocked is call for a caller that holds callMu.
func (w *wire) callLocked(ctx context.Context, fn func(context.Context) error) (sent bool, err error) {
	if w.closed.Load() {
		return false, ErrSessionClosed
	}
	if w.broken.Load() {
		return false, ErrBroken
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	before := w.link.sent()
	w.link.newCall()
	grace := cutGrace
	if g, ok := ctx.Value(graceKey{}).(time.Duration); ok {
		grace = g
	}
	dl, ok := ctx.Deadline()
	if ok {
		dl = dl.Add(grace)
	}
	w.link.setDeadline(dl)
	var (
		mu       sync.Mutex // guards finished and the deadline set on cancel
		finished bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			w.link.setDeadline(time.Now().Add(grace))
		}
	})
	err = fn(ctx)
	stop()
	mu.Lock()
	finished = true
	mu.Unlock()
	sent = w.link.sent() != before
	if err == nil {
		return sent, nil
	}
	if breaksStream(err) {
		w.markBroken(err)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		err = classifyWireError(err)
	}
	return sent, err
}

func (w *wire) markBroken(err error) {
	if !w.broken.Swap(true) && w.log != nil {
		w.log.Debug("conn: connection broken", slog.String("addr", w.addr), slog.String("error", err.Error()))
	}
	// Nothing more can be read or written in step; release the socket now.
	_ = w.link.close()
}

// breaksStream reports whether err leaves the Thrift stream out of step:
// everything but an answer the server sent in full (an application
// exception or a declared exception).
func breaksStream(err error) bool {
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		switch ae.TypeId() {
		case thrift.WRONG_METHOD_NAME, thrift.BAD_SEQUENCE_ID, thrift.INVALID_MESSAGE_TYPE_EXCEPTION:
			return true
		}
		return false
	}
	var be *beeswax.BeeswaxException
	var qe *beeswax.QueryNotFoundException
	return !errors.As(err, &be) && !errors.As(err, &qe)
}

// classifyWireError adds ErrNotImpala to errors that show a peer speaking
// something else than Thrift's binary protocol.
func classifyWireError(err error) error {
	var pe thrift.TProtocolException
	if errors.As(err, &pe) {
		switch pe.TypeId() {
		case thrift.BAD_VERSION, thrift.INVALID_DATA, thrift.SIZE_LIMIT, thrift.NEGATIVE_SIZE:
			return fmt.Errorf("%w: %w", ErrNotImpala, err)
		}
	}
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		switch ae.TypeId() {
		case thrift.WRONG_METHOD_NAME, thrift.BAD_SEQUENCE_ID, thrift.INVALID_MESSAGE_TYPE_EXCEPTION:
			return fmt.Errorf("%w: %w", ErrNotImpala, err)
		}
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("connection closed by the peer: %w", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("connection closed by the peer in the middle of a reply: %w", err)
	}
	return err
}

// alive reports whether the idle connection still looks usable: not
// broken, not closed, and the socket has neither been closed by the peer
// nor holds unexpected data.
func (w *wire) alive() bool {
	if w.closed.Load() || w.broken.Load() {
		return false
	}
	if err := w.link.check(); err != nil {
		w.markBroken(fmt.Errorf("liveness check: %w", err))
		return false
	}
	return true
}

func (w *wire) close() error {
	if w.closed.Swap(true) {
		return nil
	}
	return w.link.close()
}

// errUnexpectedRead is the liveness check's verdict on an idle socket
// that holds data: the stream is out of step.
var errUnexpectedRead = errors.New("conn: unexpected data on an idle connection")

// countingConn counts the bytes handed to the network, so that a failed
// call can tell whether anything left, and those received, so that a
// reply cannot exceed Options.MaxMessageSize (budget.go).
type countingConn struct {
	net.Conn
	written atomic.Int64
	rl      readLimited // used by the goroutine of the call
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// bufTransport is the NOSASL transport: Thrift's binary protocol straight
// over the buffered socket, no framing (what Impala's NOSASL expects).
type bufTransport struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

var (
	_ thrift.TRichTransport = (*bufTransport)(nil)
	_ peeker                = (*bufTransport)(nil) // the fast FetchResults reader reads it in place
)

func newBufTransport(c net.Conn) *bufTransport {
	return &bufTransport{c: c, r: bufio.NewReaderSize(c, 32<<10), w: bufio.NewWriterSize(c, 8<<10)}
}

func (t *bufTransport) Read(p []byte) (int, error)        { return t.r.Read(p) }
func (t *bufTransport) ReadByte() (byte, error)           { return t.r.ReadByte() }
func (t *bufTransport) Write(p []byte) (int, error)       { return t.w.Write(p) }
func (t *bufTransport) WriteByte(b byte) error            { return t.w.WriteByte(b) }
func (t *bufTransport) WriteString(s string) (int, error) { return t.w.WriteString(s) }
func (t *bufTransport) Flush(context.Context) error       { return t.w.Flush() }
func (t *bufTransport) Peek(n int) ([]byte, error)        { return t.r.Peek(n) }
func (t *bufTransport) Discard(n int) (int, error)        { return t.r.Discard(n) }
func (t *bufTransport) Buffered() int                     { return t.r.Buffered() }
func (t *bufTransport) Size() int                         { return t.r.Size() }
func (t *bufTransport) RemainingBytes() uint64            { return thrift.UnknownRemainingBytes }
func (t *bufTransport) Open() error                       { return nil }
func (t *bufTransport) IsOpen() bool                      { return true }
func (t *bufTransport) Close() error                      { return t.c.Close() }
