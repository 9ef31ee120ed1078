package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// tracer is the service's impalalb Tracer: one type that implements both
// conn.Tracer (statements) and balancer.Tracer (acquires of a session from
// the pool), set as Config.Tracer. It logs each statement with its
// coordinator and query id (look the query up in that coordinator's web
// UI), and keeps per-coordinator latency histograms that /metrics serves.
// An OpenTelemetry adapter has the same shape: start a span in
// TraceStatementStart, end it in TraceStatementEnd.
type tracer struct {
	log        *slog.Logger
	statements histograms // statement duration, Execute to Close
	acquires   histograms // acquire duration, waiting for capacity included
}

var (
	_ conn.Tracer     = (*tracer)(nil)
	_ balancer.Tracer = (*tracer)(nil)
)

func newTracer(log *slog.Logger) *tracer {
	return &tracer{log: log, statements: histograms{by: map[string]*histogram{}}, acquires: histograms{by: map[string]*histogram{}}}
}

// TraceStatementStart implements conn.Tracer. The statement's text is not
// logged: it may hold the values of arguments.
func (t *tracer) TraceStatementStart(ctx context.Context, _ conn.TraceStatementStartData) context.Context {
	return ctx
}

// TraceStatementEnd implements conn.Tracer.
func (t *tracer) TraceStatementEnd(ctx context.Context, d conn.TraceStatementEndData) {
	t.statements.observe(d.Addr, d.Duration)
	attrs := []slog.Attr{
		slog.String("coordinator", d.Addr), slog.String("query_id", d.QueryID),
		slog.Int64("rows", d.Rows), slog.Duration("duration", d.Duration),
	}
	if d.RowsAffected >= 0 {
		attrs = append(attrs, slog.Int64("rows_affected", d.RowsAffected))
	}
	if d.Err != nil {
		attrs = append(attrs, slog.String("err", d.Err.Error()))
		t.log.LogAttrs(ctx, slog.LevelWarn, "statement failed", attrs...)
		return
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "statement", attrs...)
}

// TraceAcquireStart implements balancer.Tracer.
func (t *tracer) TraceAcquireStart(ctx context.Context, _ balancer.TraceAcquireStartData) context.Context {
	return ctx
}

// TraceAcquireEnd implements balancer.Tracer.
func (t *tracer) TraceAcquireEnd(ctx context.Context, d balancer.TraceAcquireEndData) {
	if d.Err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "no session", slog.Int("redispatches", d.Redispatches), slog.String("err", d.Err.Error()))
		return
	}
	t.acquires.observe(d.Coordinator, d.Duration)
	if d.Redispatches > 0 || d.Wait > 0 {
		t.log.LogAttrs(ctx, slog.LevelInfo, "session acquired", slog.String("coordinator", d.Coordinator),
			slog.Int("redispatches", d.Redispatches), slog.Duration("wait", d.Wait), slog.Bool("dialed", d.Dialed))
	}
}

// latencyBuckets are the histograms' upper bounds, in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// histogram is one Prometheus histogram: counts per bucket (cumulated when
// written), the sum and the count.
type histogram struct {
	counts []uint64 // counts[i]: observations in (bucket i-1, bucket i]; last: above all
	sum    float64
	n      uint64
}

// histograms are one histogram per coordinator.
type histograms struct {
	mu sync.Mutex // guards by
	by map[string]*histogram
}

func (h *histograms) observe(coord string, d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, s)
	h.mu.Lock()
	defer h.mu.Unlock()
	x := h.by[coord]
	if x == nil {
		x = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		h.by[coord] = x
	}
	x.counts[i]++
	x.sum += s
	x.n++
}

// write writes the histograms in Prometheus's text format, labelled by
// coordinator.
func (h *histograms) write(w io.Writer, name, help string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	coords := make([]string, 0, len(h.by))
	for c := range h.by {
		coords = append(coords, c)
	}
	slices.Sort(coords)
	for _, c := range coords {
		x := h.by[c]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += x.counts[i]
			fmt.Fprintf(w, "%s_bucket{coordinator=%q,le=%q} %d\n", name, c, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "%s_bucket{coordinator=%q,le=\"+Inf\"} %d\n", name, c, x.n)
		fmt.Fprintf(w, "%s_sum{coordinator=%q} %g\n%s_count{coordinator=%q} %d\n", name, c, x.sum, name, c, x.n)
	}
}

// writeMetrics writes the tracer's histograms.
func (t *tracer) writeMetrics(w io.Writer) {
	t.statements.write(w, "impalalb_statement_duration_seconds", "Statements from Execute to Close, by coordinator.")
	t.acquires.write(w, "impalalb_acquire_duration_seconds", "Acquires of a session from the pool, waits included, by coordinator.")
}
