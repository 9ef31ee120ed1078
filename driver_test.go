package impalalb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// protocols are the wire protocols every behaviour is checked over.
var protocols = []impalalb.Protocol{impalalb.ProtocolHS2, impalalb.ProtocolBeeswax, impalalb.ProtocolHS2HTTP}

func startCoord(t testing.TB, cfg impalad.Config) *impalad.Coordinator {
	t.Helper()
	if cfg.HS2HTTPAddr == "" {
		cfg.HS2HTTPAddr = "127.0.0.1:0"
	}
	co, err := impalad.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	return co
}

// addrOf returns the coordinator's address for protocol p.
func addrOf(co *impalad.Coordinator, p impalalb.Protocol) string {
	switch p {
	case impalalb.ProtocolBeeswax:
		return co.BeeswaxAddr()
	case impalalb.ProtocolHS2HTTP:
		return co.HS2HTTPAddr()
	}
	return co.HS2Addr()
}

// testConfig is a Config for coordinators cos over protocol p, with the
// background health checks off so that tests count every RPC.
func testConfig(p impalalb.Protocol, cos ...*impalad.Coordinator) *impalalb.Config {
	cfg := &impalalb.Config{}
	cfg.Protocol = p
	cfg.User = "tester"
	cfg.HealthInterval = -1
	for _, co := range cos {
		cfg.Addrs = append(cfg.Addrs, addrOf(co, p))
	}
	return cfg
}

// openDB opens a *sql.DB through NewConnector and closes it at cleanup.
func openDB(t testing.TB, cfg *impalalb.Config) (*sql.DB, *impalalb.Connector) {
	t.Helper()
	c, err := impalalb.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db, c
}

func forEachProtocol(t *testing.T, f func(t *testing.T, p impalalb.Protocol)) {
	for _, p := range protocols {
		t.Run(string(p), func(t *testing.T) { f(t, p) })
	}
}

func TestRegistered(t *testing.T) {
	require.Contains(t, sql.Drivers(), "impala")
	co := startCoord(t, impalad.Config{})
	db, err := sql.Open("impala", "impala://tester@"+co.HS2Addr()+"/default?health_interval=-1s")
	require.NoError(t, err)
	defer db.Close()
	var one int
	require.NoError(t, db.QueryRow("select 1").Scan(&one))
	require.Equal(t, 1, one)

	_, err = sql.Open("impala", "impala://host?bogus=1")
	var de *impalalb.DSNError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "bogus", de.Param)
}

func TestDriverOpen(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	d := &impalalb.Driver{}
	c, err := d.Open("impala://tester@" + co.HS2Addr() + "?health_interval=-1s")
	require.NoError(t, err)
	require.NoError(t, c.(driver.Pinger).Ping(context.Background()))
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return co.Stats().SessionsOpen == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestQueryGenRows(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		// One batch; and 82 batches, most of them read ahead, every value
		// kept by the caller (Scan into *any) until the end: none may
		// change when later batches come.
		for _, c := range []struct {
			n         int64
			fetchSize int
		}{{100, 0}, {3000, 37}} {
			co := startCoord(t, impalad.Config{})
			cfg := testConfig(p, co)
			if c.fetchSize > 0 {
				cfg.FetchSize = c.fetchSize
			}
			db, _ := openDB(t, cfg)
			q := fmt.Sprintf("select * from gen.rows_%d", c.n)
			rows, err := db.Query(q)
			require.NoError(t, err)
			names, err := rows.Columns()
			require.NoError(t, err)
			require.NoError(t, rows.Close())
			schema := impalad.GenSchema()
			require.Len(t, names, len(schema))
			for i, c := range schema {
				require.Equal(t, c.Name, names[i])
			}
			kept := impalalb.ScanAll(t, db, q)
			require.Len(t, kept, int(c.n))
			nulls := make([]int, len(schema))
			for row, vals := range kept {
				for c, col := range schema {
					want := impalad.GenValue(c, int64(row))
					if want == nil {
						require.Nil(t, vals[c], "row %d col %s", row, col.Name)
						nulls[c]++
						continue
					}
					require.Equal(t, driverValue(t, col.Type.Kind, want), vals[c], "row %d col %s", row, col.Name)
				}
			}
			for c := 1; c < len(schema); c++ {
				require.NotZero(t, nulls[c], "column %s has NULLs", schema[c].Name)
			}
		}
	})
}

// driverValue is what the driver hands to database/sql for a GenValue.
func driverValue(t *testing.T, k impalad.Kind, v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case string:
		if k == impalad.Char {
			return x
		}
		return x
	}
	return v
}

