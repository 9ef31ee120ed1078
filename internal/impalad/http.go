package impalad

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// HiveServer2 over HTTP (Config.HS2HTTPAddr), as Impala's hs2-http port
// serves it: be/src/transport/THttpServer.cpp and THttpTransport.cpp read
// each request and answer it, be/src/rpc/authentication.cc and
// authentication-util.cc authenticate it and issue the auth cookie. A
// connection is served as on the binary port (frontend threads, TLS,
// faults, sessions that outlive it for disconnected_session_timeout), each
// request one Thrift call through the same HS2 processor.

// The answers' fixed parts, as THttpServer::flush and returnUnauthorized
// write them.
const (
	httpServerHeader = "Server: Thrift/0.16.0" // Impala 4 builds Thrift 0.16.0
	cookieName       = "impala.auth"
	// maxCookiesToCheck is AuthenticateCookie's MAX_COOKIES_TO_CHECK.
	maxCookiesToCheck = 5
)

// The mechanisms a cookie records (HTTP_AUTH_MECH_* in
// be/src/rpc/authentication-util.h).
const (
	authMechLDAP   = "LDAP"
	authMechSPNEGO = "SPNEGO"
	authMechJWT    = "JWT"
)

// httpAuth is the authentication of the HTTP listener: Impala's
// SecureAuthProvider when LDAP, Kerberos or JWT is on, its NoAuthProvider
// (no authentication, no cookies) otherwise.
type httpAuth struct {
	users     map[string]string                        // LDAP (Basic), nil when off
	negotiate func(tok []byte) (string, []byte, error) // Kerberos (SPNEGO), nil when off
	jwks      *jwks                                    // JWT (Bearer), nil when off
	userClaim string                                   // --jwt_custom_claim_username
	cookies   bool                                     // --max_cookie_lifetime_s > 0
	lifetime  time.Duration                            // --max_cookie_lifetime_s
	now       func() time.Time                         // the clock of cookie times and JWT checks

	mu  sync.Mutex // guards key
	key [sha256.Size]byte
}

// monoStart is the origin of the cookies' timestamps, which Impala takes
// from MonotonicMillis.
var monoStart = time.Now()

func (a *httpAuth) init(cfg *Config) error {
	a.now = time.Now
	if cfg.Users != nil {
		a.users = make(map[string]string, len(cfg.Users))
		for u, p := range cfg.Users {
			a.users[u] = p
		}
	}
	a.negotiate = cfg.Negotiate
	if cfg.JWKSFile != "" {
		// As AuthManager::Init: JWT only with TLS, unless
		// --jwt_allow_without_tls.
		if cfg.TLS == nil && !cfg.JWTAllowWithoutTLS {
			//lint:ignore ST1005 Impala's text, verbatim
			return errors.New("impalad: JWT authentication should be only used with TLS enabled.")
		}
		ks, err := loadJWKS(cfg.JWKSFile)
		if err != nil {
			return err
		}
		a.jwks = ks
		a.userClaim = cfg.JWTUsernameClaim
		if a.userClaim == "" {
			a.userClaim = "username"
		}
	}
	a.lifetime = cfg.CookieLifetime
	if a.lifetime == 0 {
		a.lifetime = 24 * time.Hour
	}
	a.cookies = a.enabled() && a.lifetime > 0
	return nil
}

// enabled reports whether requests must authenticate.
func (a *httpAuth) enabled() bool { return a.users != nil || a.negotiate != nil || a.jwks != nil }

// newKey draws the cookie key, as AuthenticationHash's constructor does.
func (a *httpAuth) newKey() {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = rand.Read(a.key[:])
}

// RotateCookieKey replaces the key that signs and checks the HTTP
// listener's auth cookies, as Impala reloads --cookie_secret_file when it
// changes (AuthenticationHashFromFile): cookies issued before are refused
// from now on, and clients authenticate again.
func (co *Coordinator) RotateCookieKey() { co.http.newKey() }

