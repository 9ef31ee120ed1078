package impalad

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// genFetchReply is the FetchResults reply carrying resp as the generated
// code writes it with serve's protocol (strict binary).
func genFetchReply(t testing.TB, seqID int32, resp *tcli.TFetchResultsResp) []byte {
	t.Helper()
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{TBinaryStrictWrite: new(true)})
	require.NoError(t, writeFetchReplyGen(context.Background(), seqID, p, resp))
	return buf.Bytes()
}

// requireSameReply checks that appendFetchReply writes resp exactly as the
// generated code does, appending to what b already holds.
func requireSameReply(t testing.TB, seqID int32, resp *tcli.TFetchResultsResp) {
	t.Helper()
	want := genFetchReply(t, seqID, resp)
	prefix := []byte("prefix")
	got, at, ok := appendFetchReply(append([]byte(nil), prefix...), seqID, resp, nil)
	require.True(t, ok)
	require.Equal(t, -1, at)
	require.Equal(t, prefix, got[:len(prefix)])
	require.Equal(t, want, got[len(prefix):])
}

// randFetchResp builds a TFetchResultsResp from r's choices: every column
// type, NULL bitmaps, empty and nil lists, empty and non-ASCII strings,
// error statuses with and without their optional fields, hasMoreRows unset,
// true or false, nil results.
func randFetchResp(r *rand.Rand) *tcli.TFetchResultsResp {
	if r.IntN(20) == 0 {
		return nil
	}
	resp := &tcli.TFetchResultsResp{}
	if r.IntN(10) != 0 {
		resp.Status = randStatus(r)
	}
	switch r.IntN(3) {
	case 1:
		resp.HasMoreRows = ptr(true)
	case 2:
		resp.HasMoreRows = ptr(false)
	}
	if r.IntN(6) == 0 {
		return resp
	}
	rs := &tcli.TRowSet{StartRowOffset: randInt64(r)}
	if r.IntN(2) == 0 {
		rs.Rows = []*tcli.TRow{}
	}
	if r.IntN(8) != 0 {
		rs.Columns = []*tcli.TColumn{}
		for range r.IntN(18) {
			rs.Columns = append(rs.Columns, randColumn(r))
		}
	}
	if r.IntN(8) == 0 {
		rs.BinaryColumns = randNulls(r)
		if rs.BinaryColumns == nil {
			rs.BinaryColumns = []byte{}
		}
	}
	if r.IntN(8) == 0 {
		rs.ColumnCount = ptr(int32(r.Uint32()))
	}
	resp.Results = rs
	return resp
}

func randStatus(r *rand.Rand) *tcli.TStatus {
	st := &tcli.TStatus{StatusCode: tcli.TStatusCode(r.IntN(5))}
	if r.IntN(3) == 0 {
		return st
	}
	if r.IntN(3) == 0 {
		st.InfoMessages = []string{}
		for range r.IntN(4) {
			st.InfoMessages = append(st.InfoMessages, randString(r))
		}
	}
	if r.IntN(2) == 0 {
		st.SqlState = ptr(randString(r))
	}
	if r.IntN(2) == 0 {
		st.ErrorCode = ptr(int32(r.Uint32()))
	}
	if r.IntN(2) == 0 {
		st.ErrorMessage = ptr(randString(r))
	}
	return st
}

// randInt64 is a random int64, often an edge.
func randInt64(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MinInt64
	case 2:
		return math.MaxInt64
	case 3:
		return -1
	}
	return int64(r.Uint64())
}

// randString is empty, ASCII, non-ASCII, or arbitrary bytes.
func randString(r *rand.Rand) string {
	parts := []string{"", "a", "row-12", "ü-7-ß", "日本語", "\x00", "\xde\xad", "\t\n", " "}
	var s string
	for range r.IntN(5) {
		s += parts[r.IntN(len(parts))]
	}
	return s
}

