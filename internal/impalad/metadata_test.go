package impalad

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// metaResult fetches a metadata operation like a statement: status,
// result set metadata, rows, then CloseImpalaOperation. It returns the
// column names and the rows.
func (h *hs2Client) metaResult(st *tcli.TStatus, op *tcli.TOperationHandle, typ tcli.TOperationType) ([]string, [][]any) {
	h.t.Helper()
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode, st.GetErrorMessage())
	require.NotNil(h.t, op)
	require.Equal(h.t, typ, op.OperationType)
	require.True(h.t, op.HasResultSet)
	s := h.wait(op)
	require.Equal(h.t, tcli.TOperationState_FINISHED_STATE, s.GetOperationState())
	md, err := h.c.GetResultSetMetadata(context.Background(), &tcli.TGetResultSetMetadataReq{OperationHandle: op})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, md.Status.StatusCode)
	var names []string
	for _, c := range md.Schema.Columns {
		names = append(names, c.ColumnName)
	}
	rows, _ := h.fetchAll(op, 1024)
	cl, err := h.c.CloseImpalaOperation(context.Background(), &impala.TCloseImpalaOperationReq{OperationHandle: op})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, cl.Status.StatusCode)
	// Closed: a second close fails as for a statement.
	cl2, err := h.c.CloseOperation(context.Background(), &tcli.TCloseOperationReq{OperationHandle: op})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_ERROR_STATUS, cl2.Status.StatusCode)
	return names, rows
}

func (h *hs2Client) schemas(catalog *string, schema *string) [][]any {
	h.t.Helper()
	r, err := h.c.GetSchemas(context.Background(), &tcli.TGetSchemasReq{SessionHandle: h.sess,
		CatalogName: (*tcli.TIdentifier)(catalog), SchemaName: (*tcli.TPatternOrIdentifier)(schema)})
	require.NoError(h.t, err)
	names, rows := h.metaResult(r.Status, r.OperationHandle, tcli.TOperationType_GET_SCHEMAS)
	require.Equal(h.t, []string{"TABLE_SCHEM", "TABLE_CATALOG"}, names)
	return rows
}

func (h *hs2Client) tables(schema, table *string, types []string) [][]any {
	h.t.Helper()
	r, err := h.c.GetTables(context.Background(), &tcli.TGetTablesReq{SessionHandle: h.sess,
		SchemaName: (*tcli.TPatternOrIdentifier)(schema), TableName: (*tcli.TPatternOrIdentifier)(table), TableTypes: types})
	require.NoError(h.t, err)
	names, rows := h.metaResult(r.Status, r.OperationHandle, tcli.TOperationType_GET_TABLES)
	require.Equal(h.t, []string{"TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE", "REMARKS"}, names)
	return rows
}

func (h *hs2Client) columns(schema, table, column *string) [][]any {
	h.t.Helper()
	r, err := h.c.GetColumns(context.Background(), &tcli.TGetColumnsReq{SessionHandle: h.sess,
		SchemaName: (*tcli.TPatternOrIdentifier)(schema), TableName: (*tcli.TPatternOrIdentifier)(table),
		ColumnName: (*tcli.TPatternOrIdentifier)(column)})
	require.NoError(h.t, err)
	names, rows := h.metaResult(r.Status, r.OperationHandle, tcli.TOperationType_GET_COLUMNS)
	require.Equal(h.t, []string{"TABLE_CAT", "TABLE_MD", "TABLE_NAME", "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME",
		"COLUMN_SIZE", "BUFFER_LENGTH", "DECIMAL_DIGITS", "NUM_PREC_RADIX", "NULLABLE", "REMARKS", "COLUMN_DEF",
		"SQL_DATA_TYPE", "SQL_DATETIME_SUB", "CHAR_OCTET_LENGTH", "ORDINAL_POSITION", "IS_NULLABLE",
		"SCOPE_CATALOG", "SCOPE_SCHEMA", "SCOPE_TABLE", "SOURCE_DATA_TYPE", "IS_AUTO_INCREMENT"}, names)
	return rows
}

