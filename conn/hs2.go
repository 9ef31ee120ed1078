package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// hs2Session is a Session over HiveServer2.
type hs2Session struct {
	opts    *Options
	addr    string
	handle  *tcli.TSessionHandle
	proto   tcli.TProtocolVersion
	version string
	web     string // the web server URL the coordinator reported

	mu  sync.Mutex // guards w and cli, replaced by Reattach
	w   *wire
	cli *impala.ImpalaHiveServer2ServiceClient

	closed atomic.Bool
	// orphan says a statement may run in the session with no handle to
	// close it by: the session must end (Close), not be reattached.
	orphan atomic.Bool

	// st is the session's database and query options as statements
	// changed them (state.go). Used by the owning goroutine.
	st *tracker
	// planning is how long ExecuteStatement of a query lately took at
	// most (planning on Impala), each later one lowering it by a quarter
	// at most: what boundFetch leaves for planning. Used by the owning
	// goroutine.
	planning time.Duration
}

func dialHS2(ctx context.Context, addr string, o *Options) (*hs2Session, error) {
	w, err := dialWire(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	s := &hs2Session{opts: o, addr: addr, w: w, cli: newHS2Client(w), st: newTracker(o)}
	if err := s.open(ctx); err != nil {
		_ = w.close() // the session's error is the one returned
		return nil, err
	}
	return s, nil
}

func newHS2Client(w *wire) *impala.ImpalaHiveServer2ServiceClient {
	return impala.NewImpalaHiveServer2ServiceClient(w.client)
}

// open runs OpenSession and a first ping (which proves an Impala and gives
// its version).
func (s *hs2Session) open(ctx context.Context) error {
	conf := s.opts.SessionOptions
	if s.opts.AllowNonImpala && len(conf) > 0 {
		// HiveServer2 takes session settings only with its prefix; bare
		// keys (which Impala takes as query options) are ignored.
		conf = make(map[string]string, len(s.opts.SessionOptions))
		for k, v := range s.opts.SessionOptions {
			if !strings.HasPrefix(k, "set:") && !strings.HasPrefix(k, "use:") {
				k = "set:hiveconf:" + k
			}
			conf[k] = v
		}
	}
	if s.opts.Database != "" {
		// HiveServer2's key for the initial database, honoured by Impala.
		conf = maps.Clone(conf)
		if conf == nil {
			conf = make(map[string]string, 1)
		}
		conf["use:database"] = s.opts.Database
	}
	req := &tcli.TOpenSessionReq{
		ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6,
		Configuration:  conf,
	}
	if s.opts.User != "" {
		u := s.opts.User
		req.Username = &u
	}
	var resp *tcli.TOpenSessionResp
	if err := s.rpc(ctx, "open session", false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.OpenSession(ctx, req)
		return err
	}); err != nil {
		return nosaslHint(err, s.opts)
	}
	if err := s.statusError("open session", resp.Status, false); err != nil {
		return err
	}
	if resp.SessionHandle == nil || resp.SessionHandle.SessionId == nil {
		return &Error{Addr: s.addr, Op: "open session", Err: fmt.Errorf("%w: OpenSession returned no session handle", ErrNotImpala)}
	}
	s.handle = resp.SessionHandle
	s.proto = resp.ServerProtocolVersion
	if s.proto < tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6 {
		_ = s.closeRemote(ctx) // best effort: the version is the error to return
		return &Error{Addr: s.addr, Op: "open session", Err: fmt.Errorf("%w: the server answered %s", ErrProtocolVersion, s.proto)}
	}
	if s.proto > tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6 {
		// Impala caps at V6; a server that agrees to more is not Impala,
		// but V6's columnar format is common to all later versions.
		s.proto = tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6
	}
	if err := s.ping(ctx, "open session"); err != nil {
		_ = s.closeRemote(ctx) // best effort: the ping's error is the one returned
		return err
	}
	return nil
}

