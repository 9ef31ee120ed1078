package conn

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
	"github.com/impalalb/impalalb/secret"
)

// allTypesMeta is one column of every scalar type.
var allTypesMeta = []Column{
	{Name: "b", Type: TypeBoolean}, {Name: "t", Type: TypeTinyInt}, {Name: "s", Type: TypeSmallInt},
	{Name: "i", Type: TypeInt}, {Name: "l", Type: TypeBigInt}, {Name: "f", Type: TypeFloat},
	{Name: "d", Type: TypeDouble}, {Name: "dec", Type: TypeDecimal, Precision: 10, Scale: 2},
	{Name: "str", Type: TypeString}, {Name: "vc", Type: TypeVarchar, Length: 10},
	{Name: "ch", Type: TypeChar, Length: 3}, {Name: "ts", Type: TypeTimestamp},
	{Name: "dt", Type: TypeDate}, {Name: "bin", Type: TypeBinary}, {Name: "n", Type: TypeNull},
}

// allTypesRowSet has two rows: row 0 with values, row 1 all NULL.
func allTypesRowSet() *tcli.TRowSet {
	nulls := []byte{0x02}
	return &tcli.TRowSet{Columns: []*tcli.TColumn{
		{BoolVal: &tcli.TBoolColumn{Values: []bool{true, false}, Nulls: nulls}},
		{ByteVal: &tcli.TByteColumn{Values: []int8{-8, 0}, Nulls: nulls}},
		{I16Val: &tcli.TI16Column{Values: []int16{-1600, 0}, Nulls: nulls}},
		{I32Val: &tcli.TI32Column{Values: []int32{320000, 0}, Nulls: nulls}},
		{I64Val: &tcli.TI64Column{Values: []int64{math.MinInt64, 0}, Nulls: nulls}},
		{DoubleVal: &tcli.TDoubleColumn{Values: []float64{float64(float32(1.1)), 0}, Nulls: nulls}},
		{DoubleVal: &tcli.TDoubleColumn{Values: []float64{2.5e300, 0}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"-12345678.90", ""}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"héllo", ""}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"vc", ""}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"ab ", ""}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"2024-02-29 23:59:58.123456789", ""}, Nulls: nulls}},
		{StringVal: &tcli.TStringColumn{Values: []string{"1999-12-31", ""}, Nulls: nulls}},
		{BinaryVal: &tcli.TBinaryColumn{Values: [][]byte{{0, 0xff}, nil}, Nulls: nulls}},
		{BoolVal: &tcli.TBoolColumn{Values: []bool{false, false}, Nulls: []byte{3}}},
	}}
}

func TestDecodeAllTypes(t *testing.T) {
	b, err := decodeRowSet(allTypesRowSet(), allTypesMeta)
	require.NoError(t, err)
	require.Equal(t, 2, b.Len())
	require.Equal(t, len(allTypesMeta), b.NumColumns())
	want := []any{
		true, int8(-8), int16(-1600), int32(320000), int64(math.MinInt64), float32(1.1), 2.5e300,
		"-12345678.90", "héllo", "vc", "ab ",
		time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
		[]byte{0, 0xff}, nil,
	}
	for c, w := range want {
		require.Equal(t, w, b.Value(c, 0), "column %d", c)
		require.Nil(t, b.Value(c, 1), "column %d row 1", c)
		require.True(t, b.IsNull(c, 1))
		require.Equal(t, c == 14, b.IsNull(c, 0))
	}
	require.Equal(t, int64(-8), b.Int64(1, 0))
	require.Equal(t, int64(math.MinInt64), b.Int64(4, 0))
	require.Equal(t, 2.5e300, b.Float64(6, 0))
	require.Equal(t, "héllo", b.String(8, 0))
	require.Equal(t, "\x00\xff", b.String(13, 0))
	require.Equal(t, []byte("vc"), b.Bytes(9, 0))
	tm, err := b.Time(12, 0)
	require.NoError(t, err)
	require.Equal(t, 1999, tm.Year())
	require.Equal(t, []int64{math.MinInt64, 0}, b.Int64s(4))
	require.Panics(t, func() { b.Int64(8, 0) })
	require.Panics(t, func() { b.IsNull(0, 2) })
}

