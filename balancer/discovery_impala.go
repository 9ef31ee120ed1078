package balancer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/secret"
)

// DefaultWebPort is the port of impalad's web server (--webserver_port).
const DefaultWebPort = 25000

// maxWebBody bounds what is read of one web server answer.
const maxWebBody = 16 << 20

// maxWebTries bounds the web servers one membership poll asks.
const maxWebTries = 5

// ImpalaWeb reaches the coordinators' web servers (impalad's
// --webserver_port), for [ImpalaMembership] and [ImpalaLoad]; give both
// the same one, so that the load polls use the web server addresses the
// membership lists. It is safe for concurrent use and its zero value is
// usable: plain HTTP on port 25000, no credentials.
//
// What is sent where: a GET of /backends?json (membership) or
// /jsonmetrics?json (load) to the web servers of the cluster, with no
// credentials at first. Only when a web server answers 401 and asks for
// them: with "WWW-Authenticate: Basic" (Impala's --webserver_require_ldap)
// User and Password, in the Authorization header, to that web server only
// (and with every later request to it, which saves the 401 round trip),
// and only over TLS unless BasicInClear; with "Negotiate"
// (--webserver_require_spnego) a Kerberos service ticket through
// Negotiate, when set. Nothing is cached between requests (Impala's
// authentication cookie is not kept), and no error or log shows the
// password.
type ImpalaWeb struct {
	// Port is the web servers' port. Zero means 25000 (DefaultWebPort).
	Port int
	// TLS, when not nil, makes the requests HTTPS with this configuration
	// (Impala's --webserver_certificate_file). Nil means plain HTTP, unless
	// TLSHandshake is set.
	TLS *tls.Config
	// TLSHandshake, when not nil, makes the requests HTTPS and runs each
	// connection's handshake (for example tlsconf.Client.HandshakeConn,
	// which checks the certificate against a fixed name or the host) in
	// place of TLS.
	TLSHandshake func(ctx context.Context, raw net.Conn, addr string) (net.Conn, error)
	// User and Password answer a web server that asks for Basic
	// authentication. Empty User means none: such a web server's 401 is
	// an error.
	User string
	// Password is User's password, secret.New(pw): it prints redacted
	// under every verb and is revealed only into the Authorization
	// header. The zero Value is an empty password.
	Password secret.Value
	// BasicInClear lets User and Password go over plain HTTP (Impala
	// refuses that too unless --webserver_ldap_passwords_in_clear_ok).
	// False means a Basic challenge over plain HTTP is an error and the
	// password is not sent.
	BasicInClear bool
	// Negotiate, when not nil, wraps ImpalaWeb's HTTP client (with its TLS)
	// into one that answers a "WWW-Authenticate: Negotiate" challenge
	// (SPNEGO, RFC 4559): package kerberos's Client.SPNEGO. Nil means such
	// a challenge is an error.
	Negotiate func(*http.Client) HTTPDoer

	once   sync.Once
	client *http.Client
	tr     *http.Transport
	doer   HTTPDoer

	mu   sync.Mutex        // guards the fields below
	urls map[string]string // coordinator host → its web server's host:port, from /backends
	last string            // the web server (host:port) that answered /backends last
	// basic holds the web servers that asked for Basic credentials: they
	// get them with the first request from then on.
	basic map[string]bool
}

// HTTPDoer sends an HTTP request: an *http.Client, or one that
// authenticates (see [ImpalaWeb.Negotiate]).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// ErrBasicInClear is the error of a web server that asks for Basic
// authentication over plain HTTP, unless [ImpalaWeb.BasicInClear].
var ErrBasicInClear = errors.New("balancer: web server asks for Basic authentication over plain HTTP; the password is not sent (use TLS, or BasicInClear)")

// WebError is an answer of a web server that is not 200 OK.
type WebError struct {
	// URL is the request's URL (it never holds credentials).
	URL string
	// Status is the HTTP status line.
	Status string
	// Body is the start of the answer's body.
	Body string
}

// Error implements error.
func (e *WebError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("balancer: GET %s: %s", e.URL, e.Status)
	}
	return fmt.Sprintf("balancer: GET %s: %s: %s", e.URL, e.Status, e.Body)
}

// String describes the web client without its password: its scheme,
// port and user.
func (w *ImpalaWeb) String() string {
	s := fmt.Sprintf("balancer.ImpalaWeb{%s, port %d", w.scheme(), w.port())
	if w.User != "" {
		s += ", Basic user " + strconv.Quote(w.User)
		if !w.Password.IsZero() {
			s += " (password set)"
		}
	}
	if w.Negotiate != nil {
		s += ", Negotiate"
	}
	return s + "}"
}

