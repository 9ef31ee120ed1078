package impalad

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// beeswaxHandler serves beeswax's ImpalaService (be/src/service/
// impala-beeswax-server.cc). Each connection has one session, opened with
// the connection and closed with it, as in Impala.
type beeswaxHandler struct{ co *Coordinator }

var _ impala.ImpalaService = (*beeswaxHandler)(nil)

// SQLSTATEs of ImpalaServer (be/src/service/impala-server.cc).
const (
	sqlStateGeneral        = "HY000"
	sqlStateSyntax         = "42000" // SQLSTATE_SYNTAX_ERROR_OR_ACCESS_VIOLATION
	sqlStateNotImplemented = "HYC00" // SQLSTATE_OPTIONAL_FEATURE_NOT_IMPLEMENTED
)

// bzRaise is ImpalaServer::RaiseBeeswaxException: message as given,
// wrapped as QUERY_ERROR_FORMAT when the call is about query id.
func bzRaise(msg, id, sqlState string) *beeswax.BeeswaxException {
	if id != "" {
		msg = "Query " + id + " failed:\n" + msg + "\n"
	}
	return &beeswax.BeeswaxException{Message: msg, SQLState: sqlState}
}

// bzError is RAISE_IF_ERROR: the status's detail (its message and a
// newline), about query id when not empty.
func bzError(e *sqlError, id, sqlState string) *beeswax.BeeswaxException {
	return bzRaise(e.msg+"\n", id, sqlState)
}

// undeclaredError is a BeeswaxException raised by a call whose IDL
// declares only QueryNotFoundException (get_state, get_results_metadata):
// Thrift's C++ processor answers it as a TApplicationException (type
// UNKNOWN) carrying the exception's what(), "TException - service has
// thrown: BeeswaxException(...)" (see bzUndeclaredProcessor).
type undeclaredError struct{ bz *beeswax.BeeswaxException }

func (u *undeclaredError) Error() string {
	bz := u.bz
	return fmt.Sprintf("TException - service has thrown: BeeswaxException(message=%s, log_context=%s, handle=QueryHandle(id=, log_context=), errorCode=%d, SQLState=%s)",
		bz.Message, bz.LogContext, bz.ErrorCode, bz.SQLState)
}

// parseID turns Impala's "hi:lo" text id into the 16-byte key.
func parseID(id string) ([16]byte, bool) {
	var k [16]byte
	hi, lo, ok := strings.Cut(id, ":")
	if !ok || len(hi) != 16 || len(lo) != 16 {
		return k, false
	}
	h, err1 := hex.DecodeString(hi)
	l, err2 := hex.DecodeString(lo)
	if err1 != nil || err2 != nil {
		return k, false
	}
	binary.LittleEndian.PutUint64(k[:8], binary.BigEndian.Uint64(h))
	binary.LittleEndian.PutUint64(k[8:], binary.BigEndian.Uint64(l))
	return k, true
}

// bzSessionLocked returns the connection's beeswax session, checked.
func (co *Coordinator) bzSessionLocked(ctx context.Context) (*session, *sqlError) {
	sc := connFrom(ctx)
	if sc == nil || sc.bz == nil {
		return nil, &sqlError{msg: "Invalid session id", sqlState: sqlStateGeneral}
	}
	if err := co.touchSessionLocked(sc, sc.bz); err != nil {
		return nil, err
	}
	return sc.bz, nil
}

// bzAnyOpLocked is bzOpLocked that also finds recently closed queries.
func (co *Coordinator) bzAnyOpLocked(ctx context.Context, h *beeswax.QueryHandle) (*operation, *sqlError) {
	op, err := co.bzOpLocked(ctx, h)
	if err == nil || h == nil {
		return op, err
	}
	if key, ok := parseID(h.ID); ok {
		if a, ok := co.archive[key]; ok {
			return a, nil
		}
	}
	return nil, err
}

