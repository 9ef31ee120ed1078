package impalad

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

func typeOf(c *tcli.TColumnDesc) tcli.TTypeId { return c.TypeDesc.Types[0].PrimitiveEntry.Type }

func TestLiteralsHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	cases := []struct {
		sql   string
		label string
		typ   tcli.TTypeId
		want  any
	}{
		{"select 1", "1", tcli.TTypeId_TINYINT_TYPE, int8(1)},
		{"SELECT -300", "-300", tcli.TTypeId_SMALLINT_TYPE, int16(-300)},
		{"select 70000", "70000", tcli.TTypeId_INT_TYPE, int32(70000)},
		{"select 5000000000", "5000000000", tcli.TTypeId_BIGINT_TYPE, int64(5000000000)},
		{"select 1.50", "1.50", tcli.TTypeId_DECIMAL_TYPE, "1.50"},
		{"select 1e3", "1e3", tcli.TTypeId_DOUBLE_TYPE, 1000.0},
		{"select 'Hello'", "'hello'", tcli.TTypeId_STRING_TYPE, "Hello"},
		{"select TRUE", "true", tcli.TTypeId_BOOLEAN_TYPE, true},
		{"select null", "null", tcli.TTypeId_BOOLEAN_TYPE, nil},
		{"select cast(1 as boolean)", "cast(1 as boolean)", tcli.TTypeId_BOOLEAN_TYPE, true},
		{"select cast(300 as tinyint)", "cast(300 as tinyint)", tcli.TTypeId_TINYINT_TYPE, int8(44)},
		{"select cast(7 as smallint)", "cast(7 as smallint)", tcli.TTypeId_SMALLINT_TYPE, int16(7)},
		{"select CAST(7 AS INT)", "cast(7 as int)", tcli.TTypeId_INT_TYPE, int32(7)},
		{"select cast('12' as bigint)", "cast('12' as bigint)", tcli.TTypeId_BIGINT_TYPE, int64(12)},
		{"select cast(1.5 as float)", "cast(1.5 as float)", tcli.TTypeId_FLOAT_TYPE, 1.5},
		{"select cast(2 as double)", "cast(2 as double)", tcli.TTypeId_DOUBLE_TYPE, 2.0},
		{"select cast(3.14159 as decimal(10,2))", "cast(3.14159 as decimal(10,2))", tcli.TTypeId_DECIMAL_TYPE, "3.14"},
		{"select cast(-2.5 as decimal(5,0))", "cast(-2.5 as decimal(5,0))", tcli.TTypeId_DECIMAL_TYPE, "-3"},
		{"select cast(12 as string)", "cast(12 as string)", tcli.TTypeId_STRING_TYPE, "12"},
		{"select cast('abcdef' as varchar(3))", "cast('abcdef' as varchar(3))", tcli.TTypeId_VARCHAR_TYPE, "abc"},
		{"select cast('ab' as char(4))", "cast('ab' as char(4))", tcli.TTypeId_CHAR_TYPE, "ab  "},
		{"select cast('2024-02-03 04:05:06.5' as timestamp)", "cast('2024-02-03 04:05:06.5' as timestamp)", tcli.TTypeId_TIMESTAMP_TYPE, "2024-02-03 04:05:06.500000000"},
		{"select cast('2024-02-03' as timestamp)", "cast('2024-02-03' as timestamp)", tcli.TTypeId_TIMESTAMP_TYPE, "2024-02-03 00:00:00"},
		{"select cast('2024-02-03' as date)", "cast('2024-02-03' as date)", tcli.TTypeId_DATE_TYPE, "2024-02-03"},
		{"select cast('xyz' as binary)", "cast('xyz' as binary)", tcli.TTypeId_BINARY_TYPE, []byte("xyz")},
		{"select cast('nope' as int)", "cast('nope' as int)", tcli.TTypeId_INT_TYPE, nil},
		{"select cast(null as date)", "cast(null as date)", tcli.TTypeId_DATE_TYPE, nil},
		{"select 1 as one", "one", tcli.TTypeId_TINYINT_TYPE, int8(1)},
		{"select sleep(1)", "sleep(1)", tcli.TTypeId_BOOLEAN_TYPE, true},
		{"select count(*);", "count(*)", tcli.TTypeId_BIGINT_TYPE, int64(1)},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			cols, rows := h.query(c.sql)
			require.Len(t, cols, 1)
			require.Equal(t, c.label, cols[0].ColumnName)
			require.Equal(t, c.typ, typeOf(cols[0]))
			require.Equal(t, [][]any{{c.want}}, rows)
		})
	}
	// Several items, qualifiers.
	cols, rows := h.query("select 1, 'a', cast(1 as decimal(12,4)) d, cast('x' as varchar(7))")
	require.Len(t, cols, 4)
	require.Equal(t, [][]any{{int8(1), "a", "1.0000", "x"}}, rows)
	q := cols[2].TypeDesc.Types[0].PrimitiveEntry.TypeQualifiers.Qualifiers
	require.Equal(t, int32(12), q["precision"].GetI32Value())
	require.Equal(t, int32(4), q["scale"].GetI32Value())
	require.Equal(t, int32(7), cols[3].TypeDesc.Types[0].PrimitiveEntry.TypeQualifiers.Qualifiers["characterMaximumLength"].GetI32Value())
}

func TestErrorsHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	for _, c := range []struct{ sql, want string }{
		{"selec 1", "ParseException"},
		{"select * from nosuch", "AnalysisException: Could not resolve table reference: 'nosuch'"},
		{"select x", "AnalysisException: Could not resolve column/field reference: 'x'"},
		{"use nodb", "AnalysisException: Database does not exist: nodb"},
		{"select 'unterminated", "ParseException"},
		{"create table t (a nosuchtype)", "AnalysisException: Unsupported data type: NOSUCHTYPE"},
		{"create table t (a decimal(39, 2))", "AnalysisException: Decimal precision must be <= 38: 39"},
		{"create table t (a decimal(5, 6))", "AnalysisException: Decimal scale (6) must be <= precision (5)"},
		{"create table t (a char(256))", "AnalysisException: Char size must be <= 255: 256"},
		{"drop database default", "AnalysisException: Cannot drop current default database: default"},
		{"select foo(1)", "AnalysisException"},
		{"", "ParseException"},
	} {
		op, st := h.exec(c.sql, nil)
		require.Nil(t, op, c.sql)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode, c.sql)
		require.Contains(t, st.GetErrorMessage(), c.want, c.sql)
		require.Equal(t, "HY000", st.GetSqlState())
	}
	require.Equal(t, int64(12), co.Stats().StatementsRejected)
	require.Equal(t, int64(0), co.Stats().StatementsExecuted)

	// A run-time failure: the statement is accepted, then fails.
	op := h.mustExec("select fail('boom')")
	st := h.wait(op)
	require.Equal(t, tcli.TOperationState_ERROR_STATE, st.GetOperationState())
	require.Equal(t, queryFailed(IDFromGUID(op.OperationId.GUID), "boom"), st.GetErrorMessage())
	lg, err := h.c.GetLog(context.Background(), &tcli.TGetLogReq{OperationHandle: op})
	require.NoError(t, err)
	require.Contains(t, lg.Log, "boom")
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, fr.Status.StatusCode)
}

func TestGenTableHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	const n = 3000
	op := h.mustExec("select * from gen.rows_3000")
	h.wait(op)
	md, err := h.c.GetResultSetMetadata(context.Background(), &tcli.TGetResultSetMetadataReq{OperationHandle: op})
	require.NoError(t, err)
	schema := GenSchema()
	require.Len(t, md.Schema.Columns, len(schema))
	for i, c := range md.Schema.Columns {
		require.Equal(t, schema[i].Name, c.ColumnName)
		require.Equal(t, hs2TypeID(schema[i].Type.Kind), typeOf(c))
	}
	rows, batches := h.fetchAll(op, 5000)
	require.Len(t, rows, n)
	require.Equal(t, 1, batches) // result spooling fills the fetch
	nulls := make([]int, len(schema))
	for r, row := range rows {
		for c, got := range row {
			want := GenValue(c, int64(r))
			if want == nil {
				nulls[c]++
				require.Nil(t, got)
				continue
			}
			switch w := want.(type) {
			case float32:
				require.Equal(t, float64(w), got)
			case int8, int16, int32, int64, bool, float64, []byte:
				require.Equal(t, want, got, "row %d col %d", r, c)
			default:
				require.Equal(t, FormatValue(schema[c].Type, want), got, "row %d col %d", r, c)
			}
		}
	}
	require.Zero(t, nulls[0])
	for c := 1; c < len(schema); c++ {
		require.Positive(t, nulls[c], schema[c].Name)
	}

	// Projection, LIMIT, count(*), small fetch sizes.
	cols, rows := h.query("select id, string_col from gen.rows_100 limit 5")
	require.Equal(t, "string_col", cols[1].ColumnName)
	require.Len(t, rows, 5)
	require.Equal(t, int64(4), rows[4][0])
	_, rows = h.query("select count(*) from gen.rows_123456")
	require.Equal(t, [][]any{{int64(123456)}}, rows)
	op = h.mustExec("select * from gen.rows_10")
	rows, batches = h.fetchAll(op, 3)
	require.Len(t, rows, 10)
	require.Equal(t, 4, batches)
	_, rows = h.query("describe gen.rows_1")
	require.Len(t, rows, len(schema))
	require.Equal(t, []any{"decimal_col", "decimal(10,2)", ""}, rows[8])
}

func TestDDLAndDMLHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	_, rows := h.query("create database sales")
	require.Equal(t, [][]any{{"Database has been created."}}, rows)
	h.query("use sales")
	_, rows = h.query("CREATE TABLE t1 (id INT, name STRING, price DECIMAL(8,2), d DATE) STORED AS PARQUET")
	require.Equal(t, [][]any{{"Table has been created."}}, rows)
	_, rows = h.query("create table if not exists t1 (id int)")
	require.Equal(t, [][]any{{"Table already exists."}}, rows)
	_, st := h.exec("create table t1 (id int)", nil)
	require.Contains(t, st.GetErrorMessage(), "Table already exists: sales.t1")

	op := h.mustExec("insert into t1 values (1, 'a', 1.5, '2024-01-02'), (2, NULL, 2, NULL)")
	require.False(t, op.HasResultSet)
	s := h.wait(op)
	require.False(t, s.IsSetNumModifiedRows(), "Impala's GetOperationStatus sets no numModifiedRows")
	cl, err := h.c.CloseImpalaOperation(context.Background(), &impala.TCloseImpalaOperationReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"": 2}, cl.DmlResult_.RowsModified)

	cols, rows := h.query("select * from t1")
	require.Equal(t, "price", cols[2].ColumnName)
	require.Equal(t, [][]any{{int32(1), "a", "1.50", "2024-01-02"}, {int32(2), nil, "2.00", nil}}, rows)
	_, rows = h.query("select count(*) from sales.t1")
	require.Equal(t, [][]any{{int64(2)}}, rows)
	_, rows = h.query("select name from t1 limit 1")
	require.Equal(t, [][]any{{"a"}}, rows)
	_, rows = h.query("show tables")
	require.Equal(t, [][]any{{"t1"}}, rows)
	_, rows = h.query("show tables in default")
	require.Empty(t, rows)
	_, rows = h.query("describe t1")
	require.Equal(t, []any{"id", "int", ""}, rows[0])
	_, rows = h.query("show databases")
	var names []string
	for _, r := range rows {
		names = append(names, r[0].(string))
	}
	require.Equal(t, []string{"_impala_builtins", "default", "gen", "sales"}, names)
	_, st = h.exec("insert into t1 values (1)", nil)
	require.Contains(t, st.GetErrorMessage(), "has more columns")
	_, rows = h.query("drop table t1")
	require.Equal(t, [][]any{{"Table has been dropped."}}, rows)
	_, st = h.exec("select * from t1", nil)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
	_, rows = h.query("drop table if exists t1")
	require.Equal(t, [][]any{{"Table does not exist."}}, rows)
	h.query("use default")
	h.query("drop database sales")
}

