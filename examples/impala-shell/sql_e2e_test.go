package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// TestFirstStatements runs the statements a new user types first through
// the shell's local mode (no -i: in-process coordinators), as the README's
// first command does.
func TestFirstStatements(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // -B --print_header output; a regexp when it starts with ^
	}{
		{"select 1+1", "1 + 1\n2\n"},
		{"select 2*3 as x", "x\n6\n"},
		{"select 10 / 4, 7 % 3, -(1 + 2), 1.5 * 2", "10 / 4\t7 % 3\t-1 * (1 + 2)\t1.5 * 2\n2.5\t1\t-3\t3.0\n"},
		{"select now()", `^now\(\)\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{9})?\n$`},
		// Impala's version() is two lines ("...\nBuilt on ..."): -B quotes it
		// as Python's csv module does.
		{"select version()", `^version\(\)\n"impalad version \S+ RELEASE \(build [^)]*\)\nBuilt on [^"\n]+"\n$`},
		{"select current_database()", "current_database()\ndefault\n"},
		{"select user()", `^user\(\)\n.*\n$`},
		{"select concat('a','b')", "concat('a', 'b')\nab\n"},
		{"select upper('a')", "upper('a')\nA\n"},
		{"select sum(id) from gen.rows_100", "sum(id)\n4950\n"},
		{"select id from gen.rows_100 where id < 3", "id\n0\n1\n2\n"},
		{"select id from gen.rows_100 order by id desc limit 2", "id\n99\n98\n"},
		{"select count(*), min(id), max(id), avg(id) from gen.rows_100 where id % 2 = 0", "count(*)\tmin(id)\tmax(id)\tavg(id)\n50\t0\t98\t49.0\n"},
		{"select bool_col, count(*) from gen.rows_10 where bool_col is not null group by bool_col order by 1",
			"bool_col\tcount(*)\nfalse\t5\ntrue\t3\n"},
		{"select coalesce(null, 'x'), if(1 > 2, 'a', 'b'), length('abc'), abs(-3), round(2.567, 2)",
			"coalesce(null, 'x')\tif(1 > 2, 'a', 'b')\tlength('abc')\tabs(-3)\tround(2.567, 2)\nx\tb\t3\t3\t2.57\n"},
	} {
		t.Run(c.sql, func(t *testing.T) {
			code, out, errs := runShell(t, "--quiet", "-B", "--print_header", "-q", c.sql)
			require.Equal(t, 0, code, errs)
			if strings.HasPrefix(c.want, "^") {
				require.Regexp(t, regexp.MustCompile(c.want), out)
				return
			}
			require.Equal(t, c.want, out)
		})
	}
}

// TestFirstStatementsErrors: an unknown function and a bad expression keep
// Impala's error shape.
func TestFirstStatementsErrors(t *testing.T) {
	code, out, errs := runShell(t, "--quiet", "-B", "-q", "select nosuchfn(1)")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Regexp(t, `\[Exception\]  ERROR: Query [0-9a-f]{16}:[0-9a-f]{16} failed:\nAnalysisException: default\.nosuchfn\(\) unknown for database default\. Currently this db has 0 functions\.`, errs)

	code, _, errs = runShell(t, "--quiet", "-B", "-q", "select 1 +")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "ParseException")
}

// TestWhereOnCatalogTable: WHERE, ORDER BY and aggregates over a table
// created and filled in the same session.
func TestWhereOnCatalogTable(t *testing.T) {
	_, addrs := startCluster(t, 2, 0, impalad.Config{})
	code, out, errs := runShell(t, "-i", addrs, "--quiet", "-B", "-q",
		"create table pets (name string, age int); "+
			"insert into pets values ('rex', 3), ('tom', 7), ('kit', 2); "+
			"select name from pets where age > 2 order by age desc; "+
			"select count(*), sum(age), avg(age) from pets")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "Table has been created.\ntom\nrex\n3\t12\t4.0\n", out)
}
