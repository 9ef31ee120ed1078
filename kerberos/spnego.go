package kerberos

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/impalalb/impalalb/secret"
)

// HTTPServiceName is the service part of a web server's principal
// (HTTP/host@REALM), as Impala's web server uses with
// --webserver_require_spnego.
const HTTPServiceName = "HTTP"

// NegotiateHeader returns the value of an HTTP "Authorization: Negotiate"
// header for the coordinator whose host is host (RFC 4559; Impala's
// hs2-http port takes it, be/src/rpc/authentication.cc NegotiateAuth): a
// SPNEGO NegTokenInit carrying a Kerberos AP-REQ for
// ServiceName/<HostFQDN or host>@REALM, the same principal as the SASL
// mechanism's (impala-shell's hs2-http asks for kerberos_service_name@host
// too) — with HostFQDN set, the load balancer's name, as impala-shell's -b.
// The service ticket comes from the cache or the KDC within ctx. It has the
// signature of conn.HTTPAuth: the value is a secret.Value, revealed only
// where the header is written. Errors are *Error values.
func (c *Client) NegotiateHeader(ctx context.Context, host string) (secret.Value, error) {
	return c.negotiate(ctx, c.cfg.ServiceName, host)
}

// negotiate makes "Negotiate " and the base64 of a SPNEGO NegTokenInit
// carrying an AP-REQ for service/<HostFQDN or host>@REALM: the one way
// both HiveServer2 over HTTP and web servers get their token.
func (c *Client) negotiate(ctx context.Context, service, host string) (secret.Value, error) {
	spn, _, tok, _, err := c.apReq(ctx, service, host)
	if err != nil {
		return secret.Value{}, err
	}
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes:      []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()},
		MechTokenBytes: tok,
	}}
	b, err := st.Marshal()
	if err != nil {
		return secret.Value{}, newError("initiate", spn, ErrProtocol, err)
	}
	return secret.New("Negotiate " + base64.StdEncoding.EncodeToString(b)), nil
}

// SPNEGOClient sends HTTP requests that answer a web server's
// "WWW-Authenticate: Negotiate" challenge (SPNEGO, RFC 4559) with a
// Kerberos service ticket of the Client's. It is safe for concurrent use.
type SPNEGOClient struct {
	c    *Client
	base *http.Client
}

// SPNEGO returns a client that sends requests with base (its transport and
// TLS; nil means a plain http.Client) and, when a web server asks with a
// 401 "WWW-Authenticate: Negotiate", sends them once again with the token
// of [Client.NegotiateHeader] for HTTP/<host>@REALM: host is
// Config.HostFQDN when set (the load balancer's name, as for the SASL
// handshakes), else the URL's host, lower-cased; the realm as for the SASL
// handshakes. A web server that does not ask gets no ticket. The login and
// the ticket cache are the Client's (keytab, password or credential
// cache).
func (c *Client) SPNEGO(base *http.Client) *SPNEGOClient {
	if base == nil {
		base = &http.Client{}
	}
	return &SPNEGOClient{c: c, base: base}
}

// Do sends req as described at [Client.SPNEGO]. A request with a body is
// sent again only when its GetBody can give the body afresh (as
// http.NewRequest sets for in-memory bodies); otherwise the 401 is
// returned as it came.
//
//nolint:gosec // G704: the request, and its retry with a token, go where the caller addressed them
func (s *SPNEGOClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.base.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !asksNegotiate(resp.Header) {
		return resp, err
	}
	again := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		if again.Body, err = req.GetBody(); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	h, err := s.c.negotiate(req.Context(), HTTPServiceName, req.URL.Hostname())
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	// The challenge's body is short (Impala's says "Must authenticate
	// with SPNEGO."): read a little of it so that the connection can be
	// used again.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	again.Header.Set("Authorization", h.Reveal())
	return s.base.Do(again)
}

// asksNegotiate reports whether a WWW-Authenticate header of h names the
// Negotiate scheme.
func asksNegotiate(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		for _, ch := range strings.Split(v, ",") {
			scheme, _, _ := strings.Cut(strings.TrimSpace(ch), " ")
			if strings.EqualFold(scheme, "Negotiate") {
				return true
			}
		}
	}
	return false
}
