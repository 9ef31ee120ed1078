package conn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/secret"
)

// HiveServer2 over HTTP (Options.Protocol HS2HTTP), as Impala serves it on
// --hs2_http_port (be/src/transport/THttpServer.cpp): every Thrift call is
// one POST of the binary-protocol message to the path, answered by a 200
// whose body is the reply (Content-Type application/x-thrift,
// Content-Length); a refused authentication is a 401 with the schemes the
// server takes in WWW-Authenticate, after which the server closes the
// connection.
//
// The "connection" of an HS2HTTP session is an httpTransport: an HTTP/1.1
// client bound to one coordinator over one keep-alive connection at a
// time. It reconnects by itself when the server or a proxy closed the idle
// connection (seen before the request is written, by the same one-byte
// peek as the binary liveness check; a request that could not be written
// in full is sent again once on a new connection, since the server cannot
// have processed it). The coordinator's session does not depend on the
// connection (Impala keeps an HS2 session for disconnected_session_timeout
// whatever the transport), so Alive drops a dead idle connection quietly
// and stays true. A call cut half-way (a ctx that ended, a broken reply, an
// HTTP error) breaks the wire as on the binary transport: the session is
// then Broken, and Reattach proves it on a new transport with a ping,
// carrying over the session's cookies (its auth cookie and a load
// balancer's sticky cookie, without which a proxy could send the session's
// requests to a coordinator that does not hold it).
//
// sent: the count behind Error.Sent grows when a request was written in
// full (a request whose body did not all leave cannot have been
// processed), and shrinks again for a 401, which Impala's server sends
// from its header check before any Thrift processing.

// Bounds of what one reply may make the transport read.
const (
	maxReplyHead     = 64 << 10 // status line and headers
	maxErrorSnippet  = 512      // bytes read of a non-200 body, for the error
	maxInformational = 8        // 1xx answers skipped before the real one
	httpBufSize      = 32 << 10
)

// httpTransport is the link and the Thrift transport of an HS2HTTP wire.
type httpTransport struct {
	addr, host string
	o          *Options
	path       string // the request target, "/cliservice"
	fixed      []byte // request line and the headers every request carries
	jar        *cookieJar
	// requests counts the requests written in full, less the ones a 401
	// refused (link.sent).
	requests atomic.Int64

	mu       sync.Mutex   // guards raw, c, check, deadline, closed, dialStop
	raw, c   net.Conn     // the TCP socket, and TLS over it or the socket
	checker  *connChecker // of raw
	deadline time.Time
	closed   bool
	dialStop context.CancelFunc // ends a connect in progress

	// The fields below are used by the goroutine of the call only.
	in         replyLimit         // under br: bounds the bytes of one reply
	tooLarge   errMessageTooLarge // in's error past a body's bound
	br         *bufio.Reader
	wbuf       []byte        // the Thrift message being written
	hbuf       []byte        // the request head being built
	vec        [2][]byte     // the head and the body
	bufs       net.Buffers   // over vec, for one writev (WriteTo consumes it)
	head       replyHead     // of the current reply
	left       int64         // bytes of a reply with a Content-Length not yet read
	stream     *bufio.Reader // a reply without a length (chunked, or until close)
	streamBuf  *bufio.Reader // stream's reader, kept for reuse
	closeAfter bool          // the current reply said Connection: close
	authz      secret.Value  // the Authorization value last sent, for redaction
}

var (
	_ thrift.TRichTransport = (*httpTransport)(nil)
	_ peeker                = (*httpTransport)(nil) // the fast FetchResults reader reads replies in place
	_ link                  = (*httpTransport)(nil)
)

