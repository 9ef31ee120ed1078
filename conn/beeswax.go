package conn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// beeswaxSession is a Session over beeswax. The coordinator binds the
// session to the connection; query options live here and go with every
// query.
type beeswaxSession struct {
	opts    *Options
	addr    string
	version string
	web     string // the web server URL the coordinator reported
	w       *wire
	cli     *impala.ImpalaServiceClient
	closed  atomic.Bool

	// st is the session's database and query options (state.go). Beeswax
	// keeps the options on the client and sends them with every query.
	// Used by the goroutine using the session.
	st *tracker
}

func dialBeeswax(ctx context.Context, addr string, o *Options) (*beeswaxSession, error) {
	w, err := dialWire(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	s := &beeswaxSession{opts: o, addr: addr, w: w, cli: impala.NewImpalaServiceClient(w.client), st: newTracker(o)}
	if err := s.ping(ctx, "open session"); err != nil {
		_ = w.close() // the ping's error is the one returned
		return nil, nosaslHint(err, o)
	}
	if o.Database != "" {
		// The connection starts in "default": what the session was
		// opened with is the state to come back to.
		if err := s.run(ctx, "USE "+quoteIdent(o.Database)); err != nil {
			_ = w.close() // the USE's error is the one returned
			return nil, err
		}
		s.st = newTracker(o)
	}
	return s, nil
}

// run runs a statement of the session's own (a USE of Dial, Reset or a
// move) and closes it.
func (s *beeswaxSession) run(ctx context.Context, stmt string) error {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return err
	}
	return op.Close(ctx)
}

// rpc runs one call and wraps a failure in *Error, keeping what a
// BeeswaxException carries.
func (s *beeswaxSession) rpc(ctx context.Context, op Op, sent bool, fn func(context.Context, *impala.ImpalaServiceClient) error) error {
	if s.closed.Load() {
		return &Error{Addr: s.addr, Op: op, Sent: sent, Err: ErrSessionClosed}
	}
	wrote, err := s.w.call(ctx, func(ctx context.Context) error { return fn(ctx, s.cli) })
	if err == nil {
		return nil
	}
	e := &Error{Addr: s.addr, Op: op, Sent: sent || (op == "execute" && wrote), Err: err}
	if s.closed.Load() && !errors.Is(err, ErrSessionClosed) {
		e.Err = fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	var be *beeswax.BeeswaxException
	var qe *beeswax.QueryNotFoundException
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		// A BeeswaxException of a call whose IDL does not declare it
		// (get_state, get_results_metadata, get_log) comes as its text.
		if u, ok := undeclaredBeeswax(ae); ok {
			be = u
		}
	}
	switch {
	case be != nil || errors.As(err, &be):
		e.Message, e.SQLState, e.Code = be.Message, strings.TrimSpace(be.SQLState), be.ErrorCode
		e.Err = failure(be.Message)
		if op == OpExecute {
			e.Sent = true
		}
		if r := refusal(be.Message); r != nil {
			// Refused before it ran (beeswax's query checks the shutdown
			// first, be/src/service/impala-beeswax-server.cc).
			e.Err = r
			if op == OpExecute {
				e.Sent = false
			}
		}
	case errors.As(err, &qe):
		e.Message = "query not found"
		e.Err = ErrOperationFailed
	case errors.As(err, &ae) && ae.TypeId() == thrift.UNKNOWN_METHOD:
		e.Err = fmt.Errorf("%w: %w", ErrNotImpala, err)
	}
	return e
}

// undeclaredPrefix starts the text of a BeeswaxException that Impala
// raised in a call whose IDL declares only QueryNotFoundException
// (get_state, get_results_metadata, get_log): Thrift's C++ processor
// answers it as a TApplicationException (type UNKNOWN) carrying the
// exception's what(), "TException - service has thrown: " and its
// printTo: "BeeswaxException(message=..., log_context=...,
// handle=QueryHandle(id=..., log_context=...), errorCode=N,
// SQLState=...)" (RaiseBeeswaxException in be/src/service/
// impala-beeswax-server.cc sets message and SQLState).
const undeclaredPrefix = "TException - service has thrown: BeeswaxException(message="

