package impalad

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// closeDML runs a DML statement to its end and returns the DML result of
// CloseImpalaOperation.
func (h *hs2Client) closeDML(sql string) *impala.TDmlResult_ {
	h.t.Helper()
	op := h.mustExec(sql)
	st := h.wait(op)
	require.Equal(h.t, tcli.TOperationState_FINISHED_STATE, st.GetOperationState(), st.GetErrorMessage())
	resp, err := h.c.CloseImpalaOperation(context.Background(), &impala.TCloseImpalaOperationReq{OperationHandle: op})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode)
	return resp.DmlResult_
}

// TestIcebergDelete: DELETE runs only on Iceberg (and Kudu) tables of
// format version 2, with a WHERE clause, and reports what it deleted in
// rows_deleted with rows_modified 0 (DmlExecState::ToTDmlResult); an
// INSERT into the same table reports rows_modified and no rows_deleted.
func TestIcebergDelete(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.query("create table ice (id int, s string) stored as iceberg tblproperties ('format-version'='2')")
	h.query("create table ice1 (id int) stored as iceberg tblproperties ('format-version'='1')")
	h.query("create table icedef (id int) stored as iceberg")
	h.query("create table plain (id int)")

	ins := h.closeDML("insert into ice values (1, 'a'), (2, 'b'), (3, NULL), (4, 'd')")
	require.Equal(t, map[string]int64{"": 4}, ins.RowsModified)
	require.False(t, ins.IsSetRowsDeleted(), "an INSERT deletes nothing")
	require.False(t, ins.IsSetNumRowErrors(), "only Kudu tables count row errors")

	del := h.closeDML("delete from ice where id % 2 = 0")
	require.Equal(t, map[string]int64{"": 0}, del.RowsModified, "an Iceberg DELETE modifies no row")
	require.Equal(t, map[string]int64{"": 2}, del.RowsDeleted)
	_, rows := h.query("select id, s from ice order by id")
	require.Equal(t, [][]any{{int32(1), "a"}, {int32(3), nil}}, rows)

	// No FROM, a qualified name, a WHERE that matches nothing.
	del = h.closeDML("delete default.ice where s = 'zz'")
	require.Equal(t, map[string]int64{"": 0}, del.RowsDeleted)

	// A run-time error of the WHERE clause fails the statement and
	// deletes nothing.
	msg := h.runErr("delete from ice where cast(s as decimal(3,0)) is null")
	require.Contains(t, msg, "UDF ERROR")
	_, rows = h.query("select count(*) from ice")
	require.Equal(t, [][]any{{int64(2)}}, rows)

	h.analysisErrors(map[string]string{
		"delete from plain where id = 1":     "Impala only supports modifying Kudu and Iceberg tables, but the following table is neither: default.plain",
		"delete from gen.rows_3 where c = 1": "Impala only supports modifying Kudu and Iceberg tables, but the following table is neither: gen.rows_3",
		"delete from ice1 where id = 1":      "Iceberg V1 table do not support DELETE/UPDATE operations: default.ice1",
		"delete from ice":                    "For deleting every row, please use TRUNCATE.",
		"delete from ice where true":         "For deleting every row, please use TRUNCATE.",
		"delete from ice where id":           "WHERE clause 'id' requires return type 'BOOLEAN'. Actual type is 'INT'.",
		"delete from nope where id = 1":      "Could not resolve table reference: 'nope'",
		"delete from icedef where id = 1":    "not supported by the test coordinator: DELETE on an Iceberg table created without TBLPROPERTIES ('format-version'='2') (Impala's default format version depends on its Iceberg library)",
		"delete ice from ice where id = 1":   "not supported by the test coordinator: DELETE with a FROM clause",
		"show create table ice":              "not supported by the test coordinator: SHOW CREATE TABLE of the Iceberg table default.ice",
		"create table bad (t tinyint) stored as iceberg tblproperties ('format-version'='2')":      "not supported by the test coordinator: column type TINYINT in an Iceberg table (Impala refuses it: Type TINYINT is not supported in Iceberg)",
		"create table bad (i int) stored as iceberg tblproperties ('format-version'='3')":          "not supported by the test coordinator: TBLPROPERTIES ('format-version'='3') on an Iceberg table (only 'format-version' 1 or 2)",
		"create table bad (i int) stored as iceberg location '/x'":                                 "not supported by the test coordinator: LOCATION on an Iceberg table",
		"create external table bad (i int) stored as iceberg tblproperties ('format-version'='2')": "not supported by the test coordinator: CREATE EXTERNAL TABLE ... STORED AS ICEBERG",
		"create table bad (i int) row format delimited fields terminated by ',' stored as iceberg": "not supported by the test coordinator: ROW FORMAT on an Iceberg table",
	})

	// DESCRIBE of an Iceberg table has Impala's "nullable" column.
	cols, rows := h.query("describe ice")
	require.Len(t, cols, 4)
	require.Equal(t, "nullable", cols[3].ColumnName)
	require.Equal(t, [][]any{{"id", "int", "", "true"}, {"s", "string", "", "true"}}, rows)
}

// TestIcebergDeleteBeeswax: beeswax's CloseInsert gives the same DML
// result.
func TestIcebergDeleteBeeswax(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	b.query("create table ice (id int) stored as iceberg tblproperties ('format-version'='2')")
	b.query("insert into ice values (1), (2), (3)")
	ctx := context.Background()
	h, err := b.c.Query(ctx, &beeswax.Query{Query: "delete from ice where id > 1"})
	require.NoError(t, err)
	for range 10000 {
		st, err := b.c.GetState(ctx, h)
		require.NoError(t, err)
		if st == beeswax.QueryState_FINISHED {
			break
		}
		require.NotEqual(t, beeswax.QueryState_EXCEPTION, st)
		time.Sleep(time.Millisecond)
	}
	dr, err := b.c.CloseInsert(ctx, h)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"": 0}, dr.RowsModified)
	require.Equal(t, map[string]int64{"": 2}, dr.RowsDeleted)
}
