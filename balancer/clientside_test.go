package balancer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

// credsExpired is a client-side failure, as package kerberos reports an
// unreachable KDC or expired credentials.
type credsExpired struct{}

func (credsExpired) Error() string    { return "kerberos: login alice@EXAMPLE: credentials expired" }
func (credsExpired) ClientSide() bool { return true }

// clientFailDialer fails every dial with a client-side error while fail is
// set, and dials the fake cluster otherwise.
type clientFailDialer struct {
	fakeDialer
	fail  atomic.Bool
	tries atomic.Int32
}

func (d *clientFailDialer) Dial(ctx context.Context, addr string) (balancer.Session, error) {
	if d.fail.Load() {
		d.tries.Add(1)
		return nil, &wrapped{credsExpired{}}
	}
	return d.fakeDialer.Dial(ctx, addr)
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "conn: sasl c1: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// TestClientSideDialFailure: a failure that is the client's own (found
// anywhere in the error chain) ends the acquire at once, without marking
// the coordinator down or trying the others; once the client is fixed,
// every coordinator is still in service.
func TestClientSideDialFailure(t *testing.T) {
	cl, addrs := newCluster(3)
	d := &clientFailDialer{fakeDialer: fakeDialer{cl: cl}}
	cfg := testConfig(cl, addrs)
	cfg.Dialer = d
	p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})

	d.fail.Store(true)
	_, err := p.Acquire(context.Background(), "")
	require.Error(t, err)
	var ce credsExpired
	require.True(t, errors.As(err, &ce), "the client's error reaches the caller: %v", err)
	require.EqualValues(t, 1, d.tries.Load(), "no redispatch for a client-side failure")
	for _, cs := range p.Stats().Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, cs.Addr)
	}

	d.fail.Store(false)
	seen := map[string]bool{}
	var leases []*lease
	for range 3 {
		l, err := p.Acquire(context.Background(), "")
		require.NoError(t, err)
		seen[l.Coordinator()] = true
		leases = append(leases, l)
	}
	for _, l := range leases {
		l.Release()
	}
	require.Len(t, seen, 3, "every coordinator still takes sessions")
}

// TestAffinityFloor: at light load a key's sessions all stay on its
// coordinator (the floor MinAffinityLoad), where a bound of 1.25 × the mean
// alone would move the key's second session elsewhere; with the floor
// turned off they spread, and past the floor the bound applies again.
func TestAffinityFloor(t *testing.T) {
	for _, tc := range []struct {
		floor, sessions int
		wantOnHome      int
	}{
		{floor: 0, sessions: 6, wantOnHome: 6},  // default floor 8
		{floor: -1, sessions: 6, wantOnHome: 3}, // bound only: ceil(1.25 × 6 / 3) = 3
		{floor: 4, sessions: 12, wantOnHome: 5}, // bound ceil(1.25 × 12 / 3) = 5 beats the floor 4
	} {
		cl, addrs := newCluster(3)
		cfg := testConfig(cl, addrs)
		cfg.MinAffinityLoad = tc.floor
		p := newPool(t, cfg, balancer.TestOptions{})
		home := p.Pick(balancer.Affinity, "alice")
		var leases []*lease
		for range tc.sessions {
			l, err := p.Acquire(context.Background(), "alice")
			require.NoError(t, err)
			leases = append(leases, l)
		}
		require.Equal(t, tc.wantOnHome, countBy(leases)[home], "floor %d, %d sessions", tc.floor, tc.sessions)
		releaseAll(leases)
	}
}

// clientFailChecker is clientFailDialer whose active health check fails the
// same way while fail is set.
type clientFailChecker struct{ clientFailDialer }

func (d *clientFailChecker) Check(ctx context.Context, addr string) error {
	if d.fail.Load() {
		d.tries.Add(1)
		return &wrapped{credsExpired{}}
	}
	return nil
}

// TestClientSideCheckFailure: health checks that fail on the client's side
// (a KDC outage once the service tickets are gone) take no coordinator
// down, so the idle sessions, which need no KDC, keep serving.
func TestClientSideCheckFailure(t *testing.T) {
	cl, addrs := newCluster(3)
	d := &clientFailChecker{clientFailDialer{fakeDialer: fakeDialer{cl: cl}}}
	cfg := testConfig(cl, addrs)
	cfg.Dialer = d
	cfg.Interval = time.Millisecond
	cfg.Fall = 1
	p := newPool(t, cfg, balancer.TestOptions{})
	ctx := context.Background()
	var leases []*lease
	for range 6 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err)
		leases = append(leases, l)
	}
	releaseAll(leases)

	d.fail.Store(true)
	require.Eventually(t, func() bool { return d.tries.Load() >= 30 }, 10*time.Second, time.Millisecond,
		"the checks keep running")
	for _, cs := range p.Stats().Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, cs.Addr)
		require.EqualValues(t, 2, cs.Idle, "idle sessions kept on %s", cs.Addr)
	}
	for range 12 {
		l, err := p.Acquire(ctx, "")
		require.NoError(t, err, "the idle sessions serve without the KDC")
		l.Release()
	}
	require.EqualValues(t, 6, cl.openSessions(), "no dial was needed")
}
