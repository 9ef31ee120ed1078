package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// modeKind is one of the ways of reaching the coordinators.
type modeKind int

const (
	modeDirect   modeKind = iota // (a) one coordinator, no balancing
	modeImpalalb                 // (b) client-side: balancer + conn over the three
	modeHAProxy                  // (c) HAProxy (tcp, leastconn, check) over the three
	// modeImpalalbOne is impalalb over (a)'s single coordinator: the
	// library's own cost, without the effect of spreading the work.
	modeImpalalbOne
	// modeSpread is (a) spread over the three without any balancing
	// layer: client i holds its own session on coordinator i mod 3. It is
	// what spreading the work over three processes costs by itself, the
	// floor under (b) and (c).
	modeSpread
	// modeCapped is (b) with MaxPerCoordinator lowered (-capped): at more
	// clients than sessions, clients queue in the pool in arrival order
	// instead of every statement running at once on the shared CPUs.
	modeCapped
	// The HiveServer2-over-HTTP runs (-http, http.go): (a), (b) and (c)
	// over hs2-http, (c) in two variants of HAProxy's mode http.
	modeDirectHTTP
	modeImpalalbHTTP
	modeHAProxyHTTP
	modeHAProxyHTTPCookie
	numModes
)

var modeNames = [...]string{"(a) direct", "(b) impalalb", "(c) haproxy", "(b′) impalalb, (a)'s coordinator only", "(a³) direct, spread: client i on coordinator i mod 3", "(b̂) impalalb, MaxPerCoordinator %d: the other clients queue in the pool",
	"(aʰ) direct, hs2-http", "(bʰ) impalalb, hs2-http", "(cʰ) haproxy mode http, leastconn, prefer-last-server", "(cʰ′) haproxy mode http, leastconn, sticky cookie"}
var modeShort = [...]string{"direct", "impalalb", "haproxy", "impalalb-1", "spread", "capped", "direct-http", "impalalb-http", "haproxy-http", "haproxy-http-cookie"}

// cappedSessions is modeCapped's MaxPerCoordinator (-capped), for its name.
var cappedSessions int

func (m modeKind) String() string {
	if m == modeCapped {
		return fmt.Sprintf(modeNames[m], cappedSessions)
	}
	return modeNames[m]
}

// target opens sessions for the clients of one cell in one mode.
type target struct {
	mode modeKind
	env  *env
	// home is the coordinator of (a) and (b′) in this part; it moves from
	// part to part so that no coordinator is warmer than the others (a
	// process that served every statement of (a) was measurably cheaper
	// per statement, and leastconn then sent it more).
	home   int
	pool   *balancer.Pool[*conn.Session] // impalalb only
	byAddr map[string]int
	byName map[string]int

	mu       sync.Mutex // guards sessions
	sessions []int64    // sessions opened per coordinator (direct, haproxy)
}

// newTarget prepares a mode; churn makes the impalalb pool keep no idle
// sessions (each acquire dials, as a short-lived job would).
func newTarget(e *env, mode modeKind, churn bool, home int) (*target, error) {
	t := &target{mode: mode, env: e, home: home % len(e.coords), byAddr: map[string]int{}, byName: map[string]int{},
		sessions: make([]int64, len(e.coords))}
	for i, c := range e.coords {
		t.byAddr[c.Addr()] = i
		if a := c.HTTPAddr(); a != "" {
			t.byAddr[a] = i
		}
		// The version each coordinator reports (--version=<name>), read
		// back by versionName.
		t.byName[c.name] = i
	}
	if mode == modeImpalalb || mode == modeImpalalbOne || mode == modeCapped || mode == modeImpalalbHTTP {
		cfg := balancer.Config{}
		for _, c := range e.coords {
			cfg.Coordinators = append(cfg.Coordinators, c.Addr())
			if mode == modeImpalalbHTTP {
				cfg.Coordinators[len(cfg.Coordinators)-1] = c.HTTPAddr()
			}
		}
		if mode == modeImpalalbOne {
			cfg.Coordinators = cfg.Coordinators[t.home : t.home+1]
		}
		cfg.MaxPerCoordinator = 256
		if mode == modeCapped {
			cfg.MaxPerCoordinator = e.cfg.capped
		}
		if churn {
			cfg.MaxIdlePerCoordinator = -1
		} else {
			cfg.MaxIdlePerCoordinator = 256
		}
		p, err := balancer.New(cfg, balancer.NewConnDialer(e.optsFor(mode)))
		if err != nil {
			return nil, err
		}
		t.pool = p
	}
	return t, nil
}

