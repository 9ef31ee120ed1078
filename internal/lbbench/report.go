package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// buildReport renders BENCHMARKS.md.
func buildReport(e *env, cells []*cellResult, fos []*failoverResult, pngs []string, rolling string) string {
	cfg := e.cfg
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	writeIntro(w, e)
	writeResults(w, cfg, cells)
	writeHTTPSection(&b, cells, cfg.clients)
	writeTargets(w, cfg, cells, fos)
	if len(fos) > 0 {
		writeFailover(w, cfg, fos)
	}

	// The rolling restart's section, as in ROLLING.md.
	b.WriteString(rolling)

	if len(pngs) > 0 {
		w("## Plots\n\n")
		for _, p := range pngs {
			w("- [%s](%s)\n", p, p)
		}
		w("\n")
	}
	// The working directory is temporary: name it rather than print it.
	w("### HAProxy configuration\n\n```\n%s```\n", strings.ReplaceAll(e.proxy.Config(), e.dir, "<workdir>"))
	return b.String()
}

// printf writes to a report.
type printf func(format string, args ...any)

// cellSet is the cells of a run.
type cellSet []*cellResult

// get returns the cell of workload wl at n clients in mode m, nil if none.
func (cs cellSet) get(wl string, n int, m modeKind) *cellResult {
	for _, c := range cs {
		if c.wl == wl && c.clients == n && c.mode == m {
			return c
		}
	}
	return nil
}

