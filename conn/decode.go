package conn

import (
	"errors"
	"fmt"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// ErrBadRowSet is wrapped by the error for a result batch that does not
// agree with its schema or with itself: a column count that differs from
// the schema, value lists of different lengths, a value kind that does not
// fit the column's type, a row-based TRowSet.
var ErrBadRowSet = errors.New("conn: malformed result batch")

// decodeRowSet turns an HS2 V6 columnar TRowSet into a Batch without
// copying the values: the batch's slices are the ones the Thrift decoder
// filled. It never panics on hostile input.
//
// Null bitmaps shorter than the row count are accepted: the missing bits
// are "not NULL". HiveServer2 writers produce them (Java's
// BitSet.toByteArray drops trailing zero bytes); Impala sends full ones.
func decodeRowSet(rs *tcli.TRowSet, meta []Column) (*Batch, error) {
	return decodeRowSetTimes(rs, meta, nil)
}

// decodeRowSetTimes is decodeRowSet for a TRowSet whose reader decoded
// some TIMESTAMP and DATE columns into times: times[i], when set, holds
// the values of column i (whose TStringColumn then has its nulls only).
func decodeRowSetTimes(rs *tcli.TRowSet, meta []Column, times []*timeData) (*Batch, error) {
	b := &Batch{meta: meta}
	if rs == nil {
		return b, nil
	}
	if len(rs.Columns) == 0 {
		// Spark's Thrift server sends an empty (not absent) column list
		// for a statement whose result has no rows, such as DDL.
		if len(rs.Rows) > 0 {
			return nil, fmt.Errorf("%w: %d rows in the row-based format (protocol before V6)", ErrBadRowSet, len(rs.Rows))
		}
		if len(rs.BinaryColumns) > 0 {
			return nil, fmt.Errorf("%w: compressed binaryColumns are not supported", ErrBadRowSet)
		}
		// No columns at all: an empty batch.
		return b, nil
	}
	if len(rs.Columns) != len(meta) {
		return nil, fmt.Errorf("%w: %d columns in the batch, %d in the schema", ErrBadRowSet, len(rs.Columns), len(meta))
	}
	b.cols = make([]colData, len(meta))
	n := -1
	for i, tc := range rs.Columns {
		c := &b.cols[i]
		c.typ = meta[i].Type
		if err := setColumn(c, tc); err != nil {
			return nil, fmt.Errorf("%w: column %d (%s %s): %w", ErrBadRowSet, i, meta[i].Name, meta[i].TypeName, err)
		}
		if i < len(times) && times[i] != nil && c.kind == kindString && isTimeType(c.typ) {
			times[i].applyNulls(c.nulls)
			c.kind, c.str, c.times = kindTime, nil, times[i]
		}
		if want := wantKind(c.typ); !kindFits(want, c.kind) {
			return nil, fmt.Errorf("%w: column %d (%s %s): sent as %s values", ErrBadRowSet, i, meta[i].Name, meta[i].TypeName, c.kind)
		}
		l := c.len()
		if n < 0 {
			n = l
		} else if l != n {
			return nil, fmt.Errorf("%w: column %d (%s) has %d values, column 0 has %d", ErrBadRowSet, i, meta[i].Name, l, n)
		}
		if c.typ == TypeNull {
			// Every cell of a NULL-typed column is NULL, whatever was sent.
			*c = colData{kind: kindNone, typ: TypeNull}
		}
	}
	if n > 0 {
		b.n = n
	}
	return b, nil
}

// setColumn points c at the one value list the TColumn union carries.
func setColumn(c *colData, tc *tcli.TColumn) error {
	if tc == nil {
		return errors.New("no column")
	}
	set := 0
	if v := tc.BoolVal; v != nil {
		set++
		c.kind, c.bools, c.nulls = kindBool, v.Values, v.Nulls
	}
	if v := tc.ByteVal; v != nil {
		set++
		c.kind, c.i8, c.nulls = kindInt8, v.Values, v.Nulls
	}
	if v := tc.I16Val; v != nil {
		set++
		c.kind, c.i16, c.nulls = kindInt16, v.Values, v.Nulls
	}
	if v := tc.I32Val; v != nil {
		set++
		c.kind, c.i32, c.nulls = kindInt32, v.Values, v.Nulls
	}
	if v := tc.I64Val; v != nil {
		set++
		c.kind, c.i64, c.nulls = kindInt64, v.Values, v.Nulls
	}
	if v := tc.DoubleVal; v != nil {
		set++
		c.kind, c.f64, c.nulls = kindFloat64, v.Values, v.Nulls
	}
	if v := tc.StringVal; v != nil {
		set++
		c.kind, c.str, c.nulls = kindString, v.Values, v.Nulls
	}
	if v := tc.BinaryVal; v != nil {
		set++
		c.kind, c.bin, c.nulls = kindBinary, v.Values, v.Nulls
	}
	switch set {
	case 0:
		return errors.New("no value list set")
	case 1:
		return nil
	}
	return fmt.Errorf("%d value lists set in one column", set)
}

// wantKind is the value list Impala uses for a type.
func wantKind(t Type) kind {
	switch t {
	case TypeBoolean:
		return kindBool
	case TypeTinyInt:
		return kindInt8
	case TypeSmallInt:
		return kindInt16
	case TypeInt:
		return kindInt32
	case TypeBigInt:
		return kindInt64
	case TypeFloat, TypeDouble:
		return kindFloat64
	case TypeBinary:
		return kindBinary
	case TypeNull, TypeOther:
		return kindNone // anything goes
	}
	return kindString
}

// kindFits reports whether values of kind got can serve a column whose
// natural kind is want: exact, or text as binary and binary as text.
func kindFits(want, got kind) bool {
	switch {
	case want == got, want == kindNone:
		return true
	case want == kindString && got == kindBinary, want == kindBinary && got == kindString:
		return true
	case want == kindString && got == kindTime:
		// Decoded by the reader, for TIMESTAMP and DATE only.
		return true
	}
	return false
}
