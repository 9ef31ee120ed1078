package impalad

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

func TestFaultRefuseConnections(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	f := co.Faults()
	f.RefuseConnections()
	_, err := net.DialTimeout("tcp", co.HS2Addr(), time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	_, err = net.DialTimeout("tcp", co.BeeswaxAddr(), time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	// Open connections keep working.
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h.ping().StatusCode)
	require.NoError(t, f.AcceptConnections())
	h2 := dialHS2(t, co.HS2Addr())
	h2.mustOpen()
	b := dialBeeswax(t, co.BeeswaxAddr())
	_, rows := b.query("select 2")
	require.Equal(t, []string{"2"}, rows)
}

func TestFaultAcceptAndClose(t *testing.T) {
	co := startCoord(t, Config{})
	co.Faults().SetAcceptAndClose(true)
	before := co.Stats().ConnectionsAccepted
	h := dialHS2(t, co.HS2Addr())
	_, err := h.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
	require.Error(t, err)
	require.Equal(t, before+1, co.Stats().ConnectionsAccepted)
	require.Zero(t, co.Stats().SessionsOpened)
	co.Faults().SetAcceptAndClose(false)
	dialHS2(t, co.HS2Addr()).mustOpen()
}

func TestFaultCloseAndResetConnections(t *testing.T) {
	for _, reset := range []bool{false, true} {
		co := startCoord(t, Config{})
		h := dialHS2(t, co.HS2Addr())
		h.mustOpen()
		b := dialBeeswax(t, co.BeeswaxAddr())
		b.query("select 1")
		require.Equal(t, 2, co.Stats().ConnectionsOpen)
		var n int
		if reset {
			n = co.Faults().ResetConnections()
		} else {
			n = co.Faults().CloseConnections()
		}
		require.Equal(t, 2, n)
		_, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
		require.Error(t, err)
		if reset {
			require.ErrorIs(t, err, syscall.ECONNRESET)
		}
		eventually(t, "connections gone", func() bool { return co.Stats().ConnectionsOpen == 0 })
		// The HS2 session survives and can be used from a new connection;
		// the beeswax session died with its connection.
		require.Equal(t, 1, co.Stats().SessionsOpen)
		h2 := dialHS2(t, co.HS2Addr())
		h2.sess = h.sess
		require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h2.ping().StatusCode)
	}
}

func TestFaultHang(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	co.Faults().Hang(true)
	// A new connection is accepted but never answered.
	c, err := net.DialTimeout("tcp", co.HS2Addr(), time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	short := &thrift.TConfiguration{SocketTimeout: 100 * time.Millisecond}
	tr := thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(c, short), 4096)
	hc := impala.NewImpalaHiveServer2ServiceClientFactory(tr, thrift.NewTBinaryProtocolFactoryConf(short))
	_, err = hc.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
	// An open connection stops answering too.
	done := make(chan error, 1)
	go func() {
		_, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("ping answered during Hang: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	co.Faults().Hang(false)
	require.NoError(t, <-done)
}

func TestFaultDelay(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	co.Faults().SetDelay(time.Hour)
	c, err := net.DialTimeout("tcp", co.HS2Addr(), time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	short := &thrift.TConfiguration{SocketTimeout: 50 * time.Millisecond}
	tr := thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(c, short), 4096)
	hc := impala.NewImpalaHiveServer2ServiceClientFactory(tr, thrift.NewTBinaryProtocolFactoryConf(short))
	_, err = hc.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
	co.Faults().SetDelay(time.Millisecond)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, h.ping().StatusCode)
}

func TestFaultFailOpenSessions(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	co.Faults().FailOpenSessions(2)
	for range 2 {
		resp := h.open(nil)
		require.Equal(t, tcli.TStatusCode_ERROR_STATUS, resp.Status.StatusCode)
		require.Contains(t, resp.Status.GetErrorMessage(), "injected")
	}
	h.mustOpen()
	require.Equal(t, int64(1), co.Stats().SessionsOpened)
}

func TestFaultIdleConnectionTimeout(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	b := dialBeeswax(t, co.BeeswaxAddr())
	b.query("select 1")
	co.Faults().SetIdleConnectionTimeout(30 * time.Millisecond)
	eventually(t, "idle connections closed", func() bool { return co.Stats().ConnectionsOpen == 0 })
	_, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
	require.Error(t, err)
	// A busy connection is not idle: a fetch that waits longer than the
	// timeout completes.
	co.Faults().SetIdleConnectionTimeout(0)
	h2 := dialHS2(t, co.HS2Addr())
	h2.sess = h.sess
	op := h2.mustExec("select sleep(300)")
	type result struct {
		resp *tcli.TFetchResultsResp
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h2.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
		done <- result{resp, err}
	}()
	eventually(t, "fetch in progress", func() bool { return co.busyConns() == 1 })
	co.Faults().SetIdleConnectionTimeout(20 * time.Millisecond)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, [][]any{{true}}, decodeColumns(r.resp.Results.Columns))
	eventually(t, "idle again and closed", func() bool { return co.Stats().ConnectionsOpen == 0 })
}

