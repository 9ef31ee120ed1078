package main

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// rollingAndReport runs the rolling restart, writes ROLLING.md and its
// plots into cfg.out, and returns the report's section for BENCHMARKS.md.
func rollingAndReport(ctx context.Context, cfg *config, bin, dir string) (string, error) {
	results, re, err := runRolling(ctx, cfg, bin, dir)
	if err != nil {
		return "", err
	}
	var pngs []string
	for _, r := range results {
		name := fmt.Sprintf("rolling-%s.png", rollShort[r.mode])
		p := rollingPlot(cfg, r)
		if err := p.Save(7*vg.Inch, 4.2*vg.Inch, filepath.Join(cfg.out, name)); err != nil {
			return "", fmt.Errorf("lbbench: plot %s: %w", name, err)
		}
		pngs = append(pngs, name)
	}
	section := rollingSection(cfg, results, pngs)
	var b strings.Builder
	fmt.Fprintf(&b, "# impalalb and HAProxy: rolling restart\n\n")
	fmt.Fprintf(&b, "One run of `%s` on %s.\n\n", cfg.command, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("## Machine\n\n")
	for _, l := range machine() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min) before the runs: %s; after: %s. Anything above the CPU count means other work shared the machine during the run.\n\n", re.load[0], re.load[1])
	b.WriteString(section)
	fmt.Fprintf(&b, "### HAProxy configuration\n\n```\n%s```\n", strings.ReplaceAll(re.proxy.Config(), dir, "<workdir>"))
	path := filepath.Join(cfg.out, "ROLLING.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil { //nolint:gosec // G306: the report, committed with the checkout
		return "", err
	}
	logf("wrote %s and %d plots", path, len(pngs))
	return section, nil
}

// rollingSection renders the results as the "Rolling restart" section.
func rollingSection(cfg *config, results []*rollResult, pngs []string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Rolling restart\n\n")
	w("Three coordinators, each its own process (`internal/impalad/cmd/impalad`, GOMAXPROCS=%d, web server on, `--shutdown_grace_period_s=%d`), are restarted one after the other: ",
		cfg.coordProcs, int64(cfg.rollGrace/time.Second))
	w("coordinators 1 and 3 are shut down by the statement `:shutdown()` through a session of their own, coordinator 2 by SIGTERM (both are Impala's graceful shutdown: new work is refused with \"Server is being shut down\", running statements finish, and the process exits once the grace period is over and nothing is registered); ")
	w("once the process has exited it is started again on the same ports, and once it answers a statement the next one follows after %v (%v of steady traffic come before the first, %v after the last). ", cfg.rollPause, cfg.rollLead, cfg.rollTail)
	w("Meanwhile %d clients run `select sleep(N), '<marker>'`, N uniform in 10–200 ms, without pause: ", cfg.rollClients)
	w("half of them with no session state (impalalb: `Acquire`, the statement, `Release`, as database/sql's `db.Query`; HAProxy: a session of their own through the proxy, reopened after an error, as a pooling application does); ")
	w("a quarter hold one session for the whole run and set its state once, `USE %s` and `SET MEM_LIMIT=<a value of their own>` (as database/sql's `*sql.Conn`); ", rollDB)
	w("a quarter run `USE`, `SET` and the statement on each lease (impalalb resets a session's state at `Release`; through HAProxy the same three statements on their own session). ")
	w("A client whose statement fails counts it, drops its session (impalalb: `Discard`), waits %v and goes on, setting its state again on its next session. ", cfg.rollErrPause)
	w("impalalb is a `balancer.Pool` with the library's defaults (leastconn, health checks every 2 s); HAProxy has the settings of Impala's load-balancer guide (`mode tcp`, `balance leastconn`, `check inter 2s fall 3 rise 2`, `retries 3`, `option redispatch`), its checks a TCP connect (c) or `option httpchk GET /healthz` on the coordinator's web port (c′), where Impala answers 200 while its services are started, through a graceful shutdown too.\n\n")
	w("**How it is counted.** *Failed*: statements a client saw fail (any of its statements, `USE` and `SET` included, and the acquires and connections that failed, as the statement they were for could not run). ")
	w("*Ran twice* and *wrong state* are counted at the coordinators: each runs with `-v` and logs every statement it registers with its query and session ids, the database it was analysed in and its query options (as Impala's \"Analyzing query: … db: …\" log line and the profile's \"Query Options (set by configuration)\"); this program reads the three logs. ")
	w("Every counted statement carries a marker of its own (run, client, attempt): a marker registered more than once ran twice; a registration whose database or `MEM_LIMIT` is not the client's (for a client without state: other than `default` and none) ran in the wrong state. ")
	w("Each failed statement is one attempt: a client that keeps failing counts one every %v or so, so the count follows the retry pace; *clients that saw a failure* and *longest failing* (the longest time from a client's failure to its next success) do not. ", cfg.rollErrPause)
	w("*Not in any log*: statements a client saw succeed that no coordinator logged — a check of the method, 0 when the logs are complete. Latency is per counted statement (client side, moves included); statements/s are counted statements that succeeded, over the run.\n\n")

	w("| mode | statements ok | failed (plain / held / per lease) | failed that had run | ran twice | wrong state | not in any log | clients that saw a failure | longest failing | statements/s | p50 | p99 | max | counted statements per coordinator | session moves / retired |\n")
	w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range results {
		mv := "–"
		if r.mode == rollImpalalb {
			mv = fmt.Sprintf("%d / %d", r.moves, r.retired)
		}
		outage := "–"
		if r.longestOutage > 0 {
			outage = fmtDur(r.longestOutage)
		}
		w("| %s | %d | %d (%d / %d / %d) | %d | %d | %d | %d | %d of %d | %s | %.0f | %s | %s | %s | %s | %s |\n",
			r.mode, r.totalOK(), r.totalFailed(), r.failed[kindPlain], r.failed[kindHeld], r.failed[kindPerLease], r.failedRan,
			r.duplicated, r.wrongState, r.unseen, r.clientsFailed, cfg.rollClients, outage, r.tput, fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.max), joinCounts(r.perCoord, modeImpalalb), mv)
	}
	w("\n")

	w("Each restart, from the moment the shutdown was asked for: when the process had exited, when it answered again after its restart, and when the balancing layer stopped and started again treating it as up (impalalb: the pool's state, draining or down vs up; HAProxy: DOWN vs UP on its stats socket; \"never\" when it never took it out).\n\n")
	w("| mode | coordinator | shut down by | exited after | answering after | taken out after | back after |\n")
	w("|---|---:|---|---:|---:|---:|---:|\n")
	rel := func(d, from time.Duration) string {
		if d < 0 {
			return "never"
		}
		return fmtDur(d - from)
	}
	for _, r := range results {
		for _, win := range r.windows {
			w("| %s | %d | `%s` | %s | %s | %s | %s |\n", rollShort[r.mode], win.coord+1, win.method,
				rel(win.exited, win.shutdown), rel(win.up, win.shutdown), rel(win.out, win.shutdown), rel(win.back, win.shutdown))
		}
	}
	w("\n")
	for _, r := range results {
		if r.totalFailed() == 0 && len(r.dupExamples) == 0 && len(r.wrongExamples) == 0 && r.badLines == 0 {
			continue
		}
		w("%s:", r.mode)
		for _, c := range sortedClasses(r.errClasses) {
			w(" %d %s;", r.errClasses[c], c)
		}
		for _, ex := range append(r.dupExamples, r.wrongExamples...) {
			w(" %s;", ex)
		}
		if r.badLines > 0 {
			w(" %d unreadable log lines;", r.badLines)
		}
		b.WriteString("\n\n")
	}
	if st := shutdownStatus(results); st != "" {
		w("`:shutdown()` answered, for example: \"%s\".\n\n", st)
	}
	if len(pngs) > 0 {
		w("Time lines (statements registered per %v per coordinator, failed statements, the draining and down windows shaded):", cfg.bucket)
		for _, p := range pngs {
			w(" [%s](%s)", p, p)
		}
		w("\n\n")
	}
	return b.String()
}

