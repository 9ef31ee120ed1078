package kerberos

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"

	"github.com/impalalb/impalalb/conn/sasl"
)

// AcceptorConfig configures an [Acceptor], the server side of SASL GSSAPI
// (used by the test coordinator).
type AcceptorConfig struct {
	// Keytab is the service's keytab. Nil means KeytabPath is loaded.
	Keytab *keytab.Keytab
	// KeytabPath is the path of the keytab, used when Keytab is nil.
	KeytabPath string
	// QOP is the set of security layers offered. Zero means QOPAuth only;
	// QOPAuthConf alone makes encryption mandatory.
	QOP QOP
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
	cfg AcceptorConfig
	kt  *keytab.Keytab
	log *slog.Logger
}

// NewAcceptor checks cfg and loads the keytab.
func NewAcceptor(cfg AcceptorConfig) (*Acceptor, error) {
	kt := cfg.Keytab
	if kt == nil {
		if cfg.KeytabPath == "" {
			return nil, errors.New("kerberos: AcceptorConfig needs Keytab or KeytabPath")
		}
		var err error
		kt, err = keytab.Load(cfg.KeytabPath)
		if err != nil {
			return nil, fmt.Errorf("kerberos: loading keytab %s: %w", cfg.KeytabPath, err)
		}
	}
	if cfg.QOP == 0 {
		cfg.QOP = QOPAuth
	}
	if cfg.QOP&^(QOPAuth|QOPAuthInt|QOPAuthConf) != 0 {
		return nil, fmt.Errorf("kerberos: AcceptorConfig.QOP %#x has unknown bits", byte(cfg.QOP))
	}
	if cfg.MaxReceiveSize < 0 || cfg.MaxReceiveSize > defaultMaxReceive {
		return nil, fmt.Errorf("kerberos: AcceptorConfig.MaxReceiveSize %d out of range", cfg.MaxReceiveSize)
	}
	if cfg.MaxReceiveSize == 0 {
		cfg.MaxReceiveSize = defaultMaxReceive
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
func (a *Acceptor) NewMechanism() *ServerMechanism {
	return &ServerMechanism{a: a}
}

// Factory returns a [sasl.ServerMechanismFactory] for the test coordinator.
func (a *Acceptor) Factory() sasl.ServerMechanismFactory {
	return func() sasl.ServerMechanism { return a.NewMechanism() }
}

// ServerMechanism is the acceptor side of one SASL GSSAPI handshake. It
// implements [sasl.ServerMechanism] and, once the handshake is done,
// [sasl.SecurityLayer].
type ServerMechanism struct {
	a     *Acceptor
	state int // 0 new, 1 AP-REP sent, 2 offer sent, 3 done

	user    string
	spn     string
	sec     *secContext
	qop     QOP
	peerMax int
}

var (
	_ sasl.ServerMechanism = (*ServerMechanism)(nil)
	_ sasl.SecurityLayer   = (*ServerMechanism)(nil)
)

// Name is "GSSAPI".
func (s *ServerMechanism) Name() string { return "GSSAPI" }

// User is the authenticated client principal, name@REALM (valid once Step
// reported done).
func (s *ServerMechanism) User() string {
	if s.state != 3 {
		return ""
	}
	return s.user
}

// ServicePrincipal is the principal the client's ticket was for (valid
// after the first Step).
func (s *ServerMechanism) ServicePrincipal() string { return s.spn }

// QOP is the negotiated security layer (zero before the handshake ends).
func (s *ServerMechanism) QOP() QOP { return s.qop }

// Step accepts the AP-REQ and answers with an AP-REP, then offers the
// security layers, then checks the client's choice.
func (s *ServerMechanism) Step(response []byte) ([]byte, bool, error) {
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
			return nil, false, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: errors.New("expected an empty response after the AP-REP")}
		}
		size := 0
		if s.a.cfg.QOP != QOPAuth {
			size = s.a.cfg.MaxReceiveSize
		}
		tok, err := s.sec.wrap(layerMessage(s.a.cfg.QOP, size, ""), false)
		if err != nil {
			return nil, false, &Error{Op: "security layer", Principal: s.spn, Err: err}
		}
		s.state = 2
		return tok, false, nil
	case 2:
		p, _, err := s.sec.unwrap(response)
		if err != nil {
			return nil, false, &Error{Op: "security layer", Principal: s.spn, Reason: ErrProtocol, Err: err}
		}
		chosen, max, authz, err := parseLayerMessage(p)
		if err != nil {
			return nil, false, &Error{Op: "security layer", Principal: s.spn, Reason: ErrProtocol, Err: err}
		}
		if chosen != QOPAuth && chosen != QOPAuthInt && chosen != QOPAuthConf || s.a.cfg.QOP&chosen == 0 {
			return nil, false, &Error{Op: "security layer", Principal: s.spn, Reason: ErrProtocol,
				Err: fmt.Errorf("client chose layer %v, server offers %s", chosen, layerNames(s.a.cfg.QOP))}
		}
		if authz != "" && authz != s.user && authz != strings.SplitN(s.user, "@", 2)[0] {
			return nil, false, &Error{Op: "security layer", Principal: s.spn, Reason: ErrProtocol,
				Err: fmt.Errorf("%s may not act as %q", s.user, authz)}
		}
		s.qop, s.peerMax, s.state = chosen, max, 3
		s.a.log.Debug("kerberos: GSSAPI accepted", "principal", s.spn, "user", s.user, "qop", chosen.String())
		return nil, true, nil
	}
	return nil, false, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: fmt.Errorf("unexpected response in state %d", s.state)}
}

