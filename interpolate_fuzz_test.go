package impalalb

import (
	"database/sql/driver"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzInterpolateString checks that any string, as a positional or a named
// argument, and any []byte, becomes exactly one literal whose value, as
// Impala unescapes it, is the argument: nothing of it can leak into the
// statement.
func FuzzInterpolateString(f *testing.F) {
	for _, s := range []string{
		"", "'", `\`, `\'`, "''", `'; DROP TABLE t; --`, "\x00", "\x0012", "\x01\x02", "a\nb\r\tc",
		"\u2028", "\\u0041", `\000`, `\%\_`, "\x1a", "\x7f", "é☃😀", "\xff\xfe", "a\xc3", `"`, "`",
		"/*", "*/", "--", "?", "@v", "\\\n", "\\\u2028",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const q = "SELECT ?, x FROM t WHERE c = @v AND b = ?"
		got, err := Interpolate(q, []driver.NamedValue{
			{Ordinal: 1, Value: s},
			{Ordinal: 2, Name: "v", Value: s},
			{Ordinal: 3, Value: []byte(s)},
		})
		require.NoError(t, err)
		toks, err := impalaLex(got)
		require.NoError(t, err, "%q", got)

		var lit []token
		if utf8.ValidString(s) {
			lit = []token{{"string", s}}
		} else {
			lit = []token{{"ident", "unhex"}, {"punct", "("}, {"string", strings.ToUpper(hex.EncodeToString([]byte(s)))}, {"punct", ")"}}
		}
		bytesLit := []token{{"ident", "unhex"}, {"punct", "("}, {"string", strings.ToUpper(hex.EncodeToString([]byte(s)))}, {"punct", ")"}}
		want := []token{{"ident", "SELECT"}}
		want = append(want, lit...)
		want = append(want, token{"punct", ","}, token{"ident", "x"}, token{"ident", "FROM"}, token{"ident", "t"},
			token{"ident", "WHERE"}, token{"ident", "c"}, token{"punct", "="})
		want = append(want, lit...)
		want = append(want, token{"ident", "AND"}, token{"ident", "b"}, token{"punct", "="})
		want = append(want, bytesLit...)
		require.Equal(t, want, toks, "%q", got)

		b, err := hex.DecodeString(bytesLit[2].text)
		require.NoError(t, err)
		require.Equal(t, s, string(b))
	})
}

// FuzzInterpolateQuery checks, for any statement and any string arguments,
// that the interpolated statement lexes exactly like the same statement
// with a fixed harmless literal in each placeholder, but for those
// literals, which hold the arguments: the arguments change no token of the
// statement around them, whatever the statement's quotes and comments.
func FuzzInterpolateQuery(f *testing.F) {
	for _, q := range []string{
		"SELECT ?", "SELECT ?, @a, ?", "SELECT '?' -- ?\n, ?", "SELECT /* ? */ ?", "SELECT /** ? */ ?",
		"SELECT `?`, \"?\", '\\'?', ?", "SELECT 1-?", "SELECT ?--?\n", "/*/?*/?", "SELECT @a@b?@c",
		"SELECT '\\\\' ?", "SELECT ?/*", "--?\r?", "a?b@c_1 d",
	} {
		f.Add(q, "'; DROP TABLE t; --", `\`)
	}
	f.Fuzz(func(t *testing.T, q, a, b string) {
		if len(q) > 2000 || strings.Contains(q, "__ph__") {
			t.Skip()
		}
		a, b = strings.ToValidUTF8(a, "?"), strings.ToValidUTF8(b, "@")
		// The placeholders, in order, and one value per positional
		// placeholder and per name.
		var order []string // "" for positional, else the name
		err := placeholders(q, func(at, end int, name string) error {
			order = append(order, name)
			return nil
		})
		if err != nil {
			got, err2 := Interpolate(q, nil)
			if strings.ContainsAny(q, "?@") {
				require.Error(t, err2)
			} else {
				// Without placeholders nor arguments the statement is left
				// for Impala to judge.
				require.NoError(t, err2)
				require.Equal(t, q, got)
			}
			return
		}
		var args, marks []driver.NamedValue
		var values []string // value of each placeholder occurrence
		named := map[string]string{}
		for _, name := range order {
			if name != "" {
				if _, ok := named[name]; !ok {
					v := b + strconv.Itoa(len(named))
					named[name] = v
					args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Name: name, Value: v})
					marks = append(marks, driver.NamedValue{Ordinal: len(marks) + 1, Name: name, Value: "__ph__"})
				}
				values = append(values, named[name])
				continue
			}
			v := a + strconv.Itoa(len(values))
			args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			marks = append(marks, driver.NamedValue{Ordinal: len(marks) + 1, Value: "__ph__"})
			values = append(values, v)
		}

		got, err := Interpolate(q, args)
		require.NoError(t, err)
		ref, err := Interpolate(q, marks)
		require.NoError(t, err)
		if len(order) == 0 {
			require.Equal(t, q, got)
		}

		refToks, err := impalaLex(ref)
		if err != nil {
			// Impala would reject the statement with or without arguments.
			_, err = impalaLex(got)
			require.Error(t, err, "%q", got)
			return
		}
		gotToks, err := impalaLex(got)
		require.NoError(t, err, "%q", got)
		require.Equal(t, len(refToks), len(gotToks), "ref %q got %q", ref, got)
		k := 0
		for i := range refToks {
			if refToks[i] == (token{"string", "__ph__"}) {
				require.Less(t, k, len(values))
				require.Equal(t, token{"string", values[k]}, gotToks[i], "ref %q got %q", ref, got)
				k++
				continue
			}
			require.Equal(t, refToks[i], gotToks[i], "ref %q got %q", ref, got)
		}
		require.Equal(t, len(values), k, "ref %q got %q", ref, got)
	})
}