func TestDecodeNoAllocFixedWidth(t *testing.T) {
	b, err := decodeRowSet(allTypesRowSet(), allTypesMeta)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		_ = b.Int64(4, 0) + b.Int64(1, 0)
		_ = b.Float64(5, 0)
		_ = b.Bool(0, 0)
		_ = b.IsNull(3, 1)
		_, _ = b.Time(11, 0)
		_ = b.String(8, 0)
	})
	require.Zero(t, allocs)
}

func TestDecodeShortNullBitmap(t *testing.T) {
	// HiveServer2 writers drop trailing zero bytes: missing bits mean
	// "not NULL".
	rs := &tcli.TRowSet{Columns: []*tcli.TColumn{{I32Val: &tcli.TI32Column{Values: make([]int32, 20), Nulls: []byte{1}}}}}
	b, err := decodeRowSet(rs, []Column{{Name: "i", Type: TypeInt}})
	require.NoError(t, err)
	require.True(t, b.IsNull(0, 0))
	require.False(t, b.IsNull(0, 19))
	require.Equal(t, int32(0), b.Value(0, 19))
}

func TestDecodeHostile(t *testing.T) {
	intMeta := []Column{{Name: "a", Type: TypeInt}, {Name: "b", Type: TypeInt}}
	i32 := func(n int) *tcli.TColumn { return &tcli.TColumn{I32Val: &tcli.TI32Column{Values: make([]int32, n)}} }
	cases := map[string]struct {
		rs   *tcli.TRowSet
		meta []Column
	}{
		"fewer columns":   {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1)}}, intMeta},
		"more columns":    {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), i32(1), i32(1)}}, intMeta},
		"ragged lengths":  {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(2), i32(3)}}, intMeta},
		"nil column":      {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), nil}}, intMeta},
		"empty union":     {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), {}}}, intMeta},
		"two lists":       {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), {I32Val: &tcli.TI32Column{Values: []int32{1}}, I64Val: &tcli.TI64Column{Values: []int64{1}}}}}, intMeta},
		"wrong kind":      {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), {I64Val: &tcli.TI64Column{Values: []int64{1}}}}}, intMeta},
		"string for int":  {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1), {StringVal: &tcli.TStringColumn{Values: []string{"1"}}}}}, intMeta},
		"row based":       {&tcli.TRowSet{Rows: []*tcli.TRow{{}}}, intMeta},
		"binary columns":  {&tcli.TRowSet{BinaryColumns: []byte{1}}, intMeta},
		"columns no meta": {&tcli.TRowSet{Columns: []*tcli.TColumn{i32(1)}}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRowSet(tc.rs, tc.meta)
			require.ErrorIs(t, err, ErrBadRowSet)
			require.Contains(t, err.Error(), "conn: malformed result batch")
		})
	}
	// No columns at all is an empty batch.
	b, err := decodeRowSet(&tcli.TRowSet{}, intMeta)
	require.NoError(t, err)
	require.Zero(t, b.Len())
	b, err = decodeRowSet(nil, intMeta)
	require.NoError(t, err)
	require.Zero(t, b.Len())
	// An empty, present column list too (Spark's Thrift server sends it
	// for DDL).
	b, err = decodeRowSet(&tcli.TRowSet{Columns: []*tcli.TColumn{}}, intMeta)
	require.NoError(t, err)
	require.Zero(t, b.Len())
}

func TestDecodeTextRows(t *testing.T) {
	rows := []string{
		"true\t-8\t-1600\t320000\t-9223372036854775808\t1.1\t2.5e+300\t-12345678.90\théllo\tvc\tab \t2024-02-29 23:59:58.123456789\t1999-12-31\t\x00\xff\tNULL",
		"NULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL",
	}
	tb, err := decodeTextRows(rows, allTypesMeta, "\t", DefaultMaxMessageSize)
	require.NoError(t, err)
	hb, err := decodeRowSet(allTypesRowSet(), allTypesMeta)
	require.NoError(t, err)
	require.Equal(t, hb.Len(), tb.Len())
	for c := range allTypesMeta {
		for r := 0; r < 2; r++ {
			require.Equal(t, hb.Value(c, r), tb.Value(c, r), "column %d row %d", c, r)
		}
	}
}

