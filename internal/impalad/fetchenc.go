package impalad

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"slices"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// The FetchResults reply is the bulk of what a coordinator sends, and the
// generated Thrift writer spends an interface call per value on it. The
// processor function below replaces the generated one for FetchResults: it
// reads the request and reports errors as the generated code does, then
// encodes the reply (strict TBinaryProtocol, as serve's protocol writes)
// into the connection's reused buffer and writes it at once. A batch of a
// generated table skips the generated structs altogether: its columns are
// encoded straight from the generators (appendGenColumns), ahead of the
// fetch (by the goroutine that served the previous one, once its reply is
// written), into a buffer the genResult reuses, and a large reply goes to
// a plain TCP connection in one writev. The bytes are exactly the
// generated writer's (TestFetchReplySameBytes, FuzzFetchReply,
// TestGenColumnsSameBytes and TestGenColumnsLargeBatches compare them); a
// reply the encoder does not cover (row-based rows, a malformed column)
// goes through the generated writer.

// fetchProcessor is the processor function of FetchResults.
type fetchProcessor struct{ h *hs2Handler }

// maxKeptReplyBuf is the capacity of the largest reply buffer a connection
// keeps for its next reply.
const maxKeptReplyBuf = 1 << 20

// Process serves one FetchResults call, as the generated processor
// function does but for the writing of the reply.
func (p *fetchProcessor) Process(ctx context.Context, seqID int32, iprot, oprot thrift.TProtocol) (bool, thrift.TException) {
	args := tcli.TCLIServiceFetchResultsArgs{}
	if err := args.Read(ctx, iprot); err != nil {
		// The exception is sent on a best-effort basis, as the generated
		// processor does: the connection ends with the read's error.
		_ = iprot.ReadMessageEnd(ctx)
		x := thrift.NewTApplicationException(thrift.PROTOCOL_ERROR, err.Error())
		_ = oprot.WriteMessageBegin(ctx, "FetchResults", thrift.EXCEPTION, seqID)
		_ = x.Write(ctx, oprot)
		_ = oprot.WriteMessageEnd(ctx)
		_ = oprot.Flush(ctx)
		return false, thrift.WrapTException(err)
	}
	_ = iprot.ReadMessageEnd(ctx) // a no-op for the binary protocol

	// The generated processors' connectivity check: cancel ctx once the
	// transport is closed.
	tickerCancel := func() {}
	if thrift.ServerConnectivityCheckInterval > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		var tickerCtx context.Context
		tickerCtx, tickerCancel = context.WithCancel(context.Background())
		defer tickerCancel()
		go func() {
			ticker := time.NewTicker(thrift.ServerConnectivityCheckInterval)
			defer ticker.Stop()
			for {
				select {
				case <-tickerCtx.Done():
					return
				case <-ticker.C:
					if !iprot.Transport().IsOpen() {
						cancel()
						return
					}
				}
			}
		}()
	}

	// Only serve's protocol (strict binary over a serverTransport) gets
	// the encoder.
	t, fast := oprot.Transport().(*serverTransport)
	resp, enc, err := p.h.fetch(ctx, args.Req, fast)
	tickerCancel()
	if err != nil {
		if errors.Is(err, thrift.ErrAbandonRequest) {
			return false, thrift.WrapTException(err)
		}
		x := thrift.NewTApplicationException(thrift.INTERNAL_ERROR, "Internal error processing FetchResults: "+err.Error())
		werr := oprot.WriteMessageBegin(ctx, "FetchResults", thrift.EXCEPTION, seqID)
		if err2 := x.Write(ctx, oprot); werr == nil {
			werr = err2
		}
		if err2 := oprot.WriteMessageEnd(ctx); werr == nil {
			werr = err2
		}
		if err2 := oprot.Flush(ctx); werr == nil {
			werr = err2
		}
		if werr != nil {
			return false, thrift.WrapTException(werr)
		}
		return true, thrift.WrapTException(err)
	}
	var werr error
	if fast {
		werr = writeReply(ctx, seqID, oprot, t, resp, enc)
	} else {
		werr = writeFetchReplyGen(ctx, seqID, oprot, resp)
	}
	if werr != nil {
		return false, thrift.WrapTException(werr)
	}
	if enc != nil {
		// The reply is on its way: encode the next batch while the client
		// reads it.
		enc.g.buildAhead()
	}
	return true, nil
}

