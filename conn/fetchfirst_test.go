package conn_test

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// rpcs runs fn and returns how many calls the coordinator served meanwhile.
func rpcs(co *impalad.Coordinator, fn func()) int64 {
	before := co.Stats().RPCs
	fn()
	return co.Stats().RPCs - before
}

// A query on HS2 is fetched, not polled: Execute, metadata, one fetch that
// the coordinator holds until the rows are ready, close — four calls
// whatever the statement's run time, where polling adds at least one
// status call and more the longer it runs.
func TestQueryFetchedNotPolled(t *testing.T) {
	co, addr, opts := setup(t, variants[0], impalad.Config{ServiceTime: 100 * time.Millisecond})
	s := dial(t, addr, opts)
	ctx := context.Background()
	for _, stmt := range []string{"select 1", "select sleep(50)", "select * from gen.rows_10", "show databases", "describe gen.rows_10"} {
		n := rpcs(co, func() {
			op, err := s.Execute(ctx, stmt, nil)
			require.NoError(t, err, stmt)
			rows := 0
			for {
				b, err := op.Next(ctx)
				if err == io.EOF {
					break
				}
				require.NoError(t, err, stmt)
				rows += b.Len()
			}
			require.Positive(t, rows, stmt)
			require.NoError(t, op.Close(ctx))
		})
		require.Equal(t, int64(4), n, stmt)
	}
	// A statement that is not a query is polled as before: a DDL that runs
	// for a while takes status calls.
	n := rpcs(co, func() {
		op, err := s.Execute(ctx, "create table t (i int)", nil)
		require.NoError(t, err)
		require.NoError(t, op.Close(ctx))
	})
	require.Greater(t, n, int64(4))
	require.Empty(t, query(t, s, "select * from t"))
	// Options.PollQueries goes back to polling queries too.
	opts.PollQueries = true
	ps := dial(t, addr, opts)
	n = rpcs(co, func() { require.Equal(t, [][]any{{true}}, query(t, ps, "select sleep(50)")) })
	require.Greater(t, n, int64(4))
}

// A query that fails while it runs fails Execute as a poll would have
// reported it: ErrOperationFailed, Op "execute", the coordinator's message
// and the query id, and the session goes on.
func TestQueryFailsInFirstFetch(t *testing.T) {
	co, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	_, err := s.Execute(context.Background(), "select sleep(30), fail('late boom')", nil)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, conn.ErrOperationFailed)
	require.Equal(t, conn.OpExecute, ce.Op)
	require.Contains(t, ce.Message, "late boom")
	require.NotEmpty(t, ce.QueryID)
	require.True(t, ce.Sent)
	require.False(t, conn.SafeToRetry(err))
	require.False(t, s.Broken())
	require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
}

// When Impala's fetch_rows_timeout_ms passes before the rows are ready,
// the fetch comes back empty (still executing) and is asked again; Execute
// returns with the rows once they are there.
func TestQueryFirstFetchTimesOut(t *testing.T) {
	co, addr, opts := setup(t, variants[0], impalad.Config{})
	opts.SessionOptions = map[string]string{"FETCH_ROWS_TIMEOUT_MS": "10"}
	s := dial(t, addr, opts)
	var got [][]any
	n := rpcs(co, func() { got = query(t, s, "select sleep(120), 7") })
	require.Equal(t, [][]any{{true, int8(7)}}, got)
	require.Greater(t, n, int64(4), "the first fetch was repeated")
}

// A caller that asked for progress reports (WithProgress) has its query
// polled, so that the reports come while it runs.
func TestQueryWithProgressIsPolled(t *testing.T) {
	_, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	reports := 0
	ctx := conn.WithProgress(context.Background(), 100*time.Millisecond, func(*conn.Summary) { reports++ })
	op, err := s.Execute(ctx, "select sleep(1000)", nil)
	require.NoError(t, err)
	require.NoError(t, op.Close(ctx))
	require.Positive(t, reports)
}

// The first batch, fetched by Execute before SetDecodeTimes, still comes
// out of Next with its TIMESTAMP and DATE columns decoded.
func TestFirstBatchDecodesTimesAfterExecute(t *testing.T) {
	_, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	ctx := context.Background()
	op, err := s.Execute(ctx, "select cast('2024-02-29 12:34:56.789' as timestamp), cast('2024-03-01' as date)", nil)
	require.NoError(t, err)
	defer op.Close(ctx)
	op.SetDecodeTimes(true)
	b, err := op.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC), b.Value(0, 0))
	require.Equal(t, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), b.Value(1, 0))
	require.Len(t, b.Times(0), 1)
	require.Nil(t, b.Strings(0))
	_, err = op.Next(ctx)
	require.ErrorIs(t, err, io.EOF)
}

