package impalad

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkScanGen measures WHERE and aggregates over a generated table,
// the work a statement does while its coordinator is locked.
func BenchmarkScanGen(b *testing.B) {
	b.ReportAllocs()
	const rows = 100_000
	env := &evalEnv{now: time.Unix(0, 0).UTC(), db: "default"}
	for b.Loop() {
		st, err := parse("select sum(id), count(*), max(double_col) from gen.rows_100000 where id % 3 = 0")
		if err != nil {
			b.Fatal(err)
		}
		src := &tableSource{name: "gen.rows_100000", cols: genSchema, n: rows, gen: true}
		if _, _, serr := selectFrom(st, src, env, &operation{}); serr != nil {
			b.Fatal(serr)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLongExpressions parses and analyzes statements whose
// expressions are long: a sum just under Impala's depth limit, one of
// 64000 terms (refused as it is parsed), an IN list of 9000 values. The
// allocations per byte of text stay flat (TestExpressionBounds).
func BenchmarkLongExpressions(b *testing.B) {
	env := &evalEnv{now: time.Unix(0, 0).UTC(), db: "default"}
	for _, c := range []struct{ name, sql string }{
		{"sum_999_terms", "select 1" + strings.Repeat("+1", 998)},
		{"sum_64000_terms_refused", "select 1" + strings.Repeat("+1", 63999)},
		{"in_9000_values", "select id in (" + strings.TrimSuffix(strings.Repeat("7,", 9000), ",") + ") from gen.rows_3"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.sql)))
			for b.Loop() {
				st, err := parse(c.sql)
				if err != nil {
					continue
				}
				src := &tableSource{name: "gen.rows_3", cols: genSchema, n: 3, gen: true}
				if _, _, serr := selectFrom(st, src, env, &operation{}); serr != nil {
					b.Fatal(serr)
				}
			}
		})
	}
}
