package impalad

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// hs2Handler serves ImpalaHiveServer2Service. Errors go back in TStatus, as
// Impala does; the handler never returns a Go error.
type hs2Handler struct{ co *Coordinator }

var _ impala.ImpalaHiveServer2Service = (*hs2Handler)(nil)

func okStatus() *tcli.TStatus { return &tcli.TStatus{StatusCode: tcli.TStatusCode_SUCCESS_STATUS} }

// errStatus is an HS2 error status as HS2_RETURN_IF_ERROR sets it
// (be/src/service/impala-hs2-server.cc): the status's detail, its message
// and a newline (Status::GetDetail), sqlState HY000.
func errStatus(e *sqlError) *tcli.TStatus {
	return rawErrStatus(e.msg+"\n", e)
}

// queryErrStatus is errStatus for a call about the statement id: Impala
// wraps the detail in "Query <id> failed:" (QUERY_ERROR_FORMAT).
func queryErrStatus(id string, e *sqlError) *tcli.TStatus {
	return rawErrStatus(queryFailed(id, e.msg), e)
}

func rawErrStatus(msg string, e *sqlError) *tcli.TStatus {
	st := &tcli.TStatus{StatusCode: tcli.TStatusCode_ERROR_STATUS}
	state, code := e.sqlState, e.code
	if state == "" {
		state = "HY000"
	}
	st.ErrorMessage, st.SqlState, st.ErrorCode = &msg, &state, &code
	return st
}

func ptr[T any](v T) *T { return &v }

// webAddr is the web server address reported to clients.
func (co *Coordinator) webAddr() string {
	if a := co.WebAddr(); a != "" {
		return a
	}
	host, _, err := net.SplitHostPort(co.HS2Addr())
	if err != nil {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "25000")
}

func (h *hs2Handler) OpenSession(ctx context.Context, req *tcli.TOpenSessionReq) (*tcli.TOpenSessionResp, error) {
	if err := h.co.faults.enter(ctx, "OpenSession"); err != nil {
		return nil, err
	}
	co := h.co
	resp := &tcli.TOpenSessionResp{ServerProtocolVersion: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6}
	// As ImpalaServer::OpenSession (impala-hs2-server.cc): refused first
	// during a graceful shutdown.
	if err := co.checkNotShuttingDown(); err != nil {
		resp.Status = errStatus(err)
		return resp, nil
	}
	if co.faults.takeFailOpen() {
		resp.Status = errStatus(&sqlError{msg: "impalad: OpenSession failed (injected fault)", sqlState: "HY000"})
		return resp, nil
	}
	sc := connFrom(ctx)
	user := req.GetUsername()
	if sc != nil && sc.user != "" {
		user = sc.user
	}
	if sc != nil && sc.doAs != "" {
		// The doAs of an HTTP request's path asks for delegation
		// (ImpalaServer::OpenSession, AuthorizeProxyUser in
		// be/src/service/impala-server.cc), which the test coordinator,
		// like an Impala without --authorized_proxy_user_config, allows
		// to nobody.
		msg := "Unable to delegate using empty proxy username."
		if user != "" {
			msg = fmt.Sprintf("User '%s' is not authorized to delegate to '%s'. User/group delegation is disabled.", user, sc.doAs)
		}
		resp.Status = errStatus(&sqlError{msg: msg, sqlState: "HY000"})
		return resp, nil
	}
	proto := req.ClientProtocol
	if proto > tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6 {
		proto = tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6
	}
	if proto < tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V1 {
		resp.Status = errStatus(&sqlError{msg: fmt.Sprintf("Unsupported client protocol version %d", req.ClientProtocol)})
		return resp, nil
	}
	web := co.webAddr()
	co.mu.Lock()
	s := co.newSessionLocked(sc, HS2, user, req.Configuration)
	s.rowBased = proto < tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6
	// Every query option with its value (TQueryOptionsToMap), and the web
	// server's host:port.
	conf := optionMap(co.serverOptions(s.opts))
	conf["http_addr"] = web
	resp.SessionHandle = &tcli.TSessionHandle{SessionId: &tcli.THandleIdentifier{GUID: s.key[:], Secret: append([]byte(nil), s.secret[:]...)}}
	co.mu.Unlock()
	resp.Status = okStatus()
	resp.ServerProtocolVersion = proto
	resp.Configuration = conf
	return resp, nil
}

