package conn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// This file reads FetchResults replies with fewer allocations than the
// generated code: the bytes of all the strings of a batch go into one
// buffer that the batch's strings point into (one allocation per batch
// instead of one per cell), and fixed-width lists are read in bulk. The
// result is the same tcli.TFetchResultsResp the generated reader gives
// (FuzzFastFetch checks it byte for byte), with two differences that only
// hostile input sees: lists grow as their elements arrive instead of being
// allocated at the size their header claims, and the strings of one batch
// are together held to the message size limit.

// fetchResult is the result struct of the FetchResults call.
type fetchResult struct {
	success *tcli.TFetchResultsResp
	limit   int // MaxMessageSize
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
			resp, err := readFetchResp(ctx, p, r.limit)
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
	return thrift.NewTProtocolExceptionWithType(thrift.INVALID_DATA, fmt.Errorf("Required field %s is not set", name))
}

func readFetchResp(ctx context.Context, p thrift.TProtocol, limit int) (*tcli.TFetchResultsResp, error) {
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
			rs, err := readRowSet(ctx, p, limit)
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

func readRowSet(ctx context.Context, p thrift.TProtocol, limit int) (*tcli.TRowSet, error) {
	rs := &tcli.TRowSet{}
	var hasOffset, hasRows bool
	sr := newStringReader(p, limit)
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
			rs.Columns, err = readList(ctx, p, func() (*tcli.TColumn, error) {
				return readColumn(ctx, p, sr)
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

func readColumn(ctx context.Context, p thrift.TProtocol, sr *stringReader) (*tcli.TColumn, error) {
	c := &tcli.TColumn{}
	err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		if t != thrift.STRUCT || id < 1 || id > 8 {
			return false, nil
		}
		var err error
		switch id {
		case 1:
			c.BoolVal = &tcli.TBoolColumn{}
			c.BoolVal.Values, c.BoolVal.Nulls, err = readValues(ctx, p, func(raw []byte) (bool, error) {
				return readFixed(ctx, p, sr.raw, raw, 1, func(b []byte) bool { return b[0] == 1 }, p.ReadBool)
			})
		case 2:
			c.ByteVal = &tcli.TByteColumn{}
			c.ByteVal.Values, c.ByteVal.Nulls, err = readValues(ctx, p, func(raw []byte) (int8, error) {
				return readFixed(ctx, p, sr.raw, raw, 1, func(b []byte) int8 { return int8(b[0]) }, p.ReadByte)
			})
		case 3:
			c.I16Val = &tcli.TI16Column{}
			c.I16Val.Values, c.I16Val.Nulls, err = readValues(ctx, p, func(raw []byte) (int16, error) {
				return readFixed(ctx, p, sr.raw, raw, 2, func(b []byte) int16 { return int16(binary.BigEndian.Uint16(b)) }, p.ReadI16)
			})
		case 4:
			c.I32Val = &tcli.TI32Column{}
			c.I32Val.Values, c.I32Val.Nulls, err = readValues(ctx, p, func(raw []byte) (int32, error) {
				return readFixed(ctx, p, sr.raw, raw, 4, func(b []byte) int32 { return int32(binary.BigEndian.Uint32(b)) }, p.ReadI32)
			})
		case 5:
			c.I64Val = &tcli.TI64Column{}
			c.I64Val.Values, c.I64Val.Nulls, err = readValues(ctx, p, func(raw []byte) (int64, error) {
				return readFixed(ctx, p, sr.raw, raw, 8, func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }, p.ReadI64)
			})
		case 6:
			c.DoubleVal = &tcli.TDoubleColumn{}
			c.DoubleVal.Values, c.DoubleVal.Nulls, err = readValues(ctx, p, func(raw []byte) (float64, error) {
				return readFixed(ctx, p, sr.raw, raw, 8, func(b []byte) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b)) }, p.ReadDouble)
			})
		case 7:
			c.StringVal = &tcli.TStringColumn{}
			c.StringVal.Values, c.StringVal.Nulls, err = readStringValues(ctx, p, sr, false)
		case 8:
			var vals []string
			c.BinaryVal = &tcli.TBinaryColumn{}
			vals, c.BinaryVal.Nulls, err = readStringValues(ctx, p, sr, true)
			if err == nil {
				c.BinaryVal.Values = make([][]byte, len(vals))
				for i, s := range vals {
					if len(s) == 0 {
						c.BinaryVal.Values[i] = []byte{}
						continue
					}
					c.BinaryVal.Values[i] = unsafe.Slice(unsafe.StringData(s), len(s))
				}
			}
		}
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// readValues reads a {1: list<T> values, 2: binary nulls} struct, the
// list's elements through elem (given an 8-byte scratch buffer).
func readValues[T any](ctx context.Context, p thrift.TProtocol, elem func(raw []byte) (T, error)) ([]T, []byte, error) {
	var scratch [8]byte
	return readColumnStruct(ctx, p, func() ([]T, error) {
		return readList(ctx, p, func() (T, error) { return elem(scratch[:]) })
	})
}

// readColumnStruct reads a {1: list<T> values, 2: binary nulls} struct,
// the list through list; both fields must be present.
func readColumnStruct[T any](ctx context.Context, p thrift.TProtocol, list func() ([]T, error)) ([]T, []byte, error) {
	var (
		vals            []T
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
	if err != nil {
		return nil, nil, err
	}
	if !hasVals {
		return nil, nil, missing("Values")
	}
	if !hasNul {
		return nil, nil, missing("Nulls")
	}
	return vals, nulls, nil
}

// readFixed reads one fixed-width element: straight from the transport
// when there is one to read from, through the protocol otherwise.
func readFixed[T any](ctx context.Context, p thrift.TProtocol, raw io.Reader, buf []byte, width int, conv func([]byte) T, slow func(context.Context) (T, error)) (T, error) {
	if raw == nil {
		return slow(ctx)
	}
	if _, err := io.ReadFull(raw, buf[:width]); err != nil {
		var zero T
		return zero, thrift.NewTProtocolException(err)
	}
	return conv(buf[:width]), nil
}

// stringReader holds the buffer that the strings of one batch point into.
type stringReader struct {
	raw   io.Reader // the protocol's transport, nil when unknown
	limit int
	total int
}

func newStringReader(p thrift.TProtocol, limit int) *stringReader {
	sr := &stringReader{limit: limit}
	if bp, ok := p.(*thrift.TBinaryProtocol); ok {
		// TBinaryProtocol reads a rich transport directly, with no buffer
		// of its own: reading the transport is reading the protocol.
		if rt, ok := bp.Transport().(thrift.TRichTransport); ok {
			sr.raw = rt
		}
	}
	return sr
}

// readStringValues reads a {1: list<string> values, 2: binary nulls}
// struct. The bytes of the values go into one buffer per column; the
// strings point into it (the buffer is never written again).
func readStringValues(ctx context.Context, p thrift.TProtocol, sr *stringReader, binaryCol bool) ([]string, []byte, error) {
	return readColumnStruct(ctx, p, func() ([]string, error) { return sr.readList(ctx, p, binaryCol) })
}

// chunk bounds how much buffer a length prefix can make us allocate ahead
// of the bytes actually arriving.
const chunk = 64 << 10

// preallocMax bounds the elements allocated from a list header's count
// before they arrive (a hostile count then costs at most about 1 MiB);
// batches up to that many rows are read without regrowth.
const preallocMax = 1 << 16

func (sr *stringReader) readList(ctx context.Context, p thrift.TProtocol, binaryCol bool) ([]string, error) {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return nil, err
	}
	if sr.raw == nil {
		vals := make([]string, 0, min(n, preallocMax))
		for i := 0; i < n; i++ {
			var v string
			if binaryCol {
				var b []byte
				b, err = p.ReadBinary(ctx)
				v = string(b)
			} else {
				v, err = p.ReadString(ctx)
			}
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		return vals, p.ReadListEnd(ctx)
	}
	ends := make([]int32, 0, min(n, preallocMax))
	buf := make([]byte, 0, min(n*16, preallocMax*16))
	var hdr [4]byte
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(sr.raw, hdr[:]); err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		size := int32(binary.BigEndian.Uint32(hdr[:]))
		if size < 0 {
			return nil, thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("negative size: %d", size))
		}
		if int(size) > sr.limit || sr.total+int(size) > sr.limit {
			return nil, thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT, fmt.Errorf("strings of one batch exceed %d bytes", sr.limit))
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
				return nil, thrift.NewTProtocolException(err)
			}
			buf = buf[:len(buf)+k]
			left -= k
		}
		ends = append(ends, int32(len(buf)))
	}
	if err := p.ReadListEnd(ctx); err != nil {
		return nil, err
	}
	vals := make([]string, len(ends))
	start := int32(0)
	for i, end := range ends {
		if end > start {
			vals[i] = unsafe.String(&buf[start], end-start)
		}
		start = end
	}
	return vals, nil
}