// directWriteMin is the size of encoded columns from which writeReply
// writes a reply straight to a TCP connection rather than through its
// buffer.
const directWriteMin = 32 << 10

// writeReply writes and flushes the reply carrying resp (and enc's
// columns, when not nil) to t, oprot's transport, and releases enc.
func writeReply(ctx context.Context, seqID int32, oprot thrift.TProtocol, t *serverTransport, resp *tcli.TFetchResultsResp, enc *encodedBatch) error {
	if enc != nil {
		defer enc.release()
	}
	if t.sc.crashOnFlush.Load() {
		// A crash after execution: the reply is never sent.
		return oprot.Flush(ctx)
	}
	var cols []byte
	if enc != nil {
		cols = enc.enc
	}
	buf, at, ok := appendFetchReply(t.sc.replyBuf[:0], seqID, resp, cols)
	if cap(buf) <= maxKeptReplyBuf {
		t.sc.replyBuf = buf[:0]
	}
	if !ok {
		if enc != nil && resp.Results != nil {
			resp.Results.Columns = buildColumns(enc.g, enc.from, enc.to)
		}
		return writeFetchReplyGen(ctx, seqID, oprot, resp)
	}
	var err error
	if at >= 0 && t.tcp != nil && t.bw.Buffered() == 0 && len(cols) >= directWriteMin {
		// One system call for the whole reply rather than three (the
		// head buffered, the columns partly copied into the buffer, the
		// rest, the tail), and no copy.
		bufs := net.Buffers{buf[:at], cols, buf[at:]}
		_, err = bufs.WriteTo(t.tcp)
	} else if at < 0 {
		_, err = t.Write(buf)
	} else {
		_, err = t.Write(buf[:at])
		if err == nil {
			_, err = t.Write(cols)
		}
		if err == nil {
			_, err = t.Write(buf[at:])
		}
	}
	if err != nil {
		return thrift.NewTProtocolException(err)
	}
	return oprot.Flush(ctx)
}

// writeFetchReplyGen writes and flushes the reply carrying resp with the
// generated code.
func writeFetchReplyGen(ctx context.Context, seqID int32, oprot thrift.TProtocol, resp *tcli.TFetchResultsResp) error {
	result := tcli.TCLIServiceFetchResultsResult{Success: resp}
	err := oprot.WriteMessageBegin(ctx, "FetchResults", thrift.REPLY, seqID)
	if err2 := result.Write(ctx, oprot); err == nil {
		err = err2
	}
	if err2 := oprot.WriteMessageEnd(ctx); err == nil {
		err = err2
	}
	if err2 := oprot.Flush(ctx); err == nil {
		err = err2
	}
	return err
}

// appendFetchReply appends the strict TBinaryProtocol message of the
// FetchResults reply carrying resp to b. It reports false, with b's
// contents past its original length undefined, when resp holds what it
// does not encode: rows of the row-based protocol, or a column that is not
// exactly one of its union's fields (which the generated writer refuses).
//
// With cols (from appendGenColumns) the columns of resp's Results (which
// has nil Columns) are cols, which the caller writes at the returned
// position: the message is b[:at], cols, then b[at:]. Without, at is -1.
func appendFetchReply(b []byte, seqID int32, resp *tcli.TFetchResultsResp, cols []byte) (_ []byte, at int, ok bool) {
	if !fetchEncodable(resp, cols) {
		return b, -1, false
	}
	at = -1
	b = binary.BigEndian.AppendUint32(b, uint32(thrift.VERSION_1)|uint32(thrift.REPLY))
	b = appendTString(b, "FetchResults")
	b = binary.BigEndian.AppendUint32(b, uint32(seqID))
	if resp != nil { // field 0: success
		b = appendFieldHeader(b, thrift.STRUCT, 0)
		b, at = appendFetchResp(b, resp, cols)
	}
	return append(b, thrift.STOP), at, true
}

