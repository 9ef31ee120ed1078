package conn_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/jwttest"
	"github.com/impalalb/impalalb/secret"
)

// reqLog records the head of every HTTP request the client writes, and can
// break the connections it makes.
type reqLog struct {
	mu    sync.Mutex
	heads []http.Header
	conns int
	// breakNext makes the next request fail half-way through its write,
	// the connection reset; dropNext lets the next request leave in full,
	// then closes the connection before the reply.
	breakNext, dropNext atomic.Bool
}

func (l *reqLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns++
	l.mu.Unlock()
	return &logConn{Conn: c, log: l}, nil
}

// all returns the request heads so far and forgets them.
func (l *reqLog) take() []http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.heads
	l.heads = nil
	return h
}

type logConn struct {
	net.Conn
	log *reqLog
}

func (c *logConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("POST ")) {
		if c.log.breakNext.CompareAndSwap(true, false) {
			n, _ := c.Conn.Write(p[:len(p)/2])
			_ = c.Conn.Close()
			return n, errors.New("test: connection reset in the middle of the request")
		}
		if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p))); err == nil {
			c.log.mu.Lock()
			c.log.heads = append(c.log.heads, req.Header)
			c.log.mu.Unlock()
		}
		return c.Conn.Write(p)
	}
	n, err := c.Conn.Write(p)
	if err == nil && c.log.dropNext.CompareAndSwap(true, false) {
		// The body left in full: close before the reply comes.
		_ = c.Conn.Close()
	}
	return n, err
}

// TestHTTPCookieSparesAuthentication: the first request of a session
// carries the credentials, the coordinator answers with its auth cookie,
// and later requests carry only the cookie; when the coordinator refuses
// the cookie (its key changed, the cookie outlived its lifetime) the
// session authenticates again and goes on, as the same server session.
func TestHTTPCookieSparesAuthentication(t *testing.T) {
	for _, expire := range []string{"key rotated", "cookie too old"} {
		t.Run(expire, func(t *testing.T) {
			co, addr, opts := setup(t, httpBasic, impalad.Config{})
			log := &reqLog{}
			opts.DialContext = log.dial
			s := dial(t, addr, opts)
			heads := log.take()
			require.GreaterOrEqual(t, len(heads), 2, "OpenSession and the ping")
			require.True(t, strings.HasPrefix(heads[0].Get("Authorization"), "Basic "))
			require.Empty(t, heads[0].Get("Cookie"))
			for _, h := range heads[1:] {
				require.Empty(t, h.Get("Authorization"), "the cookie spares the credentials")
				require.Contains(t, h.Get("Cookie"), "impala.auth=")
			}
			require.Equal(t, "impalalb (Go)", heads[0].Get("User-Agent"))
			require.Equal(t, "application/x-thrift", heads[0].Get("Content-Type"))

			if expire == "key rotated" {
				co.RotateCookieKey()
			} else {
				co.SetCookieClock(func() time.Time { return time.Now().Add(25 * time.Hour) })
			}
			opened := co.Stats().SessionsOpened
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
			heads = log.take()
			require.GreaterOrEqual(t, len(heads), 3)
			require.Contains(t, heads[0].Get("Cookie"), "impala.auth=", "the refused cookie")
			require.Empty(t, heads[0].Get("Authorization"))
			require.True(t, strings.HasPrefix(heads[1].Get("Authorization"), "Basic "), "authenticated again")
			require.NotContains(t, heads[1].Get("Cookie"), "impala.auth=", "the refused cookie is gone")
			require.Contains(t, heads[2].Get("Cookie"), "impala.auth=", "the new cookie")
			require.Empty(t, heads[2].Get("Authorization"))
			require.Equal(t, opened, co.Stats().SessionsOpened, "the same server session")
			require.Len(t, co.Statements(), 1, "the statement ran once")
		})
	}
}

