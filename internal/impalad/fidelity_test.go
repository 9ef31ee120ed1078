package impalad

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// The tests of this file check the test coordinator against behaviour of
// Impala 4.x read in its source; each names the file it follows.

// openHS2 starts a coordinator with cfg and opens an HS2 session on it.
func openHS2(t *testing.T, cfg Config) (*Coordinator, *hs2Client) {
	t.Helper()
	co := startCoord(t, cfg)
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	return co, h
}

// analysisErrors checks that each statement is refused with its
// AnalysisException.
func (h *hs2Client) analysisErrors(want map[string]string) {
	h.t.Helper()
	for sql, msg := range want {
		require.Equal(h.t, "AnalysisException: "+msg, failedQuery(h.t, h.execErr(sql, nil)), sql)
	}
}

// execErr runs sql and returns the error message ExecuteStatement gave.
func (h *hs2Client) execErr(sql string, overlay map[string]string) string {
	h.t.Helper()
	op, st := h.exec(sql, overlay)
	require.Nil(h.t, op, sql)
	require.Equal(h.t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode, sql)
	return st.GetErrorMessage()
}

// failedQuery strips "Query <id> failed:\n" and the two newlines after the
// status, checking they are there.
func failedQuery(t testing.TB, msg string) string {
	t.Helper()
	require.Regexp(t, `^Query [0-9a-f]{16}:[0-9a-f]{16} failed:\n`, msg)
	require.True(t, strings.HasSuffix(msg, "\n\n"), "%q", msg)
	_, rest, _ := strings.Cut(msg, " failed:\n")
	return strings.TrimSuffix(rest, "\n\n")
}

// runErr runs sql, which Impala accepts and fails while it runs, and
// returns its status (GetOperationStatus's message, unwrapped).
func (h *hs2Client) runErr(sql string) string {
	h.t.Helper()
	op := h.mustExec(sql)
	st := h.wait(op)
	require.Equal(h.t, tcli.TOperationState_ERROR_STATE, st.GetOperationState(), sql)
	return failedQuery(h.t, st.GetErrorMessage())
}

// TestInsertTypeChecks: InsertStmt and StatementBase.checkTypeCompatibility
// (fe/.../analysis/) refuse a value no implicit cast turns into its
// column's type, or only with a possible loss of precision; nothing is
// written.
func TestInsertTypeChecks(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.query("create table t (ti tinyint, i int, s string, d decimal(5,2), v varchar(5), ts timestamp)")
	for _, c := range []struct{ values, want string }{
		{"(300, 1, 'a', 1, NULL, NULL)", "Possible loss of precision for target table 'default.t'.\nExpression '300' (type: SMALLINT) would need to be cast to TINYINT for column 'ti'"},
		{"(1, 10000000000, 'a', 1, NULL, NULL)", "Possible loss of precision for target table 'default.t'.\nExpression '10000000000' (type: BIGINT) would need to be cast to INT for column 'i'"},
		{"(1, 'abc', 'a', 1, NULL, NULL)", "Target table 'default.t' is incompatible with source expressions.\nExpression ''abc'' (type: STRING) is not compatible with column 'i' (type: INT)"},
		{"(1, 1, 'a', 123456.789, NULL, NULL)", "Possible loss of precision for target table 'default.t'.\nExpression '123456.789' (type: DECIMAL(9,3)) would need to be cast to DECIMAL(5,2) for column 'd'"},
		{"(1, 1, 'a', 1, 'abc', NULL)", "Possible loss of precision for target table 'default.t'.\nExpression ''abc'' (type: STRING) would need to be cast to VARCHAR(5) for column 'v'"},
		{"(1, 1, 2, 1, NULL, NULL)", "Target table 'default.t' is incompatible with source expressions.\nExpression '2' (type: TINYINT) is not compatible with column 's' (type: STRING)"},
		// The rows of VALUES widen to a common type; the widest names it.
		{"(1, 1, 'a', 1, NULL, NULL), (300, 1, 'b', 1, NULL, NULL)", "Possible loss of precision for target table 'default.t'.\nExpression '300' (type: SMALLINT) would need to be cast to TINYINT for column 'ti'"},
		{"(1, 1, 'a', 1, NULL, NULL), (1, 'x', 'b', 1, NULL, NULL)", "Incompatible return types 'TINYINT' and 'STRING' of exprs '1' and ''x''."},
		{"(1, 1, 'a', 1, NULL, NULL), (1, 1)", "Operands have unequal number of columns:\n'SELECT 1, 1, 'a', 1, null, null' has 6 column(s)\n'SELECT 1, 1' has 2 column(s)"},
		{"(1, 1)", "Target table 'default.t' has more columns (6) than the SELECT / VALUES clause returns (2)"},
		{"(1, 1, 'a', 1, NULL, NULL, 7)", "Target table 'default.t' has fewer columns (6) than the SELECT / VALUES clause returns (7)"},
	} {
		msg := failedQuery(t, h.execErr("insert into t values "+c.values, nil))
		require.Equal(t, "AnalysisException: "+c.want, msg, c.values)
	}
	_, rows := h.query("select count(*) from t")
	require.Equal(t, [][]any{{int64(0)}}, rows, "nothing written")

	// Implicit casts that lose nothing: widening, NULL, a string for a
	// TIMESTAMP, an integer for a DECIMAL that holds it.
	h.query("insert into t values (1, 2, 'a', 3, cast('abcdefg' as varchar(5)), '2024-01-02 03:04:05'), (-1, 300, NULL, 1.5, NULL, NULL)")
	_, rows = h.query("select ti, i, s, d, v, ts from t order by ti")
	require.Equal(t, [][]any{{int8(-1), int32(300), nil, "1.50", nil, nil}, {int8(1), int32(2), "a", "3.00", "abcde", "2024-01-02 03:04:05"}}, rows)

	// A column permutation: the others get NULL.
	h.query("insert into t (s, i) values ('q', 7)")
	_, rows = h.query("select ti, i, s from t where i = 7")
	require.Equal(t, [][]any{{nil, int32(7), "q"}}, rows)
	h.analysisErrors(map[string]string{
		"insert into t (nope) values (1)":              "Unknown column 'nope' in column permutation",
		"insert into t (i, i) values (1, 2)":           "Duplicate column 'i' in column permutation",
		"insert into t (i, s) values (1)":              "Column permutation mentions more columns (2) than the SELECT / VALUES clause returns (1)",
		"insert into t (i) values (1, 'x')":            "Column permutation mentions fewer columns (1) than the SELECT / VALUES clause returns (2)",
		"insert into t (i) values (cast(1 as bigint))": "Possible loss of precision for target table 'default.t'.\nExpression 'cast(1 as bigint)' (type: BIGINT) would need to be cast to INT for column 'i'",
	})
}

