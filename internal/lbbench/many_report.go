package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// writeManyPlots draws, per run, each coordinator's statements in flight
// over time (1-second moving average of the 100 ms buckets).
func writeManyPlots(out string, runs []*manyResult, jl *joinLeave) ([]string, error) {
	var names []string
	draw := func(r *manyResult, title, name string, marks func(p *plot.Plot, ymax float64)) error {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = "statements in flight (1 s moving average)"
		p.Legend.Top = true
		full := int(r.dur / r.bucket)
		per := int(time.Second / r.bucket)
		series := make([]plotter.XYs, r.ncoord)
		for c := range r.ncoord {
			for b := per; b <= full; b++ {
				series[c] = append(series[c], plotter.XY{X: float64(b) * r.bucket.Seconds(), Y: meanOf(r.inFlight[c][b-per : b])})
			}
		}
		addCoordLines(p, series)
		if marks != nil {
			marks(p, p.Y.Max)
		}
		p.Add(plotter.NewGrid())
		if err := p.Save(7*vg.Inch, 4.2*vg.Inch, filepath.Join(out, name)); err != nil {
			return fmt.Errorf("lbbench: plot %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}
	for _, r := range runs {
		if err := draw(r, "many client processes: "+r.title, "many-inflight-"+r.mode+".png", nil); err != nil {
			return nil, err
		}
	}
	if jl != nil {
		err := draw(jl.res, "cluster-wide leastconn: coordinator 4 joins, coordinator 2 leaves", "many-join-leave.png",
			func(p *plot.Plot, ymax float64) {
				addVLine(p, jl.joinAt, ymax, 5, "4 joins")
				addVLine(p, jl.leaveAt, ymax, 6, "2 shuts down")
			})
		if err != nil {
			return nil, err
		}
	}
	return names, nil
}

func fmtRatio(r float64) string {
	if math.IsInf(r, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.3f", r)
}

func fmtSecs(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// manyReport is the markdown of the scenario, for BENCHMARKS.md's section
// "Many client processes".
func manyReport(cfg *config, mc *manyConfig, runs []*manyResult, jl *joinLeave, pngs []string, load [2]string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Many client processes\n\n")
	w("Command: `%s`\n\n", cfg.command)
	w("%d client processes, each with its own pool (or, through HAProxy, its own sessions) and no shared state, "+
		"%d clients each in a closed loop, over 3 coordinators of one cluster; %.0f %% of the statements are `select sleep(n)` "+
		"with n uniform in %v–%v, the rest `select 1`. Per mode %v measured after %v of warm-up. ",
		mc.procs, mc.clients, mc.longFrac*100, mc.longMin, mc.longMax, mc.dur, mc.warmup)
	w("\"In flight\" is each coordinator's statements running at once, from the clients' own clocks (every statement's "+
		"interval, summed per 100 ms): its time average, and the worst 1-second window. p50/p99 are of whole operations "+
		"(acquire, statement, rows, release). Cluster-wide leastconn polls every coordinator's "+
		"`/jsonmetrics?json` every %v (±20 %%).\n\n", mc.loadInterval)
	w("| mode | in flight per coordinator (time average) | max/min (time average) | worst 1-second max/min | p50 | p99 | statements/s | failed |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		w("| %s | %s | %s | %s | %v | %v | %.0f | %d |\n", r.title, fmtFloats(r.avg), fmtRatio(r.maxMinAvg), fmtRatio(r.worst1s),
			round(r.p50), round(r.p99), r.tput, r.failed)
	}
	w("\n")
	var cl, hp *manyResult
	for _, r := range runs {
		switch r.mode {
		case "cluster":
			cl = r
		case "haproxy":
			hp = r
		}
	}
	if cl != nil && hp != nil {
		w("Cluster-wide leastconn against HAProxy in this run: balance (max/min of the time average) %s against %s: %s; "+
			"p99 %v against %v: %s.\n\n",
			fmtRatio(cl.maxMinAvg), fmtRatio(hp.maxMinAvg), verdict(cl.maxMinAvg <= hp.maxMinAvg, "as even or more even", "less even"),
			round(cl.p99), round(hp.p99), verdict(cl.p99 <= hp.p99, "no worse", "worse"))
	}
	for _, png := range pngs {
		if strings.HasPrefix(png, "many-inflight-") {
			w("![%s](internal/lbbench/results/%s)\n", png, png)
		}
	}
	if jl != nil {
		r := jl.res
		w("\n### A coordinator joins, one leaves\n\n")
		w("Cluster-wide leastconn, the %d processes started with one seed and Impala's membership as discovery "+
			"(`/backends?json` every %v), library defaults otherwise (slow start 10 s). At %v a fourth coordinator joins the "+
			"cluster; at %v coordinator 2 starts a graceful shutdown (grace period %v): it is listed as quiescing, "+
			"then leaves the cluster when it exits.\n\n", mc.procs, mc.discInterval, jl.joinAt, jl.leaveAt, mc.grace)
		w("| figure | value |\n|---|---|\n")
		w("| seconds from the join until coordinator 4 carried its share (a 1-second window with ≥ 90 %% of the mean in flight) | %s |\n", fmtSecs(jl.share))
		w("| seconds from the shutdown until coordinator 2 had no statement in flight | %s |\n", fmtSecs(jl.drained))
		w("| seconds from the shutdown until coordinator 2 exited (grace period, then no query left) | %s |\n", fmtSecs(jl.exited))
		w("| failed statements (whole run) | %d |\n", r.failed)
		w("| statements run, p99, statements/s | %d, %v, %.0f |\n", r.ok, round(r.p99), r.tput)
		w("\n![many-join-leave.png](internal/lbbench/results/many-join-leave.png)\n")
	}
	w("\nThe machine: %s; load average before and after: %s → %s. Everything — the 4 client processes, the "+
		"coordinators (one process, `internal/impalad`, each on its own loopback address) and HAProxy — shares those "+
		"cores, with other work of the machine: the figures are ratios within one run.\n", strings.Join(machine()[:1], ""), load[0], load[1])
	return b.String()
}

func verdict(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