// dialHTTPWire sets up the HTTP transport of an HS2HTTP session to addr and
// connects it (TCP and TLS, so that an unreachable coordinator fails the
// dial as on the binary transport). jar is the session's cookies, nil for
// a new session. Failures are *Error with Sent false.
func dialHTTPWire(ctx context.Context, addr string, o *Options, jar *cookieJar) (*wire, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &Error{Addr: addr, Op: OpDial, Err: fmt.Errorf("bad address %q: %w", addr, err)}
	}
	if jar == nil {
		jar = &cookieJar{}
	}
	t := &httpTransport{addr: addr, host: host, o: o, jar: jar, path: "/" + strings.TrimPrefix(o.HTTPPath, "/"),
		tooLarge: errMessageTooLarge{limit: int64(o.MaxMessageSize)}}
	t.br = bufio.NewReaderSize(&t.in, httpBufSize)
	t.fixed = t.fixedHead()
	if _, _, err := t.connect(ctx); err != nil {
		return nil, err
	}
	return newWire(addr, t, t, o), nil
}

// fixedHead is the request line and the headers of every request.
func (t *httpTransport) fixedHead() []byte {
	var b []byte
	b = append(b, "POST "...)
	b = append(b, t.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.addr...)
	b = append(b, "\r\nContent-Type: application/x-thrift\r\nAccept: application/x-thrift\r\n"...)
	ua := DefaultUserAgent
	names := make([]string, 0, len(t.o.HTTPHeaders))
	for k, v := range t.o.HTTPHeaders {
		if strings.EqualFold(k, "User-Agent") {
			ua = v.Reveal()
			continue
		}
		names = append(names, k)
	}
	b = append(b, "User-Agent: "...)
	b = append(b, ua...)
	b = append(b, "\r\n"...)
	slices.Sort(names)
	for _, k := range names {
		b = append(b, http.CanonicalHeaderKey(k)...)
		b = append(b, ": "...)
		b = append(b, t.o.HTTPHeaders[k].Reveal()...)
		b = append(b, "\r\n"...)
	}
	return b
}

// String names the coordinator; it never shows credentials or cookies.
func (t *httpTransport) String() string { return "httpTransport{" + t.addr + t.path + "}" }

// GoString is String.
func (t *httpTransport) GoString() string { return t.String() }

// connect returns the keep-alive connection when it is still usable, else
// a new one (reused reports which). The connect is bounded by
// ConnectTimeout and ctx, and ended by close.
func (t *httpTransport) connect(ctx context.Context) (c net.Conn, reused bool, err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, ErrSessionClosed
	}
	c, k := t.c, t.checker
	t.mu.Unlock()
	if c != nil {
		if k.check() == nil {
			return c, true, nil
		}
		// The server or a proxy closed it while idle: nothing is lost.
		t.dropConn()
	}
	dctx, cancel := context.WithTimeout(ctx, t.o.ConnectTimeout)
	defer cancel()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, ErrSessionClosed
	}
	t.dialStop = cancel
	t.mu.Unlock()
	raw, c, err := dialConn(dctx, t.addr, t.o)
	t.mu.Lock()
	t.dialStop = nil
	if err == nil && t.closed {
		raw.Close()
		err = ErrSessionClosed
	}
	if err == nil {
		t.raw, t.c, t.checker = raw, c, newConnChecker(raw)
		if !t.deadline.IsZero() {
			_ = c.SetDeadline(t.deadline)
		}
	}
	t.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	t.in = replyLimit{r: c}
	t.br.Reset(&t.in)
	t.left, t.stream, t.closeAfter = 0, nil, false
	return c, false, nil
}

// dropConn closes the current connection; the next call connects anew.
func (t *httpTransport) dropConn() {
	t.mu.Lock()
	raw := t.raw
	t.raw, t.c = nil, nil
	t.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
}

// sent implements link.
func (t *httpTransport) sent() int64 { return t.requests.Load() }

// newCall implements link: each reply of the call is bounded by its own
// head (roundTrip, accept), so nothing carries over from the last call.
func (t *httpTransport) newCall() {}

// setDeadline implements link: the deadline of the current connection and
// of those the call opens.
func (t *httpTransport) setDeadline(d time.Time) {
	t.mu.Lock()
	t.deadline = d
	c := t.c
	t.mu.Unlock()
	if c != nil {
		_ = c.SetDeadline(d)
	}
}

