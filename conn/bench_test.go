package conn_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

func benchProtocols(b *testing.B, f func(b *testing.B, addr string, opts conn.Options)) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		b.Run(v.name, func(b *testing.B) {
			co, addr, opts := setup(b, v, impalad.Config{})
			before := co.Stats().RPCs
			f(b, addr, opts)
			b.ReportMetric(float64(co.Stats().RPCs-before)/float64(b.N), "rpcs/op")
		})
	}
}

// BenchmarkSelectOne: one `select 1` round trip on an open session: HS2
// execute, metadata, fetch, close (beeswax: query, poll, metadata, fetch,
// close).
func BenchmarkSelectOne(b *testing.B) {
	benchProtocols(b, func(b *testing.B, addr string, opts conn.Options) {
		s := dial(b, addr, opts)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			op, err := s.Execute(ctx, "select 1", nil)
			if err != nil {
				b.Fatal(err)
			}
			for {
				_, err := op.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := op.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/query")
	})
}

// BenchmarkRunningQuery: a query that runs 20 ms on the coordinator, on
// HS2, executed and read to the end, the way Execute waits for it: "fetched"
// (the default for a query on Impala: the first fetch is held until the
// rows are ready) and "polled" (what Execute does for other statements,
// and for queries under WithProgress: status polls with backoff).
// "late-µs/op" is the time past the 20 ms the caller waited.
func BenchmarkRunningQuery(b *testing.B) {
	const run = 20 * time.Millisecond
	for _, mode := range []string{"fetched", "polled"} {
		b.Run(mode, func(b *testing.B) {
			co, addr, opts := setup(b, variants[0], impalad.Config{})
			s := dial(b, addr, opts)
			ctx := context.Background()
			if mode == "polled" {
				ctx = conn.WithProgress(ctx, time.Hour, func(*conn.Summary) {})
			}
			stmt := fmt.Sprintf("select sleep(%d)", run.Milliseconds())
			before := co.Stats().RPCs
			b.ReportAllocs()
			for b.Loop() {
				op, err := s.Execute(ctx, stmt, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := op.Fetch(ctx); err != nil {
					b.Fatal(err)
				}
				if err := op.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64((per - run).Microseconds()), "late-µs/op")
			b.ReportMetric(float64(co.Stats().RPCs-before)/float64(b.N), "rpcs/op")
		})
	}
}

// BenchmarkOpenClose: dial, open a session, close it.
func BenchmarkOpenClose(b *testing.B) {
	benchProtocols(b, func(b *testing.B, addr string, opts conn.Options) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			s, err := conn.Dial(ctx, addr, opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/session")
	})
}
