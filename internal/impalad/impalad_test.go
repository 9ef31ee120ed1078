package impalad

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

func TestSelectOneHS2(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h.ping().StatusCode)
	cols, rows := h.query("select 1")
	require.Len(t, cols, 1)
	require.Equal(t, "1", cols[0].ColumnName)
	require.Equal(t, tcli.TTypeId_TINYINT_TYPE, cols[0].TypeDesc.Types[0].PrimitiveEntry.Type)
	require.Equal(t, [][]any{{int8(1)}}, rows)
	h.closeSession()
	st := co.Stats()
	require.Equal(t, int64(1), st.StatementsExecuted)
	require.Equal(t, 0, st.SessionsOpen)
	stmts := co.Statements()
	require.Len(t, stmts, 1)
	require.Equal(t, "select 1", stmts[0].Text)
}

func TestMaxStatements(t *testing.T) {
	co := startCoord(t, Config{MaxStatements: 10, DisableBeeswax: true})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	for range 25 {
		h.mustExec("select 1")
	}
	st := co.Statements()
	require.LessOrEqual(t, len(st), 10)
	require.Equal(t, int64(25), co.Stats().StatementsExecuted)
	none := startCoord(t, Config{MaxStatements: -1, DisableBeeswax: true})
	h = dialHS2(t, none.HS2Addr())
	h.mustOpen()
	h.mustExec("select 1")
	require.Empty(t, none.Statements())
}

func TestServiceTimeAndConfig(t *testing.T) {
	co := startCoord(t, Config{ServiceTime: time.Hour, BeeswaxAddr: "-"})
	require.Empty(t, co.BeeswaxAddr())
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select 1")
	st, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, tcli.TOperationState_RUNNING_STATE, st.GetOperationState())
	require.Equal(t, int64(1), co.Stats().StatementsExecuted)
	_, err = h.c.CancelOperation(context.Background(), &tcli.TCancelOperationReq{OperationHandle: op})
	require.NoError(t, err)
	// Impala ends a cancelled statement in ERROR_STATE.
	st = h.wait(op)
	require.Equal(t, tcli.TOperationState_ERROR_STATE, st.GetOperationState())
	require.Equal(t, queryFailed(IDFromGUID(op.OperationId.GUID), "Cancelled"), st.GetErrorMessage())

	short := startCoord(t, Config{ServiceTime: 20 * time.Millisecond, DisableBeeswax: true})
	h = dialHS2(t, short.HS2Addr())
	h.mustOpen()
	// A fetch waits for the simulated work, then returns the rows.
	rows, _ := h.fetchAll(h.mustExec("select 'done'"), 10)
	require.Equal(t, [][]any{{"done"}}, rows)
}

// logLines is an io.Writer for a slog handler: each record is one Write,
// sent as a line to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// TestQueryLog: each statement registered is logged, as Impala's
// "Analyzing query: <stmt> db: <db>" line, with its query and session ids
// and the query options it runs with (the profile's "set by
// configuration"), overlay included; a refused statement is not.
func TestQueryLog(t *testing.T) {
	lines := make(logLines, 1000)
	co := startCoord(t, Config{DisableBeeswax: true, Logger: slog.New(slog.NewJSONHandler(lines, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	h.mustExec("use gen")
	h.mustExec("set mem_limit=3g")
	op, st := h.exec("select 1 /* marker */", map[string]string{"sync_ddl": "1"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
	_, st = h.exec("select nosuchcolumn", nil)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)

	type rec struct {
		Msg, QueryID, SessionID, DB, Options, Stmt string
	}
	// Each statement is logged before it is answered: every line is in.
	var got []rec
	for len(lines) > 0 {
		var m map[string]string
		if json.Unmarshal([]byte(<-lines), &m) != nil || m["msg"] != "impalad: query registered" {
			continue
		}
		got = append(got, rec{m["msg"], m["query_id"], m["session_id"], m["db"], m["query_options"], m["stmt"]})
	}
	require.Len(t, got, 3)
	require.Equal(t, "use gen", got[0].Stmt)
	require.Equal(t, "default", got[0].DB, "the database the statement was analysed in")
	require.Equal(t, "MEM_LIMIT=3221225472,SYNC_DDL=1", got[2].Options)
	require.Equal(t, "gen", got[2].DB)
	require.Equal(t, "select 1 /* marker */", got[2].Stmt)
	require.Equal(t, IDFromGUID(op.OperationId.GUID), got[2].QueryID)
	require.Equal(t, got[0].SessionID, got[2].SessionID)
	require.NotEqual(t, got[0].QueryID, got[2].QueryID)
}
