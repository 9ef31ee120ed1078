package krbacceptor

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/gss"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/kerberos"
)

// ErrNotInKeytab is the reason (kerberos.Error.Reason) of a refusal when
// the keytab holds no key for the service principal the client's ticket
// is for.
var ErrNotInKeytab = errors.New("service principal not in the acceptor's keytab")

// Config configures an [Acceptor]. Its zero value is not usable: it needs a
// keytab.
type Config struct {
	// Keytab is the service's keytab. Nil means KeytabPath is loaded.
	Keytab *keytab.Keytab
	// KeytabPath is the path of the keytab, used when Keytab is nil.
	KeytabPath string
	// QOP is the set of security layers offered. Zero means
	// kerberos.QOPAuth only; kerberos.QOPAuthConf alone makes encryption
	// mandatory.
	QOP kerberos.QOP
	// MaxReceiveSize is the largest wrapped message the server accepts.
	// Zero means 2^24-1.
	MaxReceiveSize int
	// MaxClockSkew is the tolerated clock difference. Zero means 5 minutes.
	MaxClockSkew time.Duration
	// Logger receives accept and refusal events. Nil means no logging.
	Logger *slog.Logger
}

// minAuthenticatorCipher bounds the encrypted authenticator from below: a
// confounder and the longest HMAC of the AES types.
const minAuthenticatorCipher = 16 + 24

// Acceptor accepts SASL GSSAPI handshakes for the principals of its keytab.
// It is safe for concurrent use; each handshake gets its own
// [ServerMechanism].
type Acceptor struct {
	cfg Config
	kt  *keytab.Keytab
	log *slog.Logger
}

// New checks cfg and loads the keytab.
func New(cfg Config) (*Acceptor, error) {
	kt := cfg.Keytab
	if kt == nil {
		if cfg.KeytabPath == "" {
			return nil, errors.New("krbacceptor: Config needs Keytab or KeytabPath")
		}
		var err error
		kt, err = keytab.Load(cfg.KeytabPath)
		if err != nil {
			return nil, fmt.Errorf("krbacceptor: loading keytab %s: %w", cfg.KeytabPath, err)
		}
	}
	if cfg.QOP == 0 {
		cfg.QOP = kerberos.QOPAuth
	}
	if cfg.QOP&^(kerberos.QOPAuth|kerberos.QOPAuthInt|kerberos.QOPAuthConf) != 0 {
		return nil, fmt.Errorf("krbacceptor: Config.QOP %#x has unknown bits", byte(cfg.QOP))
	}
	if cfg.MaxReceiveSize < 0 || cfg.MaxReceiveSize > gss.MaxLayerSize {
		return nil, fmt.Errorf("krbacceptor: Config.MaxReceiveSize %d out of range", cfg.MaxReceiveSize)
	}
	if cfg.MaxReceiveSize == 0 {
		cfg.MaxReceiveSize = gss.MaxLayerSize
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = 5 * time.Minute
	}
	a := &Acceptor{cfg: cfg, kt: kt, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Principals lists the principals (name@REALM) the keytab holds keys for.
func (a *Acceptor) Principals() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range a.kt.Entries {
		p := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func (a *Acceptor) holds(p string) bool {
	for _, e := range a.kt.Entries {
		if strings.Join(e.Principal.Components, "/")+"@"+e.Principal.Realm == p {
			return true
		}
	}
	return false
}

// NewMechanism returns the server side of one handshake.
func (a *Acceptor) NewMechanism() *Mechanism {
	return &Mechanism{a: a}
}

// Factory returns a [saslserver.MechanismFactory] for the test coordinator.
func (a *Acceptor) Factory() saslserver.MechanismFactory {
	return func() saslserver.Mechanism { return a.NewMechanism() }
}

// Mechanism is the acceptor side of one SASL GSSAPI handshake. It
// implements [saslserver.Mechanism] and, once the handshake is done,
// [sasl.SecurityLayer]. Its errors are *kerberos.Error values with Op
// "accept", "security layer", "wrap" or "unwrap".
type Mechanism struct {
	a     *Acceptor
	state int // 0 new, 1 AP-REP sent, 2 offer sent, 3 done

	user    string
	spn     string
	sec     *gss.SecContext
	qop     kerberos.QOP
	peerMax int
}

var (
	_ saslserver.Mechanism = (*Mechanism)(nil)
	_ sasl.SecurityLayer   = (*Mechanism)(nil)
)

// Name is "GSSAPI".
func (s *Mechanism) Name() string { return "GSSAPI" }

// User is the authenticated client principal, name@REALM (valid once Step
// reported done).
func (s *Mechanism) User() string {
	if s.state != 3 {
		return ""
	}
	return s.user
}

// ServicePrincipal is the principal the client's ticket was for (valid
// after the first Step).
func (s *Mechanism) ServicePrincipal() string { return s.spn }

// QOP is the negotiated security layer (zero before the handshake ends).
func (s *Mechanism) QOP() kerberos.QOP { return s.qop }

// Step accepts the AP-REQ and answers with an AP-REP, then offers the
// security layers, then checks the client's choice.
func (s *Mechanism) Step(response []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		rep, err := s.accept(response)
		if err != nil {
			s.a.log.Info("kerberos: GSSAPI refused", "principal", s.spn, "error", err)
			return nil, false, err
		}
		s.state = 1
		return rep, false, nil
	case 1:
		if len(response) != 0 {
			return nil, false, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: errors.New("expected an empty response after the AP-REP")}
		}
		size := 0
		if s.a.cfg.QOP != kerberos.QOPAuth {
			size = s.a.cfg.MaxReceiveSize
		}
		tok, err := s.sec.Wrap(gss.LayerMessage(byte(s.a.cfg.QOP), size, ""), false)
		if err != nil {
			return nil, false, &kerberos.Error{Op: "security layer", Principal: s.spn, Err: err}
		}
		s.state = 2
		return tok, false, nil
	case 2:
		p, _, err := s.sec.Unwrap(response)
		if err != nil {
			return nil, false, &kerberos.Error{Op: "security layer", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: err}
		}
		layer, max, authz, err := gss.ParseLayerMessage(p)
		if err != nil {
			return nil, false, &kerberos.Error{Op: "security layer", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: err}
		}
		chosen := kerberos.QOP(layer)
		if chosen != kerberos.QOPAuth && chosen != kerberos.QOPAuthInt && chosen != kerberos.QOPAuthConf || s.a.cfg.QOP&chosen == 0 {
			return nil, false, &kerberos.Error{Op: "security layer", Principal: s.spn, Reason: kerberos.ErrProtocol,
				Err: fmt.Errorf("client chose layer %v, server offers %s", chosen, s.a.cfg.QOP)}
		}
		if authz != "" && authz != s.user && authz != strings.SplitN(s.user, "@", 2)[0] {
			return nil, false, &kerberos.Error{Op: "security layer", Principal: s.spn, Reason: kerberos.ErrProtocol,
				Err: fmt.Errorf("%s may not act as %q", s.user, authz)}
		}
		s.qop, s.peerMax, s.state = chosen, max, 3
		s.a.log.Debug("kerberos: GSSAPI accepted", "principal", s.spn, "user", s.user, "qop", chosen.String())
		return nil, true, nil
	}
	return nil, false, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: fmt.Errorf("unexpected response in state %d", s.state)}
}