// TestHTTPIdleConnectionClosed: a keep-alive connection the coordinator or
// a proxy closed while idle costs nothing: the session stays alive and the
// next call goes over a new connection, to the same server session.
func TestHTTPIdleConnectionClosed(t *testing.T) {
	for _, v := range []variant{httpNone, httpBasic} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			log := &reqLog{}
			opts.DialContext = log.dial
			s := dial(t, addr, opts)
			opened := co.Stats().SessionsOpened
			for _, reset := range []bool{false, true} {
				if reset {
					require.Positive(t, co.Faults().ResetConnections())
				} else {
					require.Positive(t, co.Faults().CloseConnections())
				}
				require.Eventually(t, func() bool { return co.Stats().ConnectionsOpen == 0 }, 5*time.Second, time.Millisecond)
				require.True(t, s.Alive(), "HTTP: the session does not depend on the connection")
				require.False(t, s.Broken())
				require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
			}
			require.Equal(t, opened, co.Stats().SessionsOpened)
			require.Equal(t, 3, log.conns)
			require.Len(t, co.Statements(), 2)
		})
	}
}

// TestHTTPSent: what Error.Sent says over HTTP. A request that did not
// leave in full was not processed: Execute reattaches and runs the
// statement, once. One that left in full may have been: the error says
// so, the statement is not run again, and the session is ended.
func TestHTTPSent(t *testing.T) {
	co, addr, opts := setup(t, httpBasic, impalad.Config{})
	log := &reqLog{}
	opts.DialContext = log.dial
	s := dial(t, addr, opts)
	ctx := context.Background()

	log.breakNext.Store(true)
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
	require.Len(t, co.Statements(), 1, "run once, after the reattach")

	log.dropNext.Store(true)
	_, err := s.Execute(ctx, "select 2", nil)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.True(t, ce.Sent, "the request left in full")
	require.False(t, conn.SafeToRetry(err))
	require.Equal(t, addr, ce.Addr)
	require.Eventually(t, func() bool { return len(co.Statements()) == 2 }, 5*time.Second, time.Millisecond,
		"the coordinator did get it")
	require.True(t, s.Broken())
	// It may run with no handle to close it by: only the session's end
	// stops it, from a new connection.
	require.ErrorIs(t, s.Reattach(ctx), conn.ErrReattachUnsupported)
	require.NoError(t, s.Close())
	require.Equal(t, 0, co.Stats().SessionsOpen)
}

// TestHTTPBrokenSessionCloses: a session whose call was cut is closed on
// the coordinator from a new connection, carrying its auth cookie.
func TestHTTPBrokenSessionCloses(t *testing.T) {
	co, addr, opts := setup(t, httpBasic, impalad.Config{})
	s := dial(t, addr, opts)
	co.Faults().SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Ping(ctx), context.DeadlineExceeded)
	require.True(t, s.Broken())
	co.Faults().SetDelay(0)
	require.NoError(t, s.Close())
	require.Equal(t, 0, co.Stats().SessionsOpen)
}

// TestHTTPRefused: refused or missing credentials fail the dial with a 401
// that names the coordinator, the schemes and what was sent, is the
// client's own (a pool tries no other coordinator) and never shows the
// password.
func TestHTTPRefused(t *testing.T) {
	co, addr, opts := setup(t, httpBasic, impalad.Config{})
	for _, c := range []struct {
		name, password, want string
		sent                 string
	}{
		{"wrong password", "Wr0ng-pw!", "credentials refused (sent Basic)", "Basic"},
		{"none", "", "the server requires authentication (Basic)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			o.Password = secret.New(c.password)
			_, err := conn.Dial(context.Background(), addr, o)
			var he *conn.HTTPError
			require.ErrorAs(t, err, &he)
			require.Equal(t, http.StatusUnauthorized, he.StatusCode)
			require.Equal(t, []string{"Basic"}, he.Authenticate)
			require.Equal(t, c.sent, he.Sent)
			var ce *conn.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, addr, ce.Addr)
			require.True(t, ce.ClientSide())
			require.False(t, ce.Sent)
			require.Contains(t, err.Error(), "401 Unauthorized")
			require.Contains(t, err.Error(), c.want)
			require.Contains(t, err.Error(), addr)
			if c.password != "" {
				require.NotContains(t, err.Error(), c.password)
			}
		})
	}
	require.Equal(t, 0, co.Stats().SessionsOpen)
}

