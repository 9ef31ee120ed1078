package impalad

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// typeString prints a result column's HS2 type as Impala names it:
// "smallint", "decimal(8,6)".
func typeString(c *tcli.TColumnDesc) string {
	e := c.TypeDesc.Types[0].PrimitiveEntry
	name := strings.ToLower(strings.TrimSuffix(e.Type.String(), "_TYPE"))
	if e.Type == tcli.TTypeId_DECIMAL_TYPE {
		q := e.TypeQualifiers.Qualifiers
		return fmt.Sprintf("decimal(%d,%d)", q[tcli.PRECISION].GetI32Value(), q[tcli.SCALE].GetI32Value())
	}
	return name
}

type exprCase struct {
	sql   string
	label string
	typ   string
	want  any
}

func runExprCases(t *testing.T, h *hs2Client, cases []exprCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			cols, rows := h.query(c.sql)
			require.Len(t, cols, 1)
			require.Equal(t, c.label, cols[0].ColumnName)
			require.Equal(t, c.typ, typeString(cols[0]))
			require.Equal(t, [][]any{{c.want}}, rows)
		})
	}
}

func TestExpressionsHS2(t *testing.T) {
	co := startCoord(t, Config{Version: "9.8.7-TEST"})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	runExprCases(t, h, []exprCase{
		// Arithmetic: + - * widen integers by one size; / is DOUBLE.
		{"select 1+1", "1 + 1", "smallint", int16(2)},
		{"select 2*3 as x", "x", "smallint", int16(6)},
		{"select 1000 * 1000", "1000 * 1000", "int", int32(1000000)},
		{"select 100000 * 100000", "100000 * 100000", "bigint", int64(10000000000)},
		{"select 9223372036854775807 + 1", "9223372036854775807 + 1", "bigint", int64(-9223372036854775808)},
		{"select 10/4", "10 / 4", "double", 2.5},
		{"select 1/0", "1 / 0", "double", math.Inf(1)},
		{"select 7 % 3", "7 % 3", "tinyint", int8(1)},
		{"select 7 % 0", "7 % 0", "tinyint", nil},
		{"select 300 % 7", "300 % 7", "smallint", int16(6)},
		{"select 7 div 2", "7 div 2", "tinyint", int8(3)},
		{"select 1 - 2 * 3", "1 - 2 * 3", "int", int32(-5)},
		{"select (1 + 2) * 3", "(1 + 2) * 3", "int", int32(9)},
		{"select -(1 + 2)", "-1 * (1 + 2)", "int", int32(-3)},
		{"select - 5", "-5", "tinyint", int8(-5)},
		{"select 2e0 * 3", "2e0 * 3", "double", 6.0},
		{"select cast(1.5 as float) + cast(1 as float)", "cast(1.5 as float) + cast(1 as float)", "double", 2.5},
		// DECIMAL arithmetic (DECIMAL_V2 types).
		{"select 1.5 + 1", "1.5 + 1", "decimal(3,1)", "2.5"},
		{"select 1.5 * 2.25", "1.5 * 2.25", "decimal(6,3)", "3.375"},
		{"select 1 / 3.0", "1 / 3.0", "decimal(8,6)", "0.333333"},
		{"select 10.5 % 3", "10.5 % 3", "decimal(2,1)", "1.5"},
		{"select 1.5 + 1e0", "1.5 + 1e0", "double", 2.5},
		// Comparison and logic, with SQL's NULLs.
		{"select 1 = 1", "1 = 1", "boolean", true},
		{"select 1 <> 2", "1 != 2", "boolean", true},
		{"select 1 != 1", "1 != 1", "boolean", false},
		{"select 'a' < 'b'", "'a' < 'b'", "boolean", true},
		{"select 2 >= 3", "2 >= 3", "boolean", false},
		{"select 1.5 <= 2", "1.5 <= 2", "boolean", true},
		{"select null = 1", "null = 1", "boolean", nil},
		{"select null is null", "null is null", "boolean", true},
		{"select 1 is not null", "1 is not null", "boolean", true},
		{"select true and null", "true and null", "boolean", nil},
		{"select false and null", "false and null", "boolean", false},
		{"select true or null", "true or null", "boolean", true},
		{"select not true", "not true", "boolean", false},
		{"select 2 between 1 and 3", "2 between 1 and 3", "boolean", true},
		{"select 5 not in (1, 2)", "5 not in (1, 2)", "boolean", true},
		{"select 'abc' like 'a_c'", "'abc' like 'a_c'", "boolean", true},
		{"select cast('2024-01-02' as timestamp) < '2024-01-03'", "cast('2024-01-02' as timestamp) < '2024-01-03'", "boolean", true},
		// Functions.
		{"select version()", "version()", "string", "impalad version 9.8.7-TEST RELEASE (build impalalb-test-coordinator)\nBuilt on Thu Jan  1 00:00:00 UTC 1970"},
		{"select current_database()", "current_database()", "string", "default"},
		{"select concat('a','b')", "concat('a', 'b')", "string", "ab"},
		{"select concat('a', null)", "concat('a', null)", "string", nil},
		{"select upper('a')", "upper('a')", "string", "A"},
		{"select lower('AbC')", "lower('abc')", "string", "abc"},
		{"select length('hello')", "length('hello')", "int", int32(5)},
		{"select abs(-5)", "abs(-5)", "smallint", int16(5)},
		{"select abs(-1.5)", "abs(-1.5)", "decimal(2,1)", "1.5"},
		{"select coalesce(null, 2, 300)", "coalesce(null, 2, 300)", "smallint", int16(2)},
		{"select if(1 < 2, 'y', 'n')", "if(1 < 2, 'y', 'n')", "string", "y"},
		{"select isnull(null, 'd')", "isnull(null, 'd')", "string", "d"},
		{"select nvl(null, 5)", "nvl(null, 5)", "tinyint", int8(5)},
		{"select round(2.5)", "round(2.5)", "decimal(2,0)", "3"},
		{"select round(-2.5)", "round(-2.5)", "decimal(2,0)", "-3"},
		{"select round(1.2345, 2)", "round(1.2345, 2)", "decimal(4,2)", "1.23"},
		{"select round(1234.5, -2)", "round(1234.5, -2)", "decimal(5,0)", "1200"},
		{"select round(2.25e0, 1)", "round(2.25e0, 1)", "double", 2.3},
		{"select floor(1.5)", "floor(1.5)", "decimal(2,0)", "1"},
		{"select floor(-1.5e0)", "floor(-1.5e0)", "double", -2.0},
		{"select ceil(1.2)", "ceil(1.2)", "decimal(2,0)", "2"},
		{"select ceiling(1.2e0)", "ceiling(1.2e0)", "double", 2.0},
		{"select substr('hello', 2, 3)", "substr('hello', 2, 3)", "string", "ell"},
		{"select substr('hello', -3)", "substr('hello', -3)", "string", "llo"},
		{"select substring('hello', 9)", "substring('hello', 9)", "string", ""},
		{"select trim('  x  ')", "trim('  x  ')", "string", "x"},
		{"select cast(1 + 1 as string)", "cast(1 + 1 as string)", "string", "2"},
	})

	// Session functions: the statement's user, database and time.
	h.query("create database fdb")
	h.query("use fdb")
	_, rows := h.query("select current_database(), user(), effective_user()")
	require.Equal(t, [][]any{{"fdb", "tester", "tester"}}, rows)
	before := time.Now().Add(-time.Second).Format("2006-01-02 15:04:05")
	cols, rows := h.query("select now(), current_timestamp()")
	after := time.Now().Add(time.Second).Format("2006-01-02 15:04:05")
	require.Equal(t, "now()", cols[0].ColumnName)
	require.Equal(t, tcli.TTypeId_TIMESTAMP_TYPE, typeOf(cols[0]))
	require.Equal(t, rows[0][0], rows[0][1], "one time for the whole statement")
	require.GreaterOrEqual(t, rows[0][0].(string), before)
	require.LessOrEqual(t, rows[0][0].(string), after)
}

func TestExpressionErrorsHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	for _, c := range []struct{ sql, want string }{
		{"select foo(1)", "AnalysisException: default.foo() unknown for database default. Currently this db has 0 functions."},
		{"select 'a' + 1", "AnalysisException: Arithmetic operation requires numeric operands: 'a' + 1"},
		{"select 'a' = 1", "AnalysisException: operands of type STRING and TINYINT are not comparable: 'a' = 1"},
		{"select upper(1)", "AnalysisException: No matching function with signature: upper(TINYINT)."},
		{"select count()", "AnalysisException: count() is not allowed."},
		{"select avg('x')", "AnalysisException: AVG requires a numeric or timestamp parameter: avg('x')"},
		{"select 1 and true", "AnalysisException: Operand '1' part of predicate '1 and true' should return type 'BOOLEAN' but returns type 'TINYINT'."},
		{"select id, count(*) from gen.rows_10", "AnalysisException: select list expression not produced by aggregation output (missing from GROUP BY clause?): id"},
		{"select id from gen.rows_10 where id", "AnalysisException: WHERE clause 'id' requires return type 'BOOLEAN'. Actual type is 'BIGINT'."},
		{"select id from gen.rows_10 where count(*) > 1", "AnalysisException: aggregate function not allowed in WHERE clause: count(*)"},
		{"select sum(count(*)) from gen.rows_10", "AnalysisException: aggregate function must not contain aggregate parameters: count(*)"},
		{"select id from gen.rows_10 order by 2", "AnalysisException: ORDER BY: ordinal exceeds the number of items in the SELECT list: 2"},
		{"select nosuch from gen.rows_10 where id < 3", "AnalysisException: Could not resolve column/field reference: 'nosuch'"},
		{"select 1 +", "ParseException"},
		{"select id from gen.rows_10 where", "ParseException"},
		{"select id from gen.rows_10 order id", "ParseException"},
		{"select id from gen.rows_30000000 where id < 3", "AnalysisException: not supported by the test coordinator: WHERE over more than 20000000 rows"},
		{"select sum(id) from gen.rows_30000000", "AnalysisException: not supported by the test coordinator: Aggregation over more than 20000000 rows"},
		{"select id from gen.rows_2000000 order by id desc", "AnalysisException: not supported by the test coordinator: ORDER BY over more than 1048576 rows"},
		{"select id from gen.rows_2000000 where id > 3", "AnalysisException: not supported by the test coordinator: WHERE without LIMIT over more than 1048576 rows"},
		{"select id from gen.rows_30000000 where id > 3 order by id limit 5", "AnalysisException: not supported by the test coordinator: ORDER BY over more than 20000000 rows"},
	} {
		op, st := h.exec(c.sql, nil)
		require.Nil(t, op, c.sql)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode, c.sql)
		require.Contains(t, st.GetErrorMessage(), c.want, c.sql)
		require.Equal(t, "HY000", st.GetSqlState())
	}
}

