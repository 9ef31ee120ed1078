package conn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/secret"
)

// HTTPAuth makes the value of the Authorization header of an HS2HTTP
// request to a coordinator whose host (as dialed) is host: "Basic ...",
// "Bearer ...", "Negotiate ...", held in a secret.Value that the
// transport reveals only to write the header. It is called from the
// goroutine of the call that needs it, under that call's ctx, possibly
// from several sessions at once. Its error fails the call before anything
// is sent; an error whose chain holds a ClientSide() bool method
// reporting true (a kerberos.Error for a refused login) makes the failure
// the client's own.
type HTTPAuth func(ctx context.Context, host string) (secret.Value, error)

// TokenSource gives the token of [BearerAuth] each time a session
// authenticates: [StaticToken], [TokenFile], or a function of the
// caller's that fetches a fresh one (secret.New(tok)).
type TokenSource func(ctx context.Context) (secret.Value, error)

// BasicAuth returns the HTTPAuth of Impala's LDAP authentication over HTTP:
// "Basic " and the base64 of "user:password" (what impala-shell -l and
// impyla's LDAP send). Use it with TLS.
func BasicAuth(user string, password secret.Value) HTTPAuth {
	v := secret.New("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password.Reveal())))
	return func(context.Context, string) (secret.Value, error) { return v, nil }
}

// BearerAuth returns the HTTPAuth of Impala's JWT authentication
// (--jwt_token_auth; impala-shell's -j): "Bearer " and the token that
// token gives each time the session authenticates. Impala accepts JWTs
// only over TLS unless its --jwt_allow_without_tls is set.
func BearerAuth(token TokenSource) HTTPAuth {
	return func(ctx context.Context, _ string) (secret.Value, error) {
		t, err := token(ctx)
		if err != nil {
			return secret.Value{}, &httpAuthError{err: fmt.Errorf("JWT: %w", err)}
		}
		tok := t.Reveal()
		if err := checkToken(tok); err != nil {
			return secret.Value{}, &httpAuthError{err: err}
		}
		return secret.New("Bearer " + tok), nil
	}
}

// StaticToken returns a token source for [BearerAuth] that always gives
// tok.
func StaticToken(tok secret.Value) TokenSource {
	return func(context.Context) (secret.Value, error) { return tok, nil }
}

// TokenFile returns a token source for [BearerAuth] that reads the token
// from the file at path (surrounding white space dropped), and reads it
// again whenever the file's size or modification time changed since, so
// that a token another process renews is picked up by the next
// authentication. The source is safe for concurrent use.
func TokenFile(path string) TokenSource {
	var (
		mu    sync.Mutex // guards the fields below
		size  int64
		mtime time.Time
		tok   secret.Value
	)
	return func(context.Context) (secret.Value, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return secret.Value{}, fmt.Errorf("token file: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !tok.IsZero() && fi.Size() == size && fi.ModTime().Equal(mtime) {
			return tok, nil
		}
		if fi.Size() > maxTokenSize {
			return secret.Value{}, fmt.Errorf("token file %s: %d bytes, more than %d", path, fi.Size(), maxTokenSize)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return secret.Value{}, fmt.Errorf("token file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return secret.Value{}, fmt.Errorf("token file %s is empty", path)
		}
		tok, size, mtime = secret.New(t), fi.Size(), fi.ModTime()
		return tok, nil
	}
}

// maxTokenSize bounds a token read from a file.
const maxTokenSize = 64 << 10

// checkToken refuses a token that cannot travel in a header. The error
// never shows the token.
func checkToken(t string) error {
	if t == "" {
		return errors.New("JWT: empty token")
	}
	if len(t) > maxTokenSize {
		return fmt.Errorf("JWT: token of %d bytes, more than %d", len(t), maxTokenSize)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("JWT: the token holds a space, control or non-ASCII byte at offset %d", i)
		}
	}
	return nil
}

// httpAuthError is the cause of a call that failed before sending because
// its credentials could not be made: a token source's or a Kerberos
// client's failure. Every coordinator would see the same.
type httpAuthError struct{ err error }

func (e *httpAuthError) Error() string { return "HTTP authentication: " + e.err.Error() }
func (e *httpAuthError) Unwrap() error { return e.err }

// ClientSide reports true unless the cause says otherwise (a Kerberos
// error that is the coordinator's, such as a principal missing from its
// keytab, is not the client's).
func (e *httpAuthError) ClientSide() bool {
	var cs interface{ ClientSide() bool }
	if errors.As(e.err, &cs) {
		return cs.ClientSide()
	}
	return true
}

// ownedHeaders are the request headers the HS2HTTP transport writes
// itself, which Options.HTTPHeaders may not set.
var ownedHeaders = []string{"Host", "Content-Type", "Content-Length", "Transfer-Encoding",
	"Connection", "Authorization", "Cookie", "Expect", "Upgrade", "Te", "Trailer", "Proxy-Connection", "Keep-Alive"}

// checkHTTP checks the HTTP fields of o: valid only with HS2HTTP, a path
// and headers that can be sent as they are.
func (o *Options) checkHTTP() error {
	if o.Protocol != HS2HTTP {
		switch {
		case o.HTTPAuth != nil:
			return errors.New("conn: Options.HTTPAuth is for HS2HTTP only")
		case o.HTTPPath != "":
			return errors.New("conn: Options.HTTPPath is for HS2HTTP only")
		case len(o.HTTPHeaders) > 0:
			return errors.New("conn: Options.HTTPHeaders is for HS2HTTP only")
		}
		return nil
	}
	if o.Mechanism != nil {
		return errors.New("conn: Options.Mechanism is SASL, which HS2HTTP does not use: set Options.HTTPAuth (BasicAuth, BearerAuth, kerberos.Client.NegotiateHeader)")
	}
	for i := 0; i < len(o.HTTPPath); i++ {
		if c := o.HTTPPath[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return fmt.Errorf("conn: Options.HTTPPath has a space, control, non-ASCII or '#' byte at offset %d", i)
		}
	}
	for k, v := range o.HTTPHeaders {
		if !isToken(k) {
			return fmt.Errorf("conn: Options.HTTPHeaders: %q is not a header name", k)
		}
		for _, owned := range ownedHeaders {
			if strings.EqualFold(k, owned) {
				return fmt.Errorf("conn: Options.HTTPHeaders: %s is the transport's own header", http.CanonicalHeaderKey(k))
			}
		}
		if strings.ContainsAny(v.Reveal(), "\r\n\x00") {
			return fmt.Errorf("conn: Options.HTTPHeaders: the value of %s holds a line break or NUL", http.CanonicalHeaderKey(k))
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// cookieJar holds the cookies the coordinator (or a proxy in front of it)
// set for one session: Impala's auth cookie (impala.auth), which spares
// later calls the authentication, and a load balancer's sticky cookie,
// which keeps the session's requests on the backend that holds it. It is
// shared by the wires of one session (a reattach keeps both) and safe for
// concurrent use. What it holds is never printed: the values are
// secret.Values, revealed only into the Cookie header of a request.
type cookieJar struct {
	mu      sync.Mutex // guards cookies
	cookies []jarCookie
}

type jarCookie struct {
	name    string
	value   secret.Value
	quoted  bool
	path    string
	expires time.Time // zero: the session's life
}

// Bounds on what a server may make the jar hold.
const (
	maxCookies     = 32
	maxCookieBytes = 8 << 10
)

// isAuthCookie says a cookie authenticates the session: its name ends in
// ".auth" (impala-shell's rule: Impala's impala.auth, Hive's
// hive.server2.auth).
func isAuthCookie(name string) bool { return strings.HasSuffix(name, ".auth") }

// String shows how many cookies the jar holds, never what they are.
func (j *cookieJar) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return fmt.Sprintf("cookieJar{%d cookies}", len(j.cookies))
}

// GoString is String.
func (j *cookieJar) GoString() string { return j.String() }

// hasAuth reports whether a request to path at now carries an auth
// cookie. Expired cookies are dropped.
func (j *cookieJar) hasAuth(path string, now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	auth := false
	kept := j.cookies[:0]
	for _, c := range j.cookies {
		if !c.expires.IsZero() && !now.Before(c.expires) {
			continue
		}
		kept = append(kept, c)
		auth = auth || isAuthCookie(c.name) && pathMatch(c.path, path)
	}
	clear(j.cookies[len(kept):])
	j.cookies = kept
	return auth
}

// appendHeader appends the Cookie header line of a request to path at now
// to h (nothing when no cookie goes with it): the one place the cookies'
// values are revealed.
func (j *cookieJar) appendHeader(h []byte, path string, now time.Time) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, c := range j.cookies {
		if !c.expires.IsZero() && !now.Before(c.expires) || !pathMatch(c.path, path) {
			continue
		}
		if n == 0 {
			h = append(h, "Cookie: "...)
		} else {
			h = append(h, "; "...)
		}
		n++
		h = append(h, c.name...)
		h = append(h, '=')
		if c.quoted {
			h = append(h, '"')
		}
		h = append(h, c.value.Reveal()...)
		if c.quoted {
			h = append(h, '"')
		}
	}
	if n > 0 {
		h = append(h, "\r\n"...)
	}
	return h
}

// update applies the Set-Cookie headers of a response: a new value
// replaces the old, Max-Age=0 or an Expires in the past deletes.
func (j *cookieJar) update(setCookie []string, now time.Time) {
	if len(setCookie) == 0 {
		return
	}
	resp := http.Response{Header: http.Header{"Set-Cookie": setCookie}}
	set := resp.Cookies()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range set {
		i := 0
		for i < len(j.cookies) && j.cookies[i].name != c.Name {
			i++
		}
		// Max-Age=0 parses as MaxAge -1; Max-Age wins over Expires.
		if c.MaxAge < 0 || c.MaxAge == 0 && !c.Expires.IsZero() && !now.Before(c.Expires) {
			if i < len(j.cookies) {
				j.cookies = append(j.cookies[:i], j.cookies[i+1:]...)
			}
			continue
		}
		if len(c.Name)+len(c.Value) > maxCookieBytes {
			continue
		}
		jc := jarCookie{name: c.Name, value: secret.New(c.Value), quoted: c.Quoted, path: c.Path}
		switch {
		case c.MaxAge > 0:
			jc.expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			jc.expires = c.Expires
		}
		if i < len(j.cookies) {
			j.cookies[i] = jc
		} else if len(j.cookies) < maxCookies {
			j.cookies = append(j.cookies, jc)
		}
	}
}

// dropAuth forgets the auth cookies (the coordinator refused them), and
// keeps the others (a load balancer's sticky cookie).
func (j *cookieJar) dropAuth() {
	j.mu.Lock()
	defer j.mu.Unlock()
	kept := j.cookies[:0]
	for _, c := range j.cookies {
		if !isAuthCookie(c.name) {
			kept = append(kept, c)
		}
	}
	clear(j.cookies[len(kept):])
	j.cookies = kept
}

// values returns the cookie values, for redaction.
func (j *cookieJar) values() []secret.Value {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]secret.Value, 0, len(j.cookies))
	for _, c := range j.cookies {
		out = append(out, c.value)
	}
	return out
}

// pathMatch reports whether a cookie set for cpath goes with a request to
// path (RFC 6265 5.1.4, as impala-shell's cookie_matches_path): no path,
// "/", the same path or one below it.
func pathMatch(cpath, path string) bool {
	if cpath == "" || cpath == "/" {
		return true
	}
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	cpath = "/" + strings.Trim(cpath, "/")
	path = "/" + strings.Trim(path, "/")
	return path == cpath || strings.HasPrefix(path, cpath+"/")
}
