package conn

import (
	"fmt"
	"strconv"
	"strings"
)

// beeswaxNull is how beeswax spells NULL in its text rows.
const beeswaxNull = "NULL"

// decodeTextRows turns beeswax rows (one string a row, fields separated by
// delim) into a Batch typed through the result metadata, giving the same
// Go values as HS2 for everything text can carry. Strings are substrings
// of the row (no copy). Limits of the format, documented in the package
// doc: a string holding the delimiter or a newline cannot be split
// correctly (the row then has too many fields and decoding fails), and a
// string equal to "NULL" reads as NULL. budget bounds the memory the
// batch's slices take (Options.MaxReplyMemory): a hostile schema of many
// columns would otherwise turn each row into as many values.
func decodeTextRows(rows []string, meta []Column, delim string, budget int) (*Batch, error) {
	if delim == "" {
		delim = "\t"
	}
	n := len(rows)
	if err := textBudget(rows, meta, budget); err != nil {
		return nil, err
	}
	b := &Batch{meta: meta, n: n, cols: make([]colData, len(meta))}
	if len(meta) == 0 {
		if n > 0 {
			for _, r := range rows {
				if r != "" {
					return nil, fmt.Errorf("%w: %d rows with data but no columns in the metadata", ErrBadRowSet, n)
				}
			}
		}
		b.n = 0
		return b, nil
	}
	initTextColumns(b.cols, meta, n)
	for r, row := range rows {
		rest := row
		for i, m := range meta {
			var f string
			if i == len(b.cols)-1 {
				f, rest = rest, ""
				if strings.Contains(f, delim) {
					return nil, fmt.Errorf("%w: row %d has more than %d fields (a value holding a tab or newline cannot travel over beeswax)", ErrBadRowSet, r, len(b.cols))
				}
			} else {
				j := strings.Index(rest, delim)
				if j < 0 {
					return nil, fmt.Errorf("%w: row %d has %d fields, the metadata %d", ErrBadRowSet, r, i+1, len(b.cols))
				}
				f, rest = rest[:j], rest[j+len(delim):]
			}
			if err := setText(&b.cols[i], r, f); err != nil {
				return nil, fmt.Errorf("%w: row %d column %d (%s %s): %w", ErrBadRowSet, r, i, m.Name, m.TypeName, err)
			}
		}
	}
	return b, nil
}

// initTextColumns sets up cols[i] for the text of column meta[i] (TypeOther
// is kept as a string): its kind, and its values and null bitmap for n
// rows, all zero.
func initTextColumns(cols []colData, meta []Column, n int) {
	for i, m := range meta {
		c := &cols[i]
		c.typ = m.Type
		c.kind = wantKind(c.typ)
		if c.typ == TypeOther {
			c.kind = kindString
		}
		switch c.kind {
		case kindBool:
			c.bools = make([]bool, n)
		case kindInt8:
			c.i8 = make([]int8, n)
		case kindInt16:
			c.i16 = make([]int16, n)
		case kindInt32:
			c.i32 = make([]int32, n)
		case kindInt64:
			c.i64 = make([]int64, n)
		case kindFloat64:
			c.f64 = make([]float64, n)
		case kindString:
			c.str = make([]string, n)
		case kindBinary:
			c.bin = make([][]byte, n)
		}
		if c.kind != kindNone {
			c.nulls = make([]byte, (n+7)/8)
		}
	}
}

// textBudget checks that the slices decodeTextRows makes for rows fit in
// budget bytes: per cell its value's Go size and a bit of null bitmap,
// and for BINARY columns a copy of the bytes (at most the rows' text).
func textBudget(rows []string, meta []Column, budget int) error {
	b := replyBudget{limit: budget, left: budget}
	perRow := 0
	binary := false
	for _, c := range meta {
		k := wantKind(c.Type)
		if c.Type == TypeOther {
			k = kindString
		}
		perRow += kindCost(k) + 1
		binary = binary || k == kindBinary
	}
	tooLarge := func() error {
		return fmt.Errorf("%w: %d rows of %d columns would hold more than %d bytes of memory (Options.MaxReplyMemory; max_reply_memory in a DSN)",
			ErrReplyTooLarge, len(rows), len(meta), budget)
	}
	if b.takeN(len(rows), perRow) != nil {
		return tooLarge()
	}
	if binary {
		for _, r := range rows {
			if b.take(len(r)) != nil {
				return tooLarge()
			}
		}
	}
	return nil
}

// kindCost is the Go size of one value of kind k.
func kindCost(k kind) int {
	switch k {
	case kindBool, kindInt8:
		return 1
	case kindInt16:
		return 2
	case kindInt32:
		return 4
	case kindInt64, kindFloat64:
		return 8
	case kindString:
		return costString
	case kindBinary:
		return costSlice
	case kindTime:
		return costTime
	}
	return 0
}

func setText(c *colData, r int, f string) error {
	if c.kind == kindNone {
		return nil
	}
	if f == beeswaxNull {
		c.nulls[r>>3] |= 1 << (r & 7)
		return nil
	}
	switch c.kind {
	case kindBool:
		switch f {
		case "true", "1":
			c.bools[r] = true
		case "false", "0":
		default:
			return fmt.Errorf("not a boolean: %q", clip(f))
		}
	case kindInt8, kindInt16, kindInt32, kindInt64:
		bits := 64
		switch c.kind {
		case kindInt8:
			bits = 8
		case kindInt16:
			bits = 16
		case kindInt32:
			bits = 32
		}
		v, err := strconv.ParseInt(f, 10, bits)
		if err != nil {
			return fmt.Errorf("not a %d-bit integer: %q", bits, clip(f))
		}
		switch c.kind {
		case kindInt8:
			c.i8[r] = int8(v)
		case kindInt16:
			c.i16[r] = int16(v)
		case kindInt32:
			c.i32[r] = int32(v)
		default:
			c.i64[r] = v
		}
	case kindFloat64:
		bits := 64
		if c.typ == TypeFloat {
			bits = 32
		}
		v, err := strconv.ParseFloat(f, bits)
		if err != nil {
			return fmt.Errorf("not a number: %q", clip(f))
		}
		c.f64[r] = v
	case kindString:
		c.str[r] = f
	case kindBinary:
		c.bin[r] = []byte(f)
	}
	return nil
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
