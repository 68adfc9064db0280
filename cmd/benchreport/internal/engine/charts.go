package engine

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A Chart is a rendered SVG chart.
type Chart struct {
	name   string // file name without extension
	title  string
	svg    []byte
	drawFn func(draw.Canvas) // draws the chart, for other formats
	w, h   vg.Length
}

// DistinctFiles returns the files of rep's tables, in order.
func DistinctFiles(rep *Report) []string {
	var fs []string
	seen := map[string]bool{}
	for _, t := range rep.Tables {
		if !seen[t.File] {
			seen[t.File] = true
			fs = append(fs, t.File)
		}
	}
	return fs
}

// FindTable returns rep's table of the benchmark bench in unit from
// file, or nil.
func FindTable(rep *Report, file, bench, unit string) *Table {
	for _, t := range rep.Tables {
		if t.File == file && t.Benchmark == bench && t.Unit == unit {
			return t
		}
	}
	return nil
}

// ErrPoints is a set of points with asymmetric Y errors.
type ErrPoints struct {
	plotter.XYs
	plotter.YErrors
}

// Add adds the point (x, y) with the interval [lo, hi] of y.
func (e *ErrPoints) Add(x, y, lo, hi float64) {
	e.XYs = append(e.XYs, plotter.XY{X: x, Y: y})
	var el, eh float64
	if lo > 0 && !math.IsInf(lo, 0) && lo <= y {
		el = y - lo
	}
	if !math.IsInf(hi, 0) && hi >= y {
		eh = hi - y
	}
	e.YErrors = append(e.YErrors, struct{ Low, High float64 }{el, eh})
}

// YRange tracks the range of positive values of an axis.
type YRange struct{ min, max float64 }

// Add adds values to the range; non-positive ones are left out.
func (r *YRange) Add(vs ...float64) {
	for _, v := range vs {
		if v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			continue
		}
		if r.min == 0 || v < r.min {
			r.min = v
		}
		if v > r.max {
			r.max = v
		}
	}
}

// renderDraw draws a chart with drawFn as SVG. gonum/plot panics on
// some degenerate inputs; encodeDraw reports that as an error rather
// than a crash.
func renderDraw(drawFn func(draw.Canvas), name, title string, w, h vg.Length) (*Chart, error) {
	svg, err := encodeDraw(drawFn, name, w, h, "svg")
	if err != nil {
		return nil, err
	}
	return &Chart{name: name, title: title, svg: svg, drawFn: drawFn, w: w, h: h}, nil
}

// encodeDraw draws a chart of size w×h with drawFn in format.
func encodeDraw(drawFn func(draw.Canvas), name string, w, h vg.Length, format string) (b []byte, err error) {
	defer func() {
		if e := recover(); e != nil {
			b, err = nil, fmt.Errorf("drawing chart %s: %v", name, e)
		}
	}()
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, fmt.Errorf("drawing chart %s: %w", name, err)
	}
	drawFn(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("drawing chart %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// ParseSize parses payload sizes such as "0B", "64B", "4KiB", "1MiB"
// or "1kB" into bytes.
func ParseSize(s string) (float64, bool) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"k": 1e3, "kB": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9,
		"Ki": 1 << 10, "KiB": 1 << 10, "Mi": 1 << 20, "MiB": 1 << 20, "Gi": 1 << 30, "GiB": 1 << 30,
	}
	m, ok := mult[s[i:]]
	return v * m, ok
}

// writeChartFiles writes rep's charts as dir/NAME.svg (or .png).
func writeChartFiles(rep *Report, dir, format string) error {
	if len(rep.Charts) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating chart directory: %w", err)
	}
	for _, c := range rep.Charts {
		data := c.svg
		if format != "svg" {
			var err error
			// PNG at 2× for high-density screens.
			if data, err = encodeDraw(c.drawFn, c.name, c.w, c.h, format); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, c.name+"."+format), data, 0o666); err != nil {
			return fmt.Errorf("writing chart: %w", err)
		}
	}
	return nil
}

func init() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
}
