package impalad

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

var testConf = &thrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 10 * time.Second}

func startCoord(t testing.TB, cfg Config) *Coordinator {
	t.Helper()
	co, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	return co
}

// hs2Client is a raw HS2 client over the generated code (not package conn).
type hs2Client struct {
	t    testing.TB
	conn net.Conn
	tr   thrift.TTransport
	c    *impala.ImpalaHiveServer2ServiceClient
	sess *tcli.TSessionHandle
}

func dialTransport(t testing.TB, addr string) (net.Conn, thrift.TTransport) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	sock := thrift.NewTSocketFromConnConf(c, testConf)
	tr := thrift.NewTBufferedTransport(sock, 64<<10)
	t.Cleanup(func() { tr.Close() })
	return c, tr
}

func dialHS2(t testing.TB, addr string) *hs2Client {
	t.Helper()
	c, tr := dialTransport(t, addr)
	return newHS2Client(t, c, tr)
}

func newHS2Client(t testing.TB, c net.Conn, tr thrift.TTransport) *hs2Client {
	pf := thrift.NewTBinaryProtocolFactoryConf(testConf)
	return &hs2Client{t: t, conn: c, tr: tr, c: impala.NewImpalaHiveServer2ServiceClientFactory(tr, pf)}
}

func (h *hs2Client) open(conf map[string]string) *tcli.TOpenSessionResp {
	h.t.Helper()
	resp, err := h.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{
		ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6, Username: ptr("tester"), Configuration: conf})
	require.NoError(h.t, err)
	if resp.Status.StatusCode == tcli.TStatusCode_SUCCESS_STATUS {
		h.sess = resp.SessionHandle
	}
	return resp
}

func (h *hs2Client) mustOpen() {
	h.t.Helper()
	resp := h.open(nil)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode, resp.Status.GetErrorMessage())
}

func (h *hs2Client) exec(sql string, overlay map[string]string) (*tcli.TOperationHandle, *tcli.TStatus) {
	h.t.Helper()
	resp, err := h.c.ExecuteStatement(context.Background(), &tcli.TExecuteStatementReq{SessionHandle: h.sess, Statement: sql, ConfOverlay: overlay, RunAsync: true})
	require.NoError(h.t, err)
	return resp.OperationHandle, resp.Status
}

func (h *hs2Client) mustExec(sql string) *tcli.TOperationHandle {
	h.t.Helper()
	op, st := h.exec(sql, nil)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode, "%s: %s", sql, st.GetErrorMessage())
	return op
}

// wait polls GetOperationStatus until the operation leaves RUNNING.
func (h *hs2Client) wait(op *tcli.TOperationHandle) *tcli.TGetOperationStatusResp {
	h.t.Helper()
	for range 10000 {
		resp, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
		require.NoError(h.t, err)
		require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode, resp.Status.GetErrorMessage())
		if resp.GetOperationState() != tcli.TOperationState_RUNNING_STATE {
			return resp
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatal("operation still running")
	return nil
}

// fetchAll fetches every row, decoding the columns.
func (h *hs2Client) fetchAll(op *tcli.TOperationHandle, maxRows int64) (rows [][]any, batches int) {
	h.t.Helper()
	for range 100000 {
		resp, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: maxRows})
		require.NoError(h.t, err)
		require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode, resp.Status.GetErrorMessage())
		batch := decodeColumns(resp.Results.Columns)
		require.Equal(h.t, int64(len(rows)), resp.Results.StartRowOffset)
		rows = append(rows, batch...)
		batches++
		if !resp.GetHasMoreRows() {
			return rows, batches
		}
	}
	h.t.Fatal("too many batches")
	return nil, 0
}

func (h *hs2Client) query(sql string) ([]*tcli.TColumnDesc, [][]any) {
	h.t.Helper()
	op := h.mustExec(sql)
	st := h.wait(op)
	require.Equal(h.t, tcli.TOperationState_FINISHED_STATE, st.GetOperationState(), st.GetErrorMessage())
	md, err := h.c.GetResultSetMetadata(context.Background(), &tcli.TGetResultSetMetadataReq{OperationHandle: op})
	require.NoError(h.t, err)
	rows, _ := h.fetchAll(op, 1024)
	cl, err := h.c.CloseOperation(context.Background(), &tcli.TCloseOperationReq{OperationHandle: op})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, cl.Status.StatusCode)
	return md.Schema.Columns, rows
}