// rpc runs one call on the current wire and wraps a failure in *Error.
// sent says whether the statement already reached the coordinator before
// this call; for "execute" the call itself decides.
func (s *hs2Session) rpc(ctx context.Context, op Op, sent bool, fn func(context.Context, *impala.ImpalaHiveServer2ServiceClient) error) error {
	if s.closed.Load() {
		return &Error{Addr: s.addr, Op: op, Sent: sent, Err: ErrSessionClosed}
	}
	s.mu.Lock()
	w, cli := s.w, s.cli
	s.mu.Unlock()
	wrote, err := w.call(ctx, func(ctx context.Context) error { return fn(ctx, cli) })
	if err == nil {
		return nil
	}
	if s.closed.Load() && !errors.Is(err, ErrSessionClosed) {
		err = fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	var ae thrift.TApplicationException
	if errors.As(err, &ae) && ae.TypeId() == thrift.UNKNOWN_METHOD {
		err = fmt.Errorf("%w: %w", ErrNotImpala, err)
	}
	return &Error{Addr: s.addr, Op: op, Sent: sent || (op == "execute" && wrote), Err: err}
}

// statusError turns a TStatus that is not a success into *Error.
func (s *hs2Session) statusError(op Op, st *tcli.TStatus, sent bool) error {
	if st == nil {
		return &Error{Addr: s.addr, Op: op, Sent: sent, Err: fmt.Errorf("%w: reply without a status", ErrNotImpala)}
	}
	switch st.StatusCode {
	case tcli.TStatusCode_SUCCESS_STATUS, tcli.TStatusCode_SUCCESS_WITH_INFO_STATUS, tcli.TStatusCode_STILL_EXECUTING_STATUS:
		return nil
	}
	cause := ErrRemote
	switch op {
	case OpExecute, OpPoll, OpMetadata, OpFetch, OpMetadataCall:
		cause = failure(st.GetErrorMessage())
	}
	if r := refusal(st.GetErrorMessage()); r != nil {
		cause = r
	}
	e := &Error{Addr: s.addr, Op: op, Sent: sent, Err: cause,
		Message: st.GetErrorMessage(), SQLState: st.GetSqlState(), Code: st.GetErrorCode()}
	if e.Message == "" {
		e.Message = st.StatusCode.String()
	}
	return e
}

func (s *hs2Session) ping(ctx context.Context, op Op) error {
	if s.opts.AllowNonImpala {
		return s.pingInfo(ctx, op)
	}
	var resp *impala.TPingImpalaHS2ServiceResp
	if err := s.rpc(ctx, op, false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.PingImpalaHS2Service(ctx, &impala.TPingImpalaHS2ServiceReq{SessionHandle: s.handle})
		return err
	}); err != nil {
		return err
	}
	if err := s.statusError(op, resp.Status, false); err != nil {
		return err
	}
	if op == "open session" {
		s.version = resp.GetVersion()
		s.web = resp.GetWebserverAddress()
	}
	return nil
}

// pingInfo is ping for a server that may not be Impala: GetInfo, which
// every HiveServer2 serves and which fails for a session the server does
// not know. At open it asks for the version (CLI_DBMS_VER).
func (s *hs2Session) pingInfo(ctx context.Context, op Op) error {
	typ := tcli.TGetInfoType_CLI_SERVER_NAME
	if op == "open session" {
		typ = tcli.TGetInfoType_CLI_DBMS_VER
	}
	var resp *tcli.TGetInfoResp
	if err := s.rpc(ctx, op, false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: s.handle, InfoType: typ})
		return err
	}); err != nil {
		return err
	}
	if err := s.statusError(op, resp.Status, false); err != nil {
		return err
	}
	if op == "open session" && resp.InfoValue != nil {
		s.version = resp.InfoValue.GetStringValue()
	}
	return nil
}

func (s *hs2Session) Addr() string          { return s.addr }
func (s *hs2Session) Protocol() Protocol    { return s.opts.Protocol }
func (s *hs2Session) ServerVersion() string { return s.version }
func (s *hs2Session) WebServer() string     { return s.web }
func (s *hs2Session) ProtocolVersion() int  { return int(s.proto) + 1 }
func (s *hs2Session) NeedsReset() bool      { return s.st.dirty.Load() }
func (s *hs2Session) state() *tracker       { return s.st }
func (s *hs2Session) Ping(ctx context.Context) error {
	return s.ping(ctx, "ping")
}

func (s *hs2Session) cur() *wire {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w
}

func (s *hs2Session) Alive() bool    { return !s.closed.Load() && s.cur().alive() }
func (s *hs2Session) Broken() bool   { return s.cur().broken.Load() }
func (s *hs2Session) isClosed() bool { return s.closed.Load() }

