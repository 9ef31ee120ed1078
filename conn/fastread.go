package conn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// This file reads FetchResults replies with fewer allocations than the
// generated code: the bytes of the strings of a batch go into 64 KiB arena
// blocks that the batch's strings point into (never one allocation per
// cell), and fixed-width lists are decoded in bulk. From a buffered
// transport (the NOSASL one) the values are read in place from its buffer
// (Peek and Discard), with no copy through io.ReadFull. The result is the
// same tcli.TFetchResultsResp the generated reader gives (FuzzFastFetch
// checks it byte for byte) for every reply within the limits of what was
// asked: no column holds more values than the fetch asked rows for (nor
// the row-based list more rows), a batch has as many columns as the
// schema or none, and what decoding creates (headers, values at their Go
// size, string bytes, arena blocks) is charged to the reply's memory
// budget (budget.go) before it is allocated. A reply beyond them fails at
// once, before its excess is read.

// fetchLimits bound one FetchResults reply by what was asked.
type fetchLimits struct {
	// rows is the request's maxRows: no column may hold more values, nor
	// the row-based list more rows.
	rows int
	// cols is the number of columns of the schema: a batch has as many
	// or none. Zero: not known.
	cols int
	// budget is the reply's memory budget when the protocol is not a
	// budgetProtocol (which has its own): tests and benchmarks.
	budget int
}

// fetchResult is the result struct of the FetchResults call.
type fetchResult struct {
	success *tcli.TFetchResultsResp
	lim     fetchLimits
	// dec is the reader's state carried from batch to batch: the string
	// block, and the columns to decode into times (SetDecodeTimes).
	dec *timeDecoder
}

var _ thrift.TStruct = (*fetchResult)(nil)

// Write is never called: a fetchResult is only read.
func (r *fetchResult) Write(context.Context, thrift.TProtocol) error {
	return errors.New("conn: fetchResult is read-only")
}

// Read reads the result struct: field 0 is the TFetchResultsResp.
func (r *fetchResult) Read(ctx context.Context, p thrift.TProtocol) error {
	return readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		if id == 0 && t == thrift.STRUCT {
			resp, err := readFetchRespTimes(ctx, p, r.lim, r.dec)
			if err != nil {
				return true, err
			}
			r.success = resp
			return true, nil
		}
		return false, nil
	})
}

// readStruct runs field for every field of a struct; field reports
// whether it consumed the value (otherwise it is skipped).
func readStruct(ctx context.Context, p thrift.TProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		done, err := field(id, t)
		if err != nil {
			return err
		}
		if !done {
			if err := p.Skip(ctx, t); err != nil {
				return err
			}
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}

func missing(name string) error {
	return thrift.NewTProtocolExceptionWithType(thrift.INVALID_DATA, fmt.Errorf("required field %s is not set", name))
}

func readFetchResp(ctx context.Context, p thrift.TProtocol, lim fetchLimits) (*tcli.TFetchResultsResp, error) {
	return readFetchRespTimes(ctx, p, lim, nil)
}

// budgeted returns, for the protocol p of a reply, one that charges the
// reply's budget as the generated code reads (p itself when it is a
// budgetProtocol, one over p otherwise, with limit), the one under it,
// which reads without charging (the reader charges what it creates
// itself), and the budget.
func budgeted(p thrift.TProtocol, limit int) (charged, raw thrift.TProtocol, b *replyBudget) {
	bp, ok := p.(*budgetProtocol)
	if !ok {
		bp = newBudgetProtocol(p, limit)
	}
	return bp, bp.TProtocol, &bp.budget
}

// readFetchRespTimes is readFetchResp that, when dec is not nil and the
// values are read in place, decodes the columns that dec.cols marks into
// times (see readTimes) and sets dec.times to them, by column (their
// TStringColumn then holds only the nulls).
func readFetchRespTimes(ctx context.Context, p thrift.TProtocol, lim fetchLimits, dec *timeDecoder) (*tcli.TFetchResultsResp, error) {
	gp, p, bud := budgeted(p, lim.budget)
	resp := &tcli.TFetchResultsResp{}
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRUCT:
			resp.Status = &tcli.TStatus{}
			return true, resp.Status.Read(ctx, gp)
		case id == 2 && t == thrift.BOOL:
			v, err := p.ReadBool(ctx)
			resp.HasMoreRows = &v
			return true, err
		case id == 3 && t == thrift.STRUCT:
			rs, err := readRowSet(ctx, p, gp, newStringReader(p, bud, lim.rows), lim.cols, dec)
			resp.Results = rs
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, missing("Status")
	}
	return resp, nil
}

