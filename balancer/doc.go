// Package balancer is impalalb's client-side load balancer: a pool of
// sessions spread over a set of Impala coordinators, doing inside the client
// what an HAProxy in front of Impala does (leastconn, source persistence,
// health checks, redispatch), and checking idle sessions before reuse.
//
// A [Pool] is typed by the sessions it holds: a [Dialer] of S opens them and
// the pool is a Pool[S] whose leases hand out S values. [NewConnDialer] is
// the production Dialer, over package conn, with a protocol-level health
// check ([Checker]): its pool is a Pool[*conn.Session]. Tests pool fakes.
// The pool needs only Ping and Close of a [Session]; what more it can do is
// declared by small optional interfaces: a socket liveness check
// ([LivenessChecker]), session hygiene after SET and USE ([Resetter]) and
// reattaching a server session on a new connection ([Reattacher]).
//
// # Usage
//
//	pool, err := balancer.New(balancer.Config{
//		Coordinators: []string{"impalad1:21050", "impalad2:21050", "impalad3:21050"},
//	}, balancer.NewConnDialer(conn.Options{User: "etl"}))
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//
//	lease, err := pool.Acquire(ctx, user) // "" for leastconn
//	if err != nil {
//		return err // nothing was sent to any coordinator
//	}
//	op, err := lease.Session().Execute(ctx, "select 1", nil) // a *conn.Session
//	// ...
//	lease.Release() // or lease.Discard() if the session is broken
//
// Every field of [Config] means its documented default when zero, and
// negative values turn off what can be turned off (active checks, slow
// start, idle expiry); the defaults are HAProxy's where it has one (rise
// 2, fall 3, inter 2 s).
//
// # Hooks and tracing
//
// [NewWithHooks] takes [Hooks]: AfterDial (set up or refuse a new
// session), BeforeAcquire, AfterRelease and BeforeClose, as pgxpool's.
// [Config.Tracer] is told of every acquire's start and end (its
// coordinator, the time it waited for capacity, its redispatches, its
// error); package conn's Tracer does the same for statements.
//
// # Policies
//
// One pool serves both algorithms that Impala's load-balancer guide asks
// for. [Pool.Acquire] with an empty key uses [Config.Policy], [LeastConn] by
// default: the coordinator with the fewest busy sessions of this pool (in
// use, being opened, or about to be handed out); among equals, one with an
// idle session to reuse, so that the open sessions of a coordinator (each
// holds one of its frontend threads) stay near its peak of busy ones; ties
// go to a random one; above 32 coordinators, the better of two random
// choices. With a key (a user, a tenant, a client host) it uses
// [Config.KeyedPolicy], [Affinity] by default: a new key is placed by
// rendezvous hashing over the up coordinators, with a bounded load
// ([Config.LoadFactor] times the mean busy sessions) so that hot keys do
// not pile onto one coordinator, and then kept there by the sticky table
// (see below), so that it keeps the catalog it already saw. [RoundRobin] is
// available and not recommended.
//
// The pick reads an immutable snapshot of the up coordinators, swapped
// atomically when membership or health changes, and per-coordinator atomic
// counters, under one short lock (see Concurrency); it allocates nothing,
// except to record a new affinity key.
//
// # Health
//
// Passive: a failed dial marks the coordinator down at once, keeps the error
// for [Pool.Stats], and redispatches the acquire to the next pick, up to
// [Config.Retries] times within the caller's deadline. A down coordinator is
// re-probed with exponential backoff and jitter ([Config.BackoffMin],
// [Config.BackoffMax]) and comes back after [Config.Rise] successes. While
// every coordinator is down, acquires still try them, the one that failed
// longest ago first, and a success brings that one back. A coordinator
// that refuses new work because it is shutting down (Impala's graceful
// shutdown, [conn.ErrShuttingDown]) is draining: it gets no new sessions,
// the sessions on it move at their next statement, and it is re-probed
// every [Config.BackoffMin] without backing off, since it will be back
// soon; once it answers again (it restarted: a shutdown is not undone) it
// is down until Rise, and so tried while no coordinator is up. A dial cut short
// by its caller's own deadline says nothing about the coordinator, so it
// does not mark it down; it has the background loop check it at once, with
// [Config.CheckTimeout], and a failed check takes it down. Active:
// every [Config.Interval] each up coordinator is checked at protocol level
// (the Dialer's [Checker], or dial, ping and close); [Config.Fall]
// consecutive failures take it down. A returning or new coordinator ramps
// up over [Config.SlowStart]. [Pool.SetCoordinators] drains removed
// coordinators: no new sessions, idle ones closed, in-use ones closed on
// release.
//
// Outlier ejection: health checks prove that a coordinator opens sessions
// and answers pings, not that it runs statements. A lease tells the pool
// how its session's statements end (it implements conn.Observer, which
// *conn.Session calls): [Config.OutlierFailures] statements in a row
// without an answer (their deadline passed, the connection was lost or
// reset) within [Config.OutlierWindow], while another coordinator is up
// and not failing, eject the coordinator: down, not probed for
// [Config.OutlierEjectTime] (doubled at each ejection that follows, up to
// [Config.OutlierEjectTimeMax]), then back through Rise and slow start. At
// most [Config.OutlierMaxEjected] of the coordinators are out at once, and
// never all. Its sessions in use move at their next statement, which is
// never sent twice. [CoordinatorStats] counts the ejections.
//
// # A cluster that changes
//
// Sticky keys: the first acquire of an affinity key places it (rendezvous
// hashing with the bounded load) and a table remembers the placement, as
// HAProxy's stick-table does ([Config.StickyTableSize],
// [Config.StickyExpire]). The key then stays on its coordinator whatever
// the loads do; it moves only when that coordinator is down, draining or
// removed, or when the key expired or was evicted from a full table
// ([Config.ReturnHome] sends it back once after a crash). A key's DDL and
// the queries that follow it thus meet one catalog; [Stats] counts keys
// placed, moved and returned.
//
// Draining: a coordinator in Impala's graceful shutdown takes no new
// sessions and lets what runs there finish (see Health); a coordinator
// removed with [Pool.SetCoordinators] drains the same way.
//
// Moves: a session handed out on a coordinator that is draining, down,
// removed or that lost the session moves, at its next statement, to the
// coordinator the policy picks (its key's new home, for an affinity
// lease), and its database and query options are replayed there (see
// [Lease.Move] and package conn's Mover). What moves: the current
// database (USE) and the query options, those of conn.Options and every
// SET (an empty value included) and UNSET ALL since. What cannot: a statement that may
// have reached the old coordinator (it is never sent twice: its error says
// so, and the caller decides); an open result set (its rows are on the
// old coordinator: the session moves only once it is closed); the query
// ids, profiles and logs of earlier statements, which stay where they
// ran. A statement refused before it ran (shutting down, session gone)
// or never sent runs on the new coordinator.
//
// Balance that comes back: a session placed without a key goes back to
// the pool on release (or a database/sql connection's ResetSession) and is
// retired rather than kept when its coordinator holds clearly more than
// its share, so that a coordinator back from a restart fills up again
// under a steady load of long-lived connections; [Config.SlowStart] ramps
// it. Sessions of an affinity key follow the key instead.
//
// Nothing left behind: an HS2 session whose connection was cut (a proxy's
// idle timeout) or broke is closed from a new connection, so that Impala
// does not keep it, and its statements, for disconnected_session_timeout;
// a statement whose ExecuteStatement was cut after it left ends with its
// session.
//
// # Discovery and cluster-wide load
//
// [Config.Discovery] lists sources of coordinators: [DNSDiscovery] (a name
// resolved periodically, each A and AAAA record a coordinator: a Kubernetes
// headless service), [ImpalaMembership] (the cluster's membership from any
// coordinator's web server, /backends?json, quiescing coordinators
// included) or any [Discoverer]. [Config.Coordinators] is then the seed
// list. Changes apply as [Pool.SetCoordinators] does: a coordinator that
// joins ramps up with slow start, one that quiesces is marked draining at
// once, one that leaves is drained, not cut (its statements, fetches
// included, finish; its sessions move at their next statement). A source
// that fails keeps its last good list, logs and counts it
// ([Stats.Discovery]); the pool is never emptied by it.
//
// [Config.ClusterLoad] turns on cluster-wide least connections.
//
// Local leastconn counts this pool's own busy sessions. Ten services each
// doing that do not balance the cluster: each evens out its own share, and
// where their shares fall together (their ties broken alike, one
// service's long queries where another's short ones went) is chance. One
// HAProxy in front of them all sees every connection. The coordinators
// themselves see every query: each one's load figure (a [LoadReporter];
// with [ImpalaLoad], impala-server.num-queries-registered of its
// /jsonmetrics?json: the queries of every client registered there, in
// flight or waiting to be closed) is polled at [Config.ClusterLoadInterval]
// (±20 % jitter, so that client processes do not poll in step), each
// request bounded by that interval.
//
// The rank of coordinator c for leastconn is then
//
//	rank(c) = own(c) + w × others(c)
//	others(c) = max(0, R(c) − own₀(c))
//	w = max(Σ own₀, 1) / max(Σ R, Σ own₀, 1)
//
// where own(c) is this pool's busy sessions on c now (live, as local
// leastconn counts them), R(c) the coordinator's figure at the last poll
// and own₀(c) this pool's busy sessions on c at that poll (the mean of
// before and after the request), the sums over the coordinators with
// fresh figures.
//
// Why: between polls the pool's own picks are known exactly and at once,
// the other processes' only as of the last poll, so the other processes'
// load is the figure less this pool's own part of it, and this pool's own
// part is its live count — no pick is counted twice, and a burst of this
// pool's acquires spreads by its own counts rather than piling onto the
// coordinator that was least loaded at the poll. The weight w, this
// pool's share of the cluster's load, keeps many processes from
// overcorrecting together: with figures as stale for all of them, each
// moving its own load to cover the whole imbalance it sees would move N
// times what is needed, and the imbalance would swing back and forth.
// Each covering its share of it, together they cover it once. w is never
// zero: among coordinators with equal own load the others' load breaks
// the tie, so an idle process's first sessions go where the cluster is
// least loaded. With one process, others(c) is about zero and the rank is
// local leastconn's.
//
// A coordinator whose figure is missing (a failed poll, just joined) or
// older than three intervals counts the mean of the others' others(c);
// when no figure is fresh, the rank is local leastconn's. The term is
// published per coordinator as an atomic, so the pick still takes no lock
// and allocates nothing.
//
// Every poller runs on a goroutine of its own, each poll bounded by a
// timeout ([Config.DiscoveryTimeout], [Config.ClusterLoadInterval]);
// [Pool.Close] stops them and waits for them. [ImpalaWeb] says how the web
// servers are reached (port, TLS, Basic or SPNEGO credentials, sent only
// to a web server that asks).
//
// # Idle sessions
//
// Before an idle session is handed out the pool checks, in order: its
// lifetime ([Config.MaxLifetime] minus jitter) and idle time
// ([Config.MaxIdleTime]), its socket ([LivenessChecker], no round trip) and,
// when it has been idle longer than [Config.ValidateAfter], a Ping, which
// also proves the coordinator still knows the session. A session that fails
// is reattached if it is a [Reattacher], or closed and replaced; the caller
// never sees the error. The background loop also runs the socket check over
// idle sessions, every 15 seconds and at once after an acquire found a cut
// one, so that dead sessions stop counting as open (toward
// MaxPerCoordinator) and as idle ones that leastconn would prefer to reuse.
//
// # Figures
//
// [Pool.Stats] is a snapshot: per coordinator its state, slow-start weight,
// sessions in use and idle, dials, failures, replaced and reattached
// sessions and its last error; per pool the acquires waiting and the
// redispatches. [WritePrometheus] writes the snapshots of one or more pools
// in Prometheus's text format (the errors themselves left out).
//
// # Concurrency
//
// All methods of [Pool] are safe for concurrent use. Acquire does its work
// (validation, dials) on the caller's goroutine; Release and Discard
// return at once and leave resets and closes, which talk to the
// coordinator, to a goroutine of their own (the session counts as busy
// until then, and Close waits for them); one background goroutine per pool
// runs health checks, slow start and idle expiry, and stops in
// [Pool.Close]. A pick and the count
// of the acquire on the coordinator it picked are one step under a short
// lock, so that acquires made at once spread as evenly as if made one by
// one (30 over 3 coordinators: 10 each). Logging of state changes
// goes to [Config.Logger] and is off by default.
package balancer
