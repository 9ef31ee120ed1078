package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// startService runs the service until the test ends or stop is called.
func startService(t *testing.T, args ...string) (base string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(a string) { addrc <- a }, io.Discard)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("service exited with %d", code)
	case <-time.After(20 * time.Second):
		t.Fatal("service did not start")
	}
	var once bool
	var code int
	stop = func() int {
		if !once {
			once = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return "http://" + addr, stop
}

func get(t *testing.T, u string, user string) (int, queryResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-Impala-User", user)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var qr queryResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&qr))
	return res.StatusCode, qr
}

func TestServiceAffinityAndShutdown(t *testing.T) {
	cos, err := impalad.NewCluster(time.Hour).StartN(3, impalad.Config{})
	require.NoError(t, err)
	addrs := make([]string, len(cos))
	for i, co := range cos {
		t.Cleanup(func() { _ = co.Close() })
		addrs[i] = co.HS2Addr()
	}
	base, stop := startService(t, "-dsn", "impala://"+strings.Join(addrs, ",")+"/default")

	code, qr := get(t, base+"/query?sql="+url.QueryEscape("select 1 as one, 'x' as s, null as n"), "alice")
	require.Equal(t, http.StatusOK, code, qr.Error)
	require.Equal(t, []string{"one", "s", "n"}, qr.Columns)
	require.Equal(t, [][]any{{float64(1), "x", nil}}, qr.Rows)
	require.Equal(t, "alice", qr.User)
	require.Contains(t, addrs, qr.Coordinator)

	// DDL then a dependent query, each on its own request: with a catalog
	// that propagates DDL only after an hour, this works only because
	// alice's requests all reach her coordinator.
	home := qr.Coordinator
	code, qr = get(t, base+"/query?sql="+url.QueryEscape("create table alice_t (id int)"), "alice")
	require.Equal(t, http.StatusOK, code, qr.Error)
	for i := 0; i < 5; i++ {
		code, qr = get(t, base+"/query?user=alice&sql="+url.QueryEscape("select count(*) from alice_t"), "")
		require.Equal(t, http.StatusOK, code, qr.Error)
		require.Equal(t, home, qr.Coordinator)
	}

	// An Impala error is one line naming what Impala said.
	code, qr = get(t, base+"/query?sql="+url.QueryEscape("select * from nowhere"), "bob")
	require.Equal(t, http.StatusBadGateway, code)
	require.Contains(t, qr.Error, "Could not resolve table reference")
	code, _ = get(t, base+"/query", "bob")
	require.Equal(t, http.StatusBadRequest, code)

	// /metrics: alice's pool holds one session, on her coordinator.
	res, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "version=0.0.4")
	metrics := string(body)
	require.Contains(t, metrics, `impalalb_dials_total{pool="user:alice",coordinator="`+home+`"} 1`+"\n")
	require.Contains(t, metrics, `impalalb_coordinator_state{pool="shared",coordinator="`+addrs[0]+`",state="up"} 1`+"\n")
	require.Contains(t, metrics, `pool="user:bob"`)
	// The tracer's histograms: alice's seven statements ran on her
	// coordinator (and maybe others' too), every one counted in +Inf.
	count := metricValue(t, metrics, `impalalb_statement_duration_seconds_count{coordinator="`+home+`"}`)
	require.GreaterOrEqual(t, count, 7.0)
	require.Equal(t, count, metricValue(t, metrics, `impalalb_statement_duration_seconds_bucket{coordinator="`+home+`",le="+Inf"}`))
	require.GreaterOrEqual(t, metricValue(t, metrics, `impalalb_acquire_duration_seconds_count{coordinator="`+home+`"}`), 1.0)

	// Graceful shutdown: a request in flight finishes.
	type answer struct {
		code int
		qr   queryResponse
	}
	inflight := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base+"/query", strings.NewReader("select sleep(300) as slept"))
		req.Header.Set("X-Impala-User", "carol")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- answer{code: -1, qr: queryResponse{Error: err.Error()}}
			return
		}
		defer res.Body.Close()
		var qr queryResponse
		_ = json.NewDecoder(res.Body).Decode(&qr)
		inflight <- answer{res.StatusCode, qr}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for running := false; !running; {
		for _, co := range cos {
			for _, st := range co.Statements() {
				running = running || strings.Contains(st.Text, "sleep(300)")
			}
		}
		require.True(t, time.Now().Before(deadline), "the statement never reached a coordinator")
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, 0, stop())
	a := <-inflight
	require.Equal(t, http.StatusOK, a.code, a.qr.Error)
	require.Equal(t, [][]any{{true}}, a.qr.Rows)

	// Every session was closed on the coordinators.
	deadline = time.Now().Add(10 * time.Second)
	for {
		open := 0
		for _, co := range cos {
			open += co.Stats().SessionsOpen
		}
		if open == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "sessions still open: %d", open)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServiceLocal(t *testing.T) {
	base, stop := startService(t, "-local", "2", "-max-users", "1")
	code, qr := get(t, base+"/query?sql=select+count(*)+from+gen.rows_10", "")
	require.Equal(t, http.StatusOK, code, qr.Error)
	require.Equal(t, [][]any{{float64(10)}}, qr.Rows)
	// Beyond -max-users the least recently used user's database closes.
	for _, u := range []string{"a", "b", "a"} {
		code, qr = get(t, base+"/query?sql=select+1", u)
		require.Equal(t, http.StatusOK, code, qr.Error)
	}
	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, 0, stop())
}