// check implements link: an idle keep-alive connection the server or a
// proxy closed is dropped (the next call connects anew); only a closed
// transport fails.
func (t *httpTransport) check() error {
	t.mu.Lock()
	closed, raw, k := t.closed, t.raw, t.checker
	t.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	if raw != nil && k.check() != nil {
		t.dropConn()
	}
	return nil
}

// close implements link: it ends a connect in progress and closes the
// connection, interrupting a call in flight. The transport is done.
func (t *httpTransport) close() error {
	t.mu.Lock()
	t.closed = true
	raw, stop := t.raw, t.dialStop
	t.raw, t.c = nil, nil
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
	if raw != nil {
		return raw.Close()
	}
	return nil
}

// The Thrift transport: writes build the request body, Flush makes the
// round trip, reads read the reply's body.

func (t *httpTransport) Write(p []byte) (int, error) {
	t.wbuf = append(t.wbuf, p...)
	return len(p), nil
}
func (t *httpTransport) WriteByte(c byte) error { t.wbuf = append(t.wbuf, c); return nil }
func (t *httpTransport) WriteString(s string) (int, error) {
	t.wbuf = append(t.wbuf, s...)
	return len(s), nil
}
func (t *httpTransport) Open() error  { return nil }
func (t *httpTransport) IsOpen() bool { return true }
func (t *httpTransport) Close() error { return t.close() }

// RemainingBytes is what is left of a reply with a Content-Length (the
// Thrift reader refuses a container that could not fit).
func (t *httpTransport) RemainingBytes() uint64 {
	if t.stream != nil {
		return thrift.UnknownRemainingBytes
	}
	return uint64(max(t.left, 0))
}

// errShortReply is the end of a reply body inside its Thrift message.
var errShortReply = fmt.Errorf("%w: the HTTP reply ended inside its Thrift message", ErrNotImpala)

func (t *httpTransport) Read(p []byte) (int, error) {
	if t.stream != nil {
		n, err := t.stream.Read(p)
		if err == io.EOF {
			err = errShortReply
		}
		return n, err
	}
	if t.left <= 0 {
		return 0, errShortReply
	}
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}
	n, err := t.br.Read(p)
	t.left -= int64(n)
	return n, t.bodyErr(err)
}

func (t *httpTransport) ReadByte() (byte, error) {
	if t.stream != nil {
		c, err := t.stream.ReadByte()
		if err == io.EOF {
			err = errShortReply
		}
		return c, err
	}
	if t.left <= 0 {
		return 0, errShortReply
	}
	c, err := t.br.ReadByte()
	if err == nil {
		t.left--
	}
	return c, t.bodyErr(err)
}

// Peek, Discard, Buffered and Size read the reply in place (peeker).
func (t *httpTransport) Peek(n int) ([]byte, error) {
	if t.stream != nil {
		b, err := t.stream.Peek(n)
		if err == io.EOF {
			err = errShortReply
		}
		return b, err
	}
	if int64(n) > t.left {
		b, err := t.br.Peek(int(max(t.left, 0)))
		if err == nil {
			err = errShortReply
		}
		return b, t.bodyErr(err)
	}
	b, err := t.br.Peek(n)
	return b, t.bodyErr(err)
}

func (t *httpTransport) Discard(n int) (int, error) {
	if t.stream != nil {
		return t.stream.Discard(n)
	}
	n = int(min(int64(n), max(t.left, 0)))
	d, err := t.br.Discard(n)
	t.left -= int64(d)
	return d, t.bodyErr(err)
}

func (t *httpTransport) Buffered() int {
	if t.stream != nil {
		return t.stream.Buffered()
	}
	return int(min(int64(t.br.Buffered()), max(t.left, 0)))
}

func (t *httpTransport) Size() int {
	if t.stream != nil {
		return t.stream.Size()
	}
	return t.br.Size()
}