func (s *ServerMechanism) accept(tok []byte) ([]byte, error) {
	id, msg, err := unframeToken(tok)
	if err != nil {
		return nil, &Error{Op: "accept", Reason: ErrProtocol, Err: err}
	}
	if id != tokAPReq {
		return nil, &Error{Op: "accept", Reason: ErrProtocol, Err: fmt.Errorf("expected an AP-REQ token, got id %x", id)}
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, &Error{Op: "accept", Reason: ErrProtocol, Err: err}
	}
	s.spn = req.Ticket.SName.PrincipalNameString() + "@" + req.Ticket.Realm
	if !s.a.holds(s.spn) {
		return nil, &Error{Op: "accept", Principal: s.spn, Reason: ErrNotInKeytab,
			Err: fmt.Errorf("keytab holds %s", strings.Join(s.a.Principals(), ", "))}
	}
	// gokrb5 slices ciphertexts without checking their length.
	if err := checkCipher(req.Ticket.EncPart.Cipher, req.Ticket.EncPart.EType); err != nil {
		return nil, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: fmt.Errorf("ticket: %w", err)}
	}
	if len(req.EncryptedAuthenticator.Cipher) < minAuthenticatorCipher {
		return nil, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: errors.New("authenticator too short")}
	}
	settings := service.NewSettings(s.a.kt, service.MaxClockSkew(s.a.cfg.MaxClockSkew), service.DecodePAC(false))
	ok, creds, err := service.VerifyAPREQ(&req, settings)
	if err != nil || !ok {
		if err == nil {
			err = errors.New("AP-REQ not valid")
		}
		return nil, newError("accept", s.spn, nil, err)
	}
	auth := req.Authenticator
	if auth.Cksum.CksumType != chksumtype.GSSAPI || len(auth.Cksum.Checksum) < 24 {
		return nil, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: errors.New("authenticator lacks the GSS-API checksum")}
	}
	s.user = creds.CName().PrincipalNameString() + "@" + creds.Domain()
	sessionKey := req.Ticket.DecryptedEncPart.Key
	base := sessionKey
	if auth.SubKey.KeyType != 0 {
		base = auth.SubKey
	}
	subkey, err := randomKey(base.KeyType, len(base.KeyValue))
	if err != nil {
		return nil, &Error{Op: "accept", Principal: s.spn, Err: err}
	}
	seq, err := random30()
	if err != nil {
		return nil, &Error{Op: "accept", Principal: s.spn, Err: err}
	}
	rep, err := newAPRepToken(sessionKey, auth, subkey, seq)
	if err != nil {
		return nil, &Error{Op: "accept", Principal: s.spn, Err: err}
	}
	s.sec, err = newSecContext(false, subkey, true, uint64(seq), uint64(auth.SeqNumber))
	if err != nil {
		return nil, &Error{Op: "accept", Principal: s.spn, Reason: ErrProtocol, Err: err}
	}
	return rep, nil
}

// MaxWrapSize is the largest wrapped message the client accepts (zero when
// no security layer was negotiated).
func (s *ServerMechanism) MaxWrapSize() int { return s.peerMax }

// Active reports whether data frames must be wrapped.
func (s *ServerMechanism) Active() bool { return s.state == 3 && s.qop != QOPAuth }

// Wrap protects one outgoing data frame.
func (s *ServerMechanism) Wrap(p []byte) ([]byte, error) {
	if !s.Active() {
		return nil, &Error{Op: "wrap", Principal: s.spn, Err: errors.New("no security layer negotiated")}
	}
	b, err := s.sec.wrap(p, s.qop == QOPAuthConf)
	if err != nil {
		return nil, &Error{Op: "wrap", Principal: s.spn, Err: err}
	}
	return b, nil
}

// Unwrap checks (and for auth-conf decrypts) one incoming data frame.
func (s *ServerMechanism) Unwrap(p []byte) ([]byte, error) {
	if !s.Active() {
		return nil, &Error{Op: "unwrap", Principal: s.spn, Err: errors.New("no security layer negotiated")}
	}
	b, sealed, err := s.sec.unwrap(p)
	if err != nil {
		return nil, &Error{Op: "unwrap", Principal: s.spn, Reason: ErrProtocol, Err: err}
	}
	if s.qop == QOPAuthConf && !sealed {
		return nil, &Error{Op: "unwrap", Principal: s.spn, Reason: ErrProtocol, Err: errors.New("auth-conf negotiated but the frame is not encrypted")}
	}
	return b, nil
}
