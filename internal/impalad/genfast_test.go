package impalad

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// genTextRows are the rows whose text TestGenTextFast compares: the first
// ones, some around the point where the timestamp's offset wraps past
// int64 nanoseconds, the last ones, and random ones.
func genTextRows() []int64 {
	var rows []int64
	for r := range int64(200_000) {
		rows = append(rows, r)
	}
	for _, c := range []int64{2_561_000, 5_122_000, 100_000_000, MaxGenRows - 5_000} {
		for r := c; r < c+5_000; r++ {
			rows = append(rows, r)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		rows = append(rows, rng.Int64N(MaxGenRows))
	}
	return rows
}

// TestGenTextFast checks that the fetch path's text of every string-encoded
// generated column is exactly genText's.
func TestGenTextFast(t *testing.T) {
	rows := genTextRows()
	var buf []byte
	for col := 8; col <= 14; col++ {
		var f tsFormatter
		for _, r := range rows {
			buf = appendGenText(buf[:0], col, r, &f)
			want := genText(col, r)
			if string(buf) != want {
				require.Equal(t, want, string(buf), "column %d row %d", col, r)
			}
			require.LessOrEqual(t, len(buf), genTextMax(col), "column %d row %d", col, r)
		}
	}
}

// TestCivilDates checks the date arithmetic of the fast path against the
// time package over a wide range of days, negative ones included.
func TestCivilDates(t *testing.T) {
	var buf []byte
	for days := int64(-800_000); days < 2_960_000; days += 7 {
		tm := time.Unix(days*86400+3723, 0).UTC()
		y, m, d := civil(days)
		if int(y) != tm.Year() || int(m) != int(tm.Month()) || int(d) != tm.Day() {
			require.Equal(t, tm.Format("2006-01-02"), strconv.Itoa(int(y))+"-"+strconv.Itoa(int(m))+"-"+strconv.Itoa(int(d)), "day %d", days)
		}
		buf = appendTimestamp(buf[:0], days*86400+3723, int(days&1)*123)
		if want := formatTimestamp(time.Unix(days*86400+3723, (days&1)*123).UTC()); string(buf) != want {
			require.Equal(t, want, string(buf), "day %d", days)
		}
		buf = appendDate(buf[:0], days)
		if want := tm.Format("2006-01-02"); string(buf) != want {
			require.Equal(t, want, string(buf), "day %d", days)
		}
	}
	for _, v := range []int64{math.MinInt64, math.MaxInt64, 0, 1, 9, 10, 99, 100, 12345678901} {
		require.Equal(t, strconv.FormatInt(v, 10), string(appendInt(nil, v)))
	}
}

// TestColumnarBatchGen checks that a generated table's batches are the
// ones the generic path builds from GenValue, value for value and NULL for
// NULL.
func TestColumnarBatchGen(t *testing.T) {
	proj := make([]int, len(genSchema))
	for i := range proj {
		proj[i] = i
	}
	for _, from := range []int64{0, 3, 1_000_003, MaxGenRows - 700} {
		const n = 700
		g := &genResult{cols: GenSchema(), proj: proj, n: from + n}
		rr := &boxedGen{cols: GenSchema(), n: from + n}
		require.Equal(t, columnarBatch(rr, from, from+n), columnarBatch(g, from, from+n), "from %d", from)
	}
}

// boxedGen is a generated table served through the generic path: boxed
// values from GenValue.
type boxedGen struct {
	cols []Column
	n    int64
}

func (b *boxedGen) schema() []Column             { return b.cols }
func (b *boxedGen) numRows() int64               { return b.n }
func (b *boxedGen) value(col int, row int64) any { return GenValue(col, row) }

// BenchmarkColumnarBatchGen measures building one 10240-row batch of the
// 8 columns of the gohivebench scan from a generated table.
func BenchmarkColumnarBatchGen(b *testing.B) {
	b.ReportAllocs()
	proj := []int{0, 1, 4, 5, 7, 8, 9, 12}
	cols := make([]Column, len(proj))
	for i, p := range proj {
		cols[i] = genSchema[p]
	}
	g := &genResult{cols: cols, proj: proj, n: MaxGenRows}
	const n = 10240
	from := int64(0)
	for b.Loop() {
		columnarBatch(g, from, from+n)
		from = (from + n) % 1_000_000
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

// TestGenBatchAhead checks that the batches a generated result encodes in
// advance are the ones asked for, while their buffers are reused:
// sequential fetches, a fetch of another size, a jump back to the first
// row.
func TestGenBatchAhead(t *testing.T) {
	proj := []int{0, 1, 4, 5, 7, 8, 9, 12}
	cols := make([]Column, len(proj))
	for i, p := range proj {
		cols[i] = genSchema[p]
	}
	g := &genResult{cols: cols, proj: proj, n: 10_000}
	ref := &genResult{cols: cols, proj: proj, n: 10_000}
	for i, r := range [][2]int64{{0, 2000}, {2000, 4000}, {4000, 6000}, {6000, 7000}, {7000, 8000}, {0, 2000}, {2000, 4000}, {4000, 10_000}} {
		b := g.encodedBatch(r[0], r[1])
		require.Equal(t, appendGenColumns(nil, ref, r[0], r[1]), b.enc, "rows %v", r)
		b.release()
		if i%3 != 2 {
			// As the fetch processor does once the reply is written;
			// otherwise the next fetch builds the queued batch itself.
			g.buildAhead()
		}
	}
	g.mu.Lock()
	require.Nil(t, g.ahead, "nothing built past the last row")
	require.NotEmpty(t, g.spare, "buffers kept for reuse")
	g.mu.Unlock()

	// A fetch racing the goroutine that builds its batch in advance gets
	// the same bytes, whichever of them encodes it.
	g2 := &genResult{cols: cols, proj: proj, n: 10_000}
	for range 20 {
		b := g2.encodedBatch(0, 2000)
		b.release()
		done := make(chan struct{})
		go func() {
			defer close(done)
			g2.buildAhead()
		}()
		b = g2.encodedBatch(2000, 4000)
		require.Equal(t, appendGenColumns(nil, ref, 2000, 4000), b.enc)
		<-done
		b.release()
	}

	// Once its operation is closed, a result keeps no buffer.
	b := g.encodedBatch(0, 2000)
	op := &operation{res: g, cancelled: make(chan struct{})}
	op.closeLocked()
	b.release()
	g.mu.Lock()
	require.Nil(t, g.ahead)
	require.Empty(t, g.spare)
	g.mu.Unlock()
}

// BenchmarkAppendGenColumns measures encoding one 10240-row batch of the
// 8 columns of the gohivebench scan straight to reply bytes, the work of
// a coordinator per FetchResults of a generated table.
func BenchmarkAppendGenColumns(b *testing.B) {
	b.ReportAllocs()
	proj := []int{0, 1, 4, 5, 7, 8, 9, 12}
	cols := make([]Column, len(proj))
	for i, p := range proj {
		cols[i] = genSchema[p]
	}
	g := &genResult{cols: cols, proj: proj, n: MaxGenRows}
	const n = 10240
	from := int64(0)
	var buf []byte
	for b.Loop() {
		buf = appendGenColumns(buf[:0], g, from, from+n)
		from = (from + n) % 1_000_000
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

// TestGenFastParts checks the pieces of the fetch path's text against the
// time and strconv packages and the generators: genTimestampUnix,
// putDecimal2, decLen, decCounter and genNulls.
func TestGenFastParts(t *testing.T) {
	for _, r := range genTextRows() {
		sec, nsec := genTimestampUnix(r)
		ts := genTimestamp(r)
		if sec != ts.Unix() || nsec != int64(ts.Nanosecond()) {
			require.Equal(t, [2]int64{ts.Unix(), int64(ts.Nanosecond())}, [2]int64{sec, nsec}, "row %d", r)
		}
	}

	rng := rand.New(rand.NewPCG(5, 6))
	vals := []int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, 0}
	for _, p := range pow10 {
		if p <= math.MaxInt64 {
			vals = append(vals, int64(p), int64(p)-1, int64(p)+1, -int64(p), 1-int64(p), -1-int64(p))
		}
	}
	for range 100_000 {
		vals = append(vals, rng.Int64N(20_000_000_000)-10_000_000_000, int64(rng.Uint64()))
	}
	var dec [decimalMax]byte
	for _, v := range vals {
		n := putDecimal2(dec[:], v)
		if want := formatDecimal(v, 2); string(dec[:n]) != want {
			require.Equal(t, want, string(dec[:n]), "%d", v)
		}
		u := uint64(v)
		if decLen(u) != len(strconv.FormatUint(u, 10)) {
			require.Equal(t, len(strconv.FormatUint(u, 10)), decLen(u), "%d", u)
		}
	}

	var c decCounter
	for _, start := range []uint64{0, 9, 95, 999_990, 9_999_999_990, math.MaxUint64 - 20} {
		c.set(start)
		for u := start; u < start+20; u++ {
			require.Equal(t, strconv.FormatUint(u, 10), string(c.d[:c.n]))
			require.Equal(t, make([]byte, len(c.d)-c.n), c.d[c.n:], "nothing past the digits")
			c.inc()
		}
	}

	nulls := make([]byte, 3)
	for col := range genSchema {
		for _, from := range []int64{0, 1, 7, 8, 13, MaxGenRows - 24} {
			for n := range 24 {
				first := genNulls(nulls[:(n+7)/8], col, from, n)
				wantFirst := n
				want := make([]byte, (n+7)/8)
				for i := range n {
					if GenIsNull(col, from+int64(i)) {
						want[i>>3] |= 1 << (i & 7)
						wantFirst = min(wantFirst, i)
					}
				}
				require.Equal(t, want, nulls[:(n+7)/8], "column %d rows %d+%d", col, from, n)
				require.Equal(t, wantFirst, first, "column %d rows %d+%d", col, from, n)
			}
		}
	}
}