// GoString is String, so that %#v does not show the password either.
func (w *ImpalaWeb) GoString() string { return w.String() }

func (w *ImpalaWeb) port() int {
	if w.Port == 0 {
		return DefaultWebPort
	}
	return w.Port
}

func (w *ImpalaWeb) secure() bool { return w.TLS != nil || w.TLSHandshake != nil }

func (w *ImpalaWeb) scheme() string {
	if w.secure() {
		return "https"
	}
	return "http"
}

// init builds the HTTP client once.
func (w *ImpalaWeb) init() {
	w.once.Do(func() {
		w.tr = &http.Transport{
			Proxy:               nil, // the cluster's own web servers: never through a proxy
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		}
		if w.TLS != nil {
			w.tr.TLSClientConfig = w.TLS.Clone()
		}
		if hs := w.TLSHandshake; hs != nil {
			var d net.Dialer
			w.tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				raw, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				c, err := hs(ctx, raw, addr)
				if err != nil {
					raw.Close()
					return nil, err
				}
				return c, nil
			}
		}
		w.client = &http.Client{Transport: w.tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // never follow a redirect elsewhere with credentials
		}}
		w.doer = w.client
		if w.Negotiate != nil {
			w.doer = w.Negotiate(w.client)
		}
	})
}

// CloseIdleConnections closes the kept-alive connections; the pool calls
// it in Close.
func (w *ImpalaWeb) CloseIdleConnections() {
	w.init()
	w.tr.CloseIdleConnections()
}

// get fetches path from the web server at hostport and returns the body of
// a 200 answer.
func (w *ImpalaWeb) get(ctx context.Context, hostport, path string) ([]byte, error) {
	w.init()
	u := w.scheme() + "://" + hostport + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("balancer: web server %s: %w", hostport, err)
	}
	w.mu.Lock()
	asked := w.basic[hostport]
	w.mu.Unlock()
	if asked {
		req.SetBasicAuth(w.User, w.Password.Reveal())
	}
	resp, err := w.doer.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && asksBasic(resp) && !asked {
		drain(resp)
		switch {
		case w.User == "":
			return nil, &WebError{URL: u, Status: resp.Status + " (Basic authentication asked; no user configured)"}
		case !w.secure() && !w.BasicInClear:
			return nil, fmt.Errorf("%w: %s", ErrBasicInClear, u)
		}
		w.mu.Lock()
		if w.basic == nil {
			w.basic = map[string]bool{}
		}
		w.basic[hostport] = true
		w.mu.Unlock()
		req = req.Clone(ctx)
		req.SetBasicAuth(w.User, w.Password.Reveal())
		if resp, err = w.doer.Do(req); err != nil {
			return nil, err
		}
	}
	defer drain(resp)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWebBody+1))
	if err != nil {
		return nil, fmt.Errorf("balancer: GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body[:min(len(body), 200)]))
		return nil, &WebError{URL: u, Status: resp.Status, Body: msg}
	}
	if len(body) > maxWebBody {
		return nil, fmt.Errorf("balancer: GET %s: answer larger than %d bytes", u, maxWebBody)
	}
	return body, nil
}

func asksBasic(resp *http.Response) bool {
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Basic") {
			return true
		}
	}
	return false
}

// drain reads what is left of a response's body (up to 64 KiB), so that
// its connection can be reused, and closes it. A read error only means
// the connection is not reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// webServerOf returns the web server (host:port) of the coordinator at
// addr: the one /backends listed for its host, else its host on Port.
func (w *ImpalaWeb) webServerOf(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("balancer: coordinator address %q: %w", addr, err)
	}
	w.mu.Lock()
	hp, ok := w.urls[host]
	w.mu.Unlock()
	if ok {
		return hp, nil
	}
	return net.JoinHostPort(host, strconv.Itoa(w.port())), nil
}