// SetCookieClock replaces the clock of the HTTP listener's cookies and JWT
// checks (nil: time.Now), so that tests can age cookies past their
// lifetime without waiting.
func (co *Coordinator) SetCookieClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	co.http.mu.Lock()
	co.http.now = now
	co.http.mu.Unlock()
}

func (a *httpAuth) clock() time.Time {
	a.mu.Lock()
	now := a.now
	a.mu.Unlock()
	return now()
}

func (a *httpAuth) sign(value string) []byte {
	a.mu.Lock()
	m := hmac.New(sha256.New, a.key[:])
	a.mu.Unlock()
	m.Write([]byte(value))
	return m.Sum(nil)
}

// cookie is GenerateCookie: "impala.auth=<signature>&u=<user>&t=<ms>&r=<random>&a=<mech>"
// with the HMAC-SHA256 signature in web-safe base64, HttpOnly, Max-Age and
// Secure (--cookie_require_secure is on by default).
func (a *httpAuth) cookie(user, mech string, now time.Time) string {
	r, _ := rand.Int(rand.Reader, big.NewInt(1<<31-1))
	ms := now.Sub(monoStart).Milliseconds()
	value := "u=" + user + "&t=" + strconv.FormatInt(ms, 10) + "&r=" + r.String() + "&a=" + mech
	sig := base64.URLEncoding.EncodeToString(a.sign(value))
	return fmt.Sprintf("%s=%s&%s;HttpOnly;Max-Age=%d;Secure", cookieName, sig, value, int64((a.lifetime+time.Second-1)/time.Second))
}

// checkCookie is AuthenticateCookie: the first impala.auth cookie among
// the first five must carry a valid signature and be younger than the
// lifetime. It returns the user.
func (a *httpAuth) checkCookie(header string, now time.Time) (string, error) {
	cookies := strings.Split(header, ";")
	for i := 0; i < len(cookies) && i < maxCookiesToCheck; i++ {
		c, ok := strings.CutPrefix(strings.TrimSpace(cookies[i]), cookieName+"=")
		if !ok {
			continue
		}
		if len(c) >= 2 && c[0] == '"' && c[len(c)-1] == '"' {
			c = c[1 : len(c)-1]
		}
		sig64, value, ok := strings.Cut(c, "&")
		if !ok {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The cookie has an invalid format.")
		}
		sig, err := base64.URLEncoding.DecodeString(sig64)
		if err != nil {
			if sig, err = base64.RawURLEncoding.DecodeString(sig64); err != nil {
				//lint:ignore ST1005 Impala's text, verbatim
				return "", errors.New("Unable to decode base64 signature.")
			}
		}
		if len(sig) != sha256.Size {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("Signature is an incorrect length.")
		}
		if !hmac.Equal(sig, a.sign(value)) {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The signature is incorrect.")
		}
		parts := strings.Split(value, "&")
		if len(parts) != 4 {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The cookie value has an invalid format.")
		}
		ts, ok := strings.CutPrefix(parts[1], "t=")
		if !ok {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The cookie timestamp value has an invalid format.")
		}
		created, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("Could not parse cookie timestamp.")
		}
		if now.Sub(monoStart).Milliseconds()-created > a.lifetime.Milliseconds() {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("Cookie is past its max lifetime.")
		}
		user, ok := strings.CutPrefix(parts[0], "u=")
		if !ok {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The cookie username value has an invalid format.")
		}
		if _, ok := strings.CutPrefix(parts[3], "a="); !ok {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", errors.New("The cookie authMech value has an invalid format.")
		}
		return user, nil
	}
	//lint:ignore ST1005 Impala's text, verbatim
	return "", fmt.Errorf("Did not find expected cookie name: %s", cookieName)
}

