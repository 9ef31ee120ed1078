package conn_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestAllowNonImpala checks that with Options.AllowNonImpala an HS2
// session makes no Impala-only call: a crash armed on
// PingImpalaHS2Service, then on CloseImpalaOperation, never fires. (The
// interop tests run the same option against a real HiveServer2.)
func TestAllowNonImpala(t *testing.T) {
	co := startCoord(t, impalad.Config{Version: "impalad version 9.9.9-test"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := conn.Options{AllowNonImpala: true}

	co.Faults().CrashOn("PingImpalaHS2Service", false)
	s, err := conn.Dial(ctx, co.HS2Addr(), opts)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, "impalad version 9.9.9-test", s.ServerVersion(), "version from GetInfo(CLI_DBMS_VER)")
	require.NoError(t, s.Ping(ctx))

	op, err := s.Execute(ctx, "select 7, 'x'", nil)
	require.NoError(t, err)
	_, err = op.Summary(ctx)
	require.ErrorIs(t, err, conn.ErrNotImpala)
	_, err = op.Profile(ctx)
	require.ErrorIs(t, err, conn.ErrNotImpala)
	b, err := op.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, b.Len())
	require.NoError(t, co.Faults().Reset())
	co.Faults().CrashOn("CloseImpalaOperation", false)
	require.NoError(t, op.Close(ctx))
	require.Equal(t, int64(-1), op.RowsAffected())
	require.NoError(t, s.Ping(ctx), "the connection survived: no Impala-only call")
	require.NoError(t, co.Faults().Reset())

	// HiveServer2 closes a session with its connection: no reattach.
	require.ErrorIs(t, s.Reattach(ctx), conn.ErrReattachUnsupported)

	// A fetch ends at the first empty batch, whatever hasMoreRows says
	// (HiveServer2 always says false): all rows of a multi-batch result.
	op, err = s.Execute(ctx, "select id from gen.rows_2500", nil)
	require.NoError(t, err)
	n := 0
	for {
		b, err := op.Next(ctx)
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		n += b.Len()
	}
	require.Equal(t, 2500, n)
	require.NoError(t, op.Close(ctx))

	// Session options go with HiveServer2's prefix; Reset re-sets them
	// without quotes (HiveServer2's SET keeps quotes in the value) and
	// sends Spark SQL's RESET for one without a configured value. Setting
	// names keep their case (HiveServer2's and Spark's do not ignore it).
	o2 := opts
	o2.SessionOptions = map[string]string{"MEM_LIMIT": "1g"}
	s2, err := conn.Dial(ctx, co.HS2Addr(), o2)
	require.NoError(t, err)
	defer s2.Close()
	for _, stmt := range []string{"set MEM_LIMIT=2g", "set request_pool=x"} {
		op, err := s2.Execute(ctx, stmt, nil)
		require.NoError(t, err)
		require.NoError(t, op.Close(ctx))
	}
	require.Error(t, s2.Reset(ctx), "the test coordinator, like Impala, has no RESET")
	var texts []string
	for _, st := range co.Statements() {
		texts = append(texts, st.Text)
	}
	require.Contains(t, texts, "SET MEM_LIMIT=1g")
	op, err = s2.Execute(ctx, "set", nil)
	require.NoError(t, err)
	b, err = op.Next(ctx)
	require.NoError(t, err)
	found := false
	for r := range b.Len() {
		if strings.EqualFold(b.String(0, r), "mem_limit") {
			found = true
			require.Equal(t, "1073741824", b.String(1, r), "set:hiveconf:MEM_LIMIT at open, then SET MEM_LIMIT=1g")
		}
	}
	require.True(t, found)
	require.NoError(t, op.Close(ctx))

	// An expired session fails the GetInfo ping, as it fails Impala's.
	co.Faults().ExpireSessions()
	require.Error(t, s.Ping(ctx))

	_, err = conn.Dial(ctx, co.BeeswaxAddr(), conn.Options{Protocol: conn.Beeswax, AllowNonImpala: true})
	require.ErrorContains(t, err, "AllowNonImpala")
}
