package impalad

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/jwttest"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// httpHS2 is an HS2 client over Apache Thrift's own HTTP transport.
func httpHS2(t *testing.T, url string, headers map[string]string) (*hs2Client, *thrift.THttpClient) {
	t.Helper()
	tr, err := thrift.NewTHttpClient(url)
	require.NoError(t, err)
	hc := tr.(*thrift.THttpClient)
	for k, v := range headers {
		hc.SetHeader(k, v)
	}
	t.Cleanup(func() { hc.Close() })
	pf := thrift.NewTBinaryProtocolFactoryConf(testConf)
	return &hs2Client{t: t, tr: hc, c: impala.NewImpalaHiveServer2ServiceClientFactory(hc, pf)}, hc
}

// TestHTTPThriftClient: Apache Thrift's HTTP client (THttpClient) runs a
// session over the HTTP listener.
func TestHTTPThriftClient(t *testing.T) {
	co := startCoord(t, Config{HS2HTTPAddr: "127.0.0.1:0"})
	h, _ := httpHS2(t, "http://"+co.HS2HTTPAddr()+"/cliservice", nil)
	h.mustOpen()
	_, rows := h.query("select 1")
	require.Equal(t, [][]any{{int8(1)}}, rows)
	h.closeSession()
	require.Equal(t, 0, co.Stats().SessionsOpen)
}

// post sends one raw request on c and returns the answer (its body read).
func post(t *testing.T, c net.Conn, br *bufio.Reader, head string, body []byte) *http.Response {
	t.Helper()
	_, err := fmt.Fprintf(c, "POST /cliservice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-thrift\r\nContent-Length: %d\r\n%s\r\n", len(body), head)
	require.NoError(t, err)
	_, err = c.Write(body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// pingMessage is a Thrift call of GetInfo (any call will do: the answers
// below are decided before the call is read).
func pingMessage(t *testing.T) []byte {
	t.Helper()
	var buf thrift.TMemoryBuffer
	buf.Buffer = new(bytes.Buffer)
	p := thrift.NewTBinaryProtocolConf(&buf, &thrift.TConfiguration{})
	ctx := context.Background()
	require.NoError(t, p.WriteMessageBegin(ctx, "GetInfo", thrift.CALL, 1))
	args := tcli.TCLIServiceGetInfoArgs{Req: &tcli.TGetInfoReq{SessionHandle: &tcli.TSessionHandle{SessionId: &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}}}}
	require.NoError(t, args.Write(ctx, p))
	require.NoError(t, p.WriteMessageEnd(ctx))
	return buf.Bytes()
}

func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c, bufio.NewReader(c)
}

func basic(user, pw string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)) + "\r\n"
}

// cookieRE is GenerateCookie's format.
var cookieRE = regexp.MustCompile(`^impala\.auth=[A-Za-z0-9_-]{43}=&u=alice&t=\d+&r=\d+&a=LDAP;HttpOnly;Max-Age=86400;Secure$`)

