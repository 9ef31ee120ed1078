package kerberos

import (
	"context"
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/gss"
)

// Mechanism is the client side of SASL GSSAPI (RFC 4752) for one
// handshake. It implements [sasl.Mechanism] and [sasl.SecurityLayer]. Start
// and Step are called from the dialing goroutine; after the handshake Wrap
// and Unwrap may be called concurrently with each other.
type Mechanism struct {
	c     *Client
	state int // 0 new, 1 AP-REQ sent, 2 context established, 3 done

	spn     string
	tkt     *ticket
	auth    sealed[types.Authenticator] // holds the client's subkey
	sec     sealed[*gss.SecContext]
	qop     QOP
	peerMax int
}

var (
	_ sasl.Mechanism     = (*Mechanism)(nil)
	_ sasl.SecurityLayer = (*Mechanism)(nil)
)

// Name is "GSSAPI".
func (m *Mechanism) Name() string { return "GSSAPI" }

// ServicePrincipal is the principal this handshake asked a ticket for
// (empty before Start).
func (m *Mechanism) ServicePrincipal() string { return m.spn }

// Start gets a service ticket for ServiceName/<HostFQDN or host>@REALM
// (cached, or from the KDC within ctx) and returns the initial context
// token: an AP-REQ asking for mutual authentication.
func (m *Mechanism) Start(ctx context.Context, host string) ([]byte, error) {
	if m.state != 0 {
		return nil, errors.New("kerberos: Mechanism.Start called twice")
	}
	spn, t, tok, auth, err := m.c.apReq(ctx, m.c.cfg.ServiceName, host)
	m.spn = spn
	if err != nil {
		return nil, err
	}
	m.tkt, m.auth, m.state = t, seal(auth), 1
	return tok, nil
}

// apReq gets a service ticket for service/<HostFQDN or host>@REALM
// (cached, or from the KDC within ctx) and makes the Kerberos initial
// context token for it: an AP-REQ asking for mutual authentication. spn is
// the service principal, also when it fails. The SASL mechanism and both
// SPNEGO uses (spnego.go) make their tokens here.
func (c *Client) apReq(ctx context.Context, service, host string) (spn string, t *ticket, tok []byte, auth types.Authenticator, err error) {
	sname, realm := c.servicePrincipal(service, host)
	spn = sname.PrincipalNameString() + "@" + realm
	if sname.NameString[1] == "" {
		return spn, nil, nil, auth, &Error{Op: "initiate", Principal: spn, Err: errors.New("no host name to build the service principal (set HostFQDN)")}
	}
	t, err = c.serviceTicket(ctx, sname, realm)
	if err != nil {
		var inner *Error
		if errors.As(err, &inner) && inner.Principal != spn {
			// Say which service the failed login was for.
			return spn, nil, nil, auth, &Error{Op: "service ticket", Principal: spn, Reason: inner.Reason, Err: inner}
		}
		return spn, nil, nil, auth, newError("service ticket", spn, nil, err)
	}
	tok, auth, err = gss.NewAPReqToken(c.cname, c.crealm, t.sec.get().svc)
	if err != nil {
		return spn, nil, nil, auth, newError("initiate", spn, nil, err)
	}
	return spn, t, tok, auth, nil
}

// Step verifies the server's AP-REP (mutual authentication), then answers
// the security-layer offer with the first layer of Config.QOP the server
// offers.
func (m *Mechanism) Step(_ context.Context, challenge []byte) ([]byte, bool, error) {
	switch m.state {
	case 1:
		if err := m.acceptAPRep(challenge); err != nil {
			return nil, false, err
		}
		m.state = 2
		return []byte{}, false, nil
	case 2:
		resp, err := m.negotiate(challenge)
		if err != nil {
			return nil, false, err
		}
		m.state = 3
		return resp, true, nil
	}
	return nil, false, &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: fmt.Errorf("unexpected challenge in state %d", m.state)}
}