// TestScanNaturalTypes scans every column into its natural Go type, into
// sql.Null* and into pointers, NULLs included.
func TestScanNaturalTypes(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		rows, err := db.Query("select id, bool_col, tinyint_col, smallint_col, int_col, bigint_col, float_col, double_col, decimal_col, string_col, varchar_col, char_col, timestamp_col, date_col, binary_col from gen.rows_16")
		require.NoError(t, err)
		defer rows.Close()
		var row int64
		for rows.Next() {
			var (
				id   int64
				b    sql.NullBool
				ti   sql.Null[int8]
				si   sql.NullInt16
				i    *int32
				bi   sql.NullInt64
				f    sql.Null[float32]
				d    *float64
				dec  impalalb.Decimal
				s    sql.NullString
				vc   *string
				ch   sql.NullString
				ts   sql.NullTime
				date *time.Time
				bin  []byte
			)
			require.NoError(t, rows.Scan(&id, &b, &ti, &si, &i, &bi, &f, &d, &dec, &s, &vc, &ch, &ts, &date, &bin))
			require.Equal(t, row, id)
			check := func(col int, valid bool, got any) {
				t.Helper()
				want := impalad.GenValue(col, row)
				if want == nil {
					require.False(t, valid, "row %d col %d", row, col)
					return
				}
				require.True(t, valid, "row %d col %d", row, col)
				require.Equal(t, want, got, "row %d col %d", row, col)
			}
			check(1, b.Valid, b.Bool)
			check(2, ti.Valid, ti.V)
			check(3, si.Valid, si.Int16)
			check(4, i != nil, deref(i))
			check(5, bi.Valid, bi.Int64)
			check(6, f.Valid, f.V)
			check(7, d != nil, deref(d))
			if want := impalad.GenValue(8, row); want == nil {
				require.False(t, dec.Valid)
			} else {
				require.True(t, dec.Valid)
				r, _ := new(big.Rat).SetString(want.(string))
				require.Zero(t, r.Cmp(dec.Rat))
				require.Equal(t, 2, dec.Scale)
				require.Equal(t, want, dec.String())
			}
			check(9, s.Valid, s.String)
			check(10, vc != nil, deref(vc))
			check(11, ch.Valid, ch.String)
			check(12, ts.Valid, ts.Time)
			check(13, date != nil, deref(date))
			check(14, bin != nil, bin)
			row++
		}
		require.NoError(t, rows.Err())
		require.EqualValues(t, 16, row)
	})
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func TestColumnTypes(t *testing.T) {
	forEachProtocol(t, testColumnTypes)
}

func testColumnTypes(t *testing.T, p impalalb.Protocol) {
	co := startCoord(t, impalad.Config{})
	db, _ := openDB(t, testConfig(p, co))
	rows, err := db.Query("select * from gen.rows_1")
	require.NoError(t, err)
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	require.NoError(t, err)
	type want struct {
		name, db string
		scan     reflect.Type
		length   int64
		hasLen   bool
		prec     int64
		scale    int64
		hasPS    bool
	}
	wants := []want{
		{"id", "BIGINT", reflect.TypeFor[sql.NullInt64](), 0, false, 0, 0, false},
		{"bool_col", "BOOLEAN", reflect.TypeFor[sql.NullBool](), 0, false, 0, 0, false},
		{"tinyint_col", "TINYINT", reflect.TypeFor[sql.Null[int8]](), 0, false, 0, 0, false},
		{"smallint_col", "SMALLINT", reflect.TypeFor[sql.NullInt16](), 0, false, 0, 0, false},
		{"int_col", "INT", reflect.TypeFor[sql.NullInt32](), 0, false, 0, 0, false},
		{"bigint_col", "BIGINT", reflect.TypeFor[sql.NullInt64](), 0, false, 0, 0, false},
		{"float_col", "FLOAT", reflect.TypeFor[sql.Null[float32]](), 0, false, 0, 0, false},
		{"double_col", "DOUBLE", reflect.TypeFor[sql.NullFloat64](), 0, false, 0, 0, false},
		{"decimal_col", "DECIMAL", reflect.TypeFor[sql.NullString](), 0, false, 10, 2, true},
		{"string_col", "STRING", reflect.TypeFor[sql.NullString](), math.MaxInt64, true, 0, 0, false},
		{"varchar_col", "VARCHAR", reflect.TypeFor[sql.NullString](), 10, true, 0, 0, false},
		{"char_col", "CHAR", reflect.TypeFor[sql.NullString](), 5, true, 0, 0, false},
		{"timestamp_col", "TIMESTAMP", reflect.TypeFor[sql.NullTime](), 0, false, 0, 0, false},
		{"date_col", "DATE", reflect.TypeFor[sql.NullTime](), 0, false, 0, 0, false},
		{"binary_col", "BINARY", reflect.TypeFor[[]byte](), math.MaxInt64, true, 0, 0, false},
	}
	if p == impalalb.ProtocolBeeswax {
		// Impala's beeswax names types without parameters and a VARCHAR
		// "string": a DECIMAL's size and a CHAR's length are unknown.
		wants[8].hasPS, wants[8].prec, wants[8].scale = false, 0, 0
		wants[10] = want{"varchar_col", "STRING", reflect.TypeFor[sql.NullString](), math.MaxInt64, true, 0, 0, false}
		wants[11].hasLen, wants[11].length = false, 0
	}
	require.Len(t, cts, len(wants))
	for i, w := range wants {
		ct := cts[i]
		require.Equal(t, w.name, ct.Name())
		require.Equal(t, w.db, ct.DatabaseTypeName(), w.name)
		require.Equal(t, w.scan, ct.ScanType(), w.name)
		l, ok := ct.Length()
		require.Equal(t, w.hasLen, ok, w.name)
		require.Equal(t, w.length, l, w.name)
		pr, sc, ok := ct.DecimalSize()
		require.Equal(t, w.hasPS, ok, w.name)
		require.Equal(t, w.prec, pr, w.name)
		require.Equal(t, w.scale, sc, w.name)
		null, ok := ct.Nullable()
		require.True(t, ok)
		require.True(t, null)
	}
	// The scan types really scan.
	dest := make([]any, len(cts))
	for i, ct := range cts {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(dest...))
}