// undeclaredBeeswax returns the BeeswaxException that ae carries as text,
// and false when it carries none. The fields after the message are found
// from the end, so a message holding any text is kept whole.
func undeclaredBeeswax(ae thrift.TApplicationException) (*beeswax.BeeswaxException, bool) {
	if ae.TypeId() != thrift.UNKNOWN_APPLICATION_EXCEPTION {
		return nil, false
	}
	return parseUndeclaredBeeswax(ae.Error())
}

func parseUndeclaredBeeswax(text string) (*beeswax.BeeswaxException, bool) {
	rest, ok := strings.CutPrefix(text, undeclaredPrefix)
	if !ok {
		return nil, false
	}
	rest, ok = strings.CutSuffix(rest, ")")
	if !ok {
		return nil, false
	}
	cut := func(sep string) (string, bool) {
		i := strings.LastIndex(rest, sep)
		if i < 0 {
			return "", false
		}
		v := rest[i+len(sep):]
		rest = rest[:i]
		return v, true
	}
	sqlState, ok1 := cut(", SQLState=")
	code, ok2 := cut(", errorCode=")
	_, ok3 := cut(", handle=QueryHandle(")
	logCtx, ok4 := cut(", log_context=")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, false
	}
	be := &beeswax.BeeswaxException{Message: rest, LogContext: beeswax.LogContextId(logCtx)}
	if sqlState != "<null>" {
		be.SQLState = sqlState
	}
	if n, err := strconv.ParseInt(code, 10, 32); err == nil {
		be.ErrorCode = int32(n)
	}
	return be, true
}

func (s *beeswaxSession) ping(ctx context.Context, op Op) error {
	var resp *impala.TPingImpalaServiceResp
	if err := s.rpc(ctx, op, false, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		resp, err = c.PingImpalaService(ctx)
		return err
	}); err != nil {
		return err
	}
	if op == "open session" && resp != nil {
		s.version = resp.Version
		s.web = resp.WebserverAddress
	}
	return nil
}

func (s *beeswaxSession) Addr() string          { return s.addr }
func (s *beeswaxSession) Protocol() Protocol    { return Beeswax }
func (s *beeswaxSession) ServerVersion() string { return s.version }
func (s *beeswaxSession) WebServer() string     { return s.web }
func (s *beeswaxSession) ProtocolVersion() int  { return 0 }
func (s *beeswaxSession) NeedsReset() bool      { return s.st.dirty.Load() }
func (s *beeswaxSession) state() *tracker       { return s.st }
func (s *beeswaxSession) Alive() bool           { return !s.closed.Load() && s.w.alive() }
func (s *beeswaxSession) Broken() bool          { return s.w.broken.Load() }
func (s *beeswaxSession) isClosed() bool        { return s.closed.Load() }
func (s *beeswaxSession) Ping(ctx context.Context) error {
	return s.ping(ctx, "ping")
}

// CanReattach reports false: beeswax keeps no session state that outlives
// its connection, so a pool should replace a cut beeswax session at once
// rather than count on Reattach.
func (s *beeswaxSession) CanReattach() bool { return false }

func (s *beeswaxSession) Reattach(context.Context) error {
	return &Error{Addr: s.addr, Op: "reattach", Err: ErrReattachUnsupported}
}

func (s *beeswaxSession) Reset(ctx context.Context) error {
	if !s.st.dirty.Load() {
		return nil
	}
	return s.st.apply(ctx, s.st.base, false, s.run)
}

func (s *beeswaxSession) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// Beeswax has no call that closes a session: the coordinator closes it
	// with the connection, cancelling what still runs in it.
	return s.w.close()
}

