package reliability

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/jwttest"
)

// cookieTap records the Set-Cookie values the coordinators send, from the
// bytes the client reads.
type cookieTap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *cookieTap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: nc, tap: c}, nil
}

type tapConn struct {
	net.Conn
	tap *cookieTap
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.tap.mu.Lock()
	c.tap.buf.Write(p[:n])
	c.tap.mu.Unlock()
	return n, err
}

// values returns the cookie values seen (those of deletions, empty, left
// out).
func (c *cookieTap) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, line := range strings.Split(c.buf.String(), "\r\n") {
		v, ok := strings.CutPrefix(line, "Set-Cookie: ")
		if !ok {
			continue
		}
		_, v, _ = strings.Cut(v, "=")
		v, _, _ = strings.Cut(v, ";")
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// echoServer answers every HTTP request with a 400 whose body repeats its
// Authorization and Cookie headers, and a 401 that puts them in
// WWW-Authenticate, in turn.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(n int) {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				echo := req.Header.Get("Authorization") + " " + req.Header.Get("Cookie")
				if n%2 == 0 {
					fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", len(echo), echo)
				} else {
					fmt.Fprintf(c, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer %s\r\nConnection: close\r\n\r\n", strings.ReplaceAll(echo, " ", "_"))
				}
			}(n)
		}
	}()
	return ln.Addr().String()
}

// TestSecretsHTTP: over HiveServer2 on HTTP, a known LDAP password (sent
// as Basic), a JWT and the auth cookies the coordinators issue; failures
// of every kind through conn, the pool and the driver, a coordinator that
// refuses the cookie, a server that echoes the credentials back; no error,
// log line or String shows any of them.
func TestSecretsHTTP(t *testing.T) {
	var cap capture
	log := cap.logger()
	is, err := jwttest.New("rel")
	require.NoError(t, err)
	dir := t.TempDir()
	jwks, err := is.WriteJWKS(dir)
	require.NoError(t, err)
	token := is.Token("rel", time.Hour, nil)
	expired := is.Token("rel", -time.Hour, nil)
	tokFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(token), 0o600))
	cos, _ := startCluster(t, 2, impalad.Config{
		HS2HTTPAddr:        "127.0.0.1:0",
		Users:              map[string]string{"rel": plainPassword},
		JWKSFile:           jwks,
		JWTAllowWithoutTLS: true,
		Logger:             log,
	})
	addrs := []string{cos[0].HS2HTTPAddr(), cos[1].HS2HTTPAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var tap cookieTap
	opts := fastOpts()
	opts.Protocol = conn.HS2HTTP
	opts.Password = plainPassword
	opts.Logger = log
	opts.DialContext = tap.dial
	opts.HTTPHeaders = map[string]string{"X-Tenant": "t1"}
	cap.value(opts)
	cap.value(&opts)

	for _, bad := range []conn.Options{
		func() conn.Options { o := opts; o.Password += "-wrong"; return o }(),
		func() conn.Options {
			o := opts
			o.Password = ""
			o.HTTPAuth = conn.BearerAuth(conn.StaticToken(expired))
			return o
		}(),
		func() conn.Options {
			o := opts
			o.Password = ""
			o.HTTPAuth = conn.BearerAuth(conn.StaticToken(token + "x"))
			return o
		}(),
	} {
		_, err := conn.Dial(ctx, addrs[0], bad)
		require.Error(t, err)
		cap.err(err)
	}

	for _, o := range []conn.Options{opts, func() conn.Options {
		o := opts
		o.Password = ""
		o.HTTPAuth = conn.BearerAuth(conn.TokenFile(tokFile))
		return o
	}()} {
		s, err := conn.Dial(ctx, addrs[0], o)
		require.NoError(t, err)
		cap.err(runStmt(ctx, s, "select nonsense from nowhere"))
		cos[0].RotateCookieKey() // the cookie is refused, the session authenticates again
		cap.err(runStmt(ctx, s, "select fail('boom')"))
		short, c2 := context.WithTimeout(ctx, 50*time.Millisecond)
		cap.err(runStmt(short, s, "select sleep(2000)"))
		c2()
		cap.err(s.Reattach(ctx))
		cos[0].Faults().Hang(true)
		short, c2 = context.WithTimeout(ctx, 200*time.Millisecond)
		cap.err(runStmt(short, s, "select 1"))
		c2()
		cos[0].Faults().Hang(false)
		cap.err(s.Close())
	}

	echo := echoServer(t)
	for range 2 {
		_, err := conn.Dial(ctx, echo, opts)
		require.Error(t, err)
		cap.err(err)
	}

	p := newPool(t, addrs, opts, func(c *balancer.Config) { c.Logger = log; c.Interval = 50 * time.Millisecond })
	for range 3 {
		l, err := p.Acquire(ctx, "")
		cap.err(err)
		if err == nil {
			cap.err(runStmt(ctx, sess(l), "select fail('x')"))
			l.Release()
		}
	}
	cap.value(p.Stats())

	for _, dsn := range []string{
		fmt.Sprintf("impala://rel:%s@%s?protocol=hs2-http", plainPassword, addrs[1]),
		fmt.Sprintf("impala://%s?protocol=hs2-http&auth=jwt&jwt=%s", addrs[1], token),
		fmt.Sprintf("impala://%s?protocol=hs2-http&auth=jwt&jwt=%s&connect_timeout=2s", addrs[1], expired),
		fmt.Sprintf("impala://%s?protocol=hs2&auth=jwt&jwt=%s", addrs[1], token),
		fmt.Sprintf("impala://%s?protocol=hs2-http&auth=jwt&jwt_file=%s", addrs[1], tokFile),
	} {
		cfg, err := impalalb.ParseDSN(dsn)
		cap.err(err)
		if err != nil {
			continue
		}
		cfg.Logger = log
		cap.value(cfg)
		cap.value(*cfg)
		cn, err := impalalb.NewConnector(cfg)
		cap.err(err)
		if err != nil {
			continue
		}
		db := sql.OpenDB(cn)
		cap.err(db.PingContext(ctx))
		_, err = db.ExecContext(ctx, "select fail('driver')")
		cap.err(err)
		cap.err(db.Close())
	}

	cookies := tap.values()
	require.NotEmpty(t, cookies, "the coordinators issued no cookie: the grep would prove nothing")
	require.NotEmpty(t, cap.log.String())
	secrets := []secret{
		secretOf("LDAP password", []byte(plainPassword)),
		secretOf("Basic credentials", []byte("rel:"+plainPassword)),
		{what: "JWT", forms: []string{token, strings.Split(token, ".")[2]}},
		{what: "expired JWT", forms: []string{expired, strings.Split(expired, ".")[2]}},
	}
	for _, c := range cookies {
		sig, _, _ := strings.Cut(c, "&")
		secrets = append(secrets, secret{what: "auth cookie", forms: []string{c, sig}})
	}
	report(t, cap.check(secrets))
}
