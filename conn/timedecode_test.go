package conn

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// timeEdgeCases are texts on and around the edges of what ParseTimestamp
// accepts.
var timeEdgeCases = []string{
	"", " ", "2024-01-02", "2024-01-02 03:04:05", "2024-01-02T03:04:05",
	"2024-01-02 03:04:05.", "2024-01-02 03:04:05.1", "2024-01-02 03:04:05.12",
	"2024-01-02 03:04:05.123", "2024-01-02 03:04:05.1234", "2024-01-02 03:04:05.12345",
	"2024-01-02 03:04:05.123456", "2024-01-02 03:04:05.1234567",
	"2024-01-02 03:04:05.12345678", "2024-01-02 03:04:05.123456789",
	"2024-01-02 03:04:05.1234567890", "2024-01-02 03:04:05.000000000",
	"2024-01-02 03:04:05,123", "2024-01-02 03:04:05.12a", "2024-01-02 03:04",
	"2024-01-02 03:04:5", "2024-01-02  03:04:05", "2024-01-02 03:04:05 ",
	" 2024-01-02", "2024-01-02 ", "2024-1-02", "2024-01-2", "24-01-02",
	"2024/01/02", "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32",
	"2024-04-31", "2024-06-30", "2024-02-29", "2023-02-29", "2000-02-29",
	"1900-02-29", "1600-02-29", "1400-02-29", "1400-01-01 00:00:00",
	"1399-12-31 23:59:59.999999999", "9999-12-31 23:59:59.999999999",
	"9999-12-31", "0000-01-01", "0001-01-01 00:00:00", "1970-01-01 00:00:00",
	"1969-12-31 23:59:59.999999999", "2024-01-02 24:00:00", "2024-01-02 23:60:00",
	"2024-01-02 23:59:60", "2024-01-02 -1:00:00", "+024-01-02", "-024-01-02",
	"２０２４-01-02", "2024-01-02 03:04:05.１", "2024‐01‐02", "2024-01-02\x00",
	"2024-01-02 03:04:05\n", "NULL", "null", "not a timestamp", "é",
	"2024-01-02 03:04:05.999999999999999999999999999999999999999999999999999999999999999999999",
	strings.Repeat("2024-01-02 ", 10), strings.Repeat("x", 20000),
}

// genTimeTexts returns n texts: valid timestamps and dates of every shape,
// and damaged ones.
func genTimeTexts(rng *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		year := 1400 + rng.IntN(8600)
		if rng.IntN(20) == 0 {
			year = rng.IntN(10000)
		}
		t := time.Date(year, time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		s := t.Format("2006-01-02")
		if rng.IntN(8) == 0 {
			// A day that may not exist in that month.
			s = fmt.Sprintf("%04d-%02d-%02d", year, 1+rng.IntN(12), 28+rng.IntN(4))
		}
		if rng.IntN(4) != 0 {
			s += t.Format(" 15:04:05")
			if k := rng.IntN(11); k > 0 {
				s += "." + fmt.Sprintf("%010d", rng.Int64N(1e10))[:k]
			}
		}
		if rng.IntN(10) == 0 {
			b := []byte(s)
			switch rng.IntN(3) {
			case 0:
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			case 1:
				b = b[:rng.IntN(len(b))]
			default:
				b = append(b, byte(rng.IntN(256)))
			}
			s = string(b)
		}
		out = append(out, s)
	}
	return out
}

// oldTimes is what the driver did with a TIMESTAMP column's text (and
// what Batch.Time and Batch.Value do): parse every value that is not NULL
// with ParseTimestamp, and mark the ones that fail.
func oldTimes(texts []string, nulls []byte) (tm []time.Time, bad []bool) {
	tm, bad = make([]time.Time, len(texts)), make([]bool, len(texts))
	for row, s := range texts {
		if isNull(nulls, row) {
			continue
		}
		t, err := ParseTimestamp(s)
		if err != nil {
			bad[row] = true
			continue
		}
		tm[row] = t
	}
	return tm, bad
}