// TestInsertOverwriteAndSelect: INSERT OVERWRITE replaces the rows; VALUES
// may hold expressions that run (InsertStmt over a ValuesStmt), and INSERT
// ... SELECT writes a query's rows.
func TestInsertOverwriteAndSelect(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.query("create table t (i int, s string)")
	h.query("insert into t values (1, 'a'), (2, 'b')")
	h.query("insert overwrite table t values (3, 'c')")
	_, rows := h.query("select i, s from t")
	require.Equal(t, [][]any{{int32(3), "c"}}, rows)

	op := h.mustExec("insert into t (s) values (cast(sleep(10) as string))")
	require.Equal(t, tcli.TOperationState_FINISHED_STATE, h.wait(op).GetOperationState())
	cl, err := h.c.CloseImpalaOperation(context.Background(), &impala.TCloseImpalaOperationReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"": 1}, cl.GetDmlResult_().RowsModified)
	_, rows = h.query("select s from t where i is null")
	require.Equal(t, [][]any{{"true"}}, rows)

	h.query("insert into t select cast(id + 10 as int), string_col from gen.rows_3")
	_, rows = h.query("select count(*) from t")
	require.Equal(t, [][]any{{int64(5)}}, rows)
	// A value that fails when it runs fails the statement; nothing is written.
	require.Equal(t, "UDF ERROR: Cannot divide decimal by zero", h.runErr("insert into t (s) values (cast(1.0 / 0 as string))"))
	_, rows = h.query("select count(*) from t")
	require.Equal(t, [][]any{{int64(5)}}, rows)
}

