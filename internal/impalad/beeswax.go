package impalad

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// beeswaxHandler serves beeswax's ImpalaService. Each connection has one
// session, opened with the connection and closed with it, as in Impala.
type beeswaxHandler struct{ co *Coordinator }

var _ impala.ImpalaService = (*beeswaxHandler)(nil)

func bzError(e *sqlError) *beeswax.BeeswaxException {
	state := e.sqlState
	if state == "" {
		state = "HY000"
	}
	code := e.code
	return &beeswax.BeeswaxException{Message: e.msg, SQLState: state, ErrorCode: code}
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
		return nil, &sqlError{msg: "Invalid session id", sqlState: "HY000"}
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

// bzOpLocked finds a beeswax query by handle.
func (co *Coordinator) bzOpLocked(ctx context.Context, h *beeswax.QueryHandle) (*operation, *sqlError) {
	if h == nil {
		return nil, &sqlError{msg: "Invalid or unknown query handle", sqlState: "HY000"}
	}
	key, ok := parseID(h.ID)
	op := co.ops[key]
	if !ok || op == nil {
		return nil, &sqlError{msg: "Invalid or unknown query handle: " + h.ID + ".", sqlState: "HY000"}
	}
	if err := co.touchSessionLocked(connFrom(ctx), op.sess); err != nil {
		return nil, err
	}
	return op, nil
}

func (b *beeswaxHandler) startQuery(ctx context.Context, q *beeswax.Query) (*operation, error) {
	co := b.co
	co.mu.Lock()
	defer co.mu.Unlock()
	// beeswax's query and executeAndWait check the shutdown first
	// (impala-beeswax-server.cc).
	if err := co.checkNotShuttingDownLocked(); err != nil {
		return nil, bzError(err)
	}
	s, err := co.bzSessionLocked(ctx)
	if err != nil {
		return nil, bzError(err)
	}
	if q == nil {
		return nil, bzError(&sqlError{msg: "empty query"})
	}
	if s.user == "" {
		s.user = q.HadoopUser
	}
	overlay := map[string]string{}
	for _, kv := range q.Configuration {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			overlay[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	op, err := co.executeLocked(s, q.Query, overlay)
	if err != nil {
		return nil, bzError(err)
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

func (b *beeswaxHandler) ExecuteAndWait(ctx context.Context, q *beeswax.Query, _ beeswax.LogContextId) (*beeswax.QueryHandle, error) {
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
	switch op.stateLocked(time.Now()) {
	case opError:
		return nil, bzError(&sqlError{msg: op.failMsg})
	case opCanceled:
		return nil, bzError(&sqlError{msg: "Cancelled", sqlState: "HY008"})
	}
	return bzHandle(op), nil
}

func (b *beeswaxHandler) Explain(ctx context.Context, q *beeswax.Query) (*beeswax.QueryExplanation, error) {
	if err := b.co.faults.enter(ctx, "explain"); err != nil {
		return nil, err
	}
	if err := b.co.checkNotShuttingDown(); err != nil {
		return nil, bzError(err)
	}
	if q == nil {
		return nil, bzError(&sqlError{msg: "empty query"})
	}
	if _, err := parse(q.Query); err != nil {
		return nil, bzError(err)
	}
	return &beeswax.QueryExplanation{Textual: "Max Per-Host Resource Reservation: Memory=0B Threads=1\n\nPLAN-ROOT SINK\n|\n00:UNION\n"}, nil
}

func (b *beeswaxHandler) Fetch(ctx context.Context, h *beeswax.QueryHandle, startOver bool, fetchSize int32) (*beeswax.Results, error) {
	if err := b.co.faults.enter(ctx, "fetch"); err != nil {
		return nil, err
	}
	co := b.co
	co.mu.Lock()
	op, err := co.bzOpLocked(ctx, h)
	if err == nil && startOver {
		op.next = 0
	}
	co.mu.Unlock()
	if err != nil {
		return nil, bzError(err)
	}
	notReady := func() *beeswax.Results {
		return &beeswax.Results{Ready: false, Columns: []string{}, Data: []string{}, StartRow: co.nextRow(op), HasMore: true}
	}
	if !co.waitReady(ctx, op, co.fetchWait(op.opts)) {
		return notReady(), nil
	}
	if op.res != nil && co.faults.takeEmptyFetch() {
		return notReady(), nil
	}
	from, to, more, err := co.fetchRange(op, int64(fetchSize))
	if err != nil {
		return nil, bzError(err)
	}
	res := &beeswax.Results{Ready: true, Columns: []string{}, Data: []string{}, StartRow: from, HasMore: more}
	if op.res != nil {
		for _, c := range op.res.schema() {
			res.Columns = append(res.Columns, c.Name)
		}
		res.Data = textRows(op.res, from, to)
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
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		return 0, &beeswax.QueryNotFoundException{}
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
	op, err := co.bzOpLocked(ctx, h)
	if err != nil {
		return nil, &beeswax.QueryNotFoundException{}
	}
	schema := &beeswax.Schema{FieldSchemas: []*beeswax.FieldSchema{}, Properties: map[string]string{}}
	if op.res != nil {
		for _, c := range op.res.schema() {
			schema.FieldSchemas = append(schema.FieldSchemas, &beeswax.FieldSchema{Name: c.Name, Type: c.Type.String()})
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
		return "", &beeswax.QueryNotFoundException{}
	}
	return op.logLocked(time.Now()), nil
}

func (b *beeswaxHandler) GetDefaultConfiguration(context.Context, bool) ([]*beeswax.ConfigVariable, error) {
	out := make([]*beeswax.ConfigVariable, 0, len(defaultOptions))
	for _, o := range defaultOptions {
		lvl := beeswax.TQueryOptionLevel_REGULAR
		out = append(out, &beeswax.ConfigVariable{Key: o.key, Value: o.value, Level: &lvl})
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
		return &beeswax.QueryNotFoundException{}
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
		return nil, bzError(err)
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
		return "", bzError(err)
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
		return nil, &beeswax.QueryNotFoundException{}
	}
	res := &impala.TDmlResult_{RowsModified: map[string]int64{"": op.modified}, NumRowErrors: ptr(int64(0))}
	co.closeOpLocked(op)
	return res, nil
}

func (b *beeswaxHandler) PingImpalaService(ctx context.Context) (*impala.TPingImpalaServiceResp, error) {
	if err := b.co.faults.enter(ctx, "PingImpalaService"); err != nil {
		return nil, err
	}
	return &impala.TPingImpalaServiceResp{Version: b.co.cfg.Version, WebserverAddress: "http://" + b.co.webAddr()}, nil
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
		return nil, &beeswax.QueryNotFoundException{}
	}
	return op.execSummaryLocked(time.Now()), nil
}
