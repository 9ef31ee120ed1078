package impalad

import (
	"strconv"
	"time"
)

// The generated table gen.rows_N (N rows, 0 <= N <= MaxGenRows) has the
// columns of GenSchema; its values come from GenValue, so client tests can
// compare what they decode without hard-coding data.

// MaxGenRows is the largest N of gen.rows_N.
const MaxGenRows = 1 << 31

var genSchema = []Column{
	{"id", Type{Kind: BigInt}},
	{"bool_col", Type{Kind: Boolean}},
	{"tinyint_col", Type{Kind: TinyInt}},
	{"smallint_col", Type{Kind: SmallInt}},
	{"int_col", Type{Kind: Int}},
	{"bigint_col", Type{Kind: BigInt}},
	{"float_col", Type{Kind: Float}},
	{"double_col", Type{Kind: Double}},
	{"decimal_col", Type{Kind: Decimal, Precision: 10, Scale: 2}},
	{"string_col", Type{Kind: String}},
	{"varchar_col", Type{Kind: Varchar, Length: 10}},
	{"char_col", Type{Kind: Char, Length: 5}},
	{"timestamp_col", Type{Kind: Timestamp}},
	{"date_col", Type{Kind: Date}},
	{"binary_col", Type{Kind: Binary}},
}

// GenSchema returns the columns of the generated tables gen.rows_N, in
// order: id BIGINT (the row number, never NULL), then one column of every
// scalar type: bool_col, tinyint_col, smallint_col, int_col, bigint_col,
// float_col, double_col, decimal_col DECIMAL(10,2), string_col,
// varchar_col VARCHAR(10), char_col CHAR(5), timestamp_col, date_col,
// binary_col. The caller may modify the returned slice.
func GenSchema() []Column {
	return append([]Column(nil), genSchema...)
}

// GenIsNull reports whether column col of row row of a generated table is
// NULL: column 0 (id) never is; column c >= 1 is NULL when row%8 == c%8, so
// every column has NULLs in any eight consecutive rows.
func GenIsNull(col int, row int64) bool {
	return col > 0 && row%8 == int64(col%8)
}

var (
	genTimestampBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	genDateBase      = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// GenValue returns the value of column col (an index into GenSchema) of row
// row (0-based) of a generated table, or nil for NULL. The Go type follows
// the column's Kind, as listed in the package doc's Values section (int8
// for TINYINT, string for DECIMAL, time.Time for TIMESTAMP and DATE, ...).
// It panics when col is out of range.
func GenValue(col int, row int64) any {
	if GenIsNull(col, row) {
		return nil
	}
	switch col {
	case 0:
		return row
	case 1:
		return genBool(row)
	case 2:
		return genTinyInt(row)
	case 3:
		return genSmallInt(row)
	case 4:
		return genInt(row)
	case 5:
		return genBigInt(row)
	case 6:
		return genFloat(row)
	case 7:
		return genDouble(row)
	case 8:
		return formatDecimal(genDecimalUnscaled(row), 2)
	case 9:
		return genString(row)
	case 10:
		return genVarchar(row)
	case 11:
		return genChar(row)
	case 12:
		return genTimestamp(row)
	case 13:
		return genDate(row)
	case 14:
		return genBinary(row)
	}
	panic("impalad: GenValue column out of range: " + strconv.Itoa(col))
}

func genBool(r int64) bool             { return r%3 == 0 }
func genTinyInt(r int64) int8          { return int8(r) }
func genSmallInt(r int64) int16        { return int16(r * 7) }
func genInt(r int64) int32             { return int32(r*1013) - 1_000_000 }
func genBigInt(r int64) int64          { return r*1_000_000_007 - 3 }
func genFloat(r int64) float32         { return float32(r%100000) * 0.5 }
func genDouble(r int64) float64        { return float64(r)*0.25 - 100 }
func genDecimalUnscaled(r int64) int64 { return (r*101)%10_000_000_000 - 5000 }

// genString: ASCII for most rows, some non-ASCII, and an empty string
// (not NULL) every 13th row.
func genString(r int64) string {
	switch {
	case r%13 == 5:
		return ""
	case r%5 == 2:
		return "ü-" + strconv.FormatInt(r, 10) + "-ß"
	}
	return "row-" + strconv.FormatInt(r, 10)
}

func genVarchar(r int64) string {
	s := "v" + strconv.FormatInt(r, 10)
	if len(s) > 10 {
		s = s[:10]
	}
	return s
}

func genChar(r int64) string {
	s := "c" + strconv.FormatInt(r%10000, 10)
	for len(s) < 5 {
		s += " "
	}
	return s
}

func genTimestamp(r int64) time.Time {
	ns := int64(0)
	if r%2 == 1 {
		ns = (r % 1000) * 1_000_123
	}
	return genTimestampBase.Add(time.Duration(r)*3601*time.Second + time.Duration(ns))
}

func genDate(r int64) time.Time { return genDateBase.AddDate(0, 0, int(r%100000)) }

// genBinary: three bytes, not valid UTF-8, never a tab or a newline.
func genBinary(r int64) []byte { return []byte{0xde, 0xad, byte('a' + r%26)} }

// genText returns the text of a non-NULL value of a string-encoded column
// (DECIMAL, STRING, VARCHAR, CHAR, TIMESTAMP, DATE, BINARY) without boxing
// it, for the fetch path.
func genText(col int, r int64) string {
	switch col {
	case 8:
		return formatDecimal(genDecimalUnscaled(r), 2)
	case 9:
		return genString(r)
	case 10:
		return genVarchar(r)
	case 11:
		return genChar(r)
	case 12:
		return formatTimestamp(genTimestamp(r))
	case 13:
		return genDate(r).Format("2006-01-02")
	case 14:
		return string(genBinary(r))
	}
	return FormatValue(genSchema[col].Type, GenValue(col, r))
}
