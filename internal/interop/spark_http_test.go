package interop

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/secret"
)

// The Spark Thrift server in HTTP mode shared by the tests of this file,
// started on first use and stopped by TestMain.
var (
	sparkHTTPOnce   sync.Once
	sparkHTTPServer *sparkServer
	sparkHTTPErr    error
	sparkHTTPRoot   string
)

// sparkHTTP returns the running Spark Thrift server in HTTP mode.
func sparkHTTP(t *testing.T) *sparkServer {
	t.Helper()
	v := venv(t)
	sparkHTTPOnce.Do(func() {
		sparkHTTPRoot, sparkHTTPErr = os.MkdirTemp("", "interop-spark-http-")
		if sparkHTTPErr != nil {
			return
		}
		sparkHTTPServer, sparkHTTPErr = newSparkServer(v, sparkHTTPRoot, true)
	})
	if sparkHTTPErr != nil {
		t.Fatal(sparkHTTPErr)
	}
	return sparkHTTPServer
}

// options are conn's options for the server: HS2 over HTTP with Basic
// credentials for an HTTP server, hiveOpts otherwise.
func (s *sparkServer) options() conn.Options {
	o := hiveOpts
	if s.http {
		o.Protocol = conn.HS2HTTP
		o.User, o.Password = "interop", secret.New("any-password")
	}
	return o
}

// TestSparkHTTP runs the library against a real HiveServer2 over HTTP:
// Spark's Thrift server in HTTP mode (Jetty, Hive's ThriftHttpServlet,
// path cliservice). Literals, a 100k-row result fetched in pages (Jetty
// sends large replies chunked), errors, a session authenticated once and
// carried by Hive's auth cookie, a request without credentials refused
// with a 401, balanced sessions and database/sql.
func TestSparkHTTP(t *testing.T) {
	srv := sparkHTTP(t)
	ctx := testCtx(t, 3*time.Minute)

	var auths atomic.Int64
	o := srv.options()
	basic := conn.BasicAuth(o.User, o.Password)
	o.HTTPAuth = func(ctx context.Context, host string) (secret.Value, error) {
		auths.Add(1)
		return basic(ctx, host)
	}
	o.FetchSize = 7000
	s := dialHive(t, ctx, srv.Addr, o)
	require.Equal(t, conn.HS2HTTP, s.Protocol())
	require.NotEmpty(t, s.ServerVersion())

	cols, rows, _, err := queryAll(ctx, s, `select true, 3, 4L, 2.5D, 1.50, 'str', date'2020-01-02', X'0102', null, cast(null as int)`)
	require.NoError(t, err)
	require.Len(t, cols, 10)
	require.Equal(t, [][]any{{true, int32(3), int64(4), 2.5, "1.50", "str", time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), []byte{1, 2}, nil, nil}}, rows)

	_, rows, batches, err := queryAll(ctx, s, "select id, cast(id as string) from range(0, 100000, 1, 1)")
	require.NoError(t, err)
	require.Len(t, rows, 100000)
	require.GreaterOrEqual(t, batches, 100000/o.FetchSize)
	for i, r := range rows {
		require.Equal(t, int64(i), r[0])
		require.Equal(t, strconv.Itoa(i), r[1])
	}

	_, _, _, err = queryAll(ctx, s, "select * from no_such_table")
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, conn.ErrOperationFailed)
	require.Contains(t, ce.Message, "TABLE_OR_VIEW_NOT_FOUND")
	require.False(t, s.Broken())
	require.EqualValues(t, 1, auths.Load(), "Hive's auth cookie carried every call after the first")

	// No credentials: the servlet answers 401.
	noAuth := srv.options()
	noAuth.Password = secret.Value{}
	_, err = conn.Dial(ctx, srv.Addr, noAuth)
	var he *conn.HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusUnauthorized, he.StatusCode)
	require.Contains(t, err.Error(), srv.Addr)

	// A pool of sessions on the server, used at once.
	pool, err := balancer.New(balancer.Config{Coordinators: []string{srv.Addr}, Interval: -1, DialTimeout: 30 * time.Second},
		balancer.NewConnDialer(srv.options()))
	require.NoError(t, err)
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			l, err := pool.Acquire(ctx, "")
			if err != nil {
				errs[i] = err
				return
			}
			defer l.Release()
			_, rows, _, err := queryAll(ctx, l.Session(), fmt.Sprintf("select %d", i))
			if err == nil && (len(rows) != 1 || rows[0][0] != int32(i)) {
				err = fmt.Errorf("select %d: got %v", i, rows)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// database/sql with the DSN.
	db, err := sql.Open("impala", "impala://interop:pw@"+srv.Addr+"?protocol=hs2-http&allow_non_impala=true&health_interval=-1ns")
	require.NoError(t, err)
	defer db.Close()
	var n int64
	require.NoError(t, db.QueryRowContext(ctx, "select count(*) from range(0, 1234, 1, 1)").Scan(&n))
	require.EqualValues(t, 1234, n)
}