func sessionIDs(h *tcli.TSessionHandle) (guid, secret []byte) {
	if h == nil || h.SessionId == nil {
		return nil, nil
	}
	return h.SessionId.GUID, h.SessionId.Secret
}

func (h *hs2Handler) CloseSession(ctx context.Context, req *tcli.TCloseSessionReq) (*tcli.TCloseSessionResp, error) {
	if err := h.co.faults.enter(ctx, "CloseSession"); err != nil {
		return nil, err
	}
	co := h.co
	guid, secret := sessionIDs(req.SessionHandle)
	co.mu.Lock()
	defer co.mu.Unlock()
	s, err := co.useSessionLocked(connFrom(ctx), guid, secret)
	if err != nil {
		// An expired session can still be closed.
		var key [16]byte
		copy(key[:], guid)
		if es, ok := co.sessions[key]; ok && es.expired && string(es.secret[:]) == string(secret) {
			co.closeSessionLocked(es)
			return &tcli.TCloseSessionResp{Status: okStatus()}, nil
		}
		return &tcli.TCloseSessionResp{Status: errStatus(err)}, nil
	}
	co.closeSessionLocked(s)
	return &tcli.TCloseSessionResp{Status: okStatus()}, nil
}

func (h *hs2Handler) GetInfo(ctx context.Context, req *tcli.TGetInfoReq) (*tcli.TGetInfoResp, error) {
	if err := h.co.faults.enter(ctx, "GetInfo"); err != nil {
		return nil, err
	}
	co := h.co
	guid, secret := sessionIDs(req.SessionHandle)
	co.mu.Lock()
	err := co.checkNotShuttingDownLocked()
	if err == nil {
		_, err = co.useSessionLocked(connFrom(ctx), guid, secret)
	}
	co.mu.Unlock()
	resp := &tcli.TGetInfoResp{InfoValue: &tcli.TGetInfoValue{StringValue: ptr("")}}
	if err != nil {
		resp.Status = errStatus(err)
		return resp, nil
	}
	switch req.InfoType {
	case tcli.TGetInfoType_CLI_DBMS_NAME, tcli.TGetInfoType_CLI_SERVER_NAME:
		resp.InfoValue.StringValue = ptr("Impala")
	case tcli.TGetInfoType_CLI_DBMS_VER:
		// PopulateOdbcGetInfo (be/src/service/odbc-helper.cc): the build
		// version alone.
		resp.InfoValue.StringValue = ptr(co.cfg.Version)
	default:
		resp.Status = errStatus(&sqlError{msg: "Unsupported operation"})
		return resp, nil
	}
	resp.Status = okStatus()
	return resp, nil
}

func (h *hs2Handler) ExecuteStatement(ctx context.Context, req *tcli.TExecuteStatementReq) (*tcli.TExecuteStatementResp, error) {
	if err := h.co.faults.enter(ctx, "ExecuteStatement"); err != nil {
		return nil, err
	}
	co := h.co
	guid, secret := sessionIDs(req.SessionHandle)
	co.mu.Lock()
	_, err := co.useSessionLocked(connFrom(ctx), guid, secret)
	co.mu.Unlock()
	if err != nil {
		return &tcli.TExecuteStatementResp{Status: errStatus(err)}, nil
	}
	co.plan(ctx)
	co.mu.Lock()
	defer co.mu.Unlock()
	// As ExecuteStatementCommon: the shutdown is checked before the
	// session.
	if err := co.checkNotShuttingDownLocked(); err != nil {
		return &tcli.TExecuteStatementResp{Status: errStatus(err)}, nil
	}
	s, err := co.useSessionLocked(connFrom(ctx), guid, secret)
	if err != nil {
		return &tcli.TExecuteStatementResp{Status: errStatus(err)}, nil
	}
	op, id, err := co.executeLocked(s, req.Statement, req.ConfOverlay)
	if err != nil {
		if id == "" {
			return &tcli.TExecuteStatementResp{Status: errStatus(err)}, nil
		}
		return &tcli.TExecuteStatementResp{Status: queryErrStatus(id, err)}, nil
	}
	return &tcli.TExecuteStatementResp{Status: okStatus(), OperationHandle: opHandle(op)}, nil
}

