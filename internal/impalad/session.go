package impalad

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// session is one client session (HS2 OpenSession, or a beeswax connection).
// Guarded by Coordinator.mu.
type session struct {
	key        [16]byte
	secret     [16]byte
	id         string
	proto      Protocol
	user       string
	db         string
	opts       map[string]string
	rowBased   bool          // the client asked for a protocol before V6
	idle       time.Duration // 0: never expires
	lastActive time.Time
	expired    bool
	closed     bool
	conns      map[*serverConn]struct{}
	// disconnectedAt is when the last connection using the session closed;
	// zero while one is attached.
	disconnectedAt time.Time
	ops            map[*operation]struct{}
}

// newID returns a fresh 16-byte id and its Impala text form "hi:lo" (hex).
// Ids and secrets come from a secure random source, as Impala's
// RandomUniqueID (crypto_uuid_generator_, be/src/service/impala-server.cc).
func newID() ([16]byte, string) {
	k := newSecret()
	hi, lo := binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])
	return k, fmt.Sprintf("%016x:%016x", hi, lo)
}

func newSecret() [16]byte {
	var s [16]byte
	_, _ = rand.Read(s[:]) // crypto/rand.Read never fails
	return s
}

// IDFromGUID returns the Impala text form ("%016x:%016x", as in query
// profiles and Statement.ID) of an HS2 handle's 16-byte guid: the session
// id of a TSessionHandle, the query id of a TOperationHandle.
func IDFromGUID(guid []byte) string {
	if len(guid) != 16 {
		return fmt.Sprintf("invalid-id-%x", guid)
	}
	return fmt.Sprintf("%016x:%016x", binary.LittleEndian.Uint64(guid[:8]), binary.LittleEndian.Uint64(guid[8:]))
}

// newSessionLocked registers a session opened on sc.
func (co *Coordinator) newSessionLocked(sc *serverConn, p Protocol, user string, conf map[string]string) *session {
	now := time.Now()
	s := &session{
		proto:      p,
		user:       user,
		db:         "default",
		opts:       map[string]string{},
		idle:       co.cfg.IdleSessionTimeout,
		lastActive: now,
		conns:      map[*serverConn]struct{}{},
		ops:        map[*operation]struct{}{},
	}
	s.key, s.id = newID()
	s.secret = newSecret()
	// As ImpalaServer::OpenSession (be/src/service/impala-hs2-server.cc):
	// use:database picks the database, impala.doas.user is delegation
	// (not supported here, so ignored like any key Impala does not take),
	// a set:hiveconf: prefix (Hive JDBC) is dropped, and every other key is
	// a query option; one Impala refuses (unknown, or a bad value) is
	// ignored.
	for k, v := range conf {
		lk := strings.ToLower(k)
		switch {
		case lk == "use:database":
			if v != "" {
				s.db = strings.ToLower(v)
			}
		case lk == "impala.doas.user":
		default:
			_ = s.setOption(strings.TrimPrefix(lk, "set:hiveconf:"), v) // refused: ignored (above)
		}
	}
	if sc != nil {
		s.conns[sc] = struct{}{}
		if p == HS2 {
			sc.sessions[s] = struct{}{}
		}
	}
	co.sessions[s.key] = s
	co.sessionsOpened.Add(1)
	return s
}

// setOption sets a query option on the session as SET does, with the
// checks of SetQueryOption (options.go): an empty value resets the option to
// its default; idle_session_timeout also changes the session's timeout, as
// in be/src/service/client-request-state.cc (IMPALA-2248).
func (s *session) setOption(k, v string) *sqlError {
	name, norm, ok, err := checkOption(k, v)
	if err != nil || !ok {
		return err
	}
	if norm == "" {
		delete(s.opts, name)
	} else {
		s.opts[name] = norm
	}
	if name == "idle_session_timeout" && norm != "" {
		n, _ := strconv.Atoi(norm)
		s.idle = time.Duration(n) * time.Second
		s.lastActive = time.Now()
	}
	return nil
}

