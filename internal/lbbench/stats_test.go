package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Microsecond)
	}
	require.Equal(t, 500*time.Microsecond, quantile(lat, 0.5))
	require.Equal(t, 990*time.Microsecond, quantile(lat, 0.99))
	require.Equal(t, 999*time.Microsecond, quantile(lat, 0.999))
	require.Equal(t, time.Millisecond, quantile(lat, 1))
	require.Equal(t, time.Duration(0), quantile(nil, 0.5))
	require.Equal(t, 7*time.Second, quantile([]time.Duration{7 * time.Second}, 0.999))
}

func TestMaxMin(t *testing.T) {
	require.InDelta(t, 1.5, maxMin([]int64{2, 3, 2}), 1e-9)
	require.InDelta(t, 1.0, maxMin([]int64{0, 0, 0}), 1e-9)
	require.InDelta(t, 0.0, maxMin([]int64{0, 5, 5}), 1e-9)
}

func TestCDFPointsKeepsTailAndOrder(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100000; i++ {
		lat = append(lat, time.Duration(i)*time.Microsecond)
	}
	xy := cdfPoints(lat, 1000)
	require.Less(t, len(xy), 1300)
	require.InDelta(t, 1.0, xy[len(xy)-1].Y, 1e-9)
	require.InDelta(t, 100.0, xy[len(xy)-1].X, 1e-9) // ms
	for i := 1; i < len(xy); i++ {
		require.GreaterOrEqual(t, xy[i].Y, xy[i-1].Y)
		require.GreaterOrEqual(t, xy[i].X, xy[i-1].X)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-clients", "2, 4", "-workloads", "select1,churn", "-duration", "1s"})
	require.NoError(t, err)
	require.Equal(t, []int{2, 4}, cfg.clients)
	require.Equal(t, []string{"select1", "churn"}, cfg.workloads)
	require.True(t, strings.HasSuffix(cfg.command, "-duration 1s"))
	for _, bad := range [][]string{
		{"-clients", "0"}, {"-workloads", "nope"}, {"-modes", "impalalb-1"},
		{"-failover-kill-at", "20s"}, {"-long-frac", "2"},
	} {
		_, err := parseFlags(bad)
		require.Error(t, err, "%v", bad)
	}
}

func TestInFlight(t *testing.T) {
	c := &cellResult{mode: modeImpalalb, dur: 2 * time.Second, busy: []time.Duration{40 * time.Second, 42 * time.Second, 40 * time.Second}}
	require.Equal(t, "20.0 / 21.0 / 20.0 (1.050)", inFlight(c))
	c.mode = modeDirect
	require.Equal(t, "61.0", inFlight(c))
	require.Equal(t, "–", inFlight(&cellResult{mode: modeImpalalb}))
}

func TestFormatting(t *testing.T) {
	require.Equal(t, "250 µs", fmtDur(250*time.Microsecond))
	require.Equal(t, "1.50 ms", fmtDur(1500*time.Microsecond))
	require.Equal(t, "2.00 s", fmtDur(2*time.Second))
	require.Equal(t, "never", fmtDown(-1))
	require.Equal(t, "1 / 2 / 3", joinCounts([]int64{1, 2, 3}, modeHAProxy))
	require.Equal(t, "7", joinCounts([]int64{0, 7, 0}, modeDirect), "(a) runs on one coordinator per part: the total")
}

func TestVersionName(t *testing.T) {
	require.Equal(t, "lbbench-coord2", versionName("impalad version lbbench-coord2 RELEASE (build impalalb-test-coordinator)"))
	require.Equal(t, "4.5.0-RELEASE", versionName("4.5.0-RELEASE"), "GetInfo's CLI_DBMS_VER is the version alone")
}
