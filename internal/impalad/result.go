package impalad

import (
	"sync"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// result is the output of a statement: a schema and rows addressed by
// index. Implementations are immutable once built, so fetches read them
// without a lock (genResult guards the batch it builds ahead with a lock of
// its own).
type result interface {
	schema() []Column
	numRows() int64
	value(col int, row int64) any
}

// rowsResult holds materialized rows.
type rowsResult struct {
	cols []Column
	rows [][]any
}

func (r *rowsResult) schema() []Column             { return r.cols }
func (r *rowsResult) numRows() int64               { return int64(len(r.rows)) }
func (r *rowsResult) value(col int, row int64) any { return r.rows[row][col] }

// genResult is a projection of a generated table; values are computed on
// the fly from the row number. Its fields are immutable once built, except
// ahead, queued, spare and dropped (guarded by mu).
type genResult struct {
	cols []Column
	proj []int // index into genSchema for each result column
	n    int64

	// ahead is the batch encoded in advance: the one that follows the
	// last batch fetched, of the same size. Impala's coordinator likewise
	// produces result rows ahead of the client's fetches. The goroutine
	// that served a fetch encodes the next batch once it has written its
	// reply (buildAhead), while the client reads that reply: no goroutine
	// of its own, whose start and wake-ups cost more CPU than the
	// encoding saves.
	mu    sync.Mutex
	ahead *encodedBatch
	// queued is ahead while nobody has started encoding it.
	queued *encodedBatch
	// spare holds buffers of batches already sent, for the next ones.
	spare [][]byte
	// dropped is set once the operation is closed: buffers are no longer
	// kept.
	dropped bool
}

// encodedBatch is rows [from, to) of a genResult as the encoded columns
// of a reply (see appendGenColumns); enc is set when done is closed.
type encodedBatch struct {
	g        *genResult
	from, to int64
	done     chan struct{}
	enc      []byte
}

// minAhead is the smallest batch (in rows) after which the next one is
// encoded in advance: small fetches do not.
const minAhead = 1024

// maxSpare is the number of batch buffers a genResult keeps for reuse: the
// one being sent and the one being built in advance.
const maxSpare = 2

// maxSpareSize is the capacity of the largest batch buffer kept for reuse.
const maxSpareSize = 4 << 20

// encodedBatch returns rows [from, to) of g encoded, the ones built in
// advance when they match, and queues the next batch of the same size for
// buildAhead. The caller calls release once the bytes are written, then
// buildAhead.
func (g *genResult) encodedBatch(from, to int64) *encodedBatch {
	g.mu.Lock()
	a := g.ahead
	unbuilt := a != nil && a == g.queued
	g.ahead, g.queued = nil, nil
	g.mu.Unlock()
	switch {
	case a != nil && a.from == from && a.to == to && unbuilt:
		// Queued but nobody built it (its fetch's reply failed, or this
		// fetch came before that fetch's goroutine got to it): build it
		// now.
		a.enc = appendGenColumns(g.takeBuffer(), g, from, to)
		close(a.done)
	case a != nil && a.from == from && a.to == to:
		<-a.done
	default:
		// A batch built in advance for other rows is dropped unused
		// (another fetch's goroutine may still be encoding it).
		a = &encodedBatch{g: g, from: from, to: to}
		a.enc = appendGenColumns(g.takeBuffer(), g, from, to)
	}
	if size := to - from; size >= minAhead && to < g.n {
		next := &encodedBatch{g: g, from: to, to: min(to+size, g.n), done: make(chan struct{})}
		g.mu.Lock()
		if !g.dropped {
			g.ahead, g.queued = next, next
		}
		g.mu.Unlock()
	}
	return a
}

// buildAhead encodes the batch queued by the last encodedBatch, if nobody
// has started it yet.
func (g *genResult) buildAhead() {
	g.mu.Lock()
	a := g.queued
	g.queued = nil
	g.mu.Unlock()
	if a == nil {
		return
	}
	a.enc = appendGenColumns(g.takeBuffer(), g, a.from, a.to)
	close(a.done)
}

// release gives the batch's buffer back to its genResult once the bytes
// have been written: nothing may read or keep them afterwards.
func (b *encodedBatch) release() {
	buf := b.enc
	b.enc = nil
	if cap(buf) > maxSpareSize {
		return
	}
	g := b.g
	g.mu.Lock()
	if !g.dropped && len(g.spare) < maxSpare {
		g.spare = append(g.spare, buf[:0])
	}
	g.mu.Unlock()
}

// dropBuffers lets go of the spare buffers and of the batch built in
// advance, for good: g's operation is closed.
func (g *genResult) dropBuffers() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropped = true
	g.spare = nil
	g.ahead, g.queued = nil, nil
}

// takeBuffer returns an empty buffer for a batch, a spare one if any.
func (g *genResult) takeBuffer() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.spare); n > 0 {
		b := g.spare[n-1]
		g.spare = g.spare[:n-1]
		return b
	}
	return nil
}

