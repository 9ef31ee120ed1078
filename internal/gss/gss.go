package gss

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // G505: HMAC-SHA1 is what the aes*-cts-hmac-sha1-96 Kerberos types are (RFC 3962)
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// krb5OID is the DER encoding of the Kerberos V5 mechanism OID
// 1.2.840.113554.1.2.2.
var krb5OID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// Inner token ids of RFC 4121 section 4.1.
var (
	TokAPReq    = [2]byte{0x01, 0x00}
	TokAPRep    = [2]byte{0x02, 0x00}
	TokKRBError = [2]byte{0x03, 0x00}
)

// GSS checksum flags (RFC 4121 section 4.1.1.1).
const (
	gssDelegFlag    = 1
	gssMutualFlag   = 2
	gssReplayFlag   = 4
	gssSequenceFlag = 8
	gssConfFlag     = 16
	gssIntegFlag    = 32
)

// Wrap token flags (RFC 4121 section 4.2.2).
const (
	wrapSentByAcceptor = 0x01
	wrapSealed         = 0x02
	wrapAcceptorSubkey = 0x04
)

// RFC 4121 key usages for Wrap tokens.
const (
	usageAcceptorSeal  = 22
	usageInitiatorSeal = 24
)

// FrameToken wraps an inner token in the RFC 2743 section 3.1 framing:
// [APPLICATION 0] { mech OID, token id, message }.
func FrameToken(id [2]byte, msg []byte) []byte {
	b := make([]byte, 0, len(krb5OID)+2+len(msg))
	b = append(b, krb5OID...)
	b = append(b, id[:]...)
	b = append(b, msg...)
	return asn1tools.AddASNAppTag(b, 0)
}

// UnframeToken parses the RFC 2743 framing and returns the token id and the
// Kerberos message.
func UnframeToken(b []byte) (id [2]byte, msg []byte, err error) {
	if len(b) < 2 || b[0] != 0x60 {
		return id, nil, errors.New("not a GSS-API token")
	}
	n, hdr, err := derLength(b[1:])
	if err != nil {
		return id, nil, err
	}
	inner := b[1+hdr:]
	if n != len(inner) {
		return id, nil, fmt.Errorf("GSS-API token length %d, %d bytes present", n, len(inner))
	}
	if !bytes.HasPrefix(inner, krb5OID) {
		return id, nil, errors.New("GSS-API token is not for the Kerberos V5 mechanism")
	}
	inner = inner[len(krb5OID):]
	if len(inner) < 2 {
		return id, nil, errors.New("GSS-API token too short")
	}
	copy(id[:], inner[:2])
	return id, inner[2:], nil
}

// derLength decodes a DER length; it returns the length and the number of
// bytes it took.
func derLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("truncated DER length")
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k {
		return 0, 0, errors.New("bad DER length")
	}
	n := 0
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	return n, 1 + k, nil
}

// supportedEtype reports whether RFC 4121 per-message tokens are defined
// for the key's encryption type (the AES families).
func supportedEtype(id int32) bool {
	switch id {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
		return true
	}
	return false
}

// Random30 is a random sequence number below 2^30 (as MIT picks them).
func Random30() (int64, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return 0, err
	}
	return n.Int64(), nil
}

// lastCTime is the last authenticator time handed out in this process, in
// microseconds since the epoch. Acceptors (MIT's and gokrb5's) keep replay
// caches keyed by client and authenticator time: two handshakes of the same
// principal within one microsecond would look like a replay, so each gets
// its own microsecond.
var lastCTime atomic.Int64

// uniqueCTime returns now as an authenticator time (seconds and
// microseconds), later than every one returned before.
func uniqueCTime(now time.Time) (time.Time, int) {
	us := now.UnixMicro()
	for {
		last := lastCTime.Load()
		if us <= last {
			us = last + 1
		}
		if lastCTime.CompareAndSwap(last, us) {
			break
		}
	}
	return time.Unix(us/1e6, 0).UTC(), int(us % 1e6)
}

// apReqDER mirrors gokrb5's AP-REQ encoding with the ticket as raw bytes,
// so that a cached ticket is marshalled once, not per handshake.
type apReqDER struct {
	PVNO                   int                 `asn1:"explicit,tag:0"`
	MsgType                int                 `asn1:"explicit,tag:1"`
	APOptions              asn1.BitString      `asn1:"explicit,tag:2"`
	Ticket                 asn1.RawValue       `asn1:"explicit,tag:3"`
	EncryptedAuthenticator types.EncryptedData `asn1:"explicit,tag:4"`
}