func (s *Mechanism) accept(tok []byte) ([]byte, error) {
	id, msg, err := gss.UnframeToken(tok)
	if err != nil {
		return nil, &kerberos.Error{Op: "accept", Reason: kerberos.ErrProtocol, Err: err}
	}
	if id != gss.TokAPReq {
		return nil, &kerberos.Error{Op: "accept", Reason: kerberos.ErrProtocol, Err: fmt.Errorf("expected an AP-REQ token, got id %x", id)}
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, &kerberos.Error{Op: "accept", Reason: kerberos.ErrProtocol, Err: err}
	}
	s.spn = req.Ticket.SName.PrincipalNameString() + "@" + req.Ticket.Realm
	if !s.a.holds(s.spn) {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: ErrNotInKeytab,
			Err: fmt.Errorf("keytab holds %s", strings.Join(s.a.Principals(), ", "))}
	}
	// gokrb5 slices ciphertexts without checking their length.
	if err := gss.CheckCipher(req.Ticket.EncPart.Cipher, req.Ticket.EncPart.EType); err != nil {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: fmt.Errorf("ticket: %w", err)}
	}
	if len(req.EncryptedAuthenticator.Cipher) < minAuthenticatorCipher {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: errors.New("authenticator too short")}
	}
	settings := service.NewSettings(s.a.kt, service.MaxClockSkew(s.a.cfg.MaxClockSkew), service.DecodePAC(false))
	ok, creds, err := service.VerifyAPREQ(&req, settings)
	if err != nil || !ok {
		if err == nil {
			err = errors.New("AP-REQ not valid")
		}
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: gss.Classify(err), Err: err}
	}
	auth := req.Authenticator
	if auth.Cksum.CksumType != chksumtype.GSSAPI || len(auth.Cksum.Checksum) < 24 {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: errors.New("authenticator lacks the GSS-API checksum")}
	}
	s.user = creds.CName().PrincipalNameString() + "@" + creds.Domain()
	sessionKey := req.Ticket.DecryptedEncPart.Key
	base := sessionKey
	if auth.SubKey.KeyType != 0 {
		base = auth.SubKey
	}
	subkey, err := gss.RandomKey(base.KeyType, len(base.KeyValue))
	if err != nil {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Err: err}
	}
	seq, err := gss.Random30()
	if err != nil {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Err: err}
	}
	rep, err := gss.NewAPRepToken(sessionKey, auth, subkey, seq)
	if err != nil {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Err: err}
	}
	s.sec, err = gss.NewSecContext(false, subkey, true, uint64(seq), uint64(auth.SeqNumber))
	if err != nil {
		return nil, &kerberos.Error{Op: "accept", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: err}
	}
	return rep, nil
}

