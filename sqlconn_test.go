package impalalb_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// queryer is what *sql.DB and *sql.Conn have in common here.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// option returns the value of query option name as SET lists it.
func option(t *testing.T, q queryer, name string) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "set")
	require.NoError(t, err)
	defer rows.Close()
	val := ""
	for rows.Next() {
		var k, v, level string
		require.NoError(t, rows.Scan(&k, &v, &level))
		if strings.EqualFold(k, name) {
			val = v
		}
	}
	require.NoError(t, rows.Err())
	return val
}

func coordinatorOf(t *testing.T, c *sql.Conn) string {
	t.Helper()
	var addr string
	require.NoError(t, c.Raw(func(dc any) error {
		addr = dc.(impalalb.RawConn).Coordinator()
		return nil
	}))
	return addr
}

func TestSessionOptionsFromDSN(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.QueryOptions = map[string]string{"MEM_LIMIT": "2g", "REQUEST_POOL": "etl"}
		db, _ := openDB(t, cfg)
		require.Equal(t, "2147483648", option(t, db, "MEM_LIMIT")) // 2g, as Impala keeps it
		require.Equal(t, "etl", option(t, db, "REQUEST_POOL"))
	})
}

// TestPollQueries: a query is fetched at once (4 calls whatever it runs),
// and poll_queries=true makes it wait by polling its status.
func TestPollQueries(t *testing.T) {
	for _, poll := range []bool{false, true} {
		co := startCoord(t, impalad.Config{ServiceTime: 100 * time.Millisecond})
		cfg := testConfig(impalalb.ProtocolHS2, co)
		cfg.PollQueries = poll
		db, _ := openDB(t, cfg)
		var one int
		require.NoError(t, db.QueryRow("select 1").Scan(&one)) // the session is open and idle
		before := co.Stats().RPCs
		require.NoError(t, db.QueryRow("select 2").Scan(&one))
		require.Equal(t, 2, one)
		n := co.Stats().RPCs - before
		if poll {
			require.Greater(t, n, int64(4), "polled")
		} else {
			require.Equal(t, int64(4), n, "execute, metadata, fetch, close")
		}
	}
}

// TestSetUseResetBeforeReuse: a SET or USE run through database/sql does
// not leak to the next user of the same session.
func TestSetUseResetBeforeReuse(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.QueryOptions = map[string]string{"MEM_LIMIT": "2g"}
		db, _ := openDB(t, cfg)
		db.SetMaxOpenConns(1)
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "create database other")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "create table other.only_there (x int)")
		require.NoError(t, err)

		_, err = db.ExecContext(ctx, "set mem_limit=5g")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "set sync_ddl=1")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "use other")
		require.NoError(t, err)

		require.Equal(t, "2147483648", option(t, db, "MEM_LIMIT"))
		require.NotEqual(t, "1", option(t, db, "SYNC_DDL"))
		_, err = db.ExecContext(ctx, "select count(*) from only_there")
		require.ErrorIs(t, err, conn.ErrOperationFailed, "USE must not survive the reuse")
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "select count(*) from other.only_there").Scan(&n))
		require.EqualValues(t, 1, co.Stats().SessionsOpened, "one session, reset rather than replaced")
	})
}

// TestConnPinning: db.Conn keeps one session, SET included, until closed;
// then the session is reset before anyone else gets it.
func TestConnPinning(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		db, _ := openDB(t, testConfig(p, cos...))
		db.SetMaxOpenConns(1)
		ctx := context.Background()
		initial := option(t, db, "MEM_LIMIT")
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		addr := coordinatorOf(t, c)
		_, err = c.ExecContext(ctx, "set mem_limit=7g")
		require.NoError(t, err)
		for range 5 {
			require.Equal(t, "7516192768", option(t, c, "MEM_LIMIT")) // 7g
			require.Equal(t, addr, coordinatorOf(t, c))
		}
		require.NoError(t, c.Close())
		require.Equal(t, initial, option(t, db, "MEM_LIMIT"))

		var sessions int64
		for _, co := range cos {
			sessions += co.Stats().SessionsOpened
		}
		require.EqualValues(t, 1, sessions)
	})
}