func TestMajorVersion(t *testing.T) {
	for v, want := range map[string]int{
		"impalad version 4.4.0-RELEASE RELEASE (build 1234)": 4,
		"impalad version 3.2.0-cdh6.3.2 RELEASE":             3,
		impalad.DefaultVersion:                               4,
		"10.1":                                               10,
		"impalad version 5":                                  0,
		"":                                                   0,
		"v2x.3":                                              0,
		"build 99999999999999999999999.1":                    0,
	} {
		require.Equal(t, want, conn.MajorVersion(v), v)
	}
}

// When ctx has a deadline and the coordinator is Impala 4 or later, the
// query carries FETCH_ROWS_TIMEOUT_MS up to the deadline, so that a first
// fetch still waiting then comes back by itself and the query is cancelled
// on the same connection; not for an older coordinator, nor where the
// option was chosen (the end of ctx then cuts the call and the session is
// reattached). Either way the query is cancelled and closed and the
// session goes on. (Which connection served the cancel is left unchecked:
// on a loaded machine the coordinator's answer may come after the grace.)
func TestQueryDeadlineInFirstFetch(t *testing.T) {
	for _, c := range []struct {
		name    string
		version string
		session map[string]string
		bounded bool
	}{
		{"impala4", "", nil, true},
		{"impala3", "3.2.0-cdh6.3.2 RELEASE", nil, false},
		{"chosen", "", map[string]string{"fetch_rows_timeout_ms": "0"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			co, addr, opts := setup(t, variants[0], impalad.Config{Version: c.version})
			opts.SessionOptions = c.session
			s := dial(t, addr, opts)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := s.Execute(ctx, "select sleep(3600000)", nil)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.False(t, conn.SafeToRetry(err))
			require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 }, 5*time.Second, time.Millisecond)
			require.False(t, s.Broken())
			stmts := co.Statements()
			bound, set := stmts[len(stmts)-1].Overlay["FETCH_ROWS_TIMEOUT_MS"]
			require.Equal(t, c.bounded, set)
			if c.bounded {
				ms, err := strconv.Atoi(bound)
				require.NoError(t, err)
				require.Positive(t, ms)
				require.LessOrEqual(t, ms, 1000)
			}
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
		})
	}
}

// Impala measures FETCH_ROWS_TIMEOUT_MS from the fetch's arrival, which
// comes only after ExecuteStatement planned the statement: the bound
// leaves out the planning the session saw, so that the first fetch still
// answers by the deadline; and when planning took longer than that (the
// session's first query here), Execute polls until the deadline instead
// of sending a fetch that would be held past it. Either way the query is
// cancelled on the same connection: no reattach, no new connection.
func TestQueryDeadlineAfterPlanning(t *testing.T) {
	const planning = 1500 * time.Millisecond
	co, addr, opts := setup(t, variants[0], impalad.Config{PlanningTime: planning})
	s := dial(t, addr, opts)
	run := func(timeout time.Duration) string {
		t.Helper()
		conns := co.Stats().ConnectionsAccepted
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := s.Execute(ctx, "select sleep(3600000)", nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 }, 5*time.Second, time.Millisecond)
		require.False(t, s.Broken())
		require.Equal(t, conns, co.Stats().ConnectionsAccepted, "the query was cancelled on the same connection")
		stmts := co.Statements()
		return stmts[len(stmts)-1].Overlay["FETCH_ROWS_TIMEOUT_MS"]
	}
	// The first query: no planning seen yet, so the bound is the time
	// left; ExecuteStatement then leaves less than that: Execute polls.
	ms, err := strconv.Atoi(run(2 * time.Second))
	require.NoError(t, err)
	require.LessOrEqual(t, ms, 2000)

	// The next one leaves the planning seen out of the bound.
	ms, err = strconv.Atoi(run(3 * time.Second))
	require.NoError(t, err)
	require.Positive(t, ms)
	require.LessOrEqual(t, ms, int((3*time.Second-planning)/time.Millisecond))
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
}