// TestDecimalCasts: CAST of a DECIMAL to an integer rounds half away from
// zero (DecimalValue::ToInt, be/src/runtime/decimal-value.inline.h); one
// out of range, a DECIMAL division by zero and a string that is no
// DECIMAL fail the statement with a UDF ERROR (DECIMAL_V2,
// be/src/exprs/decimal-operators-ir.cc), while a DOUBLE divided by zero is
// IEEE's infinity (be/src/exprs/operators-ir.cc).
func TestDecimalCasts(t *testing.T) {
	_, h := openHS2(t, Config{})
	_, rows := h.query("select cast(1.9 as tinyint), cast(-2.5 as int), cast(1.4 as bigint), cast(2.5 as smallint), cast(1.9e0 as int)")
	require.Equal(t, [][]any{{int8(2), int32(-3), int64(1), int16(3), int32(1)}}, rows)
	_, rows = h.query("select 1/0, cast(1 as double) / 0")
	require.Equal(t, [][]any{{math.Inf(1), math.Inf(1)}}, rows)
	for sql, want := range map[string]string{
		"select 1.0/0":                       "UDF ERROR: Cannot divide decimal by zero",
		"select 5.5 % 0":                     "UDF ERROR: Cannot divide decimal by zero",
		"select cast(1000.5 as tinyint)":     "UDF ERROR: Decimal expression overflowed",
		"select cast('abc' as decimal(5,2))": "UDF ERROR: String to Decimal parse failed",
		"select cast('12345' as decimal(3))": "UDF ERROR: String to Decimal cast overflowed",
		"select cast(1e10 as int)":           "UDF ERROR: Converting value 10000000000 of type DOUBLE to INT failed, value out of range for destination type.",
		"select cast('2024-13-45' as date)":  "UDF ERROR: String to Date parse failed. Invalid string val: '2024-13-45'",
	} {
		require.Equal(t, want, h.runErr(sql), sql)
	}
	// A row that fails in a larger result fails the fetch that meets it.
	op := h.mustExec("select 1.0 / (id - 1500) from gen.rows_3000")
	require.Equal(t, tcli.TOperationState_FINISHED_STATE, h.wait(op).GetOperationState())
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1024})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, fr.Status.StatusCode)
	fr, err = h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1024})
	require.NoError(t, err)
	require.Equal(t, "UDF ERROR: Cannot divide decimal by zero", failedQuery(t, fr.Status.GetErrorMessage()))
}

// TestFloatText: FLOAT and DOUBLE as text. Beeswax rows print them as
// RawValue::PrintValue at 16 significant digits (be/src/runtime/
// raw-value.cc, query-result-set.cc), CAST(... AS STRING) as
// DoubleToBuffer and FloatToBuffer (be/src/gutil/strings/numbers.cc).
func TestFloatText(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	_, rows := b.query("select cast(1000000 as double), cast(1e6 as float), cast(0.1 as float), 1/0, -1/0, 0/0, 1e300 * 10, 1e-7")
	require.Equal(t, []string{"1000000\t1000000\t0.1000000014901161\tInfinity\t-Infinity\tNaN\t1e+301\t1e-07"}, rows)
	// A select item round(DOUBLE, d) prints with d decimals
	// (ScalarFnCall::OpenEvaluator, be/src/exprs/scalar-fn-call.cc).
	_, rows = b.query("select round(cast(2.5 as double), 2), round(cast(1.23456 as double), 3), round(cast(1.5 as double), 0), 1 + round(cast(1.5 as double), 2)")
	require.Equal(t, []string{"2.50\t1.235\t2\t2.5"}, rows)
	_, rows = b.query("select cast(cast(1e6 as double) as string), cast(cast(0.1 as float) as string), cast(1/0 as string), cast(0/0 as string), cast(1/3 as string), cast(cast(1/3 as float) as string)")
	// 15 digits of 1/3 do not read back as it: 17; 6 of the FLOAT: 8.
	require.Equal(t, []string{"1000000\t0.1\tinf\tnan\t0.33333333333333331\t0.33333334"}, rows)
}

