package impalalb_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// benchRows is the size of the scanned result.
const benchRows = 1_000_000

// benchQuery reads 8 columns of mixed types: BIGINT, BOOLEAN, INT,
// BIGINT, DOUBLE, DECIMAL, STRING, TIMESTAMP (with NULLs).
var benchQuery = fmt.Sprintf("select id, bool_col, int_col, bigint_col, double_col, decimal_col, string_col, timestamp_col from gen.rows_%d", benchRows)

// reportRows reports rows/s and allocs/row (the coordinator runs in the
// same process: its own allocations are in the count, the same for every
// client).
func reportRows(b *testing.B, rowsPerOp int64, m0 *runtime.MemStats, cpu0 time.Duration) {
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	total := float64(rowsPerOp) * float64(b.N)
	b.ReportMetric(float64(cpuTime()-cpu0)/total, "cpu-ns/row")
	b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/total, "allocs/row")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/total, "B/row")
}

// cpuTime is the CPU time (user and system) the process used so far: under
// a busy machine, CPU per row moves less than wall-clock rows/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScan1M scans 1M rows × 8 mixed columns through database/sql
// and through the raw conn API, against the same in-process coordinator
// in the same run: the gap is what database/sql costs.
func BenchmarkScan1M(b *testing.B) {
	co, err := impalad.Start(impalad.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()

	b.Run("database-sql", func(b *testing.B) {
		cfg := &impalalb.Config{}
		cfg.Addrs = []string{co.HS2Addr()}
		cfg.User = "bench"
		cfg.HealthInterval = -1
		c, err := impalalb.NewConnector(cfg)
		if err != nil {
			b.Fatal(err)
		}
		db := sql.OpenDB(c)
		defer db.Close()
		var (
			id, bi    int64
			bo        sql.NullBool
			i         sql.NullInt64
			bg        sql.NullInt64
			d         sql.NullFloat64
			dec, s    sql.NullString
			ts        sql.NullTime
			checksum  int64
			rowsTotal int64
		)
		b.ReportAllocs()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := cpuTime()
		for b.Loop() {
			rows, err := db.Query(benchQuery)
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for rows.Next() {
				if err := rows.Scan(&id, &bo, &i, &bg, &d, &dec, &s, &ts); err != nil {
					b.Fatal(err)
				}
				bi = bg.Int64
				checksum += id + bi
				n++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			if n != benchRows {
				b.Fatalf("%d rows", n)
			}
			rowsTotal += n
		}
		reportRows(b, benchRows, &m0, cpu0)
		_ = checksum
	})

	b.Run("conn", func(b *testing.B) {
		ctx := context.Background()
		s, err := conn.Dial(ctx, co.HS2Addr(), conn.Options{User: "bench", FetchSize: conn.DefaultFetchSize})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		var (
			checksum int64
			bo       bool
			d        float64
			str      string
			ts       time.Time
		)
		b.ReportAllocs()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := cpuTime()
		for b.Loop() {
			op, err := s.Execute(ctx, benchQuery, nil)
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for {
				bt, err := op.Next(ctx)
				if err == io.EOF { //nolint:errorlint // io.EOF itself is the end of the rows; a wrapped one is a broken connection
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				for r := 0; r < bt.Len(); r++ {
					checksum += bt.Int64(0, r)
					if !bt.IsNull(1, r) {
						bo = bt.Bool(1, r)
					}
					if !bt.IsNull(2, r) {
						checksum += bt.Int64(2, r)
					}
					if !bt.IsNull(3, r) {
						checksum += bt.Int64(3, r)
					}
					if !bt.IsNull(4, r) {
						d = bt.Float64(4, r)
					}
					if !bt.IsNull(5, r) {
						str = bt.String(5, r)
					}
					if !bt.IsNull(6, r) {
						str = bt.String(6, r)
					}
					if !bt.IsNull(7, r) {
						ts, err = bt.Time(7, r)
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				n += int64(bt.Len())
			}
			if err := op.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if n != benchRows {
				b.Fatalf("%d rows", n)
			}
		}
		reportRows(b, benchRows, &m0, cpu0)
		_, _, _, _ = bo, d, str, ts
	})
}

// BenchmarkSelectOne is one small query through database/sql: the
// per-statement overhead of the driver over conn's.
func BenchmarkSelectOne(b *testing.B) {
	co, err := impalad.Start(impalad.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	cfg := &impalalb.Config{}
	cfg.Addrs = []string{co.HS2Addr()}
	cfg.HealthInterval = -1
	c, err := impalalb.NewConnector(cfg)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var x int
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRow("select ?", 1).Scan(&x); err != nil {
			b.Fatal(err)
		}
	}
}