func TestDecodeTextHostile(t *testing.T) {
	meta := []Column{{Name: "a", Type: TypeInt}, {Name: "s", Type: TypeString}}
	for name, rows := range map[string][]string{
		"too few fields":  {"1"},
		"too many fields": {"1\tx\ty"},
		"bad int":         {"x\ty"},
		"int overflow":    {"99999999999\ty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeTextRows(rows, meta, "\t", DefaultMaxMessageSize)
			require.ErrorIs(t, err, ErrBadRowSet)
		})
	}
	_, err := decodeTextRows([]string{"x"}, nil, "", DefaultMaxMessageSize)
	require.ErrorIs(t, err, ErrBadRowSet)
	_, err = decodeTextRows([]string{"1"}, []Column{{Type: TypeBoolean}}, "", DefaultMaxMessageSize)
	require.NoError(t, err)
	_, err = decodeTextRows([]string{"yes"}, []Column{{Type: TypeBoolean}}, "", DefaultMaxMessageSize)
	require.ErrorIs(t, err, ErrBadRowSet)
}

func TestParseTimestamp(t *testing.T) {
	good := map[string]time.Time{
		"2024-01-02":                    time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		"2024-01-02 03:04:05":           time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02T03:04:05.5":         time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC),
		"1400-01-01 00:00:00.000000001": time.Date(1400, 1, 1, 0, 0, 0, 1, time.UTC),
		"9999-12-31 23:59:59.999999999": time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for s, want := range good {
		got, err := ParseTimestamp(s)
		require.NoError(t, err, s)
		require.True(t, want.Equal(got), s)
	}
	for _, s := range []string{"", "2024-1-02", "2024-02-30", "2023-02-29", "2024-01-02 24:00:00", "2024-01-02 03:04",
		"2024-01-02 03:04:05.", "2024-01-02 03:04:05.1234567890", "2024-01-02 03:04:05x1", "abcd-01-02"} {
		_, err := ParseTimestamp(s)
		require.ErrorIs(t, err, ErrBadTimestamp, s)
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = ParseTimestamp("2024-01-02 03:04:05.123") })
	require.Zero(t, allocs)
}

