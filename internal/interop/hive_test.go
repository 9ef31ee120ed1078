package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// hiveOpts are conn's options for a plain HiveServer2.
var hiveOpts = conn.Options{AllowNonImpala: true, ConnectTimeout: 30 * time.Second, CancelTimeout: 30 * time.Second}

func dialHive(t *testing.T, ctx context.Context, addr string, o conn.Options) *conn.Session {
	t.Helper()
	s, err := conn.Dial(ctx, addr, o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// queryAll runs stmt and returns its columns, rows (as Batch.Value gives
// them) and the number of fetched batches.
func queryAll(ctx context.Context, s *conn.Session, stmt string) ([]conn.Column, [][]any, int, error) {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	defer op.Close(ctx)
	var rows [][]any
	batches := 0
	for {
		b, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, batches, err
		}
		if b.Len() > 0 {
			batches++
		}
		for r := range b.Len() {
			row := make([]any, b.NumColumns())
			for c := range row {
				row[c] = b.Value(c, r)
			}
			rows = append(rows, row)
		}
	}
	return op.Columns(), rows, batches, op.Close(ctx)
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestHiveServer2Literals selects a literal of every type Spark's Thrift
// server has and checks types and values as conn decodes them.
func TestHiveServer2Literals(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	s := dialHive(t, ctx, ss[0].Addr, hiveOpts)
	require.NotEmpty(t, s.ServerVersion())
	require.Equal(t, 6, s.ProtocolVersion())

	cols, rows, _, err := queryAll(ctx, s, `select true, 1Y, 2S, 3, 4L, cast(1.5 as float), 2.5D, 1.50, 'str',
		date'2020-01-02', timestamp'2020-01-02 03:04:05.123456', X'0102', null, cast('v' as varchar(5)),
		timestamp_ntz'2020-01-02 03:04:05', interval '1' day, interval '2' year, array(1,2), map('a',1),
		named_struct('x',1), cast(null as int), cast(null as string), cast(null as timestamp), -9223372036854775808L,
		cast(12345678901234567890.123456789 as decimal(38,9)), 'ü–ß'`)
	require.NoError(t, err)
	type want struct {
		typ  conn.Type
		name string
		val  any
	}
	wants := []want{
		{conn.TypeBoolean, "BOOLEAN", true},
		{conn.TypeTinyInt, "TINYINT", int8(1)},
		{conn.TypeSmallInt, "SMALLINT", int16(2)},
		{conn.TypeInt, "INT", int32(3)},
		{conn.TypeBigInt, "BIGINT", int64(4)},
		{conn.TypeFloat, "FLOAT", float32(1.5)},
		{conn.TypeDouble, "DOUBLE", 2.5},
		{conn.TypeDecimal, "DECIMAL", "1.50"},
		{conn.TypeString, "STRING", "str"},
		{conn.TypeDate, "DATE", time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)},
		{conn.TypeTimestamp, "TIMESTAMP", time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.UTC)},
		{conn.TypeBinary, "BINARY", []byte{1, 2}},
		{conn.TypeNull, "NULL", nil},
		{conn.TypeString, "STRING", "v"}, // Spark reads VARCHAR as STRING
		{conn.TypeTimestamp, "TIMESTAMP", time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		{conn.TypeOther, "INTERVAL_DAY_TIME", "1 00:00:00.000000000"},
		{conn.TypeOther, "INTERVAL_YEAR_MONTH", "2-0"},
		{conn.TypeOther, "ARRAY", "[1,2]"},
		{conn.TypeOther, "MAP", `{"a":1}`},
		{conn.TypeOther, "STRUCT", `{"x":1}`},
		{conn.TypeInt, "INT", nil},
		{conn.TypeString, "STRING", nil},
		{conn.TypeTimestamp, "TIMESTAMP", nil},
		{conn.TypeBigInt, "BIGINT", int64(-9223372036854775808)},
		{conn.TypeDecimal, "DECIMAL", "12345678901234567890.123456789"},
		{conn.TypeString, "STRING", "ü–ß"},
	}
	require.Len(t, cols, len(wants))
	require.Len(t, rows, 1)
	for i, w := range wants {
		require.Equal(t, w.typ, cols[i].Type, "column %d %s", i, cols[i].Name)
		require.Equal(t, w.name, cols[i].TypeName, "column %d", i)
		require.Equal(t, w.val, rows[0][i], "column %d %s", i, cols[i].Name)
	}
	require.Equal(t, 3, cols[7].Precision)
	require.Equal(t, 2, cols[7].Scale)
	require.Equal(t, 38, cols[24].Precision)
	require.Equal(t, 9, cols[24].Scale)
}

// TestHiveServer2TempView fetches 100k rows of a temporary view in pages.
func TestHiveServer2TempView(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	o := hiveOpts
	o.FetchSize = 7000
	s := dialHive(t, ctx, ss[1].Addr, o)
	_, _, _, err := queryAll(ctx, s, `create temporary view v100k as
		select id, cast(id as string) as s, if(id % 10 = 3, null, id * 0.5D) as d from range(0, 100000, 1, 1)`)
	require.NoError(t, err)
	cols, rows, batches, err := queryAll(ctx, s, "select * from v100k")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "s", "d"}, []string{cols[0].Name, cols[1].Name, cols[2].Name})
	require.Len(t, rows, 100000)
	require.GreaterOrEqual(t, batches, 100000/o.FetchSize, "fetched in pages of at most FetchSize rows")
	for i, r := range rows {
		require.Equal(t, int64(i), r[0])
		require.Equal(t, strconv.Itoa(i), r[1])
		if i%10 == 3 {
			require.Nil(t, r[2])
		} else {
			require.Equal(t, float64(i)*0.5, r[2])
		}
	}
	// The view is the session's: another session does not see it.
	s2 := dialHive(t, ctx, ss[1].Addr, hiveOpts)
	_, _, _, err = queryAll(ctx, s2, "select count(*) from v100k")
	require.ErrorIs(t, err, conn.ErrOperationFailed)
}

