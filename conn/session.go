package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// sessionImpl is the protocol half of a [Session]: *hs2Session or
// *beeswaxSession. Its methods are documented on Session.
type sessionImpl interface {
	Addr() string
	Protocol() Protocol
	ServerVersion() string
	ProtocolVersion() int
	WebServer() string
	Execute(ctx context.Context, stmt string, opts map[string]string) (*Operation, error)
	Ping(ctx context.Context) error
	Alive() bool
	Broken() bool
	NeedsReset() bool
	Reset(ctx context.Context) error
	Reattach(ctx context.Context) error
	CanReattach() bool
	Close() error
	// state is the session's database and options; run runs a statement
	// of the session's own (a SET or USE) and closes it.
	state() *tracker
	run(ctx context.Context, stmt string) error
	isClosed() bool
}

// Session is one open session on one coordinator, over one connection:
// HiveServer2 or beeswax, as [Options.Protocol] says. [Dial] opens one.
//
// A Session is used by one goroutine at a time: Execute, Ping, Reset,
// Reattach and the calls on its Operations must not overlap. Addr,
// Protocol, ServerVersion, ProtocolVersion, WebServer, Alive, Broken,
// CanReattach and NeedsReset may be called from any goroutine, at any
// time; Close too (it interrupts a call in flight).
type Session struct {
	impl   sessionImpl
	tracer Tracer // nil: no tracing
	opts   *Options
	// mover is the pool's, set by SetMover; nil for a session of its own.
	mover Mover
	// obs is mover when it is an Observer too, else nil.
	obs Observer
	// ops counts the Operations not yet closed: a session with one open
	// cannot move (the Operation belongs to its connection).
	ops int
	// placed and byKey are what the pool said of its placement (Placed).
	placed, byKey bool
}

// Addr returns the coordinator's address as dialed.
func (s *Session) Addr() string { return s.impl.Addr() }

// Protocol returns HS2 or Beeswax.
func (s *Session) Protocol() Protocol { return s.impl.Protocol() }

// ServerVersion returns the version string the coordinator reported
// ("impalad version 4.4.0 RELEASE (build ...)").
func (s *Session) ServerVersion() string { return s.impl.ServerVersion() }

// ProtocolVersion returns the HS2 protocol version the coordinator agreed
// to, as a number (6 for HIVE_CLI_SERVICE_PROTOCOL_V6); 0 for beeswax.
func (s *Session) ProtocolVersion() int { return s.impl.ProtocolVersion() }

// WebServer returns the URL of the coordinator's web server as it reported
// it ("http://host:25000"), where /query_plan?query_id=... shows a
// statement; empty when it did not say (beeswax before the first ping, a
// server that is not Impala).
func (s *Session) WebServer() string { return s.impl.WebServer() }

// Execute runs one statement with per-statement query options (nil for
// none) and waits until it finished: for a query on an HS2 session to
// Impala, until its first rows are ready, by fetching them (Impala holds
// the fetch until then; the Operation keeps them for Next); otherwise by
// polling its status with backoff. The returned Operation gives the result
// metadata and rows and must be closed. If ctx ends first, the statement
// is cancelled on the coordinator and the error wraps ctx.Err(). (A ctx
// deadline at most 10 s away bounds that fetch on Impala 4 and later
// through FETCH_ROWS_TIMEOUT_MS, unless a value was chosen; otherwise the
// end of ctx cuts the call and the session is reattached on a new
// connection to cancel the statement.)
//
// With [Options.Tracer] set, the statement is traced from here to the
// Operation's Close (or to Execute's error).
func (s *Session) Execute(ctx context.Context, stmt string, opts map[string]string) (*Operation, error) {
	return s.runOp(ctx, func() (*Operation, error) { return s.execute(ctx, stmt, opts) })
}

// ready prepares the session for a statement, before anything is sent:
// when its coordinator takes no new work (draining, down, removed from the
// pool) it moves (if that fails, the statement still tries here); when its
// connection was closed by the peer while idle (a proxy's idle timeout, a
// coordinator that died or restarted: a one-byte peek, no round trip) or
// is broken, it is reattached, or the session moves. A statement written
// to a socket the peer had closed might be taken as sent.
func (s *Session) ready(ctx context.Context) error {
	if s.mover != nil && s.mover.Retiring() {
		_ = s.mover.Move(ctx, errRetiring)
	}
	if s.impl.Alive() {
		return nil
	}
	if s.impl.isClosed() {
		return &Error{Addr: s.Addr(), Op: OpExecute, Err: ErrSessionClosed}
	}
	lost := &Error{Addr: s.Addr(), Op: OpExecute, Err: fmt.Errorf("%w: closed by the peer, or cut, before the statement", ErrBroken)}
	if s.mover == nil && !s.impl.CanReattach() {
		return lost
	}
	if err := s.reattachOrMove(ctx, lost); err != nil {
		return &MoveError{Cause: lost, Err: err}
	}
	return nil
}

