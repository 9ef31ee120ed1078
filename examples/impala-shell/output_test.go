package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
)

// The expected values of these tests are what impala-shell 4.6's Python
// gives for the same input: str() of a float, wcwidth.wcswidth,
// prettytable through impala-shell's PrettyOutputFormatter, the csv module
// through its DelimitedOutputFormatter and VerticalOutputFormatter,
// bytes.decode('unicode_escape') and bytes.decode(errors='replace').

func TestPyFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.0, "1.0"},
		{1000000.0, "1000000.0"},
		{1000000000000000.0, "1000000000000000.0"},
		{1e+16, "1e+16"},
		{1.2345678901234568e+17, "1.2345678901234568e+17"},
		{0.0001, "0.0001"},
		{1e-05, "1e-05"},
		{1.5e+300, "1.5e+300"},
		{-2.5e-300, "-2.5e-300"},
		{5e-324, "5e-324"},
		{1.7976931348623157e+308, "1.7976931348623157e+308"},
		{0.1, "0.1"},
		{0.10000000149011612, "0.10000000149011612"},
		{0.3333333333333333, "0.3333333333333333"},
		{0.6666666666666666, "0.6666666666666666"},
		{100.0, "100.0"},
		{12345.678, "12345.678"},
		{-0.5, "-0.5"},
		{9007199254740992.0, "9007199254740992.0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	} {
		require.Equal(t, tc.want, pyFloat(tc.f), "%v", tc.f)
	}
}

func TestDisplayWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"abc", 3},
		{"\u65e5\u672c\u8a9e", 6},
		{"\U0001f600", 2},
		{"\u2600\ufe0f", 2},
		{"\u2600", 1},
		{"#\ufe0f\u20e3", 2},
		{"\U0001f468\u200d\U0001f469\u200d\U0001f467", 2},
		{"\U0001f1fa\U0001f1f8", 2},
		{"e\u0301", 1},
		{"a\u200db", 1},
		{"a\u200bb", 2},
		{"\u00ad", 1},
		{"x\u2028y", 2},
		{"a\tb", -1},
		{"\u0000", 0},
		{"\uff21\uff22", 4},
		{"\u1100\u1161\u11a8", 2},
		{"\U0001f44d\U0001f3fd", 2},
		{"\u00a9\ufe0f", 2},
		{"a\ufe0f", 1},
		{"\ufe0f", 0},
		{"", 0},
		{"\uff71", 1},
	} {
		require.Equal(t, tc.want, displayWidth(tc.s), "%q", tc.s)
	}
}

func TestPrettyTable(t *testing.T) {
	for _, tc := range []struct {
		header []string
		rows   [][]string
		want   string
	}{
		{[]string{"id", "name"}, [][]string{{"1", "\u00fcn\u00ef"}, {"10", "NULL"}}, "+----+------+\n| id | name |\n+----+------+\n| 1  | \u00fcn\u00ef  |\n| 10 | NULL |\n+----+------+"},
		{[]string{"a", "b"}, [][]string{{"x\ny", "z"}, {"", "\n"}}, "+---+---+\n| a | b |\n+---+---+\n| x | z |\n| y |   |\n|   |   |\n|   |   |\n+---+---+"},
		{[]string{"\u65e5\u672c", "\U0001f600"}, [][]string{{"a", "\u65e5\u672c\u8a9e"}}, "+------+--------+\n| \u65e5\u672c | \U0001f600     |\n+------+--------+\n| a    | \u65e5\u672c\u8a9e |\n+------+--------+"},
		{[]string{"t"}, [][]string{{"a\tb"}, {"c"}}, "+---+\n| t |\n+---+\n| a\tb   |\n| c |\n+---+"},
		{[]string{"h"}, [][]string{}, "+---+\n| h |\n+---+\n+---+"},
	} {
		require.Equal(t, tc.want, prettyTable(tc.header, tc.rows), "%q", tc.rows)
	}
}

func TestDelimited(t *testing.T) {
	for _, tc := range []struct {
		delim string
		rows  [][]string
		want  string
	}{
		{",", [][]string{{"a,b", "say \"hi\"", "x\ny", "", " s "}}, "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",, s "},
		{"\t", [][]string{{"a\tb", "c,d", "cr\rx"}}, "\"a\tb\"\tc,d\tcr\rx"},
		{",", [][]string{{""}}, "\"\""},
		{"|", [][]string{{"p|q", "NULL"}, {"1", "2"}}, "\"p|q\"|NULL\n1|2"},
		{",", [][]string{{"", ""}}, ","},
	} {
		require.Equal(t, tc.want, delimited(tc.rows, []rune(tc.delim)[0]), "%q", tc.rows)
	}
	require.Equal(t, "************************************** 1.row **************************************\n     a: 1\n\"longer: x\ny\"\n************************************** 2.row **************************************\n     a: 2\n\"longer: q\"\"z\"", vertical([]string{"a", "longer"}, [][]string{{"1", "x\ny"}, {"2", "q\"z"}}))
}

func TestUnescapeDelimiter(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"\\t", "\t", true},
		{",", ",", true},
		{"\\x2c", ",", true},
		{"\\u00e9", "\u00e9", true},
		{"\u00e9", "\u00c3\u00a9", false},
		{"||", "||", false},
		{"\\s", "\\s", false},
		{"\\n", "\n", true},
		{"\\101", "A", true},
		{"\\\\", "\\", true},
	} {
		d, ok := unescapeDelimiter(tc.in)
		require.Equal(t, tc.want, d, tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
	}
}

func TestPyUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("abc"), "abc"},
		{[]byte{0xff}, "\ufffd"},
		{[]byte("a\xe2\x82b"), "a\ufffdb"},
		{[]byte("\xe2\x82\xac"), "€"},
		{[]byte("\xf0\x9f\x98"), "\ufffd"},
		{[]byte("\xed\xa0\x80"), "\ufffd\ufffd\ufffd"},
		{[]byte("\xc0\xaf"), "\ufffd\ufffd"},
		{[]byte("\xf4\x90\x80\x80"), "\ufffd\ufffd\ufffd\ufffd"},
	} {
		require.Equal(t, tc.want, pyUTF8(tc.in), "%q", tc.in)
	}
}

// TestSummaryRows builds the summary table of a plan with an exchange, and
// of a join, as impala-shell's build_exec_summary_table does for the same
// TExecSummary.
func TestSummaryRows(t *testing.T) {
	st := func(lat, card, mem int64) conn.NodeStats {
		return conn.NodeStats{LatencyNs: lat, CPUTimeNs: lat, Cardinality: card, MemoryUsed: mem}
	}
	est := func(card, mem int64) *conn.NodeStats { s := st(0, card, mem); return &s }
	s := &conn.Summary{
		Plan: []conn.PlanNode{
			{ID: -1, Label: "F01:ROOT", Children: 1, Hosts: 1, Estimated: est(-1, 4194304), Instances: []conn.NodeStats{st(1000, 0, 0)}},
			{ID: 3, Label: "03:AGGREGATE", Detail: "FINALIZE", HasDetail: true, Children: 1, Hosts: 1, Estimated: est(1, 10485760), Instances: []conn.NodeStats{st(2500000, 1, 24576)}},
			{ID: 2, Label: "02:EXCHANGE", Detail: "UNPARTITIONED", HasDetail: true, Hosts: 1, Estimated: est(3, 16384), Instances: []conn.NodeStats{st(15000, 3, 8192)}},
			{ID: 1, Fragment: 1, Label: "01:AGGREGATE", Children: 1, Hosts: 3, Estimated: est(3, 10485760),
				Instances: []conn.NodeStats{st(1999999, 1, 1048576), st(3000001, 1, 2097152), st(5, 1, 3*1073741824)}},
			{ID: 0, Fragment: 1, Label: "00:SCAN HDFS", Detail: "default.t", HasDetail: true, Hosts: 3, Estimated: est(1234567, 88*1024*1024),
				Instances: []conn.NodeStats{st(12345678901, 400000, 1024), st(1000, 3500000, 2048), st(999, 1500000000, 0)}},
		},
		ExchangeSenders: map[int]int{2: 3},
	}
	require.Equal(t, [][]string{
		{"F01:ROOT", "1", "1", "1.00us", "1.00us", "", "", "0 B", "4.00 MB", "None"},
		{"03:AGGREGATE", "1", "1", "2.50ms", "2.50ms", "1", "1", "24.00 KB", "10.00 MB", "FINALIZE"},
		{"02:EXCHANGE", "1", "1", "15.00us", "15.00us", "3", "3", "8.00 KB", "16.00 KB", "UNPARTITIONED"},
		{"01:AGGREGATE", "3", "3", "1.67ms", "3.00ms", "3", "3", "3.00 GB", "10.00 MB", "None"},
		{"00:SCAN HDFS", "3", "3", "4.12s", "12.35s", "1.50B", "1.23M", "2.00 KB", "88.00 MB", "default.t"},
	}, summaryRows(s))

	join := &conn.Summary{Plan: []conn.PlanNode{
		{ID: 2, Label: "02:HASH JOIN", Children: 2, Hosts: 1, Estimated: est(10, 1000), Instances: []conn.NodeStats{st(100, 10, 1000)}},
		{ID: 0, Label: "00:SCAN HDFS", Hosts: 1, Estimated: est(10, 1000), Instances: []conn.NodeStats{st(100, 10, 1000)}},
		{ID: 1, Label: "01:SCAN HDFS", Hosts: -1, Estimated: est(10, 1000)},
	}}
	require.Equal(t, [][]string{
		{"02:HASH JOIN", "1", "1", "100ns", "100ns", "10", "10", "1000 B", "1000 B", "None"},
		{"|--01:SCAN HDFS", "None", "0", "0ns", "0ns", "0", "10", "0 B", "1000 B", "None"},
		{"00:SCAN HDFS", "1", "1", "100ns", "100ns", "10", "10", "1000 B", "1000 B", "None"},
	}, summaryRows(join))

	// An exchange map that loops prints each node once.
	loop := &conn.Summary{Plan: join.Plan[:1], ExchangeSenders: map[int]int{0: 0}}
	require.Len(t, summaryRows(loop), 1)
}
