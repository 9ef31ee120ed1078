package impalad

import (
	"fmt"
	"strings"
	"time"
)

// insertSource is the rows an INSERT writes, before they are matched to
// the target's columns: each column's type and the expression that stands
// for it in errors (the widest of a VALUES column, as
// SetOperationStmt.getWidestExprs).
type insertSource struct {
	types  []Type
	nulls  []bool // the column is a NULL literal in every row
	widest []string
	rows   [][]any
	extra  time.Duration // sleep() in VALUES
	fail   string        // fail() in VALUES
}

// runInsert runs INSERT INTO|OVERWRITE as InsertStmt.analyze
// (fe/src/main/java/org/apache/impala/analysis/InsertStmt.java) checks it:
// the column permutation, the count of values, then each value's type
// against its column (StatementBase.checkTypeCompatibility): a value no
// implicit cast turns into the column's type, or only with a possible loss
// of precision, fails the statement; nothing is written.
//
//nolint:gocognit // InsertStmt.analyze's checks in its order, then the write
func (co *Coordinator) runInsert(s *session, st *statement, db string, op *operation) (result, time.Duration, *sqlError) {
	cl := co.cluster
	if db == "gen" {
		return nil, 0, analysisError("Unable to INSERT into target table (gen.%s) because it is read-only", st.table)
	}
	t, dbMissing := cl.table(co.member, db, st.table)
	if t == nil {
		if dbMissing {
			return nil, 0, analysisError("Database does not exist: %s", db)
		}
		return nil, 0, analysisError("Table does not exist: %s", qualified(db, st.table))
	}
	src, err := co.insertSource(s, st, op)
	if err != nil {
		return nil, 0, err
	}
	// The target column of each source column.
	targets := make([]int, 0, len(t.cols))
	if st.insCols == nil {
		for i := range t.cols {
			targets = append(targets, i)
		}
	} else {
		seen := map[int]bool{}
		for _, name := range st.insCols {
			ci := -1
			for i, c := range t.cols {
				if c.Name == name {
					ci = i
				}
			}
			if ci < 0 {
				return nil, 0, analysisError("Unknown column '%s' in column permutation", name)
			}
			if seen[ci] {
				return nil, 0, analysisError("Duplicate column '%s' in column permutation", name)
			}
			seen[ci] = true
			targets = append(targets, ci)
		}
	}
	if len(targets) != len(src.types) {
		comparator := "more"
		if len(targets) < len(src.types) {
			comparator = "fewer"
		}
		if st.insCols == nil {
			return nil, 0, analysisError("Target table '%s' has %s columns (%d) than the SELECT / VALUES clause returns (%d)",
				qualified(db, st.table), comparator, len(t.cols), len(src.types))
		}
		return nil, 0, analysisError("Column permutation mentions %s columns (%d) than the SELECT / VALUES clause returns (%d)",
			comparator, len(targets), len(src.types))
	}
	for i, ci := range targets {
		col := t.cols[ci]
		if src.types[i] == col.Type {
			continue
		}
		ct, ok := assignCompatible(src.types[i], src.nulls[i], col.Type, false)
		if !ok {
			return nil, 0, analysisError("Target table '%s' is incompatible with source expressions.\nExpression '%s' (type: %s) is not compatible with column '%s' (type: %s)",
				qualified(db, st.table), src.widest[i], typeName(src.types[i]), col.Name, typeName(col.Type))
		}
		if ct != col.Type && !src.nulls[i] {
			return nil, 0, analysisError("Possible loss of precision for target table '%s'.\nExpression '%s' (type: %s) would need to be cast to %s for column '%s'",
				qualified(db, st.table), src.widest[i], typeName(src.types[i]), typeName(col.Type), col.Name)
		}
	}
	if src.fail != "" {
		// The statement fails at run time: nothing is written.
		op.failMsg = src.fail
		return nil, src.extra, nil
	}
	rows := make([][]any, len(src.rows))
	for r, in := range src.rows {
		row := make([]any, len(t.cols))
		for i, ci := range targets {
			v, err := safeCast(in[i], src.types[i], t.cols[ci].Type)
			if err != nil {
				return nil, 0, err
			}
			row[ci] = v
		}
		rows[r] = row
	}
	t.rowsMu.Lock()
	if st.overwrite {
		t.rows = rows
	} else {
		t.rows = append(t.rows, rows...)
	}
	t.rowsMu.Unlock()
	op.dml = true
	op.modified = int64(len(rows))
	return nil, src.extra, nil
}