func (s *hs2Session) Execute(ctx context.Context, stmt string, opts map[string]string) (*Operation, error) {
	c := classify(stmt)
	fetched := c.kind == stmtQuery && !s.opts.AllowNonImpala && !s.opts.PollQueries && !wantsProgress(ctx)
	var bound time.Duration
	if fetched {
		opts, bound = s.boundFetch(ctx, opts)
	}
	start := time.Now()
	handle, err := s.executeStatement(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	if c.kind == stmtQuery {
		s.planning = max(time.Since(start), s.planning-s.planning/4)
	}
	h := &hs2Op{s: s, h: handle}
	op := &Operation{impl: h, addr: s.addr, fetchSize: s.opts.FetchSize, pollMin: s.opts.PollMin, pollMax: s.opts.PollMax, rows: -1}
	op.queryID = queryIDFromGUID(handle.OperationId.GUID)
	started(ctx, s.addr, op.queryID)
	// The coordinator applies SET and USE when it accepts them: count the
	// session as changed from here, whatever happens next; what it became
	// is known once the statement succeeded.
	s.st.begin(c)
	op.hasResults = handle.HasResultSet
	if fetched && bound != 0 && !boundHolds(ctx, bound) {
		// Planning took longer than boundFetch left for it (or the
		// deadline was too close to leave any): a fetch would wait past
		// the deadline, since Impala measures FETCH_ROWS_TIMEOUT_MS from
		// the fetch's arrival. Poll instead, which ends at the deadline.
		fetched = false
	}
	if err := h.await(ctx, op, c, fetched, bound); err != nil {
		return nil, tagQuery(err, op.queryID)
	}
	return op, nil
}

// executeStatement sends ExecuteStatement and returns the operation's
// handle (never nil, with an id). A *Error it returns has Sent false only
// when the statement surely did not run; when the request left and no
// answer came back, the session is marked orphan.
func (s *hs2Session) executeStatement(ctx context.Context, stmt string, opts map[string]string) (*tcli.TOperationHandle, error) {
	req := &tcli.TExecuteStatementReq{
		SessionHandle: s.handle,
		Statement:     stmt,
		ConfOverlay:   opts,
		RunAsync:      true,
	}
	var resp *tcli.TExecuteStatementResp
	if err := s.rpc(ctx, OpExecute, false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.ExecuteStatement(ctx, req)
		return err
	}); err != nil {
		if e, ok := asError(err); ok && e.Sent {
			// The request left and no handle came back (ctx cut the
			// call; planning can take seconds on Impala): the statement
			// may run with no one to close it. Only closing the session
			// ends it, so the session is not reattached: Close ends it
			// from a new connection.
			s.orphan.Store(true)
		}
		return nil, err
	}
	if err := s.statusError(OpExecute, resp.Status, true); err != nil {
		if e, ok := asError(err); ok && (errors.Is(err, ErrShuttingDown) || errors.Is(err, ErrSessionGone)) {
			// ExecuteStatement refused it before registering it: it never
			// ran (ExecuteStatementCommon checks the shutdown and the
			// session first, be/src/service/impala-hs2-server.cc). Only
			// this call: the same refusal on a poll or fetch comes after
			// the statement ran.
			e.Sent = false
		}
		return nil, err
	}
	if resp.OperationHandle == nil || resp.OperationHandle.OperationId == nil {
		return nil, &Error{Addr: s.addr, Op: "execute", Sent: true, Err: fmt.Errorf("%w: no operation handle", ErrNotImpala)}
	}
	return resp.OperationHandle, nil
}

// await waits until the statement of op, classified as c, has run or has
// its first rows: with the first fetch, held until the rows are ready,
// when fetched and it has results (bound as boundFetch set it); otherwise
// by polling its status to the end, then recording what c did to the
// session and reading its result columns.
func (o *hs2Op) await(ctx context.Context, op *Operation, c classified, fetched bool, bound time.Duration) error {
	if fetched && op.hasResults {
		return o.fetchFirst(ctx, op, bound)
	}
	if err := o.wait(ctx); err != nil {
		return err
	}
	o.s.st.done(c)
	if op.hasResults {
		cols, err := o.columns(ctx)
		if err != nil {
			return err
		}
		op.cols = cols
		o.cols = cols
	}
	return nil
}

func (s *hs2Session) Reset(ctx context.Context) error {
	if !s.st.dirty.Load() {
		return nil
	}
	return s.st.apply(ctx, s.st.base, s.opts.AllowNonImpala, s.run)
}

// run runs a statement of the session's own (a SET or USE of Reset or of a
// move) and closes it.
func (s *hs2Session) run(ctx context.Context, stmt string) error {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return err
	}
	return op.Close(ctx)
}

// CanReattach reports whether the server keeps the session past its
// connection: Impala does, other HiveServer2 servers do not.
func (s *hs2Session) CanReattach() bool { return !s.opts.AllowNonImpala && !s.orphan.Load() }