// execute runs the statement on the current connection, traced.
func (s *Session) execute(ctx context.Context, stmt string, opts map[string]string) (*Operation, error) {
	opts = s.syncDDL(stmt, opts)
	if s.tracer == nil {
		return s.impl.Execute(ctx, stmt, opts)
	}
	return s.executeTraced(ctx, stmt, opts)
}

// Ping checks with one round trip that the connection works and that the
// coordinator still knows the session (HS2 PingImpalaHS2Service, or
// GetInfo with Options.AllowNonImpala; beeswax PingImpalaService).
func (s *Session) Ping(ctx context.Context) error { return s.impl.Ping(ctx) }

// Alive reports, without a round trip and without blocking, whether the
// connection still looks usable: not broken, not closed, and the socket
// has not been closed or reset by the peer (a one-byte non-blocking peek).
// Call it only on an idle session.
func (s *Session) Alive() bool { return s.impl.Alive() }

// Broken reports whether the connection can no longer be used because a
// call was interrupted half-way or failed at the transport level.
func (s *Session) Broken() bool { return s.impl.Broken() }

// NeedsReset reports whether a statement changed the session's state
// (SET, UNSET ALL, USE) since it was opened or last reset.
func (s *Session) NeedsReset() bool { return s.impl.NeedsReset() }

// Reset restores the query options and database given at Dial: HS2 sets
// each option a statement changed back to its Options value, or to the
// server's default (an empty value) when Options has none, and runs USE
// when the database changed; beeswax keeps options on the client and only
// runs USE when the database changed. Options changed by other means (a
// SET hidden in a multi-statement string) are not seen.
func (s *Session) Reset(ctx context.Context) error { return s.impl.Reset(ctx) }

// CanReattach reports whether [Session.Reattach] can work: true for HS2 to
// Impala, false for beeswax (its state dies with its connection) and for
// HS2 with [Options.AllowNonImpala].
func (s *Session) CanReattach() bool { return s.impl.CanReattach() }

// Reattach moves an HS2 session to a new connection to the same
// coordinator, e.g. after a proxy cut the old one: Impala keeps a
// disconnected session for disconnected_session_timeout. It proves the
// session with a ping and clears Broken. When [Session.CanReattach] is
// false it returns ErrReattachUnsupported.
func (s *Session) Reattach(ctx context.Context) error { return s.impl.Reattach(ctx) }

// Close closes the session on the coordinator (HS2 CloseSession; beeswax
// closes with its connection), then the connection. When the connection is
// broken, or a call is in flight (which Close then interrupts), only the
// connection is closed and Impala drops an HS2 session after
// disconnected_session_timeout. It is idempotent.
func (s *Session) Close() error { return s.impl.Close() }

// Dial connects to the coordinator at addr (host:port) and opens a session
// as opts say. Every failure is an *Error with Sent false: nothing of a
// statement reached the coordinator, so SafeToRetry reports true.
func Dial(ctx context.Context, addr string, opts Options) (*Session, error) {
	o, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	var s sessionImpl
	if o.Protocol == Beeswax {
		s, err = dialBeeswax(ctx, addr, &o)
	} else {
		s, err = dialHS2(ctx, addr, &o)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Sent = false
		}
		if o.Logger != nil {
			o.Logger.Debug("conn: dial failed", slog.String("addr", addr), slog.String("protocol", o.Protocol.String()), slog.String("error", err.Error()))
		}
		return nil, err
	}
	if o.Logger != nil {
		o.Logger.Debug("conn: session open", slog.String("addr", addr), slog.String("protocol", o.Protocol.String()), slog.String("version", s.ServerVersion()))
	}
	return &Session{impl: s, tracer: o.Tracer, opts: &o}, nil
}

// stmtKind is what the first keyword of a statement says about it.
type stmtKind uint8

