package impalalb

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// A small lexer of Impala SQL, written from the rules of Impala's
// sql-scanner.flex independently of the scanner in interpolate.go, and
// the string unescaping Impala applies (its StringLiteral normalisation,
// then Hive's unescapeSQLString). The tests use it as the oracle: what
// Impala would see in an interpolated statement.

type token struct {
	kind string // "string", "ident" (also keywords and numbers), "quoted" (backticks), "punct"
	text string // unescaped content for "string"
}

var (
	lexWhitespace = regexp.MustCompile(`^[ \t\f\r\n]+`)
	lexLineCmt    = regexp.MustCompile(`^--[^\r\n]*(\r\n|\r|\n)?`)
	// "/*" [^*] ~"*/"  |  "/*" "*"+ "/"
	lexBlockCmt = regexp.MustCompile(`^(?s:/\*[^*].*?\*/|/\*\*+/)`)
	// '(\\.|[^\\'])*' where JFlex's '.' excludes line terminators.
	lexSingle = regexp.MustCompile(`^'(?:\\[^\n\r\x{0B}\x{0C}\x{85}\x{2028}\x{2029}]|[^\\'])*'`)
	lexDouble = regexp.MustCompile(`^"(?:\\[^\n\r\x{0B}\x{0C}\x{85}\x{2028}\x{2029}]|[^\\"])*"`)
	lexBack   = regexp.MustCompile("^`(?:\\\\[^\\n\\r\\x{0B}\\x{0C}\\x{85}\\x{2028}\\x{2029}]|[^\\\\`])*`")
	lexWord   = regexp.MustCompile(`^[\p{L}\p{N}\p{Sc}\p{Pc}.]+`)
)

var errUnmatched = errors.New("unmatched quote")

func impalaLex(s string) ([]token, error) {
	var toks []token
	for len(s) > 0 {
		if m := lexWhitespace.FindString(s); m != "" {
			s = s[len(m):]
			continue
		}
		if m := lexLineCmt.FindString(s); m != "" {
			s = s[len(m):]
			continue
		}
		if m := lexBlockCmt.FindString(s); m != "" {
			s = s[len(m):]
			continue
		}
		if m := lexSingle.FindString(s); m != "" {
			toks = append(toks, token{"string", impalaUnescape(m[1 : len(m)-1])})
			s = s[len(m):]
			continue
		}
		if m := lexDouble.FindString(s); m != "" {
			toks = append(toks, token{"string", impalaUnescape(m[1 : len(m)-1])})
			s = s[len(m):]
			continue
		}
		if m := lexBack.FindString(s); m != "" {
			toks = append(toks, token{"quoted", m[1 : len(m)-1]})
			s = s[len(m):]
			continue
		}
		if s[0] == '\'' || s[0] == '"' || s[0] == '`' {
			return nil, errUnmatched
		}
		if m := lexWord.FindString(s); m != "" {
			toks = append(toks, token{"ident", m})
			s = s[len(m):]
			continue
		}
		_, size := utf8.DecodeRuneInString(s)
		toks = append(toks, token{"punct", s[:size]})
		s = s[size:]
	}
	return toks, nil
}