func (s *hs2Session) Reattach(ctx context.Context) error {
	if s.closed.Load() {
		return &Error{Addr: s.addr, Op: "reattach", Err: ErrSessionClosed}
	}
	if !s.CanReattach() {
		// HiveServer2 closes a session with the connection that opened
		// it: there is nothing to reattach to; a session that may run an
		// orphaned statement must end.
		return &Error{Addr: s.addr, Op: OpReattach, Err: ErrReattachUnsupported}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	w, err := s.redial(ctx)
	if err != nil {
		return &Error{Addr: s.addr, Op: OpReattach, Err: err}
	}
	s.mu.Lock()
	old := s.w
	s.w, s.cli = w, newHS2Client(w)
	s.mu.Unlock()
	if err := s.ping(ctx, "reattach"); err != nil {
		// Keep the new wire only if the session is there.
		s.mu.Lock()
		s.w, s.cli = old, newHS2Client(old)
		s.mu.Unlock()
		_ = w.close() // given up: the ping's error is the one returned
		return err
	}
	_ = old.close() // the session is on w now
	if s.opts.Logger != nil {
		s.opts.Logger.Debug("conn: session reattached", slog.String("addr", s.addr))
	}
	return nil
}

// closeRemote runs CloseSession, best effort.
func (s *hs2Session) closeRemote(ctx context.Context) error {
	var resp *tcli.TCloseSessionResp
	err := s.rpc(ctx, "close session", false, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.CloseSession(ctx, &tcli.TCloseSessionReq{SessionHandle: s.handle})
		return err
	})
	if err != nil {
		return err
	}
	return s.statusError("close session", resp.Status, false)
}

func (s *hs2Session) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	w := s.cur()
	var err error
	idle := w.callMu.TryLock()
	if idle && s.handle != nil && w.alive() {
		// No call in flight and the connection works: say goodbye to
		// the coordinator.
		ctx, cancel := s.cleanupCtx()
		cli := newHS2Client(w)
		var resp *tcli.TCloseSessionResp
		_, err = w.callLocked(ctx, func(ctx context.Context) (err error) {
			resp, err = cli.CloseSession(ctx, &tcli.TCloseSessionReq{SessionHandle: s.handle})
			return err
		})
		cancel()
		if err != nil {
			err = &Error{Addr: s.addr, Op: OpCloseSession, Err: err}
		} else {
			err = s.statusError(OpCloseSession, resp.Status, false)
		}
		w.callMu.Unlock()
		_ = w.close() // the session is closed: err says how CloseSession went
		s.logClosed()
		return err
	}
	if idle {
		w.callMu.Unlock()
	}
	_ = w.close() // interrupts a call in flight; err comes from closeAfresh
	if s.handle != nil && !s.opts.AllowNonImpala {
		// The connection was cut (a proxy's idle timeout, a reset), broke
		// in a call, or had a call in flight: Impala keeps the session, and
		// what it runs, for disconnected_session_timeout. Close it from a
		// new connection, bounded by CancelTimeout.
		err = s.closeAfresh()
	}
	s.logClosed()
	return err
}

// closeAfresh closes the server session on a new connection to the same
// coordinator: CloseSession ends the session and cancels and closes its
// statements (ImpalaServer::CloseSessionInternal). A session the
// coordinator no longer knows is nothing left behind.
func (s *hs2Session) closeAfresh() error {
	ctx, cancel := s.cleanupCtx()
	defer cancel()
	w, err := s.redial(ctx)
	if err != nil {
		return &Error{Addr: s.addr, Op: OpCloseSession, Err: err}
	}
	defer func() { _ = w.close() }() // a connection for this one call
	cli := newHS2Client(w)
	var resp *tcli.TCloseSessionResp
	if _, err := w.call(ctx, func(ctx context.Context) (err error) {
		resp, err = cli.CloseSession(ctx, &tcli.TCloseSessionReq{SessionHandle: s.handle})
		return err
	}); err != nil {
		return &Error{Addr: s.addr, Op: OpCloseSession, Err: err}
	}
	if err := s.statusError(OpCloseSession, resp.Status, false); err != nil && !errors.Is(err, ErrSessionGone) {
		return err
	}
	return nil
}

func (s *hs2Session) logClosed() {
	if s.opts.Logger != nil {
		s.opts.Logger.Debug("conn: session closed", slog.String("addr", s.addr))
	}
}

// cleanupCtx is the short fresh context for clean-up after the caller's
// ctx ended.
func (s *hs2Session) cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.CancelTimeout)
}

// hs2Op is the HS2 half of an Operation.
type hs2Op struct {
	s    *hs2Session
	h    *tcli.TOperationHandle
	cols []Column
	// rd is the reader's state from batch to batch: the string block, and
	// the TIMESTAMP and DATE columns to decode into times as they are read
	// (SetDecodeTimes; none when off).
	rd timeDecoder
	// first is set while Execute fetches a query's first rows
	// (fetchFirst), bound to the FETCH_ROWS_TIMEOUT_MS the query carries
	// (boundFetch; 0: none).
	first bool
	bound time.Duration
	// abandoned is set once abandon cancelled and closed the operation:
	// a second call (the poll of fetch, then Next's abort) does nothing.
	abandoned bool
	// dml is the DML result the coordinator sent when the operation was
	// closed, if any.
	dml *impala.TDmlResult_
}

func (o *hs2Op) dmlResult() *impala.TDmlResult_ { return o.dml }

