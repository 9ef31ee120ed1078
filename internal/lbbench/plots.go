package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots writes the PNGs into cfg.out and returns their file names.
func writePlots(cfg *config, cells []*cellResult, fos []*failoverResult) ([]string, error) {
	var names []string
	save := func(p *plot.Plot, name string) error {
		if err := p.Save(7*vg.Inch, 4.2*vg.Inch, filepath.Join(cfg.out, name)); err != nil {
			return fmt.Errorf("lbbench: plot %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}

	// Latency CDFs: one plot per workload and client count, one line per
	// mode.
	for _, wl := range workloads(cfg) {
		for _, n := range cfg.clients {
			var sel []*cellResult
			for _, c := range cells {
				if c.wl == wl.name && c.clients == n && c.n > 0 {
					sel = append(sel, c)
				}
			}
			if len(sel) == 0 {
				continue
			}
			p := plot.New()
			p.Title.Text = fmt.Sprintf("latency CDF: %s, %d clients", wl.name, n)
			p.X.Label.Text = "latency (ms, log scale)"
			p.Y.Label.Text = "fraction of operations"
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
			p.Y.Min, p.Y.Max = 0, 1
			p.Legend.Top = false
			p.Legend.Left = false
			for _, c := range sel {
				l, err := plotter.NewLine(cdfPoints(c.lat, 1500))
				if err != nil {
					return nil, err
				}
				l.LineStyle.Color = plotutil.Color(int(c.mode))
				l.LineStyle.Width = vg.Points(1.5)
				p.Add(l)
				p.Legend.Add(c.mode.String(), l)
			}
			p.Add(plotter.NewGrid())
			if err := save(p, fmt.Sprintf("cdf-%s-%d.png", wl.name, n)); err != nil {
				return nil, err
			}
		}
	}

	// Per-coordinator load over time: the mixed workload at the largest
	// client count, for the two balancing modes.
	maxClients := slices.Max(cfg.clients)
	for _, c := range cells {
		if c.wl != "mixed" || c.clients != maxClients || c.mode == modeDirect {
			continue
		}
		p := loadPlot(c, cfg.bucket, fmt.Sprintf("per-coordinator load: mixed, %d clients, %s", c.clients, c.mode))
		if err := save(p, fmt.Sprintf("load-mixed-%d-%s.png", c.clients, modeShort[c.mode])); err != nil {
			return nil, err
		}
	}

	// Failover time lines.
	for _, fo := range fos {
		p, err := failoverPlot(fo, cfg.bucket)
		if err != nil {
			return nil, err
		}
		if err := save(p, fmt.Sprintf("failover-%s.png", modeShort[fo.mode])); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// failoverPlot draws a failover run: statements/s per coordinator,
// failures/s, the kill and the moment the layer took the victim out.
func failoverPlot(fo *failoverResult, bucket time.Duration) (*plot.Plot, error) {
	p := loadPlot(fo.cell, bucket, fmt.Sprintf("failover: coordinator %d SIGKILLed, %s", fo.victim+1, fo.mode))
	fail := make(plotter.XYs, len(fo.cell.fail))
	for b, v := range fo.cell.fail {
		fail[b] = plotter.XY{X: (float64(b) + 0.5) * bucket.Seconds(), Y: float64(v) / bucket.Seconds()}
	}
	l, err := plotter.NewLine(fail)
	if err != nil {
		return nil, err
	}
	l.LineStyle.Color = plotutil.Color(4)
	l.LineStyle.Width = vg.Points(1.5)
	l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(l)
	p.Legend.Add("failed/s", l)
	ymax := p.Y.Max
	addVLine(p, fo.killAt, ymax, 5, "kill")
	if fo.downAfter >= 0 {
		addVLine(p, fo.killAt+fo.downAfter, ymax, 6, "taken out")
	}
	return p, nil
}

// loadPlot draws completed statements per second per coordinator over time.
func loadPlot(c *cellResult, bucket time.Duration, title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "statements/s"
	p.Legend.Top = true
	ncoord := len(c.stmts)
	// The last bucket is partial: leave it out.
	nb := len(c.ok) - 1
	series := make([]plotter.XYs, ncoord)
	for k := range ncoord {
		series[k] = make(plotter.XYs, nb)
		for b := range nb {
			series[k][b] = plotter.XY{X: (float64(b) + 0.5) * bucket.Seconds(), Y: float64(c.ok[b][k]) / bucket.Seconds()}
		}
	}
	addCoordLines(p, series)
	p.Add(plotter.NewGrid())
	return p
}

// addCoordLines adds one line per coordinator, with a legend, and sets
// the Y range from 0 with head room for the legend.
func addCoordLines(p *plot.Plot, series []plotter.XYs) {
	top := 0.0
	for k, xy := range series {
		for _, pt := range xy {
			top = max(top, pt.Y)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			continue
		}
		l.LineStyle.Color = plotutil.Color(k)
		l.LineStyle.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("coordinator %d", k+1), l)
	}
	p.Y.Min = 0
	p.Y.Max = top * 1.45
}

func addVLine(p *plot.Plot, at time.Duration, ymax float64, color int, label string) {
	l, err := plotter.NewLine(plotter.XYs{{X: at.Seconds(), Y: 0}, {X: at.Seconds(), Y: ymax}})
	if err != nil {
		return
	}
	l.LineStyle.Color = plotutil.Color(color)
	l.LineStyle.Width = vg.Points(1)
	l.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(l)
	p.Legend.Add(label, l)
}

// cdfPoints samples the empirical CDF of sorted latencies (in ms) at most
// max points, keeping the tail.
func cdfPoints(sorted []time.Duration, limit int) plotter.XYs {
	n := len(sorted)
	var xy plotter.XYs
	step := 1
	if n > limit {
		step = n / limit
	}
	for i := 0; i < n; i += step {
		xy = append(xy, plotter.XY{X: ms(sorted[i]), Y: float64(i+1) / float64(n)})
	}
	// The tail, point by point: the last 0.2 %.
	for i := max(n-n/500, 0); i < n; i++ {
		if i%step != 0 {
			xy = append(xy, plotter.XY{X: ms(sorted[i]), Y: float64(i+1) / float64(n)})
		}
	}
	slices.SortFunc(xy, func(a, b plotter.XY) int {
		switch {
		case a.Y < b.Y:
			return -1
		case a.Y > b.Y:
			return 1
		}
		return 0
	})
	return xy
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
