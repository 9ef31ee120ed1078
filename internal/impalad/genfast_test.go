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
	for _, v := range []int64{0, 1, 5, 99, 100, 101, -1, -5, -99, -100, -12345, 9_999_999_999, -9_999_999_999} {
		for scale := 0; scale <= 4; scale++ {
			require.Equal(t, formatDecimal(v, scale), string(appendDecimal(nil, v, scale)), "%d scale %d", v, scale)
		}
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
	for _, r := range [][2]int64{{0, 2000}, {2000, 4000}, {4000, 6000}, {6000, 7000}, {7000, 8000}, {0, 2000}, {2000, 4000}, {4000, 10_000}} {
		b := g.encodedBatch(r[0], r[1])
		require.Equal(t, appendGenColumns(nil, ref, r[0], r[1]), b.enc, "rows %v", r)
		b.release()
	}
	g.mu.Lock()
	require.Nil(t, g.ahead, "nothing built past the last row")
	require.NotEmpty(t, g.spare, "buffers kept for reuse")
	g.mu.Unlock()

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