// ServiceTicket is a service ticket as a handshake uses it: the
// marshalled ticket and its session key, with the crypto of that key for
// the authenticator and the AP-REP made once per ticket, not per
// handshake. It is immutable.
type ServiceTicket struct {
	DER []byte
	Key types.EncryptionKey
	mc  *msgCrypto
}

// NewServiceTicket prepares tkt, whose session key is key, for repeated
// handshakes.
func NewServiceTicket(tkt messages.Ticket, key types.EncryptionKey) (*ServiceTicket, error) {
	der, err := tkt.Marshal()
	if err != nil {
		return nil, err
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	mc := newMsgCrypto(et, key.KeyValue, keyusage.AP_REQ_AUTHENTICATOR, keyusage.AP_REP_ENCPART)
	return &ServiceTicket{DER: der, Key: key, mc: mc}, nil
}

// NewAPReqToken builds the initial context token for service ticket t,
// requesting mutual authentication, and returns it with the authenticator
// (whose time the AP-REP must echo and whose sequence number starts ours).
func NewAPReqToken(cname types.PrincipalName, crealm string, t *ServiceTicket) ([]byte, types.Authenticator, error) {
	seq, err := Random30()
	if err != nil {
		return nil, types.Authenticator{}, err
	}
	auth := types.Authenticator{AVNO: 5, CRealm: crealm, CName: cname, SeqNumber: seq}
	auth.CTime, auth.Cusec = uniqueCTime(time.Now())
	// RFC 4121 4.1.1: Lgth 16, zero channel bindings, then the flags.
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck[:4], 16)
	binary.LittleEndian.PutUint32(ck[20:24], gssMutualFlag|gssSequenceFlag|gssConfFlag|gssIntegFlag)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	ab, err := auth.Marshal()
	if err != nil {
		return nil, auth, err
	}
	ct, err := t.mc.encrypt(keyusage.AP_REQ_AUTHENTICATOR, ab)
	if err != nil {
		return nil, auth, err
	}
	req := apReqDER{
		PVNO:                   5,
		MsgType:                msgtype.KRB_AP_REQ,
		APOptions:              types.NewKrbFlags(),
		Ticket:                 asn1.RawValue{Class: asn1.ClassContextSpecific, IsCompound: true, Tag: 3, Bytes: t.DER},
		EncryptedAuthenticator: types.EncryptedData{EType: t.Key.KeyType, Cipher: ct},
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := asn1.Marshal(req)
	if err != nil {
		return nil, auth, err
	}
	return FrameToken(TokAPReq, asn1tools.AddASNAppTag(b, asnAppTag.APREQ)), auth, nil
}

// apRep mirrors messages.APRep for marshalling (gokrb5 only unmarshals it).
type apRep struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	EncPart types.EncryptedData `asn1:"explicit,tag:2"`
}