func TestColumnsFromSchema(t *testing.T) {
	i32 := func(v int32) *tcli.TTypeQualifierValue { return &tcli.TTypeQualifierValue{I32Value: &v} }
	prim := func(id tcli.TTypeId, q map[string]*tcli.TTypeQualifierValue) *tcli.TTypeDesc {
		e := &tcli.TPrimitiveTypeEntry{Type: id}
		if q != nil {
			e.TypeQualifiers = &tcli.TTypeQualifiers{Qualifiers: q}
		}
		return &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{PrimitiveEntry: e}}}
	}
	s := &tcli.TTableSchema{Columns: []*tcli.TColumnDesc{
		{ColumnName: "d", TypeDesc: prim(tcli.TTypeId_DECIMAL_TYPE, map[string]*tcli.TTypeQualifierValue{"precision": i32(10), "scale": i32(2)})},
		{ColumnName: "v", TypeDesc: prim(tcli.TTypeId_VARCHAR_TYPE, map[string]*tcli.TTypeQualifierValue{"characterMaximumLength": i32(7)})},
		{ColumnName: "a", TypeDesc: &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{ArrayEntry: &tcli.TArrayTypeEntry{}}}}},
		{ColumnName: "m", TypeDesc: prim(tcli.TTypeId_MAP_TYPE, nil)},
		{ColumnName: "x"},
		nil,
		{ColumnName: "dq", TypeDesc: prim(tcli.TTypeId_DECIMAL_TYPE, nil)},
		{ColumnName: "cq", TypeDesc: prim(tcli.TTypeId_CHAR_TYPE, map[string]*tcli.TTypeQualifierValue{})},
		{ColumnName: "iq", TypeDesc: prim(tcli.TTypeId_INT_TYPE, map[string]*tcli.TTypeQualifierValue{"precision": i32(10)})},
	}}
	cols := columnsFromSchema(s)
	require.Equal(t, Column{Name: "d", Type: TypeDecimal, TypeName: "DECIMAL", Precision: 10, Scale: 2, Nullable: true}, cols[0])
	require.Equal(t, Column{Name: "v", Type: TypeVarchar, TypeName: "VARCHAR", Length: 7, Nullable: true}, cols[1])
	require.Equal(t, "ARRAY", cols[2].TypeName)
	require.Equal(t, "MAP", cols[3].TypeName)
	require.Equal(t, TypeOther, cols[4].Type)
	require.Equal(t, TypeOther, cols[5].Type)
	// Qualifiers missing: unknown, not zero; on other types: ignored.
	require.Equal(t, Column{Name: "dq", Type: TypeDecimal, TypeName: "DECIMAL", Precision: UnknownSize, Scale: UnknownSize, Nullable: true}, cols[6])
	require.Equal(t, Column{Name: "cq", Type: TypeChar, TypeName: "CHAR", Length: UnknownSize, Nullable: true}, cols[7])
	require.Equal(t, Column{Name: "iq", Type: TypeInt, TypeName: "INT", Nullable: true}, cols[8])

	require.Equal(t, Column{Name: "d", Type: TypeDecimal, TypeName: "DECIMAL", Precision: 38, Scale: 9, Nullable: true}, columnFromTypeName("d", "decimal(38, 9)"))
	require.Equal(t, Column{Name: "c", Type: TypeChar, TypeName: "CHAR", Length: 5, Nullable: true}, columnFromTypeName("c", "CHAR(5)"))
	require.Equal(t, "ARRAY", columnFromTypeName("a", "array<int>").TypeName)
	// Impala's beeswax names types without parameters: sizes unknown.
	require.Equal(t, Column{Name: "d", Type: TypeDecimal, TypeName: "DECIMAL", Precision: UnknownSize, Scale: UnknownSize, Nullable: true}, columnFromTypeName("d", "decimal"))
	require.Equal(t, Column{Name: "c", Type: TypeChar, TypeName: "CHAR", Length: UnknownSize, Nullable: true}, columnFromTypeName("c", "char"))
	require.Equal(t, Column{Name: "v", Type: TypeString, TypeName: "STRING", Nullable: true}, columnFromTypeName("v", "string"))
	require.Equal(t, Column{Name: "d", Type: TypeDecimal, TypeName: "DECIMAL", Precision: 9, Scale: UnknownSize, Nullable: true}, columnFromTypeName("d", "decimal(9,x)"))
}

func TestClassify(t *testing.T) {
	cases := []struct {
		stmt       string
		kind       stmtKind
		key, value string
		db         string
		catalog    bool
	}{
		{stmt: "select 1", kind: stmtQuery},
		{stmt: "  /* c */ VALUES (1)", kind: stmtQuery},
		{stmt: "show tables", kind: stmtQuery},
		{stmt: "desc t", kind: stmtQuery},
		{stmt: "explain select 1", kind: stmtQuery},
		{stmt: "with t as (select 1) select * from t", kind: stmtQuery},
		{stmt: "with t as (select 1) insert into u select * from t", catalog: true},
		{stmt: "WITH t AS (SELECT 1) UPSERT INTO u SELECT * FROM t", catalog: true},
		{stmt: "with t as (select 1 as inserted) select * from t", kind: stmtQuery},
		{stmt: "with t as (select 'insert' x) select * from t", catalog: true},
		{stmt: "create table t as select 1", catalog: true},
		{stmt: "  -- c\n /* x */ SET MEM_LIMIT = '1g' ;", kind: stmtSet, key: "MEM_LIMIT", value: "1g"},
		{stmt: "set request_pool=\"a\"", kind: stmtSet, key: "request_pool", value: "a"},
		{stmt: "set request_pool=''", kind: stmtSet, key: "request_pool"},
		{stmt: `set debug_action='a\b'`, kind: stmtSet, key: "debug_action", value: `a\b`},
		{stmt: "set", kind: stmtSetShow},
		{stmt: "SET ALL", kind: stmtSetShow},
		{stmt: "unset all;", kind: stmtUnsetAll},
		{stmt: "unset mem_limit", kind: stmtOther},
		{stmt: "use db1", kind: stmtUse, db: "db1"},
		{stmt: "USE `Sales`;", kind: stmtUse, db: "sales"},
		{stmt: "Insert into t values (1)", kind: stmtDML, catalog: true},
		{stmt: "delete from t where x = 1", kind: stmtDML, catalog: true},
		{stmt: "merge into t using s on t.id = s.id when matched then delete", kind: stmtDML, catalog: true},
		{stmt: "alter table t add columns (c int)", catalog: true},
		{stmt: "drop table t", catalog: true},
		{stmt: "truncate t", catalog: true},
		{stmt: "compute stats t", catalog: true},
		{stmt: "invalidate metadata t", catalog: true},
		{stmt: "refresh t", catalog: true},
		{stmt: "load data inpath '/x' into table t", catalog: true},
		{stmt: "comment on table t is 'x'", catalog: true},
		{stmt: "settle"},
		{stmt: "/* unterminated"},
		{stmt: "-- only"},
	}
	for _, c := range cases {
		got := classify(c.stmt)
		require.Equal(t, c.kind, got.kind, c.stmt)
		require.Equal(t, c.key, got.key, c.stmt)
		require.Equal(t, c.value, got.value, c.stmt)
		require.Equal(t, c.db, got.db, c.stmt)
		require.Equal(t, c.catalog, got.catalog, c.stmt)
	}
}

