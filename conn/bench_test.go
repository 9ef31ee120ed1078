package conn_test

import (
	"context"
	"io"
	"testing"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

func benchProtocols(b *testing.B, f func(b *testing.B, addr string, opts conn.Options)) {
	for _, v := range []variant{variants[0], variants[2]} {
		b.Run(v.name, func(b *testing.B) {
			co, addr, opts := setup(b, v, impalad.Config{})
			before := co.Stats().RPCs
			f(b, addr, opts)
			b.ReportMetric(float64(co.Stats().RPCs-before)/float64(b.N), "rpcs/op")
		})
	}
}

// BenchmarkSelectOne: one `select 1` round trip on an open session:
// execute, poll, metadata, fetch, close.
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