func TestServiceFlags(t *testing.T) {
	for _, args := range [][]string{{"-local", "0"}, {"-max-users", "0"}, {"extra"}, {"-dsn", "mysql://x"}} {
		code := run(context.Background(), args, nil, io.Discard)
		require.Equal(t, 2, code, args)
	}
}

// metricValue returns the value of the Prometheus sample named by series.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return f
		}
	}
	t.Fatalf("no sample %s in:\n%s", series, text)
	return 0
}

// TestTracerLogs: the tracer logs a statement with its coordinator and
// query id (never its text), a failure as a warning, and counts each in
// the coordinator's histogram bucket.
func TestTracerLogs(t *testing.T) {
	var buf bytes.Buffer
	tr := newTracer(slog.New(slog.NewTextHandler(&buf, nil)))
	ctx := tr.TraceStatementStart(context.Background(), conn.TraceStatementStartData{Addr: "c1:21050", Statement: "select 'secret'"})
	tr.TraceStatementEnd(ctx, conn.TraceStatementEndData{Addr: "c1:21050", QueryID: "a:b", Rows: 3, RowsAffected: -1, Duration: 3 * time.Millisecond})
	tr.TraceStatementEnd(ctx, conn.TraceStatementEndData{Addr: "c2:21050", RowsAffected: -1, Duration: 2 * time.Second, Err: errors.New("boom")})
	log := buf.String()
	require.Contains(t, log, "msg=statement coordinator=c1:21050 query_id=a:b rows=3 duration=3ms")
	require.Contains(t, log, `level=WARN msg="statement failed" coordinator=c2:21050`)
	require.Contains(t, log, "err=boom")
	require.NotContains(t, log, "secret")
	var m bytes.Buffer
	tr.writeMetrics(&m)
	require.Equal(t, 0.0, metricValue(t, m.String(), `impalalb_statement_duration_seconds_bucket{coordinator="c1:21050",le="0.0025"}`))
	require.Equal(t, 1.0, metricValue(t, m.String(), `impalalb_statement_duration_seconds_bucket{coordinator="c1:21050",le="0.005"}`))
	require.Equal(t, 0.0, metricValue(t, m.String(), `impalalb_statement_duration_seconds_bucket{coordinator="c2:21050",le="1"}`))
	require.Equal(t, 1.0, metricValue(t, m.String(), `impalalb_statement_duration_seconds_bucket{coordinator="c2:21050",le="2.5"}`))
	require.Equal(t, 2.0, metricValue(t, m.String(), `impalalb_statement_duration_seconds_sum{coordinator="c2:21050"}`))
}