// candidates returns the web servers a membership poll asks, in order:
// the one that answered last, those /backends listed, then the current
// members' hosts on Port.
func (w *ImpalaWeb) candidates(current []string) []string {
	var out []string
	add := func(hp string) {
		if hp != "" && !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	w.mu.Lock()
	add(w.last)
	known := make([]string, 0, len(w.urls))
	for _, hp := range w.urls {
		known = append(known, hp)
	}
	w.mu.Unlock()
	slices.Sort(known)
	for _, hp := range known {
		add(hp)
	}
	for _, a := range current {
		if host, _, err := net.SplitHostPort(a); err == nil {
			add(net.JoinHostPort(host, strconv.Itoa(w.port())))
		}
	}
	return out
}

// learn records the web servers of a /backends answer and who gave it.
func (w *ImpalaWeb) learn(from string, urls map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = from
	w.urls = urls
}

// ImpalaMembership is a [Discoverer] that reads the cluster's membership
// from any reachable coordinator's web server: /backends?json lists every
// backend of the cluster (be/src/service/impala-http-handler.cc,
// BackendsHandler) with its address, whether it is a coordinator, whether
// it is quiescing (shutting down gracefully) and its web server's URL.
// Its coordinators are members; the quiescing ones are drained until they
// leave the list. The list holds no HS2 port, so each coordinator's host
// is used with Port.
//
// It asks, in turn (at most 5 per poll, each within the poll's timeout):
// the web server that answered last, the web servers the last answer
// listed, and the pool's members' hosts on [ImpalaWeb.Port].
type ImpalaMembership struct {
	// Web reaches the web servers. Nil means a zero ImpalaWeb (plain HTTP,
	// port 25000).
	Web *ImpalaWeb
	// Port is every coordinator's HS2 (or beeswax) port. Required.
	Port int

	zero ImpalaWeb
}

var _ Discoverer = (*ImpalaMembership)(nil)

func (m *ImpalaMembership) web() *ImpalaWeb {
	if m.Web != nil {
		return m.Web
	}
	return &m.zero
}

// Discover asks a web server for /backends?json.
func (m *ImpalaMembership) Discover(ctx context.Context, current []string) ([]Member, error) {
	if m.Port < 1 || m.Port > 65535 {
		return nil, errors.New("balancer: ImpalaMembership needs a Port from 1 to 65535")
	}
	w := m.web()
	cands := w.candidates(current)
	if len(cands) == 0 {
		return nil, errors.New("balancer: no web server to ask for the membership (no member yet)")
	}
	cands = cands[:min(len(cands), maxWebTries)]
	var errs []error
	for i, hp := range cands {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok && i < len(cands)-1 {
			// Leave the others half of what is left.
			actx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		}
		body, err := w.get(actx, hp, "/backends?json")
		cancel()
		if err == nil {
			var urls map[string]string
			var ms []Member
			if ms, urls, err = parseBackends(body, m.Port); err == nil {
				w.learn(hp, urls)
				return ms, nil
			}
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// String names the source: "impala membership port PORT".
func (m *ImpalaMembership) String() string {
	return fmt.Sprintf("impala membership (%s web servers, port %d) port %d", m.web().scheme(), m.web().port(), m.Port)
}

// CloseIdleConnections closes the web client's idle connections.
func (m *ImpalaMembership) CloseIdleConnections() { m.web().CloseIdleConnections() }

// backendsDoc is the part of /backends?json that membership reads.
type backendsDoc struct {
	Backends *[]struct {
		Address       string `json:"address"`
		WebserverURL  string `json:"webserver_url"`
		IsCoordinator bool   `json:"is_coordinator"`
		IsQuiescing   bool   `json:"is_quiescing"`
	} `json:"backends"`
}

// parseBackends reads a /backends?json answer: the coordinators, as
// members on port, and the web server (host:port) of each backend host.
func parseBackends(body []byte, port int) ([]Member, map[string]string, error) {
	var doc backendsDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("balancer: /backends?json: %w", err)
	}
	if doc.Backends == nil {
		return nil, nil, errors.New("balancer: /backends?json: no \"backends\" list")
	}
	var ms []Member
	urls := map[string]string{}
	p := strconv.Itoa(port)
	for i, b := range *doc.Backends {
		// NetworkAddressPBToString writes hostname:port, an IPv6 address
		// without brackets.
		host := ""
		if j := strings.LastIndexByte(b.Address, ':'); j > 0 {
			host = strings.TrimSuffix(strings.TrimPrefix(b.Address[:j], "["), "]")
		}
		if host == "" || strings.ContainsAny(host, "/[]@ ") {
			return nil, nil, fmt.Errorf("balancer: /backends?json: backend %d: address %.80q is not host:port", i, b.Address)
		}
		if u, err := url.Parse(b.WebserverURL); err == nil && u.Host != "" {
			hp := u.Host
			if wh, wp, err := net.SplitHostPort(hp); err == nil {
				if ip := net.ParseIP(wh); ip != nil && ip.IsUnspecified() {
					hp = net.JoinHostPort(host, wp) // a web server on every interface
				}
			}
			urls[host] = hp
		}
		if b.IsCoordinator {
			ms = append(ms, Member{Addr: net.JoinHostPort(host, p), Quiescing: b.IsQuiescing})
		}
	}
	if len(ms) == 0 {
		return nil, nil, errors.New("balancer: /backends?json lists no coordinator")
	}
	return ms, urls, nil
}