func (g *genResult) schema() []Column { return g.cols }
func (g *genResult) numRows() int64   { return g.n }
func (g *genResult) value(col int, row int64) any {
	return GenValue(g.proj[col], row)
}

// typeDesc returns the HS2 type descriptor of t.
func typeDesc(t Type) *tcli.TTypeDesc {
	e := &tcli.TPrimitiveTypeEntry{Type: hs2TypeID(t.Kind)}
	switch t.Kind {
	case Decimal:
		p, s := int32(t.Precision), int32(t.Scale)
		e.TypeQualifiers = &tcli.TTypeQualifiers{Qualifiers: map[string]*tcli.TTypeQualifierValue{
			tcli.PRECISION: {I32Value: &p},
			tcli.SCALE:     {I32Value: &s},
		}}
	case Varchar, Char:
		l := int32(t.Length)
		e.TypeQualifiers = &tcli.TTypeQualifiers{Qualifiers: map[string]*tcli.TTypeQualifierValue{
			tcli.CHARACTER_MAXIMUM_LENGTH: {I32Value: &l},
		}}
	}
	return &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{PrimitiveEntry: e}}}
}

func hs2TypeID(k Kind) tcli.TTypeId {
	switch k {
	case Boolean:
		return tcli.TTypeId_BOOLEAN_TYPE
	case TinyInt:
		return tcli.TTypeId_TINYINT_TYPE
	case SmallInt:
		return tcli.TTypeId_SMALLINT_TYPE
	case Int:
		return tcli.TTypeId_INT_TYPE
	case BigInt:
		return tcli.TTypeId_BIGINT_TYPE
	case Float:
		return tcli.TTypeId_FLOAT_TYPE
	case Double:
		return tcli.TTypeId_DOUBLE_TYPE
	case Decimal:
		return tcli.TTypeId_DECIMAL_TYPE
	case Varchar:
		return tcli.TTypeId_VARCHAR_TYPE
	case Char:
		return tcli.TTypeId_CHAR_TYPE
	case Timestamp:
		return tcli.TTypeId_TIMESTAMP_TYPE
	case Date:
		return tcli.TTypeId_DATE_TYPE
	case Binary:
		return tcli.TTypeId_BINARY_TYPE
	}
	return tcli.TTypeId_STRING_TYPE
}

func tableSchema(cols []Column) *tcli.TTableSchema {
	s := &tcli.TTableSchema{Columns: make([]*tcli.TColumnDesc, len(cols))}
	for i, c := range cols {
		s.Columns[i] = &tcli.TColumnDesc{ColumnName: c.Name, TypeDesc: typeDesc(c.Type), Position: int32(i + 1)}
	}
	return s
}

// columnarBatch encodes rows [from, to) of r as HS2 V6 columns, each with
// its NULL bitmap (bit i, least significant first, set for a NULL in row i).
// FLOAT goes as a double; TIMESTAMP, DATE, DECIMAL, CHAR and VARCHAR go as
// strings and BINARY as binary, as Impala sends them. (The FetchResults
// replies of a generated table skip these structs: see encodedBatch.)
func columnarBatch(r result, from, to int64) []*tcli.TColumn {
	return buildColumns(r, from, to)
}

// buildColumns is columnarBatch.
func buildColumns(r result, from, to int64) []*tcli.TColumn {
	cols := r.schema()
	n := int(to - from)
	out := make([]*tcli.TColumn, len(cols))
	g, isGen := r.(*genResult)
	for ci, c := range cols {
		bc := &batchCol{r: r, ci: ci, genCol: -1, from: from, n: n, nulls: make([]byte, (n+7)/8)}
		if isGen {
			bc.genCol = g.proj[ci]
		}
		col := &tcli.TColumn{}
		switch c.Type.Kind {
		case Boolean:
			col.BoolVal = &tcli.TBoolColumn{Values: fillColumn(bc, genBool, as[bool]), Nulls: bc.nulls}
		case TinyInt:
			col.ByteVal = &tcli.TByteColumn{Values: fillColumn(bc, genTinyInt, as[int8]), Nulls: bc.nulls}
		case SmallInt:
			col.I16Val = &tcli.TI16Column{Values: fillColumn(bc, genSmallInt, as[int16]), Nulls: bc.nulls}
		case Int:
			col.I32Val = &tcli.TI32Column{Values: fillColumn(bc, genInt, as[int32]), Nulls: bc.nulls}
		case BigInt:
			gen := genBigInt
			if bc.genCol == 0 {
				gen = genID
			}
			col.I64Val = &tcli.TI64Column{Values: fillColumn(bc, gen, as[int64]), Nulls: bc.nulls}
		case Float, Double:
			gen := genDouble
			if c.Type.Kind == Float {
				gen = genFloatAsDouble
			}
			col.DoubleVal = &tcli.TDoubleColumn{Values: fillColumn(bc, gen, asFloat64), Nulls: bc.nulls}
		case Binary:
			col.BinaryVal = &tcli.TBinaryColumn{Values: fillColumn(bc, genBinary, as[[]byte]), Nulls: bc.nulls}
		default:
			if bc.genCol >= 0 {
				col.StringVal = &tcli.TStringColumn{Values: genTextColumn(bc.genCol, from, n, bc.nulls), Nulls: bc.nulls}
				break
			}
			gen := func(row int64) string { return genText(bc.genCol, row) }
			conv := func(v any) (string, bool) {
				if v == nil {
					return "", false
				}
				return FormatValue(c.Type, v), true
			}
			col.StringVal = &tcli.TStringColumn{Values: fillColumn(bc, gen, conv), Nulls: bc.nulls}
		}
		out[ci] = col
	}
	return out
}