// jwtCoord starts a coordinator with JWT authentication over TLS, and
// returns it with the issuer and the options of a client that trusts it.
func jwtCoord(t *testing.T) (*impalad.Coordinator, *jwttest.Issuer, conn.Options) {
	t.Helper()
	dir := t.TempDir()
	is, err := jwttest.New("k1")
	require.NoError(t, err)
	jwks, err := is.WriteJWKS(dir)
	require.NoError(t, err)
	ca, err := certtest.NewCA("test CA")
	require.NoError(t, err)
	cert, err := ca.Server("impala.test")
	require.NoError(t, err)
	co := startCoord(t, impalad.Config{
		HS2HTTPAddr: "127.0.0.1:0",
		JWKSFile:    jwks,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}},
	})
	return co, is, conn.Options{
		Protocol: conn.HS2HTTP,
		TLS:      &tls.Config{RootCAs: ca.Pool(), ServerName: "impala.test"},
	}
}

// TestHTTPJWT: Bearer authentication over TLS with a token read from a
// file, read again when the file changes; an expired token is refused
// with the coordinator's Bearer error, a missing one with a 401 that names
// no scheme.
func TestHTTPJWT(t *testing.T) {
	co, is, opts := jwtCoord(t)
	addr := co.HS2HTTPAddr()
	tokFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(is.Token("carol", time.Hour, nil)+"\n"), 0o600))
	opts.HTTPAuth = conn.BearerAuth(conn.TokenFile(tokFile))
	s := dial(t, addr, opts)
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
	require.Equal(t, "carol", co.Statements()[0].User)

	// A new token in the file, for another user: the next authentication
	// reads it (the first session keeps its cookie, a new one does not).
	require.NoError(t, os.WriteFile(tokFile, []byte(is.Token("dave", time.Hour, nil)), 0o600))
	s2 := dial(t, addr, opts)
	require.Equal(t, [][]any{{int8(2)}}, query(t, s2, "select 2"))
	require.Equal(t, "dave", co.Statements()[1].User)
	require.Equal(t, [][]any{{int8(3)}}, query(t, s, "select 3"))
	require.Equal(t, "carol", co.Statements()[2].User)

	expired := is.Token("carol", -time.Minute, nil)
	opts.HTTPAuth = conn.BearerAuth(conn.StaticToken(secret.New(expired)))
	_, err := conn.Dial(context.Background(), addr, opts)
	var he *conn.HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusUnauthorized, he.StatusCode)
	require.Equal(t, []string{"Bearer"}, he.Authenticate)
	require.Contains(t, err.Error(), "credentials refused (sent Bearer)")
	require.NotContains(t, err.Error(), expired)
	require.True(t, conn.SafeToRetry(err))
	var refused *conn.Error
	require.ErrorAs(t, err, &refused)
	require.True(t, refused.ClientSide(), "a refused JWT is refused by every coordinator")

	opts.HTTPAuth = nil
	_, err = conn.Dial(context.Background(), addr, opts)
	require.ErrorAs(t, err, &he)
	require.Empty(t, he.Authenticate)
	require.Contains(t, err.Error(), "names no scheme")

	opts.HTTPAuth = conn.BearerAuth(conn.TokenFile(filepath.Join(t.TempDir(), "missing")))
	_, err = conn.Dial(context.Background(), addr, opts)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.True(t, ce.ClientSide(), "a token that cannot be read is the client's failure")
	require.Contains(t, err.Error(), "token file")
}

// TestHTTPErrorClientSide: a 401 to Basic credentials, a JWT or none, and
// a 403, are the client's; a 401 to a SPNEGO token is the coordinator's
// (its keytab lacks the principal, as a GSSAPI refusal over SASL); other
// statuses are not refusals.
func TestHTTPErrorClientSide(t *testing.T) {
	for _, c := range []struct {
		status int
		sent   string
		want   bool
	}{
		{http.StatusUnauthorized, "Basic", true},
		{http.StatusUnauthorized, "Bearer", true},
		{http.StatusUnauthorized, "", true},
		{http.StatusUnauthorized, "Negotiate", false},
		{http.StatusForbidden, "Basic", true},
		{http.StatusForbidden, "Negotiate", true},
		{http.StatusBadGateway, "Basic", false},
		{http.StatusServiceUnavailable, "", false},
	} {
		he := &conn.HTTPError{StatusCode: c.status, Sent: c.sent}
		require.Equal(t, c.want, he.ClientSide(), "%d after %q", c.status, c.sent)
		ce := &conn.Error{Op: conn.OpOpenSession, Err: he}
		require.Equal(t, c.want, ce.ClientSide(), "%d after %q, wrapped", c.status, c.sent)
	}
}