// checkLocked applies the idle and disconnected timeouts to s and returns
// the error a client gets for using it, or nil.
func (co *Coordinator) checkLocked(s *session, now time.Time) *sqlError {
	if s.closed {
		return &sqlError{msg: "Session is closed", sqlState: "HY000"}
	}
	if !s.disconnectedAt.IsZero() && co.cfg.DisconnectedSessionTimeout > 0 &&
		now.Sub(s.disconnectedAt) > co.cfg.DisconnectedSessionTimeout {
		co.closeSessionLocked(s)
		return invalidSession(s.id)
	}
	if !s.expired && s.idle > 0 && now.Sub(s.lastActive) > s.idle {
		co.expireLocked(s)
	}
	if s.expired {
		return &sqlError{
			msg: fmt.Sprintf("Client session expired due to more than %ds of inactivity (last activity was at: %s).",
				int64(s.idle/time.Second), s.lastActive.UTC().Format("2006-01-02 15:04:05.000000000")),
			sqlState: "HY000",
		}
	}
	return nil
}

func invalidSession(id string) *sqlError {
	return &sqlError{msg: "Invalid session id: " + id, sqlState: "HY000"}
}

// useSessionLocked finds the session of an HS2 handle, checks it, marks it
// active and attaches it to the connection the request came on.
func (co *Coordinator) useSessionLocked(sc *serverConn, guid, secret []byte) (*session, *sqlError) {
	var key [16]byte
	if len(guid) != 16 {
		return nil, invalidSession(IDFromGUID(guid))
	}
	copy(key[:], guid)
	s, ok := co.sessions[key]
	if !ok || string(s.secret[:]) != string(secret) {
		return nil, invalidSession(IDFromGUID(guid))
	}
	if err := co.touchSessionLocked(sc, s); err != nil {
		return nil, err
	}
	return s, nil
}

// touchSessionLocked checks s, marks it active and attaches it to sc. As
// ScopedSessionState::WithSession (be/src/service/impala-server.cc), a
// connection whose user was authenticated may use only the sessions of
// that user (TErrorCode UNAUTHORIZED_SESSION_USER).
func (co *Coordinator) touchSessionLocked(sc *serverConn, s *session) *sqlError {
	now := time.Now()
	if err := co.checkLocked(s, now); err != nil {
		return err
	}
	if sc != nil && sc.user != "" && s.proto == HS2 && s.user != sc.user {
		return &sqlError{msg: fmt.Sprintf("The user authorized on the connection '%s' does not match the session username '%s'", sc.user, s.user), sqlState: "HY000"}
	}
	s.lastActive = now
	if sc != nil && s.proto == HS2 {
		if _, ok := s.conns[sc]; !ok && sc.sessions != nil {
			s.conns[sc] = struct{}{}
			sc.sessions[s] = struct{}{}
			s.disconnectedAt = time.Time{}
		}
	}
	return nil
}

// expireLocked marks s expired and ends its statements with
// INACTIVE_SESSION_EXPIRED, as ImpalaServer::ExpireSessions does.
func (co *Coordinator) expireLocked(s *session) {
	s.expired = true
	now := time.Now()
	for op := range s.ops {
		op.failLocked("Session expired due to inactivity", now)
	}
}

// closeSessionLocked ends s and its operations.
func (co *Coordinator) closeSessionLocked(s *session) {
	if s.closed {
		return
	}
	s.closed = true
	for op := range s.ops {
		op.closeLocked()
		delete(co.ops, op.key)
		co.archiveLocked(op)
	}
	s.ops = nil
	for sc := range s.conns {
		delete(sc.sessions, s)
	}
	s.conns = nil
	delete(co.sessions, s.key)
}

// sweepSessions closes sessions past their disconnected timeout and
// expires idle ones, as Impala's session-expiry thread does.
func (co *Coordinator) sweepSessions() {
	co.mu.Lock()
	defer co.mu.Unlock()
	now := time.Now()
	for _, s := range co.sessions {
		_ = co.checkLocked(s, now) // applies the timeouts; the error is for a client using s
	}
}

func (co *Coordinator) openBeeswaxSession(sc *serverConn) {
	co.mu.Lock()
	defer co.mu.Unlock()
	if sc.closed.Load() {
		return
	}
	sc.bz = co.newSessionLocked(sc, Beeswax, sc.user, nil)
}
