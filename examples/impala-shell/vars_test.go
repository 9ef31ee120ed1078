package main

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubstitute(t *testing.T) {
	vs := variables{"A": "1", "NAME": "sales", "EMPTY": "", "DOLLAR": "${var:a}"}
	for _, tc := range []struct{ in, want string }{
		{"select 1", "select 1"},
		{"select ${var:a}", "select 1"},
		{"select ${VAR:A}, ${Var:name}, ${hivevar:NAME}, ${HiveVar:a}", "select 1, sales, sales, 1"},
		// In string literals and comments too, as impala-shell does.
		{"select '${var:name}' -- ${var:a}\n", "select 'sales' -- 1\n"},
		{"/* ${var:a} */ select 2", "/* 1 */ select 2"},
		// '\' keeps a reference as typed, and stays.
		{`select '\${var:a}', ${var:a}`, `select '\${var:a}', 1`},
		{`select '\${var:nope}'`, `select '\${var:nope}'`},
		// Not references: no closing brace, empty braces, a lone '$'.
		{"select '${var:a'", "select '${var:a'"},
		{"select '${}', '$', '$a'", "select '${}', '$', '$a'"},
		// One pass: a value is not searched for references.
		{"select '${var:dollar}'", "select '${var:a}'"},
		{"select '${var:empty}x'", "select 'x'"},
		{"${var:a}${var:a}", "11"},
	} {
		got, err := vs.substitute(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestSubstituteErrors(t *testing.T) {
	vs := variables{"A": "1"}
	for _, tc := range []struct {
		in      string
		unknown []string
		bad     []string
		msg     string
	}{
		{"select ${var:b}", []string{"B"}, nil, "undefined variable B"},
		{"select ${var:b}, ${VAR:B}, ${hivevar:c}", []string{"B", "C"}, nil, "undefined variable B, C"},
		{"select ${b}", nil, []string{"b"}, "unknown substitution syntax ${b}"},
		{"select ${env:HOME}", nil, []string{"env:HOME"}, "${VAR:NAME}"},
		{"select ${ var:a}", nil, []string{" var:a"}, "unknown substitution syntax"},
		{"select ${var:}", []string{""}, nil, "undefined variable"},
		{"select ${var:a}, ${x}, ${var:zz} -- in a comment", []string{"ZZ"}, []string{"x"}, "undefined variable ZZ"},
	} {
		got, err := vs.substitute(tc.in)
		require.Error(t, err, tc.in)
		require.Equal(t, tc.in, got, "the statement is returned unchanged")
		var se *substError
		require.True(t, errors.As(err, &se), tc.in)
		require.Equal(t, tc.unknown, se.unknown, tc.in)
		require.Equal(t, tc.bad, se.badSyntax, tc.in)
		require.Contains(t, err.Error(), tc.msg, tc.in)
		require.Contains(t, err.Error(), "not run", tc.in)
	}
}

func TestVarFlag(t *testing.T) {
	o, err := parseFlags([]string{"--var=a=1", "--var", "Table_2=sales.t", "--var=B=x${var:A}y", "--var=e=", "--var=eq=k=v", "--var=a=2"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, variables{"A": "2", "TABLE_2": "sales.t", "B": "x1y", "E": "", "EQ": "k=v"}, o.vars.vars)
	for _, tc := range []struct {
		arg, want string
	}{
		{"--var=novalue", "NAME=VALUE"},
		{"--var=1a=1", "NAME=VALUE"},
		{"--var=a-b=1", "NAME=VALUE"},
		{"--var==1", "NAME=VALUE"},
		{"--var=a=${var:later}", "undefined variable LATER"},
		{"--var=a=${later}", "unknown substitution syntax ${later}"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags([]string{tc.arg}, &stderr)
		require.Error(t, err, tc.arg)
		require.Contains(t, stderr.String(), tc.want, tc.arg)
	}
}
