package engine

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// RatioCharts draws, for each unit of rep, every compared row's ratio
// to its baseline with its interval: one horizontal line per
// benchmark, sorted by ratio, so that any number of benchmarks with
// names of any length can be read (one label per line, never
// overlapping), with the legend below the plot. A unit whose ratios
// are all exactly 1 (allocation counts that did not change) has no
// chart.
func RatioCharts(rep *Report) ([]Chart, error) {
	type item struct {
		cat, series string
		r           *Row
	}
	var units []string
	items := map[string][]item{}
	multi := len(DistinctFiles(rep)) > 1
	for _, t := range rep.Tables {
		for _, r := range t.Rows {
			if !r.HasBase || !(r.Ratio > 0) || math.IsInf(float64(r.Ratio), 0) {
				continue
			}
			cat := r.Group
			if r.Ignored != "" {
				cat += " (" + r.Ignored + ")"
			}
			if multi {
				cat = t.File + ": " + cat
			}
			if _, ok := items[t.Unit]; !ok {
				units = append(units, t.Unit)
			}
			items[t.Unit] = append(items[t.Unit], item{cat, r.By, r})
		}
	}
	var out []Chart
	for _, unit := range units {
		its := items[unit]
		flat := true
		for _, it := range its {
			flat = flat && it.r.Ratio == 1 && it.r.RatioLo == 1 && it.r.RatioHi == 1
		}
		if flat {
			continue
		}
		// Categories, sorted by the ratio of their first series: the
		// highest at the top (NominalY puts the first at the bottom).
		var cats, series []string
		first := map[string]float64{}
		for _, it := range its {
			if _, ok := first[it.cat]; !ok {
				first[it.cat] = float64(it.r.Ratio)
				cats = append(cats, it.cat)
			}
			if indexOf(series, it.series) < 0 {
				series = append(series, it.series)
			}
		}
		sort.SliceStable(cats, func(i, j int) bool { return first[cats[i]] < first[cats[j]] })
		catIdx := map[string]int{}
		for i, c := range cats {
			catIdx[c] = i
		}
		pts := make([]*xErrPoints, len(series))
		for i := range pts {
			pts[i] = &xErrPoints{}
		}
		var xr YRange
		xr.Add(1)
		height := 0.6 / float64(len(series))
		for _, it := range its {
			si := indexOf(series, it.series)
			y := float64(catIdx[it.cat])
			if len(series) > 1 {
				y += -0.3 + height*(float64(si)+0.5)
			}
			r := it.r
			pts[si].add(float64(r.Ratio), y, float64(r.RatioLo), float64(r.RatioHi))
			xr.Add(float64(r.Ratio), float64(r.RatioLo), float64(r.RatioHi))
		}
		base := rep.Baseline
		what := "median"
		for _, t := range rep.Tables {
			if t.Unit == unit {
				what = t.Summary
				break
			}
		}
		title := fmt.Sprintf("%s relative to %s (ratio of %ss, %g%% CI)", unit, base, what, 100*rep.Confidence)
		c, err := ratioLines(cats, series, pts, xr, "ratio-"+chartFileName(unit), title, base)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// chartFileName turns a unit into a file name: "sec/op" is "sec-op".
func chartFileName(unit string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, unit)
}

// xErrPoints is a set of points with asymmetric X errors.
type xErrPoints struct {
	plotter.XYs
	plotter.XErrors
}

func (e *xErrPoints) add(x, y, lo, hi float64) {
	e.XYs = append(e.XYs, plotter.XY{X: x, Y: y})
	var el, eh float64
	if lo > 0 && !math.IsInf(lo, 0) && lo <= x {
		el = x - lo
	}
	if !math.IsInf(hi, 0) && hi >= x {
		eh = hi - x
	}
	e.XErrors = append(e.XErrors, struct{ Low, High float64 }{el, eh})
}

// ratioLines draws a horizontal ratio chart: a line per category, a
// point with its interval per series, a dashed line at 1 for the
// baseline and the legend below the plot.
func ratioLines(cats, series []string, pts []*xErrPoints, xr YRange, name, title, baseline string) (*Chart, error) {
	p := NewPlot(title)
	p.X.Label.Text = "ratio to " + baseline
	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(9)
	leg.Top, leg.Left = true, true
	for i, s := range series {
		sc, err := plotter.NewScatter(pts[i].XYs)
		if err != nil {
			return nil, fmt.Errorf("chart series %s: %w", s, err)
		}
		col := plotutil.Color(i)
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: plotutil.Shape(i)}
		eb, err := plotter.NewXErrorBars(pts[i])
		if err != nil {
			return nil, fmt.Errorf("chart series %s: %w", s, err)
		}
		eb.LineStyle.Color = col
		eb.CapWidth = vg.Points(5)
		p.Add(eb, sc)
		leg.Add(s, sc)
	}
	n := float64(len(cats))
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: n - 0.5}})
	if err != nil {
		return nil, fmt.Errorf("chart baseline: %w", err)
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	one.LineStyle.Color = plotutil.Color(-1)
	p.Add(one)
	leg.Add(baseline+" = 1", one)
	p.Add(plotter.NewGrid())
	p.NominalY(cats...)
	p.Y.Min, p.Y.Max = -0.5, n-0.5
	lo, hi := xr.min, xr.max
	if hi/lo > 5 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = unitTicks{"ratio"}
		p.X.Min, p.X.Max = lo/1.2, hi*1.2
	} else {
		pad := (hi - lo) * 0.08
		if pad == 0 {
			pad = 0.01
		}
		p.X.Min, p.X.Max = math.Max(0, lo-pad), hi+pad
		p.X.Tick.Marker = linearRatioTicks{}
	}
	rowH := vg.Points(18)
	legendH := vg.Points(16)*vg.Length(len(series)+1) + vg.Points(8)
	h := rowH*vg.Length(len(cats)) + vg.Points(90) + legendH
	w := 7 * vg.Inch
	drawFn := func(dc draw.Canvas) {
		p.Draw(draw.Crop(dc, 0, 0, legendH, 0))
		strip := draw.Crop(dc, vg.Points(10), 0, 0, -(dc.Max.Y - dc.Min.Y - legendH))
		leg.Draw(strip)
	}
	return renderDraw(drawFn, name, title, w, h)
}

// linearRatioTicks labels a linear ratio axis: "0.95×", "1×", "1.05×".
type linearRatioTicks struct{}

func (linearRatioTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 4, 64) + "×"
		}
	}
	return ticks
}

// FilesTitle is the title of a report that compares files: their
// labels.
func FilesTitle(ds *Dataset) string {
	var labels []string
	for _, in := range ds.Inputs {
		labels = append(labels, in.Label)
	}
	if len(labels) == 1 {
		return "Benchmarks: " + labels[0]
	}
	return "Benchmarks: " + strings.Join(labels, " against ")
}