// batchCol is one column of a batch being encoded: rows [from, from+n) of
// column ci of r, and their NULL bitmap, filled as the values are read.
type batchCol struct {
	r      result
	ci     int
	genCol int // the column's index in genSchema when r is a genResult, else -1
	from   int64
	n      int
	nulls  []byte
}

// fillColumn returns the values of bc's rows and sets bc's NULL bits. A
// generated table's values come unboxed from gen (after GenIsNull); other
// results' boxed values go through conv, whose false means NULL.
func fillColumn[T any](bc *batchCol, gen func(row int64) T, conv func(v any) (T, bool)) []T {
	vals := make([]T, bc.n)
	for i := range vals {
		row := bc.from + int64(i)
		if bc.genCol >= 0 {
			if GenIsNull(bc.genCol, row) {
				bc.nulls[i>>3] |= 1 << (i & 7)
			} else {
				vals[i] = gen(row)
			}
			continue
		}
		if v, ok := conv(bc.r.value(bc.ci, row)); ok {
			vals[i] = v
		} else {
			bc.nulls[i>>3] |= 1 << (i & 7)
		}
	}
	return vals
}

// as is a fillColumn conv for a column whose values are exactly T.
func as[T any](v any) (T, bool) {
	x, ok := v.(T)
	return x, ok
}

// asFloat64 is the fillColumn conv of FLOAT and DOUBLE columns.
func asFloat64(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// genID and genFloatAsDouble are the fillColumn gens of the id column
// (the row number, never NULL) and of float_col, sent as a double.
func genID(r int64) int64              { return r }
func genFloatAsDouble(r int64) float64 { return float64(genFloat(r)) }

// rowBatch encodes rows [from, to) of r as HS2 row-based values, for
// clients that asked for a protocol before V6.
func rowBatch(r result, from, to int64) []*tcli.TRow {
	cols := r.schema()
	rows := make([]*tcli.TRow, 0, to-from)
	for row := from; row < to; row++ {
		vals := make([]*tcli.TColumnValue, len(cols))
		for ci, c := range cols {
			v := r.value(ci, row)
			cv := &tcli.TColumnValue{}
			switch c.Type.Kind {
			case Boolean:
				cv.BoolVal = &tcli.TBoolValue{}
				if x, ok := v.(bool); ok {
					cv.BoolVal.Value = &x
				}
			case TinyInt:
				cv.ByteVal = &tcli.TByteValue{}
				if x, ok := v.(int8); ok {
					cv.ByteVal.Value = &x
				}
			case SmallInt:
				cv.I16Val = &tcli.TI16Value{}
				if x, ok := v.(int16); ok {
					cv.I16Val.Value = &x
				}
			case Int:
				cv.I32Val = &tcli.TI32Value{}
				if x, ok := v.(int32); ok {
					cv.I32Val.Value = &x
				}
			case BigInt:
				cv.I64Val = &tcli.TI64Value{}
				if x, ok := v.(int64); ok {
					cv.I64Val.Value = &x
				}
			case Float, Double:
				cv.DoubleVal = &tcli.TDoubleValue{}
				switch x := v.(type) {
				case float32:
					f := float64(x)
					cv.DoubleVal.Value = &f
				case float64:
					cv.DoubleVal.Value = &x
				}
			default:
				cv.StringVal = &tcli.TStringValue{}
				if v != nil {
					s := FormatValue(c.Type, v)
					cv.StringVal.Value = &s
				}
			}
			vals[ci] = cv
		}
		rows = append(rows, &tcli.TRow{ColVals: vals})
	}
	return rows
}

// textRows formats rows [from, to) of r as beeswax rows: columns joined by
// a tab, NULL spelled "NULL".
func textRows(r result, from, to int64) []string {
	cols := r.schema()
	out := make([]string, 0, to-from)
	scaled, _ := r.(interface{ printScale(col int) int })
	var buf []byte
	for row := from; row < to; row++ {
		buf = buf[:0]
		for ci, c := range cols {
			if ci > 0 {
				buf = append(buf, '\t')
			}
			v := r.value(ci, row)
			if f, ok := v.(float64); ok && scaled != nil && scaled.printScale(ci) >= 0 {
				buf = append(buf, printDoubleFixed(f, scaled.printScale(ci))...)
				continue
			}
			buf = append(buf, FormatValue(c.Type, v)...)
		}
		out = append(out, string(buf))
	}
	return out
}