func TestQueryRowExecPrepare(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		ctx := context.Background()

		var s string
		var n int64
		require.NoError(t, db.QueryRowContext(ctx, "select ?, ?", "it's", 42).Scan(&s, &n))
		require.Equal(t, "it's", s)
		require.EqualValues(t, 42, n)
		require.ErrorIs(t, db.QueryRow("select * from gen.rows_0").Scan(&n), sql.ErrNoRows)

		res, err := db.ExecContext(ctx, "create table t (id int, name string)")
		require.NoError(t, err)
		ra, err := res.RowsAffected()
		require.NoError(t, err)
		require.Zero(t, ra)
		_, err = res.LastInsertId()
		require.Error(t, err)

		res, err = db.ExecContext(ctx, "insert into t values (?, ?), (?, @name)", 1, "a'b", 2, sql.Named("name", "x\\y"))
		require.NoError(t, err)
		ra, err = res.RowsAffected()
		require.NoError(t, err)
		require.EqualValues(t, 2, ra)

		st, err := db.PrepareContext(ctx, "insert into t values (?, ?)")
		require.NoError(t, err)
		for i := 3; i <= 6; i++ {
			res, err := st.ExecContext(ctx, i, fmt.Sprintf("n%d", i))
			require.NoError(t, err)
			ra, err := res.RowsAffected()
			require.NoError(t, err)
			require.EqualValues(t, 1, ra)
		}
		_, err = st.Exec(1)
		require.ErrorContains(t, err, "expected 2 arguments, got 1")
		require.NoError(t, st.Close())

		// An Iceberg DELETE affects the rows it deleted (its DML result
		// says 0 modified, N deleted).
		_, err = db.ExecContext(ctx, "create table ice (id int) stored as iceberg tblproperties ('format-version'='2')")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "insert into ice select id from t")
		require.NoError(t, err)
		res, err = db.ExecContext(ctx, "delete from ice where id > ?", 4)
		require.NoError(t, err)
		ra, err = res.RowsAffected()
		require.NoError(t, err)
		require.EqualValues(t, 2, ra)

		q, err := db.Prepare("select @id, ?, @id -- ?\n")
		require.NoError(t, err)
		defer q.Close()
		for _, c := range []struct {
			id   int
			name string
		}{{1, "a'b"}, {2, `x\y`}, {5, "n5"}} {
			var id, id2 int
			var name string
			require.NoError(t, q.QueryRow(c.name, sql.Named("id", c.id)).Scan(&id, &name, &id2))
			require.Equal(t, c.name, name)
			require.Equal(t, c.id, id)
			require.Equal(t, c.id, id2)
		}
		rows, err := db.Query("select * from t")
		require.NoError(t, err)
		got := map[int]string{}
		for rows.Next() {
			var id int
			var name string
			require.NoError(t, rows.Scan(&id, &name))
			got[id] = name
		}
		require.NoError(t, rows.Err())
		require.Equal(t, map[int]string{1: "a'b", 2: `x\y`, 3: "n3", 4: "n4", 5: "n5", 6: "n6"}, got)
		require.NoError(t, db.QueryRow("select count(*) from t").Scan(&n))
		require.EqualValues(t, 6, n)

		_, err = db.Exec("select * from no_such_table")
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.ErrorIs(t, err, conn.ErrOperationFailed)
		require.False(t, errors.Is(err, driver.ErrBadConn))

		_, err = db.Begin()
		require.ErrorIs(t, err, impalalb.ErrNoTransactions)
		_, err = db.Query("select ?", struct{}{})
		require.ErrorContains(t, err, "unsupported type")
	})
}

