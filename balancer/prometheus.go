package balancer

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WritePrometheus writes the figures of pools, keyed by a name of the
// caller's choosing (a service with one pool per user or tenant passes one
// entry each), in Prometheus's text exposition format (version 0.0.4), as
// HAProxy's exporter serves its backends: for each coordinator its state,
// slow-start weight, sessions in use and idle, dials, failures, sessions
// replaced, reattached and moved away, affinity keys, and when it last
// failed; for each pool the acquires waiting, the waits, the redispatches,
// the session moves and the affinity keys moved and overflowed. Series are labelled
// pool and coordinator; every metric name is prefixed "impalalb_". Errors
// themselves are never written (they may name users and hosts; the time of
// the last one is). Serve it from an http.Handler with the content type
// "text/plain; version=0.0.4".
func WritePrometheus(w io.Writer, pools map[string]Stats) error {
	names := make([]string, 0, len(pools))
	for name := range pools {
		names = append(names, name)
	}
	slices.Sort(names)
	bw := bufio.NewWriter(w)
	for _, m := range promMetrics {
		bw.WriteString("# HELP impalalb_" + m.name + " " + m.help + "\n")
		bw.WriteString("# TYPE impalalb_" + m.name + " " + m.typ + "\n")
		for _, pool := range names {
			st := pools[pool]
			if m.pool != nil {
				writeSample(bw, m.name, m.pool(&st), "pool", pool)
				continue
			}
			if m.source != nil {
				for i := range st.Discovery {
					d := &st.Discovery[i]
					writeSample(bw, m.name, m.source(d), "pool", pool, "source", d.Source)
				}
				continue
			}
			for i := range st.Coordinators {
				m.writeCoordinator(bw, pool, &st.Coordinators[i])
			}
		}
	}
	return bw.Flush()
}

// writeCoordinator writes the samples of a per-coordinator metric for c.
func (m *promMetric) writeCoordinator(bw *bufio.Writer, pool string, c *CoordinatorStats) {
	switch {
	case m.state:
		for _, s := range []State{StateUp, StateDown, StateDraining, StateRemoved} {
			v := 0.0
			if c.State == s {
				v = 1
			}
			writeSample(bw, m.name, v, "pool", pool, "coordinator", c.Addr, "state", s.String())
		}
	case m.sessions:
		writeSample(bw, m.name, float64(c.InUse), "pool", pool, "coordinator", c.Addr, "state", "in_use")
		writeSample(bw, m.name, float64(c.Idle), "pool", pool, "coordinator", c.Addr, "state", "idle")
	case m.only == nil || m.only(c):
		writeSample(bw, m.name, m.coord(c), "pool", pool, "coordinator", c.Addr)
	}
}

