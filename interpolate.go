package impalalb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/impalalb/impalalb/secret"
)

// Date is a calendar date without a time of day, for Impala's DATE type
// (0001-01-01 to 9999-12-31). As an argument it becomes
// CAST('YYYY-MM-DD' AS DATE).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// IsValid reports whether d is a real date in Impala's DATE range.
func (d Date) IsValid() bool {
	if d.Year < 1 || d.Year > 9999 {
		return false
	}
	return DateOf(d.Time()) == d
}

// String returns d as YYYY-MM-DD.
func (d Date) String() string {
	return string(appendDate(make([]byte, 0, 10), d.Year, d.Month, d.Day))
}

// Value implements driver.Valuer: the date as a "YYYY-MM-DD" string, which
// Impala casts to DATE where one is expected. Interpolate itself writes a
// typed CAST(... AS DATE).
func (d Date) Value() (driver.Value, error) {
	if !d.IsValid() {
		return nil, errors.New("impalalb: invalid Date " + d.String())
	}
	return d.String(), nil
}

// Impala's TIMESTAMP range.
const (
	minTimestampYear = 1400
	maxTimestampYear = 9999
)

// maxValuerDepth bounds Valuers that return Valuers.
const maxValuerDepth = 8

// Interpolate replaces the placeholders of query with SQL literals of
// args, because Impala has no server-side bind parameters.
//
// Placeholders are '?', which takes the next argument without a name, and
// '@name' (name: ASCII letters, digits and underscores, not starting with
// a digit), which takes the argument with that Name (sql.Named), may be
// used several times and is case-sensitive. '@' was chosen over ':name'
// because ':' is part of Impala SQL (STRUCT<f:INT>), while neither '?' nor
// '@' is. Placeholders inside string literals ('...' and "..." with
// backslash escapes), backtick-quoted identifiers, -- comments and /* */
// comments are left alone; these are recognised by the rules of Impala's
// own lexer. A literal or quoted identifier that Impala would not accept
// as one (unterminated, or a backslash before a line break) is an error.
// Every argument must be used, and every placeholder must have one;
// otherwise the error names the placeholder or argument. A statement with
// neither arguments nor '?' or '@' is returned as it is, unchecked.
//
// Values become:
//
//   - nil, a nil pointer, a nil []byte: NULL;
//   - bool: TRUE or FALSE;
//   - every signed and unsigned integer type: its decimal digits (after a
//     '-' in the statement, a negative number gets a space first, so that
//     the two minus signs cannot make a -- comment);
//   - float64: CAST(<shortest exact decimal> AS DOUBLE), float32 the same
//     AS FLOAT; NaN and ±Inf become CAST('nan' AS DOUBLE),
//     CAST('inf' AS DOUBLE), CAST('-inf' AS DOUBLE), which Impala's
//     string-to-float conversion accepts;
//   - string: a single-quoted literal in which backslash and ' are escaped,
//     line feed, carriage return and tab are written \n, \r, \t, and every
//     other control character (NUL, ^Z, DEL, ...) as a three-digit octal
//     escape \ooo; a string that is not valid UTF-8 is written as []byte;
//   - []byte: unhex('<hex digits>') (a STRING; wrap the placeholder in
//     CAST(? AS BINARY) for a BINARY column);
//   - time.Time: CAST('YYYY-MM-DD HH:MM:SS[.fffffffff]' AS TIMESTAMP) of the
//     instant in UTC, years 1400 to 9999 (Impala's TIMESTAMP has no zone;
//     to store the wall clock of another zone, pass
//     t.Format("2006-01-02 15:04:05.999999999") as a string);
//   - [Date]: CAST('YYYY-MM-DD' AS DATE);
//   - a driver.Valuer: its Value, converted as above;
//   - other types whose kind is one of the above (type MyID int64, ...):
//     converted by kind; pointers are followed;
//   - secret.Value: the string it holds; through the driver, the errors of
//     the statement then show it as secret.Redacted (Impala echoes the
//     statement's text in its errors).
//
// For DECIMAL pass a string (Impala casts it) or write CAST(? AS
// DECIMAL(p,s)). Because a string becomes one self-contained literal with
// every quote and backslash escaped, no argument can change the structure
// of the statement. Errors never contain argument values.
func Interpolate(query string, args []driver.NamedValue) (string, error) {
	q, _, err := interpolate(query, args)
	return q, err
}