// TestLeastConnSpread: 30 connections over 3 coordinators under leastconn
// are 10 per coordinator, whether opened one by one or by a concurrent
// workload.
func TestLeastConnSpread(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{ServiceTime: 2 * time.Millisecond})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	ctx := context.Background()

	t.Run("held", func(t *testing.T) {
		db, c := openDB(t, testConfig(impalalb.ProtocolHS2, cos...))
		db.SetMaxOpenConns(30)
		var held []*sql.Conn
		for range 30 {
			sc, err := db.Conn(ctx)
			require.NoError(t, err)
			held = append(held, sc)
		}
		st := c.Stats()
		require.Equal(t, 30, st.InUse)
		for _, co := range cos {
			cs, ok := st.Coordinator(co.HS2Addr())
			require.True(t, ok)
			require.Equal(t, 10, cs.InUse, co.HS2Addr())
		}
		per := map[string]int{}
		for _, sc := range held {
			per[coordinatorOf(t, sc)]++
			require.NoError(t, sc.Close())
		}
		for _, co := range cos {
			require.Equal(t, 10, per[co.HS2Addr()])
		}
	})

	t.Run("workload", func(t *testing.T) {
		before := make([]int64, len(cos))
		for i, co := range cos {
			before[i] = co.Stats().StatementsExecuted
		}
		db, c := openDB(t, testConfig(impalalb.ProtocolHS2, cos...))
		db.SetMaxOpenConns(30)
		db.SetMaxIdleConns(30)
		var wg sync.WaitGroup
		errs := make(chan error, 60)
		for range 60 {
			wg.Go(func() {
				for range 10 {
					var x int
					if err := db.QueryRowContext(ctx, "select 1").Scan(&x); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		st := c.Stats()
		require.Equal(t, 30, st.Open)
		var total int64
		for i, co := range cos {
			cs, _ := st.Coordinator(co.HS2Addr())
			// Concurrent opens may race on a pick: allow one either way.
			require.InDelta(t, 10, cs.InUse+cs.Idle, 1, co.HS2Addr())
			total += co.Stats().StatementsExecuted - before[i]
		}
		require.EqualValues(t, 600, total)
	})
}

// TestCoordinatorKilled: a coordinator dies under a database/sql
// workload. Every query issued after the kill succeeds (dead connections
// are found before anything is sent and database/sql retries on others);
// queries in flight at the kill fail with an error that names the
// coordinator.
func TestCoordinatorKilled(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{ServiceTime: 3 * time.Millisecond, HS2HTTPAddr: "127.0.0.1:0"})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		db, c := openDB(t, testConfig(p, cos...))
		db.SetMaxOpenConns(30) // above the workers: a retry can always open a new connection
		db.SetMaxIdleConns(30)
		victim := cos[1]
		victimAddr := addrOf(victim, p)

		const workers = 12
		const perWorker = 60
		var (
			killed    atomic.Bool
			done      atomic.Int64
			killNow   = make(chan struct{})
			killOnce  sync.Once
			mu        sync.Mutex
			afterOK   int
			afterErrs []error
			inFlight  []error
		)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					after := killed.Load()
					var got int
					err := db.QueryRowContext(context.Background(), "select ?", w*1000+i).Scan(&got)
					mu.Lock()
					switch {
					case after && err != nil:
						afterErrs = append(afterErrs, err)
					case after:
						afterOK++
					case err != nil:
						inFlight = append(inFlight, err)
					}
					mu.Unlock()
					if err == nil && got != w*1000+i {
						t.Errorf("got %d, want %d", got, w*1000+i)
					}
					if done.Add(1) == workers*perWorker/3 {
						killOnce.Do(func() { close(killNow) })
					}
				}
			})
		}
		<-killNow
		victim.Kill()
		killed.Store(true)
		wg.Wait()

		require.Empty(t, afterErrs, "queries issued after the kill must not fail")
		require.NotZero(t, afterOK)
		for _, err := range inFlight {
			var ce *conn.Error
			require.ErrorAs(t, err, &ce, "in-flight failure: %v", err)
			require.Equal(t, victimAddr, ce.Addr)
			require.False(t, errors.Is(err, driver.ErrBadConn), "%v", err)
		}
		t.Logf("%s: %d in flight failed with e.g. %v; %d after the kill succeeded", p, len(inFlight), first(inFlight), afterOK)
		st := c.Stats()
		cs, _ := st.Coordinator(victimAddr)
		require.Zero(t, cs.InUse, "no session left on the dead coordinator")
	})
}