func (h *hs2Client) closeSession() {
	h.t.Helper()
	resp, err := h.c.CloseSession(context.Background(), &tcli.TCloseSessionReq{SessionHandle: h.sess})
	require.NoError(h.t, err)
	require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode, resp.Status.GetErrorMessage())
}

func (h *hs2Client) ping() *tcli.TStatus {
	h.t.Helper()
	resp, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
	require.NoError(h.t, err)
	return resp.Status
}

func isNull(nulls []byte, i int) bool { return i/8 < len(nulls) && nulls[i/8]&(1<<(i%8)) != 0 }

// decodeColumns turns V6 columns into rows of Go values (strings for the
// string-encoded types, float64 for FLOAT and DOUBLE).
func decodeColumns(cols []*tcli.TColumn) [][]any {
	if len(cols) == 0 {
		return nil
	}
	var n int
	get := make([]func(i int) any, len(cols))
	for ci, c := range cols {
		switch {
		case c.BoolVal != nil:
			n, get[ci] = cellGetter(c.BoolVal.Values, c.BoolVal.Nulls)
		case c.ByteVal != nil:
			n, get[ci] = cellGetter(c.ByteVal.Values, c.ByteVal.Nulls)
		case c.I16Val != nil:
			n, get[ci] = cellGetter(c.I16Val.Values, c.I16Val.Nulls)
		case c.I32Val != nil:
			n, get[ci] = cellGetter(c.I32Val.Values, c.I32Val.Nulls)
		case c.I64Val != nil:
			n, get[ci] = cellGetter(c.I64Val.Values, c.I64Val.Nulls)
		case c.DoubleVal != nil:
			n, get[ci] = cellGetter(c.DoubleVal.Values, c.DoubleVal.Nulls)
		case c.StringVal != nil:
			n, get[ci] = cellGetter(c.StringVal.Values, c.StringVal.Nulls)
		case c.BinaryVal != nil:
			n, get[ci] = cellGetter(c.BinaryVal.Values, c.BinaryVal.Nulls)
		}
	}
	rows := make([][]any, n)
	for i := range n {
		row := make([]any, len(cols))
		for ci := range cols {
			row[ci] = get[ci](i)
		}
		rows[i] = row
	}
	return rows
}

// cellGetter returns the length of a V6 value list and a func that reads
// its cell i (nil for NULL).
func cellGetter[T any](vals []T, nulls []byte) (int, func(i int) any) {
	return len(vals), func(i int) any { return nullOr(isNull(nulls, i), vals[i]) }
}

func nullOr[T any](null bool, v T) any {
	if null {
		return nil
	}
	return v
}

// bzClient is a raw beeswax client.
type bzClient struct {
	t    testing.TB
	conn net.Conn
	c    *impala.ImpalaServiceClient
}

func dialBeeswax(t testing.TB, addr string) *bzClient {
	t.Helper()
	c, tr := dialTransport(t, addr)
	pf := thrift.NewTBinaryProtocolFactoryConf(testConf)
	return &bzClient{t: t, conn: c, c: impala.NewImpalaServiceClientFactory(tr, pf)}
}

func (b *bzClient) query(sql string, conf ...string) (*beeswax.ResultsMetadata, []string) {
	b.t.Helper()
	ctx := context.Background()
	h, err := b.c.Query(ctx, &beeswax.Query{Query: sql, Configuration: conf, HadoopUser: "tester"})
	require.NoError(b.t, err, sql)
	for range 10000 {
		st, err := b.c.GetState(ctx, h)
		require.NoError(b.t, err)
		if st == beeswax.QueryState_FINISHED {
			break
		}
		require.NotEqual(b.t, beeswax.QueryState_EXCEPTION, st)
		time.Sleep(time.Millisecond)
	}
	md, err := b.c.GetResultsMetadata(ctx, h)
	require.NoError(b.t, err)
	var rows []string
	for range 100000 {
		r, err := b.c.Fetch(ctx, h, false, 1024)
		require.NoError(b.t, err)
		rows = append(rows, r.Data...)
		if !r.HasMore {
			break
		}
	}
	require.NoError(b.t, b.c.Close(ctx, h))
	return md, rows
}
