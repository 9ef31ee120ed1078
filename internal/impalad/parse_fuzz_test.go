package impalad

import (
	"testing"
)

// FuzzParse checks that no statement text makes the parser or the
// literal casts panic, and that accepted statements are well formed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"select 1", "SELECT -1, 1.50, 1e3, 'x', TRUE, NULL", "select cast('2024-01-02' as timestamp)",
		"select cast(1.999 as decimal(3,2)) d", "select * from gen.rows_10 limit 3", "select count(*) from t",
		"set mem_limit=1g", "set", "use db", "create database if not exists d", "drop database d cascade",
		"create table t (a int, b varchar(3), c char(2), d decimal(5,1)) stored as parquet",
		"drop table if exists db.t", "show tables in d", "show databases", "describe t",
		"insert into t values (1, 'a'), (2, NULL)", "select sleep(5)", "select fail('x')",
		"select `quoted` from t", "select 'unterminated", "select cast(x as int)", "select -", "-- comment\nselect 1;",
		"insert overwrite t (a, b) values (1, 'x')", "insert into t select * from gen.rows_3", "show create table db.t",
		"unset all", "set all", `set k='a\b'`, "set mem_limit=2g", "select 1 in (1, 2, 3), 2 not between 1 and 3",
		"create external table t (a varchar, b int comment 'c') comment 'x' row format delimited fields terminated by ',' stored as parquet location 'l' tblproperties ('a'='b')",
		"select a\nfrom t\nwhere x yy", "select 1;;", "select 1; select 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parse(s)
		if err == nil && st == nil {
			t.Fatalf("parse(%q): no statement and no error", s)
		}
		if err != nil && err.msg == "" {
			t.Fatalf("parse(%q): empty error message", s)
		}
	})
}

// FuzzCast checks that CAST of any string to any type neither panics nor
// takes unbounded time.
func FuzzCast(f *testing.F) {
	for _, s := range []string{"1", "-2.5", "1e999999999", "2024-01-02 03:04:05.123", "true", "", "abc", "0.000000000000000000001"} {
		f.Add(s)
	}
	types := []Type{{Kind: Boolean}, {Kind: TinyInt}, {Kind: Int}, {Kind: BigInt}, {Kind: Float}, {Kind: Double},
		{Kind: Decimal, Precision: 18, Scale: 4}, {Kind: Decimal, Precision: 3, Scale: 0}, {Kind: String},
		{Kind: Varchar, Length: 3}, {Kind: Char, Length: 4}, {Kind: Timestamp}, {Kind: Date}, {Kind: Binary}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			v, err := safeCast(s, Type{Kind: String}, typ)
			if err != nil {
				continue
			}
			_ = FormatValue(typ, v)
			if v != nil && typ.Kind == Decimal {
				if _, err := safeCast(v, typ, Type{Kind: Double}); err != nil {
					t.Fatalf("decimal %v does not convert back: %v", v, err)
				}
			}
		}
	})
}
