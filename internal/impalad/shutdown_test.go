package impalad

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

func TestPrintTimeMs(t *testing.T) {
	for ms, want := range map[int64]string{
		0: "0", 7: "7ms", 500: "500ms", 10_000: "10s000ms", 12_345: "12s345ms",
		90_000: "1m30s", 120_000: "2m", 3_600_000: "1h", 3_723_004: "1h2m",
	} {
		require.Equal(t, want, printTimeMs(time.Duration(ms)*time.Millisecond), "%d ms", ms)
	}
}

// TestGracefulShutdown follows Impala's graceful shutdown: ":shutdown()"
// answers its status; from then on every new operation is refused with
// "Server is being shut down", pings and the statements already running
// go on; the coordinator exits once the grace period is over and nothing
// is registered, and comes back on the same port after Restart.
func TestGracefulShutdown(t *testing.T) {
	co := startCoord(t, Config{ShutdownGracePeriod: 300 * time.Millisecond, ShutdownCheckInterval: 10 * time.Millisecond})
	a := dialHS2(t, co.HS2Addr())
	a.mustOpen()
	running := a.mustExec("select sleep(400)")
	b := dialHS2(t, co.HS2Addr())
	b.mustOpen()

	cols, rows := b.query(":shutdown()")
	require.Len(t, cols, 1)
	require.Equal(t, "summary", cols[0].ColumnName)
	require.Len(t, rows, 1)
	require.Equal(t, "shutdown grace period left: 300ms, deadline left: 1h, queries registered on coordinator: 2, queries executing: 1, fragment instances: 1", rows[0][0])
	require.True(t, co.ShuttingDown())

	refused := func(st *tcli.TStatus) {
		t.Helper()
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
		require.True(t, strings.HasPrefix(st.GetErrorMessage(), "Server is being shut down: shutdown grace period left: "), st.GetErrorMessage())
		require.True(t, strings.HasSuffix(st.GetErrorMessage(), ".\n"))
		require.Equal(t, "HY000", st.GetSqlState())
	}
	_, st := a.exec("select 1", nil)
	refused(st)
	c := dialHS2(t, co.HS2Addr())
	refused(c.open(nil).Status)
	info, err := a.c.GetInfo(context.Background(), &tcli.TGetInfoReq{SessionHandle: a.sess, InfoType: tcli.TGetInfoType_CLI_DBMS_VER})
	require.NoError(t, err)
	refused(info.Status)
	tables, err := a.c.GetTables(context.Background(), &tcli.TGetTablesReq{SessionHandle: a.sess})
	require.NoError(t, err)
	refused(tables.Status)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, a.ping().StatusCode, "pings go on")

	// The running statement finishes and is fetched; the coordinator is
	// still there while it is registered.
	require.Equal(t, tcli.TOperationState_FINISHED_STATE, a.wait(running).GetOperationState())
	rows, _ = a.fetchAll(running, 10)
	require.Equal(t, [][]any{{true}}, rows)
	select {
	case <-co.ShutdownDone():
		t.Fatal("exited with a statement registered")
	default:
	}
	_, err = a.c.CloseOperation(context.Background(), &tcli.TCloseOperationReq{OperationHandle: running})
	require.NoError(t, err)
	select {
	case <-co.ShutdownDone():
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the grace period with nothing registered")
	}
	_, err = net.DialTimeout("tcp", co.HS2Addr(), time.Second)
	require.Error(t, err, "the coordinator exited")

	require.NoError(t, co.Restart())
	require.False(t, co.ShuttingDown())
	d := dialHS2(t, co.HS2Addr())
	d.mustOpen()
	_, rows = d.query("select 1")
	require.Equal(t, [][]any{{int8(1)}}, rows)
}

// TestShutdownDeadline: ":shutdown(deadline)" ends the coordinator at the
// deadline whatever still runs; the deadline can only come closer; beeswax
// is refused as HS2 is.
func TestShutdownDeadline(t *testing.T) {
	co := startCoord(t, Config{ShutdownGracePeriod: time.Hour, ShutdownCheckInterval: 10 * time.Millisecond})
	a := dialHS2(t, co.HS2Addr())
	a.mustOpen()
	a.mustExec("select sleep(60000)")
	status, err := co.StartShutdown(time.Hour)
	require.NoError(t, err)
	require.Contains(t, status, "deadline left: 1h,")
	status, err = co.StartShutdown(200 * time.Millisecond)
	require.NoError(t, err)
	require.Contains(t, status, "shutdown grace period left: 59m", "the grace period already runs")
	require.Contains(t, status, "deadline left: 200ms,")

	bz := dialBeeswax(t, co.BeeswaxAddr())
	_, err = bz.c.Query(context.Background(), &beeswax.Query{Query: "select 1"})
	var be *beeswax.BeeswaxException
	require.ErrorAs(t, err, &be)
	require.True(t, strings.HasPrefix(be.Message, "Server is being shut down: "), be.Message)

	select {
	case <-co.ShutdownDone():
	case <-time.After(10 * time.Second):
		t.Fatal("no exit at the deadline")
	}

	_, err = a.c.ExecuteStatement(context.Background(), &tcli.TExecuteStatementReq{SessionHandle: a.sess, Statement: "select 1"})
	require.Error(t, err, "the coordinator exited: its connections are gone")
}

func TestShutdownStatementForms(t *testing.T) {
	for _, tc := range []struct{ stmt, err string }{
		{":shutdown(1, 2, 3)", "Shutdown takes 0, 1 or 2 arguments"},
		{":shutdown(-5)", "deadline must be a non-negative integer"},
		{":shutdown('other.example.com:27000')", "not supported by the test coordinator"},
		{":nosuch()", "Unknown admin function: nosuch"},
	} {
		co := startCoord(t, Config{})
		a := dialHS2(t, co.HS2Addr())
		a.mustOpen()
		_, st := a.exec(tc.stmt, nil)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode, tc.stmt)
		require.Contains(t, st.GetErrorMessage(), tc.err, tc.stmt)
		require.False(t, co.ShuttingDown(), tc.stmt)
	}
	co := startCoord(t, Config{})
	a := dialHS2(t, co.HS2Addr())
	a.mustOpen()
	_, rows := a.query(":shutdown('" + co.HS2Addr() + "', 30)")
	require.Contains(t, rows[0][0], "deadline left: 30s000ms,")
}
