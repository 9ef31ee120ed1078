package impalad

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The optional web server (Config.WebAddr) serves the endpoints of
// impalad's web UI that load balancers and discovery read, in the JSON
// shapes of Impala's source:
//
//	/healthz             200 "OK" (be/src/service/impala-http-handler.cc, HealthzHandler)
//	/backends?json       the cluster's membership (impala-http-handler.cc, BackendsHandler)
//	/jsonmetrics?json    every metric in one flat map (be/src/util/metrics.cc, CMCompatibleCallback)
//	/metrics?json        the same metrics as a metric group tree (metrics.cc, TemplateCallback)
//	/metrics_prometheus  the same metrics in Prometheus text format
//
// A JSON page carries the "__common__" object every page of Impala's has
// (be/src/util/webserver.cc, GetCommonJson). Impala renders a page without
// ?json through its HTML templates; the test coordinator has none and
// says so. With Config.WebTLS it serves HTTPS; with Config.WebUsers every
// request must carry HTTP Basic credentials, as webserver.cc's
// BeginRequestCallback asks with --webserver_require_ldap (401 "Must
// authenticate with Basic authentication." and "WWW-Authenticate:
// Basic"); the test coordinator sets no authentication cookie.

// krpcPort is Impala's default --krpc_port: a backend's "address" in
// /backends is its host with this port (be/src/runtime/exec-env.cc,
// configured_backend_address_), not its HS2 port. Nothing listens there.
const krpcPort = 27000

// navbar are the pages of the common JSON's navigation bar that the test
// coordinator serves.
var navbar = []string{"/backends", "/metrics"}

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
	var hs2Sessions, bzSessions, hs2Conns, bzConns, httpConns int64
	for _, s := range co.sessions {
		if s.proto == HS2 {
			hs2Sessions++
		} else {
			bzSessions++
		}
	}
	registered, running := co.queriesLocked(time.Now())
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
	// Keys and descriptions as common/thrift/metrics.json.
	return []metric{
		{"impala-server.num-open-hiveserver2-sessions", "GAUGE", "The number of open HiveServer2 sessions.", hs2Sessions},
		{"impala-server.num-open-beeswax-sessions", "GAUGE", "The number of open Beeswax sessions.", bzSessions},
		{"impala-server.num-queries-registered", "GAUGE", "The total number of queries registered on this Impala server instance. Includes queries that are in flight and waiting to be closed", int64(registered)},
		{"impala-server.backend-num-queries-executing", "GAUGE", "The number of queries currently executing on this backend.", int64(running)},
		{"impala-server.num-queries", "COUNTER", "The total number of queries processed over the life of the process", co.executed.Load()},
		{"impala.thrift-server.hiveserver2-frontend.connections-in-use", "GAUGE", "The number of active HiveServer2 API connections to this Impala Daemon.", hs2Conns},
		{"impala.thrift-server.beeswax-frontend.connections-in-use", "GAUGE", "The number of active Beeswax API connections to this Impala Daemon.", bzConns},
		{"impala.thrift-server.hiveserver2-http-frontend.connections-in-use", "GAUGE", "The number of active HiveServer2 HTTP API connections to this Impala Daemon.", httpConns},
		{"impala.thrift-server.frontend.total-connections", "COUNTER", "The total number of frontend connections made to this Impala Daemon over its lifetime.", co.connsAccepted.Load()},
	}
}

// backend is one entry of /backends?json, with BackendsHandler's fields.
type backend struct {
	Address             string `json:"address"`
	KrpcAddress         string `json:"krpc_address"`
	BackendID           string `json:"backend_id"`
	WebserverURL        string `json:"webserver_url"`
	IsCoordinator       bool   `json:"is_coordinator"`
	IsExecutor          bool   `json:"is_executor"`
	IsQuiescing         bool   `json:"is_quiescing"`
	IsBlacklisted       bool   `json:"is_blacklisted"`
	IsActive            bool   `json:"is_active"`
	AdmitMemLimit       string `json:"admit_mem_limit"`
	MemReserved         string `json:"mem_reserved"`
	MemAdmitted         string `json:"mem_admitted"`
	AdmissionSlots      int64  `json:"admission_slots"`
	NumAdmitted         int64  `json:"num_admitted"`
	AdmissionSlotsInUse int64  `json:"admission_slots_in_use"`
	ExecutorGroups      string `json:"executor_groups"`
	ProcessStartTime    string `json:"process_start_time"`
	Version             string `json:"version"`
}