// NewAPRepToken builds the acceptor's reply token: the authenticator's time
// echoed, an acceptor subkey and the acceptor's initial sequence number, all
// encrypted in the ticket's session key.
func NewAPRepToken(sessionKey types.EncryptionKey, auth types.Authenticator, subkey types.EncryptionKey, seq int64) ([]byte, error) {
	part := messages.EncAPRepPart{
		CTime:          auth.CTime.UTC().Truncate(time.Second),
		Cusec:          auth.Cusec,
		Subkey:         subkey,
		SequenceNumber: seq,
	}
	pb, err := asn1.Marshal(part)
	if err != nil {
		return nil, err
	}
	pb = asn1tools.AddASNAppTag(pb, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(pb, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rb, err := asn1.Marshal(apRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return nil, err
	}
	return FrameToken(TokAPRep, asn1tools.AddASNAppTag(rb, asnAppTag.APREP)), nil
}

// VerifyAPRep checks the acceptor's reply to service ticket t against the
// authenticator sent and returns its decrypted part.
func VerifyAPRep(msg []byte, t *ServiceTicket, auth types.Authenticator) (messages.EncAPRepPart, error) {
	var rep messages.APRep
	var part messages.EncAPRepPart
	if err := rep.Unmarshal(msg); err != nil {
		return part, err
	}
	if err := CheckCipher(rep.EncPart.Cipher, t.Key.KeyType); err != nil {
		return part, fmt.Errorf("AP-REP: %w", err)
	}
	pb, err := t.mc.decrypt(keyusage.AP_REP_ENCPART, rep.EncPart.Cipher)
	if err != nil {
		return part, fmt.Errorf("AP-REP does not decrypt with the session key: %w", err)
	}
	if err := part.Unmarshal(pb); err != nil {
		return part, err
	}
	if part.CTime.Unix() != auth.CTime.Unix() || part.Cusec != auth.Cusec {
		return part, errors.New("AP-REP does not echo the authenticator's time: mutual authentication failed")
	}
	return part, nil
}

// minCipher is the length below which gokrb5's decryption would slice out
// of range: a confounder and an HMAC (it does not check).
func minCipher(keyType int32) (int, error) {
	et, err := crypto.GetEtype(keyType)
	if err != nil {
		return 0, err
	}
	return et.GetConfounderByteSize() + et.GetHMACBitLength()/8, nil
}

// CheckCipher refuses ciphertexts too short to decrypt with a key of
// keyType.
func CheckCipher(cipher []byte, keyType int32) error {
	n, err := minCipher(keyType)
	if err != nil {
		return err
	}
	if len(cipher) < n {
		return fmt.Errorf("ciphertext of %d bytes is too short", len(cipher))
	}
	return nil
}

// RandomKey makes a random key of the given encryption type and length in
// bytes (random-to-key is the identity for the AES types).
func RandomKey(id int32, size int) (types.EncryptionKey, error) {
	k := make([]byte, size)
	if _, err := rand.Read(k); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: id, KeyValue: k}, nil
}

// msgCrypto encrypts and checksums per-message tokens. For the AES-SHA1
// types it derives the RFC 3961 keys (Ke, Ki, Kc) once per key usage, on
// first use, instead of once per message as gokrb5 does; other types go
// through gokrb5.
type msgCrypto struct {
	et   etype.EType
	key  []byte
	fast map[uint32]*derivedKeys // nil: no fast path; fixed after construction
}

// derivedKeys are the simplified-profile keys of one key usage, derived
// lazily (a handshake uses only the checksum keys).
type derivedKeys struct {
	usage  uint32
	encOne sync.Once
	ke, ki []byte
	encErr error
	macOne sync.Once
	kc     []byte
	macErr error
}

// sha1MACLen is the truncated HMAC-SHA1 length of the AES-SHA1 types.
const sha1MACLen = 12

func newMsgCrypto(et etype.EType, key []byte, usages ...uint32) *msgCrypto {
	m := &msgCrypto{et: et, key: key}
	switch et.GetETypeID() {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96:
	default:
		return m
	}
	m.fast = make(map[uint32]*derivedKeys, len(usages))
	for _, u := range usages {
		m.fast[u] = &derivedKeys{usage: u}
	}
	return m
}

func (m *msgCrypto) encKeys(d *derivedKeys) ([]byte, []byte, error) {
	d.encOne.Do(func() {
		if d.ke, d.encErr = m.et.DeriveKey(m.key, common.GetUsageKe(d.usage)); d.encErr != nil {
			return
		}
		d.ki, d.encErr = m.et.DeriveKey(m.key, common.GetUsageKi(d.usage))
	})
	return d.ke, d.ki, d.encErr
}

func (m *msgCrypto) macKey(d *derivedKeys) ([]byte, error) {
	d.macOne.Do(func() {
		d.kc, d.macErr = m.et.DeriveKey(m.key, common.GetUsageKc(d.usage))
	})
	return d.kc, d.macErr
}

func hmacSHA1(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha1.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)[:sha1MACLen]
}

// encrypt is RFC 3961 encryption: E(Ke, confounder | plain) | HMAC(Ki, ...).
func (m *msgCrypto) encrypt(usage uint32, plain []byte) ([]byte, error) {
	d := m.fast[usage]
	if d == nil {
		_, ct, err := m.et.EncryptMessage(m.key, plain, usage)
		return ct, err
	}
	ke, ki, err := m.encKeys(d)
	if err != nil {
		return nil, err
	}
	data := make([]byte, m.et.GetConfounderByteSize(), m.et.GetConfounderByteSize()+len(plain))
	if _, err := rand.Read(data); err != nil {
		return nil, err
	}
	data = append(data, plain...)
	mac := hmacSHA1(ki, data)
	_, ct, err := m.et.EncryptData(ke, data)
	if err != nil {
		return nil, err
	}
	return append(ct, mac...), nil
}