// TestHTTPAuthAnswers: the answers of THttpServer::headersDone and the
// callbacks of authentication.cc with LDAP on: a 401 with the scheme and
// Connection: close, the auth cookie on a successful Basic, nothing more
// when the cookie is good, and an invalid cookie deleted.
func TestHTTPAuthAnswers(t *testing.T) {
	co := startCoord(t, Config{HS2HTTPAddr: "127.0.0.1:0", Users: map[string]string{"alice": "pw"}})
	addr := co.HS2HTTPAddr()
	msg := pingMessage(t)

	c, br := rawConn(t, addr)
	resp := post(t, c, br, "", msg)
	require.Equal(t, 401, resp.StatusCode)
	require.Equal(t, []string{"Basic"}, resp.Header.Values("WWW-Authenticate"))
	require.True(t, resp.Close, "Connection: close")
	_, err := br.Peek(1)
	require.ErrorIs(t, err, io.EOF, "the connection ends after a 401")

	c, br = rawConn(t, addr)
	resp = post(t, c, br, basic("alice", "nope"), msg)
	require.Equal(t, 401, resp.StatusCode)

	c, br = rawConn(t, addr)
	resp = post(t, c, br, basic("alice", "pw"), msg)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/x-thrift", resp.Header.Get("Content-Type"))
	require.Equal(t, "Keep-Alive", resp.Header.Get("Connection"))
	sc := resp.Header.Values("Set-Cookie")
	require.Len(t, sc, 1)
	require.Regexp(t, cookieRE, sc[0])
	cookie := strings.Split(sc[0], ";")[0]

	// On the same connection (keep-alive): the cookie alone will do.
	resp = post(t, c, br, "Cookie: other=1; "+cookie+"\r\n", msg)
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, resp.Header.Values("Set-Cookie"))

	// A cookie signed with another key: deleted, then Basic decides.
	co.RotateCookieKey()
	resp = post(t, c, br, "Cookie: "+cookie+"\r\n"+basic("alice", "pw"), msg)
	require.Equal(t, 200, resp.StatusCode)
	sc = resp.Header.Values("Set-Cookie")
	require.Len(t, sc, 2)
	require.Equal(t, "impala.auth=;HttpOnly;Max-Age=0", sc[0])
	require.Regexp(t, cookieRE, sc[1])
	resp = post(t, c, br, "Cookie: "+cookie+"\r\n", msg)
	require.Equal(t, 401, resp.StatusCode)
	require.Equal(t, []string{"impala.auth=;HttpOnly;Max-Age=0"}, resp.Header.Values("Set-Cookie"))
	require.Equal(t, []string{"Basic"}, resp.Header.Values("WWW-Authenticate"))

	// A cookie past its lifetime.
	c, br = rawConn(t, addr)
	resp = post(t, c, br, basic("alice", "pw"), msg)
	cookie = strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	co.SetCookieClock(func() time.Time { return time.Now().Add(24*time.Hour + time.Minute) })
	resp = post(t, c, br, "Cookie: "+cookie+"\r\n", msg)
	require.Equal(t, 401, resp.StatusCode)
}

// TestHTTPRequestHandling: Expect: 100-continue is answered once the
// headers pass; a method other than POST ends the connection; the doAs of
// the path asks for a delegation nobody is allowed.
func TestHTTPRequestHandling(t *testing.T) {
	co := startCoord(t, Config{HS2HTTPAddr: "127.0.0.1:0"})
	addr := co.HS2HTTPAddr()
	msg := pingMessage(t)

	c, br := rawConn(t, addr)
	_, err := fmt.Fprintf(c, "POST /cliservice HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(msg))
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	_, _ = br.ReadString('\n')
	_, err = c.Write(msg)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)

	c, br = rawConn(t, addr)
	_, err = io.WriteString(c, "GET /cliservice HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	_, err = br.Peek(1)
	require.ErrorIs(t, err, io.EOF)

	h, _ := httpHS2(t, "http://"+addr+"/cliservice?doAs=bob", nil)
	resp2 := h.open(nil)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, resp2.Status.StatusCode)
	require.Equal(t, "User 'tester' is not authorized to delegate to 'bob'. User/group delegation is disabled.\n", resp2.Status.GetErrorMessage())
}