// randNulls is nil, empty or random bytes.
func randNulls(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randColumn is one column of a random type, with nil, empty or random
// values and NULL bitmap.
func randColumn(r *rand.Rand) *tcli.TColumn {
	n := r.IntN(70)
	if r.IntN(8) == 0 {
		n = 0
	}
	nilVals := r.IntN(10) == 0
	nulls := randNulls(r)
	c := &tcli.TColumn{}
	switch r.IntN(8) {
	case 0:
		v := fill(n, nilVals, func() bool { return r.IntN(2) == 0 })
		c.BoolVal = &tcli.TBoolColumn{Values: v, Nulls: nulls}
	case 1:
		v := fill(n, nilVals, func() int8 { return int8(r.Uint32()) })
		c.ByteVal = &tcli.TByteColumn{Values: v, Nulls: nulls}
	case 2:
		v := fill(n, nilVals, func() int16 { return int16(r.Uint32()) })
		c.I16Val = &tcli.TI16Column{Values: v, Nulls: nulls}
	case 3:
		v := fill(n, nilVals, func() int32 { return int32(r.Uint32()) })
		c.I32Val = &tcli.TI32Column{Values: v, Nulls: nulls}
	case 4:
		v := fill(n, nilVals, func() int64 { return randInt64(r) })
		c.I64Val = &tcli.TI64Column{Values: v, Nulls: nulls}
	case 5:
		edges := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
		v := fill(n, nilVals, func() float64 {
			if r.IntN(4) == 0 {
				return edges[r.IntN(len(edges))]
			}
			return math.Float64frombits(r.Uint64())
		})
		c.DoubleVal = &tcli.TDoubleColumn{Values: v, Nulls: nulls}
	case 6:
		v := fill(n, nilVals, func() string { return randString(r) })
		c.StringVal = &tcli.TStringColumn{Values: v, Nulls: nulls}
	case 7:
		v := fill(n, nilVals, func() []byte { return randNulls(r) })
		c.BinaryVal = &tcli.TBinaryColumn{Values: v, Nulls: nulls}
	}
	return c
}

func fill[T any](n int, nilVals bool, gen func() T) []T {
	if nilVals {
		return nil
	}
	v := make([]T, n)
	for i := range v {
		v[i] = gen()
	}
	return v
}

func TestFetchReplySameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		seq := int32(r.Uint32())
		if i%7 == 0 {
			seq = int32(i)
		}
		requireSameReply(t, seq, randFetchResp(r))
	}
}

// TestFetchReplyEdges covers the cases one by one.
func TestFetchReplyEdges(t *testing.T) {
	for _, resp := range []*tcli.TFetchResultsResp{
		nil,
		{},
		{Status: okStatus()},
		{Status: errStatus(&sqlError{msg: "Invalid or unknown query handle: 1:2.", sqlState: "HY000"})},
		{Status: &tcli.TStatus{StatusCode: tcli.TStatusCode_ERROR_STATUS, ErrorMessage: ptr("")}},
		{Status: &tcli.TStatus{StatusCode: tcli.TStatusCode_STILL_EXECUTING_STATUS, InfoMessages: []string{}}},
		{Status: &tcli.TStatus{InfoMessages: []string{"", "ü"}, SqlState: ptr("HY008"), ErrorCode: ptr(int32(-1))}},
		{Status: okStatus(), HasMoreRows: ptr(false)},
		{Status: okStatus(), HasMoreRows: ptr(true), Results: &tcli.TRowSet{}},
		{Status: okStatus(), HasMoreRows: ptr(false), Results: &tcli.TRowSet{Rows: []*tcli.TRow{}, Columns: []*tcli.TColumn{}}},
		{Status: okStatus(), Results: &tcli.TRowSet{StartRowOffset: -5, Columns: []*tcli.TColumn{
			{BoolVal: &tcli.TBoolColumn{}},
			{ByteVal: &tcli.TByteColumn{Values: []int8{-128, 127}, Nulls: []byte{}}},
			{I16Val: &tcli.TI16Column{Values: []int16{-1}, Nulls: []byte{1}}},
			{I32Val: &tcli.TI32Column{Values: []int32{math.MinInt32}}},
			{I64Val: &tcli.TI64Column{Values: []int64{math.MaxInt64}}},
			{DoubleVal: &tcli.TDoubleColumn{Values: []float64{math.NaN(), math.Inf(-1)}}},
			{StringVal: &tcli.TStringColumn{Values: []string{"", "ü-2-ß", "\xff"}, Nulls: []byte{0xff, 0}}},
			{BinaryVal: &tcli.TBinaryColumn{Values: [][]byte{nil, {}, {0xde, 0xad}}}},
		}, BinaryColumns: []byte{}, ColumnCount: ptr(int32(8))}},
	} {
		requireSameReply(t, 7, resp)
	}
}