// setDecodeTimes turns on or off the decoding of the TIMESTAMP and DATE
// columns into times as they are read.
func (o *hs2Op) setDecodeTimes(on bool) {
	o.rd.cols = nil
	if on {
		o.rd.cols = newTimeDecoder(o.cols).cols
	}
}

// wait polls GetOperationStatus until the statement finished.
// maxBareErrorPolls bounds the polls made again when a statement is in
// ERROR_STATE but the server has not yet given its message.
const maxBareErrorPolls = 5

func (o *hs2Op) wait(ctx context.Context) error {
	s := o.s
	bo := backoff{min: s.opts.PollMin, max: s.opts.PollMax}
	progress := newProgressTicker(ctx)
	bare := 0 // ERROR_STATE answers seen without a message
	for {
		progress.tick(ctx, o.summary)
		if err := sleepCtx(ctx, bo.next()); err != nil {
			o.abandon()
			return &Error{Addr: s.addr, Op: "poll", Sent: true, Err: err}
		}
		var resp *tcli.TGetOperationStatusResp
		if err := s.rpc(ctx, "poll", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
			resp, err = c.GetOperationStatus(ctx, &tcli.TGetOperationStatusReq{OperationHandle: o.h})
			return err
		}); err != nil {
			o.abandonIf(ctx)
			return err
		}
		if err := s.statusError("poll", resp.Status, true); err != nil {
			return err
		}
		if resp.OperationState == nil {
			continue
		}
		switch st := *resp.OperationState; st {
		case tcli.TOperationState_FINISHED_STATE:
			return nil
		case tcli.TOperationState_INITIALIZED_STATE, tcli.TOperationState_RUNNING_STATE, tcli.TOperationState_PENDING_STATE:
			continue
		case tcli.TOperationState_ERROR_STATE:
			e := &Error{Addr: s.addr, Op: "execute", Sent: true, Err: ErrOperationFailed,
				Message: resp.GetErrorMessage(), SQLState: resp.GetSqlState(), Code: resp.GetErrorCode()}
			if e.Message == "" {
				e.Message = resp.Status.GetErrorMessage()
			}
			if e.Message == "" && e.SQLState == "" && bare < maxBareErrorPolls {
				// HiveServer2 (and Spark's) set the ERROR state a moment
				// before the exception that carries the message: ask
				// again rather than report an error that says nothing.
				bare++
				continue
			}
			e.Err = failure(e.Message)
			o.closeQuiet(ctx)
			return e
		case tcli.TOperationState_CANCELED_STATE:
			o.closeQuiet(ctx)
			return &Error{Addr: s.addr, Op: "execute", Sent: true, Err: ErrOperationCanceled, Message: resp.GetErrorMessage()}
		default:
			o.closeQuiet(ctx)
			return &Error{Addr: s.addr, Op: "execute", Sent: true, Err: ErrOperationFailed, Message: "operation state " + st.String()}
		}
	}
}

// fetchTimeoutOption is Impala's query option that bounds how long a fetch
// waits for rows (since Impala 3.4), defaultFetchTimeout its default.
const (
	fetchTimeoutOption  = "FETCH_ROWS_TIMEOUT_MS"
	defaultFetchTimeout = 10 * time.Second
)

// boundFetch returns the statement's query options with
// FETCH_ROWS_TIMEOUT_MS set so that the query's first fetch, still
// waiting at ctx's deadline, comes back (empty) by itself instead of
// being cut (its calls get boundedGrace), and the query is cancelled on
// the same connection rather than on a new one after a reattach; bound is
// the value set.
//
// Impala takes the option with the statement only (TFetchResultsReq has
// no timeout) and measures it from each fetch's arrival
// (ImpalaServer::FetchResults in be/src/service/impala-hs2-server.cc),
// while ExecuteStatement returns only after planning, which can take
// seconds: the bound is the time left minus the planning this session saw
// (hs2Session.planning), and Execute checks once ExecuteStatement returned
// that the fetch would still end by the deadline (boundHolds), and polls
// when not. A negative bound says the deadline is too close to leave any
// time after planning: poll.
//
// Only for coordinators that report Impala 4 or later (an older one may
// reject the option), when ctx's deadline is at most Impala's default wait
// away (the option also bounds how long a fetch waits to fill a batch: it
// is only ever made shorter, so rows that trickle in still come at least
// as often), and when nobody chose a value: the statement's options, the
// session's, a SET on this session. Otherwise bound is 0 and opts are as
// given.
func (s *hs2Session) boundFetch(ctx context.Context, opts map[string]string) (out map[string]string, bound time.Duration) {
	dl, ok := ctx.Deadline()
	if !ok || majorVersion(s.version) < 4 {
		return opts, 0
	}
	if s.st.chosen(fetchTimeoutOption) {
		return opts, 0
	}
	for k := range opts {
		if strings.EqualFold(k, fetchTimeoutOption) {
			return opts, 0
		}
	}
	left := time.Until(dl)
	if left <= 0 || left > defaultFetchTimeout {
		return opts, 0
	}
	bound = (left - s.planning).Truncate(time.Millisecond)
	if bound <= 0 {
		// 0 would mean no timeout at all to Impala.
		return opts, -1
	}
	out = make(map[string]string, len(opts)+1)
	maps.Copy(out, opts)
	out[fetchTimeoutOption] = strconv.FormatInt(bound.Milliseconds(), 10)
	return out, bound
}