// cols picks the values at idx of each row, for short comparisons.
func cols(rows [][]any, idx ...int) [][]any {
	out := [][]any{}
	for _, r := range rows {
		var o []any
		for _, i := range idx {
			o = append(o, r[i])
		}
		out = append(out, o)
	}
	return out
}

func TestMetadataCalls(t *testing.T) {
	co := startCoord(t, Config{DisableBeeswax: true})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	for _, q := range []string{
		"create database sales", "create database sales_eu",
		"create table sales.orders (id int, amount decimal(10,2), note varchar(20), at timestamp)",
		"create table sales.order_lines (id bigint, flag boolean)",
		"create table sales_eu.orders (id int)",
		"create table default.t_1 (x double, y string, z char(3), d date)",
		"create table default.tx1 (x float)",
	} {
		h.query(q)
	}

	t.Run("GetSchemas", func(t *testing.T) {
		all := [][]any{{"_impala_builtins", ""}, {"default", ""}, {"gen", ""}, {"sales", ""}, {"sales_eu", ""}}
		require.Equal(t, all, h.schemas(nil, nil))
		require.Equal(t, all, h.schemas(nil, ptr("")))
		require.Equal(t, all, h.schemas(nil, ptr("%")))
		require.Equal(t, all, h.schemas(nil, ptr(".*"))) // impyla's default, a regex in Impala
		require.Equal(t, all, h.schemas(ptr(""), nil))
		require.Equal(t, [][]any{{"sales", ""}, {"sales_eu", ""}}, h.schemas(nil, ptr("sales%")))
		require.Equal(t, [][]any{{"sales", ""}}, h.schemas(nil, ptr("SALES")))
		require.Equal(t, [][]any{{"default", ""}}, h.schemas(nil, ptr("d_fault")))
		require.Equal(t, [][]any{{"sales_eu", ""}}, h.schemas(nil, ptr(`sales\_%`)))
		require.Empty(t, h.schemas(nil, ptr("nope")))
		require.Empty(t, h.schemas(ptr("hive"), nil)) // Impala has no catalogs
	})

	t.Run("GetTables", func(t *testing.T) {
		require.Equal(t, [][]any{
			{"", "default", "t_1", "TABLE", ""}, {"", "default", "tx1", "TABLE", ""},
			{"", "sales", "order_lines", "TABLE", ""}, {"", "sales", "orders", "TABLE", ""},
			{"", "sales_eu", "orders", "TABLE", ""},
		}, h.tables(nil, nil, nil))
		require.Equal(t, [][]any{{"sales", "orders"}, {"sales_eu", "orders"}}, cols(h.tables(ptr("%"), ptr("orders"), nil), 1, 2))
		require.Equal(t, [][]any{{"sales", "order_lines"}, {"sales", "orders"}}, cols(h.tables(ptr("sales"), ptr("order%"), nil), 1, 2))
		// _ matches any one character; \_ only itself.
		require.Equal(t, [][]any{{"t_1"}, {"tx1"}}, cols(h.tables(ptr("default"), ptr("t_1"), nil), 2))
		require.Equal(t, [][]any{{"t_1"}}, cols(h.tables(ptr("default"), ptr(`t\_1`), nil), 2))
		require.Equal(t, [][]any{{"sales", "orders"}}, cols(h.tables(ptr("sales"), ptr("orders"), []string{"table", "VIEW"}), 1, 2))
		require.Empty(t, h.tables(nil, nil, []string{"VIEW"}))
		// gen's tables are virtual: none listed, as SHOW TABLES.
		require.Empty(t, h.tables(ptr("gen"), nil, nil))
		require.Empty(t, h.tables(ptr("gen"), ptr("rows_5"), nil))
	})

	t.Run("GetColumns", func(t *testing.T) {
		rows := h.columns(ptr("sales"), ptr("orders"), nil)
		maxInt := int32(math.MaxInt32)
		require.Equal(t, [][]any{
			{nil, "sales", "orders", "id", int32(4), "INT", int32(10), nil, int32(0), int32(10), int32(1),
				nil, nil, nil, nil, nil, int32(1), "YES", nil, nil, nil, nil, "NO"},
			{nil, "sales", "orders", "amount", int32(3), "DECIMAL", int32(10), nil, int32(2), int32(10), int32(1),
				nil, nil, nil, nil, nil, int32(2), "YES", nil, nil, nil, nil, "NO"},
			{nil, "sales", "orders", "note", int32(12), "VARCHAR", int32(20), nil, nil, nil, int32(1),
				nil, nil, nil, nil, nil, int32(3), "YES", nil, nil, nil, nil, "NO"},
			{nil, "sales", "orders", "at", int32(93), "TIMESTAMP", int32(29), nil, int32(9), nil, int32(1),
				nil, nil, nil, nil, nil, int32(4), "YES", nil, nil, nil, nil, "NO"},
		}, rows)
		require.Equal(t, [][]any{
			{"t_1", "x", int32(8), "DOUBLE", int32(15), int32(15), int32(10)},
			{"t_1", "y", int32(12), "STRING", maxInt, nil, nil},
			{"t_1", "z", int32(1), "CHAR", int32(3), nil, nil},
			{"t_1", "d", int32(91), "DATE", int32(10), nil, nil},
			{"tx1", "x", int32(6), "FLOAT", int32(7), int32(7), int32(10)},
		}, cols(h.columns(ptr("default"), nil, ptr("%")), 2, 3, 4, 5, 6, 8, 9))
		require.Equal(t, [][]any{{"sales", "order_lines", "id", int32(1)}, {"sales", "orders", "id", int32(1)}, {"sales_eu", "orders", "id", int32(1)}},
			cols(h.columns(ptr("sales%"), ptr("order%"), ptr("id")), 1, 2, 3, 16))
		require.Equal(t, [][]any{{"x"}}, cols(h.columns(ptr("default"), ptr("tx_"), ptr(".*")), 3))
		require.Equal(t, [][]any{{"orders", "amount"}, {"orders", "at"}}, cols(h.columns(ptr("sales"), ptr("orders"), ptr("a%")), 2, 3))
		require.Empty(t, h.columns(ptr("sales"), ptr("nope"), nil))
		// A gen table named literally gives its columns.
		gen := h.columns(ptr("gen"), ptr("rows_5"), nil)
		require.Len(t, gen, len(GenSchema()))
		for i, c := range GenSchema() {
			require.Equal(t, []any{"gen", "rows_5", c.Name, int32(i + 1)}, cols(gen[i:i+1], 1, 2, 3, 16)[0])
		}
		require.Empty(t, h.columns(ptr("gen"), ptr("%"), nil))
	})

	t.Run("static", func(t *testing.T) {
		r, err := h.c.GetCatalogs(context.Background(), &tcli.TGetCatalogsReq{SessionHandle: h.sess})
		require.NoError(t, err)
		names, rows := h.metaResult(r.Status, r.OperationHandle, tcli.TOperationType_GET_CATALOGS)
		require.Equal(t, []string{"TABLE_CAT"}, names)
		require.Empty(t, rows)

		tt, err := h.c.GetTableTypes(context.Background(), &tcli.TGetTableTypesReq{SessionHandle: h.sess})
		require.NoError(t, err)
		names, rows = h.metaResult(tt.Status, tt.OperationHandle, tcli.TOperationType_GET_TABLE_TYPES)
		require.Equal(t, []string{"TABLE_TYPE"}, names)
		require.Equal(t, [][]any{{"TABLE"}, {"VIEW"}}, rows)

		ti, err := h.c.GetTypeInfo(context.Background(), &tcli.TGetTypeInfoReq{SessionHandle: h.sess})
		require.NoError(t, err)
		names, rows = h.metaResult(ti.Status, ti.OperationHandle, tcli.TOperationType_GET_TYPE_INFO)
		require.Equal(t, []string{"TYPE_NAME", "DATA_TYPE", "PRECISION", "LITERAL_PREFIX", "LITERAL_SUFFIX",
			"CREATE_PARAMS", "NULLABLE", "CASE_SENSITIVE", "SEARCHABLE", "UNSIGNED_ATTRIBUTE", "FIXED_PREC_SCALE",
			"AUTO_INCREMENT", "LOCAL_TYPE_NAME", "MINIMUM_SCALE", "MAXIMUM_SCALE", "SQL_DATA_TYPE",
			"SQL_DATETIME_SUB", "NUM_PREC_RADIX"}, names)
		require.Len(t, rows, len(typeInfoKinds))
		require.Equal(t, []any{"INT", int32(4), int32(10), nil, nil, nil, int32(1), false, int16(3), false, false, false,
			nil, int16(0), int16(0), nil, nil, int32(10)}, rows[3])
		require.Equal(t, []any{"STRING", int32(12), nil, true, true}, []any{rows[9][0], rows[9][1], rows[9][2], rows[9][7], rows[9][9]})

		for _, fn := range []string{"%", "count", ".*"} {
			f, err := h.c.GetFunctions(context.Background(), &tcli.TGetFunctionsReq{SessionHandle: h.sess, FunctionName: tcli.TPatternOrIdentifier(fn)})
			require.NoError(t, err)
			names, rows = h.metaResult(f.Status, f.OperationHandle, tcli.TOperationType_GET_FUNCTIONS)
			require.Equal(t, []string{"FUNCTION_CAT", "FUNCTION_SCHEM", "FUNCTION_NAME", "REMARKS", "FUNCTION_TYPE", "SPECIFIC_NAME"}, names)
			require.Empty(t, rows)
		}
	})

	t.Run("bad pattern", func(t *testing.T) {
		r, err := h.c.GetTables(context.Background(), &tcli.TGetTablesReq{SessionHandle: h.sess, TableName: ptr(tcli.TPatternOrIdentifier("a("))})
		require.NoError(t, err)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, r.Status.StatusCode)
		require.Nil(t, r.OperationHandle)
	})

	t.Run("unknown session", func(t *testing.T) {
		bad := &tcli.TSessionHandle{SessionId: &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}}
		ctx := context.Background()
		var sts []*tcli.TStatus
		r1, err := h.c.GetTypeInfo(ctx, &tcli.TGetTypeInfoReq{SessionHandle: bad})
		require.NoError(t, err)
		r2, err := h.c.GetCatalogs(ctx, &tcli.TGetCatalogsReq{SessionHandle: bad})
		require.NoError(t, err)
		r3, err := h.c.GetSchemas(ctx, &tcli.TGetSchemasReq{SessionHandle: bad})
		require.NoError(t, err)
		r4, err := h.c.GetTables(ctx, &tcli.TGetTablesReq{SessionHandle: bad})
		require.NoError(t, err)
		r5, err := h.c.GetTableTypes(ctx, &tcli.TGetTableTypesReq{SessionHandle: bad})
		require.NoError(t, err)
		r6, err := h.c.GetColumns(ctx, &tcli.TGetColumnsReq{SessionHandle: bad})
		require.NoError(t, err)
		r7, err := h.c.GetFunctions(ctx, &tcli.TGetFunctionsReq{SessionHandle: bad, FunctionName: "%"})
		require.NoError(t, err)
		sts = append(sts, r1.Status, r2.Status, r3.Status, r4.Status, r5.Status, r6.Status, r7.Status)
		require.Nil(t, r4.OperationHandle)
		for _, st := range sts {
			require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
			require.Contains(t, st.GetErrorMessage(), "Invalid session id")
		}
	})

	t.Run("row based", func(t *testing.T) {
		// A V1 client gets the rows as TRow, as for statements.
		h1 := dialHS2(t, co.HS2Addr())
		resp, err := h1.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V1})
		require.NoError(t, err)
		r, err := h1.c.GetSchemas(context.Background(), &tcli.TGetSchemasReq{SessionHandle: resp.SessionHandle, SchemaName: ptr(tcli.TPatternOrIdentifier("sales"))})
		require.NoError(t, err)
		f, err := h1.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: r.OperationHandle, MaxRows: 10})
		require.NoError(t, err)
		require.Len(t, f.Results.Rows, 1)
		require.Equal(t, "sales", f.Results.Rows[0].ColVals[0].StringVal.GetValue())
		require.False(t, f.GetHasMoreRows())
	})
}