// configuration renders the session's options overlaid with the
// statement's as beeswax's "key=value" list, in a stable order. Impala
// parses each entry with ParseQueryOptions (be/src/service/query-options.cc):
// it splits at commas outside double quotes and at '=', and keeps quotes,
// so a value holding ',' or '=' cannot be sent; it is refused here rather
// than sent as another value.
func (s *beeswaxSession) configuration(extra map[string]string) ([]string, error) {
	m := s.st.cur.opts
	if len(extra) > 0 {
		m = maps.Clone(m)
		for k, v := range extra {
			m[strings.ToLower(k)] = v
		}
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		if strings.ContainsAny(k+v, ",=\"") {
			return nil, fmt.Errorf("conn: query option %s: beeswax cannot carry a value with ',', '=' or '\"' (Impala splits the option list at them); use HS2", k)
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

func (s *beeswaxSession) Execute(ctx context.Context, stmt string, opts map[string]string) (*Operation, error) {
	if s.closed.Load() {
		return nil, &Error{Addr: s.addr, Op: "execute", Err: ErrSessionClosed}
	}
	c := classify(stmt)
	op := &Operation{addr: s.addr, fetchSize: s.opts.FetchSize, pollMin: s.opts.PollMin, pollMax: s.opts.PollMax, rows: -1}
	if c.kind == stmtSet || c.kind == stmtUnsetAll {
		return s.setLocal(c, op)
	}
	h, err := s.query(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	bo := &beeswaxOp{s: s, h: h, dml: c.kind == stmtDML}
	op.impl = bo
	op.queryID = h.ID
	started(ctx, s.addr, op.queryID)
	// Count the session as changed from here, whatever happens next.
	s.st.begin(c)
	if err := bo.wait(ctx); err != nil {
		return nil, tagQuery(err, op.queryID)
	}
	s.st.done(c)
	if err := bo.describe(ctx, op); err != nil {
		return nil, tagQuery(err, op.queryID)
	}
	return op, nil
}

// setLocal runs a SET or UNSET ALL, c, on the client: over beeswax, query
// options stay here and go with every query. op comes back with nothing
// to read.
func (s *beeswaxSession) setLocal(c classified, op *Operation) (*Operation, error) {
	// SET k='' drops k, which is then the server's default.
	if c.kind == stmtSet && c.value != "" {
		if _, err := s.configuration(map[string]string{c.key: c.value}); err != nil {
			return nil, &Error{Addr: s.addr, Op: OpExecute, Err: err}
		}
	}
	s.st.done(c)
	op.impl = noopOp{}
	return op, nil
}

// query sends stmt with the session's query options and opts, and
// returns its handle (never nil).
func (s *beeswaxSession) query(ctx context.Context, stmt string, opts map[string]string) (*beeswax.QueryHandle, error) {
	conf, err := s.configuration(opts)
	if err != nil {
		return nil, &Error{Addr: s.addr, Op: OpExecute, Err: err}
	}
	q := &beeswax.Query{Query: stmt, Configuration: conf, HadoopUser: s.opts.User}
	var h *beeswax.QueryHandle
	if err := s.rpc(ctx, "execute", false, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		h, err = c.Query(ctx, q)
		return err
	}); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, &Error{Addr: s.addr, Op: "execute", Sent: true, Err: fmt.Errorf("%w: no query handle", ErrNotImpala)}
	}
	return h, nil
}

// describe reads the result metadata of the finished statement into op
// (its columns, and whether it has rows). When that fails the statement
// is closed, or abandoned when ctx ended.
func (o *beeswaxOp) describe(ctx context.Context, op *Operation) error {
	var md *beeswax.ResultsMetadata
	if err := o.s.rpc(ctx, "metadata", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		md, err = c.GetResultsMetadata(ctx, o.h)
		return err
	}); err != nil {
		if ctx.Err() != nil {
			o.abandon()
		} else {
			o.closeQuiet(ctx)
		}
		return err
	}
	if md == nil || md.Schema == nil || len(md.Schema.FieldSchemas) == 0 {
		return nil
	}
	cols := make([]Column, len(md.Schema.FieldSchemas))
	for i, f := range md.Schema.FieldSchemas {
		if f == nil {
			cols[i] = Column{Type: TypeOther, TypeName: "OTHER", Nullable: true}
			continue
		}
		cols[i] = columnFromTypeName(f.Name, f.Type)
	}
	op.cols, o.cols, op.hasResults = cols, cols, true
	o.delim = md.Delim
	return nil
}

// beeswaxOp is the beeswax half of an Operation.
type beeswaxOp struct {
	s      *beeswaxSession
	h      *beeswax.QueryHandle
	dml    bool
	cols   []Column
	delim  string
	dmlRes *impala.TDmlResult_ // CloseInsert's answer
}

func (o *beeswaxOp) dmlResult() *impala.TDmlResult_ { return o.dmlRes }

func (o *beeswaxOp) wait(ctx context.Context) error {
	s := o.s
	bo := backoff{min: s.opts.PollMin, max: s.opts.PollMax}
	progress := newProgressTicker(ctx)
	for {
		progress.tick(ctx, o.summary)
		if err := sleepCtx(ctx, bo.next()); err != nil {
			o.abandon()
			return &Error{Addr: s.addr, Op: "poll", Sent: true, Err: err}
		}
		var st beeswax.QueryState
		if err := s.rpc(ctx, "poll", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
			st, err = c.GetState(ctx, o.h)
			return err
		}); err != nil {
			o.abandonIf(ctx)
			return err
		}
		switch st {
		case beeswax.QueryState_FINISHED:
			return nil
		case beeswax.QueryState_EXCEPTION:
			e := &Error{Addr: s.addr, Op: "execute", Sent: true, Err: ErrOperationFailed}
			_ = s.rpc(ctx, "log", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
				e.Message, err = c.GetLog(ctx, o.h.LogContext)
				return err
			})
			if e.Message == "" {
				e.Message = "query failed"
			}
			e.Err = failure(e.Message)
			o.closeQuiet(ctx)
			return e
		}
	}
}

