package balancer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseBackends feeds /backends?json parsing arbitrary bytes: it never
// panics, and what it accepts is a non-empty list of checked addresses on
// the given port.
func FuzzParseBackends(f *testing.F) {
	f.Add([]byte(`{"backends":[{"address":"c1.example:27000","webserver_url":"https://c1.example:25000","is_coordinator":true,"is_quiescing":false},{"address":"::1:27000","is_coordinator":true,"is_quiescing":true},{"address":"e1:27000","is_coordinator":false}],"num_active_backends":2}`))
	f.Add([]byte(`{"backends":[]}`))
	f.Add([]byte(`{"backends":[{"address":":27000","is_coordinator":true}]}`))
	f.Add([]byte(`{"backends":[{"address":"h:1","webserver_url":"http://0.0.0.0:25000","is_coordinator":true}]}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ms, urls, err := parseBackends(body, 21050)
		if err != nil {
			require.Nil(t, ms)
			return
		}
		require.NotEmpty(t, ms)
		for _, m := range ms {
			require.NoError(t, checkAddr(m.Addr))
			require.True(t, strings.HasSuffix(m.Addr, ":21050"), m.Addr)
		}
		for host, hp := range urls {
			require.NotEmpty(t, host)
			require.NotEmpty(t, hp)
		}
	})
}

// FuzzParseMetric: a metric is read only as a finite, non-negative number.
func FuzzParseMetric(f *testing.F) {
	f.Add([]byte(`{"__common__":{"process-name":"impalad"},"impala-server.num-queries-registered":3}`))
	f.Add([]byte(`{"impala-server.num-queries-registered":"3"}`))
	f.Add([]byte(`{"impala-server.num-queries-registered":1e400}`))
	f.Add([]byte(`{"impala-server.num-queries-registered":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parseMetric(body, DefaultLoadMetric)
		if err != nil {
			require.Zero(t, v)
			return
		}
		require.GreaterOrEqual(t, v, 0.0)
	})
}
