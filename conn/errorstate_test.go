package conn_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// lateErrorServer is a HiveServer2 whose failed statement shows
// ERROR_STATE for a few polls before its message, as HiveServer2 and
// Spark's Thrift server do (the state is set before the exception that
// carries the message).
type lateErrorServer struct {
	tcli.TCLIService
	bare   int32 // polls answered ERROR_STATE without a message
	polls  atomic.Int32
	closed atomic.Int32
}

var okStatus = &tcli.TStatus{StatusCode: tcli.TStatusCode_SUCCESS_STATUS}

func handle() *tcli.THandleIdentifier {
	return &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}
}

func (h *lateErrorServer) OpenSession(context.Context, *tcli.TOpenSessionReq) (*tcli.TOpenSessionResp, error) {
	return &tcli.TOpenSessionResp{Status: okStatus, SessionHandle: &tcli.TSessionHandle{SessionId: handle()},
		ServerProtocolVersion: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10}, nil
}

func (h *lateErrorServer) GetInfo(context.Context, *tcli.TGetInfoReq) (*tcli.TGetInfoResp, error) {
	v := "late-error 1.0"
	return &tcli.TGetInfoResp{Status: okStatus, InfoValue: &tcli.TGetInfoValue{StringValue: &v}}, nil
}

func (h *lateErrorServer) ExecuteStatement(context.Context, *tcli.TExecuteStatementReq) (*tcli.TExecuteStatementResp, error) {
	return &tcli.TExecuteStatementResp{Status: okStatus, OperationHandle: &tcli.TOperationHandle{
		OperationId: handle(), OperationType: tcli.TOperationType_EXECUTE_STATEMENT, HasResultSet: true}}, nil
}

func (h *lateErrorServer) GetOperationStatus(context.Context, *tcli.TGetOperationStatusReq) (*tcli.TGetOperationStatusResp, error) {
	st := tcli.TOperationState_ERROR_STATE
	resp := &tcli.TGetOperationStatusResp{Status: okStatus, OperationState: &st}
	if h.polls.Add(1) > h.bare {
		msg, state := "[UNRESOLVED_COLUMN] no_such_column cannot be resolved", "42703"
		resp.ErrorMessage, resp.SqlState = &msg, &state
	}
	return resp, nil
}

func (h *lateErrorServer) CloseOperation(context.Context, *tcli.TCloseOperationReq) (*tcli.TCloseOperationResp, error) {
	h.closed.Add(1)
	return &tcli.TCloseOperationResp{Status: okStatus}, nil
}

func (h *lateErrorServer) CloseSession(context.Context, *tcli.TCloseSessionReq) (*tcli.TCloseSessionResp, error) {
	return &tcli.TCloseSessionResp{Status: okStatus}, nil
}

func startLateError(t *testing.T, bare int32) (string, *lateErrorServer) {
	h := &lateErrorServer{bare: bare}
	return serveTCLI(t, h), h
}

// A statement whose ERROR state comes before its message is reported with
// the message, not as an error that says nothing; a server that never
// gives one is asked a bounded number of times.
func TestErrorStateBeforeItsMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := conn.Options{AllowNonImpala: true, ConnectTimeout: 5 * time.Second}

	addr, h := startLateError(t, 2)
	s, err := conn.Dial(ctx, addr, opts)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Execute(ctx, "select no_such_column", nil)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, conn.ErrOperationFailed)
	require.Contains(t, ce.Message, "UNRESOLVED_COLUMN")
	require.Equal(t, "42703", ce.SQLState)
	require.EqualValues(t, 3, h.polls.Load(), "two bare ERROR answers, then the one with the message")
	require.EqualValues(t, 1, h.closed.Load(), "the failed operation is closed")

	addr, h = startLateError(t, 1000)
	s2, err := conn.Dial(ctx, addr, opts)
	require.NoError(t, err)
	defer s2.Close()
	_, err = s2.Execute(ctx, "select no_such_column", nil)
	require.ErrorIs(t, err, conn.ErrOperationFailed)
	require.ErrorAs(t, err, &ce)
	require.Empty(t, ce.Message)
	require.LessOrEqual(t, h.polls.Load(), int32(10), "asked a bounded number of times")
	require.EqualValues(t, 1, h.closed.Load())
}

// TestCanceledOnCoordinator: Impala ends a statement it cancels (here by
// EXEC_TIME_LIMIT_S) in ERROR_STATE, beeswax EXCEPTION, with a status that
// says so; the error is ErrOperationCanceled, not ErrOperationFailed.
func TestCanceledOnCoordinator(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			_, err := s.Execute(context.Background(), "select sleep(60000)", map[string]string{"EXEC_TIME_LIMIT_S": "1"})
			require.ErrorIs(t, err, conn.ErrOperationCanceled)
			require.NotErrorIs(t, err, conn.ErrOperationFailed)
			require.ErrorContains(t, err, "expired due to execution time limit of 1s000ms")

			// A statement that fails is not a cancelled one.
			_, err = s.Execute(context.Background(), "select fail('Cancelled by the test')", nil)
			require.ErrorIs(t, err, conn.ErrOperationFailed)
			require.NotErrorIs(t, err, conn.ErrOperationCanceled)
		})
	}
}