func TestWhereOrderAggregatesGen(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()

	cols, rows := h.query("select sum(id) from gen.rows_100")
	require.Equal(t, "sum(id)", cols[0].ColumnName)
	require.Equal(t, "bigint", typeString(cols[0]))
	require.Equal(t, [][]any{{int64(4950)}}, rows)

	_, rows = h.query("select id from gen.rows_100 where id < 3")
	require.Equal(t, [][]any{{int64(0)}, {int64(1)}, {int64(2)}}, rows)
	cols, rows = h.query("select t.id, t.id + 1 from gen.rows_5 t where t.id = 3")
	require.Equal(t, "id", cols[0].ColumnName)
	require.Equal(t, "t.id + 1", cols[1].ColumnName)
	require.Equal(t, [][]any{{int64(3), int64(4)}}, rows)

	cols, rows = h.query("select id, string_col from gen.rows_100 order by id desc limit 2")
	require.Equal(t, "string_col", cols[1].ColumnName)
	require.Equal(t, [][]any{{int64(99), "row-99"}, {int64(98), "row-98"}}, rows)

	// Every aggregate, over the rows a WHERE keeps; compared with the
	// generator's own values.
	cols, rows = h.query("select count(*), count(int_col), sum(int_col), min(string_col), max(double_col), avg(id), " +
		"sum(decimal_col), avg(decimal_col), min(timestamp_col), sum(double_col) from gen.rows_5000 where id % 3 = 1 and id >= 100")
	var types []string
	for _, c := range cols {
		types = append(types, typeString(c))
	}
	require.Equal(t, []string{"bigint", "bigint", "bigint", "string", "double", "double", "decimal(38,2)", "decimal(14,6)", "timestamp", "double"}, types)
	var n, nInt, sumInt, sumID, sumDec int64
	var maxD, sumD float64
	minS := ""
	var minTS time.Time
	for r := int64(100); r < 5000; r++ {
		if r%3 != 1 {
			continue
		}
		n++
		sumID += r
		if v := GenValue(4, r); v != nil {
			nInt++
			sumInt += int64(v.(int32))
		}
		if v := GenValue(9, r); v != nil && (minS == "" && n == 1 || v.(string) < minS) {
			minS = v.(string)
		}
		if v := GenValue(7, r); v != nil {
			maxD = max(maxD, v.(float64))
			sumD += v.(float64)
		}
		if !GenIsNull(8, r) {
			sumDec += genDecimalUnscaled(r)
		}
		if v := GenValue(12, r); v != nil && (minTS.IsZero() || v.(time.Time).Before(minTS)) {
			minTS = v.(time.Time)
		}
	}
	require.Equal(t, []any{n, nInt, sumInt, minS, maxD, float64(sumID) / float64(n), formatDecimal(sumDec, 2)}, rows[0][:7])
	require.Equal(t, FormatValue(Type{Kind: Timestamp}, minTS), rows[0][8])
	require.InDelta(t, sumD, rows[0][9], 1e-6)

	// No row passes: count is 0, the others NULL.
	_, rows = h.query("select count(*), sum(id), min(id), avg(id) from gen.rows_10 where id > 100")
	require.Equal(t, [][]any{{int64(0), nil, nil, nil}}, rows)
	// count(*) of a whole generated table needs no scan.
	_, rows = h.query("select count(*) from gen.rows_2000000000")
	require.Equal(t, [][]any{{int64(2000000000)}}, rows)

	// Expressions over columns, NULLs ordered as Impala (last ascending,
	// first descending), several keys, ordinals and aliases.
	cols, rows = h.query("select id * 2 as d, -id, upper(string_col) from gen.rows_100 where id between 1 and 3")
	require.Equal(t, []string{"d", "-1 * id", "upper(string_col)"}, []string{cols[0].ColumnName, cols[1].ColumnName, cols[2].ColumnName})
	require.Equal(t, [][]any{{int64(2), int64(-1), nil}, {int64(4), int64(-2), "ü-2-ß"}, {int64(6), int64(-3), "ROW-3"}}, rows)
	_, rows = h.query("select id, tinyint_col from gen.rows_20 where id < 12 order by tinyint_col desc, id")
	require.Equal(t, []any{int64(2), nil}, rows[0])
	require.Equal(t, []any{int64(10), nil}, rows[1])
	require.Equal(t, []any{int64(11), int8(11)}, rows[2])
	_, rows = h.query("select id, tinyint_col from gen.rows_20 where id < 12 order by tinyint_col nulls first limit 2")
	require.Equal(t, [][]any{{int64(2), nil}, {int64(10), nil}}, rows)
	_, rows = h.query("select id from gen.rows_20 where id < 12 order by tinyint_col")
	require.Equal(t, []any{int64(10)}, rows[len(rows)-1])
	_, rows = h.query("select id k from gen.rows_10 order by k desc limit 2")
	require.Equal(t, [][]any{{int64(9)}, {int64(8)}}, rows)
	_, rows = h.query("select id from gen.rows_10 order by 1 desc limit 1")
	require.Equal(t, [][]any{{int64(9)}}, rows)
	_, rows = h.query("select count(*) from gen.rows_1000 where string_col like 'row-1%' or id in (2, 7)")
	var like int64
	for r := range int64(1000) {
		if s, ok := GenValue(9, r).(string); ok && strings.HasPrefix(s, "row-1") || r == 2 || r == 7 {
			like++
		}
	}
	require.Equal(t, [][]any{{like}}, rows)

	// WHERE with LIMIT stops scanning early, so a huge table is fine.
	_, rows = h.query("select id from gen.rows_2000000000 where id % 1000 = 999 limit 2")
	require.Equal(t, [][]any{{int64(999)}, {int64(1999)}}, rows)
	// Expressions over a whole table are computed as fetched, in batches.
	op := h.mustExec("select id + 1, concat(string_col, '!') from gen.rows_3000")
	h.wait(op)
	rows, batches := h.fetchAll(op, 1024)
	require.Len(t, rows, 3000)
	require.Equal(t, 3, batches)
	require.Equal(t, []any{int64(3000), "row-2999!"}, rows[2999])
}