// backendDesc is the coordinator's entry in the membership, as
// ImpalaServer::BuildLocalBackendDescriptorInternal makes it, and false
// when it is not running (killed, or exited after a graceful shutdown).
// Impala's statestore notices a crashed backend only after missed
// heartbeats (statestore_max_missed_heartbeats); the test coordinator
// drops it at once.
func (co *Coordinator) backendDesc() (backend, bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	if co.state != stateRunning || co.life == nil {
		return backend{}, false
	}
	host, _, _ := net.SplitHostPort(co.hs2Addr)
	quiescing := !co.shut.start.IsZero()
	web := co.webAddrLn
	if web == "" {
		web = net.JoinHostPort(host, "25000")
	}
	scheme := "http"
	if co.cfg.WebTLS != nil {
		scheme = "https"
	}
	h := fnv.New64a()
	h.Write([]byte(co.hs2Addr))
	// NetworkAddressPBToString: hostname:port, IPv6 without brackets.
	addr := fmt.Sprintf("%s:%d", host, krpcPort)
	return backend{
		Address:        addr,
		KrpcAddress:    addr,
		BackendID:      fmt.Sprintf("%016x:%016x", h.Sum64(), uint64(co.startedAt.UnixNano())),
		WebserverURL:   scheme + "://" + web,
		IsCoordinator:  true,
		IsExecutor:     true,
		IsQuiescing:    quiescing,
		IsActive:       !quiescing, // never blacklisted here
		AdmitMemLimit:  "8 GB",     // PrettyPrinter::PrintBytes
		MemReserved:    "0",
		MemAdmitted:    "0",
		AdmissionSlots: 8,
		ExecutorGroups: "default",
		// CommonMetrics::PROCESS_START_TIME's format.
		ProcessStartTime: co.startedAt.Format("2006-01-02 15:04:05.000000"),
		Version:          versionString(co.cfg.Version, true),
	}, true
}

// backendsDoc is BackendsHandler's document: every running member of the
// cluster (the coordinators that share this one's catalog), and the
// counts, the quiescing count only when not zero.
func (co *Coordinator) backendsDoc() map[string]any {
	list := []backend{}
	active, quiescing := 0, 0
	for _, m := range co.cluster.coordinators() {
		b, ok := m.backendDesc()
		if !ok {
			continue
		}
		list = append(list, b)
		if b.IsQuiescing {
			quiescing++
		} else {
			active++
		}
	}
	doc := map[string]any{"backends": list, "num_active_backends": active}
	if quiescing > 0 {
		doc["num_quiescing_backends"] = quiescing
	}
	return doc
}

// commonJSON is GetCommonJson's "__common__" object.
func commonJSON() map[string]any {
	nav := make([]map[string]string, len(navbar))
	for i, p := range navbar {
		nav[i] = map[string]string{"link": p, "title": p}
	}
	return map[string]any{"process-name": "impalad", "navbar": nav}
}

func (co *Coordinator) webHandler() http.Handler {
	mux := http.NewServeMux()
	// As ImpalaHttpHandler::HealthzHandler
	// (be/src/service/impala-http-handler.cc): 200 "OK" while the services
	// are started (ImpalaServer::IsHealthy), which a graceful shutdown does
	// not change: a shutting-down coordinator answers 200 until it exits.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "OK")
	})
	// jsonPage serves a templated page of Impala's: its document with
	// ?json, else the limit of the test coordinator.
	jsonPage := func(path string, doc func(r *http.Request) map[string]any) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.URL.Query()["json"]; !ok {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprintf(w, "not supported by the test coordinator: %s without ?json (impalad renders it with an HTML template)\n", path)
				return
			}
			d := doc(r)
			d["__common__"] = commonJSON()
			writeJSON(w, d)
		})
	}
	jsonPage("/jsonmetrics", func(*http.Request) map[string]any {
		flat := map[string]any{}
		for _, m := range co.metricsSnapshot() {
			flat[m.name] = m.value
		}
		return flat
	})
	jsonPage("/metrics", func(*http.Request) map[string]any {
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
		return map[string]any{"metric_group": map[string]any{
			"name": "impala-metrics", "metrics": ms, "child_groups": []any{},
		}}
	})
	jsonPage("/backends", func(*http.Request) map[string]any { return co.backendsDoc() })
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
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Webserver::BeginRequestCallback's error page for an unknown URI.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "No URI handler for '%s'\n", r.URL.Path) //nolint:gosec // G705: a text/plain page, no HTML
	})
	if co.cfg.WebUsers == nil {
		return mux
	}
	users := make(map[string]string, len(co.cfg.WebUsers))
	for u, p := range co.cfg.WebUsers {
		users[u] = p
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As webserver.cc: OPTIONS needs no authentication; every other
		// request needs Basic credentials (HandleBasic).
		if r.Method != http.MethodOptions {
			user, pass, ok := r.BasicAuth()
			want, known := users[user]
			if !ok || !known || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", "Basic")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, "Must authenticate with Basic authentication.")
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	_ = enc.Encode(v) // a write error means the client left
}

// startWeb serves the web UI on ln for the life l.
func (co *Coordinator) startWeb(l *life, ln net.Listener) {
	srv := &http.Server{Handler: co.webHandler(), ReadHeaderTimeout: 10 * time.Second}
	l.web = srv
	served := ln
	if co.cfg.WebTLS != nil {
		served = tls.NewListener(ln, co.cfg.WebTLS)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = srv.Serve(served) // ErrServerClosed once l.web is closed
	}()
}
