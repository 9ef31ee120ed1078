package impalad

import (
	"time"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
)

// Iceberg tables, as far as the test coordinator keeps them: CREATE TABLE
// ... STORED AS ICEBERG with its 'format-version', rows as any table's,
// INSERT, SELECT, DESCRIBE (with Iceberg's "nullable" column) and DELETE,
// which Impala runs only on Kudu and Iceberg tables and reports in
// CloseImpalaOperation's dml_result as deleted rows, rows_modified 0.
// What Impala does with an Iceberg table beyond that (partition
// transforms, other table properties, SHOW CREATE TABLE, UPDATE, MERGE)
// is "not supported by the test coordinator".

// icebergFormat is tableMeta.format for STORED AS ICEBERG.
const icebergFormat = "ICEBERG"

// icebergTypes are the column types an Iceberg table can hold: those
// IcebergSchemaConverter.fromImpalaType maps (fe/.../util/
// IcebergSchemaConverter.java); it refuses the others ("Type TINYINT is not
// supported in Iceberg").
var icebergTypes = map[Kind]bool{Boolean: true, Int: true, BigInt: true, Float: true, Double: true,
	String: true, Date: true, Binary: true, Timestamp: true, Decimal: true}

// checkIcebergCreate refuses, as limits of the test coordinator, what of a
// CREATE TABLE ... STORED AS ICEBERG it does not model: an EXTERNAL table,
// ROW FORMAT, LOCATION, table properties other than 'format-version' (1 or
// 2), and the column types Iceberg has no equivalent for (Impala fails
// those in the catalog).
func checkIcebergCreate(st *statement) *sqlError {
	m := st.meta
	switch {
	case m.external:
		return unsupported("CREATE EXTERNAL TABLE ... STORED AS ICEBERG")
	case m.fieldsTerm != "" || m.linesTerm != "" || m.escapedBy != "":
		return unsupported("ROW FORMAT on an Iceberg table")
	case m.location != "":
		return unsupported("LOCATION on an Iceberg table")
	}
	for _, kv := range m.props {
		if kv[0] != "format-version" || kv[1] != "1" && kv[1] != "2" {
			return unsupported("TBLPROPERTIES ('%s'='%s') on an Iceberg table (only 'format-version' 1 or 2)", kv[0], kv[1])
		}
	}
	for _, c := range st.cols {
		if !icebergTypes[c.Type.Kind] {
			return unsupported("column type %s in an Iceberg table (Impala refuses it: Type %s is not supported in Iceberg)", typeName(c.Type), typeName(c.Type))
		}
	}
	return nil
}

// icebergFormatVersion is the table's 'format-version' property, 0 when
// CREATE TABLE gave none (Impala then takes its Iceberg library's default,
// which depends on its build).
func icebergFormatVersion(m tableMeta) int {
	for _, kv := range m.props {
		if kv[0] == "format-version" {
			return int(kv[1][0] - '0')
		}
	}
	return 0
}