// fakeServer answers every HTTP request on a loopback port with what reply
// writes; it returns the address.
func fakeServer(t *testing.T, reply func(c net.Conn, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					reply(c, req)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHTTPBadReplies: whatever a server or a proxy answers instead of a
// Thrift reply, the dial fails within its timeout with an error that names
// the coordinator and the HTTP status, and never shows the credentials.
func TestHTTPBadReplies(t *testing.T) {
	page := "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>nginx</p></body></html>"
	raw := func(s string) func(net.Conn, *http.Request) {
		return func(c net.Conn, _ *http.Request) { _, _ = io.WriteString(c, s) }
	}
	cases := []struct {
		name  string
		reply func(net.Conn, *http.Request)
		want  []string
		is    error
	}{
		{"401 with an unsupported scheme", raw("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"y\"\r\nContent-Length: 0\r\n\r\n"),
			[]string{"HTTP 401 Unauthorized", "asks for Digest, which this client does not support (sent Basic)"}, nil},
		{"401 without WWW-Authenticate", raw("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n"),
			[]string{"HTTP 401 Unauthorized", "names no scheme"}, nil},
		{"redirect", raw("HTTP/1.1 302 Found\r\nLocation: https://sso.example.com/login?x=1\r\nContent-Length: 0\r\n\r\n"),
			[]string{"HTTP 302 Found", `redirect to "https://sso.example.com/login?x=1" not followed`}, nil},
		{"proxy error page", raw(fmt.Sprintf("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(page), page)),
			[]string{"HTTP 502 Bad Gateway", `"502 Bad Gateway Bad Gateway nginx"`}, nil},
		{"200 with an HTML page", raw(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", len(page), page)),
			[]string{"HTTP 200 OK", `Content-Type "text/html; charset=utf-8": not a Thrift reply`}, conn.ErrNotImpala},
		{"non-Thrift body", raw("HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\nContent-Length: 11\r\n\r\nhello world"),
			nil, conn.ErrNotImpala},
		{"not HTTP", raw("SSH-2.0-OpenSSH_9.2\r\n"), []string{"not an HTTP reply"}, conn.ErrNotImpala},
		{"10 MB error body", func(c net.Conn, _ *http.Request) {
			const size = 10 << 20
			_, _ = fmt.Fprintf(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", size)
			chunk := bytes.Repeat([]byte("stack trace line\n"), 4096)
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := c.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
					return // the client closed after the start
				}
			}
		}, []string{"HTTP 500 Internal Server Error", `"stack trace line stack trace line`}, nil},
		{"echoed credentials", func(c net.Conn, req *http.Request) {
			body := "you sent: " + req.Header.Get("Authorization")
			_, _ = fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}, []string{"HTTP 400 Bad Request", `"you sent: <redacted>"`}, nil},
		{"no answer", func(net.Conn, *http.Request) {}, nil, context.DeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := fakeServer(t, c.reply)
			opts := conn.Options{Protocol: conn.HS2HTTP, User: testUser, Password: secret.New(testPassword), ConnectTimeout: time.Second}
			_, err := conn.Dial(context.Background(), addr, opts)
			require.Error(t, err)
			var ce *conn.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, addr, ce.Addr)
			require.Equal(t, conn.OpOpenSession, ce.Op)
			require.True(t, conn.SafeToRetry(err))
			msg := err.Error()
			require.Contains(t, msg, addr)
			for _, w := range c.want {
				require.Contains(t, msg, w)
			}
			if c.is != nil {
				require.ErrorIs(t, err, c.is)
			}
			require.NotContains(t, msg, testPassword)
			require.NotContains(t, msg, "YWxpY2U6czNjcmV0LXB3") // base64 of alice:s3cret-pw
			require.Less(t, len(msg), 600, "an error body is cut short")
		})
	}
}

// TestHTTPOptionChecks: settings that cannot work are refused up front.
func TestHTTPOptionChecks(t *testing.T) {
	for _, c := range []struct {
		o    conn.Options
		want string
	}{
		{conn.Options{Protocol: conn.HS2, HTTPPath: "x"}, "HTTPPath is for HS2HTTP only"},
		{conn.Options{Protocol: conn.HS2HTTP, HTTPHeaders: map[string]secret.Value{"Authorization": secret.New("x")}}, "Authorization is the transport's own header"},
		{conn.Options{Protocol: conn.HS2HTTP, HTTPHeaders: map[string]secret.Value{"X-Bad": secret.New("a\r\nb")}}, "line break"},
		{conn.Options{Protocol: conn.HS2HTTP, HTTPHeaders: map[string]secret.Value{"bad name": secret.New("x")}}, "not a header name"},
		{conn.Options{Protocol: conn.HS2HTTP, HTTPPath: "a b"}, "HTTPPath has a space"},
	} {
		_, err := c.o.WithDefaults()
		require.ErrorContains(t, err, c.want)
	}
	o, err := conn.Options{Protocol: conn.HS2HTTP, User: "u", Password: secret.New("pw")}.WithDefaults()
	require.NoError(t, err)
	require.NotNil(t, o.HTTPAuth, "a password means Basic")
	require.Nil(t, o.Mechanism)
	require.Equal(t, conn.DefaultHTTPPath, o.HTTPPath)
}

// TestHTTPHeadersAndPath: extra headers and the path go with every
// request; a User-Agent of the caller replaces the library's.
func TestHTTPHeadersAndPath(t *testing.T) {
	_, addr, opts := setup(t, httpNone, impalad.Config{})
	log := &reqLog{}
	opts.DialContext = log.dial
	opts.HTTPPath = "/gateway/default/impala"
	opts.HTTPHeaders = map[string]secret.Value{"X-Forwarded-For": secret.New("10.1.2.3"), "User-Agent": secret.New("etl/1.0"), "x-tenant": secret.New("sales")}
	s := dial(t, addr, opts)
	query(t, s, "select 1")
	for _, h := range log.take() {
		require.Equal(t, "10.1.2.3", h.Get("X-Forwarded-For"))
		require.Equal(t, "sales", h.Get("X-Tenant"))
		require.Equal(t, "etl/1.0", h.Get("User-Agent"))
	}
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", opts, opts, opts), "sales", "header values are not printed")
}

// chunkingProxy is an HTTP proxy in front of addr that sends every reply
// chunked (as Jetty does for large replies in Spark's and Hive's HTTP
// mode) and sets a sticky cookie of its own.
func chunkingProxy(t *testing.T, addr string) string {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.ContentLength = r.ContentLength
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		if c, err := r.Cookie("SERVERID"); err != nil || c.Value != "s1" {
			w.Header().Add("Set-Cookie", "SERVERID=s1; path=/")
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 1000)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestHTTPChunkedRepliesThroughProxy: replies of unknown length (chunked)
// are read in full, batch after batch, and the proxy's sticky cookie goes
// with every request of the session, a reattach's included.
func TestHTTPChunkedRepliesThroughProxy(t *testing.T) {
	_, addr, opts := setup(t, httpBasic, impalad.Config{})
	proxy := chunkingProxy(t, addr)
	log := &reqLog{}
	opts.DialContext = log.dial
	opts.FetchSize = 1000
	s := dial(t, proxy, opts)
	rows := query(t, s, "select * from gen.rows_3000")
	require.Len(t, rows, 3000)
	require.Equal(t, int64(2999), rows[2999][0])
	heads := log.take()
	require.Empty(t, heads[0].Get("Cookie"))
	for _, h := range heads[1:] {
		require.Contains(t, h.Get("Cookie"), "SERVERID=s1")
		require.Contains(t, h.Get("Cookie"), "impala.auth=")
	}
	require.NoError(t, s.Reattach(context.Background()))
	query(t, s, "select 1")
	for _, h := range log.take() {
		require.Contains(t, h.Get("Cookie"), "SERVERID=s1", "the reattached session keeps the sticky cookie")
	}
}
