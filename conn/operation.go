package conn

import (
	"context"
	"io"
	"time"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// opImpl is the protocol-specific half of an Operation.
type opImpl interface {
	// fetch asks for up to n rows; more reports whether rows may remain.
	fetch(ctx context.Context, n int) (b *Batch, more bool, err error)
	cancel(ctx context.Context) error
	// close ends the operation; rows is the DML row count, -1 if none.
	close(ctx context.Context) (rows int64, err error)
	summary(ctx context.Context) (*Summary, error)
	profile(ctx context.Context) (string, error)
	log(ctx context.Context) (string, error)
	// abandon cancels and closes the operation on the coordinator after
	// the caller's ctx ended, on a fresh short deadline, best effort.
	abandon()
}

// Operation is one statement executed by a Session: its result metadata,
// its rows, and the calls that watch or stop it. It belongs to the
// goroutine that uses its Session. Close it when done, even after an
// error.
type Operation struct {
	impl       opImpl
	addr       string
	cols       []Column
	hasResults bool
	fetchSize  int
	pollMin    time.Duration
	pollMax    time.Duration
	done       bool // no more rows
	closed     bool
	rows       int64
	closeErr   error
	queryID    string
	// decodeTimes: TIMESTAMP and DATE columns become times (SetDecodeTimes).
	decodeTimes bool
	// pending is the first batch, fetched by Execute (HS2 fetchFirst),
	// until Next hands it out.
	pending *Batch
	// trace is set when the session has a Tracer, until the end is
	// reported.
	trace *opTrace
	// sess is the Session that ran the statement, told when the
	// Operation closes.
	sess *Session
}

// ended tells the session that the Operation is closed.
func (op *Operation) ended() {
	if op.sess != nil {
		op.sess.ops--
		op.sess = nil
	}
}

// QueryID returns Impala's query id of the statement, as the coordinator's
// web UI, logs and profiles show it; empty for a SET on a beeswax session,
// which never leaves the client.
func (op *Operation) QueryID() string { return op.queryID }

// Columns returns the result columns; nil for a statement without a result
// set.
func (op *Operation) Columns() []Column { return op.cols }

// HasResultSet reports whether the statement returns rows.
func (op *Operation) HasResultSet() bool { return op.hasResults }

// Next returns the next batch of rows, with at least one row; io.EOF when
// there are no more. Batches the coordinator sends empty while rows may
// still come (Impala's fetch_rows_timeout_ms) are skipped, never taken as
// the end. If ctx ends during the fetch, the statement is cancelled on the
// coordinator and the error wraps ctx.Err().
func (op *Operation) Next(ctx context.Context) (*Batch, error) {
	b, err := op.next(ctx)
	if err != nil && err != io.EOF && op.sess != nil && op.sess.obs != nil && outcomeOf(err) == outcomeFailed {
		op.sess.obs.CoordinatorFailed(err)
	}
	if t := op.trace; t != nil {
		if err == nil {
			t.rows += int64(b.Len())
		} else if err != io.EOF && t.err == nil {
			t.err = err
		}
		if op.closed {
			op.traceEnd()
		}
	}
	if op.closed {
		op.ended()
	}
	return b, err
}

func (op *Operation) next(ctx context.Context) (*Batch, error) {
	if op.closed {
		return nil, ErrOperationClosed
	}
	if b := op.pending; b != nil {
		op.pending = nil
		if op.decodeTimes {
			b.decodeTimes()
		}
		return b, nil
	}
	if op.done || !op.hasResults {
		return nil, io.EOF
	}
	bo := backoff{min: op.pollMin, max: op.pollMax}
	for empties := 0; ; empties++ {
		if empties > 2 {
			// A run of empty batches: the coordinator is slow to produce
			// rows. Wait a little between fetches rather than spin.
			if err := sleepCtx(ctx, bo.next()); err != nil {
				return nil, op.abort(&Error{Addr: op.addr, Op: "fetch", QueryID: op.queryID, Sent: true, Err: err})
			}
		}
		b, more, err := op.impl.fetch(ctx, op.fetchSize)
		if err != nil {
			err = tagQuery(err, op.queryID)
			if ctx.Err() != nil {
				return nil, op.abort(err)
			}
			return nil, err
		}
		if !more {
			op.done = true
		}
		if b.Len() > 0 {
			if op.decodeTimes {
				// What the fetch did not decode already (text read
				// through SASL, beeswax rows).
				b.decodeTimes()
			}
			return b, nil
		}
		if !more {
			return nil, io.EOF
		}
	}
}

// abort cancels and closes the operation on the coordinator after ctx
// ended. It returns err.
func (op *Operation) abort(err error) error {
	op.done = true
	if !op.closed {
		op.closed = true
		op.rows = -1
		op.closeErr = err
		op.impl.abandon()
	}
	return err
}

// Fetch collects every remaining row into batches; convenient for small
// results.
func (op *Operation) Fetch(ctx context.Context) ([]*Batch, error) {
	var out []*Batch
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
}

// Cancel asks the coordinator to stop the statement. The Operation must
// still be closed.
func (op *Operation) Cancel(ctx context.Context) error {
	if op.closed {
		return ErrOperationClosed
	}
	op.done = true
	op.pending = nil
	return tagQuery(op.impl.cancel(ctx), op.queryID)
}

// Close releases the statement on the coordinator (HS2
// CloseImpalaOperation, beeswax close or CloseInsert) and records the rows
// a DML statement changed. It is idempotent: later calls return the first
// result.
func (op *Operation) Close(ctx context.Context) error {
	if op.closed {
		return op.closeErr
	}
	op.closed = true
	op.done = true
	op.rows, op.closeErr = op.impl.close(ctx)
	op.closeErr = tagQuery(op.closeErr, op.queryID)
	if op.trace != nil {
		op.traceEnd()
	}
	op.ended()
	return op.closeErr
}

// RowsAffected returns the number of rows a DML statement inserted,
// updated or deleted, summed over partitions, once the Operation is
// closed; -1 before Close or for a statement that is not DML. It is the
// count impala-shell prints: the rows the coordinator reports modified,
// or, when it reports none modified and some deleted (an Iceberg DELETE),
// the rows deleted.
func (op *Operation) RowsAffected() int64 {
	if !op.closed {
		return -1
	}
	return op.rows
}

// DMLResult is what the coordinator reports about a DML statement when it
// is closed (Impala's TDmlResult), as impala-shell prints it.
type DMLResult struct {
	// Modified is the number of rows inserted or updated, summed over
	// partitions.
	Modified int64
	// Deleted is the number of rows deleted; HasDeleted reports whether the
	// coordinator sent that figure (only deletes do).
	Deleted    int64
	HasDeleted bool
	// RowErrors is the number of rows that failed (Kudu); HasRowErrors
	// reports whether the coordinator sent that figure.
	RowErrors    int64
	HasRowErrors bool
}

// DMLResult returns the DML result of a closed operation; ok is false
// before Close and for a statement the coordinator sent none for.
func (op *Operation) DMLResult() (r DMLResult, ok bool) {
	d, _ := op.impl.(interface{ dmlResult() *impala.TDmlResult_ })
	if !op.closed || d == nil || d.dmlResult() == nil {
		return r, false
	}
	dr := d.dmlResult()
	for _, v := range dr.RowsModified {
		r.Modified += v
	}
	for _, v := range dr.RowsDeleted {
		r.Deleted += v
	}
	r.HasDeleted = len(dr.RowsDeleted) > 0
	r.RowErrors, r.HasRowErrors = dr.GetNumRowErrors(), dr.IsSetNumRowErrors()
	return r, true
}

// Summary returns the coordinator's execution summary: state and progress.
func (op *Operation) Summary(ctx context.Context) (*Summary, error) {
	if op.closed {
		return nil, ErrOperationClosed
	}
	s, err := op.impl.summary(ctx)
	return s, tagQuery(err, op.queryID)
}

// Profile returns the statement's runtime profile as text.
func (op *Operation) Profile(ctx context.Context) (string, error) {
	if op.closed {
		return "", ErrOperationClosed
	}
	p, err := op.impl.profile(ctx)
	return p, tagQuery(err, op.queryID)
}

// Log returns the statement's log (warnings, progress notes).
func (op *Operation) Log(ctx context.Context) (string, error) {
	if op.closed {
		return "", ErrOperationClosed
	}
	l, err := op.impl.log(ctx)
	return l, tagQuery(err, op.queryID)
}

// Summary is a statement's execution summary as the coordinator reports it
// (GetExecSummary).
type Summary struct {
	// State is the execution state: "REGISTERED", "PLANNING", "QUEUED",
	// "RUNNING", "FINISHED", "CANCELLED" or "FAILED".
	State string
	// TotalScanRanges and CompletedScanRanges measure progress.
	TotalScanRanges, CompletedScanRanges int64
	// Queued reports that admission control holds the statement, and
	// QueuedReason why.
	Queued       bool
	QueuedReason string
	// Nodes is the number of plan nodes in the summary.
	Nodes int
	// ErrorLogs are the errors and warnings reported so far.
	ErrorLogs []string
	// Plan is the statement's plan nodes as the coordinator lists them (the
	// plan tree walked depth first), with the planner's estimates and each
	// instance's figures: what impala-shell's summary command prints. Nil
	// when the coordinator sent no node list, empty when it sent an empty
	// one.
	Plan []PlanNode
	// ExchangeSenders maps the index in Plan of an exchange node (or of a
	// join with a separate build) to the index of the fragment root that
	// sends to it.
	ExchangeSenders map[int]int
}

// PlanNode is one node of a statement's plan in its execution summary.
type PlanNode struct {
	// ID is the plan node id (-1 for a data sink); Fragment the index of
	// its fragment.
	ID, Fragment int
	// Label names the node ("00:SCAN HDFS"); Detail is its label detail
	// (a table name, a join type) and HasDetail whether one was sent.
	Label, Detail string
	HasDetail     bool
	// Children is the number of the node's children in Plan.
	Children int
	// Hosts is the number of hosts running the node; -1 when not sent.
	Hosts int
	// Estimated holds the planner's estimates; nil when not sent.
	Estimated *NodeStats
	// Instances holds the figures of each instance running the node.
	Instances []NodeStats
}

// NodeStats are the figures of a plan node (an instance's, or the
// planner's estimate); a figure the coordinator did not send is -1.
type NodeStats struct {
	LatencyNs, CPUTimeNs, Cardinality, MemoryUsed int64
}

// Progress returns the completed fraction of scan ranges in [0, 1]; 0
// when unknown.
func (s *Summary) Progress() float64 {
	if s == nil || s.TotalScanRanges <= 0 {
		return 0
	}
	p := float64(s.CompletedScanRanges) / float64(s.TotalScanRanges)
	if p > 1 {
		p = 1
	}
	return p
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