// busyConns counts connections serving an RPC.
func (co *Coordinator) busyConns() int {
	co.mu.Lock()
	defer co.mu.Unlock()
	n := 0
	if co.life != nil {
		for sc := range co.life.conns {
			if sc.busy.Load() {
				n++
			}
		}
	}
	return n
}

func TestFaultEmptyFetches(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select * from gen.rows_10")
	h.wait(op)
	co.Faults().EmptyFetches(3)
	rows, batches := h.fetchAll(op, 100)
	require.Len(t, rows, 10)
	require.Equal(t, 4, batches)
}

func TestKillRestart(t *testing.T) {
	co := startCoord(t, Config{})
	hs2, bz := co.HS2Addr(), co.BeeswaxAddr()
	h := dialHS2(t, hs2)
	h.mustOpen()
	h.query("create table survives (x int)")
	h.mustExec("select sleep(600000)")
	co.Kill()
	_, err := h.c.PingImpalaHS2Service(context.Background(), &impala.TPingImpalaHS2ServiceReq{SessionHandle: h.sess})
	require.Error(t, err)
	_, err = net.DialTimeout("tcp", hs2, time.Second)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Equal(t, 0, co.Stats().SessionsOpen)

	require.NoError(t, co.Restart())
	require.Equal(t, hs2, co.HS2Addr())
	require.Equal(t, bz, co.BeeswaxAddr())
	h2 := dialHS2(t, hs2)
	h2.sess = h.sess
	require.Contains(t, h2.ping().GetErrorMessage(), "Invalid session id")
	h2.mustOpen()
	_, rows := h2.query("select count(*) from survives")
	require.Equal(t, [][]any{{int64(0)}}, rows)
	require.Len(t, co.Statements(), 3)
	require.Equal(t, int64(2), co.Stats().SessionsOpened)

	// Restart of a running coordinator kills it first; after Close it fails.
	require.NoError(t, co.Restart())
	require.NoError(t, co.Close())
	require.ErrorIs(t, co.Restart(), ErrClosed)
}

func TestFrontendThreads(t *testing.T) {
	co := startCoord(t, Config{FrontendThreads: 2})
	a, b := dialHS2(t, co.HS2Addr()), dialHS2(t, co.HS2Addr())
	a.mustOpen()
	b.mustOpen()
	// A third connection is accepted but waits for a thread.
	c, err := net.DialTimeout("tcp", co.HS2Addr(), time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	tr := thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(c, testConf), 4096)
	third := newHS2Client(t, c, tr)
	eventually(t, "third connection waiting", func() bool { return co.Stats().ConnectionsWaiting == 1 })
	done := make(chan *tcli.TOpenSessionResp, 1)
	go func() {
		resp, err := third.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
		if err != nil {
			resp = nil
		}
		done <- resp
	}()
	select {
	case <-done:
		t.Fatal("third connection served while both threads are taken")
	case <-time.After(50 * time.Millisecond):
	}
	// Closing a served connection frees its thread.
	a.tr.Close()
	resp := <-done
	require.NotNil(t, resp)
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, resp.Status.StatusCode)
	require.Equal(t, 0, co.Stats().ConnectionsWaiting)
}