func TestSetOptions(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	resp := h.open(map[string]string{"MEM_LIMIT": "1g", "use:database": "default"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode)
	require.Equal(t, tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6, resp.ServerProtocolVersion)
	require.Contains(t, resp.Configuration, "http_addr")
	h.query("set sync_ddl=1")
	h.query("SET request_pool = 'small'")
	cols, rows := h.query("set")
	require.Equal(t, "option", cols[0].ColumnName)
	got := map[string]string{}
	for _, r := range rows {
		got[r[0].(string)] = r[1].(string)
	}
	require.Equal(t, "1073741824", got["MEM_LIMIT"]) // as SetQueryOption parsed it
	require.Equal(t, "small", got["REQUEST_POOL"])
	require.Equal(t, "1", got["SYNC_DDL"])
	require.Equal(t, "10000", got["FETCH_ROWS_TIMEOUT_MS"])
	// A per-statement overlay does not stick.
	op, st := h.exec("set", map[string]string{"MT_DOP": "2"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
	withOverlay, _ := h.fetchAll(op, 1000)
	require.Contains(t, withOverlay, []any{"MT_DOP", "2", "REGULAR"})
	_, again := h.query("set")
	require.Contains(t, again, []any{"MT_DOP", "", "REGULAR"})
	// SET ALL lists the DEVELOPMENT, DEPRECATED and REMOVED options too.
	_, all := h.query("set all")
	require.Greater(t, len(all), len(again))
	require.Contains(t, all, []any{"BATCH_SIZE", "0", "DEVELOPMENT"})
	// An empty value resets the option to its default.
	h.query("set mem_limit=''")
	_, rows = h.query("set")
	require.Contains(t, rows, []any{"MEM_LIMIT", "0", "REGULAR"})
}

func TestGetInfoAndProfile(t *testing.T) {
	co := startCoord(t, Config{Version: "9.9.9"})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	ctx := context.Background()
	info, err := h.c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: h.sess, InfoType: tcli.TGetInfoType_CLI_DBMS_NAME})
	require.NoError(t, err)
	require.Equal(t, "Impala", info.InfoValue.GetStringValue())
	info, err = h.c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: h.sess, InfoType: tcli.TGetInfoType_CLI_DBMS_VER})
	require.NoError(t, err)
	require.Equal(t, "9.9.9", info.InfoValue.GetStringValue())
	info, err = h.c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: h.sess, InfoType: tcli.TGetInfoType_CLI_MAX_ROW_SIZE})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, info.Status.StatusCode)

	op := h.mustExec("select * from gen.rows_5")
	h.wait(op)
	sum, err := h.c.GetExecSummary(ctx, &impala.TGetExecSummaryReq{OperationHandle: op, SessionHandle: h.sess})
	require.NoError(t, err)
	require.Equal(t, impala.TExecState_FINISHED, sum.Summary.State)
	require.Equal(t, sum.Summary.Progress.GetTotalScanRanges(), sum.Summary.Progress.GetNumCompletedScanRanges())
	prof, err := h.c.GetRuntimeProfile(ctx, &impala.TGetRuntimeProfileReq{OperationHandle: op, SessionHandle: h.sess})
	require.NoError(t, err)
	id := IDFromGUID(op.OperationId.GUID)
	require.Contains(t, prof.GetProfile(), "Query (id="+id+")")
	require.Contains(t, prof.GetProfile(), "Sql Statement: select * from gen.rows_5")
	require.Equal(t, id, co.Statements()[0].ID)
	require.Equal(t, IDFromGUID(h.sess.SessionId.GUID), co.Statements()[0].SessionID)

	ping, err := h.c.PingImpalaHS2Service(ctx, &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
	require.NoError(t, err)
	require.Equal(t, "impalad version 9.9.9 RELEASE (build impalalb-test-coordinator)", ping.GetVersion())
	require.Regexp(t, `^http://127\.0\.0\.1:25000$`, ping.GetWebserverAddress())
}

func TestRowBasedProtocol(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	resp, err := h.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5})
	require.NoError(t, err)
	require.Equal(t, tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V5, resp.ServerProtocolVersion)
	h.sess = resp.SessionHandle
	op := h.mustExec("select 1, 'a', null, cast(2.5 as float)")
	h.wait(op)
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
	require.NoError(t, err)
	require.Len(t, fr.Results.Rows, 1)
	v := fr.Results.Rows[0].ColVals
	require.Equal(t, int8(1), v[0].ByteVal.GetValue())
	require.Equal(t, "a", v[1].StringVal.GetValue())
	require.False(t, v[2].BoolVal.IsSetValue())
	require.Equal(t, 2.5, v[3].DoubleVal.GetValue())

	// A client asking for more than V6 gets V6.
	h2 := dialHS2(t, co.HS2Addr())
	resp, err = h2.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10})
	require.NoError(t, err)
	require.Equal(t, tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6, resp.ServerProtocolVersion)
}

func TestCancelSleep(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select sleep(600000)")
	st, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, tcli.TOperationState_RUNNING_STATE, st.GetOperationState())
	c, err := h.c.CancelOperation(context.Background(), &tcli.TCancelOperationReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, c.Status.StatusCode)
	id := IDFromGUID(op.OperationId.GUID)
	st = h.wait(op)
	require.Equal(t, tcli.TOperationState_ERROR_STATE, st.GetOperationState())
	require.Equal(t, queryFailed(id, "Cancelled"), st.GetErrorMessage())
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, fr.Status.StatusCode)
	require.Equal(t, queryFailed(id, "Cancelled"), fr.Status.GetErrorMessage())
}

func TestFetchRowsTimeout(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op, st := h.exec("select sleep(600000)", map[string]string{"FETCH_ROWS_TIMEOUT_MS": "5"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
	require.NoError(t, err)
	// Impala's answer: still executing, more rows to come, no row set.
	require.Equal(t, tcli.TStatusCode_STILL_EXECUTING_STATUS, fr.Status.StatusCode)
	require.True(t, fr.GetHasMoreRows())
	require.Nil(t, fr.Results)
}
