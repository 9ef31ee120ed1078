package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"select ${var:a}", `\${var:a}`, "${b}", "${", "${}", "${var:a}${hivevar:A}", "${var:a${var:a}}"} {
		f.Add(s)
	}
	vs := variables{"A": "x"}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := vs.substitute(s)
		if err != nil {
			require.Equal(t, s, got, "a failed substitution returns the input")
			return
		}
		if !strings.Contains(s, "${") {
			require.Equal(t, s, got)
		}
		// Every reference was to A, whose value holds no '$'.
		require.LessOrEqual(t, strings.Count(got, "${"), strings.Count(s, "${"))
	})
}

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{"[impala]\nB=true\n", "x=1", "[a]\n k\n", "[impala]\nq: a\n  b\n\n;c\n", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := parseINI("rc", s)
		if err != nil {
			require.Contains(t, err.Error(), "config file rc, line ")
			return
		}
		lines := strings.Count(s, "\n") + 1
		for _, e := range entries {
			require.NotEmpty(t, e.section)
			require.NotEmpty(t, e.key)
			require.True(t, e.line >= 1 && e.line <= lines)
		}
	})
}

// FuzzSplitSQL: the lexer loses nothing, and the statements are the input's
// pieces in order, each with its ';' outside quotes and comments.
func FuzzSplitSQL(f *testing.F) {
	for _, s := range []string{"select 1; select 2", "select ';' -- c;\n; /* ; */ x", "'a\\'; b' ; `c;d`", "$$a;b$$; [x;y]",
		"create procedure p begin select 1; end; select 2;", "select (1; 2); 3", "'it''s'; \"q\"\"x\";", "--+ h;\n;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sb strings.Builder
		for _, tok := range lexSQL(s) {
			require.NotEmpty(t, tok.text)
			sb.WriteString(tok.text)
		}
		require.Equal(t, s, sb.String(), "the tokens are the input")
		rest := s
		for _, piece := range splitSQL(s) {
			i := strings.Index(rest, piece)
			require.GreaterOrEqual(t, i, 0, "piece %q out of order", piece)
			rest = rest[i+len(piece):]
		}
		for _, stmt := range parseQueryText(s) {
			p := parseLine(sanitise(stmt))
			require.NotContains(t, p.cmd, " ")
		}
	})
}

// FuzzDisplayWidth: any text has a width, -1 only with a control character.
func FuzzDisplayWidth(f *testing.F) {
	for _, s := range []string{"abc", "日本", "a\tb", "👨\u200d👩", "\u2600\ufe0f", "\xff\xfe", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := displayWidth(s)
		require.GreaterOrEqual(t, w, -1)
		if w >= 0 {
			require.LessOrEqual(t, w, 2*utf8.RuneCountInString(s)+utf8.RuneCountInString(s))
		}
		_ = prettyTable([]string{"h"}, [][]string{{s}})
		_ = pyUTF8([]byte(s))
		d, ok := unescapeDelimiter(s)
		if ok {
			require.Equal(t, 1, utf8.RuneCountInString(d))
		}
	})
}