func TestProfileAfterClose(t *testing.T) {
	co := startCoord(t, Config{})
	h := dialHS2(t, co.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select 1")
	h.fetchAll(op, 10)
	_, err := h.c.CloseOperation(context.Background(), &tcli.TCloseOperationReq{OperationHandle: op})
	require.NoError(t, err)
	prof, err := h.c.GetRuntimeProfile(context.Background(), &impala.TGetRuntimeProfileReq{OperationHandle: op, SessionHandle: h.sess})
	require.NoError(t, err)
	require.Contains(t, prof.GetProfile(), "Query State: FINISHED")
	sum, err := h.c.GetExecSummary(context.Background(), &impala.TGetExecSummaryReq{OperationHandle: op, SessionHandle: h.sess})
	require.NoError(t, err)
	require.Equal(t, impala.TExecState_FINISHED, sum.Summary.State)
	// But the closed operation cannot be fetched from.
	st, err := h.c.GetOperationStatus(context.Background(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	require.Contains(t, st.Status.GetErrorMessage(), "Invalid or unknown query handle")
}

func TestFaultCrashOn(t *testing.T) {
	killed := func(co *Coordinator) bool {
		co.mu.Lock()
		defer co.mu.Unlock()
		return co.state == stateKilled
	}
	for _, c := range []struct {
		method   string
		after    bool
		recorded int
	}{
		{"OpenSession", false, 0},
		{"ExecuteStatement", false, 0},
		{"ExecuteStatement", true, 1},
		{"FetchResults", true, 1},
	} {
		co := startCoord(t, Config{})
		h := dialHS2(t, co.HS2Addr())
		if c.method != "OpenSession" {
			h.mustOpen()
		}
		var op *tcli.TOperationHandle
		if c.method == "FetchResults" {
			op = h.mustExec("select * from gen.rows_100")
		}
		co.Faults().CrashOn(c.method, c.after)
		var err error
		switch c.method {
		case "OpenSession":
			_, err = h.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{ClientProtocol: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6})
		case "ExecuteStatement":
			_, err = h.c.ExecuteStatement(context.Background(), &tcli.TExecuteStatementReq{SessionHandle: h.sess, Statement: "select 42"})
		case "FetchResults":
			_, err = h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 10})
		}
		require.Error(t, err, c.method)
		require.ErrorIs(t, err, syscall.ECONNRESET, c.method)
		eventually(t, "coordinator killed", func() bool { return killed(co) })
		n := 0
		for _, s := range co.Statements() {
			if s.Text == "select 42" || s.Text == "select * from gen.rows_100" {
				n++
			}
		}
		require.Equal(t, c.recorded, n, "%s after=%v", c.method, c.after)
		require.NoError(t, co.Restart())
		dialHS2(t, co.HS2Addr()).mustOpen()
	}
}

// portTaken reports whether a socket without SO_REUSEADDR (as an outgoing
// connection's local end or another program's listener would be) can bind
// addr: false means the port is free for anyone to take.
func portTaken(t *testing.T, addr string) bool {
	t.Helper()
	ln, err := (&net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 0)
		})
		return errors.Join(err, serr)
	}}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		require.ErrorIs(t, err, syscall.EADDRINUSE)
		return true
	}
	ln.Close()
	return false
}

// A killed or refusing coordinator keeps its ports (refusing connections),
// so that a busy machine cannot hand them to someone else before Restart;
// Close gives them back.
func TestKilledCoordinatorKeepsItsPorts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("port reservation is Linux-only")
	}
	co := startCoord(t, Config{WebAddr: "127.0.0.1:0"})
	addrs := []string{co.HS2Addr(), co.BeeswaxAddr(), co.WebAddr()}
	co.Kill()
	for _, a := range addrs {
		require.True(t, portTaken(t, a), "port of %s free while killed", a)
		_, err := net.DialTimeout("tcp", a, time.Second)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, a)
	}
	require.NoError(t, co.Restart())
	require.Equal(t, addrs, []string{co.HS2Addr(), co.BeeswaxAddr(), co.WebAddr()})
	dialHS2(t, addrs[0]).mustOpen()

	co.Faults().RefuseConnections()
	co.Faults().RefuseConnections() // twice: one reservation each port
	for _, a := range addrs[:2] {
		require.True(t, portTaken(t, a), "port of %s free while refusing", a)
		_, err := net.DialTimeout("tcp", a, time.Second)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, a)
	}
	require.NoError(t, co.Faults().AcceptConnections())
	dialHS2(t, addrs[0]).mustOpen()

	co.Kill()
	require.NoError(t, co.Close())
	for _, a := range addrs {
		require.False(t, portTaken(t, a), "port of %s still held after Close", a)
	}
}

// Two coordinators given the same port: the second fails to start, though
// listeners set SO_REUSEPORT (to share their ports with the reservations
// of a killed coordinator).
func TestPortGivenTwiceFails(t *testing.T) {
	co := startCoord(t, Config{})
	_, err := Start(Config{HS2Addr: co.HS2Addr()})
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	_, err = Start(Config{BeeswaxAddr: co.BeeswaxAddr()})
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	dialHS2(t, co.HS2Addr()).mustOpen()
}