// TestQueryOptionChecks: SET takes only Impala's options, and values as
// SetQueryOption parses them (be/src/service/query-options.cc); so does an
// HS2 overlay, before the statement gets an id
// (TExecuteStatementReqToTQueryContext); OpenSession ignores the keys it
// refuses (impala-hs2-server.cc).
func TestQueryOptionChecks(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	resp := h.open(map[string]string{"no_such_option": "1", "MEM_LIMIT": "junk", "MT_DOP": "4"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode)
	require.Equal(t, "4", resp.Configuration["MT_DOP"])
	require.Equal(t, "0", resp.Configuration["MEM_LIMIT"])
	require.NotContains(t, resp.Configuration, "no_such_option")
	for sql, want := range map[string]string{
		"set no_such_option=1":   "Invalid query option: no_such_option",
		"set mem_limit=lots":     "Failed to parse query option 'MEM_LIMIT': lots",
		"set batch_size=70000":   "Invalid value for query option BATCH_SIZE: 70000 is not in range [0, 65536]",
		"set query_timeout_s=-1": "Invalid value for query option QUERY_TIMEOUT_S: Value must be non-negative: -1",
		"set explain_level=huge": "Invalid explain level: 'huge'. Valid values are MINIMAL(0), STANDARD(1), EXTENDED(2), VERBOSE(3).",
	} {
		require.Equal(t, want, failedQuery(t, h.execErr(sql, nil)), sql)
	}
	require.Equal(t, "Invalid query option: NO_SUCH_OPTION\n", h.execErr("select 1", map[string]string{"NO_SUCH_OPTION": "1"}))
	require.Equal(t, "Failed to parse query option 'FETCH_ROWS_TIMEOUT_MS': soon\n", h.execErr("select 1", map[string]string{"FETCH_ROWS_TIMEOUT_MS": "soon"}))
	// Values as Impala keeps them; a removed option is accepted and ignored.
	h.query("set sync_ddl=TRUE")
	h.query("set explain_level=verbose")
	h.query("set mem_limit=2g")
	h.query("set v_cpu_cores=4")
	_, rows := h.query("set")
	require.Contains(t, rows, []any{"SYNC_DDL", "1", "REGULAR"})
	require.Contains(t, rows, []any{"EXPLAIN_LEVEL", "VERBOSE", "REGULAR"})
	require.Contains(t, rows, []any{"MEM_LIMIT", "2147483648", "REGULAR"})
	_, all := h.query("set all")
	require.Contains(t, all, []any{"V_CPU_CORES", "", "REMOVED"})
	// Beeswax's per-query configuration is checked too.
	b := dialBeeswax(t, co.BeeswaxAddr())
	_, err := b.c.Query(context.Background(), &beeswax.Query{Query: "select 1", Configuration: []string{"no_such_option=1"}})
	var be *beeswax.BeeswaxException
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Invalid query option: no_such_option\n", be.Message)
}

// TestSetResultSet: SET answers a result set of three STRING columns
// (Frontend.createExecRequest), without rows for SET k=v and UNSET ALL
// (client-request-state.cc); UNSET ALL resets every option of the session,
// OpenSession's too; SET k=” resets k; a SET value is the literal as
// written (sql-parser.cup set_stmt, no escapes undone).
func TestSetResultSet(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.open(map[string]string{"REQUEST_POOL": "etl"})
	op := h.mustExec("set mt_dop=2")
	require.True(t, op.HasResultSet)
	h.wait(op)
	md, err := h.c.GetResultSetMetadata(context.Background(), &tcli.TGetResultSetMetadataReq{OperationHandle: op})
	require.NoError(t, err)
	var names []string
	for _, c := range md.Schema.Columns {
		names = append(names, c.ColumnName)
		require.Equal(t, tcli.TTypeId_STRING_TYPE, typeOf(c))
	}
	require.Equal(t, []string{"option", "value", "level"}, names)
	rows, _ := h.fetchAll(op, 100)
	require.Empty(t, rows)

	h.query(`set client_identifier='a\b'`)
	_, rows = h.query("set")
	require.Contains(t, rows, []any{"CLIENT_IDENTIFIER", `a\b`, "ADVANCED"})
	require.Contains(t, rows, []any{"MT_DOP", "2", "REGULAR"})
	h.query("set mt_dop=''")
	_, rows = h.query("set")
	require.Contains(t, rows, []any{"MT_DOP", "", "REGULAR"})
	require.Contains(t, rows, []any{"REQUEST_POOL", "etl", "REGULAR"})
	cols, rows := h.query("unset all")
	require.Len(t, cols, 3)
	require.Empty(t, rows)
	_, rows = h.query("set")
	require.Contains(t, rows, []any{"REQUEST_POOL", "", "REGULAR"})
	require.Contains(t, rows, []any{"CLIENT_IDENTIFIER", "", "ADVANCED"})
}

// TestQueryTimeout: a statement whose client makes no call about it for
// QUERY_TIMEOUT_S is cancelled and unregistered; later calls get its
// status (ImpalaServer::ExpireQueries, GetActiveQueryHandle).
func TestQueryTimeout(t *testing.T) {
	co, h := openHS2(t, Config{})
	op, st := h.exec("select sleep(600000)", map[string]string{"QUERY_TIMEOUT_S": "1"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
	// Stats does not count as the client's activity.
	require.Eventually(t, func() bool { return co.Stats().QueriesExpired == 1 }, 10*time.Second, 10*time.Millisecond)
	id := IDFromGUID(op.OperationId.GUID)
	resp, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, resp.Status.StatusCode)
	require.Equal(t, "Query "+id+" expired due to client inactivity (timeout is 1s000ms)", failedQuery(t, resp.Status.GetErrorMessage()))
	fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
	require.NoError(t, err)
	require.Contains(t, fr.Status.GetErrorMessage(), "expired due to client inactivity")
}

// TestExecTimeLimit: a statement still running (or not fetched to its end)
// after EXEC_TIME_LIMIT_S fails with EXEC_TIME_LIMIT_EXCEEDED.
func TestExecTimeLimit(t *testing.T) {
	co, h := openHS2(t, Config{})
	op, _ := h.exec("select sleep(600000)", map[string]string{"EXEC_TIME_LIMIT_S": "1"})
	st := h.wait(op)
	require.Equal(t, tcli.TOperationState_ERROR_STATE, st.GetOperationState())
	id := IDFromGUID(op.OperationId.GUID)
	require.Equal(t, "Query "+id+" expired due to execution time limit of 1s000ms", failedQuery(t, st.GetErrorMessage()))
	require.Equal(t, int64(1), co.Stats().QueriesExpired)
	// A statement fetched to its end is done: the limit no longer applies.
	op, _ = h.exec("select 1", map[string]string{"EXEC_TIME_LIMIT_S": "1"})
	h.fetchAll(op, 10)
	require.Equal(t, "1s000ms", printTimeS(1))
	require.Equal(t, "1m30s", printTimeS(90))
	require.Equal(t, "2h", printTimeS(7200))
}

// TestCancelIsError: a cancelled statement ends in ERROR_STATE (HS2,
// TestCancelSleep) and in EXCEPTION over beeswax, whose fetch raises a
// BeeswaxException with the status.
func TestCancelIsError(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	ctx := context.Background()
	h, err := b.c.Query(ctx, &beeswax.Query{Query: "select sleep(600000)"})
	require.NoError(t, err)
	_, err = b.c.Cancel(ctx, h)
	require.NoError(t, err)
	st, err := b.c.GetState(ctx, h)
	require.NoError(t, err)
	require.Equal(t, beeswax.QueryState_EXCEPTION, st)
	lg, err := b.c.GetLog(ctx, h.LogContext)
	require.NoError(t, err)
	require.Equal(t, "Query "+h.ID+" failed:\nCancelled\n\n", lg)
	_, err = b.c.Fetch(ctx, h, false, 10)
	var be *beeswax.BeeswaxException
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Query "+h.ID+" failed:\nCancelled\n\n", be.Message)
	require.Equal(t, "HY000", be.SQLState)
}

// TestBeeswaxFidelity: types without parameters, VARCHAR as string
// (TypeToOdbcString, be/src/runtime/types.cc), in the metadata and in
// fetch's columns; no start over; get_results_metadata's failure is an
// undeclared BeeswaxException (a TApplicationException on the wire).
func TestBeeswaxFidelity(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	ctx := context.Background()
	md, _ := b.query("select cast('a' as varchar(3)), cast('b' as char(2)), cast(1 as decimal(9,2)), cast('x' as binary)")
	var types []string
	for _, f := range md.Schema.FieldSchemas {
		types = append(types, f.Type)
	}
	require.Equal(t, []string{"string", "char", "decimal", "binary"}, types)
	h, err := b.c.Query(ctx, &beeswax.Query{Query: "select cast('a' as varchar(3)), 1"})
	require.NoError(t, err)
	r, err := b.c.Fetch(ctx, h, false, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"string", "tinyint"}, r.Columns)
	_, err = b.c.Fetch(ctx, h, true, 10)
	var be *beeswax.BeeswaxException
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Does not support start over", be.Message)
	require.Equal(t, "HYC00", be.SQLState)
	_, err = b.c.GetResultsMetadata(ctx, &beeswax.QueryHandle{ID: "0000000000000001:0000000000000002"})
	var ae thrift.TApplicationException
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Error(), "TException - service has thrown: BeeswaxException(message=Query 0000000000000001:0000000000000002 failed:\n")
}

