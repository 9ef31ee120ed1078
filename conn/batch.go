package conn

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// kind says which typed slice of a column holds its values.
type kind uint8

const (
	kindNone kind = iota // no values (a NULL-typed column): every cell is NULL
	kindBool
	kindInt8
	kindInt16
	kindInt32
	kindInt64
	kindFloat64
	kindString
	kindBinary
	kindTime // TIMESTAMP or DATE decoded into time.Time (Operation.SetDecodeTimes)
)

var kindNames = [...]string{"none", "bool", "i8", "i16", "i32", "i64", "double", "string", "binary", "time"}

func (k kind) String() string { return kindNames[k] }

// colData is one column of a batch: exactly one typed slice is set, as
// kind says, and nulls is the null bitmap (bit r%8 of byte r/8 set means
// row r is NULL; bits past the end of nulls are not NULL).
type colData struct {
	kind  kind
	typ   Type
	nulls []byte
	bools []bool
	i8    []int8
	i16   []int16
	i32   []int32
	i64   []int64
	f64   []float64
	str   []string
	bin   [][]byte
	times *timeData // kindTime
}

func (c *colData) len() int {
	switch c.kind {
	case kindBool:
		return len(c.bools)
	case kindInt8:
		return len(c.i8)
	case kindInt16:
		return len(c.i16)
	case kindInt32:
		return len(c.i32)
	case kindInt64:
		return len(c.i64)
	case kindFloat64:
		return len(c.f64)
	case kindString:
		return len(c.str)
	case kindBinary:
		return len(c.bin)
	case kindTime:
		return len(c.times.tm)
	}
	return -1
}

// Batch is one batch of result rows, stored by column: per column one
// typed slice (bool, int8, int16, int32, int64, float64, string or []byte;
// time.Time for TIMESTAMP and DATE with Operation.SetDecodeTimes) and a
// null bitmap. Reading a fixed-width cell allocates nothing.
//
// A Batch is read-only and stays valid after the next fetch. The strings
// of a batch share a few buffers (of at most 64 KiB when read from a
// buffered connection, one per column otherwise; not one allocation per
// cell): a string kept long keeps its buffer alive, so clone
// (strings.Clone) the few values kept beyond the batch. The column
// and row indexes given to its accessors must be in range (as for a
// slice); an accessor that does not match the column's type panics, like
// a failed type assertion. Check [Batch.Column] first when the type is
// not known.
type Batch struct {
	cols []colData
	meta []Column
	n    int
	text []string // beeswax rows as sent, with Options.BeeswaxText
}

// TextRows returns the rows of a beeswax batch as the coordinator sent
// them (fields separated by tabs, NULL spelled "NULL") when the session
// has Options.BeeswaxText; nil otherwise.
func (b *Batch) TextRows() []string {
	if b == nil {
		return nil
	}
	return b.text
}

// ErrTypeMismatch is the panic value (wrapped) of a typed accessor used on
// a column of another type.
var ErrTypeMismatch = errors.New("conn: accessor does not match the column type")

// Len returns the number of rows.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return b.n
}

// NumColumns returns the number of columns.
func (b *Batch) NumColumns() int {
	if b == nil {
		return 0
	}
	return len(b.cols)
}

// Column returns the metadata of column col.
func (b *Batch) Column(col int) Column { return b.meta[col] }

// IsNull reports whether the cell is NULL.
func (b *Batch) IsNull(col, row int) bool {
	c := &b.cols[col]
	if row < 0 || row >= b.n {
		panic(fmt.Sprintf("conn: row %d out of range [0,%d)", row, b.n))
	}
	if c.kind == kindNone {
		return true
	}
	return isNull(c.nulls, row)
}

func isNull(nulls []byte, row int) bool {
	i := row >> 3
	return i < len(nulls) && nulls[i]&(1<<(row&7)) != 0
}

func (b *Batch) mismatch(col int, want string) {
	panic(fmt.Errorf("%w: column %d (%s %s) read as %s", ErrTypeMismatch, col, b.meta[col].Name, b.meta[col].TypeName, want))
}

// Bool returns a BOOLEAN cell. A NULL cell holds an unspecified value
// (Impala sends false): check IsNull.
func (b *Batch) Bool(col, row int) bool {
	c := &b.cols[col]
	switch c.kind {
	case kindBool:
		return c.bools[row]
	case kindNone:
		return false
	}
	b.mismatch(col, "bool")
	return false
}