// TestHiveServer2Errors checks the errors of bad SQL: typed, with the
// server's message and SQLSTATE, and the session still usable.
func TestHiveServer2Errors(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	s := dialHive(t, ctx, ss[0].Addr, hiveOpts)
	for _, tc := range []struct{ stmt, msg, state string }{
		{"selec 1", "PARSE_SYNTAX_ERROR", "42601"},
		{"select * from no_such_table", "TABLE_OR_VIEW_NOT_FOUND", "42P01"},
		{"select no_such_column", "UNRESOLVED_COLUMN", "42703"},
		{"select raise_error('interop boom')", "interop boom", ""},
	} {
		_, _, _, err := queryAll(ctx, s, tc.stmt)
		require.Error(t, err, tc.stmt)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce, tc.stmt)
		require.ErrorIs(t, err, conn.ErrOperationFailed, tc.stmt)
		require.Contains(t, ce.Message, tc.msg, tc.stmt)
		if tc.state != "" {
			require.Equal(t, tc.state, ce.SQLState, tc.stmt)
		}
		require.False(t, s.Broken(), tc.stmt)
		_, rows, _, err := queryAll(ctx, s, "select 1")
		require.NoError(t, err)
		require.Equal(t, [][]any{{int32(1)}}, rows)
	}
}

// TestHiveServer2Cancel cancels a long query by its context. The
// statement must end on the server: with one core (local[1]) a later job
// could not run before the long one ended otherwise. When the deadline
// interrupted a call half-way the connection is broken, and since
// HiveServer2 closes a session with its connection, closing ours ends the
// statement; otherwise conn cancelled it and the session stays usable.
func TestHiveServer2Cancel(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	for i := range 2 {
		s, err := conn.Dial(ctx, ss[0].Addr, hiveOpts)
		require.NoError(t, err)
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		// About 10^11 rows: hours of work for one core.
		_, _, _, err = queryAll(qctx, s, "select sum(id % 13) from range(0, 100000000000, 1, 1)")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var cs *conn.Session
		if s.Broken() {
			t.Logf("round %d: the deadline broke the connection (%v); closing the session", i, err)
			s.Close()
			cs, err = conn.Dial(ctx, ss[0].Addr, hiveOpts)
			require.NoError(t, err)
		} else {
			cs = s
		}
		_, rows, _, err := queryAll(ctx, cs, "select count(*) from range(0, 1000, 1, 1)")
		require.NoError(t, err)
		require.Equal(t, [][]any{{int64(1000)}}, rows)
		require.NoError(t, cs.Close())
	}
}