// TestVersionStrings: the pings say GetVersionString(true), GetInfo's
// CLI_DBMS_VER the build version (odbc-helper.cc).
func TestVersionStrings(t *testing.T) {
	_, h := openHS2(t, Config{})
	ping, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
	require.NoError(t, err)
	require.Equal(t, "impalad version 4.5.0-RELEASE RELEASE (build impalalb-test-coordinator)", ping.GetVersion())
	info, err := h.c.GetInfo(context.Background(), &tcli.TGetInfoReq{SessionHandle: h.sess, InfoType: tcli.TGetInfoType_CLI_DBMS_VER})
	require.NoError(t, err)
	require.Equal(t, "4.5.0-RELEASE", info.InfoValue.GetStringValue())
}

// TestSessionOfAnotherUser: a connection authenticated as one user may not
// use another's session (ScopedSessionState::WithSession,
// UNAUTHORIZED_SESSION_USER).
func TestSessionOfAnotherUser(t *testing.T) {
	co := startCoord(t, Config{Users: map[string]string{"alice": "a-pw", "bob": "b-pw"}, DisableBeeswax: true})
	alice := dialSASL(t, co.HS2Addr(), nil, "alice", "a-pw")
	alice.mustOpen()
	bob := dialSASL(t, co.HS2Addr(), nil, "bob", "b-pw")
	bob.sess = alice.sess
	st := bob.ping()
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
	require.Equal(t, "The user authorized on the connection 'bob' does not match the session username 'alice'\n", st.GetErrorMessage())
	// Alice on a new connection may.
	again := dialSASL(t, co.HS2Addr(), nil, "alice", "a-pw")
	again.sess = alice.sess
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, again.ping().StatusCode)
}