// bzOpLocked finds a beeswax query by handle (GetActiveQueryHandle): an
// unknown one is INVALID_QUERY_HANDLE, one QUERY_TIMEOUT_S unregistered
// reports the status it ended with.
func (co *Coordinator) bzOpLocked(ctx context.Context, h *beeswax.QueryHandle) (*operation, *sqlError) {
	if h == nil {
		return nil, &sqlError{msg: "Invalid or unknown query handle: .", sqlState: sqlStateGeneral}
	}
	key, ok := parseID(h.ID)
	op := co.ops[key]
	if !ok || op == nil {
		if msg, found := co.interrupted[key]; ok && found {
			return nil, &sqlError{msg: msg, sqlState: sqlStateGeneral}
		}
		return nil, &sqlError{msg: "Invalid or unknown query handle: " + h.ID + ".", sqlState: sqlStateGeneral}
	}
	if err := co.touchSessionLocked(connFrom(ctx), op.sess); err != nil {
		return nil, err
	}
	op.lastActive = time.Now()
	return op, nil
}

// startQuery is query and executeAndWait up to the query's registration.
func (b *beeswaxHandler) startQuery(ctx context.Context, q *beeswax.Query) (*operation, error) {
	co := b.co
	co.mu.Lock()
	// beeswax's query and executeAndWait check the shutdown first
	// (impala-beeswax-server.cc).
	err := co.checkNotShuttingDownLocked()
	if err == nil {
		_, err = co.bzSessionLocked(ctx)
	}
	co.mu.Unlock()
	if err != nil {
		return nil, bzError(err, "", sqlStateGeneral)
	}
	co.plan(ctx)
	co.mu.Lock()
	defer co.mu.Unlock()
	s, err := co.bzSessionLocked(ctx)
	if err != nil {
		return nil, bzError(err, "", sqlStateGeneral)
	}
	if q == nil {
		return nil, bzRaise("empty query", "", sqlStateGeneral)
	}
	if s.user == "" {
		s.user = q.HadoopUser
	}
	// QueryToTQueryContext: every "key=value" of the configuration is a
	// query option (ParseQueryOptions); a bad one fails the call.
	overlay := map[string]string{}
	for _, kv := range q.Configuration {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, bzError(invalidOption(kv), "", sqlStateGeneral)
		}
		overlay[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	op, id, err := co.executeLocked(s, q.Query, overlay)
	if err != nil {
		state := sqlStateGeneral
		if id != "" {
			// Execute's failures (parse and analysis): raised before the
			// query id is in the thread's context.
			state = sqlStateSyntax
		}
		return nil, bzError(err, "", state)
	}
	return op, nil
}

func bzHandle(op *operation) *beeswax.QueryHandle {
	return &beeswax.QueryHandle{ID: op.id, LogContext: beeswax.LogContextId(op.id)}
}

func (b *beeswaxHandler) Query(ctx context.Context, q *beeswax.Query) (*beeswax.QueryHandle, error) {
	if err := b.co.faults.enter(ctx, "query"); err != nil {
		return nil, err
	}
	op, err := b.startQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	return bzHandle(op), nil
}

func (b *beeswaxHandler) ExecuteAndWait(ctx context.Context, q *beeswax.Query, clientCtx beeswax.LogContextId) (*beeswax.QueryHandle, error) {
	if err := b.co.faults.enter(ctx, "executeAndWait"); err != nil {
		return nil, err
	}
	op, err := b.startQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	b.co.waitReady(ctx, op, -1)
	b.co.mu.Lock()
	defer b.co.mu.Unlock()
	if op.stateLocked(time.Now()) == opError {
		b.co.closeOpLocked(op)
		return nil, bzRaise(op.failMsg+"\n", op.id, sqlStateGeneral)
	}
	h := bzHandle(op)
	if clientCtx != "" {
		h.LogContext = clientCtx
	}
	return h, nil
}

func (b *beeswaxHandler) Explain(ctx context.Context, q *beeswax.Query) (*beeswax.QueryExplanation, error) {
	if err := b.co.faults.enter(ctx, "explain"); err != nil {
		return nil, err
	}
	if err := b.co.checkNotShuttingDown(); err != nil {
		return nil, bzError(err, "", sqlStateGeneral)
	}
	if q == nil {
		return nil, bzRaise("empty query", "", sqlStateGeneral)
	}
	if _, err := parse(q.Query); err != nil {
		return nil, bzError(err, "", sqlStateSyntax)
	}
	return &beeswax.QueryExplanation{Textual: "Max Per-Host Resource Reservation: Memory=0B Threads=1\n\nPLAN-ROOT SINK\n|\n00:UNION\n"}, nil
}

// beeswaxTypeName is ColumnTypeToBeeswaxTypeString (TypeToOdbcString in
// be/src/runtime/types.cc): the type's name without its parameters,
// VARCHAR reported as string.
func beeswaxTypeName(t Type) string {
	if t.Kind == Varchar {
		return "string"
	}
	return t.Kind.String()
}

func (b *beeswaxHandler) Fetch(ctx context.Context, h *beeswax.QueryHandle, startOver bool, fetchSize int32) (*beeswax.Results, error) {
	if err := b.co.faults.enter(ctx, "fetch"); err != nil {
		return nil, err
	}
	co := b.co
	if startOver {
		return nil, bzRaise("Does not support start over", "", sqlStateNotImplemented)
	}
	id := ""
	if h != nil {
		id = h.ID
	}
	co.mu.Lock()
	op, err := co.bzOpLocked(ctx, h)
	var done func()
	if err == nil {
		done = co.touchOpLocked(op)
	}
	co.mu.Unlock()
	if err != nil {
		return nil, bzError(err, id, sqlStateGeneral)
	}
	defer done()
	notReady := func() *beeswax.Results {
		return &beeswax.Results{Ready: false, Columns: []string{}, Data: []string{}, StartRow: 0, HasMore: true}
	}
	if !co.waitReady(ctx, op, co.fetchWait(op.opts)) {
		return notReady(), nil
	}
	if op.res != nil && co.faults.takeEmptyFetch() {
		return notReady(), nil
	}
	from, to, more, err := co.fetchRange(op, int64(fetchSize))
	if err != nil {
		return nil, bzError(err, id, sqlStateGeneral)
	}
	// FetchInternal: Results.columns carries the column types (ODBC-190).
	res := &beeswax.Results{Ready: true, Columns: []string{}, Data: []string{}, StartRow: from, HasMore: more}
	if op.res != nil {
		for _, c := range op.res.schema() {
			res.Columns = append(res.Columns, beeswaxTypeName(c.Type))
		}
		if err := co.encodeRows(op, func() { res.Data = textRows(op.res, from, to) }); err != nil {
			return nil, bzError(err, id, sqlStateGeneral)
		}
	}
	return res, nil
}

func (b *beeswaxHandler) GetState(ctx context.Context, h *beeswax.QueryHandle) (beeswax.QueryState, error) {
	if err := b.co.faults.enter(ctx, "get_state"); err != nil {
		return 0, err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	if _, err := co.bzSessionLocked(ctx); err != nil {
		return 0, &undeclaredError{bzError(err, "", sqlStateGeneral)}
	}
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		if h != nil {
			if key, ok := parseID(h.ID); ok && co.interrupted[key] != "" {
				// An error status other than INVALID_QUERY_HANDLE: EXCEPTION.
				return beeswax.QueryState_EXCEPTION, nil
			}
		}
		id := ""
		if h != nil {
			id = h.ID
		}
		return 0, &undeclaredError{bzError(err, id, sqlStateGeneral)}
	}
	switch op.stateLocked(time.Now()) {
	case opRunning:
		return beeswax.QueryState_RUNNING, nil
	case opFinished:
		return beeswax.QueryState_FINISHED, nil
	}
	return beeswax.QueryState_EXCEPTION, nil
}

func (b *beeswaxHandler) GetResultsMetadata(ctx context.Context, h *beeswax.QueryHandle) (*beeswax.ResultsMetadata, error) {
	if err := b.co.faults.enter(ctx, "get_results_metadata"); err != nil {
		return nil, err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	if _, err := co.bzSessionLocked(ctx); err != nil {
		return nil, &undeclaredError{bzError(err, "", sqlStateGeneral)}
	}
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		id := ""
		if h != nil {
			id = h.ID
		}
		return nil, &undeclaredError{bzError(err, id, sqlStateGeneral)}
	}
	schema := &beeswax.Schema{FieldSchemas: []*beeswax.FieldSchema{}, Properties: map[string]string{}}
	if op.res != nil {
		for _, c := range op.res.schema() {
			schema.FieldSchemas = append(schema.FieldSchemas, &beeswax.FieldSchema{Name: c.Name, Type: beeswaxTypeName(c.Type)})
		}
	}
	return &beeswax.ResultsMetadata{Schema: schema, Delim: "\t"}, nil
}

func (b *beeswaxHandler) Echo(_ context.Context, s string) (string, error) { return s, nil }

func (b *beeswaxHandler) DumpConfig(context.Context) (string, error) { return "", nil }

func (b *beeswaxHandler) GetLog(ctx context.Context, id beeswax.LogContextId) (string, error) {
	if err := b.co.faults.enter(ctx, "get_log"); err != nil {
		return "", err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzOpLocked(ctx, &beeswax.QueryHandle{ID: string(id)})
	if err != nil {
		return "", &undeclaredError{bzError(err, string(id), sqlStateGeneral)}
	}
	return op.logLocked(time.Now()), nil
}

// GetDefaultConfiguration lists the options with their defaults and levels
// (ImpalaServer::get_default_configuration).
func (b *beeswaxHandler) GetDefaultConfiguration(context.Context, bool) ([]*beeswax.ConfigVariable, error) {
	rows := optionRows(b.co.serverOptions(nil), true)
	out := make([]*beeswax.ConfigVariable, 0, len(rows))
	for _, r := range rows {
		lvl, err := beeswax.TQueryOptionLevelFromString(r[2].(string))
		if err != nil {
			continue
		}
		out = append(out, &beeswax.ConfigVariable{Key: r[0].(string), Value: r[1].(string), Level: &lvl})
	}
	return out, nil
}

func (b *beeswaxHandler) Close(ctx context.Context, h *beeswax.QueryHandle) error {
	if err := b.co.faults.enter(ctx, "close"); err != nil {
		return err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		return bzError(err, h.GetID(), sqlStateGeneral)
	}
	co.closeOpLocked(op)
	return nil
}

func (b *beeswaxHandler) Clean(context.Context, beeswax.LogContextId) error { return nil }

func (b *beeswaxHandler) Cancel(ctx context.Context, h *beeswax.QueryHandle) (*impala.TStatus, error) {
	if err := b.co.faults.enter(ctx, "Cancel"); err != nil {
		return nil, err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		return nil, bzError(err, "", sqlStateGeneral)
	}
	op.cancelLocked()
	return &impala.TStatus{StatusCode: impala.TErrorCode_OK, ErrorMsgs: []string{}}, nil
}

func (b *beeswaxHandler) GetRuntimeProfile(ctx context.Context, h *beeswax.QueryHandle) (string, error) {
	if err := b.co.faults.enter(ctx, "GetRuntimeProfile"); err != nil {
		return "", err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzAnyOpLocked(ctx, h)
	if err != nil {
		return "", bzError(err, h.GetID(), sqlStateGeneral)
	}
	return co.profileLocked(op, time.Now()), nil
}

func (b *beeswaxHandler) CloseInsert(ctx context.Context, h *beeswax.QueryHandle) (*impala.TDmlResult_, error) {
	if err := b.co.faults.enter(ctx, "CloseInsert"); err != nil {
		return nil, err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		return nil, bzError(err, h.GetID(), sqlStateGeneral)
	}
	res := op.dmlResult()
	co.closeOpLocked(op)
	return res, nil
}

func (b *beeswaxHandler) PingImpalaService(ctx context.Context) (*impala.TPingImpalaServiceResp, error) {
	if err := b.co.faults.enter(ctx, "PingImpalaService"); err != nil {
		return nil, err
	}
	// ImpalaServer::PingImpalaService: GetVersionString(true).
	return &impala.TPingImpalaServiceResp{Version: versionString(b.co.cfg.Version, true), WebserverAddress: "http://" + b.co.webAddr()}, nil
}

func (b *beeswaxHandler) GetExecSummary(ctx context.Context, h *beeswax.QueryHandle) (*impala.TExecSummary, error) {
	if err := b.co.faults.enter(ctx, "GetExecSummary"); err != nil {
		return nil, err
	}
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, err := co.bzAnyOpLocked(ctx, h)
	if err != nil {
		return nil, bzError(err, h.GetID(), sqlStateGeneral)
	}
	return op.execSummaryLocked(time.Now()), nil
}

// bzUndeclaredProcessor serves a beeswax call whose handler may raise an
// undeclaredError, writing it as Thrift's C++ processor does an exception
// the IDL does not declare: a TApplicationException of type UNKNOWN with
// the exception's text.
type bzUndeclaredProcessor struct {
	name string
	call func(ctx context.Context, iprot thrift.TProtocol) (thrift.TStruct, error)
}

func (p *bzUndeclaredProcessor) Process(ctx context.Context, seqID int32, iprot, oprot thrift.TProtocol) (bool, thrift.TException) {
	result, err := p.call(ctx, iprot)
	if err == nil {
		if werr := writeMessage(ctx, oprot, p.name, thrift.REPLY, seqID, result); werr != nil {
			return false, thrift.WrapTException(werr)
		}
		return true, nil
	}
	var (
		x  thrift.TApplicationException
		ue *undeclaredError
	)
	keep := true
	switch {
	case errors.As(err, &ue):
		x = thrift.NewTApplicationException(thrift.UNKNOWN_APPLICATION_EXCEPTION, ue.Error())
	case errors.As(err, &x):
		// A request that could not be read: answered, then the
		// connection ends, as with the generated processor.
		keep = false
	default:
		x = thrift.NewTApplicationException(thrift.INTERNAL_ERROR, "Internal error processing "+p.name+": "+err.Error())
	}
	if werr := writeMessage(ctx, oprot, p.name, thrift.EXCEPTION, seqID, x); werr != nil {
		return false, thrift.WrapTException(werr)
	}
	return keep, nil
}

// writeMessage writes one reply message with body s and flushes it.
func writeMessage(ctx context.Context, oprot thrift.TProtocol, name string, typ thrift.TMessageType, seqID int32, s interface {
	Write(context.Context, thrift.TProtocol) error
}) error {
	if err := oprot.WriteMessageBegin(ctx, name, typ, seqID); err != nil {
		return err
	}
	if err := s.Write(ctx, oprot); err != nil {
		return err
	}
	if err := oprot.WriteMessageEnd(ctx); err != nil {
		return err
	}
	return oprot.Flush(ctx)
}

// addUndeclaredProcessors routes get_state, get_results_metadata and
// get_log through bzUndeclaredProcessor.
func addUndeclaredProcessors(proc *impala.ImpalaServiceProcessor, h *beeswaxHandler) {
	readArgs := func(ctx context.Context, iprot thrift.TProtocol, args thrift.TStruct) error {
		if err := args.Read(ctx, iprot); err != nil {
			return thrift.NewTApplicationException(thrift.PROTOCOL_ERROR, err.Error())
		}
		return iprot.ReadMessageEnd(ctx)
	}
	proc.AddToProcessorMap("get_state", &bzUndeclaredProcessor{name: "get_state",
		call: func(ctx context.Context, iprot thrift.TProtocol) (thrift.TStruct, error) {
			args := beeswax.BeeswaxServiceGetStateArgs{}
			if err := readArgs(ctx, iprot, &args); err != nil {
				return nil, err
			}
			st, err := h.GetState(ctx, args.Handle)
			if err != nil {
				return nil, err
			}
			return &beeswax.BeeswaxServiceGetStateResult{Success: &st}, nil
		}})
	proc.AddToProcessorMap("get_results_metadata", &bzUndeclaredProcessor{name: "get_results_metadata",
		call: func(ctx context.Context, iprot thrift.TProtocol) (thrift.TStruct, error) {
			args := beeswax.BeeswaxServiceGetResultsMetadataArgs{}
			if err := readArgs(ctx, iprot, &args); err != nil {
				return nil, err
			}
			md, err := h.GetResultsMetadata(ctx, args.Handle)
			if err != nil {
				return nil, err
			}
			return &beeswax.BeeswaxServiceGetResultsMetadataResult{Success: md}, nil
		}})
	proc.AddToProcessorMap("get_log", &bzUndeclaredProcessor{name: "get_log",
		call: func(ctx context.Context, iprot thrift.TProtocol) (thrift.TStruct, error) {
			args := beeswax.BeeswaxServiceGetLogArgs{}
			if err := readArgs(ctx, iprot, &args); err != nil {
				return nil, err
			}
			l, err := h.GetLog(ctx, args.Context)
			if err != nil {
				return nil, err
			}
			return &beeswax.BeeswaxServiceGetLogResult{Success: &l}, nil
		}})
}