// promMetric is one metric of WritePrometheus: per pool (pool set) or per
// coordinator (coord set, or the state and sessions families).
type promMetric struct {
	name, typ, help string
	pool            func(*Stats) float64
	coord           func(*CoordinatorStats) float64
	only            func(*CoordinatorStats) bool // coord: the coordinators that have the figure
	source          func(*DiscoveryStats) float64
	state, sessions bool
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

var promMetrics = []promMetric{
	{name: "coordinator_state", typ: "gauge", help: "1 for the coordinator's current state (up, down, draining, removed), 0 for the others.", state: true},
	{name: "coordinator_weight", typ: "gauge", help: "Share of new sessions the coordinator gets during slow start, 0 to 1.",
		coord: func(c *CoordinatorStats) float64 { return c.Weight }},
	{name: "sessions", typ: "gauge", help: "Sessions of the pool on the coordinator, in use (handed out or being dialed) or idle.", sessions: true},
	{name: "dials_total", typ: "counter", help: "Sessions opened by acquires (health checks excluded).",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Dialed) }},
	{name: "failures_total", typ: "counter", help: "Failed dials and failed health checks.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Failures) }},
	{name: "ejections_total", typ: "counter", help: "Times the coordinator was ejected for failing statements in a row (outlier detection).",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Ejections) }},
	{name: "sessions_replaced_total", typ: "counter", help: "Idle sessions found dead or expired and closed.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Replaced) }},
	{name: "sessions_reattached_total", typ: "counter", help: "Idle sessions whose connection was re-established with the server session kept.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Reattached) }},
	{name: "sessions_moved_away_total", typ: "counter", help: "Sessions moved from the coordinator to another at their next statement.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.MovedAway) }},
	{name: "sessions_retired_total", typ: "counter", help: "Sessions closed at release because the coordinator held clearly more than its share.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Retired) }},
	{name: "affinity_keys", typ: "gauge", help: "Affinity keys the sticky table places on the coordinator.",
		coord: func(c *CoordinatorStats) float64 { return float64(c.Keys) }},
	{name: "last_failure_timestamp_seconds", typ: "gauge", help: "Unix time of the coordinator's last failure, 0 if none.",
		coord: func(c *CoordinatorStats) float64 { return unixSeconds(c.LastErrorAt) }},
	{name: "acquires_waiting", typ: "gauge", help: "Acquires waiting for capacity now.",
		pool: func(s *Stats) float64 { return float64(s.Waiting) }},
	{name: "acquire_waits_total", typ: "counter", help: "Acquires that had to wait for capacity.",
		pool: func(s *Stats) float64 { return float64(s.Waits) }},
	{name: "redispatches_total", typ: "counter", help: "Acquires sent to another coordinator after a dial failed.",
		pool: func(s *Stats) float64 { return float64(s.Redispatches) }},
	{name: "session_moves_total", typ: "counter", help: "Sessions moved to another coordinator at their next statement.",
		pool: func(s *Stats) float64 { return float64(s.Moves) }},
	{name: "affinity_keys_moved_total", typ: "counter", help: "Affinity keys moved because their coordinator went down, is draining or was removed.",
		pool: func(s *Stats) float64 { return float64(s.KeysMoved) }},
	{name: "affinity_keys_overflowed_total", typ: "counter", help: "Acquires of an affinity key served elsewhere because its coordinator was at MaxPerCoordinator.",
		pool: func(s *Stats) float64 { return float64(s.KeysOverflowed) }},
	{name: "cluster_queries", typ: "gauge", help: "The coordinator's own load figure (all clients' queries) as last read for cluster-wide leastconn.",
		coord: func(c *CoordinatorStats) float64 { return c.ClusterQueries },
		only:  func(c *CoordinatorStats) bool { return !c.ClusterQueriesAt.IsZero() }},
	{name: "discovery_members", typ: "gauge", help: "Coordinators in the discovery source's last good list.",
		source: func(d *DiscoveryStats) float64 { return float64(d.Members) }},
	{name: "discovery_polls_total", typ: "counter", help: "Polls of the discovery source.",
		source: func(d *DiscoveryStats) float64 { return float64(d.Polls) }},
	{name: "discovery_failures_total", typ: "counter", help: "Failed polls of the discovery source (its last good list was kept).",
		source: func(d *DiscoveryStats) float64 { return float64(d.Failures) }},
	{name: "discovery_last_success_timestamp_seconds", typ: "gauge", help: "Unix time of the discovery source's last answer, 0 if none.",
		source: func(d *DiscoveryStats) float64 { return unixSeconds(d.LastSuccess) }},
}

// writeSample writes one line: name{k="v",...} value.
func writeSample(w *bufio.Writer, name string, v float64, kv ...string) {
	w.WriteString("impalalb_")
	w.WriteString(name)
	w.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(kv[i])
		w.WriteString(`="`)
		w.WriteString(promEscaper.Replace(kv[i+1]))
		w.WriteByte('"')
	}
	w.WriteString("} ")
	w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	w.WriteByte('\n')
}

// promEscaper escapes a label value: backslash, double quote and line feed.
var promEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