// TestFetchReplyNotEncoded checks that what the encoder does not cover is
// left to the generated writer.
func TestFetchReplyNotEncoded(t *testing.T) {
	for _, rs := range []*tcli.TRowSet{
		{Rows: []*tcli.TRow{{ColVals: []*tcli.TColumnValue{{I32Val: &tcli.TI32Value{Value: ptr(int32(1))}}}}}},
		{Columns: []*tcli.TColumn{{}}},
		{Columns: []*tcli.TColumn{nil}},
		{Columns: []*tcli.TColumn{{I32Val: &tcli.TI32Column{}, I64Val: &tcli.TI64Column{}}}},
	} {
		_, _, ok := appendFetchReply(nil, 1, &tcli.TFetchResultsResp{Status: okStatus(), Results: rs}, nil)
		require.False(t, ok)
	}
}

// TestFetchReplyBatches compares the replies of real batches: generated
// tables (every column type, NULLs, empty and non-ASCII strings) and
// materialized rows.
func TestFetchReplyBatches(t *testing.T) {
	proj := make([]int, len(genSchema))
	for i := range proj {
		proj[i] = i
	}
	g := &genResult{cols: genSchema, proj: proj, n: 1 << 40}
	vals := make([][]any, 50)
	for row := range vals {
		for c := range genSchema {
			vals[row] = append(vals[row], GenValue(c, int64(row)))
		}
	}
	rows := &rowsResult{cols: genSchema, rows: vals}
	for _, c := range []struct {
		r        result
		from, to int64
	}{
		{g, 0, 0}, {g, 0, 1}, {g, 0, 1024}, {g, 3, 1030}, {g, 1<<40 - 1000, 1 << 40},
		{rows, 0, 0}, {rows, 0, 50}, {rows, 7, 20},
	} {
		resp := &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(c.to < c.r.numRows()),
			Results: &tcli.TRowSet{StartRowOffset: c.from, Rows: []*tcli.TRow{}, Columns: buildColumns(c.r, c.from, c.to)}}
		requireSameReply(t, int32(c.from), resp)
	}
}

// genReply is the reply carrying rows [from, to) of g as the fetch path
// encodes it: appendFetchReply with the columns appendGenColumns encodes.
func genReply(t testing.TB, g *genResult, from, to int64, more bool) []byte {
	t.Helper()
	resp := &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(more),
		Results: &tcli.TRowSet{StartRowOffset: from, Rows: []*tcli.TRow{}}}
	cols := appendGenColumns([]byte("junk")[:0:0], g, from, to)
	b, at, ok := appendFetchReply(nil, 3, resp, cols)
	require.True(t, ok)
	require.Positive(t, at)
	return append(append(append([]byte(nil), b[:at]...), cols...), b[at:]...)
}

// TestGenColumnsSameBytes compares the columns of generated batches
// encoded straight from the generators with the generated writer's
// encoding of the batches' structs: every column, projections in any
// order (twice the same column, too), NULLs in every position, row numbers
// from 0 to the largest.
func TestGenColumnsSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	all := make([]int, len(genSchema))
	for i := range all {
		all[i] = i
	}
	projs := [][]int{all, {0}, {14, 9, 9, 1}, {12, 13, 8, 11, 10}}
	for range 20 {
		p := make([]int, 1+r.IntN(20))
		for i := range p {
			p[i] = r.IntN(len(genSchema))
		}
		projs = append(projs, p)
	}
	for _, proj := range projs {
		cols := make([]Column, len(proj))
		for i, c := range proj {
			cols[i] = genSchema[c]
		}
		g := &genResult{cols: cols, proj: proj, n: MaxGenRows}
		for _, span := range [][2]int64{{0, 0}, {0, 1}, {0, 1024}, {5, 17}, {MaxGenRows - 1030, MaxGenRows}} {
			from, to := span[0], span[1]
			want := genFetchReply(t, 3, &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(to < g.n),
				Results: &tcli.TRowSet{StartRowOffset: from, Rows: []*tcli.TRow{}, Columns: buildColumns(g, from, to)}})
			require.Equal(t, want, genReply(t, g, from, to, to < g.n), "proj %v rows %d-%d", proj, from, to)
		}
		for range 5 {
			from := r.Int64N(MaxGenRows)
			to := min(from+r.Int64N(1500), g.n)
			want := genFetchReply(t, 3, &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(true),
				Results: &tcli.TRowSet{StartRowOffset: from, Rows: []*tcli.TRow{}, Columns: buildColumns(g, from, to)}})
			require.Equal(t, want, genReply(t, g, from, to, true), "proj %v rows %d-%d", proj, from, to)
		}
	}
}