// boundSlack is how far past ctx's deadline a bounded first fetch may be
// expected to answer and still be made (boundHolds): the round trip, and
// planning a little slower than the session saw before.
const boundSlack = 5 * time.Millisecond

// boundHolds reports whether a fetch sent now and held by the coordinator
// for bound (FETCH_ROWS_TIMEOUT_MS; negative: none could be set) answers
// by ctx's deadline, give or take boundSlack.
func boundHolds(ctx context.Context, bound time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && bound > 0 && !time.Now().Add(bound).After(dl.Add(boundSlack))
}

// majorVersion returns the first number of the first "N.M" in an Impala
// version string ("impalad version 4.4.0-RELEASE ..." gives 4), or 0.
func majorVersion(v string) int {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			continue
		}
		j := i
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j < len(v)-1 && v[j] == '.' && v[j+1] >= '0' && v[j+1] <= '9' {
			n, err := strconv.Atoi(v[i:j])
			if err != nil {
				return 0
			}
			return n
		}
		i = j
	}
	return 0
}

// fetchFirst ends Execute for a query on Impala without polling: it asks
// for the result metadata, which Impala has once the statement is planned,
// then fetches, and Impala holds a fetch until the first rows are ready
// (the moment a poll would see FINISHED) or fetch_rows_timeout_ms passes
// (the answer is empty and the fetch is repeated, as Next does). So
// Execute returns as soon as the rows are there, not up to a poll interval
// later, and in one call fewer. The batch waits in op for the first Next.
// A statement that fails while running fails this fetch; the error is the
// one a poll would have given (ErrOperationFailed, Op "execute").
//
// bound is the FETCH_ROWS_TIMEOUT_MS the query carries to end by ctx's
// deadline (boundFetch; 0: none): the coordinator then answers the fetch
// by the deadline, and that answer is waited for (boundedGrace) rather
// than the call cut. When it comes back empty with time left, but less
// than bound, another fetch would be held past the deadline: the status
// is polled until the rows are ready, or the deadline (see fetch).
func (o *hs2Op) fetchFirst(ctx context.Context, op *Operation, bound time.Duration) error {
	cols, err := o.columns(ctx)
	if err != nil {
		return err
	}
	op.cols, o.cols = cols, cols
	if len(cols) == 0 {
		// Nothing to fetch after all: wait as for any other statement.
		return o.wait(ctx)
	}
	fctx := ctx
	if bound > 0 {
		fctx = withGrace(ctx, boundedGrace)
	}
	o.first, o.bound = true, bound
	b, err := op.Next(fctx)
	o.first, o.bound = false, 0
	switch {
	case err == nil:
		op.pending = b
	case err == io.EOF: //nolint:errorlint // io.EOF itself is the end of the rows; a wrapped one is a broken connection
	default:
		// When ctx ended, Next has already cancelled and closed it.
		if ctx.Err() == nil && !o.s.Broken() {
			o.closeQuiet(ctx)
		}
		op.closed = true
		return err
	}
	return nil
}

// columns asks for the result metadata; when that fails, the operation is
// ended on the coordinator (abandoned if ctx ended, else closed).
func (o *hs2Op) columns(ctx context.Context) ([]Column, error) {
	cols, err := o.metadata(ctx)
	if err != nil {
		if ctx.Err() != nil {
			o.abandon()
		} else {
			o.closeQuiet(ctx)
		}
	}
	return cols, err
}

func (o *hs2Op) metadata(ctx context.Context) ([]Column, error) {
	var resp *tcli.TGetResultSetMetadataResp
	if err := o.s.rpc(ctx, "metadata", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.GetResultSetMetadata(ctx, &tcli.TGetResultSetMetadataReq{OperationHandle: o.h})
		return err
	}); err != nil {
		return nil, err
	}
	if err := o.s.statusError("metadata", resp.Status, true); err != nil {
		return nil, err
	}
	return columnsFromSchema(resp.Schema), nil
}