// decrypt reverses encrypt and checks the HMAC. The caller has checked
// the length against minCipher.
func (m *msgCrypto) decrypt(usage uint32, ct []byte) ([]byte, error) {
	d := m.fast[usage]
	if d == nil {
		return m.et.DecryptMessage(m.key, ct, usage)
	}
	ke, ki, err := m.encKeys(d)
	if err != nil {
		return nil, err
	}
	body, mac := ct[:len(ct)-sha1MACLen], ct[len(ct)-sha1MACLen:]
	data, err := m.et.DecryptData(ke, body)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(hmacSHA1(ki, data), mac) {
		return nil, errors.New("integrity verification failed")
	}
	return data[m.et.GetConfounderByteSize():], nil
}

// checksum is the RFC 3961 checksum with Kc of usage over the parts.
func (m *msgCrypto) checksum(usage uint32, parts ...[]byte) ([]byte, error) {
	d := m.fast[usage]
	if d == nil {
		return m.et.GetChecksumHash(m.key, bytes.Join(parts, nil), usage)
	}
	kc, err := m.macKey(d)
	if err != nil {
		return nil, err
	}
	return hmacSHA1(kc, parts...), nil
}

// SecContext is an established security context: the per-message key and
// the sequence numbers of both directions. Wrap and Unwrap may run
// concurrently with each other (one sender, one receiver).
type SecContext struct {
	initiator      bool
	key            types.EncryptionKey
	mc             *msgCrypto
	acceptorSubkey bool

	sendMu  sync.Mutex // guards sendSeq
	sendSeq uint64
	recvMu  sync.Mutex // guards recvSeq
	recvSeq uint64
}

// NewSecContext returns the security context of an established GSS-API
// context for its per-message tokens: the initiator's side or the
// acceptor's, key the context key (acceptorSubkey when it is the
// acceptor's subkey), sendSeq and recvSeq the first sequence numbers of
// each direction. Only AES keys have RFC 4121 tokens.
func NewSecContext(initiator bool, key types.EncryptionKey, acceptorSubkey bool, sendSeq, recvSeq uint64) (*SecContext, error) {
	if !supportedEtype(key.KeyType) {
		return nil, fmt.Errorf("encryption type %d has no RFC 4121 per-message tokens; use AES keys", key.KeyType)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	mc := newMsgCrypto(et, key.KeyValue, usageInitiatorSeal, usageAcceptorSeal)
	return &SecContext{initiator: initiator, key: key, mc: mc, acceptorSubkey: acceptorSubkey, sendSeq: sendSeq, recvSeq: recvSeq}, nil
}

// header returns a Wrap token's header. Its RRC (bytes 6-7) is 0: tokens
// are sent unrotated, and RFC 4121 (4.2.4) takes the checksum and the
// sealed copy of the header with RRC 0.
func (s *SecContext) header(flags byte, ec uint16, seq uint64) [16]byte {
	var h [16]byte
	h[0], h[1], h[2], h[3] = 0x05, 0x04, flags, 0xff
	binary.BigEndian.PutUint16(h[4:6], ec)
	binary.BigEndian.PutUint64(h[8:16], seq)
	return h
}

// Wrap makes an RFC 4121 Wrap token of p, encrypted when conf is set.
func (s *SecContext) Wrap(p []byte, conf bool) ([]byte, error) {
	var fl byte
	usage := uint32(usageInitiatorSeal)
	if !s.initiator {
		fl |= wrapSentByAcceptor
		usage = usageAcceptorSeal
	}
	if s.acceptorSubkey {
		fl |= wrapAcceptorSubkey
	}
	s.sendMu.Lock()
	seq := s.sendSeq
	s.sendSeq++
	s.sendMu.Unlock()
	if conf {
		fl |= wrapSealed
		h := s.header(fl, 0, seq)
		plain := make([]byte, 0, len(p)+16)
		plain = append(plain, p...)
		plain = append(plain, h[:]...)
		ct, err := s.mc.encrypt(usage, plain)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, 16+len(ct))
		out = append(out, h[:]...)
		return append(out, ct...), nil
	}
	h := s.header(fl, 0, seq)
	ck, err := s.mc.checksum(usage, p, h[:])
	if err != nil {
		return nil, err
	}
	h = s.header(fl, uint16(len(ck)), seq)
	out := make([]byte, 0, 16+len(p)+len(ck))
	out = append(out, h[:]...)
	out = append(out, p...)
	return append(out, ck...), nil
}