// insertSource evaluates an INSERT's VALUES rows, or runs its SELECT.
//
//nolint:gocognit // VALUES rows typed as Impala's SetOperationStmt types them, row by row and column by column, then evaluated
func (co *Coordinator) insertSource(s *session, st *statement, op *operation) (*insertSource, *sqlError) {
	if st.query != nil {
		return co.insertSelect(s, st.query, op)
	}
	src := &insertSource{}
	env := co.evalEnv(s)
	first := st.rows[0]
	for r, row := range st.rows {
		if len(row) != len(first) {
			return nil, analysisError("Operands have unequal number of columns:\n'%s' has %d column(s)\n'%s' has %d column(s)",
				valuesRowSQL(first), len(first), valuesRowSQL(row), len(row))
		}
		sc := &scope{env: env, clause: "VALUES clause"}
		for i, e := range row {
			if err := analyze(e, sc); err != nil {
				return nil, err
			}
			if r == 0 {
				src.types = append(src.types, e.typ)
				src.nulls = append(src.nulls, e.null)
				src.widest = append(src.widest, e.sql())
				continue
			}
			// SetOperationStmt: the rows' types widen to a common one.
			wt, ok := assignCompatible(src.types[i], src.nulls[i], e.typ, e.null)
			if !ok {
				return nil, analysisError("Incompatible return types '%s' and '%s' of exprs '%s' and '%s'.",
					typeName(src.types[i]), typeName(e.typ), src.widest[i], e.sql())
			}
			if wt != src.types[i] && !e.null {
				src.widest[i] = e.sql()
			}
			src.types[i] = wt
			src.nulls[i] = src.nulls[i] && e.null
		}
		src.extra += sc.sleep
		if sc.failMsg != "" && src.fail == "" {
			src.fail = sc.failMsg
		}
	}
	for i, nulls := range src.nulls {
		if nulls {
			src.types[i] = Type{Kind: Boolean}
		}
	}
	for _, row := range st.rows {
		vals := make([]any, len(row))
		for i, e := range row {
			v, uerr := safeEval(e, nil)
			if uerr != nil {
				// A value that fails when it runs fails the statement
				// then, not its analysis.
				if src.fail == "" {
					src.fail = uerr.msg
				}
				continue
			}
			if e.typ != src.types[i] && v != nil {
				var err *sqlError
				if v, err = safeCast(v, e.typ, src.types[i]); err != nil {
					if !err.runtime {
						return nil, err
					}
					if src.fail == "" {
						src.fail = err.msg
					}
				}
			}
			vals[i] = v
		}
		src.rows = append(src.rows, vals)
	}
	return src, nil
}

// insertSelect runs the SELECT of INSERT ... SELECT for its rows.
func (co *Coordinator) insertSelect(s *session, q *statement, op *operation) (*insertSource, *sqlError) {
	res, extra, err := co.runSelect(s, q, op)
	if err != nil {
		return nil, err
	}
	src := &insertSource{extra: extra, fail: op.failMsg}
	op.failMsg = ""
	cols := res.schema()
	for i, c := range cols {
		src.types = append(src.types, c.Type)
		src.nulls = append(src.nulls, false)
		text := c.Name
		if i < len(q.items) && q.items[i].e.kind != "star" {
			text = q.items[i].e.sql()
		}
		src.widest = append(src.widest, text)
	}
	n := res.numRows()
	if n > maxKeptRows {
		return nil, unsupported("INSERT ... SELECT of more than %d rows", maxKeptRows)
	}
	for r := range n {
		row := make([]any, len(cols))
		for c := range cols {
			v, uerr := safeValue(res, c, r)
			if uerr != nil {
				return nil, uerr
			}
			row[c] = v
		}
		src.rows = append(src.rows, row)
	}
	return src, nil
}