func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// TestCancelMidFetch: cancelling the ctx while rows are read cancels the
// query on the coordinator and closes it there.
func TestCancelMidFetch(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.FetchSize = 512
		db, _ := openDB(t, cfg)
		db.SetMaxOpenConns(1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rows, err := db.QueryContext(ctx, "select id from gen.rows_100000000")
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			n++
			if n == 2000 {
				cancel()
				break
			}
		}
		// Rows of the batch in hand may still come; the next fetch stops.
		for rows.Next() {
			n++
		}
		require.LessOrEqual(t, n, 2000+(1+impalalb.PrefetchDepth)*512, "at most the batch in hand and the ones prefetched")
		require.ErrorIs(t, rows.Err(), context.Canceled)
		require.NoError(t, rows.Close())
		require.Zero(t, co.Stats().OperationsOpen, "the query is closed on the coordinator")

		// Closing early without a cancel: the rest is cancelled too, and
		// the session is reused.
		opened := co.Stats().SessionsOpened
		rows, err = db.Query("select id from gen.rows_100000000")
		require.NoError(t, err)
		for i := 0; i < 10 && rows.Next(); i++ {
		}
		require.NoError(t, rows.Close())
		require.Zero(t, co.Stats().OperationsOpen)
		var one int
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
		require.Equal(t, opened, co.Stats().SessionsOpened)
	})
}

func TestTimeouts(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.QueryTimeout = 50 * time.Millisecond
		db, _ := openDB(t, cfg)

		// query_timeout when ctx has no deadline.
		_, err := db.Exec("select sleep(60000)")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = db.Query("select sleep(60000)")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Zero(t, co.Stats().OperationsOpen, "cancelled and closed on the coordinator")

		// ctx's own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		err = db.QueryRowContext(ctx, "select sleep(60000)").Scan(new(bool))
		require.ErrorIs(t, err, context.DeadlineExceeded)

		// A ctx with a deadline overrides query_timeout.
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
		defer cancel2()
		var ok bool
		require.NoError(t, db.QueryRowContext(ctx2, "select sleep(200)").Scan(&ok))
		require.True(t, ok)

		// The DB still works.
		require.NoError(t, db.QueryRow("select true").Scan(&ok))
		require.Zero(t, co.Stats().OperationsOpen)
	})
}

// TestLargeResult pages a large result through fetch_size batches.
func TestLargeResult(t *testing.T) {
	n := int64(1_000_000)
	if testing.Short() {
		n = 100_000
	}
	co := startCoord(t, impalad.Config{})
	cfg := testConfig(impalalb.ProtocolHS2, co)
	cfg.FetchSize = 1000
	db, _ := openDB(t, cfg)
	rpcs := co.Stats().RPCs
	rows, err := db.Query(fmt.Sprintf("select id, int_col from gen.rows_%d", n))
	require.NoError(t, err)
	var count, sum, nulls int64
	var id int64
	var ic sql.NullInt32
	for rows.Next() {
		if err := rows.Scan(&id, &ic); err != nil {
			require.NoError(t, err)
		}
		if id != count {
			require.Equal(t, count, id)
		}
		if !ic.Valid {
			nulls++
		} else if ic.Int32 != impalad.GenValue(4, id).(int32) {
			require.Equal(t, impalad.GenValue(4, id), ic.Int32)
		}
		sum += id
		count++
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, n, count)
	require.Equal(t, n*(n-1)/2, sum)
	require.Equal(t, n/8, nulls)
	require.GreaterOrEqual(t, co.Stats().RPCs-rpcs, n/1000, "one fetch per fetch_size rows")
}

