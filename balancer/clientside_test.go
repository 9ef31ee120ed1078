package balancer_test

import (
	"context"
	"errors"
	"fmt"
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

// TestAffinityFloor: the placement of a new key takes a coordinator
// only under its share of busy sessions, LoadFactor × the mean, or up to
// the floor MinAffinityLoad: at light load (a key placed beside a few
// busy sessions) the floor keeps it at its rendezvous choice; with the
// floor off the bound sends it on.
func TestAffinityFloor(t *testing.T) {
	for _, tc := range []struct {
		floor  int
		onHome bool
	}{
		{floor: 0, onHome: true},   // default floor 8: 5 busy sessions are under it
		{floor: -1, onHome: false}, // bound only: ceil(1.25 × 6 / 3) = 3 ≤ 5
	} {
		cl, addrs := newCluster(3)
		cfg := testConfig(cl, addrs)
		cfg.MinAffinityLoad = tc.floor
		p := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
		// "alice"'s rendezvous choice, and another key of hers, computed
		// on a pool of their own so that this one has placed neither.
		probe := newPool(t, cfg, balancer.TestOptions{NoLoop: true})
		home := probe.Pick(balancer.Affinity, "alice")
		var other string
		for i := 0; other == ""; i++ {
			if k := fmt.Sprintf("k%d", i); probe.Pick(balancer.Affinity, k) == home {
				other = k
			}
		}
		// Five busy sessions on her coordinator, from the other key.
		var leases []*lease
		for range 5 {
			l, err := p.Acquire(context.Background(), other)
			require.NoError(t, err)
			require.Equal(t, home, l.Coordinator(), "a key stays put")
			leases = append(leases, l)
		}
		l, err := p.Acquire(context.Background(), "alice")
		require.NoError(t, err)
		require.Equal(t, tc.onHome, l.Coordinator() == home, "floor %d", tc.floor)
		leases = append(leases, l)
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