// Int64 returns a TINYINT, SMALLINT, INT or BIGINT cell widened to int64.
// A NULL cell holds an unspecified value (Impala sends 0): check IsNull.
func (b *Batch) Int64(col, row int) int64 {
	c := &b.cols[col]
	switch c.kind {
	case kindInt8:
		return int64(c.i8[row])
	case kindInt16:
		return int64(c.i16[row])
	case kindInt32:
		return int64(c.i32[row])
	case kindInt64:
		return c.i64[row]
	case kindNone:
		return 0
	}
	b.mismatch(col, "int64")
	return 0
}

// Float64 returns a FLOAT or DOUBLE cell (a FLOAT is exact in a float64).
// A NULL cell holds an unspecified value: check IsNull.
func (b *Batch) Float64(col, row int) float64 {
	c := &b.cols[col]
	switch c.kind {
	case kindFloat64:
		return c.f64[row]
	case kindNone:
		return 0
	}
	b.mismatch(col, "float64")
	return 0
}

// String returns the text of a DECIMAL, STRING, VARCHAR, CHAR, TIMESTAMP,
// DATE or other textual cell as the coordinator sent it; a BINARY cell is
// converted (one allocation). A NULL cell holds an unspecified value
// (Impala sends ""): check IsNull. For a TIMESTAMP or DATE column decoded
// into times (Operation.SetDecodeTimes) the text was not kept: String
// formats the time ("2006-01-02 15:04:05", with 9 fraction digits when
// the nanoseconds are not 0; "2006-01-02" for a DATE at midnight), one
// allocation, and
// returns the text as sent for a value that is not a timestamp.
func (b *Batch) String(col, row int) string {
	c := &b.cols[col]
	switch c.kind {
	case kindString:
		return c.str[row]
	case kindBinary:
		return string(c.bin[row])
	case kindTime:
		if isNull(c.nulls, row) {
			return ""
		}
		return c.times.text(row, c.typ)
	case kindNone:
		return ""
	}
	b.mismatch(col, "string")
	return ""
}

// Bytes returns a copy of a BINARY or textual cell, the caller's to keep
// and modify (one allocation). Nil when NULL.
func (b *Batch) Bytes(col, row int) []byte {
	c := &b.cols[col]
	switch c.kind {
	case kindBinary:
		if isNull(c.nulls, row) {
			return nil
		}
		return bytes.Clone(c.bin[row])
	case kindString:
		if isNull(c.nulls, row) {
			return nil
		}
		return []byte(c.str[row])
	case kindTime:
		if isNull(c.nulls, row) {
			return nil
		}
		return []byte(c.times.text(row, c.typ))
	case kindNone:
		return nil
	}
	b.mismatch(col, "[]byte")
	return nil
}

// Time returns a TIMESTAMP or DATE cell as a time.Time in UTC (Impala's
// TIMESTAMP has no time zone); the zero Time when NULL. It fails when the
// text is not a timestamp (with the same error as ParseTimestamp, also
// for a column decoded into times).
func (b *Batch) Time(col, row int) (time.Time, error) {
	c := &b.cols[col]
	switch c.kind {
	case kindString:
		if isNull(c.nulls, row) {
			return time.Time{}, nil
		}
		return ParseTimestamp(c.str[row])
	case kindBinary:
		if isNull(c.nulls, row) {
			return time.Time{}, nil
		}
		return ParseTimestamp(string(c.bin[row]))
	case kindTime:
		if isNull(c.nulls, row) {
			return time.Time{}, nil
		}
		if c.times.isBad(row) {
			return ParseTimestamp(c.times.badText(row))
		}
		return c.times.tm[row], nil
	case kindNone:
		return time.Time{}, nil
	}
	b.mismatch(col, "time.Time")
	return time.Time{}, nil
}

// Value returns the cell as its natural Go type: nil for NULL; bool;
// int8, int16, int32, int64 for TINYINT..BIGINT; float32 for FLOAT and
// float64 for DOUBLE; string for DECIMAL (exact text), STRING, VARCHAR,
// CHAR and other types; time.Time (UTC) for TIMESTAMP and DATE; []byte for
// BINARY, a copy that the caller may keep and modify. A TIMESTAMP or DATE
// whose text does not parse is returned as the string. Boxing into an
// interface may allocate; the typed accessors do not.
func (b *Batch) Value(col, row int) any {
	c := &b.cols[col]
	if c.kind == kindNone || isNull(c.nulls, row) {
		return nil
	}
	switch c.kind {
	case kindBool:
		return c.bools[row]
	case kindInt8:
		return c.i8[row]
	case kindInt16:
		return c.i16[row]
	case kindInt32:
		return c.i32[row]
	case kindInt64:
		return c.i64[row]
	case kindFloat64:
		if c.typ == TypeFloat {
			return float32(c.f64[row])
		}
		return c.f64[row]
	case kindString:
		s := c.str[row]
		switch c.typ {
		case TypeTimestamp, TypeDate:
			if t, err := ParseTimestamp(s); err == nil {
				return t
			}
		case TypeBinary:
			return []byte(s)
		}
		return s
	case kindBinary:
		p := c.bin[row]
		switch c.typ {
		case TypeBinary:
			return bytes.Clone(p)
		case TypeTimestamp, TypeDate:
			if t, err := ParseTimestamp(string(p)); err == nil {
				return t
			}
		}
		return string(p)
	case kindTime:
		if c.times.isBad(row) {
			return c.times.badText(row)
		}
		return c.times.tm[row]
	}
	return nil
}