// TestBadPasswordCloses: refused credentials close the connection, no BAD
// frame (Impala's TSaslTransport rethrows; the client sees EOF).
func TestBadPasswordCloses(t *testing.T) {
	co := startCoord(t, Config{Users: map[string]string{"alice": "a-pw"}})
	_, err := trySASL(t, co.HS2Addr(), nil, "alice", "wrong")
	var he *sasl.HandshakeError
	require.ErrorAs(t, err, &he)
	require.False(t, he.Rejected(), "no BAD or ERROR frame")
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
	require.ErrorIs(t, err, sasl.ErrRejected)
}

// TestFetchFillsBatch: with result spooling (SPOOL_QUERY_RESULTS, default
// on) a fetch returns up to its size, at most 102400 rows, 10240 when it
// gives none; without, one row batch of 1024 (buffered-plan-root-sink.cc).
func TestFetchFillsBatch(t *testing.T) {
	_, h := openHS2(t, Config{})
	fetchOnce := func(sql string, overlay map[string]string, max int64) int {
		op, st := h.exec(sql, overlay)
		require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
		fr, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: max})
		require.NoError(t, err)
		return len(decodeColumns(fr.Results.Columns))
	}
	require.Equal(t, 5000, fetchOnce("select id from gen.rows_200000", nil, 5000))
	require.Equal(t, 10240, fetchOnce("select id from gen.rows_200000", nil, 0))
	require.Equal(t, 102400, fetchOnce("select id from gen.rows_200000", nil, 150000))
	require.Equal(t, 1024, fetchOnce("select id from gen.rows_200000", map[string]string{"SPOOL_QUERY_RESULTS": "false"}, 5000))
	require.Equal(t, 3000, fetchOnce("select id + 1 from gen.rows_3000", nil, 5000))
}

// TestPlanningTime: ExecuteStatement answers once the statement is
// planned (Config.PlanningTime); until then no statement is registered.
func TestPlanningTime(t *testing.T) {
	co := startCoord(t, Config{PlanningTime: time.Hour})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	rpcs := co.Stats().RPCs
	done := make(chan error, 1)
	go func() {
		_, err := h.c.ExecuteStatement(context.Background(), &tcli.TExecuteStatementReq{SessionHandle: h.sess, Statement: "select 1"})
		done <- err
	}()
	require.Eventually(t, func() bool { return co.Stats().RPCs > rpcs }, 5*time.Second, time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("ExecuteStatement answered while planning: %v", err)
	default:
	}
	require.Empty(t, co.Statements())
	h.conn.Close() // the connection's end stops the planning
	<-done
	require.Empty(t, co.Statements())
}

// TestParseErrorPosition: ParseException names the line of the error and
// puts the caret under its column; a long line is shown as a window
// (SqlParser.getErrorMsg, common/cup/sql-parser.cup).
func TestParseErrorPosition(t *testing.T) {
	_, h := openHS2(t, Config{})
	require.Equal(t, "ParseException: Syntax error in line 3:\nwhere x yy\n        ^\nEncountered: IDENTIFIER\nExpected: EOF\n\n\nCAUSED BY: Exception: Syntax error",
		failedQuery(t, h.execErr("select a\nfrom t\nwhere x yy", nil)))
	require.Equal(t, "ParseException: Syntax error in line 1:\nselect 1 from\n             ^\nEncountered: EOF\nExpected: IDENTIFIER\n\n\nCAUSED BY: Exception: Syntax error",
		failedQuery(t, h.execErr("select 1 from", nil)))
	require.Equal(t, "ParseException: Syntax error in line 1:\nselect 1 select\n         ^\nEncountered: SELECT\nExpected: EOF\n\n\nCAUSED BY: Exception: Syntax error",
		failedQuery(t, h.execErr("select 1 select", nil)))
	long := "select " + strings.Repeat("aaaa, ", 20) + "bb cc dd, " + strings.Repeat("eeee, ", 20) + "f"
	at := strings.Index(long, "dd")
	lines := strings.Split(failedQuery(t, h.execErr(long, nil)), "\n")
	require.Equal(t, "..."+long[at-26:at+1]+long[at+1:at+28]+"...", lines[1])
	require.Equal(t, strings.Repeat(" ", 29)+"^", lines[2])
	require.Equal(t, "dd", lines[1][29:31])
	require.Equal(t, "ParseException: Unmatched string literal in line 2:\nselect 'abc\n       ^\n\nCAUSED BY: Exception: Unmatched string literal",
		failedQuery(t, h.execErr("select 1,\nselect 'abc", nil)))
}