func TestWhereOrderAggregatesCatalog(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	h.query("create table t (id int, name string, price decimal(8,2))")
	h.query("insert into t values (1, 'a', 1.5), (2, 'b', 2), (3, null, 10.25), (1 + 3, upper('d'), 2 * 1.5)")
	_, rows := h.query("select * from t where id > 1 order by price desc")
	require.Equal(t, [][]any{{int32(3), nil, "10.25"}, {int32(4), "D", "3.00"}, {int32(2), "b", "2.00"}}, rows)
	cols, rows := h.query("select count(*), count(name), sum(price), avg(price), min(name), max(id) from t where name is not null")
	require.Equal(t, "decimal(38,2)", typeString(cols[2]))
	require.Equal(t, "decimal(12,6)", typeString(cols[3]))
	require.Equal(t, "int", typeString(cols[5]))
	require.Equal(t, [][]any{{int64(3), int64(3), "6.50", "2.166667", "D", int32(4)}}, rows)
	_, rows = h.query("select name, price * 2 from t where price between 2 and 5 order by 1")
	require.Equal(t, [][]any{{"D", "6.00"}, {"b", "4.00"}}, rows)
	_, rows = h.query("select id from t order by id desc limit 1")
	require.Equal(t, [][]any{{int32(4)}}, rows)
}