func (t *target) close() {
	if t.pool != nil {
		_ = t.pool.Close() // the cell is over: its figures are taken
	}
}

// sessionCounts returns the sessions opened on each coordinator so far.
func (t *target) sessionCounts() []int64 {
	if t.pool != nil {
		st := t.pool.Stats()
		out := make([]int64, len(t.env.coords))
		for _, c := range st.Coordinators {
			if i, ok := t.byAddr[c.Addr]; ok {
				out[i] = int64(c.Dialed)
			}
		}
		return out
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]int64(nil), t.sessions...)
}

// client is one simulated application thread.
type client struct {
	t     *target
	index int // the client's number within the cell
	churn bool
	held  *conn.Session // direct, haproxy: the pooled session
	coord int
	lease *balancer.Lease[*conn.Session]
}

func (t *target) newClient(index int, churn bool) *client {
	return &client{t: t, index: index, churn: churn}
}

func (c *client) dial(ctx context.Context) (*conn.Session, int, error) {
	e := c.t.env
	coord := c.t.home
	if c.t.mode == modeSpread {
		coord = (c.index + c.t.home) % len(e.coords)
	}
	addr := e.coords[coord].Addr()
	switch c.t.mode {
	case modeHAProxy:
		addr = e.proxy.Addr("impala")
	case modeDirectHTTP:
		addr = e.coords[coord].HTTPAddr()
	case modeHAProxyHTTP:
		addr = e.proxy.Addr(httpFrontend)
	case modeHAProxyHTTPCookie:
		addr = e.proxy.Addr(httpCookieFrontend)
	}
	s, err := conn.Dial(ctx, addr, e.optsFor(c.t.mode))
	if err != nil {
		return nil, -1, err
	}
	if c.t.mode.proxied() {
		i, ok := c.t.byName[versionName(s.ServerVersion())]
		if !ok {
			_ = s.Close() // the error returned says why
			return nil, -1, fmt.Errorf("lbbench: unknown coordinator %q behind the proxy", s.ServerVersion())
		}
		coord = i
	}
	c.t.mu.Lock()
	c.t.sessions[coord]++
	c.t.mu.Unlock()
	return s, coord, nil
}

// get returns a session to run one statement on, and its coordinator.
func (c *client) get(ctx context.Context) (*conn.Session, int, error) {
	if c.t.pool != nil {
		l, err := c.t.pool.Acquire(ctx, "")
		if err != nil {
			return nil, -1, err
		}
		c.lease = l
		return l.Session(), c.t.byAddr[l.Coordinator()], nil
	}
	if c.churn || c.held == nil {
		s, coord, err := c.dial(ctx)
		if err != nil {
			return nil, -1, err
		}
		c.held, c.coord = s, coord
	}
	return c.held, c.coord, nil
}

// operation runs one operation of workload wl (a session from get, the
// statement, put) and returns the session's coordinator.
func (c *client) operation(ctx context.Context, wl workload, rng *rand.Rand) (int, error) {
	octx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, coord, err := c.get(octx)
	if err == nil {
		err = wl.stmt(octx, s, rng)
		c.put(err != nil)
	}
	return coord, err
}

// put gives the session back after a statement; failed says it erred.
func (c *client) put(failed bool) {
	if c.t.pool != nil {
		if c.lease != nil {
			if failed {
				c.lease.Discard()
			} else {
				c.lease.Release()
			}
			c.lease = nil
		}
		return
	}
	if c.churn || failed {
		if c.held != nil {
			_ = c.held.Close() // churn, or after a failure: the next operation dials afresh
			c.held = nil
		}
	}
}

func (c *client) close() {
	c.put(true)
}

// versionName returns the build version in a coordinator's version string
// ("impalad version <version> RELEASE (build ...)", as PingImpalaHS2Service
// reports it): the name each test coordinator of the benchmark reports,
// which tells through a proxy which one a session reached.
func versionName(v string) string {
	f := strings.Fields(v)
	if len(f) >= 3 && f[0] == "impalad" && f[1] == "version" {
		return f[2]
	}
	return v
}