// Nulls returns column col's null bitmap: bit r%8 of byte r/8 set means
// row r is NULL; the bitmap may be shorter than Len()/8 when the last rows
// are not NULL. Not a copy: do not modify it.
func (b *Batch) Nulls(col int) []byte { return b.cols[col].nulls }

// Bools returns the values of a BOOLEAN column, or nil for another type
// (NULL cells hold unspecified values: see Nulls). Not a copy.
func (b *Batch) Bools(col int) []bool { return b.cols[col].bools }

// Int8s returns the values of a TINYINT column, or nil. Not a copy.
func (b *Batch) Int8s(col int) []int8 { return b.cols[col].i8 }

// Int16s returns the values of a SMALLINT column, or nil. Not a copy.
func (b *Batch) Int16s(col int) []int16 { return b.cols[col].i16 }

// Int32s returns the values of an INT column, or nil. Not a copy.
func (b *Batch) Int32s(col int) []int32 { return b.cols[col].i32 }

// Int64s returns the values of a BIGINT column, or nil. Not a copy.
func (b *Batch) Int64s(col int) []int64 { return b.cols[col].i64 }

// Float64s returns the values of a FLOAT or DOUBLE column, or nil. Not a
// copy.
func (b *Batch) Float64s(col int) []float64 { return b.cols[col].f64 }

// Strings returns the values of a textual column (DECIMAL, STRING,
// VARCHAR, CHAR, TIMESTAMP, DATE, ...) when the coordinator sent them as
// strings, or nil; nil for a TIMESTAMP or DATE column decoded into times
// (see Operation.SetDecodeTimes and Times). Not a copy.
func (b *Batch) Strings(col int) []string { return b.cols[col].str }

// Binaries returns the values of a column the coordinator sent as binary
// (BINARY), or nil; nil for a TIMESTAMP or DATE column decoded into times.
// Not a copy: do not modify them (Bytes and Value return copies). They
// share no memory with the batch's strings.
func (b *Batch) Binaries(col int) [][]byte { return b.cols[col].bin }

// ErrBadTimestamp is wrapped by ParseTimestamp's errors.
var ErrBadTimestamp = errors.New("conn: not an Impala timestamp")

// ParseTimestamp parses Impala's text form of a TIMESTAMP or DATE,
// "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DD HH:MM:SS.fffffffff"
// (1 to 9 fraction digits; 'T' is accepted for the space), as a time in
// UTC. It does not allocate on success.
func ParseTimestamp(s string) (time.Time, error) {
	if t, ok := parseTimestamp(s); ok {
		return t, nil
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return time.Time{}, fmt.Errorf("%w: %q", ErrBadTimestamp, s)
}

// parseTimestamp is ParseTimestamp without the error: ok is false when s
// is not a timestamp. It neither allocates nor keeps s, which may be the
// bytes of a reply's buffer (a []byte) as well as a string.
func parseTimestamp[S string | []byte](s S) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec int
	if len(s) > 10 {
		if len(s) < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
			return time.Time{}, false
		}
		var ok4, ok5, ok6 bool
		hour, ok4 = digits(s[11:13])
		minute, ok5 = digits(s[14:16])
		sec, ok6 = digits(s[17:19])
		if !ok4 || !ok5 || !ok6 || hour > 23 || minute > 59 || sec > 59 {
			return time.Time{}, false
		}
		if len(s) > 19 {
			f := s[20:]
			if s[19] != '.' || len(f) == 0 || len(f) > 9 {
				return time.Time{}, false
			}
			n, ok := digits(f)
			if !ok {
				return time.Time{}, false
			}
			for i := len(f); i < 9; i++ {
				n *= 10
			}
			nsec = n
		}
	}
	// What time.Date gives for these (valid) fields, computed directly.
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(secs, int64(nsec)).UTC(), true
}

// daysFromCivil returns the day of the Unix epoch (0 for 1970-01-01) of a
// valid proleptic Gregorian date.
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400 // [0, 399]
	m := int64(month) - 3
	if month <= 2 {
		m = int64(month) + 9
	}
	doy := (153*m+2)/5 + int64(day) - 1 // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func digits[S string | []byte](s S) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
