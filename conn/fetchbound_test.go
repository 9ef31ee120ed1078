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

	out, ok := session(v4, nil).boundFetch(deadline(2*time.Second), stmtOpts)
	require.True(t, ok)
	ms, err := strconv.Atoi(out[fetchTimeoutOption])
	require.NoError(t, err)
	require.InDelta(t, 2000, ms, 1000)
	require.Equal(t, "1g", out["MEM_LIMIT"])
	require.NotContains(t, stmtOpts, fetchTimeoutOption, "the caller's map is not changed")

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
		out, ok := c.s.boundFetch(c.ctx, c.opt)
		require.False(t, ok, name)
		require.Equal(t, c.opt, out, name)
	}
}