// TestNamesAsWritten: a table that does not resolve is named as written
// (Analyzer.resolvePaths); DDL names it fully qualified (Analyzer.getTable).
func TestNamesAsWritten(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.analysisErrors(map[string]string{
		"select * from nosuch":     "Could not resolve table reference: 'nosuch'",
		"select * from db.nosuch":  "Could not resolve table reference: 'db.nosuch'",
		"describe nosuch":          "Could not resolve path: 'nosuch'",
		"drop table nosuch":        "Table does not exist: default.nosuch",
		"show create table nosuch": "Table does not exist: default.nosuch",
	})
}

// TestBuiltinsLimits: an Impala builtin the test coordinator lacks fails
// as its limit; a name that is no builtin gets Impala's error
// (FunctionCallExpr).
func TestBuiltinsLimits(t *testing.T) {
	_, h := openHS2(t, Config{})
	require.Equal(t, "AnalysisException: not supported by the test coordinator: the builtin function regexp_replace()",
		failedQuery(t, h.execErr("select regexp_replace('a', 'a', 'b')", nil)))
	require.Equal(t, "AnalysisException: default.no_such_fn() unknown for database default. Currently this db has 0 functions.",
		failedQuery(t, h.execErr("select no_such_fn(1)", nil)))
}

// TestCreateTableClauses: VARCHAR without a length is STRING (sql-parser.cup
// type rule); CREATE EXTERNAL TABLE and its clauses, and SHOW CREATE TABLE
// in ToSqlUtils.getCreateTableSql's layout; clauses the test coordinator
// does not take say so.
func TestCreateTableClauses(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.query("create table plain (v varchar, `select` int)")
	_, rows := h.query("describe plain")
	require.Equal(t, [][]any{{"v", "string", ""}, {"select", "int", ""}}, rows)
	_, rows = h.query("show create table plain")
	require.Equal(t, [][]any{{"CREATE TABLE default.plain (\n  v STRING,\n  `select` INT\n)\nSTORED AS TEXTFILE\nLOCATION '" + warehouse + "/plain'\n"}}, rows)

	h.query("create database d")
	h.query("create external table d.e (a int comment 'the a', b decimal(5,2)) comment 'tc' row format delimited fields terminated by ',' " +
		"stored as parquet location 'hdfs://nn/data/e' tblproperties ('k1'='v1', 'k2'='v2')")
	cols, rows := h.query("show create table d.e")
	require.Equal(t, "result", cols[0].ColumnName)
	require.Equal(t, [][]any{{"CREATE EXTERNAL TABLE d.e (\n  a INT COMMENT 'the a',\n  b DECIMAL(5,2)\n)\n COMMENT 'tc'\n" +
		"ROW FORMAT DELIMITED FIELDS TERMINATED BY ','\nSTORED AS PARQUET\nLOCATION 'hdfs://nn/data/e'\nTBLPROPERTIES ('k1'='v1', 'k2'='v2')"}}, rows)
	_, rows = h.query("describe d.e")
	require.Equal(t, [][]any{{"a", "int", "the a"}, {"b", "decimal(5,2)", ""}}, rows)
	for sql, want := range map[string]string{
		"create table p (a int) partitioned by (b int)": "PARTITIONED BY",
		"create table k (a int, primary key (a))":       "PRIMARY KEY and FOREIGN KEY constraints",
		"create table c as select 1":                    "CREATE TABLE AS",
		"create table o (a int) stored as kudu":         "STORED AS KUDU",
	} {
		require.Equal(t, "AnalysisException: not supported by the test coordinator: "+want, failedQuery(t, h.execErr(sql, nil)), sql)
	}
}