func (m *Mechanism) acceptAPRep(tok []byte) error {
	if len(tok) == 0 {
		return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: errors.New("server sent no AP-REP: mutual authentication not done")}
	}
	id, msg, err := gss.UnframeToken(tok)
	if err != nil {
		return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	switch id {
	case gss.TokKRBError:
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: err}
		}
		return newError("initiate", m.spn, nil, fmt.Errorf("server refused the ticket: %w", ke))
	case gss.TokAPRep:
	default:
		return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: fmt.Errorf("unexpected token id %x", id)}
	}
	ts, auth := m.tkt.sec.get(), m.auth.get()
	part, err := gss.VerifyAPRep(msg, ts.svc, auth)
	if err != nil {
		return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	key, subkey := ts.key, false
	if part.Subkey.KeyType != 0 {
		key, subkey = part.Subkey, true
	} else if auth.SubKey.KeyType != 0 {
		key = auth.SubKey
	}
	sec, err := gss.NewSecContext(true, key, subkey, uint64(auth.SeqNumber), uint64(part.SequenceNumber))
	if err != nil {
		return &Error{Op: "initiate", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	m.sec = seal(sec)
	return nil
}

func (m *Mechanism) negotiate(challenge []byte) ([]byte, error) {
	p, _, err := m.sec.get().Unwrap(challenge)
	if err != nil {
		return nil, &Error{Op: "security layer", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	layers, max, _, err := gss.ParseLayerMessage(p)
	if err != nil {
		return nil, &Error{Op: "security layer", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	offered := QOP(layers)
	var chosen QOP
	for _, q := range m.c.cfg.QOP {
		if offered&q != 0 {
			chosen = q
			break
		}
	}
	if chosen == 0 {
		return nil, &Error{Op: "security layer", Principal: m.spn, Reason: ErrProtocol,
			Err: fmt.Errorf("server offers layers %s, client accepts %v", offered, m.c.cfg.QOP)}
	}
	size := 0
	if chosen != QOPAuth {
		size = m.c.cfg.MaxReceiveSize
	}
	resp, err := m.sec.get().Wrap(gss.LayerMessage(byte(chosen), size, ""), false)
	if err != nil {
		return nil, &Error{Op: "security layer", Principal: m.spn, Err: err}
	}
	m.qop, m.peerMax = chosen, max
	return resp, nil
}

// QOP is the negotiated security layer (zero before the handshake ends).
func (m *Mechanism) QOP() QOP { return m.qop }

// MaxWrapSize is the largest wrapped message the server accepts (zero when
// no security layer was negotiated).
func (m *Mechanism) MaxWrapSize() int { return m.peerMax }

// Active reports whether data frames must be wrapped (auth-int or
// auth-conf negotiated).
func (m *Mechanism) Active() bool { return m.state == 3 && m.qop != QOPAuth }

// Wrap protects one outgoing data frame: a checksum for auth-int, also
// encryption for auth-conf.
func (m *Mechanism) Wrap(p []byte) ([]byte, error) {
	if !m.Active() {
		return nil, &Error{Op: "wrap", Principal: m.spn, Err: errors.New("no security layer negotiated")}
	}
	b, err := m.sec.get().Wrap(p, m.qop == QOPAuthConf)
	if err != nil {
		return nil, &Error{Op: "wrap", Principal: m.spn, Err: err}
	}
	return b, nil
}

// Unwrap checks (and for auth-conf decrypts) one incoming data frame.
func (m *Mechanism) Unwrap(p []byte) ([]byte, error) {
	if !m.Active() {
		return nil, &Error{Op: "unwrap", Principal: m.spn, Err: errors.New("no security layer negotiated")}
	}
	b, sealed, err := m.sec.get().Unwrap(p)
	if err != nil {
		return nil, &Error{Op: "unwrap", Principal: m.spn, Reason: ErrProtocol, Err: err}
	}
	if m.qop == QOPAuthConf && !sealed {
		return nil, &Error{Op: "unwrap", Principal: m.spn, Reason: ErrProtocol, Err: errors.New("auth-conf negotiated but the frame is not encrypted")}
	}
	return b, nil
}
