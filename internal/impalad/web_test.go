package impalad

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestWebServer(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	co := startCoord(t, Config{WebAddr: "127.0.0.1:0"})
	web := co.WebAddr()
	require.NotEmpty(t, web)
	h := dialHS2(t, co.HS2Addr())
	resp := h.open(nil)
	require.Equal(t, web, resp.Configuration["http_addr"])
	h.mustExec("select sleep(600000)")
	dialBeeswax(t, co.BeeswaxAddr()).query("select 1")

	code, body := httpGet(t, "http://"+web+"/healthz")
	require.Equal(t, 200, code)
	require.Equal(t, "OK", body)

	_, body = httpGet(t, "http://"+web+"/jsonmetrics")
	var flat map[string]int64
	require.NoError(t, json.Unmarshal([]byte(body), &flat))
	require.Equal(t, int64(1), flat["impala-server.num-open-hiveserver2-sessions"])
	require.Equal(t, int64(1), flat["impala-server.num-open-beeswax-sessions"])
	require.Equal(t, int64(1), flat["impala-server.backend-num-queries-executing"])
	require.Equal(t, int64(1), flat["impala.thrift-server.hiveserver2-frontend.connections-in-use"])
	require.Equal(t, int64(2), flat["impala-server.num-queries"])

	_, body = httpGet(t, "http://"+web+"/metrics?json")
	var tree struct {
		MetricGroup struct {
			Metrics []struct {
				Name  string `json:"name"`
				Value int64  `json:"value"`
			} `json:"metrics"`
		} `json:"metric_group"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tree))
	require.NotEmpty(t, tree.MetricGroup.Metrics)

	_, body = httpGet(t, "http://"+web+"/metrics_prometheus")
	require.Contains(t, body, "\nimpala_server_num_open_hiveserver2_sessions 1\n")

	// The web server dies with the coordinator and comes back with it.
	co.Kill()
	_, err := http.Get("http://" + web + "/healthz")
	require.Error(t, err)
	require.NoError(t, co.Restart())
	require.Equal(t, web, co.WebAddr())
	code, _ = httpGet(t, "http://"+web+"/healthz")
	require.Equal(t, 200, code)
	require.True(t, strings.HasPrefix(co.webAddr(), "127.0.0.1:"))
}

// TestHealthzDuringShutdown: /healthz says only that the services started,
// as Impala's: a coordinator in its graceful shutdown, refusing new work,
// still answers 200 until it exits.
func TestHealthzDuringShutdown(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	co := startCoord(t, Config{WebAddr: "127.0.0.1:0", DisableBeeswax: true, ShutdownGracePeriod: time.Hour})
	_, err := co.StartShutdown(-1)
	require.NoError(t, err)
	resp := dialHS2(t, co.HS2Addr()).open(nil)
	require.Contains(t, resp.Status.GetErrorMessage(), "Server is being shut down")
	code, body := httpGet(t, "http://"+co.WebAddr()+"/healthz")
	require.Equal(t, 200, code)
	require.Equal(t, "OK", body)
}