// Unwrap checks an RFC 4121 Wrap token from the peer and returns its
// payload and whether it was encrypted. Tokens must arrive in sequence.
func (s *SecContext) Unwrap(tok []byte) ([]byte, bool, error) {
	if len(tok) < 16 || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
		return nil, false, errors.New("not an RFC 4121 wrap token")
	}
	fl := tok[2]
	if (fl&wrapSentByAcceptor != 0) == !s.initiator {
		return nil, false, errors.New("wrap token sent by the wrong side (reflected?)")
	}
	if (fl&wrapAcceptorSubkey != 0) != s.acceptorSubkey {
		return nil, false, errors.New("wrap token key (acceptor subkey flag) does not match the context")
	}
	usage := uint32(usageAcceptorSeal)
	if !s.initiator {
		usage = usageInitiatorSeal
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	seq := binary.BigEndian.Uint64(tok[8:16])
	body := tok[16:]
	if rrc != 0 && len(body) > 0 {
		r := rrc % len(body)
		rot := make([]byte, len(body))
		copy(rot, body[r:])
		copy(rot[len(body)-r:], body[:r])
		body = rot
	}
	var payload []byte
	sealed := fl&wrapSealed != 0
	if sealed {
		n, err := minCipher(s.key.KeyType)
		if err != nil {
			return nil, true, err
		}
		if len(body) < n+16 {
			return nil, true, errors.New("sealed wrap token too short")
		}
		plain, err := s.mc.decrypt(usage, body)
		if err != nil {
			return nil, true, fmt.Errorf("wrap token does not decrypt: %w", err)
		}
		if len(plain) < ec+16 {
			return nil, true, errors.New("sealed wrap token too short")
		}
		inner := plain[len(plain)-16:]
		want := s.header(fl, uint16(ec), seq)
		if !bytes.Equal(inner, want[:]) {
			return nil, true, errors.New("sealed wrap token header does not match its encrypted copy")
		}
		payload = plain[:len(plain)-16-ec]
	} else {
		if ec > len(body) {
			return nil, false, errors.New("wrap token checksum length exceeds token")
		}
		payload = body[:len(body)-ec]
		h := s.header(fl, 0, seq)
		ck, err := s.mc.checksum(usage, payload, h[:])
		if err != nil {
			return nil, false, err
		}
		if !hmac.Equal(ck, body[len(body)-ec:]) {
			return nil, false, errors.New("wrap token checksum mismatch")
		}
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if seq != s.recvSeq {
		return nil, sealed, fmt.Errorf("wrap token out of sequence: got %d, want %d", seq, s.recvSeq)
	}
	s.recvSeq++
	return payload, sealed, nil
}

// Security-layer negotiation messages of RFC 4752 section 3.1.

// MaxLayerSize is the largest wrapped message size a security-layer
// message can say: 2^24-1, its field has 3 bytes.
const MaxLayerSize = 1<<24 - 1

// LayerMessage is the security-layer message: the layers (a bit set of
// RFC 4752 section 3.3: 1 auth, 2 auth-int, 4 auth-conf), the largest
// wrapped message its sender accepts (24 bits) and an authorization
// identity.
func LayerMessage(layers byte, maxSize int, authz string) []byte {
	b := make([]byte, 4, 4+len(authz))
	b[0] = layers
	b[1], b[2], b[3] = byte(maxSize>>16), byte(maxSize>>8), byte(maxSize)
	return append(b, authz...)
}

// ParseLayerMessage reads a LayerMessage.
func ParseLayerMessage(b []byte) (layers byte, maxSize int, authz string, err error) {
	if len(b) < 4 {
		return 0, 0, "", fmt.Errorf("security layer message of %d bytes, want at least 4", len(b))
	}
	return b[0], int(b[1])<<16 | int(b[2])<<8 | int(b[3]), string(b[4:]), nil
}