// authenticate is THttpServer::headersDone's check of one request: the
// auth cookie first, then a Bearer JWT, then Basic (LDAP) and Negotiate
// (Kerberos), each as its callback in authentication.cc answers. It
// returns the authenticated user ("" without authentication) and appends
// the answer's headers (Set-Cookie, WWW-Authenticate) to ret.
func (a *httpAuth) authenticate(h http.Header, ret *[]string) (string, bool) {
	if !a.enabled() {
		return "", true
	}
	now := a.clock()
	// parseHeader keeps the last Cookie and Authorization header.
	cookie := strings.TrimSpace(last(h, "Cookie"))
	authz := last(h, "Authorization")
	if a.cookies && cookie != "" {
		if user, err := a.checkCookie(cookie, now); err == nil {
			return user, true
		}
		// CookieAuth: an invalid cookie is deleted.
		*ret = append(*ret, "Set-Cookie: "+cookieName+"=;HttpOnly;Max-Age=0")
	}
	if a.jwks != nil && strings.Contains(authz, ".") {
		if tok, ok := strings.CutPrefix(strings.TrimSpace(authz), "Bearer "); ok {
			user, err := a.jwks.verifyJWT(tok, a.userClaim, now)
			if err == nil {
				a.issue(ret, user, authMechJWT, now)
				return user, true
			}
			// JWTTokenAuth answers a failed verification with the
			// Bearer error.
			*ret = append(*ret, fmt.Sprintf("WWW-Authenticate: Bearer error=\"invalid_token\",error_description=\"%s \"", err))
		}
	}
	authz = strings.TrimSpace(authz)
	basicTok, gotBasic := strings.CutPrefix(authz, "Basic ")
	negTok, gotNeg := strings.CutPrefix(authz, "Negotiate ")
	if a.users != nil && (!gotNeg || a.negotiate == nil) {
		if !gotBasic {
			basicTok = ""
		}
		if user, pw, ok := basicCreds(basicTok); ok {
			if want, known := a.users[user]; known && want == pw {
				a.issue(ret, user, authMechLDAP, now)
				return user, true
			}
		}
		*ret = append(*ret, "WWW-Authenticate: Basic")
	}
	if a.negotiate != nil && (!gotBasic || a.users == nil) {
		if !gotNeg || negTok == "" {
			*ret = append(*ret, "WWW-Authenticate: Negotiate")
			return "", false
		}
		// Beeline's "Negotiate: <token>" too, as NegotiateAuth.
		negTok = strings.TrimPrefix(negTok, ": ")
		tok, err := base64.StdEncoding.DecodeString(strings.TrimSpace(negTok))
		if err != nil {
			return "", false
		}
		user, reply, err := a.negotiate(tok)
		if err != nil {
			return "", false
		}
		if len(reply) > 0 {
			*ret = append(*ret, "WWW-Authenticate: Negotiate "+base64.StdEncoding.EncodeToString(reply))
		}
		a.issue(ret, user, authMechSPNEGO, now)
		return user, true
	}
	return "", false
}

// issue appends the Set-Cookie of a successful authentication.
func (a *httpAuth) issue(ret *[]string, user, mech string, now time.Time) {
	if a.cookies {
		*ret = append(*ret, "Set-Cookie: "+a.cookie(user, mech, now))
	}
}

// basicCreds is BasicAuthExtractCredentials: base64 of "user:password".
func basicCreds(tok string) (user, password string, ok bool) {
	if tok == "" {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(b), ":")
	return user, password, ok
}

