package interop

import (
	"context"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// hs2Steps runs, with raw TCLIService calls on a NOSASL connection, a
// sequence of calls whose outcome HiveServer2 defines and Impala shares,
// and returns the outcome of each step by name.
func hs2Steps(t *testing.T, addr string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sock := thrift.NewTSocketConf(addr, &thrift.TConfiguration{})
	require.NoError(t, sock.Open())
	defer sock.Close()
	tr := thrift.NewTBufferedTransport(sock, 4096)
	c := tcli.NewTCLIServiceClient(thrift.NewTStandardClient(thrift.NewTBinaryProtocolConf(tr, nil), thrift.NewTBinaryProtocolConf(tr, nil)))
	out := map[string]string{}
	code := func(step string, s *tcli.TStatus, err error) {
		require.NoError(t, err, step)
		require.NotNil(t, s, step)
		out[step] = s.StatusCode.String()
	}
	os, err := c.OpenSession(ctx, &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
	code("open", os.GetStatus(), err)
	out["open protocol"] = os.ServerProtocolVersion.String()
	sh := os.SessionHandle
	ex, err := c.ExecuteStatement(ctx, &tcli.TExecuteStatementReq{SessionHandle: sh, Statement: "select 1", RunAsync: true})
	code("execute", ex.GetStatus(), err)
	oh := ex.OperationHandle
	out["has result set"] = map[bool]string{true: "yes", false: "no"}[oh.HasResultSet]
	for range 100 {
		gs, err := c.GetOperationStatus(ctx, &tcli.TGetOperationStatusReq{OperationHandle: oh})
		require.NoError(t, err)
		if gs.GetOperationState() == tcli.TOperationState_FINISHED_STATE {
			out["state"] = "FINISHED"
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	md, err := c.GetResultSetMetadata(ctx, &tcli.TGetResultSetMetadataReq{OperationHandle: oh})
	code("metadata", md.GetStatus(), err)
	f, err := c.FetchResults(ctx, &tcli.TFetchResultsReq{OperationHandle: oh, Orientation: tcli.TFetchOrientation_FETCH_NEXT, MaxRows: 10})
	code("fetch", f.GetStatus(), err)
	out["fetch columns"] = string(rune('0' + len(f.GetResults().GetColumns())))
	f, err = c.FetchResults(ctx, &tcli.TFetchResultsReq{OperationHandle: oh, Orientation: tcli.TFetchOrientation_FETCH_NEXT, MaxRows: 10})
	code("fetch past the end", f.GetStatus(), err)
	out["fetch past the end: more"] = map[bool]string{true: "yes", false: "no"}[f.GetHasMoreRows()]
	ca, err := c.CancelOperation(ctx, &tcli.TCancelOperationReq{OperationHandle: oh})
	code("cancel a finished operation", ca.GetStatus(), err)
	cl, err := c.CloseOperation(ctx, &tcli.TCloseOperationReq{OperationHandle: oh})
	code("close operation", cl.GetStatus(), err)
	cl, err = c.CloseOperation(ctx, &tcli.TCloseOperationReq{OperationHandle: oh})
	code("close operation again", cl.GetStatus(), err)
	gs, err := c.GetOperationStatus(ctx, &tcli.TGetOperationStatusReq{OperationHandle: oh})
	code("status of a closed operation", gs.GetStatus(), err)
	f, err = c.FetchResults(ctx, &tcli.TFetchResultsReq{OperationHandle: oh, Orientation: tcli.TFetchOrientation_FETCH_NEXT, MaxRows: 10})
	code("fetch from a closed operation", f.GetStatus(), err)
	gi, err := c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: sh, InfoType: tcli.TGetInfoType_CLI_DBMS_VER})
	code("get info", gi.GetStatus(), err)
	cs, err := c.CloseSession(ctx, &tcli.TCloseSessionReq{SessionHandle: sh})
	code("close session", cs.GetStatus(), err)
	cs, err = c.CloseSession(ctx, &tcli.TCloseSessionReq{SessionHandle: sh})
	code("close session again", cs.GetStatus(), err)
	gi, err = c.GetInfo(ctx, &tcli.TGetInfoReq{SessionHandle: sh, InfoType: tcli.TGetInfoType_CLI_DBMS_VER})
	code("get info on a closed session", gi.GetStatus(), err)
	ex, err = c.ExecuteStatement(ctx, &tcli.TExecuteStatementReq{SessionHandle: sh, Statement: "select 1", RunAsync: true})
	code("execute on a closed session", ex.GetStatus(), err)
	return out
}

// TestSharedHS2Semantics checks that the test coordinator answers the
// calls whose behaviour Impala shares with HiveServer2 as a real
// HiveServer2 does: the same status for each step of a session's life.
func TestSharedHS2Semantics(t *testing.T) {
	ss := sparkPair(t)
	p := startImpalad(t)
	want := hs2Steps(t, ss[0].Addr)
	require.Equal(t, "ERROR_STATUS", want["close operation again"], "the real server's answers, for reference")
	// Spark answers GetInfo for the server's name and version without
	// looking at the session (Apache Hive's GetInfo, like Impala's,
	// checks it): not a HiveServer2 rule, so not compared.
	require.Equal(t, "SUCCESS_STATUS", want["get info on a closed session"])
	got := hs2Steps(t, p.HS2)
	require.Equal(t, "ERROR_STATUS", got["get info on a closed session"])
	delete(want, "get info on a closed session")
	delete(got, "get info on a closed session")
	require.Equal(t, want, got)
}