// TestHTTPJWT: Bearer tokens checked as JWTHelper does.
func TestHTTPJWT(t *testing.T) {
	dir := t.TempDir()
	is, err := jwttest.New("k1")
	require.NoError(t, err)
	jwks, err := is.WriteJWKS(dir)
	require.NoError(t, err)

	_, err = Start(Config{HS2HTTPAddr: "127.0.0.1:0", JWKSFile: jwks})
	require.EqualError(t, err, "impalad: JWT authentication should be only used with TLS enabled.")

	co := startCoord(t, Config{HS2HTTPAddr: "127.0.0.1:0", JWKSFile: jwks, JWTAllowWithoutTLS: true})
	addr := co.HS2HTTPAddr()
	msg := pingMessage(t)
	bearer := func(tok string) string { return "Authorization: Bearer " + tok + "\r\n" }

	c, br := rawConn(t, addr)
	resp := post(t, c, br, "", msg)
	require.Equal(t, 401, resp.StatusCode)
	require.Empty(t, resp.Header.Values("WWW-Authenticate"), "JWT alone names no scheme")

	c, br = rawConn(t, addr)
	resp = post(t, c, br, bearer(is.Token("carol", time.Hour, nil)), msg)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Set-Cookie"), "&u=carol&")
	require.Contains(t, resp.Header.Get("Set-Cookie"), "&a=JWT;")

	other, err := jwttest.New("k1")
	require.NoError(t, err)
	c, br = rawConn(t, addr)
	resp = post(t, c, br, bearer(other.Token("carol", time.Hour, nil)), msg)
	require.Equal(t, 401, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`)

	ks, err := loadJWKS(jwks)
	require.NoError(t, err)
	now := time.Now()
	tok := is.Token("carol", time.Hour, nil)
	parts := strings.Split(tok, ".")
	for _, c := range []struct {
		name, token, want string
	}{
		{"good", tok, ""},
		{"expired", is.Token("carol", -time.Minute, nil), "token expired"},
		{"not yet", is.Token("carol", time.Hour, map[string]any{"nbf": now.Add(time.Hour).Unix()}), "token expired"},
		{"no user", is.Token("", time.Hour, nil), "Claim 'username' is empty"},
		{"unsigned", parts[0] + "." + parts[1] + ".", "Unsecured JWT"},
		{"tampered", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"username":"root"}`)) + "." + parts[2], "RSA error"},
		{"other kid", strings.Replace(tok, parts[0], base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k9"}`)), 1), "Invalid JWK ID in the JWT token"},
		{"hs256", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + parts[1] + "." + parts[2], "not supported by the test coordinator: JWT algorithm 'hs256'"},
		{"garbage", "a.b", "Token is not in correct format"},
	} {
		user, err := ks.verifyJWT(c.token, "username", now)
		if c.want == "" {
			require.NoError(t, err, c.name)
			require.Equal(t, "carol", user)
			continue
		}
		require.ErrorContains(t, err, c.want, c.name)
	}

	for body, want := range map[string]string{
		`{"keys":[],"x":1}`:                 "Unexpected property 'x' must be removed",
		`{"keys":[]}`:                       "'keys' must be a non empty Array",
		`{}`:                                "An array of keys is required",
		`{"keys":[{"kty":"EC","kid":"a"}]}`: "not supported by the test coordinator: kty 'ec'",
	} {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		_, err := loadJWKS(p)
		require.ErrorContains(t, err, want, body)
	}
}

// FuzzHTTPAuth: whatever the Cookie and Authorization headers hold, the
// HTTP listener's authentication answers yes or no, never panics, and
// accepts only what it should: a valid cookie, the LDAP password, a JWT
// of its key.
func FuzzHTTPAuth(f *testing.F) {
	dir := f.TempDir()
	is, err := jwttest.New("k1")
	require.NoError(f, err)
	jwks, err := is.WriteJWKS(dir)
	require.NoError(f, err)
	var a httpAuth
	require.NoError(f, a.init(&Config{Users: map[string]string{"alice": "pw"}, JWKSFile: jwks, JWTAllowWithoutTLS: true}))
	a.newKey()
	good := strings.Split(a.cookie("alice", authMechLDAP, time.Now()), ";")[0]
	f.Add(good, "")
	f.Add("", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	f.Add("", "Bearer "+is.Token("carol", time.Hour, nil))
	f.Add("impala.auth=\"x&u=a&t=1&r=2&a=LDAP\"; a=b", "Negotiate: abc")
	f.Add("impala.auth=&", "Bearer a.b.c")
	f.Fuzz(func(t *testing.T, cookie, authz string) {
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		var ret []string
		user, ok := a.authenticate(h, &ret)
		if ok {
			require.Contains(t, []string{"alice", "carol"}, user, "cookie %q authorization %q", cookie, authz)
		}
	})
}