// TestArgumentsRoundTrip sends values of every argument type through
// interpolation and reads them back.
func TestArgumentsRoundTrip(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	db, _ := openDB(t, testConfig(impalalb.ProtocolHS2, co))
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC)
	var (
		b   bool
		i   int64
		f   float64
		s   string
		tm  time.Time
		dt  time.Time
		nul sql.NullString
	)
	err := db.QueryRow("select ?, ?, ?, ?, ?, ?, ?", true, int16(-7), 2.5, "tab\there 'q' \\ ünï", ts, impalalb.Date{Year: 2001, Month: 2, Day: 3}, nil).
		Scan(&b, &i, &f, &s, &tm, &dt, &nul)
	require.NoError(t, err)
	require.True(t, b)
	require.EqualValues(t, -7, i)
	require.Equal(t, 2.5, f)
	require.Equal(t, "tab\there 'q' \\ ünï", s)
	require.Equal(t, ts, tm)
	require.Equal(t, time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC), dt)
	require.False(t, nul.Valid)

	var d impalalb.Decimal
	require.NoError(t, db.QueryRow("select cast(? as decimal(12,3))", "-12345.678").Scan(&d))
	require.Equal(t, "-12345.678", d.String())
	require.Equal(t, 3, d.Scale)
	require.NoError(t, db.QueryRow("select cast(null as decimal(5,1))").Scan(&d))
	require.False(t, d.Valid)
	require.Equal(t, "NULL", d.String())
	require.Error(t, d.Scan(1.5))
	require.Error(t, d.Scan("1e5"))
	v, err := impalalb.Decimal{Rat: big.NewRat(-5, 4), Scale: 2, Valid: true}.Value()
	require.NoError(t, err)
	require.Equal(t, "-1.25", v)
	require.NoError(t, db.QueryRow("select cast(? as decimal(6,2))", impalalb.Decimal{Rat: big.NewRat(-5, 4), Scale: 2, Valid: true}).Scan(&s))
	require.Equal(t, "-1.25", s)
	require.True(t, strings.HasPrefix(s, "-"))
}

func TestPrepareNumInput(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	db, _ := openDB(t, testConfig(impalalb.ProtocolHS2, co))
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"select 1", 0},
		{"select ?, ?", 2},
		{"select @a, @b, @a, ?", 3},
		{"select '?', `@x`, \"?\" -- ?\n/* @y ? */", 0},
		{"select 'unterminated ?", -1},
	} {
		require.NoError(t, c.Raw(func(dc any) error {
			st, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, st.NumInput(), tc.q)
			require.NoError(t, st.Close())
			_, err = st.(driver.StmtQueryContext).QueryContext(ctx, nil)
			require.ErrorContains(t, err, "closed")
			return nil
		}))
	}
	_, err = db.Exec("select 'unterminated ?", 1)
	require.ErrorContains(t, err, "unterminated")
	require.Zero(t, co.Stats().StatementsExecuted+co.Stats().StatementsRejected, "nothing sent")
}

// TestQueryRowRoundTrips: a QueryRow costs what the statement costs on
// the wire (execute, status poll, metadata, fetch, close); closing the rows
// of a fully fetched result sends no cancel.
func TestQueryRowRoundTrips(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	db, _ := openDB(t, testConfig(impalalb.ProtocolHS2, co))
	db.SetMaxOpenConns(1)
	var one int
	require.NoError(t, db.QueryRow("select 1").Scan(&one))
	before := co.Stats().RPCs
	const n = 20
	for range n {
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
	}
	require.LessOrEqual(t, co.Stats().RPCs-before, int64(n*5+n/4))
	require.Zero(t, co.Stats().OperationsOpen)
}