func TestExpressionsBeeswax(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	md, rows := b.query("select 1+1, 10/4, sum(id) from gen.rows_100 where id < 10")
	require.Equal(t, []string{"2\t2.5\t45"}, rows)
	require.Equal(t, "1 + 1", md.Schema.FieldSchemas[0].Name)
	require.Equal(t, "smallint", md.Schema.FieldSchemas[0].Type)
}

func TestGroupBy(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()

	// Groups in the order they first appear; NULL is a group of its own.
	cols, rows := h.query("select bool_col, count(*) from gen.rows_100 group by bool_col")
	require.Equal(t, "bool_col", cols[0].ColumnName)
	want := map[any]int64{}
	for r := range int64(100) {
		want[GenValue(1, r)]++
	}
	require.Equal(t, [][]any{{true, want[true]}, {nil, want[nil]}, {false, want[false]}}, rows)

	// Ordinals, aliases, HAVING, ORDER BY on an aggregate, LIMIT.
	cols, rows = h.query("select id % 3 as m, count(*), sum(id) from gen.rows_10 group by 1 order by m desc")
	require.Equal(t, []string{"m", "count(*)", "sum(id)"}, []string{cols[0].ColumnName, cols[1].ColumnName, cols[2].ColumnName})
	require.Equal(t, "bigint", typeString(cols[0]))
	require.Equal(t, [][]any{{int64(2), int64(3), int64(15)}, {int64(1), int64(3), int64(12)}, {int64(0), int64(4), int64(18)}}, rows)
	_, rows = h.query("select id % 3 m, count(*) c from gen.rows_10 group by m having count(*) > 3")
	require.Equal(t, [][]any{{int64(0), int64(4)}}, rows)
	_, rows = h.query("select id % 5, max(id) from gen.rows_100 where id < 20 group by id % 5 order by max(id) desc limit 2")
	require.Equal(t, [][]any{{int64(4), int64(19)}, {int64(3), int64(18)}}, rows)
	// An expression over a key and aggregates.
	_, rows = h.query("select concat(upper(char_col), '!'), count(*) * 2 from gen.rows_3 group by upper(char_col)")
	require.Equal(t, [][]any{{"C0   !", int64(2)}, {"C1   !", int64(2)}, {"C2   !", int64(2)}}, rows)
	// SELECT DISTINCT groups by every item.
	_, rows = h.query("select distinct id % 2, bool_col from gen.rows_12 where id > 1 order by 1, 2")
	require.Equal(t, [][]any{{int64(0), false}, {int64(0), true}, {int64(1), false}, {int64(1), true}, {int64(1), nil}}, rows)
	// DISTINCT aggregates.
	cols, rows = h.query("select count(distinct id % 4), sum(distinct tinyint_col % 3), count(distinct bool_col) from gen.rows_40")
	require.Equal(t, "count(distinct id % 4)", cols[0].ColumnName)
	require.Equal(t, [][]any{{int64(4), int64(3), int64(2)}}, rows)
	_, rows = h.query("select bool_col, count(distinct id % 3) from gen.rows_40 group by 1 order by 1")
	require.Equal(t, [][]any{{false, int64(2)}, {true, int64(1)}, {nil, int64(3)}}, rows)
	_, st := h.exec("select count(distinct id) from gen.rows_100000", nil)
	require.Contains(t, st.GetErrorMessage(), "AnalysisException: not supported by the test coordinator: count(distinct id) over more than 65536 distinct values")
	// HAVING without GROUP BY, and no rows at all.
	_, rows = h.query("select count(*) from gen.rows_10 having count(*) > 100")
	require.Empty(t, rows)
	_, rows = h.query("select id, count(*) from gen.rows_10 where id > 100 group by id")
	require.Empty(t, rows)

	for _, c := range []struct{ sql, want string }{
		{"select string_col, count(*) from gen.rows_10 group by id", "AnalysisException: select list expression not produced by aggregation output (missing from GROUP BY clause?): string_col"},
		{"select count(*) from gen.rows_10 group by count(*)", "AnalysisException: aggregate function not allowed in GROUP BY clause: count(*)"},
		{"select id from gen.rows_1000000 group by id", "AnalysisException: not supported by the test coordinator: GROUP BY with more than 65536 groups"},
		{"select id from gen.rows_10 having count(*) > 1", "AnalysisException: HAVING clause must not contain non-aggregated columns"},
		{"select count(*) from gen.rows_10 having id > 1", "AnalysisException: HAVING clause must not contain non-aggregated columns: id > 1"},
		{"select id from gen.rows_10 group by 3", "AnalysisException: GROUP BY: ordinal exceeds the number of items in the SELECT list: 3"},
	} {
		_, st := h.exec(c.sql, nil)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode, c.sql)
		require.Contains(t, st.GetErrorMessage(), c.want, c.sql)
	}
}