// fetchEncodable reports whether appendFetchReply encodes resp with cols.
func fetchEncodable(resp *tcli.TFetchResultsResp, cols []byte) bool {
	if resp == nil || resp.Results == nil {
		return cols == nil
	}
	if len(resp.Results.Rows) > 0 || cols != nil && resp.Results.Columns != nil {
		return false
	}
	for _, c := range resp.Results.Columns {
		if c == nil || c.CountSetFieldsTColumn() != 1 {
			return false
		}
	}
	return true
}

func appendFieldHeader(b []byte, t thrift.TType, id int16) []byte {
	return append(b, byte(t), byte(uint16(id)>>8), byte(id))
}

func appendListHeader(b []byte, elem thrift.TType, n int) []byte {
	b = append(b, byte(elem))
	return binary.BigEndian.AppendUint32(b, uint32(int32(n)))
}

func appendTString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(int32(len(s))))
	return append(b, s...)
}

func appendTBinary(b []byte, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(int32(len(v))))
	return append(b, v...)
}

func appendTBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendFetchResp appends the TFetchResultsResp struct (resp may be nil:
// an empty struct, as the generated writer sends).
func appendFetchResp(b []byte, resp *tcli.TFetchResultsResp, cols []byte) (_ []byte, at int) {
	at = -1
	if resp != nil {
		b = appendFieldHeader(b, thrift.STRUCT, 1)
		b = appendStatus(b, resp.Status)
		if resp.HasMoreRows != nil {
			b = appendFieldHeader(b, thrift.BOOL, 2)
			b = appendTBool(b, *resp.HasMoreRows)
		}
		if resp.Results != nil {
			b = appendFieldHeader(b, thrift.STRUCT, 3)
			b, at = appendRowSet(b, resp.Results, cols)
		}
	}
	return append(b, thrift.STOP), at
}

func appendStatus(b []byte, st *tcli.TStatus) []byte {
	if st != nil {
		b = appendFieldHeader(b, thrift.I32, 1)
		b = binary.BigEndian.AppendUint32(b, uint32(int32(st.StatusCode)))
		if st.InfoMessages != nil {
			b = appendFieldHeader(b, thrift.LIST, 2)
			b = appendListHeader(b, thrift.STRING, len(st.InfoMessages))
			for _, m := range st.InfoMessages {
				b = appendTString(b, m)
			}
		}
		if st.SqlState != nil {
			b = appendFieldHeader(b, thrift.STRING, 3)
			b = appendTString(b, *st.SqlState)
		}
		if st.ErrorCode != nil {
			b = appendFieldHeader(b, thrift.I32, 4)
			b = binary.BigEndian.AppendUint32(b, uint32(*st.ErrorCode))
		}
		if st.ErrorMessage != nil {
			b = appendFieldHeader(b, thrift.STRING, 5)
			b = appendTString(b, *st.ErrorMessage)
		}
	}
	return append(b, thrift.STOP)
}

// appendRowSet appends rs, whose Rows are empty (fetchEncodable), and
// returns where cols go (-1 without cols).
func appendRowSet(b []byte, rs *tcli.TRowSet, cols []byte) (_ []byte, at int) {
	at = -1
	b = appendFieldHeader(b, thrift.I64, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(rs.StartRowOffset))
	b = appendFieldHeader(b, thrift.LIST, 2)
	b = appendListHeader(b, thrift.STRUCT, 0)
	if cols != nil {
		b = appendFieldHeader(b, thrift.LIST, 3)
		at = len(b)
	} else if rs.Columns != nil {
		b = appendFieldHeader(b, thrift.LIST, 3)
		b = appendListHeader(b, thrift.STRUCT, len(rs.Columns))
		for _, c := range rs.Columns {
			b = appendColumn(b, c)
		}
	}
	if rs.BinaryColumns != nil {
		b = appendFieldHeader(b, thrift.STRING, 4)
		b = appendTBinary(b, rs.BinaryColumns)
	}
	if rs.ColumnCount != nil {
		b = appendFieldHeader(b, thrift.I32, 5)
		b = binary.BigEndian.AppendUint32(b, uint32(*rs.ColumnCount))
	}
	return append(b, thrift.STOP), at
}

// appendColumn appends the TColumn union c, which has exactly one field
// set (fetchEncodable).
func appendColumn(b []byte, c *tcli.TColumn) []byte {
	var d []byte
	switch {
	case c.BoolVal != nil:
		v := c.BoolVal.Values
		b, d = appendFixedValues(b, 1, thrift.BOOL, 1, len(v))
		for i, x := range v {
			d[i] = 0
			if x {
				d[i] = 1
			}
		}
		b = appendNulls(b, c.BoolVal.Nulls)
	case c.ByteVal != nil:
		v := c.ByteVal.Values
		b, d = appendFixedValues(b, 2, thrift.BYTE, 1, len(v))
		for i, x := range v {
			d[i] = byte(x)
		}
		b = appendNulls(b, c.ByteVal.Nulls)
	case c.I16Val != nil:
		v := c.I16Val.Values
		b, d = appendFixedValues(b, 3, thrift.I16, 2, len(v))
		for i, x := range v {
			binary.BigEndian.PutUint16(d[2*i:], uint16(x))
		}
		b = appendNulls(b, c.I16Val.Nulls)
	case c.I32Val != nil:
		v := c.I32Val.Values
		b, d = appendFixedValues(b, 4, thrift.I32, 4, len(v))
		for i, x := range v {
			binary.BigEndian.PutUint32(d[4*i:], uint32(x))
		}
		b = appendNulls(b, c.I32Val.Nulls)
	case c.I64Val != nil:
		v := c.I64Val.Values
		b, d = appendFixedValues(b, 5, thrift.I64, 8, len(v))
		for i, x := range v {
			binary.BigEndian.PutUint64(d[8*i:], uint64(x))
		}
		b = appendNulls(b, c.I64Val.Nulls)
	case c.DoubleVal != nil:
		v := c.DoubleVal.Values
		b, d = appendFixedValues(b, 6, thrift.DOUBLE, 8, len(v))
		for i, x := range v {
			binary.BigEndian.PutUint64(d[8*i:], math.Float64bits(x))
		}
		b = appendNulls(b, c.DoubleVal.Nulls)
	case c.StringVal != nil:
		b = appendVarValues(b, 7, c.StringVal.Values)
		b = appendNulls(b, c.StringVal.Nulls)
	case c.BinaryVal != nil:
		b = appendVarValues(b, 8, c.BinaryVal.Values)
		b = appendNulls(b, c.BinaryVal.Nulls)
	}
	return append(b, thrift.STOP) // the end of the union
}

// appendFixedValues appends the header of field id of a TColumn (a column
// struct) and of the struct's field 1, a list of n values of type elem,
// size bytes each; it returns b extended by the n values' bytes, and
// those bytes for the caller to fill.
func appendFixedValues(b []byte, id int16, elem thrift.TType, size, n int) (_, vals []byte) {
	b = appendFieldHeader(b, thrift.STRUCT, id)
	b = appendFieldHeader(b, thrift.LIST, 1)
	b = appendListHeader(b, elem, n)
	at := len(b)
	b = slices.Grow(b, size*n)[:at+size*n]
	return b, b[at:]
}

// appendVarValues appends the header of field id of a TColumn (a column
// struct) and the struct's field 1, a list of strings or binaries.
func appendVarValues[T string | []byte](b []byte, id int16, vals []T) []byte {
	b = appendFieldHeader(b, thrift.STRUCT, id)
	b = appendFieldHeader(b, thrift.LIST, 1)
	b = appendListHeader(b, thrift.STRING, len(vals))
	n := 4 * len(vals)
	for _, v := range vals {
		n += len(v)
	}
	b = slices.Grow(b, n)
	for _, v := range vals {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(len(v))))
		b = append(b, v...)
	}
	return b
}

