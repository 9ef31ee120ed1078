package conn

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// fuzzMeta builds a schema from the first two bytes of a fuzz input: the
// column count and a rotation over allTypesMeta.
func fuzzMeta(n, rot byte) []Column {
	meta := make([]Column, int(n)%(2*len(allTypesMeta)))
	for i := range meta {
		meta[i] = allTypesMeta[(i+int(rot))%len(allTypesMeta)]
	}
	return meta
}

// touch reads every cell of b through every accessor that fits.
func touch(b *Batch) {
	for c := 0; c < b.NumColumns(); c++ {
		for r := 0; r < b.Len(); r++ {
			_ = b.IsNull(c, r)
			_ = b.Value(c, r)
		}
	}
}

func serializeRowSet(t testing.TB, rs *tcli.TRowSet) []byte {
	ser := thrift.NewTSerializer()
	p, err := ser.Write(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzDecodeRowSet feeds arbitrary bytes through the Thrift decoder of a
// TRowSet (with the limits Dial uses) and decodeRowSet: no panic, and any
// batch that decodes can be read cell by cell.
func FuzzDecodeRowSet(f *testing.F) {
	f.Add(append([]byte{byte(len(allTypesMeta)), 0}, serializeRowSet(f, allTypesRowSet())...))
	f.Add(append([]byte{1, 3}, serializeRowSet(f, &tcli.TRowSet{Columns: []*tcli.TColumn{{I32Val: &tcli.TI32Column{Values: []int32{1, 2, 3}, Nulls: []byte{2}}}}})...))
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		meta := fuzzMeta(data[0], data[1])
		buf := thrift.NewTMemoryBufferLen(len(data))
		buf.Write(data[2:])
		p := thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{MaxMessageSize: 1 << 20})
		rs := tcli.NewTRowSet()
		if err := rs.Read(context.Background(), p); err != nil {
			return
		}
		b, err := decodeRowSet(rs, meta)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "conn: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		touch(b)
	})
}

// FuzzDecodeTextRows feeds arbitrary beeswax rows to decodeTextRows.
func FuzzDecodeTextRows(f *testing.F) {
	f.Add(byte(len(allTypesMeta)), byte(0), "true\t-8\t-1600\t320000\t-9223372036854775808\t1.1\t2.5e+300\t-12345678.90\théllo\tvc\tab \t2024-02-29 23:59:58.123456789\t1999-12-31\t\x00\xff\tNULL\nNULL\tNULL")
	f.Add(byte(2), byte(3), "1\tNULL\n2\t3")
	f.Fuzz(func(t *testing.T, n, rot byte, text string) {
		meta := fuzzMeta(n, rot)
		b, err := decodeTextRows(strings.Split(text, "\n"), meta, "\t", DefaultMaxMessageSize)
		if err != nil {
			return
		}
		touch(b)
	})
}

// opaqueProtocol hides the concrete protocol, so that the fast reader
// takes its slow path (element by element through the protocol).
type opaqueProtocol struct{ thrift.TProtocol }

// FuzzFastFetch checks the fast FetchResults reader against the generated
// one: on any input, both fail or both give the same response, on both of
// the fast reader's paths.
func FuzzFastFetch(f *testing.F) {
	more := true
	for _, rs := range []*tcli.TRowSet{allTypesRowSet(), benchRowSet(20, 3), benchRowSet(700, 5), {Rows: []*tcli.TRow{}}} {
		resp := &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, HasMoreRows: &more, Results: rs}
		p, err := thrift.NewTSerializer().Write(context.Background(), resp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), p...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		cfg := &thrift.TConfiguration{MaxMessageSize: 1 << 20}
		// mode 0: a memory buffer (read in bulk through io.ReadFull);
		// 1: the protocol hidden (element by element); 2 and 3: a
		// buffered transport with a 16-byte (the smallest) and a 4 KiB
		// buffer, read in place.
		read := func(fast bool, mode int) (*tcli.TFetchResultsResp, error) {
			var trans thrift.TTransport
			switch mode {
			case 2, 3:
				size := 16
				if mode == 3 {
					size = 4096
				}
				trans = &bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), size)}
			default:
				buf := thrift.NewTMemoryBufferLen(len(data))
				buf.Write(data)
				trans = buf
			}
			var p thrift.TProtocol = thrift.NewTBinaryProtocolConf(trans, cfg)
			if mode == 1 {
				p = opaqueProtocol{p}
			}
			if !fast {
				r := tcli.NewTFetchResultsResp()
				return r, r.Read(ctx, p)
			}
			return readFetchResp(ctx, p, fetchLimits{rows: math.MaxInt32, budget: 1 << 30})
		}
		want, werr := read(false, 0)
		for mode := range 4 {
			got, err := read(true, mode)
			if (werr == nil) != (err == nil) {
				t.Fatalf("mode %d: generated reader says %v, fast reader %v", mode, werr, err)
			}
			if werr == nil {
				require.Equal(t, want, got, "mode %d", mode)
			}
		}
	})
}