// writeIntro writes the title, what the modes and the figures are, and
// the machine.
func writeIntro(w printf, e *env) {
	cfg := e.cfg
	w("# impalalb and HAProxy side by side\n\n")
	w("One run of `%s` on %s. Figures are for comparing the modes within this run;\n", cfg.command, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	w("numbers from runs on other days or machines are not comparable.\n\n")
	w("- (a) **direct**: one coordinator, no balancing, a different one of the three in each part so that none is warmer than the others; each client holds its own session (churn: dials each time).\n")
	w("- (b) **impalalb**: `balancer` with `balancer.NewConnDialer` over the three, library defaults (leastconn, health checks every 2 s) except `MaxPerCoordinator` and `MaxIdlePerCoordinator` raised to 256 so that 64 clients fit; each operation is `Acquire`, statement, `Release` (churn: a pool that keeps no idle session, so every acquire dials).\n")
	w("- (b′) **impalalb over (a)'s coordinator only**: the same pool with one member, pooled `SELECT 1` at 1 client: the library's own cost without the effect of spreading work over three processes.\n")
	w("- (a³) **direct, spread**: no balancing layer at all, client i holds its own session on coordinator i mod 3, pooled `SELECT 1` at 2+ clients: what spreading the work over three processes costs by itself on this machine; its \"layer CPU\" is that cost. (b) and (c) cannot do better than it.\n")
	if cfg.capped > 0 {
		w("- (b̂) **impalalb, capped**: (b) with `MaxPerCoordinator` %d, pooled `SELECT 1` and mixed at more than %d clients: the clients beyond the %d sessions wait in the pool and get released sessions in arrival order, so fewer statements compete for the shared CPUs at once (as a proxy's per-server `maxconn` would do; the guide's HAProxy settings have none).\n", cfg.capped, 3*cfg.capped, 3*cfg.capped)
	}
	w("- (c) **haproxy**: Debian's HAProxy in TCP mode in front of the three, the guide's settings (`balance leastconn`, `check` with inter 2s fall 3 rise 2, `retries 3`, `option redispatch`); each client holds its own session through it (churn: dials each time).\n\n")
	w("Every coordinator is a separate process of `internal/impalad/cmd/impalad` (HS2, NOSASL, service time %v, %s); all traffic is on loopback, HS2 protocol V6, and the client, the three coordinators and HAProxy share the machine's CPUs. ", cfg.serviceTime, procsNote(cfg.coordProcs))
	w("Each cell is measured for %v in %d parts of %v, each after a %v warm-up, the modes taking turns part by part so that changes in the machine's background load fall on all of them alike. Latency is per operation (churn: open + statement + close). ",
		cfg.duration, cfg.rounds, cfg.duration/time.Duration(cfg.rounds), cfg.warmup)
	w("Sessions and statements per coordinator are counted by the client (through HAProxy, from the version string each coordinator reports); the mean in flight per coordinator is the durations of its operations summed over the window, divided by the window: what leastconn evens out, where statement counts also follow each coordinator's speed (a process that gets less of the shared CPUs completes fewer) and, in the mixed workload, how the long statements fell. ")
	w("CPU per statement: the client process's getrusage, and HAProxy's /proc/<pid>/stat (10 ms ticks), over the measured window; the balancing layer's cost is (b)'s client CPU minus (a)'s, and for (c) HAProxy's CPU plus (c)'s client CPU minus (a)'s. The coordinators' CPU (the three processes together, /proc/<pid>/stat) shows what spreading the work over three processes costs on the shared CPUs.\n\n")

	w("## Machine\n\n")
	for _, l := range machine() {
		w("- %s\n", l)
	}
	w("- Load average (1, 5, 15 min) before the cells: %s; after: %s. Anything above the CPU count means other work shared the machine during the run.\n", e.load[0], e.load[1])
	w("\n")

}

// writeResults writes the table of each workload that ran.
func writeResults(w printf, cfg *config, cells cellSet) {
	w("## Results\n\n")
	for _, wl := range workloads(cfg) {
		any := false
		for _, c := range cells {
			any = any || c.wl == wl.name
		}
		if !any {
			continue
		}
		w("### %s (`%s`)\n\n", wl.title, wl.name)
		w("| clients | mode | ops/s | vs (a) | p50 | p99 | p99.9 | errors | sessions per coordinator | statements per coordinator | max/min | mean in flight per coordinator (max/min) | client CPU µs/op | HAProxy CPU µs/op | layer CPU µs/op | coordinators CPU µs/op |\n")
		w("|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|---:|---:|---:|---:|\n")
		for _, n := range cfg.clients {
			a := cells.get(wl.name, n, modeDirect)
			for _, m := range []modeKind{modeDirect, modeSpread, modeImpalalbOne, modeImpalalb, modeCapped, modeHAProxy} {
				if c := cells.get(wl.name, n, m); c != nil {
					writeResultRow(w, n, m, c, a)
				}
			}
		}
		w("\n")
	}
}

// writeResultRow writes the row of cell c, at n clients in mode m; a is
// (a)'s cell at the same count, nil if none.
func writeResultRow(w printf, n int, m modeKind, c, a *cellResult) {
	vs, layer := "", ""
	if a != nil && a.tput > 0 {
		vs = fmt.Sprintf("%.2f×", c.tput/a.tput)
		if m != modeDirect {
			layer = fmt.Sprintf("%.1f", perOp(c.clientCPU+c.proxyCPU, c.n)-perOp(a.clientCPU, a.n))
		}
	}
	mm := "–"
	if m == modeImpalalb || m == modeCapped || m == modeHAProxy {
		mm = fmt.Sprintf("%.3f", maxMin(c.stmts))
	}
	hap := "–"
	if m == modeHAProxy {
		hap = fmt.Sprintf("%.1f", perOp(c.proxyCPU, c.n))
	}
	w("| %d | %s | %.0f | %s | %s | %s | %s | %d | %s | %s | %s | %s | %.1f | %s | %s | %.1f |\n",
		n, m, c.tput, vs, fmtDur(c.p50), fmtDur(c.p99), fmtDur(c.p999), c.errs,
		joinCounts(c.sessions, m), joinCounts(c.stmts, m), mm, inFlight(c), perOp(c.clientCPU, c.n), hap, layer, perOp(c.coordCPU, c.n))
}

// yes marks a target met or not.
func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// writeTargets writes the table of issue 8's targets.
func writeTargets(w printf, cfg *config, cells cellSet, fos []*failoverResult) {
	get := cells.get
	w("## Targets of issue 8\n\n")
	w("| target | measured | met |\n|---|---|---|\n")
	if a, bb := get("select1", 1, modeDirect), get("select1", 1, modeImpalalb); a != nil && bb != nil && a.tput > 0 {
		ov := 1 - bb.tput/a.tput
		w("| (b) vs (a): overhead ≤ 5 %% at 1 client, pooled `SELECT 1` | throughput %s, p50 %s vs %s | %s |\n",
			lowerHigher(ov), fmtDur(bb.p50), fmtDur(a.p50), yes(ov <= 0.05))
	}
	if a, bb := get("select1", 1, modeDirect), get("select1", 1, modeImpalalbOne); a != nil && bb != nil && a.tput > 0 {
		ov := 1 - bb.tput/a.tput
		w("| the same, impalalb over (a)'s coordinator only (the library's own cost) | throughput %s, p50 %s vs %s | %s |\n",
			lowerHigher(ov), fmtDur(bb.p50), fmtDur(a.p50), yes(ov <= 0.05))
	}
	if bb, c := get("select1", 8, modeImpalalb), get("select1", 8, modeHAProxy); bb != nil && c != nil && c.tput > 0 {
		r := bb.tput / c.tput
		w("| (b) vs (c): ≥ 2× throughput, pooled `SELECT 1`, 8 clients | %.2f× (%.0f vs %.0f ops/s) | %s |\n", r, bb.tput, c.tput, yes(r >= 2))
	}
	for _, n := range cfg.clients {
		if bb, s := get("select1", n, modeImpalalb), get("select1", n, modeSpread); bb != nil && s != nil && s.tput > 0 {
			w("| context: (b) vs (a³), the same spread with no balancer, pooled `SELECT 1`, %d clients | %.2f× (%.0f vs %.0f ops/s); p99 %s vs %s; client CPU %.1f vs %.1f µs/op; statements max/min %.3f vs %.3f | – |\n",
				n, bb.tput/s.tput, bb.tput, s.tput, fmtDur(bb.p99), fmtDur(s.p99), perOp(bb.clientCPU, bb.n), perOp(s.clientCPU, s.n), maxMin(bb.stmts), maxMin(s.stmts))
		}
	}
	if bb, c := get("churn", 64, modeImpalalb), get("churn", 64, modeHAProxy); bb != nil && c != nil && c.tput > 0 {
		r := bb.tput / c.tput
		w("| (b) vs (c): ≥ 1.5× throughput, session churn, 64 clients | %.2f× (%.0f vs %.0f ops/s) | %s |\n", r, bb.tput, c.tput, yes(r >= 1.5))
	}
	writeP99Balance(w, cells)
	for _, fo := range fos {
		if fo.mode == modeImpalalb {
			w("| failover: zero failed statements that had not started, (b) | %d begun after the coordinator was gone; %d begun while it was dying (%s between SIGKILL and reaping), %d in flight at the SIGKILL | %s |\n",
				fo.cell.failPost, fo.cell.failMid, fmtDur(fo.dying), fo.cell.failPre, yes(fo.cell.failPost == 0))
		}
	}
	for _, fo := range fos {
		if fo.mode == modeHAProxy {
			w("| failover, HAProxy's figure beside it | %d begun after the coordinator was gone; %d while dying (%s), %d in flight | – |\n",
				fo.cell.failPost, fo.cell.failMid, fmtDur(fo.dying), fo.cell.failPre)
		}
	}
	w("\n")
}

// writeP99Balance writes the targets' rows on p99 and balance, (b)
// against (c) over every cell where both ran, with (b̂)'s figures beside.
func writeP99Balance(w printf, cells cellSet) {
	var lower, total int
	var worse []string
	var balOK, balTotal int
	var balBad []string
	for _, c := range cells {
		if c.mode != modeHAProxy {
			continue
		}
		bb := cells.get(c.wl, c.clients, modeImpalalb)
		if bb == nil {
			continue
		}
		total++
		if bb.p99 < c.p99 {
			lower++
		} else {
			worse = append(worse, fmt.Sprintf("%s/%d (%s vs %s)", c.wl, c.clients, fmtDur(bb.p99), fmtDur(c.p99)))
		}
		if c.clients > 1 && maxMin(c.stmts) > 0 && maxMin(c.stmts) <= 1.05 {
			balTotal++
			if maxMin(bb.stmts) > 0 && maxMin(bb.stmts) <= 1.05 {
				balOK++
			} else {
				balBad = append(balBad, fmt.Sprintf("%s/%d (%.3f; in flight %.3f, HAProxy %.3f)", c.wl, c.clients, maxMin(bb.stmts), maxMinDur(bb.busy), maxMinDur(c.busy)))
			}
		}
	}
	if total == 0 {
		return
	}
	detail := ""
	if len(worse) > 0 {
		detail = "; not lower: " + strings.Join(worse, ", ")
	}
	w("| (b) vs (c): lower p99 on every workload | lower in %d of %d cells%s | %s |\n", lower, total, detail, yes(lower == total))
	for _, c := range cells {
		if c.mode != modeCapped {
			continue
		}
		if h := cells.get(c.wl, c.clients, modeHAProxy); h != nil && h.tput > 0 {
			w("| context: (b̂), impalalb with MaxPerCoordinator %d, vs (c), %s/%d | %.2f× throughput (%.0f vs %.0f ops/s); p99 %s vs %s; p99.9 %s vs %s | – |\n",
				cappedSessions, c.wl, c.clients, c.tput/h.tput, c.tput, h.tput, fmtDur(c.p99), fmtDur(h.p99), fmtDur(c.p999), fmtDur(h.p999))
		}
	}
	detail = ""
	if len(balBad) > 0 {
		detail = "; above: " + strings.Join(balBad, ", ")
	}
	w("| balance: statements max/min ≤ 1.05 where HAProxy reaches it (2+ clients) | HAProxy reached it in %d cells, impalalb too in %d%s | %s |\n", balTotal, balOK, detail, yes(balOK == balTotal))
}

// writeFailover writes the failover section.
func writeFailover(w printf, cfg *config, fos []*failoverResult) {
	w("## Failover\n\n")
	w("%d clients run pooled `select sleep(%d)`, each session idle for %v on average between two statements, for %v; coordinator %d is SIGKILLed %v into the measurement. ",
		cfg.foClients, cfg.foStmt.Milliseconds(), cfg.foThink, cfg.foDuration, fos[0].victim+1, cfg.foKillAt)
	w("A client whose statement fails counts it and goes on (impalalb: `Discard` and acquire again; HAProxy: close and reconnect through the proxy, as an application would). ")
	w("Failed statements are classed by when they began: before the SIGKILL was sent (in flight), between the signal and the moment the process was reaped (its sockets may still have been open: nobody could know), or after it was gone (not started: these are the failures a balancer should avoid). ")
	w("\"Taken out after\" is the time from the SIGKILL until the layer stops sending new sessions to the coordinator: the pool marks it down (impalalb) or its status turns DOWN on the stats socket (HAProxy).\n\n")
	w("| mode | statements ok | failed, in flight | failed, while dying | failed, not started | taken out after | slowest operation | statements per coordinator | HAProxy conn. errors / retries / redispatches on it |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, fo := range fos {
		down := fmtDown(fo.downAfter)
		hap := "–"
		if fo.mode == modeHAProxy {
			hap = fmt.Sprintf("%d / %d / %d", fo.connErrs, fo.retries, fo.redispatches)
		}
		w("| %s | %d | %d | %d | %d | %s | %s | %s | %s |\n", fo.mode, fo.cell.n, fo.cell.failPre, fo.cell.failMid, fo.cell.failPost, down, fmtDur(fo.maxLatency), joinCounts(fo.cell.stmts, fo.mode), hap)
	}
	w("\n")
}

// inFlight prints the mean number of operations in flight on each
// coordinator over the measured window, with their max/min.
func inFlight(c *cellResult) string {
	if c.dur <= 0 || len(c.busy) == 0 {
		return "–"
	}
	if c.mode == modeDirect || c.mode == modeImpalalbOne {
		var sum time.Duration
		for _, b := range c.busy {
			sum += b
		}
		return fmt.Sprintf("%.1f", sum.Seconds()/c.dur.Seconds())
	}
	f := make([]string, len(c.busy))
	for i, b := range c.busy {
		f[i] = fmt.Sprintf("%.1f", b.Seconds()/c.dur.Seconds())
	}
	return fmt.Sprintf("%s (%.3f)", strings.Join(f, " / "), maxMinDur(c.busy))
}

// maxMinDur is maxMin over durations.
func maxMinDur(v []time.Duration) float64 {
	n := make([]int64, len(v))
	for i, d := range v {
		n[i] = int64(d)
	}
	return maxMin(n)
}

// lowerHigher says how much lower than the reference a throughput was,
// given 1 - ratio.
func lowerHigher(ov float64) string {
	if ov < 0 {
		return fmt.Sprintf("%.1f %% higher", -ov*100)
	}
	return fmt.Sprintf("%.1f %% lower", ov*100)
}

// fmtDown prints a "taken out after" time; negative means never.
func fmtDown(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmtDur(d)
}

func perOp(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

func joinCounts(v []int64, m modeKind) string {
	if m == modeDirect || m == modeImpalalbOne || m == modeDirectHTTP {
		// One coordinator per part, a different one each part: the total.
		var sum int64
		for _, x := range v {
			sum += x
		}
		return fmt.Sprint(sum)
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " / ")
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// machine describes the host from /proc/cpuinfo, /proc/meminfo and uname.
func machine() []string {
	var out []string
	models := map[string]int{}
	var order []string
	mhz := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "model name":
				if models[v] == 0 {
					order = append(order, v)
				}
				models[v]++
			case "cpu MHz":
				mhz = v
			}
		}
		f.Close()
	}
	for _, m := range order {
		out = append(out, fmt.Sprintf("CPU: %d × %s (%s MHz), runtime.NumCPU %d", models[m], m, mhz, runtime.NumCPU()))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				out = append(out, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " "))
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		out = append(out, fmt.Sprintf("Kernel: %s %s %s", cstr(u.Sysname[:]), cstr(u.Release[:]), cstr(u.Machine[:])))
	}
	out = append(out, "Go: "+runtime.Version())
	// The raw getpriority system call answers 20 - nice.
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		out = append(out, fmt.Sprintf("Niceness of the benchmark and its children: %d", 20-p))
	}
	if v, err := exec.Command(haproxyBin(), "-v").Output(); err == nil {
		first, _, _ := strings.Cut(string(v), "\n")
		out = append(out, "HAProxy: "+strings.TrimSpace(first))
	}
	return out
}

func haproxyBin() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	return "/usr/sbin/haproxy"
}

func cstr(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// procsNote describes the coordinators' GOMAXPROCS.
func procsNote(n int) string {
	if n <= 0 {
		return "Go's default GOMAXPROCS"
	}
	return fmt.Sprintf("GOMAXPROCS=%d: three coordinators share the two CPUs, and with the default each one's scheduler keeps threads spinning for work on CPUs the others need, which a coordinator on its own machine would not take from its clients", n)
}
