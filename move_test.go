package impalalb_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
	"github.com/impalalb/impalalb/secret"
)

// movingConn opens a *sql.Conn over two coordinators (with the option
// REQUEST_POOL=etl at open), sets state on it (USE, UNSET ALL, SET) and
// returns it with the coordinator it is on.
func movingConn(t *testing.T, ctx context.Context, p impalalb.Protocol, cos []*impalad.Coordinator) (*sql.Conn, *impalad.Coordinator) {
	t.Helper()
	cfg := testConfig(p, cos...)
	cfg.QueryOptions = map[string]string{"REQUEST_POOL": "etl"}
	db, _ := openDB(t, cfg)
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, stmt := range []string{"create database if not exists moving", "use moving", "unset all", "set mem_limit=3g"} {
		_, err := c.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	home := coordinatorOf(t, c)
	for _, co := range cos {
		if addrOf(co, p) == home {
			return c, co
		}
	}
	t.Fatalf("no coordinator %s", home)
	return nil, nil
}

// requireMoved checks that c left home and kept its state.
func requireMoved(t *testing.T, ctx context.Context, c *sql.Conn, home string) {
	t.Helper()
	var db string
	require.NoError(t, c.QueryRowContext(ctx, "select current_database()").Scan(&db), "the statement runs elsewhere, no error")
	require.NotEqual(t, home, coordinatorOf(t, c), "the connection's session moved")
	require.Equal(t, "moving", db, "USE held")
	require.Equal(t, "3221225472", connOption(t, ctx, c, "MEM_LIMIT"), "SET held (3g, as Impala stores it)")
	require.NotEqual(t, "etl", connOption(t, ctx, c, "REQUEST_POOL"), "UNSET ALL held")
}

// TestSQLConnMovesOffShuttingDown: the coordinator of a pinned *sql.Conn
// shuts down gracefully; the connection's next statement runs on the other
// coordinator, with its USE, UNSET ALL and SET.
func TestSQLConnMovesOffShuttingDown(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, home := movingConn(t, ctx, p, cos)
		_, err = home.StartShutdown(-1)
		require.NoError(t, err)
		requireMoved(t, ctx, c, addrOf(home, p))
	})
}

// TestSQLConnCoordinatorKilled: the coordinator of a pinned *sql.Conn is
// killed between two statements; the second runs on the other coordinator
// with the connection's state.
func TestSQLConnCoordinatorKilled(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		cos, err := impalad.NewCluster(0).StartN(2, impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
		require.NoError(t, err)
		for _, co := range cos {
			t.Cleanup(func() { co.Close() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, home := movingConn(t, ctx, p, cos)
		home.Kill()
		requireMoved(t, ctx, c, addrOf(home, p))
	})
}

// TestBalanceComesBack: 30 database/sql connections run statements
// without pause over three coordinators; one is killed and restarted. The
// connections that database/sql keeps do not stay piled on the other two:
// at reuse, a session whose coordinator holds clearly more than its share
// is given back, and leastconn opens the next on the restarted one, which
// then runs its share of the statements. No session in use is closed.
func TestBalanceComesBack(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{DisableBeeswax: true})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	cfg := testConfig(impalalb.ProtocolHS2, cos...)
	cfg.HealthInterval = 100 * time.Millisecond
	cfg.SlowStart = 500 * time.Millisecond
	// The kill cuts the statements in flight there at once: however many
	// of them report, the coordinator fails the check made before an
	// ejection, so it is down, not ejected, and returns with its restart.
	db, c := openDB(t, cfg)
	db.SetMaxOpenConns(30)
	db.SetMaxIdleConns(30)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	errs := make(chan error, 1000)
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var one int
				if err := db.QueryRowContext(ctx, "select 1").Scan(&one); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	ran := func() []int {
		n := make([]int, len(cos))
		for i, co := range cos {
			n[i] = len(co.Statements())
		}
		return n
	}
	victim := cos[2]
	time.Sleep(500 * time.Millisecond) // the load runs
	victim.Kill()
	time.Sleep(500 * time.Millisecond)
	killErrs := len(errs) // statements cut by the kill
	require.NoError(t, victim.Restart())
	// Within a few health intervals and the slow start, it carries its
	// share of the statements.
	var share float64
	for range 50 {
		before := ran()
		time.Sleep(200 * time.Millisecond)
		after := ran()
		total := 0
		for i := range cos {
			total += after[i] - before[i]
		}
		if total > 0 {
			share = float64(after[2]-before[2]) / float64(total)
		}
		if share >= 0.25 {
			break
		}
	}
	cs, _ := c.Stats().Coordinator(victim.HS2Addr())
	t.Logf("restarted coordinator's share of statements: %.2f, sessions there %d, retired elsewhere %v", share, cs.InUse+cs.Idle, retired(c.Stats()))
	require.GreaterOrEqual(t, share, 0.25, "the restarted coordinator runs its share (a third)")
	require.Equal(t, killErrs, len(errs), "no statement failed after the kill: retiring closes no session in use")
}

func retired(st balancer.Stats) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range st.Coordinators {
		m[c.Addr] = c.Retired
	}
	return m
}