// impalaUnescape is what Impala makes of the text between the quotes of a
// string literal: StringLiteral.getNormalizedValue, then Hive's
// unescapeSQLString on the normalised text in single quotes, both on
// UTF-16 code units as in Java.
func impalaUnescape(raw string) string {
	u := utf16.Encode([]rune(raw))
	var n []uint16
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '\\' && i+1 < len(u):
			next := u[i+1]
			if next == '"' || next == '\'' || next == '\\' {
				if next != '"' {
					n = append(n, c)
				}
				n = append(n, next)
				i++
				continue
			}
			n = append(n, c)
		case c == '\'':
			n = append(n, '\\', '\'')
		default:
			n = append(n, c)
		}
	}

	b := append(append([]uint16{'\''}, n...), '\'')
	var out []uint16
	var enclosure uint16
	for i := 0; i < len(b); i++ {
		c := b[i]
		if enclosure == 0 {
			if c == '\'' || c == '"' {
				enclosure = c
			}
			continue
		}
		if c == enclosure {
			enclosure = 0
			continue
		}
		if c == '\\' && i+6 < len(b) && b[i+1] == 'u' {
			code := 0
			for j := 0; j < 4; j++ {
				code = code<<4 + hexVal(b[i+2+j])
			}
			out = append(out, uint16(code))
			i += 5
			continue
		}
		if c == '\\' && i+4 < len(b) {
			i1, i2, i3 := b[i+1], b[i+2], b[i+3]
			if i1 >= '0' && i1 <= '1' && i2 >= '0' && i2 <= '7' && i3 >= '0' && i3 <= '7' {
				out = append(out, (i1-'0')*64+(i2-'0')*8+(i3-'0'))
				i += 3
				continue
			}
		}
		if c == '\\' && i+2 < len(b) {
			switch next := b[i+1]; next {
			case '0':
				out = append(out, 0)
			case 'b':
				out = append(out, '\b')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'Z':
				out = append(out, 0x1a)
			case '%', '_':
				out = append(out, '\\', next)
			default:
				out = append(out, next)
			}
			i++
			continue
		}
		out = append(out, c)
	}
	return string(utf16.Decode(out))
}

func hexVal(c uint16) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func TestImpalaLexOracle(t *testing.T) {
	toks, err := impalaLex("SELECT 'a\\'b', \"x\\\"y\", `c d` -- ?\n/* ' */ /**/ 1 /** 'z' */")
	require.NoError(t, err)
	require.Equal(t, []token{
		{"ident", "SELECT"}, {"string", "a'b"}, {"punct", ","}, {"string", `x"y`}, {"punct", ","},
		{"quoted", "c d"}, {"ident", "1"}, {"punct", "/"}, {"punct", "*"}, {"punct", "*"},
		{"string", "z"}, {"punct", "*"}, {"punct", "/"},
	}, toks)
	require.Equal(t, "\x00\n\\%a\x1a", impalaUnescape(`\0\n\%\a\Z`))
	require.Equal(t, "\x001", impalaUnescape(`\0001`))
	require.Equal(t, "A", impalaUnescape(`\u0041`))
	_, err = impalaLex("'abc")
	require.ErrorIs(t, err, errUnmatched)
	_, err = impalaLex("'a\\\nb'")
	require.ErrorIs(t, err, errUnmatched)
}