// byteSource is a rand.Source drawing its numbers from fuzz input, then,
// once the input is used up, from a fixed sequence (never only zeros, on
// which rand's bounded draws would retry for ever).
type byteSource struct {
	b []byte
	n uint64
}

func (s *byteSource) Uint64() uint64 {
	if len(s.b) == 0 {
		s.n++
		return s.n * 0x9e3779b97f4a7c15
	}
	var x [8]byte
	n := copy(x[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(x[:])
}

func FuzzFetchReply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("some longer input that drives many of the random choices"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := rand.New(&byteSource{b: data})
		requireSameReply(t, int32(r.Uint32()), randFetchResp(r))
	})
}

// TestFetchReplyOverTheWire fetches generated rows on several connections
// at once, without SASL and with it (whose transport frames the reply), so
// that reply buffers are reused, and checks that every client decodes
// exactly the batches' values.
func TestFetchReplyOverTheWire(t *testing.T) {
	plain := startCoord(t, Config{DisableBeeswax: true})
	secured := startCoord(t, Config{DisableBeeswax: true, Users: map[string]string{"u": "p"}})
	proj := make([]int, len(genSchema))
	for i := range proj {
		proj[i] = i
	}
	for i := range 4 {
		n := 2000 + 700*i
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			var h *hs2Client
			if i%2 == 0 {
				h = dialHS2(t, plain.HS2Addr())
			} else {
				h = dialSASL(t, secured.HS2Addr(), nil, "u", "p")
			}
			h.mustOpen()
			op := h.mustExec(fmt.Sprintf("select * from gen.rows_%d", n))
			h.wait(op)
			rows, _ := h.fetchAll(op, 1024)
			want := decodeColumns(buildColumns(&genResult{cols: genSchema, proj: proj, n: int64(n)}, 0, int64(n)))
			require.Equal(t, want, rows)
		})
	}
}

// FuzzGenColumns compares, like TestGenColumnsSameBytes, the columns of
// generated batches encoded straight from the generators with the
// generated writer's encoding of their structs: projection, first row and
// row count from the input.
func FuzzGenColumns(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, int64(0), uint16(1024))
	f.Add([]byte{9, 12}, int64(MaxGenRows-10), uint16(10))
	f.Fuzz(func(t *testing.T, cols []byte, from int64, n uint16) {
		if len(cols) == 0 || len(cols) > 32 || from < 0 || from > MaxGenRows {
			t.Skip()
		}
		proj := make([]int, len(cols))
		schema := make([]Column, len(cols))
		for i, c := range cols {
			proj[i] = int(c) % len(genSchema)
			schema[i] = genSchema[proj[i]]
		}
		g := &genResult{cols: schema, proj: proj, n: MaxGenRows}
		to := min(from+int64(n%2048), g.n)
		want := genFetchReply(t, 3, &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(true),
			Results: &tcli.TRowSet{StartRowOffset: from, Rows: []*tcli.TRow{}, Columns: buildColumns(g, from, to)}})
		require.Equal(t, want, genReply(t, g, from, to, true))
	})
}

// TestGenColumnsLargeBatches compares, like TestGenColumnsSameBytes,
// batches of the size clients fetch (10240 rows, the timestamps' dates
// changing within them) with the generated writer's encoding, at the
// first rows, around the point where the timestamps' offset wraps, and at
// the last rows; and encoded after bytes already in a buffer, as a reused
// batch buffer holds them.
func TestGenColumnsLargeBatches(t *testing.T) {
	proj := make([]int, len(genSchema))
	for i := range proj {
		proj[i] = i
	}
	g := &genResult{cols: GenSchema(), proj: proj, n: MaxGenRows}
	const n = 10240
	for _, from := range []int64{0, 99_995, 2_561_000 - n/2, 5_122_003 - n/2, MaxGenRows - n} {
		want := genFetchReply(t, 3, &tcli.TFetchResultsResp{Status: okStatus(), HasMoreRows: ptr(true),
			Results: &tcli.TRowSet{StartRowOffset: from, Rows: []*tcli.TRow{}, Columns: buildColumns(g, from, from+n)}})
		require.Equal(t, want, genReply(t, g, from, from+n, true), "rows %d+%d", from, n)

		cols := appendGenColumns(nil, g, from, from+n)
		prefix := []byte("some bytes already there")
		got := appendGenColumns(append(make([]byte, 0, 100), prefix...), g, from, from+n)
		require.Equal(t, append(prefix, cols...), got, "rows %d+%d after a prefix", from, n)
	}
}