// bodyErr names the connection's end inside a reply body.
func (t *httpTransport) bodyErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the coordinator closed the connection in the middle of an HTTP reply: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// Flush sends the Thrift message written since the last Flush as one POST
// and reads the reply's head; the Thrift reader then reads its body.
func (t *httpTransport) Flush(ctx context.Context) error {
	body := t.wbuf
	defer func() {
		if cap(body) > 1<<20 {
			t.wbuf = nil // a very large statement: do not keep its buffer
		} else {
			t.wbuf = body[:0]
		}
	}()
	t.endReply()
	retried := false
	for {
		now := time.Now()
		hasAuth := t.jar.hasAuth(t.path, now)
		var authz secret.Value
		if t.o.HTTPAuth != nil && !hasAuth {
			v, err := t.o.HTTPAuth(ctx, t.host)
			if err != nil {
				var ae *httpAuthError
				if !errors.As(err, &ae) {
					err = &httpAuthError{err: err}
				}
				return err
			}
			if strings.ContainsAny(v.Reveal(), "\r\n\x00") {
				return &httpAuthError{err: errors.New("the Authorization value holds a line break or NUL")}
			}
			authz = v
		}
		t.authz = authz
		if err := t.roundTrip(ctx, body, authz, now); err != nil {
			return err
		}
		t.jar.update(t.head.setCookie, time.Now())
		if t.head.status == http.StatusUnauthorized {
			// Refused in the server's header check, before any Thrift
			// processing (THttpServer::headersDone): not sent.
			t.requests.Add(-1)
			if authz.IsZero() && hasAuth && t.o.HTTPAuth != nil && !retried {
				// The auth cookie was refused (past its lifetime, or
				// signed by another coordinator): forget it and
				// authenticate, as impala-shell does.
				t.jar.dropAuth()
				t.dropConn() // Impala closes after a 401
				retried = true
				continue
			}
		}
		return t.accept()
	}
}

// roundTrip writes the request, with authz and the cookies that go with
// it at now, and reads the head of the reply into t.head (skipping 1xx
// answers). The credentials are revealed here only, into the request's
// head.
func (t *httpTransport) roundTrip(ctx context.Context, body []byte, authz secret.Value, now time.Time) error {
	h := append(t.hbuf[:0], t.fixed...)
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\n"...)
	if !authz.IsZero() {
		h = append(h, "Authorization: "...)
		h = append(h, authz.Reveal()...)
		h = append(h, "\r\n"...)
	}
	h = t.jar.appendHeader(h, t.path, now)
	h = append(h, "\r\n"...)
	t.hbuf = h
	total := int64(len(h) + len(body))
	for attempt := 0; ; attempt++ {
		c, reused, err := t.connect(ctx)
		if err != nil {
			return err
		}
		t.vec = [2][]byte{h, body}
		t.bufs = t.vec[:]
		n, err := t.bufs.WriteTo(c)
		if err == nil && n == total {
			t.requests.Add(1)
			break
		}
		t.dropConn()
		if err == nil {
			err = io.ErrShortWrite
		}
		if reused && attempt == 0 && ctx.Err() == nil {
			// The idle connection was closed as the request went out;
			// not all of it left, so nothing was processed.
			continue
		}
		return fmt.Errorf("sending the HTTP request (%d of %d bytes written): %w", n, total, err)
	}
	t.in.n, t.in.over = maxReplyHead+int64(t.br.Size()), errHeadTooLarge
	for range maxInformational {
		if err := readHead(t.br, &t.head); err != nil {
			t.dropConn()
			return t.headErr(err)
		}
		if t.head.status >= 200 {
			return nil
		}
		// 100 Continue and the like: the answer follows.
	}
	t.dropConn()
	return fmt.Errorf("%w: more than %d informational (1xx) HTTP answers", ErrNotImpala, maxInformational)
}