func pos(vals ...any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

type valuer struct {
	v   driver.Value
	err error
}

func (v valuer) Value() (driver.Value, error) { return v.v, v.err }

type ptrValuer struct{ s string }

func (p *ptrValuer) Value() (driver.Value, error) {
	if p == nil {
		return "nil receiver", nil
	}
	return p.s, nil
}

type loopValuer struct{}

func (loopValuer) Value() (driver.Value, error) { return loopValuer{}, nil }

type (
	myInt   int16
	myUint  uint8
	myStr   string
	myBytes []byte
	myBool  bool
	myF32   float32
	myF64   float64
)

func TestInterpolateValues(t *testing.T) {
	i := 7
	var nilInt *int
	var nilValuer *valuer
	var nilPtrValuer *ptrValuer
	ts := time.Date(2024, 2, 29, 13, 4, 5, 120000000, time.FixedZone("X", 3600))
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "NULL"},
		{"true", true, "TRUE"},
		{"false", false, "FALSE"},
		{"int", -42, "-42"},
		{"int8", int8(math.MinInt8), "-128"},
		{"int16", int16(math.MaxInt16), "32767"},
		{"int32", int32(math.MinInt32), "-2147483648"},
		{"int64", int64(math.MinInt64), "-9223372036854775808"},
		{"uint", uint(1), "1"},
		{"uint8", uint8(255), "255"},
		{"uint16", uint16(65535), "65535"},
		{"uint32", uint32(math.MaxUint32), "4294967295"},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615"},
		{"float64", 1.5, "CAST(1.5 AS DOUBLE)"},
		{"float64 exp", 1e300, "CAST(1e+300 AS DOUBLE)"},
		{"float64 tiny", -5e-324, "CAST(-5e-324 AS DOUBLE)"},
		{"float64 third", 1.0 / 3, "CAST(0.3333333333333333 AS DOUBLE)"},
		{"float32", float32(0.1), "CAST(0.1 AS FLOAT)"},
		{"nan", math.NaN(), "CAST('nan' AS DOUBLE)"},
		{"inf", math.Inf(1), "CAST('inf' AS DOUBLE)"},
		{"-inf", math.Inf(-1), "CAST('-inf' AS DOUBLE)"},
		{"float32 nan", float32(math.NaN()), "CAST('nan' AS FLOAT)"},
		{"float32 -inf", float32(math.Inf(-1)), "CAST('-inf' AS FLOAT)"},
		{"string", "it's", `'it\'s'`},
		{"empty string", "", "''"},
		{"escapes", "a\\b\n\r\t\x00\x1a\x7f\x01\"`?--/*", `'a\\b\n\r\t\000\032\177\001"` + "`?--/*'"},
		{"nul digit", "\x0012", `'\00012'`},
		{"unicode", "héllo ☃ 😀 \u2028", "'héllo ☃ 😀 \u2028'"},
		{"invalid utf8", "a\xffb", "unhex('61FF62')"},
		{"bytes", []byte{0, 1, 0xab}, "unhex('0001AB')"},
		{"empty bytes", []byte{}, "unhex('')"},
		{"nil bytes", []byte(nil), "NULL"},
		{"time", ts, "CAST('2024-02-29 12:04:05.12' AS TIMESTAMP)"},
		{"time whole", time.Date(1400, 1, 1, 0, 0, 0, 0, time.UTC), "CAST('1400-01-01 00:00:00' AS TIMESTAMP)"},
		{"time nanos", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "CAST('9999-12-31 23:59:59.999999999' AS TIMESTAMP)"},
		{"*time", &ts, "CAST('2024-02-29 12:04:05.12' AS TIMESTAMP)"},
		{"nil *time", (*time.Time)(nil), "NULL"},
		{"date", Date{2024, 2, 29}, "CAST('2024-02-29' AS DATE)"},
		{"date min", Date{1, 1, 1}, "CAST('0001-01-01' AS DATE)"},
		{"*date", &Date{9999, 12, 31}, "CAST('9999-12-31' AS DATE)"},
		{"nil *date", (*Date)(nil), "NULL"},
		{"valuer", valuer{v: "x'y"}, `'x\'y'`},
		{"valuer nil", valuer{}, "NULL"},
		{"nil ptr to value-receiver valuer", nilValuer, "NULL"},
		{"nil ptr to pointer-receiver valuer", nilPtrValuer, "'nil receiver'"},
		{"ptr valuer", &ptrValuer{"p"}, "'p'"},
		{"sql.NullString", sql.NullString{}, "NULL"},
		{"sql.NullInt64", sql.NullInt64{Int64: -3, Valid: true}, "-3"},
		{"sql.NullTime", sql.NullTime{Time: ts, Valid: true}, "CAST('2024-02-29 12:04:05.12' AS TIMESTAMP)"},
		{"*int", &i, "7"},
		{"nil *int", nilInt, "NULL"},
		{"myInt", myInt(-9), "-9"},
		{"myUint", myUint(9), "9"},
		{"myStr", myStr("a'"), `'a\''`},
		{"myBytes", myBytes("A"), "unhex('41')"},
		{"nil myBytes", myBytes(nil), "NULL"},
		{"myBool", myBool(true), "TRUE"},
		{"myF32", myF32(2.5), "CAST(2.5 AS FLOAT)"},
		{"myF64", myF64(2.5), "CAST(2.5 AS DOUBLE)"},
		{"uintptr", uintptr(3), "3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Interpolate("SELECT ?", pos(tc.v))
			require.NoError(t, err)
			require.Equal(t, "SELECT "+tc.want, got)

			// The same through checkNamedValue, as database/sql would.
			nv := driver.NamedValue{Ordinal: 1, Value: tc.v}
			require.NoError(t, checkNamedValue(&nv))
			got2, err := Interpolate("SELECT ?", []driver.NamedValue{nv})
			require.NoError(t, err)
			require.Equal(t, got, got2)
		})
	}
}

