package impalad

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// fakeClock is a settable clock for the catalog.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func startCluster(t *testing.T, n int, delay time.Duration, cfg Config) (*Cluster, []*Coordinator) {
	t.Helper()
	cl := NewCluster(delay)
	cos, err := cl.StartN(n, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, co := range cos {
			co.Close()
		}
	})
	return cl, cos
}

func TestDDLPropagationDelay(t *testing.T) {
	cl, cos := startCluster(t, 3, time.Hour, Config{DisableBeeswax: true})
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cl.mu.Lock()
	cl.now = clock.now
	cl.mu.Unlock()
	a, b := dialHS2(t, cos[0].HS2Addr()), dialHS2(t, cos[1].HS2Addr())
	a.mustOpen()
	b.mustOpen()
	a.query("create table shared (x int)")
	a.query("insert into shared values (1)")
	_, rows := a.query("select * from shared")
	require.Equal(t, [][]any{{int32(1)}}, rows)
	// The other coordinator does not see the table yet: the reason for
	// session affinity.
	_, st := b.exec("select * from shared", nil)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
	require.Contains(t, st.GetErrorMessage(), "Could not resolve table reference")
	_, rows = b.query("show tables")
	require.Empty(t, rows)

	clock.advance(time.Hour)
	_, rows = b.query("select * from shared")
	require.Equal(t, [][]any{{int32(1)}}, rows)

	// A drop also takes the delay to reach the others.
	a.query("drop table shared")
	_, rows = b.query("select count(*) from shared")
	require.Equal(t, [][]any{{int64(1)}}, rows)
	clock.advance(time.Hour)
	_, st = b.exec("select * from shared", nil)
	require.Equal(t, tcli.TStatusCode_ERROR_STATUS, st.StatusCode)
}

func TestSyncDDL(t *testing.T) {
	// With a long delay, a SYNC_DDL statement stays running while a plain
	// one finishes at once.
	_, cos := startCluster(t, 2, time.Hour, Config{DisableBeeswax: true})
	a := dialHS2(t, cos[0].HS2Addr())
	a.mustOpen()
	op := a.mustExec("create table plain1 (x int)")
	require.Equal(t, tcli.TOperationState_FINISHED_STATE, a.wait(op).GetOperationState())
	op, st := a.exec("create table synced (x int)", map[string]string{"SYNC_DDL": "1"})
	require.Equal(t, tcli.TStatusCode_SUCCESS_STATUS, st.StatusCode)
	s, err := a.c.GetOperationStatus(t.Context(), &tcli.TGetOperationStatusReq{OperationHandle: op})
	require.NoError(t, err)
	require.Equal(t, tcli.TOperationState_RUNNING_STATE, s.GetOperationState())

	// With a short delay, once a SYNC_DDL statement (set as a session
	// option) finishes, every coordinator sees the table.
	_, cos = startCluster(t, 3, 30*time.Millisecond, Config{DisableBeeswax: true})
	a = dialHS2(t, cos[0].HS2Addr())
	a.mustOpen()
	a.query("set sync_ddl=true")
	for i, name := range []string{"t1", "t2", "t3"} {
		op := a.mustExec("create table " + name + " (x int)")
		require.Equal(t, tcli.TOperationState_FINISHED_STATE, a.wait(op).GetOperationState())
		o := dialHS2(t, cos[1+i%2].HS2Addr())
		o.mustOpen()
		_, rows := o.query("select count(*) from " + name)
		require.Equal(t, [][]any{{int64(0)}}, rows)
	}
	// A single coordinator has no peers to wait for.
	single := startCoord(t, Config{DisableBeeswax: true})
	h := dialHS2(t, single.HS2Addr())
	h.mustOpen()
	op, _ = h.exec("create table x (a int)", map[string]string{"sync_ddl": "1"})
	require.Equal(t, tcli.TOperationState_FINISHED_STATE, h.wait(op).GetOperationState())
}