func TestPlainAuth(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{Users: map[string]string{"alice": "s3cret-pw"}})
		addr := addrOf(co, p)
		db, err := sql.Open("impala", fmt.Sprintf("impala://alice:s3cret-pw@%s?protocol=%s&health_interval=-1s", addr, p))
		require.NoError(t, err)
		defer db.Close()
		var one int
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
		require.Equal(t, 1, one)
		recs := co.Statements()
		require.Equal(t, "alice", recs[len(recs)-1].User)

		bad, err := sql.Open("impala", fmt.Sprintf("impala://alice:wrong-pw@%s?protocol=%s&retries=0&health_interval=-1s", addr, p))
		require.NoError(t, err)
		defer bad.Close()
		err = bad.Ping()
		require.Error(t, err)
		require.NotContains(t, err.Error(), "wrong-pw")
		require.False(t, errors.Is(err, driver.ErrBadConn))

		none, err := sql.Open("impala", fmt.Sprintf("impala://alice@%s?protocol=%s&retries=0&connect_timeout=5s&health_interval=-1s", addr, p))
		require.NoError(t, err)
		defer none.Close()
		require.Error(t, none.Ping())
	})
}

func TestTLS(t *testing.T) {
	ca, err := certtest.NewCA("impalalb test CA")
	require.NoError(t, err)
	srv, err := ca.Server("impala.lb.test")
	require.NoError(t, err)
	dir := t.TempDir()
	caFile, err := ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	co := startCoord(t, impalad.Config{TLS: &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}}})

	cfg := testConfig(impalalb.ProtocolHS2, co)
	cfg.TLS = true
	cfg.CACert = caFile
	cfg.ServerName = "impala.lb.test" // the load balancer's name on every coordinator
	db, _ := openDB(t, cfg)
	var one int
	require.NoError(t, db.QueryRow("select 1").Scan(&one))

	// Without the ServerName override the certificate does not match.
	cfg2 := testConfig(impalalb.ProtocolHS2, co)
	cfg2.TLS = true
	cfg2.CACert = caFile
	cfg2.Retries = -1
	db2, _ := openDB(t, cfg2)
	err = db2.Ping()
	require.Error(t, err)
	require.Contains(t, err.Error(), "impala.lb.test")
}

func TestPingAndStats(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	db, c := openDB(t, testConfig(impalalb.ProtocolHS2, cos...))
	require.NoError(t, db.Ping())
	st := c.Stats()
	require.Len(t, st.Coordinators, 2)
	require.Equal(t, 1, st.Open)
	require.Equal(t, impalalb.Balance(""), c.Config().Balance, "zero: leastconn")
	require.Same(t, c.Driver(), c.Driver())

	// A session whose coordinator closed it while idle is replaced
	// transparently on reuse.
	for _, co := range cos {
		co.Faults().CloseConnections()
	}
	var one int
	require.NoError(t, db.QueryRow("select 1").Scan(&one))
	require.NoError(t, db.Close())
	require.NoError(t, c.Close(), "idempotent")
}

func TestAffinity(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	ctx := context.Background()
	used := map[string]bool{}
	for k := range 12 {
		cfg := testConfig(impalalb.ProtocolHS2, cos...)
		cfg.Balance = impalalb.BalanceAffinity
		cfg.AffinityKey = fmt.Sprintf("tenant-%d", k)
		db, _ := openDB(t, cfg)
		db.SetMaxIdleConns(0) // every sql.Conn is a new acquire from the pool
		seen := map[string]int{}
		for range 4 {
			sc, err := db.Conn(ctx)
			require.NoError(t, err)
			seen[coordinatorOf(t, sc)]++
			require.NoError(t, sc.Close())
		}
		require.Len(t, seen, 1, "one key, one coordinator: %v", seen)
		for a := range seen {
			used[a] = true
		}
	}
	require.Greater(t, len(used), 1, "keys spread over the coordinators")
}