func (o *hs2Op) fetch(ctx context.Context, n int) (*Batch, bool, error) {
	var (
		resp  *tcli.TFetchResultsResp
		times []*timeData
	)
	dec := &o.rd
	dec.times = nil
	// The fetch that Execute makes for a query's first rows is part of
	// the statement's run: its failure is the statement's, as a poll's.
	op := OpFetch
	if o.first {
		op = OpExecute
	}
	if err := o.s.rpc(ctx, op, true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		// The generated c.FetchResults, with our reader for the reply.
		args := &tcli.TCLIServiceFetchResultsArgs{Req: &tcli.TFetchResultsReq{
			OperationHandle: o.h,
			Orientation:     tcli.TFetchOrientation_FETCH_NEXT,
			MaxRows:         int64(n),
		}}
		res := &fetchResult{lim: fetchLimits{rows: n, cols: len(o.cols), budget: o.s.opts.MaxReplyMemory}, dec: dec}
		if _, err := c.Client_().Call(ctx, "FetchResults", args, res); err != nil {
			return err
		}
		times = dec.times
		if resp = res.success; resp == nil {
			return thrift.NewTApplicationException(thrift.MISSING_RESULT, "FetchResults failed: unknown result")
		}
		return nil
	}); err != nil {
		return nil, false, err
	}
	if err := o.s.statusError(op, resp.Status, true); err != nil {
		return nil, false, err
	}
	more := resp.GetHasMoreRows()
	b, err := decodeRowSetTimes(resp.Results, o.cols, times)
	if err != nil {
		return nil, false, &Error{Addr: o.s.addr, Op: "fetch", Sent: true, Err: err}
	}
	if o.first && o.bound > 0 && b.Len() == 0 && more && !boundHolds(ctx, o.bound) {
		// The bounded first fetch came back before the deadline
		// (planning was quicker than the session saw) and the next would
		// be held past it: poll until the rows are ready, then fetch.
		if err := o.wait(ctx); err != nil {
			return nil, false, err
		}
	}
	if o.s.opts.AllowNonImpala {
		// HiveServer2 (and Spark's) always answers hasMoreRows=false;
		// its clients fetch until a batch comes back empty.
		more = b.Len() > 0
	}
	return b, more, nil
}

func (o *hs2Op) cancel(ctx context.Context) error {
	var resp *tcli.TCancelOperationResp
	if err := o.s.rpc(ctx, "cancel", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.CancelOperation(ctx, &tcli.TCancelOperationReq{OperationHandle: o.h})
		return err
	}); err != nil {
		return err
	}
	return o.s.statusError("cancel", resp.Status, true)
}

func (o *hs2Op) close(ctx context.Context) (int64, error) {
	if o.s.opts.AllowNonImpala {
		var resp *tcli.TCloseOperationResp
		if err := o.s.rpc(ctx, "close operation", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
			resp, err = c.CloseOperation(ctx, &tcli.TCloseOperationReq{OperationHandle: o.h})
			return err
		}); err != nil {
			return -1, err
		}
		return -1, o.s.statusError("close operation", resp.Status, true)
	}
	var resp *impala.TCloseImpalaOperationResp
	if err := o.s.rpc(ctx, "close operation", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.CloseImpalaOperation(ctx, &impala.TCloseImpalaOperationReq{OperationHandle: o.h})
		return err
	}); err != nil {
		return -1, err
	}
	if err := o.s.statusError("close operation", resp.Status, true); err != nil {
		return -1, err
	}
	o.dml = resp.DmlResult_
	return dmlRows(resp.DmlResult_), nil
}

// dmlRows is the row count of a DML result, summed over partitions, as
// impala-shell reports it (shell/impala_shell/impala_shell.py,
// _format_num_rows_report): the rows modified (inserted, updated, or
// deleted from a Kudu table), or, when none were and rows_deleted says
// some were, the rows deleted: an Iceberg DELETE writes position deletes
// and reports rows_modified 0 per partition (be/src/runtime/
// dml-exec-state.cc, ToTDmlResult). -1 without a result.
func dmlRows(dr *impala.TDmlResult_) int64 {
	if dr == nil {
		return -1
	}
	var modified, deleted int64
	for _, v := range dr.RowsModified {
		modified += v
	}
	for _, v := range dr.RowsDeleted {
		deleted += v
	}
	if modified == 0 && deleted > 0 {
		return deleted
	}
	return modified
}

// closeQuiet closes the operation after a failure, ignoring errors.
func (o *hs2Op) closeQuiet(ctx context.Context) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = o.s.cleanupCtx()
		defer cancel()
	}
	_, _ = o.close(ctx)
}

// abandonIf abandons the operation when the failure came from ctx.
func (o *hs2Op) abandonIf(ctx context.Context) {
	if ctx.Err() != nil {
		o.abandon()
	}
}

