package conn

import (
	"errors"
	"strconv"
	"strings"

	"github.com/impalalb/impalalb/conn/sasl"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrSessionClosed is returned by every call on a closed Session or on
	// an Operation of a closed Session.
	ErrSessionClosed = errors.New("conn: session closed")

	// ErrOperationClosed is returned by calls on a closed Operation.
	ErrOperationClosed = errors.New("conn: operation closed")

	// ErrBroken is returned by calls on a Session whose connection can no
	// longer be used: a Thrift call was interrupted half-way (a cancelled
	// or expired context, a network error, a malformed reply). Close it and
	// dial again; an HS2 session may also be reattached (Session.Reattach).
	ErrBroken = errors.New("conn: connection broken")

	// ErrNotImpala is wrapped when the peer does not answer like an Impala
	// coordinator: an HTTP server, a non-Thrift listener, a Thrift server of
	// another service, a SASL server when NOSASL was configured, or the
	// reverse.
	ErrNotImpala = errors.New("conn: peer does not speak Impala's Thrift protocol")

	// ErrProtocolVersion is wrapped when an HS2 server answers OpenSession
	// with a protocol version below V6 (row-based results), which this
	// package does not decode.
	ErrProtocolVersion = errors.New("conn: HiveServer2 protocol version below V6")

	// ErrReattachUnsupported is returned by Reattach on a beeswax session
	// (beeswax binds the session to its connection) and on an HS2 session
	// with Options.AllowNonImpala (HiveServer2 closes a session with its
	// connection).
	ErrReattachUnsupported = errors.New("conn: the session cannot be reattached (beeswax, or a server that is not Impala)")

	// ErrOperationFailed is wrapped by the *Error of a statement that the
	// coordinator ran and reported as failed (HS2 ERROR_STATE, beeswax
	// EXCEPTION), or that it refused (a bad statement, an unknown table),
	// and of a metadata call it refused (a bad pattern).
	ErrOperationFailed = errors.New("conn: statement failed")

	// ErrRemote is wrapped by the *Error of a call other than a statement's
	// (OpenSession, ping, close, cancel) that the coordinator answered
	// with an error status; Message says what it said.
	ErrRemote = errors.New("conn: the coordinator reported an error")

	// ErrOperationCanceled is wrapped when the coordinator reports the
	// operation as cancelled (by another client, an admin or a timeout).
	// Impala reports a cancelled statement as failed (ERROR_STATE, beeswax
	// EXCEPTION) with a status that says so; see canceledMessage.
	ErrOperationCanceled = errors.New("conn: statement cancelled on the coordinator")

	// ErrShuttingDown is wrapped when the coordinator refused an
	// OpenSession or a statement because it is shutting down gracefully
	// (Impala's ":shutdown()" or SIGTERM: "Server is being shut down",
	// TErrorCode SERVER_SHUTTING_DOWN, from ImpalaServer::
	// CheckNotShuttingDown in be/src/service/impala-server.cc). Its
	// running statements go on; new ones are refused. A statement refused
	// so never ran: the *Error has Sent false, and SafeToRetry is true.
	ErrShuttingDown = errors.New("conn: the coordinator is shutting down")

	// ErrSessionGone is wrapped when the coordinator does not know the
	// session any more: "Invalid session id" (it restarted, or a proxy
	// sent the connection to another coordinator), "Client session
	// expired" (idle_session_timeout) or "Session is closed"
	// (be/src/service/impala-server.cc, GetSessionState). A statement
	// refused so never ran: the *Error has Sent false. The session must be
	// closed; a pool opens another (moving the state, see Session.Adopt).
	ErrSessionGone = errors.New("conn: the coordinator no longer knows the session")

	// ErrNoMetadataCalls is wrapped when a metadata call (GetTables,
	// GetColumns, ...) is made on a beeswax session: beeswax has none.
	// Use HS2, or SHOW and DESCRIBE statements.
	ErrNoMetadataCalls = errors.New("conn: beeswax has no metadata calls; use HS2, or SHOW and DESCRIBE")
)

// refusal returns the sentinel for what an error status of the
// coordinator says, when it refused a call without running anything:
// ErrShuttingDown, ErrSessionGone, or nil.
func refusal(msg string) error {
	switch {
	case strings.Contains(msg, "Server is being shut down"):
		return ErrShuttingDown
	case strings.Contains(msg, "Invalid session id"),
		strings.Contains(msg, "Client session expired"),
		strings.HasPrefix(strings.TrimSpace(msg), "Session is closed"):
		return ErrSessionGone
	}
	return nil
}

// Op names the step of a session's life that failed, in [Error.Op].
type Op string

// The steps an [Error] names.
const (
	OpDial        Op = "dial"         // TCP connect
	OpTLS         Op = "tls"          // TLS handshake
	OpSASL        Op = "sasl"         // SASL negotiation
	OpOpenSession Op = "open session" // OpenSession and the first ping
	// OpExecute is the statement's run: ExecuteStatement, and the poll or
	// first fetch that waits for it in Execute.
	OpExecute        Op = "execute"
	OpPoll           Op = "poll"     // a status poll (Operation.Summary's state included)
	OpMetadata       Op = "metadata" // GetResultSetMetadata
	OpFetch          Op = "fetch"    // a fetch of rows after Execute returned
	OpCancel         Op = "cancel"
	OpCloseOperation Op = "close operation"
	OpCloseSession   Op = "close session"
	OpPing           Op = "ping"
	// OpReattach is the move of a session to a new connection; its Err is
	// the failure of that connection's own step (an *Error) or of the ping.
	OpReattach Op = "reattach"
	OpReset    Op = "reset"
	OpSummary  Op = "summary"
	OpProfile  Op = "profile"
	OpLog      Op = "log"
	// OpMetadataCall is a metadata call of the catalog (GetTables,
	// GetColumns, ...: Session.GetTables and its siblings).
	OpMetadataCall Op = "metadata call"
)