// TestExpressionBounds: a tree deeper than Impala's 1000 levels fails as
// Expr.analyze says, while it is parsed; an IN list is one node, so a long
// one is fine up to Impala's 10000 operands. A statement's allocations stay
// proportional to its text, however long.
func TestExpressionBounds(t *testing.T) {
	_, h := openHS2(t, Config{})
	sum := func(n int) string { return "select 1" + strings.Repeat("+1", n-1) }
	in := func(n int) string {
		return "select id in (" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + ") from gen.rows_3"
	}
	_, rows := h.query(sum(999))
	require.Equal(t, [][]any{{int64(999)}}, rows)
	require.Equal(t, "AnalysisException: Exceeded the maximum depth of an expression tree (1000).", failedQuery(t, h.execErr(sum(1001), nil)))
	require.Equal(t, "AnalysisException: Exceeded the maximum depth of an expression tree (1000).", failedQuery(t, h.execErr(sum(64000), nil)))
	// MAX_STATEMENT_LENGTH_BYTES bounds the text (16 MB by default).
	long := sum(999)
	require.Equal(t, fmt.Sprintf("Statement length of %d bytes exceeds the maximum statement length (1024 bytes)", len(long)),
		failedQuery(t, h.execErr(long, map[string]string{"MAX_STATEMENT_LENGTH_BYTES": "1024"})))
	_, rows = h.query(in(5000))
	require.Equal(t, [][]any{{false}, {true}, {false}}, rows)
	msg := failedQuery(t, h.execErr(in(10001), nil))
	require.True(t, strings.HasPrefix(msg, "AnalysisException: Exceeded the maximum number of child expressions (10000).\nExpression has 10001 children:\nid in (1, 1, "), msg)

	// Memory: bytes allocated per byte of text.
	perByte := func(sql string) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// What is measured is the allocations, whatever the outcome
		// (the longest sums exceed the depth bound).
		if st, err := parse(sql); err == nil {
			_, _, _ = selectFrom(st, &tableSource{name: "gen.rows_3", cols: genSchema, n: 3, gen: true},
				&evalEnv{now: time.Unix(0, 0).UTC(), db: "default"}, &operation{})
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(sql))
	}
	for _, c := range []struct{ small, large string }{
		{sum(400), sum(990)},
		{sum(32000), sum(64000)},
		{in(2000), in(9000)},
	} {
		small, large := perByte(c.small), perByte(c.large)
		require.Less(t, large, 1.5*small, "allocations grow faster than the text (%.0f then %.0f bytes per byte)", small, large)
		require.Less(t, large, 2000.0)
	}
}

// TestMetadataKeys: GetPrimaryKeys and GetCrossReference answer with
// MetadataOp's columns (fe/.../service/MetadataOp.java); the catalog has
// no constraints, so no rows.
func TestMetadataKeys(t *testing.T) {
	_, h := openHS2(t, Config{})
	h.query("create table t (a int)")
	ctx := context.Background()
	pk, err := h.c.GetPrimaryKeys(ctx, &tcli.TGetPrimaryKeysReq{SessionHandle: h.sess, SchemaName: ptr(tcli.TIdentifier("default")), TableName: ptr(tcli.TIdentifier("t"))})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, pk.Status.StatusCode)
	fk, err := h.c.GetCrossReference(ctx, &tcli.TGetCrossReferenceReq{SessionHandle: h.sess, ForeignSchemaName: ptr(tcli.TIdentifier("default")), ForeignTableName: ptr(tcli.TIdentifier("t"))})
	require.NoError(t, err)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, fk.Status.StatusCode)
	for op, want := range map[*tcli.TOperationHandle][]string{
		pk.OperationHandle: {"TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME", "KEQ_SEQ", "PK_NAME"},
		fk.OperationHandle: {"PKTABLE_CAT", "PKTABLE_SCHEM", "PKTABLE_NAME", "PKCOLUMN_NAME", "FKTABLE_CAT", "FKTABLE_SCHEM",
			"FKTABLE_NAME", "FKCOLUMN_NAME", "KEQ_SEQ", "UPDATE_RULE", "DELETE_RULE", "FK_NAME", "PK_NAME", "DEFERRABILITY"},
	} {
		md, err := h.c.GetResultSetMetadata(ctx, &tcli.TGetResultSetMetadataReq{OperationHandle: op})
		require.NoError(t, err)
		var names []string
		for _, c := range md.Schema.Columns {
			names = append(names, c.ColumnName)
		}
		require.Equal(t, want, names)
		rows, _ := h.fetchAll(op, 100)
		require.Empty(t, rows)
	}
}
