package impalad

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
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
	require.Contains(t, body, "not supported by the test coordinator: /jsonmetrics without ?json")
	_, body = httpGet(t, "http://"+web+"/jsonmetrics?json")
	var flat map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &flat))
	require.Contains(t, string(flat["__common__"]), `"process-name"`)
	delete(flat, "__common__")
	require.Equal(t, "1", string(flat["impala-server.num-queries-registered"]))
	require.Equal(t, "1", string(flat["impala-server.num-open-hiveserver2-sessions"]))
	require.Equal(t, "1", string(flat["impala-server.num-open-beeswax-sessions"]))
	require.Equal(t, "1", string(flat["impala-server.backend-num-queries-executing"]))
	require.Equal(t, "1", string(flat["impala.thrift-server.hiveserver2-frontend.connections-in-use"]))
	require.Equal(t, "2", string(flat["impala-server.num-queries"]))
	code, body = httpGet(t, "http://"+web+"/nosuchpage")
	require.Equal(t, 404, code)
	require.Equal(t, "No URI handler for '/nosuchpage'\n", body)

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

// backendsOf reads /backends?json from the web server at base.
func backendsOf(t *testing.T, c *http.Client, base string) (list []backend, active, quiescing int) {
	t.Helper()
	resp, err := c.Get(base + "/backends?json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var doc struct {
		Backends  []backend      `json:"backends"`
		Active    int            `json:"num_active_backends"`
		Quiescing int            `json:"num_quiescing_backends"`
		Common    map[string]any `json:"__common__"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, "impalad", doc.Common["process-name"])
	return doc.Backends, doc.Active, doc.Quiescing
}

// TestWebBackends: /backends?json lists the running coordinators that
// share the catalog, with BackendsHandler's fields: the address is the
// host with the KRPC port (no HS2 port in it), the web server's URL, and
// a coordinator in a graceful shutdown is quiescing, not active, until it
// exits and leaves the list. A coordinator that closes leaves; one that
// joins appears.
func TestWebBackends(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	cl := NewCluster(0)
	cfg := Config{WebAddr: "127.0.0.1:0", Cluster: cl, ShutdownGracePeriod: time.Nanosecond, ShutdownCheckInterval: 5 * time.Millisecond}
	a, b := startCoord(t, cfg), startCoord(t, cfg)
	base := "http://" + a.WebAddr()
	list, active, quiescing := backendsOf(t, http.DefaultClient, base)
	require.Len(t, list, 2)
	require.Equal(t, 2, active)
	require.Zero(t, quiescing)
	for i, co := range []*Coordinator{a, b} {
		e := list[i]
		require.Equal(t, "127.0.0.1:27000", e.Address)
		require.Equal(t, "http://"+co.WebAddr(), e.WebserverURL)
		require.True(t, e.IsCoordinator)
		require.True(t, e.IsActive)
		require.False(t, e.IsQuiescing)
		require.Regexp(t, `^[0-9a-f]{16}:[0-9a-f]{16}$`, e.BackendID)
		require.Equal(t, "impalad version "+DefaultVersion+" RELEASE (build "+buildHash+")", e.Version)
	}
	require.NotEqual(t, list[0].BackendID, list[1].BackendID)

	// b shuts down with a statement running: quiescing until it exits.
	h := dialHS2(t, b.HS2Addr())
	h.mustOpen()
	op := h.mustExec("select sleep(300)")
	_, err := b.StartShutdown(-1)
	require.NoError(t, err)
	list, active, quiescing = backendsOf(t, http.DefaultClient, base)
	require.Len(t, list, 2)
	require.Equal(t, 1, active)
	require.Equal(t, 1, quiescing)
	require.True(t, list[1].IsQuiescing)
	require.False(t, list[1].IsActive)
	_, err = h.c.CloseOperation(context.Background(), &tcli.TCloseOperationReq{OperationHandle: op})
	require.NoError(t, err)
	<-b.ShutdownDone()
	list, _, _ = backendsOf(t, http.DefaultClient, base)
	require.Len(t, list, 1)
	require.Equal(t, "http://"+a.WebAddr(), list[0].WebserverURL)

	// Restarted, b is back; a new coordinator joins; a closed one leaves.
	require.NoError(t, b.Restart())
	c := startCoord(t, cfg)
	list, _, _ = backendsOf(t, http.DefaultClient, "http://"+c.WebAddr())
	require.Len(t, list, 3)
	require.NoError(t, a.Close())
	list, _, _ = backendsOf(t, http.DefaultClient, "http://"+c.WebAddr())
	require.Len(t, list, 2)
}

// TestWebTLSAndBasic: with WebTLS the web server speaks HTTPS, and with
// WebUsers every page asks for Basic credentials as Impala's
// --webserver_require_ldap does.
func TestWebTLSAndBasic(t *testing.T) {
	ca, err := certtest.NewCA("impalalb test CA")
	require.NoError(t, err)
	cert, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	co := startCoord(t, Config{WebAddr: "127.0.0.1:0", WebUsers: map[string]string{"alice": "s3cret"},
		WebTLS: &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}, MinVersion: tls.VersionTLS12}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	base := "https://" + co.WebAddr()

	get := func(user, pass string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, base+"/backends?json", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, bad := range [][2]string{{"", ""}, {"alice", "wrong"}, {"bob", "s3cret"}} {
		resp := get(bad[0], bad[1])
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%v", bad)
		require.Equal(t, "Basic", resp.Header.Get("WWW-Authenticate"))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "Must authenticate with Basic authentication.", string(body))
	}
	require.Equal(t, http.StatusOK, get("alice", "s3cret").StatusCode)
	// Plain HTTP to the HTTPS port fails.
	resp, err := http.Get("http://" + co.WebAddr() + "/healthz")
	if err == nil {
		resp.Body.Close()
		require.NotEqual(t, http.StatusOK, resp.StatusCode)
	}
	// webserver_url says https.
	req, _ := http.NewRequest(http.MethodGet, base+"/backends?json", nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err = c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc struct {
		Backends []backend `json:"backends"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, "https://"+co.WebAddr(), doc.Backends[0].WebserverURL)
}