// failure is the cause of a statement's error with the message msg:
// ErrOperationCanceled when Impala says it cancelled the statement,
// ErrOperationFailed otherwise.
func failure(msg string) error {
	if canceledMessage(msg) {
		return ErrOperationCanceled
	}
	return ErrOperationFailed
}

// canceledMessage reports whether msg is the status Impala gives a
// statement it cancelled rather than one that failed (texts of
// common/thrift/generate_error_codes.py and be/src/service/): CANCELLED
// ("Cancelled", a CancelOperation or beeswax Cancel), "Cancelled from
// Impala's debug web interface ...", INACTIVE_QUERY_EXPIRED
// (QUERY_TIMEOUT_S), EXEC_TIME_LIMIT_EXCEEDED (EXEC_TIME_LIMIT_S),
// INACTIVE_SESSION_EXPIRED and DISCONNECTED_SESSION_CLOSED. The message
// may come wrapped as "Query <id> failed:\n<status>".
func canceledMessage(msg string) bool {
	msg = strings.TrimSpace(msg)
	if rest, ok := strings.CutPrefix(msg, "Query "); ok {
		if _, status, ok := strings.Cut(rest, " failed:\n"); ok {
			msg = strings.TrimSpace(status)
		}
	}
	switch {
	case msg == "Cancelled",
		strings.HasPrefix(msg, "Cancelled from Impala's debug web interface"),
		msg == "Session expired due to inactivity",
		msg == "Session closed because it has no active connections":
		return true
	case strings.HasPrefix(msg, "Query "):
		return strings.Contains(msg, " expired due to client inactivity (timeout is ") ||
			strings.Contains(msg, " expired due to execution time limit of ")
	}
	return false
}

// Error is the error of every failed call of this package that involved a
// coordinator. It keeps what Impala said (Message, SQLState, Code) and
// whether anything of the call can have reached the coordinator.
type Error struct {
	// Addr is the coordinator's address, host:port as dialed.
	Addr string
	// Op names the step that failed, one of the Op constants.
	Op Op
	// QueryID is Impala's query id of the statement the call belonged to,
	// once the coordinator had given it one (failures while a statement
	// ran, was fetched or closed); empty otherwise.
	QueryID string
	// SQLState, Code and Message are Impala's sqlState, errorCode and
	// errorMessage when the coordinator answered with an error status.
	SQLState string
	Code     int32
	Message  string
	// Sent reports whether a statement, or any request carrying one, may
	// have reached the coordinator. False for failures while connecting
	// (dial, TLS, SASL, OpenSession) and for an Execute whose request was
	// not handed to the network at all.
	Sent bool
	// Err is the cause: a sentinel of this package, a net or TLS error, a
	// SASL error, a context error. May be nil when the coordinator
	// answered with an error status.
	Err error
}

// Error returns "conn: <op> <addr> (query <id>): <message>: <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("conn: ")
	b.WriteString(string(e.Op))
	if e.Addr != "" {
		b.WriteByte(' ')
		b.WriteString(e.Addr)
	}
	if e.QueryID != "" {
		b.WriteString(" (query ")
		b.WriteString(e.QueryID)
		b.WriteByte(')')
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(e.Message))
		if e.SQLState != "" && strings.TrimSpace(e.SQLState) != "" || e.Code != 0 {
			b.WriteString(" (")
			if s := strings.TrimSpace(e.SQLState); s != "" {
				b.WriteString("SQLSTATE ")
				b.WriteString(s)
				if e.Code != 0 {
					b.WriteString(", ")
				}
			}
			if e.Code != 0 {
				b.WriteString("code ")
				b.WriteString(strconv.Itoa(int(e.Code)))
			}
			b.WriteByte(')')
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "conn: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// SafeToRetry reports whether err comes from this package and nothing of a
// statement can have reached the coordinator, so that the work may be
// tried again, on this coordinator or another: a failed dial, TLS or SASL
// handshake, OpenSession, or an Execute on a connection that could not
// even send. It is false for nil and for foreign errors.
func SafeToRetry(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return !e.Sent
}

// asError returns the *Error in err's chain.
func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ClientSide reports whether the failure is the client's own rather than
// the coordinator's: its password was refused (sasl.ErrRejected in a PLAIN
// handshake, LDAP's mechanism; Impala closes the connection during
// authentication), its credentials were refused over HS2HTTP (a 401 to
// Basic credentials, a JWT or none, or a 403; see [HTTPError.ClientSide]),
// or they could not be made for HS2HTTP (a token file that cannot be read,
// a Kerberos login that failed). Every coordinator checks a password or a
// JWT the same way, so a pool neither tries others (an LDAP account would
// be locked out) nor marks the coordinator down; it implements
// balancer.ClientSideError. A Kerberos refusal is not, over SASL GSSAPI or
// as a 401 to a SPNEGO token: the client's ticket came from the KDC for
// that coordinator's principal, so a coordinator that refuses it has a
// wrong keytab or clock, and the pool goes on to the others.
func (e *Error) ClientSide() bool {
	var se *sasl.HandshakeError
	if errors.As(e.Err, &se) {
		return se.Mechanism == "PLAIN" && errors.Is(se, sasl.ErrRejected)
	}
	var he *HTTPError
	if errors.As(e.Err, &he) {
		return he.ClientSide()
	}
	var ae *httpAuthError
	return errors.As(e.Err, &ae) && ae.ClientSide()
}
