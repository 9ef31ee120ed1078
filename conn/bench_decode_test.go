package conn

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// benchMeta is the 8 mixed columns of the decode benchmarks.
var benchMeta = []Column{
	{Name: "id", Type: TypeBigInt}, {Name: "flag", Type: TypeBoolean}, {Name: "qty", Type: TypeInt},
	{Name: "small", Type: TypeSmallInt}, {Name: "price", Type: TypeDouble},
	{Name: "amount", Type: TypeDecimal, Precision: 10, Scale: 2}, {Name: "name", Type: TypeString},
	{Name: "ts", Type: TypeTimestamp},
}

// benchRowSet builds n rows of benchMeta, one row in eight NULL per
// nullable column.
func benchRowSet(n int, from int) *tcli.TRowSet {
	nulls := func(col int) []byte {
		b := make([]byte, (n+7)/8)
		for r := 0; r < n; r++ {
			if col > 0 && (from+r)%8 == col {
				b[r>>3] |= 1 << (r & 7)
			}
		}
		return b
	}
	ids, flags, qty, small, price := make([]int64, n), make([]bool, n), make([]int32, n), make([]int16, n), make([]float64, n)
	amount, name, ts := make([]string, n), make([]string, n), make([]string, n)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		r := from + i
		ids[i], flags[i], qty[i], small[i], price[i] = int64(r), r%3 == 0, int32(r*7), int16(r), float64(r)*0.25
		amount[i] = strconv.Itoa(r) + ".25"
		name[i] = "name-" + strconv.Itoa(r%1000)
		ts[i] = base.Add(time.Duration(r) * time.Second).Format("2006-01-02 15:04:05.000000000")
	}
	return &tcli.TRowSet{Columns: []*tcli.TColumn{
		{I64Val: &tcli.TI64Column{Values: ids, Nulls: nulls(0)}},
		{BoolVal: &tcli.TBoolColumn{Values: flags, Nulls: nulls(1)}},
		{I32Val: &tcli.TI32Column{Values: qty, Nulls: nulls(2)}},
		{I16Val: &tcli.TI16Column{Values: small, Nulls: nulls(3)}},
		{DoubleVal: &tcli.TDoubleColumn{Values: price, Nulls: nulls(4)}},
		{StringVal: &tcli.TStringColumn{Values: amount, Nulls: nulls(5)}},
		{StringVal: &tcli.TStringColumn{Values: name, Nulls: nulls(6)}},
		{StringVal: &tcli.TStringColumn{Values: ts, Nulls: nulls(7)}},
	}}
}

// readAll reads every cell of b through the typed accessors and returns a
// checksum so that nothing is optimized away.
func readAll(b *Batch) int64 {
	var sum int64
	for r := 0; r < b.Len(); r++ {
		for c := 0; c < 4; c++ {
			if !b.IsNull(c, r) {
				if c == 1 {
					if b.Bool(c, r) {
						sum++
					}
				} else {
					sum += b.Int64(c, r)
				}
			}
		}
		if !b.IsNull(4, r) {
			sum += int64(b.Float64(4, r))
		}
		for c := 5; c < 7; c++ {
			if !b.IsNull(c, r) {
				sum += int64(len(b.String(c, r)))
			}
		}
		if !b.IsNull(7, r) {
			t, _ := b.Time(7, r)
			sum += int64(t.Second())
		}
	}
	return sum
}

const (
	benchRows  = 1 << 20 // 1M rows
	benchBatch = 10240   // rows per fetch, the default FetchSize
)

