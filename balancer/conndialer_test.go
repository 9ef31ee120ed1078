package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/testenv"
)

func TestConnDialerDialAndCheck(t *testing.T) {
	co := testenv.StartCluster(t, 1, 0, impalad.Config{})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	opts := conn.Options{User: "etl", SessionOptions: map[string]string{"MT_DOP": "2"}}
	d := balancer.NewConnDialer(opts)
	opts.SessionOptions["MT_DOP"] = "8" // the dialer kept its own copy
	require.Equal(t, "2", d.Options().SessionOptions["MT_DOP"])

	s, err := d.Dial(ctx, co.HS2Addr())
	require.NoError(t, err)
	cs := s
	// The pool's optional interfaces are all there.
	require.Implements(t, (*balancer.LivenessChecker)(nil), s)
	require.Implements(t, (*balancer.Resetter)(nil), s)
	require.Implements(t, (*balancer.Reattacher)(nil), s)

	rows, err := testenv.Query(ctx, cs, "set all")
	require.NoError(t, err)
	require.Equal(t, "2", optionValue(rows, "MT_DOP"), "the dialer's session options reach OpenSession")
	require.Equal(t, 1, co.Stats().SessionsOpen)

	// Check opens, pings and closes its own session.
	before := co.Stats()
	require.NoError(t, d.Check(ctx, co.HS2Addr()))
	after := co.Stats()
	require.Equal(t, before.SessionsOpened+1, after.SessionsOpened)
	require.Equal(t, 1, after.SessionsOpen, "Check leaves no session behind")
	require.NoError(t, s.Close())
}

func TestConnDialerBeeswax(t *testing.T) {
	co := testenv.StartCluster(t, 1, 0, impalad.Config{})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := balancer.NewConnDialer(conn.Options{Protocol: conn.Beeswax})
	require.NoError(t, d.Check(ctx, co.BeeswaxAddr()))
	s, err := d.Dial(ctx, co.BeeswaxAddr())
	require.NoError(t, err)
	require.NoError(t, testenv.Exec(ctx, s, "select 1"))
	require.NoError(t, s.Close())
}

// TestConnDialerCheckIsProtocolLevel shows why the check is more than a TCP
// connect: a coordinator whose only frontend thread is taken accepts the
// connection and never answers. Check fails within its context; a TCP
// connect succeeds.
func TestConnDialerCheckIsProtocolLevel(t *testing.T) {
	co := testenv.StartCluster(t, 1, 0, impalad.Config{FrontendThreads: 1})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := balancer.NewConnDialer(conn.Options{})

	held, err := d.Dial(ctx, co.HS2Addr())
	require.NoError(t, err)

	raw, err := net.Dial("tcp", co.HS2Addr())
	require.NoError(t, err, "the kernel still accepts the connection")
	require.NoError(t, raw.Close())

	cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = d.Check(cctx, co.HS2Addr())
	ccancel()
	require.Error(t, err)
	require.True(t, conn.SafeToRetry(err), "a failed check sent no statement: %v", err)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, held.Close())
	require.NoError(t, d.Check(ctx, co.HS2Addr()), "the thread is free again")
}

func TestConnDialerErrors(t *testing.T) {
	co := testenv.StartCluster(t, 1, 0, impalad.Config{})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := balancer.NewConnDialer(conn.Options{})

	co.Faults().RefuseConnections()
	s, err := d.Dial(ctx, co.HS2Addr())
	require.Error(t, err)
	require.Nil(t, s, "no typed nil inside the Session interface")
	require.True(t, conn.SafeToRetry(err))
	var ce *conn.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, co.HS2Addr(), ce.Addr)
	require.Error(t, d.Check(ctx, co.HS2Addr()))
	require.NoError(t, co.Faults().AcceptConnections())

	co.Faults().FailOpenSessions(1)
	s, err = d.Dial(ctx, co.HS2Addr())
	require.Error(t, err)
	require.Nil(t, s)
	require.True(t, conn.SafeToRetry(err))
	require.ErrorIs(t, err, conn.ErrRemote)

	bad := balancer.NewConnDialer(conn.Options{FetchSize: -1})
	_, err = bad.Dial(ctx, co.HS2Addr())
	require.ErrorContains(t, err, "FetchSize")
}

// optionValue finds an option in the rows of SET ALL (option, value, level).
func optionValue(rows [][]any, name string) string {
	for _, r := range rows {
		if r[0] == name {
			v, _ := r[1].(string)
			return v
		}
	}
	return "<missing>"
}

// ExampleNewConnDialer balances real sessions over three coordinators (test
// coordinators here, in-process) and runs a statement on one.
func ExampleNewConnDialer() {
	var addrs []string
	for range 3 {
		co, err := impalad.Start(impalad.Config{DisableBeeswax: true})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer co.Close()
		addrs = append(addrs, co.HS2Addr())
	}
	cfg := balancer.Config{Coordinators: addrs}
	pool, err := balancer.New(cfg, balancer.NewConnDialer(conn.Options{User: "etl", Database: "default"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	ctx := context.Background()

	l, err := pool.Acquire(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Release()
	op, err := l.Session().Execute(ctx, "select 42", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer op.Close(ctx)
	b, err := op.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Value(0, 0))
	// Output: 42
}