// headErr explains a failure to read a reply's head.
func (t *httpTransport) headErr(err error) error {
	switch {
	case errors.Is(err, errHeadTooLarge):
		return fmt.Errorf("%w: HTTP reply head over %d bytes", ErrNotImpala, maxReplyHead)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the coordinator closed the connection without answering the HTTP request: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the coordinator closed the connection in the middle of an HTTP reply head: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, errBadHead):
		return fmt.Errorf("%w: not an HTTP reply: %w", ErrNotImpala, err)
	}
	return err
}

// accept takes a reply whose head was read: a 2xx carrying a Thrift
// message becomes the body the Thrift reader reads; anything else is an
// *HTTPError (the connection is then dropped, its body unread but for the
// start).
func (t *httpTransport) accept() error {
	h := &t.head
	if h.status < 200 || h.status >= 300 {
		return t.httpError(false)
	}
	if !h.thrift && h.contentType != "" {
		return t.httpError(true)
	}
	// The body is bounded by Options.MaxMessageSize, as a binary reply is
	// (countingConn); what decoding it creates, by the reply's memory
	// budget (budget.go), the same over both transports.
	if h.length > int64(t.o.MaxMessageSize) {
		t.dropConn()
		return fmt.Errorf("HTTP reply of %d bytes: %w", h.length, &t.tooLarge)
	}
	t.in.over = &t.tooLarge
	t.closeAfter = h.close
	if h.length >= 0 {
		t.left = h.length
		t.in.n += h.length
		return nil
	}
	// Chunked (Jetty, in Spark's and Hive's HTTP mode, chunks large
	// replies), or until the connection closes.
	t.in.n += int64(t.o.MaxMessageSize) + maxReplyHead
	var body io.Reader = t.br
	if h.chunked {
		body = newChunkedBody(t.br)
	} else {
		t.closeAfter = true
	}
	if t.streamBuf == nil {
		t.streamBuf = bufio.NewReaderSize(body, httpBufSize)
	} else {
		t.streamBuf.Reset(body)
	}
	t.stream = t.streamBuf
	return nil
}

// endReply makes the connection ready for the next request: what is left
// of the last reply is drained (a chunked reply's last chunk) or the
// connection dropped (bytes after the Thrift message, a reply that asked
// for the connection's close).
func (t *httpTransport) endReply() {
	switch {
	case t.stream != nil:
		if !t.drainStream() {
			t.dropConn()
		}
	case t.left > 0:
		t.dropConn()
	}
	if t.closeAfter {
		t.dropConn()
	}
	t.left, t.stream, t.closeAfter = 0, nil, false
}

// drainStream reads what is left of a reply without a length (normally
// only the end of the chunked encoding, already buffered), waiting at most
// cutGrace; it reports whether the reply ended cleanly.
func (t *httpTransport) drainStream() bool {
	t.mu.Lock()
	c, dl := t.c, t.deadline
	t.mu.Unlock()
	if c == nil {
		return false
	}
	if t.stream.Buffered() == 0 {
		short := time.Now().Add(cutGrace)
		if dl.IsZero() || short.Before(dl) {
			_ = c.SetDeadline(short)
			defer func() { _ = c.SetDeadline(dl) }()
		}
	}
	n, err := io.CopyN(io.Discard, t.stream, 64<<10)
	return errors.Is(err, io.EOF) && n < 64<<10
}

