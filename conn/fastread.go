package conn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// This file reads FetchResults replies with fewer allocations than the
// generated code: the bytes of the strings of a batch go into a few
// buffers that the batch's strings point into (64 KiB arena blocks when
// the transport is buffered, one buffer per column otherwise; never one
// allocation per cell), and fixed-width lists are decoded in bulk. From a
// buffered transport (the NOSASL one) the values are read in place from
// its buffer (Peek and Discard), with no copy through io.ReadFull. The
// result is the same tcli.TFetchResultsResp the generated reader gives
// (FuzzFastFetch checks it byte for byte), with two differences that only
// hostile input sees: lists grow as their elements arrive instead of being
// allocated at the size their header claims, and the strings of one batch
// are together held to the message size limit.

// fetchResult is the result struct of the FetchResults call.
type fetchResult struct {
	success *tcli.TFetchResultsResp
	limit   int // MaxMessageSize
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
			resp, err := readFetchRespTimes(ctx, p, r.limit, r.dec)
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

func readFetchResp(ctx context.Context, p thrift.TProtocol, limit int) (*tcli.TFetchResultsResp, error) {
	return readFetchRespTimes(ctx, p, limit, nil)
}

// readFetchRespTimes is readFetchResp that, when dec is not nil and the
// values are read in place, decodes the columns that dec.cols marks into
// times (see readTimes) and sets dec.times to them, by column (their
// TStringColumn then holds only the nulls).
func readFetchRespTimes(ctx context.Context, p thrift.TProtocol, limit int, dec *timeDecoder) (*tcli.TFetchResultsResp, error) {
	resp := &tcli.TFetchResultsResp{}
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		switch {
		case id == 1 && t == thrift.STRUCT:
			resp.Status = &tcli.TStatus{}
			return true, resp.Status.Read(ctx, p)
		case id == 2 && t == thrift.BOOL:
			v, err := p.ReadBool(ctx)
			resp.HasMoreRows = &v
			return true, err
		case id == 3 && t == thrift.STRUCT:
			rs, err := readRowSet(ctx, p, limit, dec)
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

func readRowSet(ctx context.Context, p thrift.TProtocol, limit int, dec *timeDecoder) (*tcli.TRowSet, error) {
	rs := &tcli.TRowSet{}
	var hasOffset, hasRows bool
	sr := newStringReader(p, limit)
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
			rs.Rows, err = readList(ctx, p, func() (*tcli.TRow, error) {
				r := &tcli.TRow{}
				return r, r.Read(ctx, p)
			})
			hasRows = true
		case id == 3 && t == thrift.LIST:
			col := 0
			rs.Columns, err = readList(ctx, p, func() (*tcli.TColumn, error) {
				col++
				return readColumn(ctx, p, sr, col-1)
			})
		case id == 4 && t == thrift.STRING:
			rs.BinaryColumns, err = p.ReadBinary(ctx)
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

// readList reads a list whose slice grows as elements arrive. Like the
// generated code it does not check the element type in the header.
func readList[T any](ctx context.Context, p thrift.TProtocol, elem func() (T, error)) ([]T, error) {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, min(n, preallocMax))
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
				var td *timeData
				td, c.StringVal.Nulls, err = readColumnStruct(ctx, p, func() (*timeData, error) {
					_, n, err := p.ReadListBegin(ctx)
					if err != nil {
						return nil, err
					}
					td, err := sr.readTimes(n)
					if err != nil {
						return nil, err
					}
					return td, p.ReadListEnd(ctx)
				})
				sr.times[col] = td
				break
			}
			c.StringVal.Values, c.StringVal.Nulls, err = readStringValues(ctx, p, sr)
		case 8:
			c.BinaryVal = &tcli.TBinaryColumn{}
			c.BinaryVal.Values, c.BinaryVal.Nulls, err = readColumnStruct(ctx, p, func() ([][]byte, error) {
				return sr.readBinaryList(ctx, p)
			})
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// fixedValue is the Go type of the elements of a fixed-width value list.
type fixedValue interface {
	bool | int8 | int16 | int32 | int64 | float64
}

// readFixedValues reads a {1: list<T> values, 2: binary nulls} struct
// whose elements are width bytes each: in bulk from the transport when
// there is one to read from, element by element through the protocol
// (slow) otherwise.
func readFixedValues[T fixedValue](ctx context.Context, p thrift.TProtocol, sr *stringReader, width int, slow func(context.Context) (T, error)) ([]T, []byte, error) {
	return readColumnStruct(ctx, p, func() ([]T, error) {
		if sr.raw == nil {
			return readList(ctx, p, func() (T, error) { return slow(ctx) })
		}
		_, n, err := p.ReadListBegin(ctx)
		if err != nil {
			return nil, err
		}
		vals, err := readFixedList[T](sr, n, width)
		if err != nil {
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
func readColumnStruct[V any](ctx context.Context, p thrift.TProtocol, list func() (V, error)) (V, []byte, error) {
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
			nulls, err = p.ReadBinary(ctx)
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
// protocol's transport when it can, and holds the count of string bytes
// read, which the message size limit bounds.
type stringReader struct {
	raw   io.Reader // the protocol's transport, nil when unknown
	win   window    // over raw, when raw is a peeker
	block []byte    // the current arena block of readPeeked
	limit int
	total int
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

func newStringReader(p thrift.TProtocol, limit int) *stringReader {
	sr := &stringReader{limit: limit}
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
// header was read, from sr's transport (sr.raw is set). The slice grows as
// the elements arrive, never ahead of them.
func readFixedList[T fixedValue](sr *stringReader, n, width int) ([]T, error) {
	out := make([]T, 0, min(n, preallocMax))
	if w := &sr.win; w.pk != nil {
		defer w.release()
		for len(out) < n {
			b, err := w.avail(width)
			if err != nil {
				return nil, thrift.NewTProtocolException(err)
			}
			k := min(len(b)/width, n-len(out))
			at := len(out)
			out = slices.Grow(out, k)[:at+k]
			decodeFixed(out[at:], b[:k*width])
			w.consume(k * width)
		}
		return out, nil
	}
	var scratch [fixedChunk]byte
	for len(out) < n {
		k := min(n-len(out), fixedChunk/width)
		if _, err := io.ReadFull(sr.raw, scratch[:k*width]); err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		at := len(out)
		out = slices.Grow(out, k)[:at+k]
		decodeFixed(out[at:], scratch[:k*width])
	}
	return out, nil
}

// readStringValues reads a {1: list<string> values, 2: binary nulls}
// struct. The bytes of the values go into one buffer per column, or the
// arena; the strings point into it (where it is never written again).
func readStringValues(ctx context.Context, p thrift.TProtocol, sr *stringReader) ([]string, []byte, error) {
	return readColumnStruct(ctx, p, func() ([]string, error) { return sr.readList(ctx, p) })
}

// chunk bounds how much buffer a length prefix can make us allocate ahead
// of the bytes actually arriving.
const chunk = 64 << 10

// preallocMax bounds the elements allocated from a list header's count
// before they arrive (a hostile count then costs at most about 1 MiB);
// batches up to that many rows are read without regrowth.
const preallocMax = 1 << 16

// readList reads the values of a string column, a list<string>, into the
// arena or a buffer per column that the strings share.
func (sr *stringReader) readList(ctx context.Context, p thrift.TProtocol) ([]string, error) {
	return readValues(ctx, p, sr, p.ReadString, sr.readPeeked, splitStrings)
}

// readBinaryList reads the values of a BINARY column, a list<binary>. They
// are the caller's to modify, so none may share memory with a string: the
// values of a column go into a buffer of their own (not the arena), one
// buffer per column and batch, each value capped at its length.
func (sr *stringReader) readBinaryList(ctx context.Context, p thrift.TProtocol) ([][]byte, error) {
	return readValues(ctx, p, sr, p.ReadBinary, sr.readPeekedBytes, splitBytes)
}

// readValues reads a list of strings or binaries, whose elements come,
// by the transport: one at a time from slow when sr has no transport to
// read (the generated code's way), from peeked when it reads in place,
// and otherwise read into one buffer and cut by split.
func readValues[V any](ctx context.Context, p thrift.TProtocol, sr *stringReader,
	slow func(context.Context) (V, error), peeked func(n int) ([]V, error), split func(buf []byte, ends []int32) []V) ([]V, error) {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	var vals []V
	switch {
	case sr.raw == nil:
		vals = make([]V, 0, min(n, preallocMax))
		for i := 0; i < n; i++ {
			v, err := slow(ctx)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
	case sr.win.pk != nil:
		vals, err = peeked(n)
	default:
		var buf []byte
		var ends []int32
		if buf, ends, err = sr.readRaw(n); err == nil {
			vals = split(buf, ends)
		}
	}
	if err != nil {
		return nil, err
	}
	return vals, p.ReadListEnd(ctx)
}

// readPeekedBytes is readPeeked for a BINARY column: the values are read
// in place as strings into blocks of their own that nothing keeps (not
// the strings' arena), then copied into the column's buffer.
func (sr *stringReader) readPeekedBytes(n int) ([][]byte, error) {
	arena := sr.block
	sr.block = nil
	strs, err := sr.readPeeked(n)
	sr.block = arena
	if err != nil {
		return nil, err
	}
	return copyBytes(strs), nil
}

// readRaw reads the n elements of a string or binary list whose header was
// read, from sr's transport (not a peeker) into one buffer: the values end
// at ends in it.
func (sr *stringReader) readRaw(n int) (buf []byte, ends []int32, err error) {
	ends = make([]int32, 0, min(n, preallocMax))
	buf = make([]byte, 0, min(n*16, preallocMax*16))
	var hdr [4]byte
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(sr.raw, hdr[:]); err != nil {
			return nil, nil, thrift.NewTProtocolException(err)
		}
		size := int32(binary.BigEndian.Uint32(hdr[:]))
		if size < 0 {
			return nil, nil, thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("negative size: %d", size))
		}
		if int(size) > sr.limit || sr.total+int(size) > sr.limit {
			return nil, nil, sr.errStringsTooLarge()
		}
		sr.total += int(size)
		for left := int(size); left > 0; {
			k := min(left, chunk)
			if cap(buf)-len(buf) < k {
				nb := make([]byte, len(buf), max(2*cap(buf), len(buf)+k))
				copy(nb, buf)
				buf = nb
			}
			if _, err := io.ReadFull(sr.raw, buf[len(buf):len(buf)+k]); err != nil {
				return nil, nil, thrift.NewTProtocolException(err)
			}
			buf = buf[:len(buf)+k]
			left -= k
		}
		ends = append(ends, int32(len(buf)))
	}
	return buf, ends, nil
}

// splitStrings returns the strings that end at ends in buf, which is never
// written again.
func splitStrings(buf []byte, ends []int32) []string {
	vals := make([]string, len(ends))
	start := int32(0)
	for i, end := range ends {
		if end > start {
			vals[i] = stringAt(buf, int(start), int(end-start))
		}
		start = end
	}
	return vals
}

// copyBytes copies strs into one new buffer and returns them as slices of
// it, each capped at its length.
func copyBytes(strs []string) [][]byte {
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	buf := make([]byte, 0, n) // never grown: the slices stay in it
	vals := make([][]byte, len(strs))
	for i, s := range strs {
		at := len(buf)
		buf = append(buf, s...)
		vals[i] = buf[at:len(buf):len(buf)]
	}
	return vals
}

// splitBytes returns the values that end at ends in buf, each capped at
// its length so that appending to one cannot write into the next.
func splitBytes(buf []byte, ends []int32) [][]byte {
	vals := make([][]byte, len(ends))
	start := int32(0)
	for i, end := range ends {
		vals[i] = buf[start:end:end]
		start = end
	}
	return vals
}

// errStringsTooLarge is the error for a batch whose strings exceed the
// message size limit.
func (sr *stringReader) errStringsTooLarge() error {
	return thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT, fmt.Errorf("strings of one batch exceed %d bytes", sr.limit))
}

// arenaBlock is the size of the buffers that the strings of a batch read
// in place are copied into; a string longer than arenaBlock/4 gets a
// buffer of its own.
const arenaBlock = 64 << 10

// readPeeked reads the n elements of a string list whose header was read,
// in place from the peeker's buffer: the bytes of each value are copied
// straight into the batch's current arena block, which the value then
// points into (blocks are never written again where a value points).
func (sr *stringReader) readPeeked(n int) ([]string, error) {
	w := &sr.win
	defer w.release()
	vals := make([]string, 0, min(n, preallocMax))
	for range n {
		b, err := w.avail(4)
		if err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		size := int32(binary.BigEndian.Uint32(b))
		w.consume(4)
		if size < 0 {
			return nil, thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("negative size: %d", size))
		}
		if int(size) > sr.limit || sr.total+int(size) > sr.limit {
			return nil, sr.errStringsTooLarge()
		}
		sr.total += int(size)
		k := int(size)
		switch {
		case k == 0:
			vals = append(vals, "")
			continue
		case k > arenaBlock/4:
			v, err := sr.readLong(k)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			continue
		case cap(sr.block)-len(sr.block) < k:
			sr.block = make([]byte, 0, arenaBlock)
		}
		at := len(sr.block)
		if k <= len(b)-4 {
			// The whole value is in the window.
			sr.block = append(sr.block, b[4:4+k]...)
			w.consume(k)
		} else {
			for left := k; left > 0; {
				b, err := w.avail(1)
				if err != nil {
					if errors.Is(err, io.EOF) {
						err = io.ErrUnexpectedEOF
					}
					return nil, thrift.NewTProtocolException(err)
				}
				c := min(left, len(b))
				sr.block = append(sr.block, b[:c]...)
				w.consume(c)
				left -= c
			}
		}
		vals = append(vals, stringAt(sr.block, at, k))
	}
	return vals, nil
}

// readLong reads a value of k bytes into a buffer of its own, grown as
// the bytes arrive (k is only what the length prefix claims).
func (sr *stringReader) readLong(k int) (string, error) {
	w := &sr.win
	buf := make([]byte, 0, min(k, chunk))
	for len(buf) < k {
		b, err := w.avail(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", thrift.NewTProtocolException(err)
		}
		c := min(k-len(buf), len(b))
		buf = append(buf, b[:c]...)
		w.consume(c)
	}
	return stringAt(buf, 0, k), nil
}