// plan waits Config.PlanningTime, the time Impala takes to plan a
// statement before ExecuteStatement answers; the connection's end or ctx
// cuts it short.
func (co *Coordinator) plan(ctx context.Context) {
	if d := co.cfg.PlanningTime; d > 0 {
		wait(ctx, d, nil)
	}
}

// Outcomes of wait.
const (
	waitElapsed  = iota // d passed
	waitSignaled        // ch closed
	waitAborted         // ctx ended or the connection closed
)

// wait waits d, until ch closes (nil: never), or until ctx ends or the
// connection the call came on closes.
func wait(ctx context.Context, d time.Duration, ch <-chan struct{}) int {
	var connDone <-chan struct{}
	if sc := connFrom(ctx); sc != nil {
		connDone = sc.done
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return waitElapsed
	case <-ch:
		return waitSignaled
	case <-ctx.Done():
	case <-connDone:
	}
	return waitAborted
}

func opHandle(op *operation) *tcli.TOperationHandle {
	return &tcli.TOperationHandle{
		OperationId:   &tcli.THandleIdentifier{GUID: append([]byte(nil), op.key[:]...), Secret: append([]byte(nil), op.secret[:]...)},
		OperationType: tcli.TOperationType_EXECUTE_STATEMENT,
		HasResultSet:  op.res != nil,
	}
}

func invalidHandle(guid []byte) *sqlError {
	return &sqlError{msg: fmt.Sprintf("Invalid or unknown query handle: %s.", IDFromGUID(guid)), sqlState: "HY000"}
}

// opLocked finds the operation of an HS2 handle and checks its session, as
// the HS2 calls about a statement do (GetActiveQueryHandle, then
// WithSession): a statement unregistered by QUERY_TIMEOUT_S reports the
// status it ended with. The error goes with the handle's query id (id),
// for queryErrStatus.
func (co *Coordinator) opLocked(sc *serverConn, h *tcli.TOperationHandle) (op *operation, id string, err *sqlError) {
	if h == nil || h.OperationId == nil || len(h.OperationId.GUID) != 16 {
		return nil, "", invalidHandle(nil)
	}
	id = IDFromGUID(h.OperationId.GUID)
	var key [16]byte
	copy(key[:], h.OperationId.GUID)
	op, ok := co.ops[key]
	if !ok {
		if msg, ok := co.interrupted[key]; ok {
			return nil, id, &sqlError{msg: msg, sqlState: "HY000"}
		}
		return nil, id, invalidHandle(h.OperationId.GUID)
	}
	if string(op.secret[:]) != string(h.OperationId.Secret) {
		// GetSessionState with an operation secret: LEGACY_INVALID_QUERY_HANDLE_TEMPLATE.
		return nil, id, &sqlError{msg: "Query id " + id + " not found.", sqlState: "HY000"}
	}
	if err := co.touchSessionLocked(sc, op.sess); err != nil {
		return nil, id, err
	}
	op.lastActive = time.Now()
	return op, id, nil
}

// anyOpLocked is opLocked that also finds recently closed operations.
func (co *Coordinator) anyOpLocked(sc *serverConn, h *tcli.TOperationHandle) (*operation, string, *sqlError) {
	op, id, err := co.opLocked(sc, h)
	if err == nil || h == nil || h.OperationId == nil || len(h.OperationId.GUID) != 16 {
		return op, id, err
	}
	var key [16]byte
	copy(key[:], h.OperationId.GUID)
	if a, ok := co.archive[key]; ok && string(a.secret[:]) == string(h.OperationId.Secret) {
		return a, id, nil
	}
	return nil, id, err
}

func (h *hs2Handler) GetOperationStatus(ctx context.Context, req *tcli.TGetOperationStatusReq) (*tcli.TGetOperationStatusResp, error) {
	if err := h.co.faults.enter(ctx, "GetOperationStatus"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		st := tcli.TOperationState_ERROR_STATE
		return &tcli.TGetOperationStatusResp{Status: queryErrStatus(id, err), OperationState: &st}, nil
	}
	// ImpalaServer::GetOperationStatus (be/src/service/impala-hs2-server.cc)
	// sets the status and the state, and the error of a failed statement:
	// never hasResultSet, the start and end times or numModifiedRows
	// (the DML counts come with CloseImpalaOperation).
	resp := &tcli.TGetOperationStatusResp{Status: okStatus()}
	var state tcli.TOperationState
	switch op.stateLocked(time.Now()) {
	case opRunning:
		state = tcli.TOperationState_RUNNING_STATE
	case opFinished:
		state = tcli.TOperationState_FINISHED_STATE
	case opError:
		// A failed, cancelled or expired statement: ERROR_STATE with its
		// status (ImpalaServer::GetOperationStatus); Impala never answers
		// CANCELED_STATE.
		state = tcli.TOperationState_ERROR_STATE
		resp.ErrorMessage, resp.SqlState = ptr(queryFailed(op.id, op.failMsg)), ptr("HY000")
	}
	resp.OperationState = &state
	return resp, nil
}

