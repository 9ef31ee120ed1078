package conn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// The charged sizes are Go's (on the 64-bit platforms the tests run on).
func TestBudgetCostsAreGoSizes(t *testing.T) {
	require.Equal(t, int(unsafe.Sizeof("")), costString)
	require.Equal(t, int(unsafe.Sizeof([]byte(nil))), costSlice)
	require.Equal(t, int(unsafe.Sizeof(time.Time{})), costTime)
	require.Equal(t, int(unsafe.Sizeof(&tcli.TColumn{})), costPtr)
	column := unsafe.Sizeof(tcli.TColumn{}) + unsafe.Sizeof(tcli.TBinaryColumn{}) + unsafe.Sizeof(&tcli.TColumn{}) +
		unsafe.Sizeof(colData{}) + unsafe.Sizeof(timeData{})
	require.LessOrEqual(t, int(column), costColumn)
}

// transports are the ways the fast reader reads a reply: through
// io.ReadFull (as over SASL), in place from the buffered NOSASL
// transport, and element by element through a protocol it cannot see
// into. Like a connection's, none knows how many bytes are left.
var transports = []struct {
	name string
	prot func(data []byte) thrift.TProtocol
}{
	{"streamed", func(data []byte) thrift.TProtocol {
		return thrift.NewTBinaryProtocolConf(noPeek{bufferedReply(data)}, &thrift.TConfiguration{MaxMessageSize: math.MaxInt32})
	}},
	{"in place", func(data []byte) thrift.TProtocol {
		return thrift.NewTBinaryProtocolConf(bufferedReply(data), &thrift.TConfiguration{MaxMessageSize: math.MaxInt32})
	}},
	{"element by element", func(data []byte) thrift.TProtocol {
		return opaqueProtocol{thrift.NewTBinaryProtocolConf(noPeek{bufferedReply(data)}, &thrift.TConfiguration{MaxMessageSize: math.MaxInt32})}
	}},
}

func bufferedReply(data []byte) *bufTransport {
	return &bufTransport{r: bufio.NewReaderSize(bytes.NewReader(data), 32<<10)}
}

// noPeek hides the peeker methods of a transport.
type noPeek struct{ *bufTransport }

func (noPeek) Peek()     {}
func (noPeek) Discard()  {}
func (noPeek) Buffered() {}

// fetchReplyBytes serializes a TFetchResultsResp holding rs.
func fetchReplyBytes(t testing.TB, rs *tcli.TRowSet) []byte {
	t.Helper()
	data, err := thrift.NewTSerializer().Write(context.Background(), &tcli.TFetchResultsResp{Status: &tcli.TStatus{}, Results: rs})
	require.NoError(t, err)
	return bytes.Clone(data)
}

// columnsOf returns cols copies of column c.
func columnsOf(cols int, c *tcli.TColumn) *tcli.TRowSet {
	rs := &tcli.TRowSet{Rows: []*tcli.TRow{}}
	for range cols {
		rs.Columns = append(rs.Columns, c)
	}
	return rs
}

