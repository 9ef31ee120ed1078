package balancer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

// acquireAsync starts an Acquire and returns where its lease (or nil on
// error) arrives.
func acquireAsync(ctx context.Context, p *pool, key string) <-chan *lease {
	got := make(chan *lease, 1)
	go func() {
		l, err := p.Acquire(ctx, key)
		if err != nil {
			l = nil
		}
		got <- l
	}()
	return got
}

// recv waits for an acquire's result, failing the test if none comes
// within a generous bound (the pool's handoff is immediate).
func recv(t *testing.T, ch <-chan *lease) *lease {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("an acquire that should have been served is still waiting")
		return nil
	}
}

// Waiting acquires get released sessions in arrival order: the holder that
// releases and at once acquires again queues behind those already waiting,
// instead of taking its session back.
func TestWaitersServedInOrder(t *testing.T) {
	cl, addrs := newCluster(1)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 1
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	held, err := p.Acquire(ctx, "")
	require.NoError(t, err)

	first := acquireAsync(ctx, p, "")
	waitFor(t, func() bool { return p.Stats().Waiting == 1 })
	second := acquireAsync(ctx, p, "")
	waitFor(t, func() bool { return p.Stats().Waiting == 2 })

	// Release and re-acquire at once, as a loop of statements does.
	held.Release()
	again := acquireAsync(ctx, p, "")
	l1 := recv(t, first)
	require.NotNil(t, l1, "the longest waiter gets the released session")
	waitFor(t, func() bool { return p.Stats().Waiting == 2 })
	select {
	case <-second:
		t.Fatal("the second waiter got a session while the only one was held")
	case <-again:
		t.Fatal("the re-acquire got a session while the only one was held")
	default:
	}
	l1.Release()
	l2 := recv(t, second)
	require.NotNil(t, l2, "the second waiter is served before the re-acquire that came after it")
	select {
	case <-again:
		t.Fatal("the re-acquire overtook the second waiter")
	default:
	}
	l2.Release()
	l3 := recv(t, again)
	require.NotNil(t, l3)
	l3.Release()
	require.EqualValues(t, 1, cl.openSessions(), "one session served all four")
	require.EqualValues(t, 3, p.Stats().Waits)
}

// A keyed (affinity) waiter only takes a session of the coordinator its key
// maps to; a released session of another coordinator goes to the next
// waiter that can use it.
func TestKeyedWaiterSkipsOtherCoordinators(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs)
	cfg.MaxSessions = 2 // the key's coordinator stays its pick: no spill
	cfg.KeyedPolicy = balancer.Affinity
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	a, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	b, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	require.NotEqual(t, a.Coordinator(), b.Coordinator())

	// A key whose coordinator is a's.
	key := ""
	for i := range 1000 {
		k := "user" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		if p.Pick(balancer.Affinity, k) == a.Coordinator() {
			key = k
			break
		}
	}
	require.NotEmpty(t, key)
	keyed := acquireAsync(ctx, p, key)
	waitFor(t, func() bool { return p.Stats().Waiting == 1 })
	anyW := acquireAsync(ctx, p, "")
	waitFor(t, func() bool { return p.Stats().Waiting == 2 })

	b.Release() // the keyed waiter came first but cannot use it
	l := recv(t, anyW)
	require.NotNil(t, l)
	require.Equal(t, b.Coordinator(), l.Coordinator())
	select {
	case <-keyed:
		t.Fatal("the keyed waiter took a session of another coordinator")
	default:
	}
	a.Release()
	lk := recv(t, keyed)
	require.NotNil(t, lk)
	require.Equal(t, a.Coordinator(), lk.Coordinator())
	lk.Release()
	l.Release()
}

// Many holders cycling over fewer sessions than they are: every one of
// them keeps getting sessions (none starves), and nothing leaks.
func TestWaitersDoNotStarve(t *testing.T) {
	cl, addrs := newCluster(2)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 2
	p := newPool(t, cfg, balancer.TestOptions{})
	const workers, rounds = 16, 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				l, err := p.Acquire(ctx, "")
				if err != nil {
					errs <- err
					return
				}
				time.Sleep(50 * time.Microsecond)
				l.Release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := p.Stats()
	require.Zero(t, st.Waiting)
	require.LessOrEqual(t, cl.openSessions(), int64(4))
	require.Positive(t, st.Waits)
}

// A waiter that gives up after a session was handed to it passes the
// session on: to the next waiter, else to the idle list.
func TestHandedSessionOfCanceledWaiterIsPassedOn(t *testing.T) {
	cl, addrs := newCluster(1)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 1
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	for range 50 {
		held, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		wctx, cancel := context.WithCancel(ctx)
		w := acquireAsync(wctx, p, "")
		waitFor(t, func() bool { return p.Stats().Waiting == 1 })
		// Race the release against the cancel: either the waiter got the
		// session, or it gave up and the session is idle again.
		go cancel()
		held.Release()
		if l := <-w; l != nil {
			l.Release()
		}
		cancel()
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err, "the session is usable again")
		l.Release()
		require.EqualValues(t, 1, cl.openSessions())
	}
}