// abandon cancels and closes the operation on a fresh short deadline.
// When the interrupted call broke the connection, the session is first
// reattached on a new one (Impala keeps it), so the statement does not go
// on running on the coordinator.
func (o *hs2Op) abandon() {
	if o.abandoned {
		return
	}
	ctx, cancel := o.s.cleanupCtx()
	defer cancel()
	if o.s.Broken() {
		if err := o.s.Reattach(ctx); err != nil {
			return
		}
	}
	o.abandoned = true
	_ = o.cancel(ctx)
	_, _ = o.close(ctx)
}

// notImpala is the error of an Impala-only call under AllowNonImpala.
func (o *hs2Op) notImpala(op Op) error {
	return &Error{Addr: o.s.addr, Op: op, Sent: true, Err: fmt.Errorf("%w: %s is Impala's (Options.AllowNonImpala is set)", ErrNotImpala, op)}
}

func (o *hs2Op) summary(ctx context.Context) (*Summary, error) {
	if o.s.opts.AllowNonImpala {
		return nil, o.notImpala("summary")
	}
	var resp *impala.TGetExecSummaryResp
	if err := o.s.rpc(ctx, "summary", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.GetExecSummary(ctx, &impala.TGetExecSummaryReq{OperationHandle: o.h, SessionHandle: o.s.handle})
		return err
	}); err != nil {
		return nil, err
	}
	if err := o.s.statusError("summary", resp.Status, true); err != nil {
		return nil, err
	}
	return summaryFrom(resp.Summary), nil
}

func summaryFrom(es *impala.TExecSummary) *Summary {
	if es == nil {
		return &Summary{}
	}
	out := &Summary{
		State:        es.State.String(),
		Queued:       es.GetIsQueued(),
		QueuedReason: es.GetQueuedReason(),
		Nodes:        len(es.Nodes),
		ErrorLogs:    es.ErrorLogs,
	}
	if p := es.Progress; p != nil {
		out.TotalScanRanges = p.GetTotalScanRanges()
		out.CompletedScanRanges = p.GetNumCompletedScanRanges()
	}
	if es.Nodes != nil {
		out.Plan = make([]PlanNode, 0, len(es.Nodes))
		for _, n := range es.Nodes {
			if n == nil {
				continue
			}
			pn := PlanNode{ID: int(n.NodeID), Fragment: int(n.FragmentIdx), Label: n.Label, Detail: n.GetLabelDetail(),
				HasDetail: n.IsSetLabelDetail(), Children: int(n.NumChildren), Hosts: -1}
			if n.IsSetNumHosts() {
				pn.Hosts = int(n.GetNumHosts())
			}
			if n.EstimatedStats != nil {
				st := nodeStatsFrom(n.EstimatedStats)
				pn.Estimated = &st
			}
			for _, st := range n.ExecStats {
				if st != nil {
					pn.Instances = append(pn.Instances, nodeStatsFrom(st))
				}
			}
			out.Plan = append(out.Plan, pn)
		}
	}
	if len(es.ExchToSenderMap) > 0 {
		out.ExchangeSenders = make(map[int]int, len(es.ExchToSenderMap))
		for k, v := range es.ExchToSenderMap {
			out.ExchangeSenders[int(k)] = int(v)
		}
	}
	return out
}

// nodeStatsFrom copies a plan node's figures, -1 for those not sent.
func nodeStatsFrom(st *impala.TExecStats) NodeStats {
	get := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	return NodeStats{LatencyNs: get(st.LatencyNs), CPUTimeNs: get(st.CPUTimeNs), Cardinality: get(st.Cardinality), MemoryUsed: get(st.MemoryUsed)}
}

func (o *hs2Op) profile(ctx context.Context) (string, error) {
	if o.s.opts.AllowNonImpala {
		return "", o.notImpala("profile")
	}
	var resp *impala.TGetRuntimeProfileResp
	if err := o.s.rpc(ctx, "profile", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		f := impala.TRuntimeProfileFormat_STRING
		resp, err = c.GetRuntimeProfile(ctx, &impala.TGetRuntimeProfileReq{OperationHandle: o.h, SessionHandle: o.s.handle, Format: f})
		return err
	}); err != nil {
		return "", err
	}
	if err := o.s.statusError("profile", resp.Status, true); err != nil {
		return "", err
	}
	return resp.GetProfile(), nil
}

func (o *hs2Op) log(ctx context.Context) (string, error) {
	var resp *tcli.TGetLogResp
	if err := o.s.rpc(ctx, "log", true, func(ctx context.Context, c *impala.ImpalaHiveServer2ServiceClient) (err error) {
		resp, err = c.GetLog(ctx, &tcli.TGetLogReq{OperationHandle: o.h})
		return err
	}); err != nil {
		return "", err
	}
	if err := o.s.statusError("log", resp.Status, true); err != nil {
		return "", err
	}
	return resp.Log, nil
}