// readRowSet reads a TRowSet with p, and the structs of the row-based
// format with gp, which charges them.
func readRowSet(ctx context.Context, p, gp thrift.TProtocol, sr *stringReader, cols int, dec *timeDecoder) (*tcli.TRowSet, error) {
	rs := &tcli.TRowSet{}
	var hasOffset, hasRows bool
	if dec != nil && sr.win.pk != nil {
		dec.start(sr)
		defer dec.end(sr)
	}
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I64:
			rs.StartRowOffset, err = p.ReadI64(ctx)
			hasOffset = true
		case id == 2 && t == thrift.LIST:
			rs.Rows, err = readList(ctx, p, sr.rowList, func() (*tcli.TRow, error) {
				r := &tcli.TRow{}
				return r, r.Read(ctx, gp)
			})
			hasRows = true
		case id == 3 && t == thrift.LIST:
			col := 0
			rs.Columns, err = readList(ctx, p, func(n int) error { return sr.columnList(n, cols) }, func() (*tcli.TColumn, error) {
				col++
				return readColumn(ctx, p, sr, col-1)
			})
		case id == 4 && t == thrift.STRING:
			rs.BinaryColumns, err = sr.readBlob(ctx, p)
		case id == 5 && t == thrift.I32:
			var v int32
			v, err = p.ReadI32(ctx)
			rs.ColumnCount = &v
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	if !hasOffset {
		return nil, missing("StartRowOffset")
	}
	if !hasRows {
		return nil, missing("Rows")
	}
	return rs, nil
}

// readList reads a list whose count check accepts (and charges for);
// like the generated code it does not check the element type in the
// header.
func readList[T any](ctx context.Context, p thrift.TProtocol, check func(n int) error, elem func() (T, error)) ([]T, error) {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	if err := check(n); err != nil {
		return nil, err
	}
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		v, err := elem()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, p.ReadListEnd(ctx)
}