func (h *hs2Handler) CancelOperation(ctx context.Context, req *tcli.TCancelOperationReq) (*tcli.TCancelOperationResp, error) {
	if err := h.co.faults.enter(ctx, "CancelOperation"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &tcli.TCancelOperationResp{Status: queryErrStatus(id, err)}, nil
	}
	op.cancelLocked()
	return &tcli.TCancelOperationResp{Status: okStatus()}, nil
}

// closeOpLocked closes op and forgets it.
func (co *Coordinator) closeOpLocked(op *operation) {
	op.closeLocked()
	delete(co.ops, op.key)
	co.archiveLocked(op)
	if op.sess.ops != nil {
		delete(op.sess.ops, op)
	}
}

func (h *hs2Handler) CloseOperation(ctx context.Context, req *tcli.TCloseOperationReq) (*tcli.TCloseOperationResp, error) {
	if err := h.co.faults.enter(ctx, "CloseOperation"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &tcli.TCloseOperationResp{Status: queryErrStatus(id, err)}, nil
	}
	co.closeOpLocked(op)
	return &tcli.TCloseOperationResp{Status: okStatus()}, nil
}

func (h *hs2Handler) CloseImpalaOperation(ctx context.Context, req *impala.TCloseImpalaOperationReq) (*impala.TCloseImpalaOperationResp, error) {
	if err := h.co.faults.enter(ctx, "CloseImpalaOperation"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &impala.TCloseImpalaOperationResp{Status: queryErrStatus(id, err)}, nil
	}
	resp := &impala.TCloseImpalaOperationResp{Status: okStatus()}
	if op.dml {
		resp.DmlResult_ = op.dmlResult()
	}
	co.closeOpLocked(op)
	return resp, nil
}

func (h *hs2Handler) GetResultSetMetadata(ctx context.Context, req *tcli.TGetResultSetMetadataReq) (*tcli.TGetResultSetMetadataResp, error) {
	if err := h.co.faults.enter(ctx, "GetResultSetMetadata"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &tcli.TGetResultSetMetadataResp{Status: queryErrStatus(id, err)}, nil
	}
	var cols []Column
	if op.res != nil {
		cols = op.res.schema()
	}
	return &tcli.TGetResultSetMetadataResp{Status: okStatus(), Schema: tableSchema(cols)}, nil
}

// fetchWait returns how long a fetch waits for a running statement.
func (co *Coordinator) fetchWait(opts map[string]string) time.Duration {
	if v, ok := opts["fetch_rows_timeout_ms"]; ok {
		if ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && ms >= 0 {
			if ms == 0 {
				return -1 // no timeout
			}
			return time.Duration(ms) * time.Millisecond
		}
	}
	return co.cfg.FetchRowsTimeout
}

// waitReady waits until op's work is done, it is cancelled, ctx ends, or
// max passes (max < 0: no bound). It reports whether op is no longer running.
func (co *Coordinator) waitReady(ctx context.Context, op *operation, max time.Duration) bool {
	co.mu.Lock()
	d := time.Until(op.readyAt)
	ch := op.cancelled
	co.mu.Unlock()
	if d <= 0 {
		return true
	}
	bounded := max >= 0 && d > max
	if bounded {
		d = max
	}
	switch wait(ctx, d, ch) {
	case waitElapsed:
		return !bounded
	case waitSignaled:
		return true
	}
	return false
}

// nextRow returns the offset of op's next unfetched row.
func (co *Coordinator) nextRow(op *operation) int64 {
	co.mu.Lock()
	defer co.mu.Unlock()
	return op.next
}