// allocated runs f and returns the bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A reply can make the client hold no more than what was asked for: no
// more rows than the fetch's maxRows, no more columns than the schema, no
// more memory than the budget, whichever way it is read. Each hostile
// reply fails with the error that names the limit, and what the reader
// allocated on the way (garbage included) stays within a small multiple
// of the budget, however much the reply claims or holds.
func TestFetchReplyBoundedByWhatWasAsked(t *testing.T) {
	const (
		budget  = 8 << 20
		maxRows = 10240
	)
	empty := make([]string, maxRows)
	emptyBin := make([][]byte, maxRows)
	for i := range emptyBin {
		emptyBin[i] = []byte{}
	}
	manyRows := make([]*tcli.TRow, 3000)
	vals := make([]*tcli.TColumnValue, 200)
	for i := range vals {
		vals[i] = &tcli.TColumnValue{StringVal: &tcli.TStringValue{}}
	}
	for i := range manyRows {
		manyRows[i] = &tcli.TRow{ColVals: vals}
	}
	for _, c := range []struct {
		name string
		data []byte
		cols int
		want error
		// slowAny: element by element, the length of a binary is read
		// with its bytes, and the short reply fails first.
		slowAny bool
	}{
		{name: "a column of more values than rows asked", data: fetchReplyBytes(t, columnsOf(1, &tcli.TColumn{StringVal: &tcli.TStringColumn{Values: make([]string, maxRows+1), Nulls: []byte{}}})), cols: 1, want: ErrBadRowSet},
		{name: "row-based rows beyond those asked", data: fetchReplyBytes(t, &tcli.TRowSet{Rows: make([]*tcli.TRow, maxRows+1)}), cols: 1, want: ErrBadRowSet},
		{name: "more columns than the schema", data: fetchReplyBytes(t, columnsOf(4, &tcli.TColumn{I64Val: &tcli.TI64Column{Values: []int64{1}, Nulls: []byte{}}})), cols: 3, want: ErrBadRowSet},
		{name: "empty strings in many columns", data: fetchReplyBytes(t, columnsOf(200, &tcli.TColumn{StringVal: &tcli.TStringColumn{Values: empty, Nulls: []byte{}}})), cols: 0, want: ErrReplyTooLarge},
		{name: "empty binaries in many columns", data: fetchReplyBytes(t, columnsOf(200, &tcli.TColumn{BinaryVal: &tcli.TBinaryColumn{Values: emptyBin, Nulls: []byte{}}})), cols: 0, want: ErrReplyTooLarge},
		{name: "booleans in many columns", data: fetchReplyBytes(t, columnsOf(1200, &tcli.TColumn{BoolVal: &tcli.TBoolColumn{Values: make([]bool, maxRows), Nulls: []byte{}}})), cols: 0, want: ErrReplyTooLarge},
		{name: "row-based rows of empty strings", data: fetchReplyBytes(t, &tcli.TRowSet{Rows: manyRows}), cols: 1, want: ErrReplyTooLarge},
		{name: "a null bitmap claiming 1 GiB", data: hostileNulls(), cols: 1, want: ErrReplyTooLarge, slowAny: true},
		{name: "a value list claiming 100M values", data: hostileCount(), cols: 1, want: ErrBadRowSet},
	} {
		for _, tr := range transports {
			t.Run(c.name+"/"+tr.name, func(t *testing.T) {
				var err error
				p := tr.prot(c.data)
				alloc := allocated(func() {
					_, err = readFetchResp(context.Background(), p, fetchLimits{rows: maxRows, cols: c.cols, budget: budget})
				})
				if c.slowAny && tr.name == "element by element" {
					require.Error(t, err)
				} else {
					require.ErrorIs(t, err, c.want)
				}
				require.Less(t, alloc, uint64(2*budget+1<<20), "allocated %d bytes for a budget of %d (reply of %d bytes)", alloc, budget, len(c.data))
				t.Logf("%v; allocated %d KiB for a reply of %d KiB", err, alloc>>10, len(c.data)>>10)
			})
		}
	}
}

// okStatus is field 1 of a reply: a TStatus of SUCCESS_STATUS.
var okStatus = []byte{byte(thrift.STRUCT), 0, 1, byte(thrift.I32), 0, 1, 0, 0, 0, 0, byte(thrift.STOP)}

