package main

import (
	"fmt"
	"strings"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
)

// HiveServer2 over HTTP (-http): the coordinators listen on their
// hs2_http_port too, and HAProxy has two more frontends in mode http. An
// HS2 session lives on one coordinator, so a proxy that balances each
// request on its own breaks it (its second call finds "Invalid session
// id"): the guide's settings are adapted with either "option
// prefer-last-server" (a client connection's requests stay on its server
// while it is open, as in TCP mode) or a sticky cookie ("cookie SERVERID
// insert indirect nocache"), which conn keeps per session.

// The HAProxy frontends of the HTTP runs.
const (
	httpFrontend       = "impala-http"
	httpCookieFrontend = "impala-http-cookie"
)

// httpFrontends are the mode http frontends over the coordinators' HTTP
// listeners: leastconn with prefer-last-server, and leastconn with a
// sticky cookie; health checks and the rest as the TCP frontend.
func httpFrontends(e *env) []haproxytest.Frontend {
	var servers []haproxytest.Server
	for i, c := range e.coords {
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("coord%d", i+1), Addr: c.HTTPAddr(), Check: true})
	}
	return []haproxytest.Frontend{
		{Name: httpFrontend, HTTP: true, Balance: "leastconn", PreferLastServer: true, Servers: servers},
		{Name: httpCookieFrontend, HTTP: true, Balance: "leastconn", StickyCookie: "SERVERID", Servers: servers},
	}
}

// http reports whether m is one of the HiveServer2-over-HTTP modes.
func (m modeKind) http() bool { return m >= modeDirectHTTP && m < numModes }

// proxied reports whether m goes through HAProxy.
func (m modeKind) proxied() bool {
	return m == modeHAProxy || m == modeHAProxyHTTP || m == modeHAProxyHTTPCookie
}

// optsFor returns the dialer options of mode m.
func (e *env) optsFor(m modeKind) conn.Options {
	o := e.connOpts
	if m.http() {
		o.Protocol = conn.HS2HTTP
	}
	return o
}

// writeHTTPSection renders the HTTP runs: the table per workload, and the
// client's cost per statement over HTTP against the binary protocol.
func writeHTTPSection(b *strings.Builder, cells cellSet, clients []int) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	any := false
	for _, c := range cells {
		any = any || c.mode.http()
	}
	if !any {
		return
	}
	w("## HiveServer2 over HTTP\n\n")
	w("The same coordinators' `--hs2_http_port`, NOSASL, each Thrift call one POST (keep-alive). ")
	w("(aʰ) and (bʰ) are (a) and (b) over `protocol=hs2-http`. HAProxy runs in `mode http` with the guide's other settings and `balance leastconn`, in two variants: ")
	w("(cʰ) with `option prefer-last-server` and `http-reuse never`, which keep a client connection's requests on one server while it is open (balanced per request, an HS2 session's second call already fails with \"Invalid session id\"; `internal/haproxytest` shows it), ")
	w("and (cʰ′) with a sticky cookie (`cookie SERVERID insert indirect nocache`), which the session keeps and sends with every request, so that it comes back to its coordinator after a reconnect too. ")
	w("Each client holds its own session through the proxy (churn: dials each time).\n\n")
	for _, wl := range []struct{ name, title string }{{"select1", "pooled sessions, SELECT 1"}, {"churn", "session churn: open, SELECT 1, close"}} {
		w("### %s (`%s`), hs2-http\n\n", wl.title, wl.name)
		w("| clients | mode | ops/s | vs (aʰ) | p50 | p99 | p99.9 | errors | sessions per coordinator | statements per coordinator | client CPU µs/op | HAProxy CPU µs/op | coordinators CPU µs/op |\n")
		w("|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|\n")
		for _, n := range clients {
			a := cells.get(wl.name, n, modeDirectHTTP)
			for _, m := range []modeKind{modeDirectHTTP, modeImpalalbHTTP, modeHAProxyHTTP, modeHAProxyHTTPCookie} {
				if c := cells.get(wl.name, n, m); c != nil {
					writeHTTPRow(w, n, m, c, a)
				}
			}
		}
		w("\n")
	}
	writeHTTPCost(w, cells, clients)
}

// writeHTTPRow writes the row of cell c, at n clients in mode m; a is
// (aʰ)'s cell at the same count, nil if none.
func writeHTTPRow(w printf, n int, m modeKind, c, a *cellResult) {
	vs := ""
	if a != nil && a.tput > 0 {
		vs = fmt.Sprintf("%.2f×", c.tput/a.tput)
	}
	hap := "–"
	if m.proxied() {
		hap = fmt.Sprintf("%.1f", perOp(c.proxyCPU, c.n))
	}
	w("| %d | %s | %.0f | %s | %s | %s | %s | %d | %s | %s | %.1f | %s | %.1f |\n",
		n, m, c.tput, vs, fmtDur(c.p50), fmtDur(c.p99), fmtDur(c.p999), c.errs,
		joinCounts(c.sessions, m), joinCounts(c.stmts, m), perOp(c.clientCPU, c.n), hap, perOp(c.coordCPU, c.n))
}

// writeHTTPCost writes the client's CPU per operation over HTTP against
// the binary protocol.
func writeHTTPCost(w printf, cells cellSet, clients []int) {
	w("### hs2-http against the binary protocol: what a statement costs the client\n\n")
	w("Client CPU per operation (getrusage of this process over the window) and throughput, the same workload and client count over the binary protocol and over HTTP.\n\n")
	w("| workload | clients | layer | binary: client CPU µs/op | hs2-http: client CPU µs/op | hs2-http / binary | binary ops/s | hs2-http ops/s |\n")
	w("|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, wl := range []string{"select1", "churn"} {
		for _, n := range clients {
			for _, pair := range [][2]modeKind{{modeDirect, modeDirectHTTP}, {modeImpalalb, modeImpalalbHTTP}, {modeHAProxy, modeHAProxyHTTPCookie}} {
				bin, h := cells.get(wl, n, pair[0]), cells.get(wl, n, pair[1])
				if bin == nil || h == nil || bin.n == 0 || h.n == 0 {
					continue
				}
				cb, ch := perOp(bin.clientCPU, bin.n), perOp(h.clientCPU, h.n)
				ratio := "–"
				if cb > 0 {
					ratio = fmt.Sprintf("%.2f×", ch/cb)
				}
				w("| %s | %d | %s / %s | %.1f | %.1f | %s | %.0f | %.0f |\n", wl, n, modeShort[pair[0]], modeShort[pair[1]], cb, ch, ratio, bin.tput, h.tput)
			}
		}
	}
	w("\n")
}