// readColumn reads column col of the TRowSet.
func readColumn(ctx context.Context, p thrift.TProtocol, sr *stringReader, col int) (*tcli.TColumn, error) {
	c := &tcli.TColumn{}
	sr.col = col
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		if t != thrift.STRUCT || id < 1 || id > 8 {
			return false, nil
		}
		var err error
		switch id {
		case 1:
			c.BoolVal = &tcli.TBoolColumn{}
			c.BoolVal.Values, c.BoolVal.Nulls, err = readFixedValues(ctx, p, sr, 1, p.ReadBool)
		case 2:
			c.ByteVal = &tcli.TByteColumn{}
			c.ByteVal.Values, c.ByteVal.Nulls, err = readFixedValues(ctx, p, sr, 1, p.ReadByte)
		case 3:
			c.I16Val = &tcli.TI16Column{}
			c.I16Val.Values, c.I16Val.Nulls, err = readFixedValues(ctx, p, sr, 2, p.ReadI16)
		case 4:
			c.I32Val = &tcli.TI32Column{}
			c.I32Val.Values, c.I32Val.Nulls, err = readFixedValues(ctx, p, sr, 4, p.ReadI32)
		case 5:
			c.I64Val = &tcli.TI64Column{}
			c.I64Val.Values, c.I64Val.Nulls, err = readFixedValues(ctx, p, sr, 8, p.ReadI64)
		case 6:
			c.DoubleVal = &tcli.TDoubleColumn{}
			c.DoubleVal.Values, c.DoubleVal.Nulls, err = readFixedValues(ctx, p, sr, 8, p.ReadDouble)
		case 7:
			c.StringVal = &tcli.TStringColumn{}
			if col < len(sr.timeCols) && sr.timeCols[col] {
				c.StringVal.Nulls, err = readTimeColumn(ctx, p, sr, col)
				break
			}
			c.StringVal.Values, c.StringVal.Nulls, err = readColumnStruct(ctx, p, sr, func() ([]string, error) {
				return readValues(ctx, p, sr, costString, p.ReadString, sr.readStrings)
			})
		case 8:
			c.BinaryVal = &tcli.TBinaryColumn{}
			// Charged for the strings readBytes reads the values as, too.
			c.BinaryVal.Values, c.BinaryVal.Nulls, err = readColumnStruct(ctx, p, sr, func() ([][]byte, error) {
				return readValues(ctx, p, sr, costSlice+costString, p.ReadBinary, sr.readBytes)
			})
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// readTimeColumn reads the string column col, a TIMESTAMP or DATE column
// of sr.timeCols, parsing its values into sr.times[col] (the strings are
// not kept); it returns the column's null bitmap.
func readTimeColumn(ctx context.Context, p thrift.TProtocol, sr *stringReader, col int) ([]byte, error) {
	td, nulls, err := readColumnStruct(ctx, p, sr, func() (*timeData, error) {
		_, n, err := p.ReadListBegin(ctx)
		if err != nil {
			return nil, err
		}
		if err := sr.values(n, costTime); err != nil {
			return nil, err
		}
		td, err := sr.readTimes(n)
		if err != nil {
			return nil, err
		}
		return td, p.ReadListEnd(ctx)
	})
	sr.times[col] = td
	return nulls, err
}

// fixedValue is the Go type of the elements of a fixed-width value list.
type fixedValue interface {
	bool | int8 | int16 | int32 | int64 | float64
}

// readFixedValues reads a {1: list<T> values, 2: binary nulls} struct
// whose elements are width bytes each (on the wire as in Go): in bulk
// from the transport when there is one to read from, element by element
// through the protocol (slow) otherwise.
func readFixedValues[T fixedValue](ctx context.Context, p thrift.TProtocol, sr *stringReader, width int, slow func(context.Context) (T, error)) ([]T, []byte, error) {
	return readColumnStruct(ctx, p, sr, func() ([]T, error) {
		_, n, err := p.ReadListBegin(ctx)
		if err != nil {
			return nil, err
		}
		if err := sr.values(n, width); err != nil {
			return nil, err
		}
		var vals []T
		if sr.raw == nil {
			vals = make([]T, 0, n)
			for range n {
				v, err := slow(ctx)
				if err != nil {
					return nil, err
				}
				vals = append(vals, v)
			}
		} else if vals, err = readFixedList[T](sr, n, width); err != nil {
			return nil, err
		}
		return vals, p.ReadListEnd(ctx)
	})
}

// decodeFixed decodes into dst the elements encoded in b, width bytes
// each (len(b) is len(dst) times the width).
func decodeFixed[T fixedValue](dst []T, b []byte) {
	switch d := any(dst).(type) {
	case []bool:
		for i, x := range b[:len(d)] {
			d[i] = x == 1
		}
	case []int8:
		for i, x := range b[:len(d)] {
			d[i] = int8(x)
		}
	case []int16:
		for i := range d {
			d[i] = int16(binary.BigEndian.Uint16(b[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(binary.BigEndian.Uint32(b[4*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
		}
	}
}

// readColumnStruct reads a {1: list<T> values, 2: binary nulls} struct,
// the list through list; both fields must be present.
func readColumnStruct[V any](ctx context.Context, p thrift.TProtocol, sr *stringReader, list func() (V, error)) (V, []byte, error) {
	var (
		vals            V
		nulls           []byte
		hasVals, hasNul bool
	)
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.LIST:
			vals, err = list()
			hasVals = true
		case id == 2 && t == thrift.STRING:
			nulls, err = sr.readBlob(ctx, p)
			hasNul = true
		default:
			return false, nil
		}
		return true, err
	})
	var zero V
	if err != nil {
		return zero, nil, err
	}
	if !hasVals {
		return zero, nil, missing("Values")
	}
	if !hasNul {
		return zero, nil, missing("Nulls")
	}
	return vals, nulls, nil
}

// stringReader reads the value lists of one batch straight from the
// protocol's transport when it can, and charges what it creates to the
// reply's budget.
type stringReader struct {
	raw     io.Reader    // the protocol's transport, nil when unknown
	win     window       // over raw, when raw is a peeker
	block   []byte       // the current arena block of the strings
	bud     *replyBudget // the reply's memory budget
	maxRows int          // the rows the fetch asked for
	col     int          // the column being read, for errors
	// timeCols marks the columns to decode into times, and times receives
	// them (set by timeDecoder.start, with a window only).
	timeCols []bool
	times    []*timeData
}

// peeker is a buffered transport whose buffered bytes can be read in place
// (a *bufio.Reader has these methods).
type peeker interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Buffered() int
	Size() int
}

// minPeekSize is the smallest buffer a peeker must have to be read in
// place: larger than the widest element header or fixed-width value.
const minPeekSize = 16

func newStringReader(p thrift.TProtocol, bud *replyBudget, maxRows int) *stringReader {
	sr := &stringReader{bud: bud, maxRows: maxRows}
	if bp, ok := p.(*thrift.TBinaryProtocol); ok {
		// TBinaryProtocol reads a rich transport directly, with no buffer
		// of its own: reading the transport is reading the protocol.
		if rt, ok := bp.Transport().(thrift.TRichTransport); ok {
			sr.raw = rt
			if pk, ok := rt.(peeker); ok && pk.Size() >= minPeekSize {
				sr.win.pk = pk
			}
		}
	}
	return sr
}

// values checks the count of a column's value list against the rows the
// fetch asked for, and charges size bytes for each value.
func (sr *stringReader) values(n, size int) error {
	if n > sr.maxRows {
		return badBatch(fmt.Errorf("%w: %d values in column %d, more than the %d rows the fetch asked for", ErrBadRowSet, n, sr.col, sr.maxRows))
	}
	return sr.bud.takeN(n, size)
}

// rowList checks and charges the list of the row-based format.
func (sr *stringReader) rowList(n int) error {
	if n > sr.maxRows {
		return badBatch(fmt.Errorf("%w: %d rows, more than the %d the fetch asked for", ErrBadRowSet, n, sr.maxRows))
	}
	return sr.bud.takeN(n, costPtr)
}

// columnList checks and charges the column list of a batch whose schema
// has cols columns (0: not known).
func (sr *stringReader) columnList(n, cols int) error {
	if cols > 0 && n != 0 && n != cols {
		return badBatch(fmt.Errorf("%w: %d columns in the batch, %d in the schema", ErrBadRowSet, n, cols))
	}
	return sr.bud.takeN(n, costColumn)
}

// badBatch is the error of a batch the reader stops at: a protocol
// exception, so that the rest of the reply is never read.
func badBatch(err error) error {
	return thrift.NewTProtocolExceptionWithType(thrift.UNKNOWN_PROTOCOL_EXCEPTION, err)
}

// readBlob reads a binary field (a null bitmap, the compressed columns),
// charged before it is allocated.
func (sr *stringReader) readBlob(ctx context.Context, p thrift.TProtocol) ([]byte, error) {
	if sr.raw == nil {
		b, err := p.ReadBinary(ctx)
		if err == nil {
			err = sr.bud.take(costSlice + len(b))
		}
		return b, err
	}
	return readCharged(ctx, p, sr.raw, sr.bud, costSlice)
}

// window reads the bytes a peeker has buffered in place. Bytes handed out
// are consumed from the window; they leave the peeker at release, which
// must run before anything else reads the transport.
type window struct {
	pk  peeker
	buf []byte // bytes peeked and not yet discarded
	pos int    // of buf, the bytes consumed
}

// avail returns the unconsumed bytes of the window, at least min (at most
// minPeekSize) of them, waiting for them to arrive when needed. It fails
// like io.ReadFull of min bytes: io.EOF when none came,
// io.ErrUnexpectedEOF when some did. The slice is valid until the next
// avail or release.
func (w *window) avail(min int) ([]byte, error) {
	if len(w.buf)-w.pos >= min {
		return w.buf[w.pos:], nil
	}
	return w.fill(min)
}

func (w *window) fill(min int) ([]byte, error) {
	w.release()
	b, err := w.pk.Peek(min)
	if len(b) < min {
		_, _ = w.pk.Discard(len(b))
		if err == nil || (errors.Is(err, io.EOF) && len(b) > 0) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// Everything buffered now, without reading more.
	w.buf, _ = w.pk.Peek(w.pk.Buffered())
	return w.buf, nil
}

// consume marks the next k bytes of the window (k at most what avail
// returned) as read.
func (w *window) consume(k int) { w.pos += k }

// take returns the next bytes of the stream, at least one and at most
// max, as read: for a value split across reads of the transport. The
// slice is valid until the next avail or release; the end of the stream
// is an unexpected EOF.
func (w *window) take(max int) ([]byte, error) {
	b, err := w.avail(1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, thrift.NewTProtocolException(err)
	}
	b = b[:min(max, len(b))]
	w.consume(len(b))
	return b, nil
}

// release discards the consumed bytes from the peeker and empties the
// window.
func (w *window) release() {
	if w.pos > 0 {
		_, _ = w.pk.Discard(w.pos)
	}
	w.buf, w.pos = nil, 0
}

// fixedChunk is how many bytes of a fixed-width list are read at a time
// from a transport that is not a peeker.
const fixedChunk = 4096

// readFixedList reads the n elements, width bytes each, of a list whose
// header was read (and charged), from sr's transport (sr.raw is set).
func readFixedList[T fixedValue](sr *stringReader, n, width int) ([]T, error) {
	out := make([]T, n)
	at := 0
	if w := &sr.win; w.pk != nil {
		defer w.release()
		for at < n {
			b, err := w.avail(width)
			if err != nil {
				return nil, thrift.NewTProtocolException(err)
			}
			k := min(len(b)/width, n-at)
			decodeFixed(out[at:at+k], b[:k*width])
			w.consume(k * width)
			at += k
		}
		return out, nil
	}
	var scratch [fixedChunk]byte
	for at < n {
		k := min(n-at, fixedChunk/width)
		if _, err := io.ReadFull(sr.raw, scratch[:k*width]); err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		decodeFixed(out[at:at+k], scratch[:k*width])
		at += k
	}
	return out, nil
}

// readValues reads a list of strings or binaries, each value's header
// charged at size bytes: one at a time from slow when sr has no transport
// to read (the generated code's way), through fast otherwise.
func readValues[V string | []byte](ctx context.Context, p thrift.TProtocol, sr *stringReader, size int,
	slow func(context.Context) (V, error), fast func(n int) ([]V, error)) ([]V, error) {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	if err := sr.values(n, size); err != nil {
		return nil, err
	}
	var vals []V
	if sr.raw == nil {
		vals = make([]V, 0, n)
		for range n {
			v, err := slow(ctx)
			if err == nil {
				err = sr.bud.take(len(v))
			}
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
	} else if vals, err = fast(n); err != nil {
		return nil, err
	}
	return vals, p.ReadListEnd(ctx)
}

// readStrings reads the n values of a string list whose header was read,
// into the arena: in place from a peeker, else from the transport.
func (sr *stringReader) readStrings(n int) ([]string, error) {
	if sr.win.pk != nil {
		return sr.readPeeked(n)
	}
	return sr.readStreamed(n)
}

// readBytes reads the values of a BINARY column, a list<binary>. They are
// the caller's to modify, so none may share memory with a string: they
// are read as strings into arena blocks of their own (not the strings'),
// which then only they point into.
func (sr *stringReader) readBytes(n int) ([][]byte, error) {
	arena := sr.block
	sr.block = nil
	strs, err := sr.readStrings(n)
	sr.block = arena
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, len(strs))
	for i, s := range strs {
		if s == "" {
			vals[i] = []byte{}
			continue
		}
		vals[i] = bytesOf(s)
	}
	return vals, nil
}

// arenaBlock is the size of the buffers that the strings of a batch are
// copied into; a string longer than arenaBlock/4 gets a buffer of its own.
// Each block is charged whole when it is made, each long value at its
// length.
const arenaBlock = 64 << 10

// newBlock starts a new arena block.
func (sr *stringReader) newBlock() error {
	if err := sr.bud.take(arenaBlock); err != nil {
		return err
	}
	sr.block = make([]byte, 0, arenaBlock)
	return nil
}

// negative is the error of a length prefix below zero.
func negative(size int32) error {
	return thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("negative size: %d", size))
}

// readPeeked reads the n elements of a string list whose header was read,
// in place from the peeker's buffer: the bytes of each value are copied
// straight into the batch's current arena block, which the value then
// points into (blocks are never written again where a value points).
func (sr *stringReader) readPeeked(n int) ([]string, error) {
	w := &sr.win
	defer w.release()
	vals := make([]string, 0, n)
	for range n {
		b, err := w.avail(4)
		if err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		size := int32(binary.BigEndian.Uint32(b))
		w.consume(4)
		k, v, done, err := sr.begin(size)
		if err != nil {
			return nil, err
		}
		if done {
			vals = append(vals, v)
			continue
		}
		at := len(sr.block)
		if k <= len(b)-4 {
			// The whole value is in the window.
			sr.block = append(sr.block, b[4:4+k]...)
			w.consume(k)
		} else {
			for left := k; left > 0; {
				p, err := w.take(left)
				if err != nil {
					return nil, err
				}
				sr.block = append(sr.block, p...)
				left -= len(p)
			}
		}
		vals = append(vals, stringAt(sr.block, at, k))
	}
	return vals, nil
}

// readStreamed is readPeeked for a transport that is not a peeker (SASL):
// each value is read with io.ReadFull straight into the arena block.
func (sr *stringReader) readStreamed(n int) ([]string, error) {
	vals := make([]string, 0, n)
	var hdr [4]byte
	for range n {
		if _, err := io.ReadFull(sr.raw, hdr[:]); err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		k, v, done, err := sr.begin(int32(binary.BigEndian.Uint32(hdr[:])))
		if err != nil {
			return nil, err
		}
		if done {
			vals = append(vals, v)
			continue
		}
		at := len(sr.block)
		sr.block = sr.block[:at+k]
		if _, err := io.ReadFull(sr.raw, sr.block[at:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, thrift.NewTProtocolException(err)
		}
		vals = append(vals, stringAt(sr.block, at, k))
	}
	return vals, nil
}

// begin starts a value whose length prefix is size: its length k and,
// when it does not go into the current arena block as it is, what
// outOfBlock makes of it (done: v is the value; not done: a new block,
// into which the caller copies the k bytes, as into the current one).
func (sr *stringReader) begin(size int32) (k int, v string, done bool, err error) {
	if size < 0 {
		return 0, "", false, negative(size)
	}
	k = int(size)
	if k == 0 || k > arenaBlock/4 || cap(sr.block)-len(sr.block) < k {
		v, done, err = sr.outOfBlock(k)
	}
	return k, v, done, err
}

// outOfBlock handles a value of k bytes that does not go into the current
// arena block as it is: the empty string, a value longer than a quarter
// block (read into a buffer of its own: done), a value that needs a new
// block (made: not done, the caller copies the value into it).
func (sr *stringReader) outOfBlock(k int) (v string, done bool, err error) {
	switch {
	case k == 0:
		return "", true, nil
	case k > arenaBlock/4:
		v, err := sr.readLong(k)
		return v, true, err
	}
	return "", false, sr.newBlock()
}

// readLong reads a value of k bytes into a buffer of its own, charged at k
// and grown as the bytes arrive (k is only what the length prefix claims):
// from the window when reading in place, else from the transport.
func (sr *stringReader) readLong(k int) (string, error) {
	if err := sr.bud.take(k); err != nil {
		return "", err
	}
	w := &sr.win
	if w.pk == nil {
		buf, err := readGrowing(sr.raw, k)
		if err != nil {
			return "", thrift.NewTProtocolException(err)
		}
		return stringAt(buf, 0, k), nil
	}
	buf := make([]byte, 0, min(k, growChunk))
	for len(buf) < k {
		p, err := w.take(k - len(buf))
		if err != nil {
			return "", err
		}
		if c := len(p); len(buf)+c > cap(buf) {
			nb := make([]byte, len(buf), min(max(2*cap(buf), len(buf)+c), k))
			copy(nb, buf)
			buf = nb
		}
		buf = append(buf, p...)
	}
	return stringAt(buf, 0, k), nil
}