// timeReply is a FetchResults reply of an INT column, a TIMESTAMP and a
// DATE column of the texts, sent as strings, and a TIMESTAMP sent as
// binary.
func timeReply(t testing.TB, texts []string, nulls []byte) ([]byte, []Column) {
	meta := []Column{{Name: "i", Type: TypeInt}, {Name: "ts", Type: TypeTimestamp}, {Name: "d", Type: TypeDate}, {Name: "tb", Type: TypeTimestamp}}
	ints := make([]int32, len(texts))
	bins := make([][]byte, len(texts))
	for i, s := range texts {
		ints[i] = int32(i)
		bins[i] = []byte(s)
	}
	more := true
	resp := &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, HasMoreRows: &more, Results: &tcli.TRowSet{
		Rows: []*tcli.TRow{},
		Columns: []*tcli.TColumn{
			{I32Val: &tcli.TI32Column{Values: ints, Nulls: []byte{}}},
			{StringVal: &tcli.TStringColumn{Values: texts, Nulls: nulls}},
			{StringVal: &tcli.TStringColumn{Values: texts, Nulls: nulls}},
			{BinaryVal: &tcli.TBinaryColumn{Values: bins, Nulls: nulls}},
		},
	}}
	p, err := thrift.NewTSerializer().Write(context.Background(), resp)
	require.NoError(t, err)
	return append([]byte(nil), p...), meta
}

// readTimeReply reads data as a session does with SetDecodeTimes on, then
// as Operation.Next does: bufSize > 0 reads through a buffered transport
// of that size (decoded in place), 0 through a memory buffer (decoded
// after).
func readTimeReply(data []byte, meta []Column, bufSize int) (*Batch, error) {
	b, _, err := readTimeReplyTimes(data, meta, bufSize)
	return b, err
}

// readTimeReplyTimes is readTimeReply that also returns what the reader
// decoded in place, by column.
func readTimeReplyTimes(data []byte, meta []Column, bufSize int) (*Batch, []*timeData, error) {
	var trans thrift.TTransport
	if bufSize > 0 {
		trans = &bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), bufSize)}
	} else {
		buf := thrift.NewTMemoryBufferLen(len(data))
		buf.Write(data)
		trans = buf
	}
	p := thrift.NewTBinaryProtocolConf(trans, &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize})
	h := &hs2Op{cols: meta}
	h.setDecodeTimes(true)
	resp, err := readFetchRespTimes(context.Background(), p, openLimits, &h.rd)
	if err != nil {
		return nil, nil, err
	}
	times := h.rd.times
	b, err := decodeRowSetTimes(resp.Results, meta, times)
	if err != nil {
		return nil, nil, err
	}
	b.decodeTimes()
	return b, times, nil
}

// checkTimes requires that the times of b's TIMESTAMP and DATE columns be
// what the old path gives for texts, with the same "bad" decisions, and
// that String, Value and Time give what they give for the text.
func checkTimes(t *testing.T, b *Batch, texts []string, nulls []byte, what string) {
	t.Helper()
	wantTm, wantBad := oldTimes(texts, nulls)
	require.Equal(t, len(texts), b.Len(), what)
	for col := 1; col < b.NumColumns(); col++ {
		tm, bad := b.Times(col), b.BadTimes(col)
		require.NotNil(t, tm, "%s: column %d", what, col)
		require.Nil(t, b.Strings(col), what)
		require.Nil(t, b.Binaries(col), what)
		for row, s := range texts {
			require.Equal(t, wantBad[row], isNull(bad, row), "%s: column %d row %d %q", what, col, row, s)
			require.True(t, wantTm[row].Equal(tm[row]) && wantTm[row].Location() == tm[row].Location(), "%s: column %d row %d %q: %v, want %v", what, col, row, s, tm[row], wantTm[row])
			require.Equal(t, wantTm[row], tm[row], "%s: column %d row %d %q", what, col, row, s)
			if isNull(nulls, row) {
				require.Nil(t, b.Value(col, row))
				continue
			}
			gotT, gotErr := b.Time(col, row)
			wantT, wantErr := ParseTimestamp(s)
			require.Equal(t, wantT, gotT)
			require.Equal(t, wantErr, gotErr)
			if wantBad[row] {
				require.Equal(t, s, b.Value(col, row), "%s: column %d row %d", what, col, row)
				require.Equal(t, s, b.String(col, row))
			} else {
				require.Equal(t, wantTm[row], b.Value(col, row))
				// The text formatted back parses to the same time.
				back, err := ParseTimestamp(b.String(col, row))
				require.NoError(t, err)
				require.Equal(t, wantTm[row], back)
			}
		}
	}
}

// timeBufSizes are the buffer sizes of the transports the tests read
// through: values split across reads at every offset, and not.
var timeBufSizes = []int{0, 16, 17, 23, 31, 64, 4096, 64 << 10}

func TestDecodeTimesMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := append(append([]string(nil), timeEdgeCases...), genTimeTexts(rng, 20000)...)
	for _, nullEvery := range []int{0, 1, 3} {
		var nulls []byte
		if nullEvery > 0 {
			nulls = make([]byte, (len(texts)+7)/8)
			for row := range texts {
				if row%nullEvery == 0 {
					nulls[row>>3] |= 1 << (row & 7)
				}
			}
		}
		data, meta := timeReply(t, texts, nulls)
		for _, size := range timeBufSizes {
			what := fmt.Sprintf("nulls every %d, buffer %d", nullEvery, size)
			b, times, err := readTimeReplyTimes(data, meta, size)
			require.NoError(t, err, what)
			checkTimes(t, b, texts, nulls, what)
			if size == 0 {
				require.Nil(t, times, "no peeker: decoded after")
				continue
			}
			// Read in place: TIMESTAMP and DATE sent as strings never
			// become text (binary ones are decoded after), and the only
			// texts kept are those of the bad values that are not NULL
			// and not empty.
			require.Len(t, times, 4)
			require.True(t, times[1] != nil && times[2] != nil && times[0] == nil && times[3] == nil, what)
			_, bad := oldTimes(texts, nulls)
			kept := 0
			for row, s := range texts {
				if bad[row] && s != "" {
					kept++
				}
			}
			require.Len(t, times[1].badStrs, kept, what)
			require.Same(t, times[1], b.cols[1].times)
		}
	}
}

func TestDecodeTimesEdgeShapes(t *testing.T) {
	cases := []struct {
		name  string
		texts []string
		nulls []byte
	}{
		{"empty", []string{}, []byte{}},
		{"one", []string{"2024-02-29 12:00:00.5"}, []byte{0}},
		{"all null", []string{"", "", "", "", "", "", "", "", ""}, []byte{0xff, 1}},
		{"null with text", []string{"2024-01-01", "junk", "2024-01-01"}, []byte{3}},
		{"short nulls", []string{"", "x", "2024-01-01", "", "", "", "", "", "", ""}, []byte{1}},
		{"all bad", []string{"a", "bb", "", "ccc"}, nil},
	}
	for _, tc := range cases {
		data, meta := timeReply(t, tc.texts, tc.nulls)
		for _, size := range timeBufSizes {
			b, err := readTimeReply(data, meta, size)
			require.NoError(t, err)
			checkTimes(t, b, tc.texts, tc.nulls, tc.name)
			if tc.name == "all null" || tc.name == "null with text" {
				require.Nil(t, b.BadTimes(1), "a NULL is never bad")
			}
		}
	}
}

func TestDecodeTimesOffByDefault(t *testing.T) {
	texts := []string{"2024-01-01", "junk"}
	data, meta := timeReply(t, texts, []byte{0})
	p := thrift.NewTBinaryProtocolConf(&bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), 4096)}, &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize})
	resp, err := readFetchRespTimes(context.Background(), p, openLimits, nil)
	require.NoError(t, err)
	b, err := decodeRowSetTimes(resp.Results, meta, nil)
	require.NoError(t, err)
	require.Equal(t, texts, b.Strings(1))
	require.Nil(t, b.Times(1))
	require.Nil(t, b.Times(0))
	require.Nil(t, b.BadTimes(1))
}

func TestDecodeTimesTruncated(t *testing.T) {
	texts := []string{"2024-01-01 00:00:00", "junk", "2024-01-02"}
	data, meta := timeReply(t, texts, nil)
	for cut := 1; cut < len(data); cut++ {
		for _, size := range []int{16, 4096} {
			_, err := readTimeReply(data[:cut], meta, size)
			require.Error(t, err, "cut at %d", cut)
		}
	}
}

