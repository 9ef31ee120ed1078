package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSplitSQL checks the splitter against what sqlparse 0.3.1 (impala-shell
// 4.6's) returns for the same texts: sqlparse.split and impala-shell's
// parse_query_text.
func TestSplitSQL(t *testing.T) {
	for _, tc := range []struct {
		in         string
		split, pqt []string
	}{
		{"select 1;", []string{"select 1;"}, []string{"select 1;"}},
		{"select 1; select 2", []string{"select 1;", "select 2"}, []string{"select 1;", "select 2"}},
		{"select ';' ; select \"a;b\";", []string{"select ';' ;", "select \"a;b\";"}, []string{"select ';' ;", "select \"a;b\";"}},
		{"select 'it\\'s;'; x", []string{"select 'it\\'s;';", "x"}, []string{"select 'it\\'s;';", "x"}},
		{"select 'it''s;'; x", []string{"select 'it''s;';", "x"}, []string{"select 'it''s;';", "x"}},
		{"select 1 -- no; split\n, 2;", []string{"select 1 -- no; split\n, 2;"}, []string{"select 1 -- no; split\n, 2;"}},
		{"select /* a; b */ 3;", []string{"select /* a; b */ 3;"}, []string{"select /* a; b */ 3;"}},
		{"select `a;b` from t;", []string{"select `a;b` from t;"}, []string{"select `a;b` from t;"}},
		{";; -- only a comment", []string{";", "; -- only a comment"}, []string{";", "; -- only a comment"}},
		{"select 'open; select 2;", []string{"select 'open;", "select 2;"}, []string{"select 'open;", "select 2;"}},
		{"/* open; select 2;", []string{"/* open;", "select 2;"}, []string{"/* open;", "select 2;"}},
		{"select 1; -- trailing\nselect 2; /* c */ select 3;\n-- end\n", []string{"select 1; -- trailing", "select 2;", "/* c */ select 3;", "-- end"}, []string{"select 1; -- trailing", "select 2;", "/* c */ select 3;"}},
		{"create table t (i int);\ninsert into t values (1);\nselect * from t;\n", []string{"create table t (i int);", "insert into t values (1);", "select * from t;", ""}, []string{"create table t (i int);", "insert into t values (1);", "select * from t;"}},
		{"select (1; select 2);", []string{"select (1; select 2);"}, []string{"select (1; select 2);"}},
		{"select case when a then 1 end; select 2;", []string{"select case when a then 1 end;", "select 2;"}, []string{"select case when a then 1 end;", "select 2;"}},
		{"create procedure p begin select 1; end; select 2;", []string{"create procedure p begin select 1; end;", "select 2;"}, []string{"create procedure p begin select 1; end;", "select 2;"}},
		{"select 1 # comment; here\n; select 2;", []string{"select 1 # comment; here\n;", "select 2;"}, []string{"select 1 # comment; here\n;", "select 2;"}},
		{"select 1;# c\nselect 2;", []string{"select 1;# c", "select 2;"}, []string{"select 1;# c", "select 2;"}},
		{"select $$a;b$$; select 2;", []string{"select $$a;b$$;", "select 2;"}, []string{"select $$a;b$$;", "select 2;"}},
		{"select x$$a;b$$; select 2;", []string{"select x$$a;", "b$$;", "select 2;"}, []string{"select x$$a;", "b$$;", "select 2;"}},
		{"select [a;b] from t; select 2;", []string{"select [a;b] from t;", "select 2;"}, []string{"select [a;b] from t;", "select 2;"}},
		{"select a[1;2]; select 3;", []string{"select a[1;", "2];", "select 3;"}, []string{"select a[1;", "2];", "select 3;"}},
		{"select 1;\t \n\n  select 2;;;", []string{"select 1;", "select 2;", ";", ";"}, []string{"select 1;", "select 2;", ";", ";"}},
		{"select 'a\\'; select 2; select 'b';", []string{"select 'a\\'; select 2; select 'b';"}, []string{"select 'a\\'; select 2; select 'b';"}},
		{"--+ hint;\nselect 1; select 2;", []string{"--+ hint;\nselect 1;", "select 2;"}, []string{"--+ hint;\nselect 1;", "select 2;"}},
		{"select \"x\\\"y;\"; select 2;", []string{"select \"x\\\"y;\";", "select 2;"}, []string{"select \"x\\\"y;\";", "select 2;"}},
		{"select end(1); select 2;", []string{"select end(1);", "select 2;"}, []string{"select end(1);", "select 2;"}},
		{"select 1 end if; select 2;", []string{"select 1 end if;", "select 2;"}, []string{"select 1 end if;", "select 2;"}},
		{"select 1 end  if; select 2;", []string{"select 1 end  if;", "select 2;"}, []string{"select 1 end  if;", "select 2;"}},
	} {
		require.Equal(t, tc.split, splitSQL(tc.in), "split %q", tc.in)
		require.Equal(t, tc.pqt, parseQueryText(tc.in), "parse_query_text %q", tc.in)
	}
}

// TestSplitLeadingComment checks impala-shell's strip_leading_comment
// rules, with sqlparse's answers for the same (trimmed) texts.
func TestSplitLeadingComment(t *testing.T) {
	for _, tc := range []struct{ in, comment, rest string }{
		{"-- c\nselect 1", "-- c\n", "select 1"},
		{"/* block */ select\n   2 as b   \n  from t  ", "/* block */ ", "select\n   2 as b\n  from t"},
		{"select 1", "", "select 1"},
		{"  -- a\n  -- b\n  /*c*/  show tables", "-- a\n  -- b\n  /*c*/  ", "show tables"},
		{"--+ hint\nselect 1", "", "--+ hint\nselect 1"},
		{"/* x */ 'a  \n  b'  \n c  ", "/* x */ ", "'a  \n  b'\n c"},
	} {
		c, r := splitLeadingComment(strings.TrimSpace(tc.in)) // as parseline calls it
		require.Equal(t, tc.comment, c, tc.in)
		require.Equal(t, tc.rest, r, tc.in)
	}
}
