package main

import (
	"strings"
	"testing"

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