// shutdownStatus returns the first answer of ":shutdown()" of the runs.
func shutdownStatus(results []*rollResult) string {
	for _, r := range results {
		for _, win := range r.windows {
			if win.status != "" {
				return win.status
			}
		}
	}
	return ""
}

// rollingPlot draws a run's time line.
func rollingPlot(cfg *config, r *rollResult) *plot.Plot {
	c := &cellResult{ok: r.ok2, stmts: make([]int64, len(r.perCoord))}
	p := loadPlot(c, cfg.bucket, fmt.Sprintf("rolling restart, %s", r.mode))
	p.Y.Label.Text = "statements registered/s"
	// Room above the lines for the longer legend.
	p.Y.Max *= 1.35
	ymax := p.Y.Max
	shade := func(from, to time.Duration, col color.Color) *plotter.Polygon {
		if from < 0 || to < from {
			return nil
		}
		x0, x1 := from.Seconds(), to.Seconds()
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: ymax}, {X: x0, Y: ymax}})
		if err != nil {
			return nil
		}
		poly.Color = col
		poly.LineStyle.Width = 0
		p.Add(poly)
		return poly
	}
	var drainLeg, downLeg bool
	for _, win := range r.windows {
		if poly := shade(win.shutdown, win.exited, color.NRGBA{R: 255, G: 165, A: 50}); poly != nil && !drainLeg {
			p.Legend.Add("draining (grace period)", poly)
			drainLeg = true
		}
		if poly := shade(win.exited, win.up, color.NRGBA{R: 200, A: 50}); poly != nil && !downLeg {
			p.Legend.Add("exited, restarting", poly)
			downLeg = true
		}
	}
	nb := len(r.fail) - 1
	if nb > 0 {
		fail := make(plotter.XYs, nb)
		for b := range nb {
			fail[b] = plotter.XY{X: (float64(b) + 0.5) * cfg.bucket.Seconds(), Y: float64(r.fail[b]) / cfg.bucket.Seconds()}
		}
		if l, err := plotter.NewLine(fail); err == nil {
			l.LineStyle.Color = plotutil.Color(4)
			l.LineStyle.Width = vg.Points(1.5)
			l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(l)
			p.Legend.Add("failed/s", l)
		}
	}
	return p
}