// interpolate is Interpolate that also returns the texts of its
// secret.Value arguments, to hide from the statement's errors.
func interpolate(query string, args []driver.NamedValue) (string, argSecrets, error) {
	if len(args) == 0 && !strings.ContainsAny(query, "?@") {
		return query, nil, nil
	}
	var hidden argSecrets
	var usedBuf [16]bool
	var used []bool
	if len(args) > len(usedBuf) {
		used = make([]bool, len(args))
	} else {
		used = usedBuf[:len(args)]
	}

	out := make([]byte, 0, len(query)+48*len(args))
	nextPos := 0 // index in args to look for the next unnamed one
	n := 0       // placeholders seen
	start := 0   // query[start:] is not yet copied
	err := placeholders(query, func(at, end int, name string) error {
		n++
		k := argIndex(args, name, &nextPos)
		if k < 0 {
			if name == "" {
				return fmt.Errorf("impalalb: interpolate: placeholder %d ('?' at byte %d) has no argument", n, at)
			}
			return fmt.Errorf("impalalb: interpolate: placeholder %d (@%s at byte %d) has no argument named %q", n, name, at, name)
		}
		out = append(out, query[start:at]...)
		var err error
		if out, err = appendArg(out, args, k, name, &hidden); err != nil {
			return err
		}
		used[k] = true
		start = end
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if err := unusedArg(args, used, n); err != nil {
		return "", nil, err
	}
	out = append(out, query[start:]...)
	return string(out), hidden, nil
}

// argIndex returns the index in args of the argument named name, or for
// name "" of the first unnamed one from *next on, moving *next past it;
// -1 when there is none.
func argIndex(args []driver.NamedValue, name string, next *int) int {
	if name != "" {
		for a := range args {
			if args[a].Name == name {
				return a
			}
		}
		return -1
	}
	k := *next
	for k < len(args) && args[k].Name != "" {
		k++
	}
	if k >= len(args) {
		return -1
	}
	*next = k + 1
	return k
}

// appendArg appends the literal of args[k], the argument of a placeholder
// named name ("" for '?'), and records it in hidden when it is a
// secret.Value. Its error names the argument, never its value.
func appendArg(out []byte, args []driver.NamedValue, k int, name string, hidden *argSecrets) ([]byte, error) {
	lit := len(out)
	out, err := appendLiteral(out, args[k].Value)
	if err != nil {
		if name != "" {
			return out, fmt.Errorf("impalalb: interpolate: argument @%s: %w", name, err)
		}
		return out, fmt.Errorf("impalalb: interpolate: argument %d: %w", ordinal(args, k), err)
	}
	if sv, ok := args[k].Value.(secret.Value); ok {
		hidden.add(string(out[lit:]), sv.Reveal())
	}
	return out, nil
}

// unusedArg reports the first argument no placeholder took (used[k] false),
// nil when every one was; n is the number of placeholders.
func unusedArg(args []driver.NamedValue, used []bool, n int) error {
	for k, u := range used {
		if u {
			continue
		}
		if args[k].Name != "" {
			return fmt.Errorf("impalalb: interpolate: argument @%s is not used by the statement", args[k].Name)
		}
		return fmt.Errorf("impalalb: interpolate: argument %d is not used: %d arguments for %d placeholders", ordinal(args, k), len(args), n)
	}
	return nil
}

// placeholders calls fn for each placeholder of query, in order, with its
// byte offsets and its name ("" for '?'), skipping string literals, quoted
// identifiers and comments as Impala's lexer does. It stops at the first
// error of fn, or of an unterminated literal.
func placeholders(query string, fn func(at, end int, name string) error) error {
	for i := 0; i < len(query); {
		switch query[i] {
		case '\'', '"', '`':
			end, err := skipQuoted(query, i)
			if err != nil {
				return err
			}
			i = end
		case '-':
			if i+1 < len(query) && query[i+1] == '-' {
				i = skipLineComment(query, i+2)
			} else {
				i++
			}
		case '/':
			i = skipBlockComment(query, i)
		case '?':
			if err := fn(i, i+1, ""); err != nil {
				return err
			}
			i++
		case '@':
			j := i + 1
			if j < len(query) && (isLetter(query[j]) || query[j] == '_') {
				for j < len(query) && (isAlnum(query[j]) || query[j] == '_') {
					j++
				}
				if err := fn(i, j, query[i+1:j]); err != nil {
					return err
				}
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

// ordinal is the 1-based position of args[k] for errors.
func ordinal(args []driver.NamedValue, k int) int {
	if args[k].Ordinal > 0 {
		return args[k].Ordinal
	}
	return k + 1
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// skipQuoted returns the index after the string literal or quoted
// identifier that starts at query[i]: (\\.|[^\\q])*q in Impala's lexer,
// where '.' is any character but a line break.
func skipQuoted(query string, i int) (int, error) {
	q := query[i]
	for j := i + 1; j < len(query); {
		switch query[j] {
		case q:
			return j + 1, nil
		case '\\':
			if j+1 >= len(query) {
				return 0, unterminated(q, i)
			}
			r, size := utf8.DecodeRuneInString(query[j+1:])
			if isLineBreak(r) {
				return 0, fmt.Errorf("impalalb: interpolate: backslash before a line break in the %s at byte %d", quotedKind(q), i)
			}
			j += 1 + size
		default:
			j++
		}
	}
	return 0, unterminated(q, i)
}

func unterminated(q byte, i int) error {
	return fmt.Errorf("impalalb: interpolate: unterminated %s at byte %d", quotedKind(q), i)
}

func quotedKind(q byte) string {
	if q == '`' {
		return "quoted identifier"
	}
	return "string literal"
}

// isLineBreak reports the characters that may not follow a backslash in a
// literal: those a JFlex '.' does not match.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// skipLineComment returns the index after the line terminator that ends a
// -- comment whose text starts at i.
func skipLineComment(query string, i int) int {
	for i < len(query) {
		switch query[i] {
		case '\n':
			return i + 1
		case '\r':
			if i+1 < len(query) && query[i+1] == '\n' {
				return i + 2
			}
			return i + 1
		}
		i++
	}
	return i
}

// skipBlockComment handles the '/' at query[i]: Impala's lexer takes
// "/*" [^*] ~"*/" or "/*" "*"+ "/" as a comment, and anything else (an
// unterminated comment included) as a '/' token.
func skipBlockComment(query string, i int) int {
	if i+2 >= len(query) || query[i+1] != '*' {
		return i + 1
	}
	if query[i+2] != '*' {
		if k := strings.Index(query[i+3:], "*/"); k >= 0 {
			return i + 3 + k + 2
		}
		return i + 1
	}
	j := i + 2
	for j < len(query) && query[j] == '*' {
		j++
	}
	if j < len(query) && query[j] == '/' {
		return j + 1
	}
	return i + 1
}

// appendLiteral appends the SQL literal of v. A negative number after a
// '-' gets a space first, so that the two do not make a -- comment.
func appendLiteral(out []byte, v any) ([]byte, error) {
	return appendLiteralDepth(out, v, 0)
}

func appendLiteralDepth(out []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(out, "NULL"...), nil
	case bool:
		if v {
			return append(out, "TRUE"...), nil
		}
		return append(out, "FALSE"...), nil
	case int:
		return appendInt(out, int64(v)), nil
	case int8:
		return appendInt(out, int64(v)), nil
	case int16:
		return appendInt(out, int64(v)), nil
	case int32:
		return appendInt(out, int64(v)), nil
	case int64:
		return appendInt(out, v), nil
	case uint:
		return strconv.AppendUint(out, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(out, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(out, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(out, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(out, v, 10), nil
	case float64:
		return appendFloat(out, v, 64), nil
	case float32:
		return appendFloat(out, float64(v), 32), nil
	case string:
		if !utf8.ValidString(v) {
			return appendUnhex(out, v), nil
		}
		return appendQuoted(out, v), nil
	case secret.Value:
		return appendLiteralDepth(out, v.Reveal(), depth)
	case []byte:
		if v == nil {
			return append(out, "NULL"...), nil
		}
		return appendUnhex(out, v), nil
	case time.Time:
		return appendTimestamp(out, v)
	case *time.Time:
		if v == nil {
			return append(out, "NULL"...), nil
		}
		return appendTimestamp(out, *v)
	case *Date:
		if v == nil {
			return append(out, "NULL"...), nil
		}
		return appendLiteralDepth(out, *v, depth)
	case Date:
		if !v.IsValid() {
			return nil, errors.New("Date out of range or not a real date")
		}
		out = append(out, "CAST('"...)
		out = appendDate(out, v.Year, v.Month, v.Day)
		return append(out, "' AS DATE)"...), nil
	}
	if depth >= maxValuerDepth {
		return nil, errors.New("driver.Valuer nested too deeply")
	}
	n, err := normalizeValue(v)
	if err != nil {
		return nil, err
	}
	return appendLiteralDepth(out, n, depth+1)
}

// normalizeValue turns a value that is not one of the base types of
// appendLiteral into one: a driver.Valuer's Value, a pointer's target (nil
// for a nil pointer), or the base type of a named type. Each call makes
// one step.
func normalizeValue(v any) (any, error) {
	rv := reflect.ValueOf(v)
	if vr, ok := v.(driver.Valuer); ok {
		// As database/sql does: a nil pointer whose Value method has a value
		// receiver is NULL rather than a panic.
		if rv.Kind() == reflect.Pointer && rv.IsNil() && rv.Type().Elem().Implements(valuerType) {
			return nil, nil
		}
		val, err := vr.Value()
		if err != nil {
			return nil, fmt.Errorf("%T.Value: %w", v, err)
		}
		return val, nil
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return rv.Elem().Interface(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint(), nil
	case reflect.Float32:
		return float32(rv.Float()), nil
	case reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.IsNil() {
				return nil, nil
			}
			return rv.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

var valuerType = reflect.TypeFor[driver.Valuer]()

// checkNamedValue is the driver's driver.NamedValueChecker: it accepts
// every type Interpolate handles, keeping them as they are (so int8 stays
// int8, float32 stays float32, Date stays Date), and reduces Valuers,
// pointers and named types to base values.
func checkNamedValue(nv *driver.NamedValue) error {
	for depth := 0; ; depth++ {
		switch nv.Value.(type) {
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
			float32, float64, string, []byte, time.Time, Date, secret.Value:
			return nil
		}
		switch v := nv.Value.(type) {
		case *secret.Value:
			nv.Value = nil
			if v != nil {
				nv.Value = *v
			}
			return nil
		case *time.Time:
			nv.Value = nil
			if v != nil {
				nv.Value = *v
			}
			return nil
		case *Date:
			nv.Value = nil
			if v != nil {
				nv.Value = *v
			}
			return nil
		}
		if depth >= maxValuerDepth {
			return errors.New("impalalb: driver.Valuer nested too deeply")
		}
		v, err := normalizeValue(nv.Value)
		if err != nil {
			return fmt.Errorf("impalalb: argument %d: %w", nv.Ordinal, err)
		}
		nv.Value = v
	}
}

func appendInt(out []byte, v int64) []byte {
	if v < 0 && len(out) > 0 && out[len(out)-1] == '-' {
		out = append(out, ' ')
	}
	return strconv.AppendInt(out, v, 10)
}

func appendFloat(out []byte, v float64, bits int) []byte {
	out = append(out, "CAST("...)
	switch {
	case math.IsNaN(v):
		out = append(out, "'nan'"...)
	case math.IsInf(v, 1):
		out = append(out, "'inf'"...)
	case math.IsInf(v, -1):
		out = append(out, "'-inf'"...)
	default:
		out = strconv.AppendFloat(out, v, 'g', -1, bits)
	}
	if bits == 32 {
		return append(out, " AS FLOAT)"...)
	}
	return append(out, " AS DOUBLE)"...)
}

// appendQuoted appends s (valid UTF-8) as a single-quoted Impala string
// literal. Impala unescapes literals as Hive does: \\, \', \n, \r, \t, and
// \ooo with a first digit of 0 or 1 for one byte; octal escapes always
// have three digits so that a following digit of s cannot join them.
func appendQuoted(out []byte, s string) []byte {
	out = append(out, '\'')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch c {
		case '\\':
			esc = `\\`
		case '\'':
			esc = `\'`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		default:
			if c >= 0x20 && c != 0x7f {
				continue
			}
		}
		out = append(out, s[start:i]...)
		if esc != "" {
			out = append(out, esc...)
		} else {
			out = append(out, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '\'')
}

func appendUnhex[T string | []byte](out []byte, b T) []byte {
	const hex = "0123456789ABCDEF"
	out = append(out, "unhex('"...)
	for i := 0; i < len(b); i++ {
		out = append(out, hex[b[i]>>4], hex[b[i]&15])
	}
	return append(out, "')"...)
}

func appendTimestamp(out []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < minTimestampYear || y > maxTimestampYear {
		return nil, fmt.Errorf("time.Time out of Impala's TIMESTAMP range (years %d to %d)", minTimestampYear, maxTimestampYear)
	}
	out = append(out, "CAST('"...)
	out = t.AppendFormat(out, "2006-01-02 15:04:05.999999999")
	return append(out, "' AS TIMESTAMP)"...), nil
}

func appendDate(out []byte, y int, m time.Month, d int) []byte {
	out = appendPadded(out, y, 4)
	out = append(out, '-')
	out = appendPadded(out, int(m), 2)
	out = append(out, '-')
	return appendPadded(out, d, 2)
}

func appendPadded(out []byte, v, width int) []byte {
	if v < 0 {
		out = append(out, '-')
		v = -v
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for n := len(s); n < width; n++ {
		out = append(out, '0')
	}
	return append(out, s...)
}