func (o *beeswaxOp) fetch(ctx context.Context, n int) (*Batch, bool, error) {
	var r *beeswax.Results
	if err := o.s.rpc(ctx, "fetch", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		// The generated c.Fetch, with a reader that holds the reply to
		// the rows asked for.
		args := &beeswax.BeeswaxServiceFetchArgs{QueryID: o.h, StartOver: false, FetchSize: int32(n)}
		res := &beeswaxFetchResult{size: n}
		if _, err := c.Client_().Call(ctx, "fetch", args, res); err != nil {
			return err
		}
		switch {
		case res.Error != nil:
			return res.Error
		case res.Error2 != nil:
			return res.Error2
		case res.Success == nil:
			return thrift.NewTApplicationException(thrift.MISSING_RESULT, "fetch failed: unknown result")
		}
		r = res.Success
		return nil
	}); err != nil {
		return nil, false, err
	}
	if !r.Ready {
		return &Batch{meta: o.cols}, true, nil
	}
	if o.s.opts.BeeswaxText {
		return &Batch{meta: o.cols, n: len(r.Data), text: r.Data}, r.HasMore, nil
	}
	b, err := decodeTextRows(r.Data, o.cols, o.delim, o.s.opts.MaxReplyMemory)
	if err != nil {
		return nil, false, &Error{Addr: o.s.addr, Op: "fetch", Sent: true, Err: err}
	}
	return b, r.HasMore, nil
}

// beeswaxFetchResult is the result struct of beeswax's fetch, read with
// the rows of the reply held to the fetch's size: more is a protocol
// error, raised at the list's header.
type beeswaxFetchResult struct {
	beeswax.BeeswaxServiceFetchResult
	size int
}

func (r *beeswaxFetchResult) Read(ctx context.Context, p thrift.TProtocol) error {
	return readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		if t != thrift.STRUCT {
			return false, nil
		}
		switch id {
		case 0:
			r.Success = &beeswax.Results{}
			return true, readBeeswaxResults(ctx, p, r.Success, r.size)
		case 1:
			r.Error = &beeswax.QueryNotFoundException{}
			return true, r.Error.Read(ctx, p)
		case 2:
			r.Error2 = &beeswax.BeeswaxException{}
			return true, r.Error2.Read(ctx, p)
		}
		return false, nil
	})
}

