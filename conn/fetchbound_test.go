package conn

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// boundFetch sets FETCH_ROWS_TIMEOUT_MS only when it can only shorten
// Impala's wait and nobody chose a value.
func TestBoundFetchRules(t *testing.T) {
	deadline := func(d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		t.Cleanup(cancel)
		return ctx
	}
	session := func(version string, sessionOpts map[string]string, set ...string) *hs2Session {
		o := &Options{SessionOptions: sessionOpts}
		s := &hs2Session{version: version, opts: o, st: newTracker(o)}
		for _, k := range set {
			s.st.begin(classify("set " + k + "=1"))
		}
		return s
	}
	const v4 = "impalad version 4.4.0-RELEASE RELEASE"
	stmtOpts := map[string]string{"MEM_LIMIT": "1g"}

	out, bound := session(v4, nil).boundFetch(deadline(2*time.Second), stmtOpts)
	require.Positive(t, bound)
	ms, err := strconv.Atoi(out[fetchTimeoutOption])
	require.NoError(t, err)
	require.Equal(t, bound.Milliseconds(), int64(ms))
	require.InDelta(t, 2000, ms, 1000)
	require.Equal(t, "1g", out["MEM_LIMIT"])
	require.NotContains(t, stmtOpts, fetchTimeoutOption, "the caller's map is not changed")

	// The planning the session saw is left out of the bound: a fetch
	// arrives only once ExecuteStatement returned.
	planned := session(v4, nil)
	planned.planning = 1500 * time.Millisecond
	out, bound = planned.boundFetch(deadline(2*time.Second), nil)
	require.Positive(t, bound)
	require.LessOrEqual(t, bound, 500*time.Millisecond)
	require.Equal(t, strconv.FormatInt(bound.Milliseconds(), 10), out[fetchTimeoutOption])
	// No time left after planning: nothing set, and Execute polls.
	planned.planning = 3 * time.Second
	out, bound = planned.boundFetch(deadline(2*time.Second), stmtOpts)
	require.Negative(t, bound)
	require.Equal(t, stmtOpts, out)
	require.False(t, boundHolds(deadline(2*time.Second), bound))

	// The check once ExecuteStatement returned: the fetch must end by the
	// deadline.
	require.True(t, boundHolds(deadline(time.Hour), time.Second))
	require.False(t, boundHolds(deadline(time.Second), time.Hour))
	require.False(t, boundHolds(context.Background(), time.Second))

	for name, c := range map[string]struct {
		s   *hs2Session
		ctx context.Context
		opt map[string]string
	}{
		"no deadline":                   {session(v4, nil), context.Background(), nil},
		"deadline beyond Impala's wait": {session(v4, nil), deadline(defaultFetchTimeout + time.Minute), nil},
		"Impala 3":                      {session("impalad version 3.2.0-cdh6.3.2 RELEASE", nil), deadline(time.Second), nil},
		"unknown version":               {session("", nil), deadline(time.Second), nil},
		"chosen for the statement":      {session(v4, nil), deadline(time.Second), map[string]string{"fetch_rows_timeout_ms": "0"}},
		"chosen for the session":        {session(v4, map[string]string{"Fetch_Rows_Timeout_Ms": "500"}), deadline(time.Second), nil},
		"chosen by a SET":               {session(v4, nil, "fetch_rows_timeout_ms"), deadline(time.Second), nil},
	} {
		out, bound := c.s.boundFetch(c.ctx, c.opt)
		require.Zero(t, bound, name)
		require.Equal(t, c.opt, out, name)
	}
}
