package impalad

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// eventually polls cond every few milliseconds for at most 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func sessionExpired(co *Coordinator, guid []byte) bool {
	co.sweepSessions()
	co.mu.Lock()
	defer co.mu.Unlock()
	var k [16]byte
	copy(k[:], guid)
	s := co.sessions[k]
	return s != nil && s.expired
}

func TestIdleSessionTimeout(t *testing.T) {
	co := startCoord(t, Config{IdleSessionTimeout: time.Hour})
	h := dialHS2(t, co.HS2Addr())
	// The session option overrides the default (seconds).
	resp := h.open(map[string]string{"idle_session_timeout": "1"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode)
	eventually(t, "session expiry", func() bool { return sessionExpired(co, h.sess.SessionId.GUID) })
	st := h.ping()
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
	require.Contains(t, st.GetErrorMessage(), "Client session expired due to more than 1s of inactivity")
	_, est := h.exec("select 1", nil)
	require.Contains(t, est.GetErrorMessage(), "Client session expired")
	// An expired session can still be closed.
	h.closeSession()
	require.Contains(t, h.ping().GetErrorMessage(), "Invalid session id")

	// A session with the default of an hour does not expire meanwhile.
	h2 := dialHS2(t, co.HS2Addr())
	h2.mustOpen()
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h2.ping().StatusCode)
}

func TestExpireSessionsFault(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select sleep(600000)")
	require.Equal(t, 1, co.Faults().ExpireSessions())
	require.Contains(t, h.ping().GetErrorMessage(), "Client session expired")
	_, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	// Beeswax sessions expire too.
	b := dialBeeswax(t, co.BeeswaxAddr())
	_, err = b.c.Echo(context.Background(), "x") // session exists once the connection is served
	require.NoError(t, err)
	require.Equal(t, 1, co.Faults().ExpireSessions())
	_, err = b.c.Query(context.Background(), nil)
	require.Error(t, err)
}

func TestInvalidSession(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.sess = &tcli.TSessionHandle{SessionId: &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}}
	st := h.ping()
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
	require.Equal(t, "Invalid session id: 0000000000000000:0000000000000000\n", st.GetErrorMessage())
	// A wrong secret is as good as an unknown session.
	h.mustOpen()
	h.sess.SessionId.Secret = make([]byte, 16)
	require.Contains(t, h.ping().GetErrorMessage(), "Invalid session id")
}

func TestReattachAfterDisconnect(t *testing.T) {
	co := startCoord(t, Config{DisableBeeswax: true})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	h.query("set mem_limit=2g")
	op := h.mustExec("select * from gen.rows_3000")
	h.wait(op)
	first, _ := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1000})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, first.Status.StatusCode)
	h.tr.Close()
	eventually(t, "connection closed", func() bool { return co.Stats().ConnectionsOpen == 0 })
	require.Equal(t, 1, co.Stats().SessionsOpen)

	// The same session and operation on a new connection, state kept.
	h2 := dialHS2(t, co.HS2Addr())
	h2.sess = h.sess
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h2.ping().StatusCode)
	rows, _ := h2.fetchAllFrom(op, 1000, 1000)
	require.Len(t, rows, 2000)
	_, opts := h2.query("set")
	require.Contains(t, opts, []any{"MEM_LIMIT", "2147483648", "REGULAR"})

	// With a negative DisconnectedSessionTimeout sessions die with the connection.
	co2 := startCoord(t, Config{DisableBeeswax: true, DisconnectedSessionTimeout: -1})
	h3 := dialHS2(t, co2.HS2Addr())
	h3.mustOpen()
	h3.tr.Close()
	eventually(t, "session closed", func() bool { return co2.Stats().SessionsOpen == 0 })
	h4 := dialHS2(t, co2.HS2Addr())
	h4.sess = h3.sess
	require.Contains(t, h4.ping().GetErrorMessage(), "Invalid session id")
}

func TestDisconnectedSessionTimeout(t *testing.T) {
	co := startCoord(t, Config{DisableBeeswax: true, DisconnectedSessionTimeout: 20 * time.Millisecond})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	h.tr.Close()
	eventually(t, "session dropped", func() bool { return co.Stats().SessionsOpen == 0 })
	h2 := dialHS2(t, co.HS2Addr())
	h2.sess = h.sess
	require.Contains(t, h2.ping().GetErrorMessage(), "Invalid session id")
}

// fetchAllFrom fetches the rest of an operation's rows, starting at offset.
func (h *hs2Client) fetchAllFrom(op *tcli.TOperationHandle, offset, maxRows int64) ([][]any, int) {
	h.t.Helper()
	var rows [][]any
	batches := 0
	for range 10000 {
		resp, err := h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: maxRows})
		require.NoError(h.t, err)
		require.Equal(h.t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode, resp.Status.GetErrorMessage())
		require.Equal(h.t, offset+int64(len(rows)), resp.Results.StartRowOffset)
		rows = append(rows, decodeColumns(resp.Results.Columns)...)
		batches++
		if !resp.GetHasMoreRows() {
			break
		}
	}
	return rows, batches
}

var _ = net.Dial
