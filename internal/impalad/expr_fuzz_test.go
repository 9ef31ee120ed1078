package impalad

import (
	"testing"
	"time"
)

// FuzzSelectExpr checks that no SELECT makes the parser, the analyzer or
// the evaluator panic, over a generated table and without FROM.
func FuzzSelectExpr(f *testing.F) {
	for _, s := range []string{
		"select 1+1", "select 2*3 as x, 10/4, 7 % 0, 7 div 0, -(1+2)", "select 1.5 * 2.25 / 0.0",
		"select concat('a', null), upper(string_col), substr(string_col, -2, 1) from gen.rows_20",
		"select sum(decimal_col), avg(id), min(timestamp_col), count(binary_col) from gen.rows_30 where id % 3 = 1",
		"select id from gen.rows_40 where string_col like '%1_' or id not in (1, null) order by double_col desc nulls last, 1 limit 5",
		"select round(decimal_col, -3), floor(double_col), ceil(decimal_col), abs(tinyint_col) from gen.rows_9",
		"select coalesce(null, int_col, bigint_col), if(bool_col, 'y', null), nvl(date_col, '2024-01-01') from gen.rows_9",
		"select cast(id as string) || 'x'", "select ((((1))))", "select not not not true", "select - - - 1",
		"select 9223372036854775807 * 9223372036854775807", "select -9223372036854775808 div -1",
		"select id % 3 m, count(*), max(string_col) from gen.rows_40 group by 1 having count(*) > 1 order by m desc",
		"select bool_col, avg(decimal_col) from gen.rows_40 group by bool_col order by 2 nulls first limit 1",
		"select distinct id % 3, count(distinct string_col) from gen.rows_40 group by 1", "select distinct char_col from gen.rows_9",
		"select id from gen.rows_10 having count(*) > 1", "select count(*) from gen.rows_10 having id > 1",
	} {
		f.Add(s)
	}
	env := &evalEnv{now: time.Unix(0, 0).UTC(), user: "u", db: "default", version: "v"}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parse(s)
		if err != nil || st.kind != stSelect {
			return
		}
		src := &tableSource{n: 1}
		if st.hasFrom {
			if st.fromDB != "gen" {
				return
			}
			src = &tableSource{name: "gen.rows_50", cols: genSchema, n: 50, gen: true}
		}
		res, _, serr := selectFrom(st, src, env, &operation{})
		if serr != nil {
			if serr.msg == "" {
				t.Fatalf("%q: empty error", s)
			}
			return
		}
		cols := res.schema()
		for row := range res.numRows() {
			for c := range cols {
				// A run-time error (UDF ERROR) fails a fetch, not the coordinator.
				v, _ := safeValue(res, c, row)
				_ = FormatValue(cols[c].Type, v)
			}
		}
		_ = buildColumns(res, 0, res.numRows())
	})
}
