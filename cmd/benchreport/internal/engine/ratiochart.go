package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot/plotter"
)

// RatioCharts draws, for each unit of rep, every compared row's ratio
// to its baseline with its interval: a DotChart with one line per
// benchmark, sorted by ratio, so that any number of benchmarks with
// names of any length can be read (one label per line, never
// overlapping). A unit whose ratios are all exactly 1 (allocation
// counts that did not change) has no chart.
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
		// One row per benchmark, one series per compared file (or
		// -by value), sorted by the first series' ratio.
		var series []string
		for _, it := range its {
			if !slices.Contains(series, it.series) {
				series = append(series, it.series)
			}
		}
		var rows []DotRow
		var levels []float64 // the ratio intervals' confidences
		rowIdx := map[string]int{}
		for _, it := range its {
			i, ok := rowIdx[it.cat]
			if !ok {
				i = len(rows)
				rowIdx[it.cat] = i
				rows = append(rows, DotRow{Label: it.cat, Points: make([]DotPoint, len(series)), Key: float64(it.r.Ratio)})
			}
			r := it.r
			rows[i].Points[slices.Index(series, it.series)] = DotPoint{float64(r.Ratio), float64(r.RatioLo), float64(r.RatioHi)}
			if r.RatioConfidence > 0 {
				levels = append(levels, r.RatioConfidence)
			}
		}
		base := rep.Baseline
		what := "median"
		for _, t := range rep.Tables {
			if t.Unit == unit {
				what = t.Summary
				break
			}
		}
		dc := DotChart{
			Name:   "ratio-" + chartFileName(unit),
			Title:  fmt.Sprintf("%s relative to %s (ratio of %ss, %s)", unit, base, what, CILabel(levels)),
			Unit:   "ratio",
			Axis:   "ratio to " + base,
			Series: series,
			Rows:   rows,
			Ref:    1, RefLabel: base + " = 1",
		}
		c, err := dc.Render()
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
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