// TestHiveServer2SessionChurn opens and closes sessions in a loop.
func TestHiveServer2SessionChurn(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	for i := range 30 {
		s, err := conn.Dial(ctx, ss[i%2].Addr, hiveOpts)
		require.NoError(t, err, "dial %d", i)
		require.NoError(t, s.Ping(ctx))
		_, rows, _, err := queryAll(ctx, s, fmt.Sprintf("select %d", i))
		require.NoError(t, err)
		require.Equal(t, [][]any{{int32(i)}}, rows)
		require.NoError(t, s.Close(), "close %d", i)
		require.ErrorIs(t, s.Ping(ctx), conn.ErrSessionClosed)
	}
}

// TestHiveServer2Balancer balances over the two servers, then restarts one
// under an idle pool: idle validation must replace the sessions the
// restarted server forgot, and every statement must succeed.
func TestHiveServer2Balancer(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 4*time.Minute)
	addrs := []string{ss[0].Addr, ss[1].Addr}
	pool, err := balancer.New(balancer.Config{
		Coordinators:  addrs,
		ValidateAfter: time.Nanosecond, // ping every idle session before reuse
		Interval:      -1,
		SlowStart:     -1,
		DialTimeout:   30 * time.Second,
	}, balancer.NewConnDialer(hiveOpts))
	require.NoError(t, err)
	defer pool.Close()

	round := func(n int) map[string]int {
		leases := make([]*balancer.Lease[*conn.Session], n)
		for i := range leases {
			l, err := pool.Acquire(ctx, "")
			require.NoError(t, err)
			leases[i] = l
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, l := range leases {
			wg.Go(func() {
				_, rows, _, err := queryAll(ctx, l.Session(), fmt.Sprintf("select %d", i))
				if err == nil && (len(rows) != 1 || rows[0][0] != int32(i)) {
					err = fmt.Errorf("select %d: got %v", i, rows)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		per := map[string]int{}
		for _, l := range leases {
			per[l.Coordinator()]++
			l.Release()
		}
		require.NoError(t, errors.Join(errs...))
		return per
	}
	require.Equal(t, map[string]int{addrs[0]: 2, addrs[1]: 2}, round(4), "least-conn spreads over both servers")
	st := pool.Stats()
	require.Equal(t, 4, st.Idle)

	// Restart server 1 under the idle pool: its two sessions are gone.
	require.NoError(t, ss[1].restart())
	require.Equal(t, map[string]int{addrs[0]: 2, addrs[1]: 2}, round(4))
	cs, ok := pool.Stats().Coordinator(addrs[1])
	require.True(t, ok)
	require.Equal(t, uint64(2), cs.Replaced, "both forgotten sessions replaced at validation")
	require.Equal(t, uint64(4), cs.Dialed)
	cs0, _ := pool.Stats().Coordinator(addrs[0])
	require.Equal(t, uint64(0), cs0.Replaced)
	require.Equal(t, uint64(2), cs0.Dialed, "server 0's sessions were reused")
}

// TestHiveServer2SessionReset checks session options and Reset on a real
// HiveServer2: options given at open apply (sent as set:hiveconf:), and
// Reset undoes SET and USE, so that a pool does not leak one user's
// settings to the next.
func TestHiveServer2SessionReset(t *testing.T) {
	ss := sparkPair(t)
	ctx := testCtx(t, 2*time.Minute)
	o := hiveOpts
	o.SessionOptions = map[string]string{"spark.sql.shuffle.partitions": "2"}
	s := dialHive(t, ctx, ss[0].Addr, o)
	get := func(stmt string) any {
		t.Helper()
		_, rows, _, err := queryAll(ctx, s, stmt)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		return rows[0][len(rows[0])-1]
	}
	exec := func(stmt string) {
		t.Helper()
		_, _, _, err := queryAll(ctx, s, stmt)
		require.NoError(t, err)
	}
	const show = "set spark.sql.shuffle.partitions"
	require.Equal(t, "2", get(show), "session option given at open")
	exec("set spark.sql.shuffle.partitions=5")
	exec("set spark.sql.ansi.enabled=false")
	require.Equal(t, "5", get(show))
	exec("create database if not exists interop_reset")
	exec("use interop_reset")
	require.Equal(t, "interop_reset", get("select current_database()"))
	require.True(t, s.NeedsReset())

	require.NoError(t, s.Reset(ctx))
	require.False(t, s.NeedsReset())
	require.Equal(t, "2", get(show))
	require.Equal(t, "true", get("set spark.sql.ansi.enabled"), "RESET brought the server's default back")
	require.Equal(t, "default", get("select current_database()"))
}