func TestBackoff(t *testing.T) {
	const rtt = 100 * time.Microsecond // each poll's own round trip
	ms := time.Millisecond
	// poll simulates waiting for a statement that runs for d: it returns
	// when the poll that sees it finished is answered, and how many polls
	// that took.
	poll := func(d time.Duration) (seen time.Duration, polls int) {
		var clock time.Duration
		b := backoff{min: ms, max: 200 * ms, now: func() time.Time { return time.Unix(0, 0).Add(clock) }}
		for {
			w := b.next()
			if polls == 0 {
				require.Zero(t, w, "the first poll is immediate")
			} else {
				require.GreaterOrEqual(t, w, ms)
				require.LessOrEqual(t, w, 200*ms)
			}
			clock += w + rtt
			polls++
			if clock >= d {
				return clock, polls
			}
		}
	}
	for _, c := range []struct {
		run      time.Duration
		maxPolls int
	}{{500 * time.Microsecond, 2}, {3 * ms, 4}, {50 * ms, 20}, {700 * ms, 30}, {10 * time.Second, 90}} {
		seen, polls := poll(c.run)
		// Seen at most a quarter of its run late (PollMin for short ones;
		// PollMax caps it for long ones), plus a round trip.
		late := max(min(c.run/4, 200*ms), ms) + rtt
		require.LessOrEqual(t, seen-c.run, late, "run %v seen at %v", c.run, seen)
		require.LessOrEqual(t, polls, c.maxPolls, "run %v", c.run)
	}
	// Doubling waits (the former rule) saw a 50 ms statement at about 63 ms.
	seen, _ := poll(50 * ms)
	require.Less(t, seen, 63*ms)
}

func TestOptionsDefaults(t *testing.T) {
	in := Options{SessionOptions: map[string]string{"a": "1"}, Password: secret.New("pw"), User: "u"}
	o, err := in.WithDefaults()
	require.NoError(t, err)
	require.Equal(t, DefaultFetchSize, o.FetchSize)
	require.Equal(t, DefaultConnectTimeout, o.ConnectTimeout)
	require.NotNil(t, o.Mechanism, "a password without a mechanism means PLAIN")
	in.SessionOptions["a"] = "2"
	require.Equal(t, "1", o.SessionOptions["a"], "a private copy")
	for _, bad := range []Options{{Protocol: 7}, {FetchSize: -1}, {ConnectTimeout: -1}, {PollMin: -1}, {MaxMessageSize: -1}, {CancelTimeout: -1}} {
		_, err := bad.WithDefaults()
		require.Error(t, err)
	}
}

