package conn

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"testing"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// binaryReply is a FetchResults reply of a STRING column and a BINARY
// column, n rows, and the values sent.
func binaryReply(t testing.TB, n int) (data []byte, meta []Column, strs []string, bins [][]byte) {
	t.Helper()
	meta = []Column{{Name: "s", Type: TypeString}, {Name: "b", Type: TypeBinary}}
	for i := range n {
		strs = append(strs, fmt.Sprintf("string-%03d", i%1000))
		bins = append(bins, []byte(fmt.Sprintf("\x00binary-%03d\xff", i%1000)))
	}
	resp := &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, Results: &tcli.TRowSet{
		Rows: []*tcli.TRow{},
		Columns: []*tcli.TColumn{
			{StringVal: &tcli.TStringColumn{Values: strs, Nulls: []byte{}}},
			{BinaryVal: &tcli.TBinaryColumn{Values: bins, Nulls: []byte{}}},
		},
	}}
	data, err := thrift.NewTSerializer().Write(context.Background(), resp)
	require.NoError(t, err)
	return bytes.Clone(data), meta, strs, bins
}

// TestBinaryCellsAreTheCallers: a BINARY value handed out (Bytes, Value)
// is the caller's to keep and modify: changing it changes no other value
// of the batch, neither the cell read again nor any string. The cells the
// batch keeps are not in the arena block that its strings share (a
// []byte there would let a caller write into bytes that strings view),
// whichever way the reply is read.
func TestBinaryCellsAreTheCallers(t *testing.T) {
	const n = 50
	data, meta, strs, bins := binaryReply(t, n)
	for _, tc := range []struct {
		name  string
		trans func() thrift.TTransport
	}{
		{"in place", func() thrift.TTransport {
			return &bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), 4096)}
		}},
		{"read through", func() thrift.TTransport {
			buf := thrift.NewTMemoryBufferLen(len(data))
			buf.Write(data)
			return buf
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := thrift.NewTBinaryProtocolConf(tc.trans(), &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize})
			dec := newTimeDecoder(meta)
			resp, err := readFetchRespTimes(context.Background(), p, openLimits, dec)
			require.NoError(t, err)
			b, err := decodeRowSetTimes(resp.Results, meta, dec.times)
			require.NoError(t, err)
			require.Equal(t, strs, b.Strings(0))
			require.Equal(t, bins, b.Binaries(1))

			if block := dec.block; cap(block) > 0 {
				lo := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
				hi := lo + uintptr(cap(block))
				for row, cell := range b.Binaries(1) {
					at := uintptr(unsafe.Pointer(unsafe.SliceData(cell)))
					require.False(t, at >= lo && at < hi, "row %d: BINARY cell inside the strings' arena block", row)
				}
			}

			for row := range n {
				got := b.Bytes(1, row)
				for i := range got {
					got[i] = '#'
				}
				v, ok := b.Value(1, row).([]byte)
				require.True(t, ok)
				for i := range v {
					v[i] = '%'
				}
			}
			for row := range n {
				require.Equal(t, bins[row], b.Bytes(1, row), "row %d", row)
				require.Equal(t, bins[row], b.Value(1, row), "row %d", row)
				require.Equal(t, bins[row], b.Binaries(1)[row], "row %d", row)
				require.Equal(t, string(bins[row]), b.String(1, row), "row %d", row)
				require.Equal(t, strs[row], b.String(0, row), "row %d", row)
			}
		})
	}
}

// BenchmarkDecodeWireBinary: 1M rows of a STRING and a BINARY column (12
// bytes each) from FetchResults replies through the buffered transport of
// a NOSASL connection, read in place, every cell read through Strings and
// Binaries: what BINARY values of their own cost next to strings that
// share the arena.
func BenchmarkDecodeWireBinary(b *testing.B) {
	var msgs [][]byte
	var meta []Column
	for range benchRows / benchBatch {
		var data []byte
		data, meta, _, _ = binaryReply(b, benchBatch)
		msgs = append(msgs, data)
	}
	cfg := &thrift.TConfiguration{MaxMessageSize: DefaultMaxMessageSize}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var sum int
	for b.Loop() {
		dec := newTimeDecoder(meta)
		for _, m := range msgs {
			p := thrift.NewTBinaryProtocolConf(&bufTransport{r: bufio.NewReaderSize(bytes.NewReader(m), 32<<10)}, cfg)
			resp, err := readFetchRespTimes(ctx, p, openLimits, dec)
			if err != nil {
				b.Fatal(err)
			}
			bt, err := decodeRowSetTimes(resp.Results, meta, dec.times)
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range bt.Strings(0) {
				sum += len(s)
			}
			for _, v := range bt.Binaries(1) {
				sum += len(v)
			}
		}
	}
	b.ReportMetric(float64(benchRows*2)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
	_ = sum
}
