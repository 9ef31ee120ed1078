package gohivebench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gohive"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// query reads 8 columns of mixed types (BIGINT, BOOLEAN, INT, BIGINT,
// DOUBLE, DECIMAL, STRING, TIMESTAMP, with NULLs) of n generated rows.
func query(n int) string {
	return fmt.Sprintf("select id, bool_col, int_col, bigint_col, double_col, decimal_col, string_col, timestamp_col from gen.rows_%d", n)
}

// benchRows is the size of the benchmarked result.
const benchRows = 1_000_000

func startCoord(tb testing.TB) *impalad.Coordinator {
	tb.Helper()
	co, err := impalad.Start(impalad.Config{})
	require.NoError(tb, err)
	tb.Cleanup(func() { co.Close() })
	return co
}

func openDB(tb testing.TB, addr string) *sql.DB {
	tb.Helper()
	cfg := &impalalb.Config{}
	cfg.Addrs = []string{addr}
	cfg.User = "bench"
	cfg.HealthInterval = -1
	c, err := impalalb.NewConnector(cfg)
	require.NoError(tb, err)
	db := sql.OpenDB(c)
	tb.Cleanup(func() { db.Close() })
	return db
}

func dialGohive(tb testing.TB, addr string) *gohive.Connection {
	tb.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(tb, err)
	p, err := strconv.Atoi(port)
	require.NoError(tb, err)
	gc := gohive.NewConnectConfiguration()
	gc.Username = "bench"
	gc.FetchSize = conn.DefaultFetchSize
	// gohive sleeps this long between status polls (200 ms by default);
	// 1 ms keeps its latency out of the scan figures.
	gc.PollIntervalInMillis = 1
	hc, err := gohive.Connect(host, p, "NOSASL", gc)
	require.NoError(tb, err)
	tb.Cleanup(func() { hc.Close() })
	return hc
}

// row is what every client reads of one row; sum folds it into a
// checksum so that the three clients can be compared.
type row struct {
	id, i, bi      int64
	iNull, biNull  bool
	b, bNull       bool
	d              float64
	dNull          bool
	dec, s, ts     string
	decNull, sNull bool
	tsNull         bool
}

func (r *row) sum() int64 {
	h := r.id
	if !r.iNull {
		h = h*31 + r.i
	}
	if !r.biNull {
		h = h*31 + r.bi
	}
	if !r.bNull && r.b {
		h = h*31 + 1
	}
	if !r.dNull {
		h = h*31 + int64(r.d*4)
	}
	h = h*31 + int64(len(r.dec)+len(r.s)+len(r.ts))
	// NULL and the empty string read alike above: tell them apart.
	for _, null := range []bool{r.decNull, r.sNull, r.tsNull} {
		h *= 2
		if null {
			h++
		}
	}
	return h
}

// scanSQL reads the query through database/sql and impalalb.
func scanSQL(ctx context.Context, db *sql.DB, q string, checksum bool) (n, sum int64, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var (
		r   row
		b   sql.NullBool
		i   sql.NullInt64
		bi  sql.NullInt64
		d   sql.NullFloat64
		dec sql.NullString
		s   sql.NullString
		ts  sql.NullTime
	)
	for rows.Next() {
		if err := rows.Scan(&r.id, &b, &i, &bi, &d, &dec, &s, &ts); err != nil {
			return n, sum, err
		}
		if checksum {
			r.b, r.bNull = b.Bool, !b.Valid
			r.i, r.iNull = i.Int64, !i.Valid
			r.bi, r.biNull = bi.Int64, !bi.Valid
			r.d, r.dNull = d.Float64, !d.Valid
			r.dec, r.s = dec.String, s.String
			r.decNull, r.sNull, r.tsNull = !dec.Valid, !s.Valid, !ts.Valid
			r.ts = ""
			if ts.Valid {
				r.ts = formatTS(ts.Time)
			}
			sum += r.sum()
		}
		n++
	}
	return n, sum, rows.Err()
}

// scanSQLAny reads the query through database/sql into *any destinations,
// type-switching on each value as a generic consumer would.
func scanSQLAny(ctx context.Context, db *sql.DB, q string) (n int64, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]any, 8)
	ptrs := make([]any, 8)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var acc int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for _, v := range vals {
			switch v := v.(type) {
			case int64:
				acc += v
			case float64:
				acc += int64(v)
			case bool:
				if v {
					acc++
				}
			case string:
				acc += int64(len(v))
			case time.Time:
				acc += int64(v.Nanosecond())
			}
		}
		n++
	}
	_ = acc
	return n, rows.Err()
}

// formatTS prints a timestamp as Impala does, for the checksum only.
func formatTS(t time.Time) string {
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000000")
}