// Batch bounds of a fetch: Impala's row batch, and with result spooling
// (SPOOL_QUERY_RESULTS, on by default since 4.0) BufferedPlanRootSink's
// (be/src/exec/buffered-plan-root-sink.cc), which fills a fetch up to its
// size, at most MAX_FETCH_SIZE rows, FETCH_NUM_BATCHES batches when the
// client gives none.
const (
	batchSize      = 1024
	spoolFetchMax  = 100 * batchSize
	spoolFetchNone = 10 * batchSize
)

// fetchSize is how many rows one fetch of op returns at most, for a client
// that asked for max (<= 0: no size).
func fetchSize(op *operation, max int64) int64 {
	if v, ok := op.opts["spool_query_results"]; ok && !truthy(v) {
		if max <= 0 || max > batchSize {
			return batchSize
		}
		return max
	}
	if max <= 0 {
		return spoolFetchNone
	}
	return min(max, spoolFetchMax)
}

// fetchRange reserves the next batch of op's rows. more reports that rows
// remain; err is set when the statement failed (and is then unregistered,
// as FetchResults does after an error it cannot recover from) or was
// closed.
func (co *Coordinator) fetchRange(op *operation, max int64) (from, to int64, more bool, err *sqlError) {
	co.mu.Lock()
	defer co.mu.Unlock()
	switch op.stateLocked(time.Now()) {
	case opRunning:
		return op.next, op.next, true, nil
	case opError:
		co.closeOpLocked(op)
		return 0, 0, false, &sqlError{msg: op.failMsg, sqlState: "HY000"}
	case opClosed:
		return 0, 0, false, invalidHandle(op.key[:])
	}
	if op.res == nil {
		return 0, 0, false, nil
	}
	n := op.res.numRows()
	from = op.next
	to = min(from+fetchSize(op, max), n)
	op.next = to
	return from, to, to < n, nil
}

// encodeRows runs encode, the computing of a batch's values; a run-time
// error of an expression met there fails the statement (and unregisters
// it, as a failed fetch does) with that error.
func (co *Coordinator) encodeRows(op *operation, encode func()) (err *sqlError) {
	defer func() {
		if err != nil {
			co.mu.Lock()
			op.failLocked(err.msg, time.Now())
			co.closeOpLocked(op)
			co.mu.Unlock()
		}
	}()
	defer recoverUDF(&err)
	encode()
	return nil
}

func (h *hs2Handler) FetchResults(ctx context.Context, req *tcli.TFetchResultsReq) (*tcli.TFetchResultsResp, error) {
	resp, _, err := h.fetch(ctx, req, false)
	return resp, err
}

// fetch serves FetchResults. With encode, the columns of a batch of a
// generated table come encoded in the returned batch (the Results'
// Columns nil), for the reply encoder (fetchenc.go).
func (h *hs2Handler) fetch(ctx context.Context, req *tcli.TFetchResultsReq, encode bool) (*tcli.TFetchResultsResp, *encodedBatch, error) {
	if err := h.co.faults.enter(ctx, "FetchResults"); err != nil {
		return nil, nil, err
	}
	co := h.co
	if req.Orientation != tcli.TFetchOrientation_FETCH_NEXT && req.Orientation != tcli.TFetchOrientation_FETCH_FIRST {
		return &tcli.TFetchResultsResp{Status: rawErrStatus("Unsupported operation", &sqlError{sqlState: "HYC00"})}, nil, nil
	}
	co.mu.Lock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	var rowBased bool
	var done func()
	if err == nil {
		rowBased = op.sess.rowBased
		done = co.touchOpLocked(op)
	}
	co.mu.Unlock()
	if err != nil {
		return &tcli.TFetchResultsResp{Status: queryErrStatus(id, err)}, nil, nil
	}
	defer done()
	empty := func(more bool) *tcli.TFetchResultsResp {
		rs := &tcli.TRowSet{StartRowOffset: co.nextRow(op), Rows: []*tcli.TRow{}}
		if !rowBased && op.res != nil {
			rs.Columns = columnarBatch(op.res, 0, 0)
		}
		return &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(more), Results: rs}
	}
	if req.FetchType == 1 {
		// The operation log: Impala keeps none in this form.
		return &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(false), Results: &tcli.TRowSet{Rows: []*tcli.TRow{}, Columns: []*tcli.TColumn{}}}, nil, nil
	}
	if req.Orientation == tcli.TFetchOrientation_FETCH_FIRST {
		// Restart from the first row, as Impala does with result caching.
		co.mu.Lock()
		op.next = 0
		co.mu.Unlock()
	}
	if !co.waitReady(ctx, op, co.fetchWait(op.opts)) {
		// As Impala answers when fetch_rows_timeout_ms passes before the
		// first rows: still executing, more to come, no row set.
		return &tcli.TFetchResultsResp{Status: &tcli.TStatus{StatusCode: tcli.TStatusCode_STILL_EXECUTING_STATUS}, HasMoreRows: ptr(true)}, nil, nil
	}
	if op.res != nil && co.faults.takeEmptyFetch() {
		return empty(true), nil, nil
	}
	from, to, more, err := co.fetchRange(op, req.MaxRows)
	if err != nil {
		return &tcli.TFetchResultsResp{Status: queryErrStatus(id, err)}, nil, nil
	}
	if op.res == nil {
		return &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(false), Results: &tcli.TRowSet{Rows: []*tcli.TRow{}, Columns: []*tcli.TColumn{}}}, nil, nil
	}
	rs := &tcli.TRowSet{StartRowOffset: from}
	var enc *encodedBatch
	if g, ok := op.res.(*genResult); ok && encode && to > from && !rowBased {
		rs.Rows = []*tcli.TRow{}
		enc = g.encodedBatch(from, to)
	} else if err := co.encodeRows(op, func() {
		if rowBased {
			rs.Rows = rowBatch(op.res, from, to)
		} else {
			rs.Rows = []*tcli.TRow{}
			rs.Columns = columnarBatch(op.res, from, to)
		}
	}); err != nil {
		return &tcli.TFetchResultsResp{Status: queryErrStatus(id, err)}, nil, nil
	}
	return &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(more), Results: rs}, enc, nil
}