// hostileNulls is a reply whose one column's null bitmap claims 1 GiB.
func hostileNulls() []byte {
	var b bytes.Buffer
	b.Write(okStatus)
	b.Write([]byte{byte(thrift.STRUCT), 0, 3}) // results {
	b.Write([]byte{byte(thrift.I64), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	b.Write([]byte{byte(thrift.LIST), 0, 2, byte(thrift.STRUCT), 0, 0, 0, 0})
	b.Write([]byte{byte(thrift.LIST), 0, 3, byte(thrift.STRUCT), 0, 0, 0, 1})
	b.Write([]byte{byte(thrift.STRUCT), 0, 5}) // i64Val {
	b.Write([]byte{byte(thrift.LIST), 0, 1, byte(thrift.I64), 0, 0, 0, 0})
	b.Write([]byte{byte(thrift.STRING), 0, 2})
	b.Write(binary.BigEndian.AppendUint32(nil, 1<<30))
	b.WriteString("only a few bytes follow")
	return b.Bytes()
}

// hostileCount is a reply whose one column's value list claims 100M
// values.
func hostileCount() []byte {
	var b bytes.Buffer
	b.Write(okStatus)
	b.Write([]byte{byte(thrift.STRUCT), 0, 3})
	b.Write([]byte{byte(thrift.I64), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	b.Write([]byte{byte(thrift.LIST), 0, 2, byte(thrift.STRUCT), 0, 0, 0, 0})
	b.Write([]byte{byte(thrift.LIST), 0, 3, byte(thrift.STRUCT), 0, 0, 0, 1})
	b.Write([]byte{byte(thrift.STRUCT), 0, 7})
	b.Write([]byte{byte(thrift.LIST), 0, 1, byte(thrift.STRING), 0x05, 0xf5, 0xe1, 0x00})
	b.WriteString("xx")
	return b.Bytes()
}

// wideRowSet is a batch of n rows of the decode benchmark's 8 mixed
// columns repeated times times.
func wideRowSet(n, times int) *tcli.TRowSet {
	base := benchRowSet(n, 0)
	rs := &tcli.TRowSet{Rows: []*tcli.TRow{}}
	for range times {
		rs.Columns = append(rs.Columns, base.Columns...)
	}
	return rs
}

// The default budget is far from what a real batch takes: a 10240-row
// batch of 256 mixed columns (the decode benchmark's 8, 32 times) is
// charged a fraction of it. The charge is an upper bound of what the
// reader allocates for it.
func TestDefaultBudgetFitsWideBatch(t *testing.T) {
	const rows, times = 10240, 32
	data := fetchReplyBytes(t, wideRowSet(rows, times))
	for _, tr := range transports[:2] {
		t.Run(tr.name, func(t *testing.T) {
			p := tr.prot(data)
			gp, _, bud := budgeted(p, DefaultMaxMessageSize)
			var (
				resp *tcli.TFetchResultsResp
				err  error
			)
			alloc := allocated(func() {
				resp, err = readFetchResp(context.Background(), gp, fetchLimits{rows: rows, cols: 8 * times})
			})
			require.NoError(t, err)
			_, err = decodeRowSet(resp.Results, wideMeta(times))
			require.NoError(t, err)
			charged := bud.limit - bud.left
			require.LessOrEqual(t, alloc, uint64(charged)+1<<20, "the reader allocated more than it charged")
			require.Less(t, charged, DefaultMaxMessageSize/4)
			t.Logf("%d rows x %d columns: %.1f MiB on the wire, %.1f MiB charged, %.1f MiB allocated; default budget %d MiB",
				rows, 8*times, float64(len(data))/(1<<20), float64(charged)/(1<<20), float64(alloc)/(1<<20), DefaultMaxMessageSize>>20)
		})
	}
}

func wideMeta(times int) []Column {
	var meta []Column
	for range times {
		meta = append(meta, benchMeta...)
	}
	return meta
}

// Every other reply is read through budgetProtocol: a map or list that
// claims many elements is charged at its header, before the generated
// code allocates for it, and strings as they come.
func TestBudgetProtocolBoundsGeneratedReplies(t *testing.T) {
	const budget = 4 << 20
	read := func(data []byte, v thrift.TStruct) (uint64, error) {
		p := newBudgetProtocol(thrift.NewTBinaryProtocolConf(bufferedReply(data), &thrift.TConfiguration{MaxMessageSize: math.MaxInt32}), budget)
		var err error
		alloc := allocated(func() { err = v.Read(context.Background(), p) })
		return alloc, err
	}
	// An OpenSession reply whose configuration holds 1M empty entries.
	conf := make(map[string]string, 1<<20)
	for i := range 1 << 20 {
		conf[string(binary.BigEndian.AppendUint32(nil, uint32(i)))] = ""
	}
	data, err := thrift.NewTSerializer().Write(context.Background(), &tcli.TOpenSessionResp{Status: &tcli.TStatus{}, Configuration: conf})
	require.NoError(t, err)
	alloc, err := read(bytes.Clone(data), &tcli.TOpenSessionResp{})
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.Less(t, alloc, uint64(2*budget))

	// A schema whose column list claims 100M columns, and one that holds
	// 200 000 of them.
	claim := append(append([]byte(nil), okStatus...), byte(thrift.STRUCT), 0, 2,
		byte(thrift.LIST), 0, 1, byte(thrift.STRUCT), 0x05, 0xf5, 0xe1, 0x00)
	alloc, err = read(claim, &tcli.TGetResultSetMetadataResp{})
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.Less(t, alloc, uint64(1<<20))
	cols := make([]*tcli.TColumnDesc, 200000)
	for i := range cols {
		cols[i] = &tcli.TColumnDesc{TypeDesc: &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{PrimitiveEntry: &tcli.TPrimitiveTypeEntry{}}}}}
	}
	data, err = thrift.NewTSerializer().Write(context.Background(), &tcli.TGetResultSetMetadataResp{Status: &tcli.TStatus{}, Schema: &tcli.TTableSchema{Columns: cols}})
	require.NoError(t, err)
	alloc, err = read(bytes.Clone(data), &tcli.TGetResultSetMetadataResp{})
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.Less(t, alloc, uint64(2*budget))

	// A string claiming 1 GiB is refused before it is allocated.
	alloc, err = read(append([]byte{byte(thrift.STRUCT), 0, 1, byte(thrift.STRING), 0, 5, 0x40, 0, 0, 0}, "abc"...), &tcli.TOpenSessionResp{})
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.Less(t, alloc, uint64(1<<20))

	// A reply within the budget reads as the binary protocol reads it.
	data, err = thrift.NewTSerializer().Write(context.Background(), &tcli.TOpenSessionResp{Status: &tcli.TStatus{ErrorMessage: ptr("m")}, Configuration: map[string]string{"k": "v"}})
	require.NoError(t, err)
	var got tcli.TOpenSessionResp
	_, err = read(bytes.Clone(data), &got)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, got.Configuration)
	require.Equal(t, "m", got.Status.GetErrorMessage())
}

func ptr[T any](v T) *T { return &v }

// A beeswax fetch may not hold more rows than its size.
func TestBeeswaxFetchBoundedBySize(t *testing.T) {
	data, err := thrift.NewTSerializer().Write(context.Background(), &beeswax.BeeswaxServiceFetchResult{Success: &beeswax.Results{
		Ready: true, Data: []string{"1", "2", "3", "4"}, HasMore: true,
	}})
	require.NoError(t, err)
	for size, want := range map[int]error{3: ErrBadRowSet, 4: nil} {
		buf := thrift.NewTMemoryBufferLen(len(data))
		buf.Write(data)
		r := &beeswaxFetchResult{size: size}
		err := r.Read(context.Background(), newBudgetProtocol(thrift.NewTBinaryProtocolConf(buf, nil), 1<<20))
		if want != nil {
			require.ErrorIs(t, err, want)
			continue
		}
		require.NoError(t, err)
		require.Len(t, r.Success.Data, 4)
	}
	// Text rows are held to the budget too: 10240 rows of a schema of
	// 100 000 columns would be 10240 x 100 000 values.
	meta := make([]Column, 100000)
	for i := range meta {
		meta[i] = Column{Type: TypeString}
	}
	_, err = decodeTextRows(make([]string, 10240), meta, "\t", DefaultMaxMessageSize)
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.False(t, errors.Is(err, ErrBadRowSet))
}