// TestPeerClosedIdleSession: the coordinator (or a proxy's idle timeout)
// closes the connections of idle sessions. The next statement works, even
// on a pinned sql.Conn, with the session's state: an HS2 session is
// reattached on a new connection (the same server session), a beeswax one
// replaced by a new session with the same database and options. Nothing
// is sent on the closed socket.
func TestPeerClosedIdleSession(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		db.SetMaxOpenConns(1)
		ctx := context.Background()
		var one int
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
		co.Faults().CloseConnections()
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
		wantSessions := int64(1)
		if p == impalalb.ProtocolBeeswax {
			wantSessions = 2
		}
		require.Equal(t, wantSessions, co.Stats().SessionsOpened)

		c, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "create database peer_closed")
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "use peer_closed")
		require.NoError(t, err)
		_, err = c.ExecContext(ctx, "set mem_limit=5g")
		require.NoError(t, err)
		co.Faults().CloseConnections()
		var db2 string
		require.NoError(t, c.QueryRowContext(ctx, "select current_database()").Scan(&db2))
		require.Equal(t, "peer_closed", db2, "the pinned connection kept its USE")
		require.Equal(t, "5368709120", connOption(t, ctx, c, "MEM_LIMIT"), "and its SET (5g)")
		if p != impalalb.ProtocolBeeswax {
			require.Equal(t, wantSessions, co.Stats().SessionsOpened, "reattached, not replaced")
		} else {
			// A new session, and the health check the lost connection
			// asked for.
			require.GreaterOrEqual(t, co.Stats().SessionsOpened, wantSessions+1, "replaced, with its state")
		}
		_ = c.Close()
		require.NoError(t, db.QueryRow("select 1").Scan(&one))
		require.Zero(t, co.Stats().StatementsRejected)
	})
}

// connOption returns a query option's value as SET ALL shows it on c.
func connOption(t *testing.T, ctx context.Context, c *sql.Conn, name string) string {
	t.Helper()
	rows, err := c.QueryContext(ctx, "set all")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var k, v, level string
		require.NoError(t, rows.Scan(&k, &v, &level))
		if strings.EqualFold(k, name) {
			return v
		}
	}
	require.NoError(t, rows.Err())
	t.Fatalf("no option %s", name)
	return ""
}

// TestMetadataThroughRaw: the HS2 metadata calls are reachable from
// database/sql through sql.Conn.Raw, on the connection's own session,
// which goes on serving statements; over beeswax they say there are none.
func TestMetadataThroughRaw(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		db, _ := openDB(t, testConfig(p, co))
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "create table raw_t (id int, name string)")
		require.NoError(t, err)
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		defer c.Close()
		var cols []string
		err = c.Raw(func(dc any) error {
			s := dc.(impalalb.RawConn).Session()
			op, err := s.GetColumns(ctx, nil, new("default"), new("raw_t"), nil)
			if err != nil {
				return err
			}
			defer op.Close(ctx)
			for {
				b, err := op.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				for r := range b.Len() {
					cols = append(cols, b.String(3, r)) // COLUMN_NAME
				}
			}
			return op.Close(ctx)
		})
		if p == impalalb.ProtocolBeeswax {
			require.ErrorIs(t, err, conn.ErrNoMetadataCalls)
		} else {
			require.NoError(t, err)
			require.Equal(t, []string{"id", "name"}, cols)
		}
		var n int
		require.NoError(t, c.QueryRowContext(ctx, "select count(*) from raw_t").Scan(&n))
		require.Zero(t, n)
	})
}