// httpError reads the start of the reply's body, drops the connection and
// returns the *HTTPError of the reply to the request that carried t.authz.
func (t *httpTransport) httpError(notThrift bool) error {
	h := &t.head
	e := &HTTPError{
		StatusCode:  h.status,
		Status:      h.statusText(),
		ContentType: h.contentType,
		notThrift:   notThrift,
	}
	if s, _, ok := strings.Cut(t.authz.Reveal(), " "); ok {
		e.Sent = s
	}
	if h.status >= 300 && h.status < 400 {
		e.Location = h.location
	}
	for _, v := range h.authenticate {
		if s := authScheme(v); s != "" && !slices.Contains(e.Authenticate, s) {
			e.Authenticate = append(e.Authenticate, s)
		}
	}
	// Only the start of the body, within a short time: a proxy's 10 MB
	// error page is not read to its end.
	t.mu.Lock()
	c, dl := t.c, t.deadline
	t.mu.Unlock()
	if c != nil && h.length != 0 {
		short := time.Now().Add(time.Second)
		if dl.IsZero() || short.Before(dl) {
			_ = c.SetDeadline(short)
		}
		var body io.Reader = t.br
		switch {
		case h.chunked:
			body = newChunkedBody(t.br)
		case h.length > 0:
			body = io.LimitReader(t.br, h.length)
		}
		t.in.n += maxErrorSnippet + maxReplyHead
		b := make([]byte, maxErrorSnippet)
		n, _ := io.ReadFull(body, b)
		e.Body = t.redact(bodyText(b[:n], strings.Contains(strings.ToLower(e.ContentType), "html")))
	}
	t.dropConn()
	return e
}

// authScheme is the scheme of a WWW-Authenticate value ("Negotiate abc" →
// "Negotiate"), printable, bounded.
func authScheme(v string) string {
	s, _, _ := strings.Cut(strings.TrimSpace(v), " ")
	s, _, _ = strings.Cut(s, ",")
	return printableText(s, 40)
}

// redact removes the credentials, cookies and header values (which may
// be a proxy's key) this transport sent from text a server echoed back.
func (t *httpTransport) redact(s string) string {
	secrets := t.jar.values()
	for _, v := range t.o.HTTPHeaders {
		secrets = append(secrets, v)
	}
	if !t.authz.IsZero() {
		secrets = append(secrets, t.authz)
		if _, tok, ok := strings.Cut(t.authz.Reveal(), " "); ok {
			secrets = append(secrets, secret.New(tok))
		}
	}
	for _, v := range secrets {
		if v := v.Reveal(); len(v) >= 4 {
			s = strings.ReplaceAll(s, v, secret.Redacted)
		}
	}
	return s
}

// bodyText makes the start of an error body readable: markup dropped for
// HTML, control bytes and runs of white space as one space, at most 200
// bytes.
func bodyText(b []byte, html bool) string {
	var out strings.Builder
	inTag, space := false, false
	for _, r := range string(b) {
		switch {
		case html && r == '<':
			inTag = true
			continue
		case html && inTag:
			if r == '>' {
				inTag = false
				space = true
			}
			continue
		case r < ' ' || r == 0x7f || r == ' ' || r == '\ufffd':
			space = true
			continue
		}
		if space && out.Len() > 0 {
			out.WriteByte(' ')
		}
		space = false
		out.WriteRune(r)
		if out.Len() >= 200 {
			out.WriteString("...")
			break
		}
	}
	return out.String()
}

// printableText is s with control bytes dropped, at most n bytes.
func printableText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// replyLimit bounds the bytes one reply may make the transport read from
// the connection: its head (maxReplyHead), then its body
// (Options.MaxMessageSize, with the chunked encoding's framing).
type replyLimit struct {
	r    io.Reader
	n    int64
	over error // what a read past n returns
}

// errHeadTooLarge is the end of a reply head's bound.
var errHeadTooLarge = errors.New("conn: HTTP reply head larger than allowed")

func (b *replyLimit) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, b.over
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// HTTPError is the cause of a failed HS2HTTP call that the server, or a
// proxy in front of it, answered with an HTTP status other than 2xx, or
// with a 2xx that carries no Thrift reply (then it wraps ErrNotImpala).
// The *Error around it names the coordinator. Its text never holds the
// credentials or cookies the client sent, even when the server echoed
// them.
type HTTPError struct {
	// StatusCode and Status are the reply's status ("502 Bad Gateway").
	StatusCode int
	Status     string
	// ContentType is the reply's Content-Type.
	ContentType string
	// Location is where a redirect (3xx) points; redirects are not
	// followed.
	Location string
	// Authenticate are the schemes of the reply's WWW-Authenticate
	// headers ("Basic", "Negotiate", "Bearer"), on a 401.
	Authenticate []string
	// Sent is the scheme of the Authorization header the request carried,
	// empty when it carried none (no HTTPAuth, or an auth cookie).
	Sent string
	// Body is the start of the reply's body as text (markup dropped).
	Body string

	notThrift bool
}

