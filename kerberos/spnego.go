package kerberos

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// HTTPServiceName is the service part of a web server's principal
// (HTTP/host@REALM), as Impala's web server uses with
// --webserver_require_spnego.
const HTTPServiceName = "HTTP"

// SPNEGOClient sends HTTP requests that answer a web server's
// "WWW-Authenticate: Negotiate" challenge (SPNEGO, RFC 4559) with a
// Kerberos service ticket, through gokrb5's SPNEGO HTTP client. It is safe
// for concurrent use.
type SPNEGOClient struct {
	c    *Client
	base *http.Client
}

// SPNEGO returns a client that sends requests with base (its transport and
// TLS; nil means a plain http.Client) and, when a web server asks with a
// 401 "WWW-Authenticate: Negotiate", sends them again with a service
// ticket for HTTP/<host>@REALM: host is Config.HostFQDN when set (the load
// balancer's name, as for the SASL handshakes), else the URL's host,
// lower-cased; the realm as for the SASL handshakes. A web server that does
// not ask gets no ticket. The login is the Client's (keytab, password or
// credential cache).
func (c *Client) SPNEGO(base *http.Client) *SPNEGOClient {
	if base == nil {
		base = &http.Client{}
	}
	return &SPNEGOClient{c: c, base: base}
}

// Do sends req as described at [Client.SPNEGO].
func (s *SPNEGOClient) Do(req *http.Request) (*http.Response, error) {
	gk, err := s.c.gokrbClient()
	if err != nil {
		return nil, err
	}
	name, realm := s.c.servicePrincipal(req.URL.Hostname())
	name.NameString[0] = HTTPServiceName
	if name.NameString[1] == "" {
		return nil, &Error{Op: "spnego", Principal: name.PrincipalNameString() + "@" + realm, Err: errors.New("no host name to build the service principal (set HostFQDN)")}
	}
	// spnego.NewClient sets a cookie jar and a redirect check on the
	// client it is given: give it a copy per request.
	hc := *s.base
	hc.Jar = nil
	resp, err := spnego.NewClient(gk, &hc, name.PrincipalNameString()).Do(req)
	if err != nil {
		return nil, newError("spnego", name.PrincipalNameString()+"@"+realm, nil, err)
	}
	return resp, nil
}

// spnegoLogin is the gokrb5 client SPNEGO uses: the Client's own for a
// keytab or password login (gokrb5 logs in on first use), one loaded from
// the credential cache otherwise.
type spnegoLogin struct {
	once sync.Once
	gk   *client.Client
	err  error
}

func (c *Client) gokrbClient() (*client.Client, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c.method != loginCCache {
		return c.gk, nil
	}
	l := &c.spnego
	l.once.Do(func() {
		cc, err := credentials.LoadCCache(c.cfg.CCache)
		if err != nil {
			l.err = newError("login", c.cfg.Principal, ErrExpired, fmt.Errorf("reading credential cache %s (run kinit): %w", c.cfg.CCache, err))
			return
		}
		l.gk, l.err = client.NewFromCCache(cc, c.krb, client.DisablePAFXFAST(true))
		if l.err != nil {
			l.err = newError("login", strings.TrimSpace(c.cfg.Principal), ErrExpired, l.err)
		}
	})
	return l.gk, l.err
}