func last(h http.Header, name string) string {
	v := h.Values(name)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// httpDate is getTimeRFC1123's format, fields not zero-padded as Impala
// prints them.
func httpDate(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%s, %d %s %d %d:%d:%d GMT", t.Weekday().String()[:3], t.Day(), t.Month().String()[:3], t.Year(), t.Hour(), t.Minute(), t.Second())
}

// serveHTTP serves the requests of one HTTP connection (after TLS).
func (co *Coordinator) serveHTTP(l *life, sc *serverConn, c net.Conn) {
	br := bufio.NewReaderSize(c, 32<<10)
	bw := bufio.NewWriterSize(c, 32<<10)
	var (
		resp bytes.Buffer
		ret  []string // ConnectionContext::return_headers of the request
	)
	t := &serverTransport{sc: sc, r: bufio.NewReaderSize(http.NoBody, 32<<10), w: &resp}
	t.flush = func(context.Context) error {
		// THttpServer::flush: the reply, with the request's headers.
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nDate: %s\r\n%s\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/x-thrift\r\nContent-Length: %d\r\nConnection: Keep-Alive\r\n",
			httpDate(time.Now()), httpServerHeader, resp.Len())
		for _, h := range ret {
			bw.WriteString(h)
			bw.WriteString("\r\n")
		}
		ret = ret[:0]
		bw.WriteString("\r\n")
		_, _ = resp.WriteTo(bw)
		if resp.Cap() > 4<<20 {
			resp = bytes.Buffer{}
		}
		return bw.Flush()
	}
	proto := thrift.NewTBinaryProtocolConf(t, &thrift.TConfiguration{
		MaxMessageSize:     256 << 20,
		TBinaryStrictRead:  new(false),
		TBinaryStrictWrite: new(true),
	})
	ctx := context.WithValue(l.ctx, connKey{}, sc)
	co.debug("connection open", slog.String("protocol", string(HS2HTTP)), slog.String("remote", sc.raw.RemoteAddr().String()))
	for {
		sc.busy.Store(false)
		sc.touch()
		if _, err := br.Peek(1); err != nil {
			return
		}
		sc.busy.Store(true)
		sc.touch()
		if !co.faults.beforeRPC(l.ctx, sc) {
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			// THttpTransport throws on a bad request: the connection ends.
			co.debug("bad HTTP request", slog.String("error", err.Error()))
			return
		}
		if req.Method != http.MethodPost {
			// THttpServer::parseStatusLine takes POST, answers OPTIONS
			// with a CORS preflight, and throws on any other method.
			co.debug("HTTP request refused", slog.String("method", req.Method),
				slog.String("why", "not supported by the test coordinator: HTTP methods other than POST (Impala answers OPTIONS with a CORS preflight)"))
			return
		}
		doAs, err := doAsParam(req.RequestURI)
		if err != nil {
			co.debug("HTTP request refused", slog.String("error", err.Error()))
			return
		}
		sc.doAs = doAs
		ret = ret[:0]
		user, ok := co.http.authenticate(req.Header, &ret)
		if !ok {
			// returnUnauthorized, then the transport throws: the
			// connection ends.
			fmt.Fprintf(bw, "HTTP/1.1 401 Unauthorized\r\nDate: %s\r\nConnection: close\r\n", httpDate(time.Now()))
			for _, h := range ret {
				bw.WriteString(h)
				bw.WriteString("\r\n")
			}
			bw.WriteString("\r\n")
			_ = bw.Flush()
			return
		}
		if co.http.enabled() {
			sc.user = user
		}
		if strings.Contains(strings.ToLower(req.Header.Get("Expect")), "100-continue") {
			// After the headers are validated (THttpTransport::readHeaders).
			bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := bw.Flush(); err != nil {
				return
			}
		}
		t.r.Reset(req.Body)
		resp.Reset()
		if !co.process(ctx, sc, co.hs2Proc, proto) {
			return
		}
		// Whatever of the body the call did not read.
		if _, err := t.r.Discard(t.r.Buffered()); err != nil {
			return
		}
		if err := req.Body.Close(); err != nil {
			return
		}
	}
}

// doAsParam is HttpPathFn's reading of the path: the doAs parameter, URL
// decoded; a value that does not decode fails the request.
func doAsParam(uri string) (string, error) {
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return "", nil
	}
	doAs := ""
	for _, pair := range strings.Split(query, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k != "doAs" {
			continue
		}
		d, err := url.QueryUnescape(v)
		if err != nil {
			//lint:ignore ST1005 Impala's text, verbatim
			return "", fmt.Errorf("Could not decode 'doAs' parameter from HTTP request with path: %s", uri)
		}
		doAs = d
	}
	return doAs, nil
}