// valuesRowSQL is a VALUES row as SetOperationStmt's error prints its
// operand: a SELECT of its expressions.
func valuesRowSQL(row []*expr) string {
	parts := make([]string, len(row))
	for i, e := range row {
		parts[i] = e.sql()
	}
	return "SELECT " + strings.Join(parts, ", ")
}

// warehouse is where the test coordinator says a table without LOCATION
// lives: Hive's warehouse layout (the database directory "<db>.db" except
// for default) under a file system of its own name, since it has none.
const warehouse = "hdfs://impalad-test-coordinator/user/hive/warehouse"

// createTableSQL renders SHOW CREATE TABLE's answer as
// ToSqlUtils.getCreateTableSql (fe/src/main/java/org/apache/impala/analysis/
// ToSqlUtils.java): columns with their comments, the table comment, the
// row format, STORED AS, LOCATION and the TBLPROPERTIES given at CREATE
// TABLE (the ones a metastore adds are not there).
func createTableSQL(t *tableEntry) string {
	m := t.meta
	var b strings.Builder
	b.WriteString("CREATE ")
	if m.external {
		b.WriteString("EXTERNAL ")
	}
	b.WriteString("TABLE " + t.db + "." + t.name + " (\n  ")
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(",\n  ")
		}
		b.WriteString(columnNameSQL(c.Name) + " " + typeName(c.Type))
		if i < len(m.colComments) && m.colComments[i] != "" {
			b.WriteString(" COMMENT '" + m.colComments[i] + "'")
		}
	}
	b.WriteString("\n)\n")
	if m.comment != "" {
		b.WriteString(" COMMENT '" + m.comment + "'\n")
	}
	if m.fieldsTerm != "" || m.linesTerm != "" || m.escapedBy != "" {
		b.WriteString("ROW FORMAT DELIMITED")
		if m.fieldsTerm != "" {
			b.WriteString(" FIELDS TERMINATED BY '" + escapeJava(m.fieldsTerm) + "'")
		}
		if m.escapedBy != "" {
			b.WriteString(" ESCAPED BY '" + escapeJava(m.escapedBy) + "'")
		}
		if m.linesTerm != "" {
			b.WriteString(" LINES TERMINATED BY '" + escapeJava(m.linesTerm) + "'")
		}
		b.WriteString("\n")
	}
	format := m.format
	if format == "" {
		format = "TEXTFILE"
	}
	b.WriteString("STORED AS " + format + "\n")
	loc := m.location
	if loc == "" {
		loc = warehouse + "/"
		if t.db != "default" {
			loc += t.db + ".db/"
		}
		loc += t.name
	}
	b.WriteString("LOCATION '" + loc + "'\n")
	if len(m.props) > 0 {
		parts := make([]string, len(m.props))
		for i, kv := range m.props {
			parts[i] = fmt.Sprintf("'%s'='%s'", kv[0], kv[1])
		}
		b.WriteString("TBLPROPERTIES (" + strings.Join(parts, ", ") + ")")
	}
	return b.String()
}

// columnNameSQL quotes a column name as ToSqlUtils.encodeColumnName does
// when Impala's scanner would not read it as a plain identifier: a
// keyword, a name starting with a digit, one holding # or --. (Impala
// quotes its reserved words, a slightly different set from its keywords.)
func columnNameSQL(name string) string {
	if impalaKeywords[name] || name != "" && name[0] >= '0' && name[0] <= '9' ||
		strings.Contains(name, "#") || strings.Contains(name, "--") {
		return "`" + name + "`"
	}
	return name
}

// escapeJava escapes a delimiter as StringEscapeUtils.escapeJava does for
// the characters a delimiter is made of.
func escapeJava(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			if r < 0x20 || r > 0x7e {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}