// appendNulls appends a column struct's field 2, its NULL bitmap, and the
// struct's end.
func appendNulls(b []byte, nulls []byte) []byte {
	b = appendFieldHeader(b, thrift.STRING, 2)
	b = appendTBinary(b, nulls)
	return append(b, thrift.STOP)
}

// appendGenColumns appends rows [from, to) of g as the value of TRowSet's
// field 3: the list header, then each TColumn, the bytes appendColumn
// appends for each of buildColumns(g, from, to), without building them
// (TestGenColumnsSameBytes compares them). The values of fixed-size
// columns are written for every row, NULL or not, without a branch, then
// those of the NULL rows (every 8th: genNulls) zeroed.
//
//nolint:gocognit // one case per column type of the wire encoding, in a loop kept free of calls (the fetch path)
func appendGenColumns(b []byte, g *genResult, from, to int64) []byte {
	n := int(to - from)
	b = appendListHeader(b, thrift.STRUCT, len(g.cols))
	nulls := make([]byte, (n+7)/8)
	for ci, c := range g.cols {
		col := g.proj[ci]
		first := genNulls(nulls, col, from, n)
		var d []byte
		switch c.Type.Kind {
		case Boolean:
			b, d = appendFixedValues(b, 1, thrift.BOOL, 1, n)
			for i := range d {
				d[i] = 0
				if genBool(from + int64(i)) {
					d[i] = 1
				}
			}
			for i := first; i < n; i += 8 {
				d[i] = 0
			}
		case TinyInt:
			b, d = appendFixedValues(b, 2, thrift.BYTE, 1, n)
			for i := range d {
				d[i] = byte(genTinyInt(from + int64(i)))
			}
			for i := first; i < n; i += 8 {
				d[i] = 0
			}
		case SmallInt:
			b, d = appendFixedValues(b, 3, thrift.I16, 2, n)
			for i := range n {
				binary.BigEndian.PutUint16(d[2*i:], uint16(genSmallInt(from+int64(i))))
			}
			for i := first; i < n; i += 8 {
				binary.BigEndian.PutUint16(d[2*i:], 0)
			}
		case Int:
			b, d = appendFixedValues(b, 4, thrift.I32, 4, n)
			for i := range n {
				binary.BigEndian.PutUint32(d[4*i:], uint32(genInt(from+int64(i))))
			}
			for i := first; i < n; i += 8 {
				binary.BigEndian.PutUint32(d[4*i:], 0)
			}
		case BigInt:
			// One loop per generator, each inlined (no call through a
			// func value per row).
			b, d = appendFixedValues(b, 5, thrift.I64, 8, n)
			if col == 0 {
				for i := range n {
					binary.BigEndian.PutUint64(d[8*i:], uint64(genID(from+int64(i))))
				}
			} else {
				for i := range n {
					binary.BigEndian.PutUint64(d[8*i:], uint64(genBigInt(from+int64(i))))
				}
			}
			for i := first; i < n; i += 8 {
				binary.BigEndian.PutUint64(d[8*i:], 0)
			}
		case Float, Double:
			b, d = appendFixedValues(b, 6, thrift.DOUBLE, 8, n)
			if c.Type.Kind == Float {
				for i := range n {
					binary.BigEndian.PutUint64(d[8*i:], math.Float64bits(genFloatAsDouble(from+int64(i))))
				}
			} else {
				for i := range n {
					binary.BigEndian.PutUint64(d[8*i:], math.Float64bits(genDouble(from+int64(i))))
				}
			}
			for i := first; i < n; i += 8 {
				binary.BigEndian.PutUint64(d[8*i:], 0)
			}
		case Binary:
			b = appendFieldHeader(b, thrift.STRUCT, 8)
			b = appendFieldHeader(b, thrift.LIST, 1)
			b = appendListHeader(b, thrift.STRING, n)
			next := first
			for i := range n {
				if i == next {
					next += 8
					b = append(b, 0, 0, 0, 0)
					continue
				}
				b = appendTBinary(b, genBinary(from+int64(i)))
			}
		default:
			b = appendFieldHeader(b, thrift.STRUCT, 7)
			b = appendFieldHeader(b, thrift.LIST, 1)
			b = appendListHeader(b, thrift.STRING, n)
			b = appendGenTextValues(b, col, from, n, first)
		}
		b = appendNulls(b, nulls)
		b = append(b, thrift.STOP) // the end of the union
	}
	return b
}
