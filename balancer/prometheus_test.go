package balancer_test

import (
	"bufio"
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
)

// promLine is a sample line of the text format: name{labels} value.
var promLine = regexp.MustCompile(`^(impalalb_[a-z_]+)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (\S+)$`)

// parseProm checks the text format of out (HELP and TYPE once per metric,
// before its samples; well-formed sample lines) and returns the samples by
// "name{labels}".
func parseProm(t *testing.T, out string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			require.False(t, typed[name], "TYPE twice for %s", name)
			require.Contains(t, []string{"gauge", "counter"}, typ)
			typed[name] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := promLine.FindStringSubmatch(line)
		require.NotNil(t, m, "malformed line %q", line)
		require.True(t, typed[m[1]], "sample before TYPE: %q", line)
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err)
		key := m[1] + "{" + m[2] + "}"
		_, dup := samples[key]
		require.False(t, dup, "series twice: %s", key)
		samples[key] = v
	}
	return samples
}

func TestWritePrometheusFromPool(t *testing.T) {
	cl, addrs := newCluster(3)
	p := newPool(t, testConfig(cl, addrs), balancer.TestOptions{})
	leases := acquireN(t, p, 7, nil)
	releaseAll(leases[:3])
	st := p.Stats()
	var buf bytes.Buffer
	require.NoError(t, balancer.WritePrometheus(&buf, map[string]balancer.Stats{"etl": st}))
	got := parseProm(t, buf.String())
	for _, c := range st.Coordinators {
		l := `pool="etl",coordinator="` + c.Addr + `"`
		require.Equal(t, float64(c.InUse), got[`impalalb_sessions{`+l+`,state="in_use"}`], c.Addr)
		require.Equal(t, float64(c.Idle), got[`impalalb_sessions{`+l+`,state="idle"}`], c.Addr)
		require.Equal(t, float64(c.Dialed), got[`impalalb_dials_total{`+l+`}`], c.Addr)
		require.Equal(t, 1.0, got[`impalalb_coordinator_state{`+l+`,state="up"}`], c.Addr)
		require.Equal(t, 0.0, got[`impalalb_coordinator_state{`+l+`,state="down"}`], c.Addr)
		require.Equal(t, 1.0, got[`impalalb_coordinator_weight{`+l+`}`], c.Addr)
	}
	var inUse, idle float64
	for k, v := range got {
		if strings.HasPrefix(k, "impalalb_sessions{") {
			if strings.HasSuffix(k, `state="in_use"}`) {
				inUse += v
			} else {
				idle += v
			}
		}
	}
	require.Equal(t, 4.0, inUse)
	require.Equal(t, 3.0, idle)
	require.Contains(t, got, `impalalb_acquires_waiting{pool="etl"}`)
	releaseAll(leases[3:])
}

func TestWritePrometheusLabelsAndStates(t *testing.T) {
	at := time.Unix(1700000000, 500_000_000)
	pools := map[string]balancer.Stats{
		"b": {Waiting: 2, Waits: 9, Redispatches: 4, Coordinators: []balancer.CoordinatorStats{
			{Addr: "c1:21050", State: balancer.StateDown, Weight: 1, Failures: 3,
				LastError: errors.New("password=hunter2 rejected"), LastErrorAt: at},
		}},
		"a \"x\"\\\ny": {Coordinators: []balancer.CoordinatorStats{
			{Addr: "[::1]:21050", State: balancer.StateDraining, Weight: 0.25},
		}},
	}
	var buf bytes.Buffer
	require.NoError(t, balancer.WritePrometheus(&buf, pools))
	out := buf.String()
	require.NotContains(t, out, "hunter2", "errors are never written")
	got := parseProm(t, out)
	require.Equal(t, 1.0, got[`impalalb_coordinator_state{pool="b",coordinator="c1:21050",state="down"}`])
	require.Equal(t, 0.0, got[`impalalb_coordinator_state{pool="b",coordinator="c1:21050",state="up"}`])
	require.Equal(t, 3.0, got[`impalalb_failures_total{pool="b",coordinator="c1:21050"}`])
	require.Equal(t, 1700000000.5, got[`impalalb_last_failure_timestamp_seconds{pool="b",coordinator="c1:21050"}`])
	require.Equal(t, 2.0, got[`impalalb_acquires_waiting{pool="b"}`])
	require.Equal(t, 9.0, got[`impalalb_acquire_waits_total{pool="b"}`])
	require.Equal(t, 4.0, got[`impalalb_redispatches_total{pool="b"}`])
	esc := `pool="a \"x\"\\\ny",coordinator="[::1]:21050"`
	require.Equal(t, 1.0, got[`impalalb_coordinator_state{`+esc+`,state="draining"}`])
	require.Equal(t, 0.25, got[`impalalb_coordinator_weight{`+esc+`}`])
	require.Equal(t, 0.0, got[`impalalb_last_failure_timestamp_seconds{`+esc+`}`])
	// Pools in name order: "a..." before "b".
	require.Less(t, strings.Index(out, `pool="a `), strings.Index(out, `pool="b"`))
}

// TestWritePrometheusDiscovery: the discovery sources' figures and the
// coordinators' load figures are series of their own.
func TestWritePrometheusDiscovery(t *testing.T) {
	at := time.Unix(1700000000, 0)
	st := balancer.Stats{
		Coordinators: []balancer.CoordinatorStats{
			{Addr: "c1:21050", ClusterQueries: 7, ClusterQueriesAt: at},
			{Addr: "c2:21050"},
		},
		Discovery: []balancer.DiscoveryStats{{Source: `dns "x" port 1`, Members: 2, Polls: 5, Failures: 1, LastSuccess: at}},
	}
	var buf bytes.Buffer
	require.NoError(t, balancer.WritePrometheus(&buf, map[string]balancer.Stats{"p": st}))
	s := parseProm(t, buf.String())
	src := `pool="p",source="dns \"x\" port 1"`
	require.Equal(t, 2.0, s["impalalb_discovery_members{"+src+"}"])
	require.Equal(t, 5.0, s["impalalb_discovery_polls_total{"+src+"}"])
	require.Equal(t, 1.0, s["impalalb_discovery_failures_total{"+src+"}"])
	require.Equal(t, 1700000000.0, s["impalalb_discovery_last_success_timestamp_seconds{"+src+"}"])
	require.Equal(t, 7.0, s[`impalalb_cluster_queries{pool="p",coordinator="c1:21050"}`])
	_, ok := s[`impalalb_cluster_queries{pool="p",coordinator="c2:21050"}`]
	require.False(t, ok, "no series for a coordinator whose load was never read")
}