func TestInterpolatePlaceholders(t *testing.T) {
	cases := []struct {
		name, query string
		args        []driver.NamedValue
		want        string
	}{
		{"none", "SELECT 1", nil, "SELECT 1"},
		{"no args but quote", "SELECT 'it''s'", nil, "SELECT 'it''s'"},
		{"positional", "SELECT ?, ?", pos(1, "a"), "SELECT 1, 'a'"},
		{"adjacent", "SELECT ?+?", pos(1, 2), "SELECT 1+2"},
		{"named", "SELECT @a, @b_2, @a", []driver.NamedValue{{Name: "a", Ordinal: 1, Value: 1}, {Name: "b_2", Ordinal: 2, Value: "x"}}, "SELECT 1, 'x', 1"},
		{"mixed", "SELECT ?, @n, ?", []driver.NamedValue{{Ordinal: 1, Value: 1}, {Name: "n", Ordinal: 2, Value: 2}, {Ordinal: 3, Value: 3}}, "SELECT 1, 2, 3"},
		{"at not a name", "SELECT @ 1, @1, a@", pos(), "SELECT @ 1, @1, a@"},
		{"in single quotes", "SELECT '?', '@a', ?", pos(1), "SELECT '?', '@a', 1"},
		{"escaped quote", `SELECT 'it\'s ?', ?`, pos(1), `SELECT 'it\'s ?', 1`},
		{"backslash at end", `SELECT '\\', ?`, pos(1), `SELECT '\\', 1`},
		{"in double quotes", `SELECT "?\"?", ?`, pos(1), `SELECT "?\"?", 1`},
		{"quote kinds", `SELECT "'?", '"?', ?`, pos(1), `SELECT "'?", '"?', 1`},
		{"backticks", "SELECT `a?b`, ?", pos(1), "SELECT `a?b`, 1"},
		{"line comment", "SELECT ? -- ? 'x\n, ?", pos(1, 2), "SELECT 1 -- ? 'x\n, 2"},
		{"line comment cr", "SELECT 1 -- ?\r?", pos(2), "SELECT 1 -- ?\r2"},
		{"line comment crlf", "SELECT 1 -- ?\r\n?", pos(2), "SELECT 1 -- ?\r\n2"},
		{"line comment at end", "SELECT ? -- ?", pos(1), "SELECT 1 -- ?"},
		{"block comment", "SELECT /* ? ' */ ?", pos(1), "SELECT /* ? ' */ 1"},
		{"hint comment", "SELECT /* +straight_join */ ?", pos(1), "SELECT /* +straight_join */ 1"},
		{"block comment slash", "SELECT /*/ ? */ ?", pos(1), "SELECT /*/ ? */ 1"},
		{"empty block comment", "SELECT /**/ ?", pos(1), "SELECT /**/ 1"},
		{"stars comment", "SELECT /***/ ?", pos(1), "SELECT /***/ 1"},
		// Impala's lexer does not take "/** x */" as a comment.
		{"not a comment", "SELECT 1 /** ? */", pos(2), "SELECT 1 /** 2 */"},
		{"unterminated comment", "SELECT ? /* ?", pos(1, 2), "SELECT 1 /* 2"},
		{"divide", "SELECT 4/?", pos(2), "SELECT 4/2"},
		{"minus", "SELECT 1-?, 1 - ?, -?", pos(-1, -2, 3), "SELECT 1- -1, 1 - -2, -3"},
		{"minus float", "SELECT 1-?", pos(-1.5), "SELECT 1-CAST(-1.5 AS DOUBLE)"},
		{"struct type colon", "CREATE TABLE t (s STRUCT<f:INT>) LOCATION ?", pos("/p"), "CREATE TABLE t (s STRUCT<f:INT>) LOCATION '/p'"},
		{"utf8 around", "SELECT 'é?', ☃?", pos(1), "SELECT 'é?', ☃1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Interpolate(tc.query, tc.args)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestInterpolateErrors(t *testing.T) {
	many := make([]any, 20)
	cases := []struct {
		name, query string
		args        []driver.NamedValue
		want        string
	}{
		{"too few", "SELECT ?, ?", pos(1), "placeholder 2 ('?' at byte 10) has no argument"},
		{"none given", "SELECT ?", nil, "placeholder 1 ('?' at byte 7) has no argument"},
		{"too many", "SELECT ?", pos(1, 2), "argument 2 is not used: 2 arguments for 1 placeholders"},
		{"too many of many", "SELECT 1", pos(many...), "argument 1 is not used: 20 arguments for 0 placeholders"},
		{"unknown name", "SELECT @x", pos(), `placeholder 1 (@x at byte 7) has no argument named "x"`},
		{"named not positional", "SELECT ?", []driver.NamedValue{{Name: "a", Ordinal: 1, Value: 1}}, "placeholder 1 ('?' at byte 7) has no argument"},
		{"unused name", "SELECT ?", []driver.NamedValue{{Ordinal: 1, Value: 1}, {Name: "b", Ordinal: 2, Value: 2}}, "argument @b is not used"},
		{"no ordinal", "SELECT 1", []driver.NamedValue{{Value: 1}}, "argument 1 is not used"},
		{"unterminated string", "SELECT 'abc ?", pos(1), "unterminated string literal at byte 7"},
		{"unterminated double", `SELECT ?, "abc\"`, pos(1), "unterminated string literal at byte 10"},
		{"unterminated backtick", "SELECT ?, `a", pos(1), "unterminated quoted identifier at byte 10"},
		{"trailing backslash", `SELECT ?, 'a\`, pos(1), "unterminated string literal"},
		{"backslash newline", "SELECT 'a\\\nb' ?", pos(1), "backslash before a line break in the string literal at byte 7"},
		{"backslash u2028", "SELECT `a\\\u2028b` ?", pos(1), "backslash before a line break in the quoted identifier"},
		{"unsupported", "SELECT ?", pos(struct{}{}), "argument 1: unsupported type struct {}"},
		{"unsupported slice", "SELECT ?", pos([]int{1}), "unsupported type []int"},
		{"named unsupported", "SELECT @v", []driver.NamedValue{{Name: "v", Ordinal: 1, Value: map[string]int{}}}, "argument @v: unsupported type"},
		{"time too early", "SELECT ?", pos(time.Time{}), "TIMESTAMP range"},
		{"time too late", "SELECT ?", pos(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), "TIMESTAMP range"},
		{"time early after UTC", "SELECT ?", pos(time.Date(1400, 1, 1, 0, 30, 0, 0, time.FixedZone("E", 3600))), "TIMESTAMP range"},
		{"bad date", "SELECT ?", pos(Date{2023, 2, 29}), "Date out of range"},
		{"date year 0", "SELECT ?", pos(Date{0, 1, 1}), "Date out of range"},
		{"valuer error", "SELECT ?", pos(valuer{err: errors.New("boom")}), "impalalb.valuer.Value: boom"},
		{"valuer loop", "SELECT ?", pos(loopValuer{}), "nested too deeply"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Interpolate(tc.query, tc.args)
			require.Error(t, err)
			require.Empty(t, got)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "impalalb: interpolate: "), err.Error())
		})
	}

	// Values never show in errors.
	_, err := Interpolate("SELECT ?, ?", pos("Sup3r-Secr3t-Value", struct{ X string }{"Sup3r-Secr3t-Value"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "Secr3t")

	// A Valuer's error is wrapped.
	boom := errors.New("boom")
	_, err = Interpolate("SELECT ?", pos(valuer{err: boom}))
	require.ErrorIs(t, err, boom)
}

func TestCheckNamedValue(t *testing.T) {
	keep := []any{nil, true, 1, int8(1), int16(1), int32(1), int64(1), uint(1), uint8(1), uint16(1),
		uint32(1), uint64(math.MaxUint64), float32(1), 1.0, "s", []byte("b"), time.Unix(0, 0), Date{2000, 1, 2}}
	for _, v := range keep {
		nv := driver.NamedValue{Ordinal: 1, Value: v}
		require.NoError(t, checkNamedValue(&nv))
		require.Equal(t, v, nv.Value)
	}
	i := 5
	d := Date{2000, 1, 2}
	ts := time.Unix(0, 0)
	conv := []struct{ in, out any }{
		{&i, 5},
		{(*int)(nil), nil},
		{&d, d},
		{(*Date)(nil), nil},
		{&ts, ts},
		{(*time.Time)(nil), nil},
		{myInt(3), int64(3)},
		{myF32(1.5), float32(1.5)},
		{myStr("x"), "x"},
		{myBytes("x"), []byte("x")},
		{sql.NullString{String: "v", Valid: true}, "v"},
		{sql.NullInt32{}, nil},
		{valuer{v: valuer{v: int64(4)}}, int64(4)},
	}
	for _, c := range conv {
		nv := driver.NamedValue{Ordinal: 1, Value: c.in}
		require.NoError(t, checkNamedValue(&nv), "%T", c.in)
		require.Equal(t, c.out, nv.Value, "%T", c.in)
	}
	for _, bad := range []any{struct{}{}, []string{}, loopValuer{}, valuer{err: errors.New("x")}} {
		nv := driver.NamedValue{Ordinal: 3, Value: bad}
		err := checkNamedValue(&nv)
		require.Error(t, err, "%T", bad)
		require.True(t, strings.HasPrefix(err.Error(), "impalalb: "), err.Error())
	}
}

func TestDate(t *testing.T) {
	d := DateOf(time.Date(2024, 3, 1, 23, 0, 0, 0, time.FixedZone("W", -5*3600)))
	require.Equal(t, Date{2024, 3, 1}, d)
	require.Equal(t, "2024-03-01", d.String())
	require.Equal(t, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), d.Time())
	require.True(t, d.IsValid())
	v, err := d.Value()
	require.NoError(t, err)
	require.Equal(t, "2024-03-01", v)

	require.False(t, Date{2024, 2, 30}.IsValid())
	require.False(t, Date{10000, 1, 1}.IsValid())
	require.False(t, Date{}.IsValid())
	require.Equal(t, "0000-00-00", Date{}.String())
	require.Equal(t, "-0001-01-01", Date{-1, 1, 1}.String())
	_, err = Date{2024, 13, 1}.Value()
	require.Error(t, err)
}

func BenchmarkInterpolate(b *testing.B) {
	q := "SELECT id, name FROM db.customers WHERE region = ? AND created > ? AND score >= ? AND note <> 'n/a?' -- ?\nLIMIT ?"
	args := pos("emea's", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), 0.75, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Interpolate(q, args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInterpolateNoArgs(b *testing.B) {
	q := "SELECT id, name FROM db.customers WHERE region = 'emea' LIMIT 100"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Interpolate(q, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDSN(b *testing.B) {
	dsn := "impala://bob:pw@h1:21050,h2:21050,h3:21050/sales?balance=affinity&auth=ldap&tls=true&ca_cert=/etc/ca.pem&opt.MEM_LIMIT=2g"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDSN(dsn); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleInterpolate() {
	q, err := Interpolate(
		"SELECT * FROM t WHERE name = ? AND day = @day AND note <> '?' -- ?",
		[]driver.NamedValue{
			{Ordinal: 1, Value: "O'Brien\n"},
			{Ordinal: 2, Name: "day", Value: Date{2024, time.March, 1}},
		})
	fmt.Println(q, err)
	// Output:
	// SELECT * FROM t WHERE name = 'O\'Brien\n' AND day = CAST('2024-03-01' AS DATE) AND note <> '?' -- ? <nil>
}