// scanGohive reads the query through gohive's cursor (FetchOne into
// pointers-to-pointers, its way of reporting NULL). TIMESTAMP stays the
// string gohive hands out: no parsing is charged to gohive.
func scanGohive(ctx context.Context, hc *gohive.Connection, q string, checksum bool) (n, sum int64, err error) {
	cur := hc.Cursor()
	defer cur.Close()
	cur.Exec(ctx, q)
	if cur.Err != nil {
		return 0, 0, cur.Err
	}
	var (
		id         int64
		b          *bool
		i          *int32
		bi         *int64
		d          *float64
		dec, s, ts *string
		r          row
	)
	for cur.HasMore(ctx) {
		if cur.Err != nil {
			return n, sum, cur.Err
		}
		cur.FetchOne(ctx, &id, &b, &i, &bi, &d, &dec, &s, &ts)
		if cur.Err != nil {
			return n, sum, cur.Err
		}
		if checksum {
			r = row{id: id}
			r.bNull, r.iNull, r.biNull, r.dNull = b == nil, i == nil, bi == nil, d == nil
			r.b, r.bi, r.d = deref(b), deref(bi), deref(d)
			r.i = int64(deref(i))
			r.dec, r.s, r.ts = deref(dec), deref(s), deref(ts)
			r.decNull, r.sNull, r.tsNull = dec == nil, s == nil, ts == nil
			sum += r.sum()
		}
		n++
	}
	return n, sum, cur.Err
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// scanConn reads the query through impalalb's raw conn API.
func scanConn(ctx context.Context, s *conn.Session, q string) (n int64, err error) {
	op, err := s.Execute(ctx, q, nil)
	if err != nil {
		return 0, err
	}
	defer op.Close(ctx)
	var (
		acc int64
		str string
		ts  time.Time
	)
	for {
		bt, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		for r := 0; r < bt.Len(); r++ {
			acc += bt.Int64(0, r)
			if !bt.IsNull(1, r) && bt.Bool(1, r) {
				acc++
			}
			if !bt.IsNull(2, r) {
				acc += bt.Int64(2, r)
			}
			if !bt.IsNull(3, r) {
				acc += bt.Int64(3, r)
			}
			if !bt.IsNull(4, r) {
				acc += int64(bt.Float64(4, r))
			}
			if !bt.IsNull(5, r) {
				str = bt.String(5, r)
			}
			if !bt.IsNull(6, r) {
				str = bt.String(6, r)
			}
			if !bt.IsNull(7, r) {
				t, terr := bt.Time(7, r)
				if terr != nil {
					return n, terr
				}
				ts = t
			}
		}
		n += int64(bt.Len())
	}
	_, _, _ = acc, str, ts
	return n, op.Close(ctx)
}

// TestSameRows checks that gohive and impalalb read the same values from
// the coordinator, so that the benchmark compares equal work.
func TestSameRows(t *testing.T) {
	co := startCoord(t)
	db := openDB(t, co.HS2Addr())
	hc := dialGohive(t, co.HS2Addr())
	ctx := context.Background()
	q := query(5000)
	n1, s1, err := scanSQL(ctx, db, q, true)
	require.NoError(t, err)
	n2, s2, err := scanGohive(ctx, hc, q, true)
	require.NoError(t, err)
	require.EqualValues(t, 5000, n1)
	require.Equal(t, n1, n2)
	require.Equal(t, s1, s2)
}

// cpuTime is the CPU time (user and system) the process used so far: on a
// busy machine, CPU per row moves less than wall-clock rows/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, m0 *runtime.MemStats, cpu0 time.Duration) {
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	total := float64(benchRows) * float64(b.N)
	b.ReportMetric(float64(cpuTime()-cpu0)/total, "cpu-ns/row")
	b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/total, "allocs/row")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/total, "B/row")
}

// BenchmarkScan1M scans 1M rows × 8 mixed columns from one in-process
// coordinator, in one run, through impalalb's database/sql driver,
// impalalb's raw conn API and gohive. allocs/row and B/row include the
// coordinator's own allocations (it runs in the same process), the same
// for every client.
//
// With IMPALALB_BENCH_HS2=host:port the benchmark reads from that
// coordinator instead (for example internal/impalad/cmd/impalad run as its
// own process): allocs/row and B/row are then the client's alone.
// TestMain turns off, as cmd/impalad does, the per-call connectivity-check
// goroutine of the in-process coordinator's Thrift processors, a cost of
// the test coordinator that every client would pay alike. It is a global of
// the Thrift library, so it is set once before any server starts.
func TestMain(m *testing.M) {
	thrift.ServerConnectivityCheckInterval = 0
	os.Exit(m.Run())
}

func BenchmarkScan1M(b *testing.B) {
	addr := os.Getenv("IMPALALB_BENCH_HS2")
	if addr == "" {
		addr = startCoord(b).HS2Addr()
	}
	q := query(benchRows)
	ctx := context.Background()

	b.Run("impalalb-database-sql", func(b *testing.B) {
		db := openDB(b, addr)
		timeScans(b, func() (int64, error) {
			n, _, err := scanSQL(ctx, db, q, false)
			return n, err
		})
	})

	// The same through database/sql, scanned into *any: the values the
	// driver hands out, with none of convertAssign's conversions (what a
	// generic exporter does).
	b.Run("impalalb-database-sql-any", func(b *testing.B) {
		db := openDB(b, addr)
		timeScans(b, func() (int64, error) { return scanSQLAny(ctx, db, q) })
	})

	b.Run("impalalb-conn", func(b *testing.B) {
		s, err := conn.Dial(ctx, addr, conn.Options{User: "bench", FetchSize: conn.DefaultFetchSize})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		timeScans(b, func() (int64, error) { return scanConn(ctx, s, q) })
	})

	b.Run("gohive", func(b *testing.B) {
		hc := dialGohive(b, addr)
		timeScans(b, func() (int64, error) {
			n, _, err := scanGohive(ctx, hc, q, false)
			return n, err
		})
	})
}

// timeScans runs scan once untimed to warm up, then b.N times timed, each
// time requiring benchRows rows and no error, and reports the figures.
func timeScans(b *testing.B, scan func() (int64, error)) {
	check := func(n int64, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if n != benchRows {
			b.Fatalf("%d rows", n)
		}
	}
	check(scan()) // warm up, untimed
	b.ReportAllocs()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	for b.Loop() {
		check(scan())
	}
	report(b, &m0, cpu0)
}
