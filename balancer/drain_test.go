package balancer_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
	"github.com/impalalb/impalalb/secret"
)

// The tests in this file run coordinators through Impala's graceful
// shutdown (internal/impalad follows ImpalaServer's): new sessions and
// statements refused, running ones going on.

// queryOne runs a one-value query and returns its value.
func queryOne(ctx context.Context, s *conn.Session, q string) (any, error) {
	rows, err := testenv.Query(ctx, s, q)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return nil, fmt.Errorf("%q: %d rows", q, len(rows))
	}
	return rows[0][0], nil
}

// TestDrainOnOpenAndExecute: a coordinator shuts down. An acquire that
// reaches it is refused at OpenSession and goes to the other one, which
// it marks draining; a session already on it is refused its next
// statement, which never ran there, and moves: the statement runs on the
// other coordinator with the session's SET and USE, and the caller sees no
// error. Over HS2 and beeswax.
func TestDrainOnOpenAndExecute(t *testing.T) {
	for _, proto := range []conn.Protocol{conn.HS2, conn.Beeswax} {
		t.Run(proto.String(), func(t *testing.T) {
			cos := testenv.StartCluster(t, 2, 0, impalad.Config{})
			addrs := make([]string, len(cos))
			for i, co := range cos {
				addrs[i] = co.HS2Addr()
				if proto == conn.Beeswax {
					addrs[i] = co.BeeswaxAddr()
				}
			}
			byAddr := map[string]*impalad.Coordinator{addrs[0]: cos[0], addrs[1]: cos[1]}
			p := integrationPool(t, addrs, conn.Options{Protocol: proto, Database: "default"}, balancer.Config{Interval: -1}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			held, err := p.Acquire(ctx, "")
			require.NoError(t, err)
			home := held.Coordinator()
			s := held.Session()
			for _, stmt := range []string{"create database drained", "use drained", "set mem_limit=3g", "create table t (id int)"} {
				require.NoError(t, testenv.Exec(ctx, s, stmt), stmt)
			}
			_, err = byAddr[home].StartShutdown(-1)
			require.NoError(t, err)

			// The next statement of the held session moves it.
			before := len(byAddr[home].Statements())
			v, err := queryOne(ctx, s, "select count(*) from t")
			require.NoError(t, err, "the caller sees no error")
			require.EqualValues(t, 0, v)
			require.NotEqual(t, home, held.Coordinator(), "the session moved")
			require.Equal(t, before, len(byAddr[home].Statements()), "the refused statement never ran on the draining coordinator")
			cur, err := queryOne(ctx, s, "select current_database()")
			require.NoError(t, err)
			require.Equal(t, "drained", cur, "USE moved with the session")
			rows, err := testenv.Query(ctx, s, "set all")
			require.NoError(t, err)
			require.Equal(t, "3221225472", optionValue(rows, "MEM_LIMIT"), "SET moved with the session (3g)")
			st := p.Stats()
			hs, _ := st.Coordinator(home)
			require.Equal(t, balancer.StateDraining, hs.State)
			require.EqualValues(t, 1, hs.MovedAway)
			require.EqualValues(t, 1, st.Moves)
			held.Release()

			// New acquires avoid it.
			for range 4 {
				l, err := p.Acquire(ctx, "")
				require.NoError(t, err)
				require.NotEqual(t, home, l.Coordinator())
				require.NoError(t, testenv.Exec(ctx, l.Session(), "select 1"))
				l.Release()
			}
		})
	}
}

// TestDrainAtOpen: the first acquire that reaches a shutting-down
// coordinator is refused at OpenSession and redispatched, with no error.
func TestDrainAtOpen(t *testing.T) {
	cos := testenv.StartCluster(t, 2, 0, impalad.Config{DisableBeeswax: true})
	addrs := testenv.HS2Addrs(cos)
	_, err := cos[0].StartShutdown(-1)
	require.NoError(t, err)
	p := integrationPool(t, addrs, conn.Options{}, balancer.Config{Interval: -1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Two sessions held at once: leastconn tries both coordinators.
	var leases []*connLease
	for range 2 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		require.Equal(t, addrs[1], l.Coordinator())
		leases = append(leases, l)
	}
	cs, _ := p.Stats().Coordinator(addrs[0])
	require.Equal(t, balancer.StateDraining, cs.State)
	require.ErrorIs(t, cs.LastError, conn.ErrShuttingDown)
	for _, l := range leases {
		l.Release()
	}
}

// TestDrainEverywhere: every coordinator is shutting down; a statement is
// refused on each, and the error names them rather than looping.
func TestDrainEverywhere(t *testing.T) {
	cos := testenv.StartCluster(t, 2, 0, impalad.Config{DisableBeeswax: true})
	addrs := testenv.HS2Addrs(cos)
	p := integrationPool(t, addrs, conn.Options{}, balancer.Config{Interval: -1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	for _, co := range cos {
		_, err := co.StartShutdown(-1)
		require.NoError(t, err)
	}
	err = testenv.Exec(ctx, l.Session(), "select 1")
	require.Error(t, err)
	var me *conn.MoveError
	require.ErrorAs(t, err, &me)
	require.ErrorIs(t, err, conn.ErrShuttingDown)
	require.ErrorIs(t, err, balancer.ErrNoCoordinator)
	require.True(t, conn.SafeToRetry(err), "the statement never ran")
	for _, a := range addrs {
		require.Contains(t, err.Error(), a)
	}
	t.Logf("%v", err)
	for _, co := range cos {
		for _, st := range co.Statements() {
			require.NotEqual(t, "select 1", st.Text)
		}
	}
	l.Release()
	_, err = p.Acquire(ctx, "")
	require.ErrorIs(t, err, balancer.ErrNoCoordinator)
}

// TestDrainWhileFetching: a coordinator starts shutting down while a
// session reads a large result: the fetches go on to the last row (Impala
// lets running statements finish), and only the session's next statement
// moves.
func TestDrainWhileFetching(t *testing.T) {
	cos := testenv.StartCluster(t, 2, 0, impalad.Config{DisableBeeswax: true})
	addrs := testenv.HS2Addrs(cos)
	p := integrationPool(t, addrs, conn.Options{FetchSize: 1000}, balancer.Config{Interval: -1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	home := l.Coordinator()
	s := l.Session()
	op, err := s.Execute(ctx, "select * from gen.rows_20000", nil)
	require.NoError(t, err)
	b, err := op.Next(ctx)
	require.NoError(t, err)
	n := b.Len()
	for _, co := range cos {
		if co.HS2Addr() == home {
			_, err := co.StartShutdown(-1)
			require.NoError(t, err)
		}
	}
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		n += b.Len()
		require.Equal(t, home, l.Coordinator(), "no move while a statement is open")
	}
	require.NoError(t, op.Close(ctx))
	require.Equal(t, 20000, n, "every row")
	require.NoError(t, testenv.Exec(ctx, s, "select 1"))
	require.NotEqual(t, home, l.Coordinator(), "the next statement moved")
	l.Release()
}

// TestRefusedCredentials: a wrong LDAP password is refused by the first
// coordinator (Impala closes the connection during authentication). The
// acquire fails at once with an error that says so: no other coordinator
// is tried (an LDAP account would be locked out by the attempts), none is
// marked down.
func TestRefusedCredentials(t *testing.T) {
	cos := testenv.StartCluster(t, 3, 0, impalad.Config{DisableBeeswax: true, Users: map[string]string{"alice": "right"}})
	addrs := testenv.HS2Addrs(cos)
	p := integrationPool(t, addrs, conn.Options{User: "alice", Password: secret.New("wrong")}, balancer.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Acquire(ctx, "")
	require.ErrorIs(t, err, sasl.ErrRejected)
	require.Contains(t, err.Error(), "credentials were refused")
	st := p.Stats()
	dials := 0
	for _, cs := range st.Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, cs.Addr)
		dials += int(cs.Dialed)
	}
	require.Equal(t, 1, dials, "one login attempt")
	require.Zero(t, st.Redispatches)
}

// TestDrainedCoordinatorReturns: a rolling restart as an operator runs it,
// going on to the next coordinator once the previous one answers again. A
// draining coordinator is re-probed at a steady pace while it refuses (it
// is alive and will be back soon: backing off would leave it out long
// after its restart), and once it answers — it restarted, a shutdown is not
// undone — it is a candidate for acquires while no coordinator is up,
// instead of every acquire failing until its Rise is complete.
func TestDrainedCoordinatorReturns(t *testing.T) {
	cos := testenv.StartCluster(t, 2, 0, impalad.Config{DisableBeeswax: true, ShutdownGracePeriod: time.Hour})
	addrs := testenv.HS2Addrs(cos)
	clock := newClock()
	const backoffMin = 100 * time.Millisecond
	p, err := balancer.NewForTest(balancer.Config{Coordinators: addrs, Interval: -1, Rise: 2, SlowStart: -1,
		BackoffMin: backoffMin, BackoffMax: 10 * time.Second},
		balancer.NewConnDialer(conn.Options{}), balancer.Hooks[*conn.Session]{},
		balancer.TestOptions{Now: clock.Now, RandN: firstOnTies(2), NoLoop: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state := func(addr string) (balancer.State, uint64) {
		cs, ok := p.Stats().Coordinator(addr)
		require.True(t, ok)
		return cs.State, cs.Failures
	}
	// Past the longest jittered BackoffMin: a probe scheduled that far is
	// due.
	step := func() {
		clock.Advance(backoffMin * 6 / 5)
		p.Maintain()
	}

	_, err = cos[0].StartShutdown(-1)
	require.NoError(t, err)
	held, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.Equal(t, addrs[1], held.Coordinator(), "refused by the first, redispatched")
	st, failures := state(addrs[0])
	require.Equal(t, balancer.StateDraining, st)
	const probes = 6
	for range probes {
		step()
	}
	st, after := state(addrs[0])
	require.Equal(t, balancer.StateDraining, st)
	require.Equal(t, failures+probes, after, "one refused probe per BackoffMin, no backing off")

	// The second one shuts down too: nothing takes new sessions.
	_, err = cos[1].StartShutdown(-1)
	require.NoError(t, err)
	_, err = p.Acquire(ctx, "")
	require.ErrorIs(t, err, balancer.ErrNoCoordinator)

	// The first one comes back: one probe sees it, and the next acquire
	// goes there, before its Rise is complete.
	require.NoError(t, cos[0].Restart())
	step()
	st, _ = state(addrs[0])
	require.Equal(t, balancer.StateDown, st, "answering again: restarted, down until Rise")
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err, "a restarted coordinator is tried while none is up")
	require.Equal(t, addrs[0], l.Coordinator())
	require.NoError(t, testenv.Exec(ctx, l.Session(), "select 1"))
	st, _ = state(addrs[0])
	require.Equal(t, balancer.StateUp, st)
	l.Release()
	held.Release()
}