// BenchmarkDecodeRowSet: 1M rows x 8 mixed columns from decoded Thrift
// structs to a Batch, every cell read through the typed accessors.
func BenchmarkDecodeRowSet(b *testing.B) {
	var sets []*tcli.TRowSet
	for from := 0; from < benchRows; from += benchBatch {
		sets = append(sets, benchRowSet(benchBatch, from))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, rs := range sets {
			bt, err := decodeRowSet(rs, benchMeta)
			if err != nil {
				b.Fatal(err)
			}
			readAll(bt)
		}
	}
	cells := float64(len(sets) * benchBatch * len(benchMeta))
	b.ReportMetric(cells*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}

// BenchmarkDecodeWire: 1M rows x 8 mixed columns from the bytes of
// FetchResults replies (10240 rows each, binary protocol) through the
// reader the HS2 session uses and decodeRowSet, every cell read: what a
// client pays per row once the bytes have arrived.
func BenchmarkDecodeWire(b *testing.B) { benchDecodeWire(b, true, false) }

// BenchmarkDecodeWireBuffered is BenchmarkDecodeWire through the buffered
// transport of a NOSASL connection, which the fast reader reads in place.
func BenchmarkDecodeWireBuffered(b *testing.B) { benchDecodeWire(b, true, true) }

// BenchmarkDecodeWireGenerated is BenchmarkDecodeWire with the generated
// Thrift reader, for comparison.
func BenchmarkDecodeWireGenerated(b *testing.B) { benchDecodeWire(b, false, false) }

// benchMessages returns the benchmark's rows as serialized FetchResults
// replies, benchBatch rows each.
func benchMessages(b *testing.B) [][]byte {
	ser := thrift.NewTSerializer()
	var msgs [][]byte
	for from := 0; from < benchRows; from += benchBatch {
		more := true
		resp := &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, HasMoreRows: &more, Results: benchRowSet(benchBatch, from)}
		p, err := ser.Write(context.Background(), resp)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, append([]byte(nil), p...))
	}
	return msgs
}

func benchDecodeWire(b *testing.B, fast, buffered bool) {
	msgs := benchMessages(b)
	cfg := &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize}
	b.ReportAllocs()
	b.ResetTimer()
	ctx := context.Background()
	var total int64
	for b.Loop() {
		for _, m := range msgs {
			total += int64(len(m))
			var trans thrift.TTransport
			if buffered {
				trans = &bufTransport{r: bufio.NewReaderSize(bytes.NewReader(m), 32<<10)}
			} else {
				buf := thrift.NewTMemoryBufferLen(len(m))
				buf.Write(m)
				trans = buf
			}
			p := thrift.NewTBinaryProtocolConf(trans, cfg)
			var resp *tcli.TFetchResultsResp
			var err error
			if fast {
				resp, err = readFetchResp(ctx, p, openLimits)
			} else {
				resp = tcli.NewTFetchResultsResp()
				err = resp.Read(ctx, p)
			}
			if err != nil {
				b.Fatal(err)
			}
			bt, err := decodeRowSet(resp.Results, benchMeta)
			if err != nil {
				b.Fatal(err)
			}
			readAll(bt)
		}
	}
	cells := float64(len(msgs) * benchBatch * len(benchMeta))
	b.ReportMetric(cells*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
	b.SetBytes(total / int64(b.N))
}

// BenchmarkDecodeText: the same rows as beeswax text.
func BenchmarkDecodeText(b *testing.B) {
	rows := make([]string, benchBatch)
	for i := range rows {
		rows[i] = strconv.Itoa(i) + "\ttrue\t7\t3\t0.25\t12.25\tname-1\t2024-01-01 00:00:01.000000000"
	}
	b.ReportAllocs()
	for b.Loop() {
		for range benchRows / benchBatch {
			bt, err := decodeTextRows(rows, benchMeta, "\t", DefaultMaxMessageSize)
			if err != nil {
				b.Fatal(err)
			}
			readAll(bt)
		}
	}
	b.ReportMetric(float64(benchRows*len(benchMeta))*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}

// openLimits bounds the fetch replies of tests and benchmarks by the
// default budget only.
var openLimits = fetchLimits{rows: math.MaxInt32, budget: DefaultMaxMessageSize}