func TestErrorAndSafeToRetry(t *testing.T) {
	e := &Error{Addr: "h:1", Op: "execute", Message: "AnalysisException: x", SQLState: "42000", Code: 7, Sent: true, Err: ErrOperationFailed}
	require.Equal(t, "conn: execute h:1: AnalysisException: x (SQLSTATE 42000, code 7): statement failed", e.Error())
	require.ErrorIs(t, e, ErrOperationFailed)
	require.False(t, SafeToRetry(e))
	d := &Error{Addr: "h:1", Op: "dial", Err: errors.New("refused")}
	require.True(t, SafeToRetry(d))
	require.False(t, SafeToRetry(errors.New("other")))
	require.False(t, SafeToRetry(nil))
}

func TestBreaksStream(t *testing.T) {
	require.True(t, breaksStream(thrift.NewTTransportException(thrift.TIMED_OUT, "x")))
	require.True(t, breaksStream(context.Canceled))
	require.False(t, breaksStream(thrift.NewTApplicationException(thrift.UNKNOWN_METHOD, "x")))
	require.True(t, breaksStream(thrift.NewTApplicationException(thrift.BAD_SEQUENCE_ID, "x")))
	require.ErrorIs(t, classifyWireError(thrift.NewTProtocolExceptionWithType(thrift.BAD_VERSION, errors.New("x"))), ErrNotImpala)
}

func TestDMLRows(t *testing.T) {
	require.Equal(t, int64(-1), dmlRows(nil))
	require.Equal(t, int64(5), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{"": 2, "p=1": 3}}))
	require.Equal(t, int64(4), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{}, RowsDeleted: map[string]int64{"": 4}}))
	require.Equal(t, int64(2), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{"": 2}, RowsDeleted: map[string]int64{"": 2}}))
	// An Iceberg DELETE: rows_modified present and 0 in every partition.
	require.Equal(t, int64(7), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{"": 0, "p=1": 0}, RowsDeleted: map[string]int64{"": 3, "p=1": 4}}))
	// A DELETE that matched nothing, a DML without rows_deleted.
	require.Equal(t, int64(0), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{"": 0}, RowsDeleted: map[string]int64{"": 0}}))
	require.Equal(t, int64(0), dmlRows(&impala.TDmlResult_{RowsModified: map[string]int64{"": 0}}))
}

func TestDecodeOtherTypeTakesAnyKind(t *testing.T) {
	meta := []Column{{Name: "x", Type: TypeOther, TypeName: "INTERVAL_DAY_TIME"}, {Name: "y", Type: TypeOther, TypeName: "ARRAY"}}
	rs := &tcli.TRowSet{Columns: []*tcli.TColumn{
		{I32Val: &tcli.TI32Column{Values: []int32{7}}},
		{StringVal: &tcli.TStringColumn{Values: []string{"[1,2]"}}},
	}}
	b, err := decodeRowSet(rs, meta)
	require.NoError(t, err)
	require.Equal(t, int32(7), b.Value(0, 0))
	require.Equal(t, "[1,2]", b.Value(1, 0))
	tb, err := decodeTextRows([]string{"7\t[1,2]"}, meta, "\t", DefaultMaxMessageSize)
	require.NoError(t, err)
	require.Equal(t, "7", tb.Value(0, 0))
}

// TestParseTimestampSameAsTimeDate checks that ParseTimestamp's own date
// arithmetic gives exactly time.Date's value (the same struct, not only
// the same instant) over every day of years 0000 to 9999, sampled.
func TestParseTimestampSameAsTimeDate(t *testing.T) {
	for y := 0; y <= 9999; y += 7 {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, 15, daysIn(y, m)} {
				want := time.Date(y, time.Month(m), d, 13, 59, 7, 42, time.UTC)
				got, err := ParseTimestamp(want.Format("2006-01-02 15:04:05.000000000"))
				require.NoError(t, err)
				if got != want {
					require.Equal(t, want, got)
				}
			}
		}
	}
	got, err := ParseTimestamp("0000-02-29")
	require.NoError(t, err)
	require.Equal(t, time.Date(0, 2, 29, 0, 0, 0, 0, time.UTC), got)
}