// readBeeswaxResults reads a Results struct whose data may hold at most
// size rows.
func readBeeswaxResults(ctx context.Context, p thrift.TProtocol, r *beeswax.Results, size int) error {
	strs := func(max int) ([]string, error) {
		return readList(ctx, p, func(n int) error {
			if n > max {
				return badBatch(fmt.Errorf("%w: %d rows, more than the %d the fetch asked for", ErrBadRowSet, n, max))
			}
			return nil
		}, func() (string, error) { return p.ReadString(ctx) })
	}
	return readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.BOOL:
			r.Ready, err = p.ReadBool(ctx)
		case id == 2 && t == thrift.LIST:
			r.Columns, err = strs(math.MaxInt32)
		case id == 3 && t == thrift.LIST:
			r.Data, err = strs(size)
		case id == 4 && t == thrift.I64:
			r.StartRow, err = p.ReadI64(ctx)
		case id == 5 && t == thrift.BOOL:
			r.HasMore, err = p.ReadBool(ctx)
		default:
			return false, nil
		}
		return true, err
	})
}

func (o *beeswaxOp) cancel(ctx context.Context) error {
	var st *impala.TStatus
	if err := o.s.rpc(ctx, "cancel", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		st, err = c.Cancel(ctx, o.h)
		return err
	}); err != nil {
		return err
	}
	if st != nil && st.StatusCode != impala.TErrorCode_OK {
		return &Error{Addr: o.s.addr, Op: "cancel", Sent: true, Err: ErrRemote, Message: strings.Join(st.ErrorMsgs, "; ")}
	}
	return nil
}

func (o *beeswaxOp) close(ctx context.Context) (int64, error) {
	if o.dml {
		var dr *impala.TDmlResult_
		if err := o.s.rpc(ctx, "close operation", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
			dr, err = c.CloseInsert(ctx, o.h)
			return err
		}); err != nil {
			return -1, err
		}
		o.dmlRes = dr
		return dmlRows(dr), nil
	}
	err := o.s.rpc(ctx, "close operation", true, func(ctx context.Context, c *impala.ImpalaServiceClient) error {
		return c.Close(ctx, o.h)
	})
	return -1, err
}

func (o *beeswaxOp) closeQuiet(ctx context.Context) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), o.s.opts.CancelTimeout)
		defer cancel()
	}
	_, _ = o.close(ctx)
}

func (o *beeswaxOp) abandonIf(ctx context.Context) {
	if ctx.Err() != nil {
		o.abandon()
	}
}

// abandon cancels and closes the query on a fresh short deadline. When the
// interrupted call broke the connection there is nothing to send on: the
// coordinator cancels the queries of a beeswax session whose connection
// closed.
func (o *beeswaxOp) abandon() {
	if o.s.Broken() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.s.opts.CancelTimeout)
	defer cancel()
	_ = o.cancel(ctx)
	_, _ = o.close(ctx)
}

func (o *beeswaxOp) summary(ctx context.Context) (*Summary, error) {
	var es *impala.TExecSummary
	if err := o.s.rpc(ctx, "summary", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		es, err = c.GetExecSummary(ctx, o.h)
		return err
	}); err != nil {
		return nil, err
	}
	return summaryFrom(es), nil
}

func (o *beeswaxOp) profile(ctx context.Context) (string, error) {
	var p string
	err := o.s.rpc(ctx, "profile", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		p, err = c.GetRuntimeProfile(ctx, o.h)
		return err
	})
	return p, err
}

func (o *beeswaxOp) log(ctx context.Context) (string, error) {
	var l string
	err := o.s.rpc(ctx, "log", true, func(ctx context.Context, c *impala.ImpalaServiceClient) (err error) {
		l, err = c.GetLog(ctx, o.h.LogContext)
		return err
	})
	return l, err
}

// noopOp is the Operation of a statement handled on the client (a beeswax
// SET): no rows, nothing to cancel or close.
type noopOp struct{}

func (noopOp) fetch(context.Context, int) (*Batch, bool, error) { return &Batch{}, false, nil }
func (noopOp) cancel(context.Context) error                     { return nil }
func (noopOp) close(context.Context) (int64, error)             { return -1, nil }
func (noopOp) summary(context.Context) (*Summary, error)        { return &Summary{State: "FINISHED"}, nil }
func (noopOp) profile(context.Context) (string, error)          { return "", nil }
func (noopOp) log(context.Context) (string, error)              { return "", nil }
func (noopOp) abandon()                                         {}