// deleteStmt parses the rest of DELETE [FROM] [db.]t [WHERE <expr>]
// (sql-parser.cup delete_stmt); the form with a FROM clause after the
// target (a join) is not supported here.
func (p *parser) deleteStmt() (*statement, error) {
	p.accept("from")
	db, tbl, err := p.tableName()
	if err != nil {
		return nil, err
	}
	st := &statement{kind: stDelete, db: db, table: tbl}
	if p.isKw("from") {
		return nil, unsupported("DELETE with a FROM clause")
	}
	if p.accept("where") {
		if st.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	return st, p.done()
}

// runDelete runs a DELETE as Impala analyzes it (ModifyStmt.analyze,
// IcebergModifyImpl.analyze, IcebergDeleteImpl.analyze in fe/.../
// analysis/): the table must resolve, be a Kudu or Iceberg table, and an
// Iceberg table of format version 2; a DELETE without a WHERE clause (or
// WHERE TRUE) is refused in favour of TRUNCATE. The rows the WHERE clause
// keeps are deleted; the count goes in the DML result's rows_deleted, and
// rows_modified stays 0, as the position deletes of an Iceberg table are
// counted (DmlExecState::UpdatePartition with is_delete, be/src/runtime/
// dml-exec-state.cc). A run-time error of the WHERE clause fails the
// statement and deletes nothing.
func (co *Coordinator) runDelete(s *session, st *statement, db string, op *operation) (res result, extra time.Duration, serr *sqlError) {
	cols, _, _, err := co.source(db, st.table, rawName(st.db, st.table), "table reference")
	if err != nil {
		return nil, 0, err
	}
	var t *tableEntry
	if db != "gen" {
		t, _ = co.cluster.table(co.member, db, st.table)
	}
	if t == nil || t.meta.format != icebergFormat {
		return nil, 0, analysisError("Impala only supports modifying Kudu and Iceberg tables, but the following table is neither: %s", qualified(db, st.table))
	}
	switch icebergFormatVersion(t.meta) {
	case 1:
		return nil, 0, analysisError("Iceberg V1 table do not support DELETE/UPDATE operations: %s", qualified(db, st.table))
	case 0:
		return nil, 0, unsupported("DELETE on an Iceberg table created without TBLPROPERTIES ('format-version'='2') (Impala's default format version depends on its Iceberg library)")
	}
	if w := st.where; w == nil || w.kind == "lit" && w.val == true {
		return nil, 0, analysisError("For deleting every row, please use TRUNCATE.")
	}
	sc := &scope{cols: cols, env: co.evalEnv(s), clause: "WHERE clause"}
	if err := analyze(st.where, sc); err != nil {
		return nil, 0, err
	}
	if st.where.typ.Kind != Boolean {
		return nil, 0, analysisError("WHERE clause '%s' requires return type 'BOOLEAN'. Actual type is '%s'.", st.where.sql(), typeName(st.where.typ))
	}
	op.dml, op.deletes = true, true
	if sc.failMsg != "" {
		op.failMsg = sc.failMsg
		return nil, sc.sleep, nil
	}
	n, uerr := t.deleteWhere(st.where)
	if uerr != nil {
		op.failMsg = uerr.msg
		return nil, sc.sleep, nil
	}
	op.deleted = n
	return nil, sc.sleep, nil
}

// deleteWhere removes the rows for which where is true and returns how
// many. The table's rows are replaced, never changed in place, so that a
// SELECT's snapshot stays what it was. A run-time error of where removes
// nothing.
func (t *tableEntry) deleteWhere(where *expr) (n int64, err *sqlError) {
	defer recoverUDF(&err)
	t.rowsMu.Lock()
	defer t.rowsMu.Unlock()
	src := &tableSource{cols: t.cols, n: int64(len(t.rows)), rows: t.rows}
	ref := &rowRef{src: src}
	keep := make([][]any, 0, len(t.rows))
	for i := range src.n {
		ref.i = i
		if where.eval(ref.get) == true {
			n++
			continue
		}
		keep = append(keep, t.rows[i])
	}
	t.rows = keep
	return n, nil
}

// dmlResult is the TDmlResult of a finished DML statement, as
// DmlExecState::ToTDmlResult builds it for the one partition ("", the
// root of an unpartitioned table) the test coordinator writes:
// rows_modified always, rows_deleted for a DELETE, num_row_errors never:
// ToTDmlResult sets it only when a partition has Kudu stats, and the test
// coordinator has no Kudu tables (impala-shell prints ", 0 row error(s)"
// only for Kudu).
func (op *operation) dmlResult() *impala.TDmlResult_ {
	r := &impala.TDmlResult_{RowsModified: map[string]int64{"": op.modified}}
	if op.deletes {
		r.RowsDeleted = map[string]int64{"": op.deleted}
	}
	return r
}
