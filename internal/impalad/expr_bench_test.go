package impalad

import (
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