const (
	stmtOther    stmtKind = iota
	stmtSet               // SET k=v: changes a query option of the session
	stmtSetShow           // SET or SET ALL: lists options
	stmtUnsetAll          // UNSET ALL: every option back to the server's default
	stmtUse               // USE db
	stmtDML               // INSERT, UPSERT, UPDATE, DELETE, MERGE
	stmtQuery             // SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN, WITH without INSERT/UPSERT: only reads
)

// classified is what classify finds in a statement.
type classified struct {
	kind stmtKind
	// key and value are SET's option (as written) and value (unquoted,
	// "" to put it back to its default).
	key, value string
	// db is USE's database, lower case.
	db string
	// catalog reports a statement that changes the catalog, which
	// SYNC_DDL makes wait until every coordinator has seen the change:
	// DDL (CREATE, ALTER, DROP, TRUNCATE, COMPUTE, INVALIDATE, REFRESH,
	// LOAD, GRANT, REVOKE, COMMENT) and DML, which adds files or
	// partitions (INSERT, UPSERT, UPDATE, DELETE, MERGE, OPTIMIZE, and
	// WITH ... INSERT). As be/src/service/client-request-state.cc passes
	// sync_ddl to the catalog for DDL, LOAD DATA and the catalog update
	// that ends a DML statement.
	catalog bool
}

// classify looks at the first keyword of stmt, after blanks and comments.
func classify(stmt string) classified {
	s := skipBlanks(stmt)
	word := s
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			word = s[:i]
			break
		}
	}
	rest := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[len(word):]), ";"))
	switch strings.ToUpper(word) {
	case "USE":
		db := rest
		if len(db) >= 2 && db[0] == '`' && db[len(db)-1] == '`' {
			db = strings.ReplaceAll(db[1:len(db)-1], "``", "`")
		}
		return classified{kind: stmtUse, db: strings.ToLower(db)}
	case "INSERT", "UPSERT", "UPDATE", "DELETE", "MERGE":
		return classified{kind: stmtDML, catalog: true}
	case "CREATE", "ALTER", "DROP", "TRUNCATE", "COMPUTE", "INVALIDATE", "REFRESH",
		"LOAD", "GRANT", "REVOKE", "COMMENT", "OPTIMIZE":
		return classified{catalog: true}
	case "SELECT", "VALUES", "SHOW", "DESCRIBE", "DESC", "EXPLAIN":
		return classified{kind: stmtQuery}
	case "WITH":
		// WITH may lead to an INSERT or UPSERT; a mention of either word
		// anywhere (a string, an alias) counts: the cost of a wrong guess
		// is only that the statement is polled (and, with SYNC_DDL, waits
		// for the catalog).
		if hasWord(s, "INSERT") || hasWord(s, "UPSERT") {
			return classified{catalog: true}
		}
		return classified{kind: stmtQuery}
	case "UNSET":
		if strings.EqualFold(rest, "ALL") {
			return classified{kind: stmtUnsetAll}
		}
	case "SET":
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return classified{kind: stmtSetShow}
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if k == "" {
			return classified{}
		}
		return classified{kind: stmtSet, key: k, value: v}
	}
	return classified{}
}

// hasWord reports whether s contains word (upper case) as a whole word,
// in any case.
func hasWord(s, word string) bool {
	isLetter := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	for i := 0; i+len(word) <= len(s); i++ {
		if !strings.EqualFold(s[i:i+len(word)], word) {
			continue
		}
		if (i == 0 || !isLetter(s[i-1])) && (i+len(word) == len(s) || !isLetter(s[i+len(word)])) {
			return true
		}
	}
	return false
}

// skipBlanks drops leading white space, -- line comments and /* */ block
// comments.
func skipBlanks(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		default:
			return s
		}
	}
}

// quoteIdent quotes a database name for USE.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// nosaslHint adds a hint to a failed first call of a NOSASL connection
// whose peer closed it or answered in something else than Thrift: the
// usual cause is a coordinator that requires authentication (SASL).
func nosaslHint(err error, o *Options) error {
	var e *Error
	if o.Mechanism != nil || o.Protocol == HS2HTTP || !errors.As(err, &e) {
		return err
	}
	if errors.Is(err, ErrNotImpala) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		e.Err = fmt.Errorf("%w (without SASL; if the coordinator requires authentication, set Options.Mechanism or Options.Password)", e.Err)
	}
	return err
}