// MaxWrapSize is the largest wrapped message the client accepts (zero when
// no security layer was negotiated).
func (s *Mechanism) MaxWrapSize() int { return s.peerMax }

// Active reports whether data frames must be wrapped.
func (s *Mechanism) Active() bool { return s.state == 3 && s.qop != kerberos.QOPAuth }

// Wrap protects one outgoing data frame.
func (s *Mechanism) Wrap(p []byte) ([]byte, error) {
	if !s.Active() {
		return nil, &kerberos.Error{Op: "wrap", Principal: s.spn, Err: errors.New("no security layer negotiated")}
	}
	b, err := s.sec.Wrap(p, s.qop == kerberos.QOPAuthConf)
	if err != nil {
		return nil, &kerberos.Error{Op: "wrap", Principal: s.spn, Err: err}
	}
	return b, nil
}

// Unwrap checks (and for auth-conf decrypts) one incoming data frame.
func (s *Mechanism) Unwrap(p []byte) ([]byte, error) {
	if !s.Active() {
		return nil, &kerberos.Error{Op: "unwrap", Principal: s.spn, Err: errors.New("no security layer negotiated")}
	}
	b, sealed, err := s.sec.Unwrap(p)
	if err != nil {
		return nil, &kerberos.Error{Op: "unwrap", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: err}
	}
	if s.qop == kerberos.QOPAuthConf && !sealed {
		return nil, &kerberos.Error{Op: "unwrap", Principal: s.spn, Reason: kerberos.ErrProtocol, Err: errors.New("auth-conf negotiated but the frame is not encrypted")}
	}
	return b, nil
}

// Object identifiers of SPNEGO's mechanism list: Kerberos V5, and the one
// Microsoft's implementations announce for it.
var (
	oidKRB5       = gssapi.OIDKRB5.OID()
	oidMSKRB5     = gssapi.OIDMSLegacyKRB5.OID()
	spnegoPrefix  = []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02} // OID 1.3.6.1.5.5.2
	errNoKRB5Mech = errors.New("the SPNEGO token offers no Kerberos V5 mechanism token")
)

// AcceptNegotiate accepts the token of an HTTP "Authorization: Negotiate"
// header (RFC 4559), in one step as a Kerberos AP-REQ with mutual
// authentication allows: a SPNEGO NegTokenInit carrying the Kerberos
// token, or the bare Kerberos token (what pykerberos, under impala-shell
// and impyla, sends). MIT's gss_accept_sec_context, behind Impala's
// SpnegoStep (be/src/rpc/authentication.cc, NegotiateAuth), takes both. It
// returns the client principal (name@REALM) and the token for the answer's
// "WWW-Authenticate: Negotiate": a NegTokenResp with the AP-REP for a
// SPNEGO token, the bare AP-REP otherwise. Errors are *kerberos.Error
// values with Op "accept".
func (a *Acceptor) AcceptNegotiate(tok []byte) (user string, reply []byte, err error) {
	wrapped := isSPNEGO(tok)
	mechTok := tok
	if wrapped {
		var st spnego.SPNEGOToken
		if err := st.Unmarshal(tok); err != nil || !st.Init {
			if err == nil {
				err = errors.New("not a NegTokenInit")
			}
			return "", nil, &kerberos.Error{Op: "accept", Reason: kerberos.ErrProtocol, Err: err}
		}
		ok := false
		for _, m := range st.NegTokenInit.MechTypes {
			ok = ok || m.Equal(oidKRB5) || m.Equal(oidMSKRB5)
		}
		if !ok || len(st.NegTokenInit.MechTokenBytes) == 0 {
			return "", nil, &kerberos.Error{Op: "accept", Reason: kerberos.ErrProtocol, Err: errNoKRB5Mech}
		}
		mechTok = st.NegTokenInit.MechTokenBytes
	}
	m := a.NewMechanism()
	rep, err := m.accept(mechTok)
	if err != nil {
		a.log.Info("kerberos: SPNEGO refused", "principal", m.spn, "error", err)
		return "", nil, err
	}
	if !wrapped {
		return m.user, rep, nil
	}
	resp := spnego.SPNEGOToken{Resp: true, NegTokenResp: spnego.NegTokenResp{
		NegState:      asn1.Enumerated(spnego.NegStateAcceptCompleted),
		SupportedMech: oidKRB5,
		ResponseToken: rep,
	}}
	b, err := resp.Marshal()
	if err != nil {
		return "", nil, &kerberos.Error{Op: "accept", Principal: m.spn, Err: err}
	}
	return m.user, b, nil
}

// isSPNEGO reports whether tok is a GSS-API initial context token of the
// SPNEGO mechanism (rather than of Kerberos V5 directly).
func isSPNEGO(tok []byte) bool {
	if len(tok) < 2 || tok[0] != 0x60 {
		return false
	}
	// Skip the DER length of the [APPLICATION 0] wrapper.
	i := 2
	if tok[1]&0x80 != 0 {
		i += int(tok[1] & 0x7f)
	}
	return len(tok) >= i+len(spnegoPrefix) && string(tok[i:i+len(spnegoPrefix)]) == string(spnegoPrefix)
}
