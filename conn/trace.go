package conn

import (
	"context"
	"time"
)

// Tracer traces statements: [Options.Tracer] is called at the start and at
// the end of every [Session.Execute]. It is the hook for OpenTelemetry
// spans, structured logs and latency histograms; the library depends on
// none of them. An adapter looks like:
//
//	type otelTracer struct{ t trace.Tracer }
//
//	func (o otelTracer) TraceStatementStart(ctx context.Context, d conn.TraceStatementStartData) context.Context {
//		ctx, _ = o.t.Start(ctx, "impala.statement", trace.WithAttributes(
//			attribute.String("db.system", "impala"), attribute.String("server.address", d.Addr)))
//		return ctx
//	}
//
//	func (o otelTracer) TraceStatementEnd(ctx context.Context, d conn.TraceStatementEndData) {
//		span := trace.SpanFromContext(ctx)
//		span.SetAttributes(attribute.String("impala.query_id", d.QueryID), attribute.Int64("db.rows", d.Rows))
//		if d.Err != nil {
//			span.RecordError(d.Err)
//		}
//		span.End()
//	}
//
// Both methods run on the goroutine that uses the session and must not
// block. A Tracer is shared by every session dialed with the same Options:
// it must be safe for concurrent use.
type Tracer interface {
	// TraceStatementStart is called when Execute starts. The context it
	// returns is the one passed to TraceStatementEnd (a span rides on it);
	// Execute itself keeps running under the caller's ctx.
	TraceStatementStart(ctx context.Context, data TraceStatementStartData) context.Context
	// TraceStatementEnd is called once per statement: when Execute fails,
	// or when its Operation is closed (after the rows were read).
	TraceStatementEnd(ctx context.Context, data TraceStatementEndData)
}

// TraceStatementStartData describes a statement about to be sent.
type TraceStatementStartData struct {
	// Addr is the coordinator's address.
	Addr string
	// Statement is the text as given to Execute. A statement built by
	// interpolating arguments holds their values: a Tracer that exports
	// it should redact what must not leave the process.
	Statement string
	// Options are the per-statement query options given to Execute.
	Options map[string]string
}

// TraceStatementEndData describes how a statement ended.
type TraceStatementEndData struct {
	// Addr is the coordinator's address.
	Addr string
	// QueryID is Impala's query id, empty when the coordinator gave none
	// (the statement was refused before it was registered).
	QueryID string
	// Rows is the number of rows handed out by Operation.Next.
	Rows int64
	// RowsAffected is the DML row count, -1 when none (see
	// Operation.RowsAffected).
	RowsAffected int64
	// Duration runs from the start of Execute to its error, or to the
	// Operation's Close.
	Duration time.Duration
	// Err is Execute's error; or the first error Next returned (io.EOF
	// aside), else Close's error.
	Err error
}

// opTrace is a traced Operation's record, from Execute to Close.
type opTrace struct {
	tracer Tracer
	ctx    context.Context
	start  time.Time
	rows   int64
	err    error // the first error of Next
}

func (s *Session) executeTraced(ctx context.Context, stmt string, opts map[string]string) (*Operation, error) {
	start := time.Now()
	tctx := s.tracer.TraceStatementStart(ctx, TraceStatementStartData{Addr: s.Addr(), Statement: stmt, Options: opts})
	op, err := s.impl.Execute(ctx, stmt, opts)
	if err != nil {
		end := TraceStatementEndData{Addr: s.Addr(), RowsAffected: -1, Duration: time.Since(start), Err: err}
		if e, ok := asError(err); ok {
			end.QueryID = e.QueryID
		}
		s.tracer.TraceStatementEnd(tctx, end)
		return nil, err
	}
	op.trace = &opTrace{tracer: s.tracer, ctx: tctx, start: start}
	return op, nil
}

// traceEnd reports the end of a traced Operation, once, from Close.
func (op *Operation) traceEnd() {
	t := op.trace
	op.trace = nil
	err := t.err
	if err == nil {
		err = op.closeErr
	}
	t.tracer.TraceStatementEnd(t.ctx, TraceStatementEndData{
		Addr: op.addr, QueryID: op.queryID, Rows: t.rows, RowsAffected: op.rows,
		Duration: time.Since(t.start), Err: err,
	})
}