// TestPingWrongPassword: database/sql's Ping with a wrong LDAP password
// makes one login attempt, over three coordinators, and says the
// credentials were refused; no coordinator is marked down.
func TestPingWrongPassword(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{DisableBeeswax: true, Users: map[string]string{"alice": "right"}})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	cfg := testConfig(impalalb.ProtocolHS2, cos...)
	cfg.User, cfg.Password, cfg.Auth = "alice", secret.New("wrong"), impalalb.AuthPlain
	db, c := openDB(t, cfg)
	err = db.Ping()
	require.ErrorIs(t, err, sasl.ErrRejected)
	require.Contains(t, err.Error(), "credentials were refused")
	require.NotContains(t, err.Error(), "wrong", "never the password")
	dials := 0
	for _, cs := range c.Stats().Coordinators {
		require.Equal(t, balancer.StateUp, cs.State)
		dials += int(cs.Dialed)
	}
	require.Equal(t, 1, dials, "one login attempt")
}

// TestStickyDDLThroughDatabaseSQL is the sticky-affinity scenario through
// database/sql: 20 keys, each its own *sql.DB with balance=affinity and
// affinity_key set to the key; each round runs CREATE TABLE on one
// *sql.Conn and, while that one is still held, a SELECT from the table on
// a second; the catalog reaches the other coordinators only after 2 s; the
// coordinator holding the most keys is killed midway and restarted. No
// pair runs on two coordinators; only the killed coordinator's keys move,
// once each.
func TestStickyDDLThroughDatabaseSQL(t *testing.T) {
	cos, err := impalad.NewCluster(2*time.Second).StartN(3, impalad.Config{DisableBeeswax: true})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var keys []string
	dbs := map[string]*sql.DB{}
	conns := map[string]*impalalb.Connector{}
	for k := range 20 {
		key := fmt.Sprintf("hue-user-%02d", k)
		keys = append(keys, key)
		cfg := testConfig(impalalb.ProtocolHS2, cos...)
		cfg.HealthInterval = 0 // the defaults
		cfg.Balance, cfg.AffinityKey = impalalb.BalanceAffinity, key
		dbs[key], conns[key] = openDB(t, cfg)
	}
	// held keeps each key's previous *sql.Conn open while the next one is
	// taken, so that the two statements of a pair use two connections.
	var heldMu sync.Mutex
	held := map[string]*sql.Conn{}
	runOn := func(ctx context.Context, key, stmt string) (string, error) {
		c, err := dbs[key].Conn(ctx)
		if err != nil {
			return "", err
		}
		_, err = c.ExecContext(ctx, stmt)
		// Where the statement ran: a connection left idle on the killed
		// coordinator moves at its next statement.
		coord := coordinatorOf(t, c)
		heldMu.Lock()
		prev := held[key]
		held[key] = c
		heldMu.Unlock()
		if prev != nil {
			prev.Close()
		}
		return coord, err
	}
	stop := make(chan struct{})
	result := make(chan []testenv.Pair, 1)
	go func() { result <- testenv.DDLPairs(ctx, keys, runOn, stop, 1_000_000) }()
	time.Sleep(3 * time.Second) // the workload runs
	victim, perCoord := testenv.MostKeys(cos, keys, func(k string) (string, bool) { return conns[k].Placement() })
	killAt := time.Now()
	victim.Kill()
	time.Sleep(3 * time.Second)
	require.NoError(t, victim.Restart())
	time.Sleep(8 * time.Second)
	close(stop)
	pairs := <-result
	heldMu.Lock()
	for _, c := range held {
		c.Close()
	}
	heldMu.Unlock()
	victims := testenv.CheckPairs(t, pairs, victim.HS2Addr(), killAt)
	require.NotEmpty(t, victims, "keys lived on the killed coordinator (%v)", perCoord)
	t.Logf("%d pairs through database/sql, keys per coordinator before the kill %v, %d moved", len(pairs), perCoord, len(victims))
}