func (h *hs2Handler) GetLog(ctx context.Context, req *tcli.TGetLogReq) (*tcli.TGetLogResp, error) {
	if err := h.co.faults.enter(ctx, "GetLog"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.opLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &tcli.TGetLogResp{Status: queryErrStatus(id, err)}, nil
	}
	return &tcli.TGetLogResp{Status: okStatus(), Log: op.logLocked(time.Now())}, nil
}

// logLocked is GetLog's text: a failed statement's error, as
// QUERY_ERROR_FORMAT.
func (op *operation) logLocked(now time.Time) string {
	if op.stateLocked(now) == opError {
		return queryFailed(op.id, op.failMsg)
	}
	return ""
}

// progressRanges is the number of scan ranges an exec summary reports.
const progressRanges = 100

// execSummaryLocked describes op's progress as Impala's exec summary.
func (op *operation) execSummaryLocked(now time.Time) *impala.TExecSummary {
	st := op.viewState(now)
	state := impala.TExecState_FINISHED
	// Progress in scan ranges: a running statement's share of its
	// (simulated) run time, out of progressRanges, so clients can draw a bar.
	done := int64(progressRanges)
	switch st {
	case opRunning:
		state, done = impala.TExecState_RUNNING, 0
		if total := op.readyAt.Sub(op.started); total > 0 {
			done = min(int64(progressRanges)*int64(now.Sub(op.started))/int64(total), progressRanges-1)
		}
	case opError:
		state = impala.TExecState_FAILED
		if op.canceled {
			state = impala.TExecState_CANCELLED
		}
	}
	var rows int64
	if op.res != nil {
		rows = op.res.numRows()
	}
	label := "00:UNION"
	if g, ok := op.res.(*genResult); ok && g != nil {
		label = "00:SCAN HDFS"
	}
	end := now
	if op.readyAt.Before(now) {
		end = op.readyAt
	}
	lat := end.Sub(op.started).Nanoseconds()
	sum := &impala.TExecSummary{
		State:    state,
		Progress: &impala.TExecProgress{TotalScanRanges: ptr(int64(progressRanges)), NumCompletedScanRanges: ptr(done)},
		Nodes: []*impala.TPlanNodeExecSummary{{
			NodeID: 0, FragmentIdx: 0, Label: label, NumChildren: 0, NumHosts: ptr(int32(1)),
			EstimatedStats: &impala.TExecStats{LatencyNs: ptr(int64(0)), CPUTimeNs: ptr(int64(0)), Cardinality: ptr(rows), MemoryUsed: ptr(int64(0))},
			ExecStats: []*impala.TExecStats{{LatencyNs: ptr(lat), CPUTimeNs: ptr(lat), Cardinality: ptr(rows * done / progressRanges),
				MemoryUsed: ptr(int64(8192))}},
		}},
		IsQueued: ptr(false),
	}
	if st == opError {
		sum.Status = &impala.TStatus{StatusCode: impala.TErrorCode_GENERAL, ErrorMsgs: []string{op.failMsg}}
		sum.ErrorLogs = []string{op.failMsg}
	}
	return sum
}