// supportedSchemes are the WWW-Authenticate schemes this client can answer
// with an HTTPAuth.
var supportedSchemes = []string{"Basic", "Negotiate", "Bearer"}

// Error says what the reply was and what to do about it.
func (e *HTTPError) Error() string {
	var b strings.Builder
	b.WriteString("HTTP ")
	b.WriteString(e.Status)
	switch {
	case e.notThrift:
		fmt.Fprintf(&b, " with Content-Type %q: not a Thrift reply (is this the HiveServer2 HTTP port and path?)", e.ContentType)
	case e.StatusCode == http.StatusUnauthorized:
		b.WriteString(": ")
		b.WriteString(e.unauthorized())
	case e.StatusCode >= 300 && e.StatusCode < 400:
		if e.Location != "" {
			fmt.Fprintf(&b, ": redirect to %q not followed (point the coordinator address or HTTPPath there)", e.Location)
		} else {
			b.WriteString(": redirect not followed")
		}
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	return b.String()
}

// unauthorized explains a 401.
func (e *HTTPError) unauthorized() string {
	sent := "no credentials"
	if e.Sent != "" {
		sent = e.Sent
	}
	var ours []string
	for _, s := range e.Authenticate {
		for _, sup := range supportedSchemes {
			if strings.EqualFold(s, sup) {
				ours = append(ours, sup)
			}
		}
	}
	switch {
	case len(e.Authenticate) == 0:
		return fmt.Sprintf("authentication refused (sent %s; the server names no scheme in WWW-Authenticate)", sent)
	case len(ours) == 0:
		return fmt.Sprintf("the server asks for %s, which this client does not support (sent %s)", strings.Join(e.Authenticate, ", "), sent)
	case e.Sent == "":
		return fmt.Sprintf("the server requires authentication (%s): set the credentials", strings.Join(ours, ", "))
	case slices.ContainsFunc(ours, func(s string) bool { return strings.EqualFold(s, e.Sent) }):
		return fmt.Sprintf("credentials refused (sent %s)", e.Sent)
	}
	return fmt.Sprintf("sent %s, the server takes %s", e.Sent, strings.Join(ours, ", "))
}

// Unwrap returns ErrNotImpala for a 2xx that carries no Thrift reply.
func (e *HTTPError) Unwrap() error {
	if e.notThrift {
		return ErrNotImpala
	}
	return nil
}

// ClientSide reports a refusal that every coordinator would give the same:
// a 401 to Basic credentials (LDAP), a JWT or no credentials at all, or a
// 403 (Impala sends none: a proxy's refusal of the client's rights). A 401
// to a SPNEGO token (Sent "Negotiate") is not, as a GSSAPI refusal over
// SASL is not: the ticket came from the KDC for that coordinator's
// principal, and Impala refuses it when its keytab lacks the principal or
// its clock is off (be/src/rpc/authentication.cc NegotiateAuth, through
// kudu's SpnegoStep), so the pool goes on to other coordinators.
func (e *HTTPError) ClientSide() bool {
	switch e.StatusCode {
	case http.StatusForbidden:
		return true
	case http.StatusUnauthorized:
		return !strings.EqualFold(e.Sent, "Negotiate")
	}
	return false
}

// redial opens a new wire to the session's coordinator; over HS2HTTP it
// keeps the session's cookies (its auth cookie, and a load balancer's
// sticky cookie that keeps its requests on the coordinator holding it).
func (s *hs2Session) redial(ctx context.Context) (*wire, error) {
	if t, ok := s.cur().link.(*httpTransport); ok {
		return dialHTTPWire(ctx, s.addr, s.opts, t.jar)
	}
	return dialWire(ctx, s.addr, s.opts)
}