// FuzzDecodeTimes compares, for the texts of a fuzz input (split at
// '\n'; the first byte picks the NULLs and the transport), the times and
// "bad" decisions of the decoding in the reader with those of
// ParseTimestamp over the text.
func FuzzDecodeTimes(f *testing.F) {
	f.Add([]byte("\x00" + strings.Join(timeEdgeCases[:40], "\n")))
	f.Add([]byte("\x13" + strings.Join(timeEdgeCases[40:], "\n")))
	f.Add([]byte("\x22" + strings.Join(genTimeTexts(rand.New(rand.NewPCG(3, 4)), 50), "\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		mode := data[0]
		texts := strings.Split(string(data[1:]), "\n")
		if len(texts) > 500 {
			texts = texts[:500]
		}
		var nulls []byte
		if mode&0x0f != 0 {
			nulls = make([]byte, (len(texts)+7)/8)
			for row := range texts {
				if row%int(mode&0x0f) == 0 {
					nulls[row>>3] |= 1 << (row & 7)
				}
			}
		}
		reply, meta := timeReply(t, texts, nulls)
		size := timeBufSizes[int(mode>>4)%len(timeBufSizes)]
		b, err := readTimeReply(reply, meta, size)
		require.NoError(t, err)
		checkTimes(t, b, texts, nulls, fmt.Sprintf("buffer %d", size))
	})
}

// BenchmarkDecodeWireTimes is BenchmarkDecodeWireBuffered with the
// TIMESTAMP column decoded into times by the reader (SetDecodeTimes).
func BenchmarkDecodeWireTimes(b *testing.B) { benchDecodeWireTimes(b, true) }

// BenchmarkDecodeWireTimesText is the same with the TIMESTAMP text read
// and parsed afterwards, as the driver did.
func BenchmarkDecodeWireTimesText(b *testing.B) { benchDecodeWireTimes(b, false) }

func benchDecodeWireTimes(b *testing.B, inReader bool) {
	msgs := benchMessages(b)
	var dec *timeDecoder
	if inReader {
		dec = newTimeDecoder(benchMeta)
	}
	cfg := &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize}
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		for _, m := range msgs {
			p := thrift.NewTBinaryProtocolConf(&bufTransport{r: bufio.NewReaderSize(bytes.NewReader(m), 32<<10)}, cfg)
			resp, err := readFetchRespTimes(ctx, p, openLimits, dec)
			if err != nil {
				b.Fatal(err)
			}
			var times []*timeData
			if dec != nil {
				times = dec.times
			}
			bt, err := decodeRowSetTimes(resp.Results, benchMeta, times)
			if err != nil {
				b.Fatal(err)
			}
			bt.decodeTimes()
			readAll(bt)
		}
	}
	b.ReportMetric(float64(benchRows*len(benchMeta))*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}

// readSmallBatch sends 100 rows from row from as a FetchResults reply and
// reads it back through the fast reader with dec, as a buffered NOSASL
// connection does; it returns the reply sent and the one read.
func readSmallBatch(t *testing.T, dec *timeDecoder, from int) (sent, got *tcli.TFetchResultsResp) {
	t.Helper()
	ctx := context.Background()
	sent = &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, Results: benchRowSet(100, from)}
	data, err := thrift.NewTSerializer().Write(ctx, sent)
	require.NoError(t, err)
	p := thrift.NewTBinaryProtocolConf(&bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), 4096)}, &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize})
	got, err = readFetchRespTimes(ctx, p, openLimits, dec)
	require.NoError(t, err)
	return sent, got
}

// TestDecodeTimesCarriesArena reads batches one after another with one
// timeDecoder, as an Operation does: the strings of a batch share the
// arena block that the previous one left with room, and stay what they
// were.
func TestDecodeTimesCarriesArena(t *testing.T) {
	dec := newTimeDecoder(benchMeta)
	var (
		kept  [][]string
		want  [][]string
		first *byte
	)
	for i := range 5 {
		resp, got := readSmallBatch(t, dec, 100*i)
		b, err := decodeRowSetTimes(got.Results, benchMeta, dec.times)
		require.NoError(t, err)
		require.Len(t, b.Times(7), 100)
		names := b.Strings(6)
		require.Equal(t, resp.Results.Columns[6].StringVal.Values, names)
		kept = append(kept, names)
		want = append(want, slices.Clone(names))
		if i == 0 {
			first = unsafe.SliceData(dec.block)
		}
		require.Same(t, first, unsafe.SliceData(dec.block), "one block for small batches")
	}
	require.Equal(t, want, kept)
}

// TestPlainReaderCarriesArena: without SetDecodeTimes too, batches read one
// after another share the arena block the previous one left with room (an
// Operation keeps the block from fetch to fetch), and the strings of
// earlier batches, timestamps' text included, stay what they were.
func TestPlainReaderCarriesArena(t *testing.T) {
	dec := &timeDecoder{} // no columns to decode: the state of a plain operation
	var (
		kept  [][]string
		want  [][]string
		first *byte
	)
	for i := range 5 {
		resp, got := readSmallBatch(t, dec, 100*i)
		require.Nil(t, dec.times)
		b, err := decodeRowSetTimes(got.Results, benchMeta, nil)
		require.NoError(t, err)
		for _, col := range []int{6, 7} {
			vals := b.Strings(col)
			require.Equal(t, resp.Results.Columns[col].StringVal.Values, vals)
			kept = append(kept, vals)
			want = append(want, slices.Clone(vals))
		}
		if i == 0 {
			first = unsafe.SliceData(dec.block)
		}
		require.Same(t, first, unsafe.SliceData(dec.block), "one block for small batches")
	}
	require.Equal(t, want, kept)
}