// profileLocked renders a short text runtime profile in Impala's layout.
func (co *Coordinator) profileLocked(op *operation, now time.Time) string {
	state := map[opState]string{opRunning: "RUNNING", opFinished: "FINISHED", opError: "EXCEPTION", opClosed: "FINISHED"}[op.viewState(now)]
	var b strings.Builder
	fmt.Fprintf(&b, "Query (id=%s):\n  Summary:\n", op.id)
	fmt.Fprintf(&b, "    Session ID: %s\n    Session Type: %s\n", op.sess.id, strings.ToUpper(string(op.sess.proto)))
	fmt.Fprintf(&b, "    Start Time: %s\n", op.started.Format("2006-01-02 15:04:05.000000000"))
	fmt.Fprintf(&b, "    Query Type: QUERY\n    Query State: %s\n    User: %s\n", state, op.sess.user)
	fmt.Fprintf(&b, "    Impala Version: %s\n", versionString(co.cfg.Version, true))
	fmt.Fprintf(&b, "    Default Db: %s\n    Sql Statement: %s\n    Coordinator: %s\n", op.sess.db, op.text, co.hs2Addr)
	if op.failMsg != "" && op.viewState(now) == opError {
		fmt.Fprintf(&b, "    Query Status: %s\n", op.failMsg)
	}
	return b.String()
}

func (h *hs2Handler) GetExecSummary(ctx context.Context, req *impala.TGetExecSummaryReq) (*impala.TGetExecSummaryResp, error) {
	if err := h.co.faults.enter(ctx, "GetExecSummary"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.anyOpLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &impala.TGetExecSummaryResp{Status: queryErrStatus(id, err)}, nil
	}
	return &impala.TGetExecSummaryResp{Status: okStatus(), Summary: op.execSummaryLocked(time.Now())}, nil
}

func (h *hs2Handler) GetRuntimeProfile(ctx context.Context, req *impala.TGetRuntimeProfileReq) (*impala.TGetRuntimeProfileResp, error) {
	if err := h.co.faults.enter(ctx, "GetRuntimeProfile"); err != nil {
		return nil, err
	}
	co := h.co
	co.mu.Lock()
	defer co.mu.Unlock()
	op, id, err := co.anyOpLocked(connFrom(ctx), req.OperationHandle)
	if err != nil {
		return &impala.TGetRuntimeProfileResp{Status: queryErrStatus(id, err)}, nil
	}
	if req.Format != impala.TRuntimeProfileFormat_STRING {
		return &impala.TGetRuntimeProfileResp{Status: errStatus(&sqlError{msg: "the test coordinator serves profiles as STRING only"})}, nil
	}
	return &impala.TGetRuntimeProfileResp{Status: okStatus(), Profile: ptr(co.profileLocked(op, time.Now()))}, nil
}

func (h *hs2Handler) PingImpalaHS2Service(ctx context.Context, req *impala.TPingImpalaHS2ServiceReq) (*impala.TPingImpalaHS2ServiceResp, error) {
	if err := h.co.faults.enter(ctx, "PingImpalaHS2Service"); err != nil {
		return nil, err
	}
	co := h.co
	guid, secret := sessionIDs(req.SessionHandle)
	web := co.webAddr()
	co.mu.Lock()
	defer co.mu.Unlock()
	if _, err := co.useSessionLocked(connFrom(ctx), guid, secret); err != nil {
		return &impala.TPingImpalaHS2ServiceResp{Status: errStatus(err)}, nil
	}
	// ImpalaServer::PingImpalaHS2Service: GetVersionString(true).
	return &impala.TPingImpalaHS2ServiceResp{
		Status:           okStatus(),
		Version:          ptr(versionString(co.cfg.Version, true)),
		WebserverAddress: ptr("http://" + web), // Impala sends its web server's URL
		Timestamp:        ptr(time.Now().UnixMilli()),
	}, nil
}
