package impalad

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The optional web server (Config.WebAddr) serves the few endpoints of
// impalad's web UI that load balancers read:
//
//	/healthz             200 "OK"
//	/jsonmetrics         {"impala-server.num-open-hiveserver2-sessions": 3, ...}
//	/metrics?json        the same metrics as impalad's metric group tree
//	/metrics_prometheus  the same metrics in Prometheus text format

// metric is one gauge or counter of the web server.
type metric struct {
	name, kind, desc string
	value            int64
}

// metricsSnapshot computes the metrics the web server reports.
func (co *Coordinator) metricsSnapshot() []metric {
	co.sweepSessions()
	co.mu.Lock()
	defer co.mu.Unlock()
	var hs2Sessions, bzSessions, running, hs2Conns, bzConns, httpConns int64
	for _, s := range co.sessions {
		if s.proto == HS2 {
			hs2Sessions++
		} else {
			bzSessions++
		}
	}
	now := time.Now()
	for _, op := range co.ops {
		if op.stateLocked(now) == opRunning {
			running++
		}
	}
	if co.life != nil {
		for sc := range co.life.conns {
			if sc.http {
				httpConns++
			} else if sc.proto == HS2 {
				hs2Conns++
			} else {
				bzConns++
			}
		}
	}
	return []metric{
		{"impala-server.num-open-hiveserver2-sessions", "GAUGE", "Open HiveServer2 sessions", hs2Sessions},
		{"impala-server.num-open-beeswax-sessions", "GAUGE", "Open beeswax sessions", bzSessions},
		{"impala-server.num-queries-registered", "GAUGE", "Queries registered (not closed)", int64(len(co.ops))},
		{"impala-server.backend-num-queries-executing", "GAUGE", "Queries executing", running},
		{"impala-server.num-queries", "COUNTER", "Queries executed", co.executed.Load()},
		{"impala.thrift-server.hiveserver2-frontend.connections-in-use", "GAUGE", "HiveServer2 connections open", hs2Conns},
		{"impala.thrift-server.beeswax-frontend.connections-in-use", "GAUGE", "Beeswax connections open", bzConns},
		{"impala.thrift-server.hiveserver2-http-frontend.connections-in-use", "GAUGE", "HiveServer2 HTTP connections open", httpConns},
		{"impala.thrift-server.frontend.total-connections", "COUNTER", "Connections accepted", co.connsAccepted.Load()},
	}
}

func (co *Coordinator) webHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/jsonmetrics", func(w http.ResponseWriter, _ *http.Request) {
		flat := map[string]int64{}
		for _, m := range co.metricsSnapshot() {
			flat[m.name] = m.value
		}
		writeJSON(w, flat)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		type jm struct {
			Name        string `json:"name"`
			Value       int64  `json:"value"`
			Kind        string `json:"kind"`
			Description string `json:"description"`
			Units       string `json:"units"`
		}
		var ms []jm
		for _, m := range co.metricsSnapshot() {
			ms = append(ms, jm{m.name, m.value, m.kind, m.desc, "NONE"})
		}
		if _, ok := r.URL.Query()["json"]; !ok {
			w.Header().Set("Content-Type", "text/plain")
			for _, m := range ms {
				fmt.Fprintf(w, "%s: %d\n", m.Name, m.Value)
			}
			return
		}
		writeJSON(w, map[string]any{"metric_group": map[string]any{
			"name": "impala-metrics", "metrics": ms, "child_groups": []any{},
		}})
	})
	mux.HandleFunc("/metrics_prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		ms := co.metricsSnapshot()
		sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
		for _, m := range ms {
			name := strings.NewReplacer(".", "_", "-", "_").Replace(m.name)
			kind := strings.ToLower(m.kind)
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, m.desc, name, kind, name, m.value)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// startWeb serves the web UI on ln for the life l.
func (co *Coordinator) startWeb(l *life, ln net.Listener) {
	srv := &http.Server{Handler: co.webHandler(), ReadHeaderTimeout: 10 * time.Second}
	l.web = srv
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		srv.Serve(ln)
	}()
}
