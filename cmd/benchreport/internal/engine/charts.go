package engine

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
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

// YRange tracks the range of positive values for a log axis.
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

// NewPlot returns a plot with the report's title and legend style.
func NewPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p
}

// LogY sets a log Y axis over r, with headroom at the top for a legend
// of n entries on a chart of height h.
func LogY(p *plot.Plot, r YRange, unit string, n int, h vg.Length) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = unitTicks{unit}
	lo, hi := r.min/1.5, r.max*1.5
	if r.min == r.max {
		lo, hi = r.min/10, r.max*10
	}
	// The legend takes about 11pt per entry of the plot area.
	frac := float64(n) * 11 / float64(h/vg.Points(1)-70)
	if frac > 0.6 {
		frac = 0.6
	}
	hi *= math.Pow(hi/lo, frac/(1-frac))
	p.Y.Min, p.Y.Max = lo, hi
}

// unitTicks labels log-scale ticks with unit prefixes ("10µs", "1×").
type unitTicks struct{ unit string }

func (t unitTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v := ticks[i].Value
		switch t.unit {
		case "ratio":
			ticks[i].Label = strconv.FormatFloat(v, 'g', -1, 64) + "×"
		case "B":
			ticks[i].Label = FmtVal(v, "B/op") + "B"
		default:
			ticks[i].Label = Human(v, t.unit)
		}
	}
	return ticks
}

// Render draws p as SVG. gonum/plot panics on some degenerate inputs
// (e.g. non-positive values on a log axis); that is reported as an
// error rather than a crash.
func Render(p *plot.Plot, name, title string, w, h vg.Length) (*Chart, error) {
	return renderDraw(p.Draw, name, title, w, h)
}

// renderDraw draws a chart with drawFn as SVG.
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

// AddSeries adds a series of points with error bars to p, as the
// i-th series (its color and shape), joined by a line if line.
func AddSeries(p *plot.Plot, i int, label string, pts *ErrPoints, line bool) error {
	sc, err := plotter.NewScatter(pts.XYs)
	if err != nil {
		return fmt.Errorf("chart series %s: %w", label, err)
	}
	col := plotutil.Color(i)
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: plotutil.Shape(i)}
	eb, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return fmt.Errorf("chart series %s: %w", label, err)
	}
	eb.LineStyle.Color = col
	eb.CapWidth = vg.Points(5)
	p.Add(eb, sc)
	if line {
		l, err := plotter.NewLine(pts.XYs)
		if err != nil {
			return fmt.Errorf("chart series %s: %w", label, err)
		}
		l.LineStyle.Color = col
		p.Add(l)
	}
	p.Legend.Add(label, sc)
	return nil
}

// RotateX slants the X tick labels.
func RotateX(p *plot.Plot) {
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
}

// RatioChart plots each non-baseline row's ratio to the baseline,
// one category per group.
func RatioChart(t *Table, name, title, baseline string) (*Chart, error) {
	var cats []string
	catIdx := map[string]int{}
	var series []string
	pts := map[string]*ErrPoints{}
	var yr YRange
	yr.Add(1)
	for _, r := range t.Rows {
		if !r.HasBase || !(r.Ratio > 0) || math.IsInf(float64(r.Ratio), 0) {
			continue
		}
		cat := categoryLabel(r, nil)
		if _, ok := catIdx[cat]; !ok {
			catIdx[cat] = len(cats)
			cats = append(cats, cat)
		}
		s := r.Label()
		if pts[s] == nil {
			pts[s] = &ErrPoints{}
			series = append(series, s)
		}
		yr.Add(float64(r.Ratio), float64(r.RatioLo), float64(r.RatioHi))
	}
	if len(series) == 0 {
		return nil, nil
	}
	width := 0.6 / float64(len(series))
	for _, r := range t.Rows {
		s := r.Label()
		if pts[s] == nil || !r.HasBase || !(r.Ratio > 0) || math.IsInf(float64(r.Ratio), 0) {
			continue
		}
		si := indexOf(series, s)
		x := float64(catIdx[categoryLabel(r, nil)]) - 0.3 + width*(float64(si)+0.5)
		pts[s].Add(x, float64(r.Ratio), float64(r.RatioLo), float64(r.RatioHi))
	}
	p := NewPlot(title)
	p.Y.Label.Text = "ratio to " + baseline
	for i, s := range series {
		if err := AddSeries(p, i, s, pts[s], false); err != nil {
			return nil, err
		}
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	one.LineStyle.Color = plotutil.Color(-1)
	p.Add(one)
	p.Legend.Add(baseline+" = 1", one)
	LogY(p, yr, "ratio", len(series)+1, 4*vg.Inch)
	p.NominalX(cats...)
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	return Render(p, name, title, ChartWidth(len(cats)), 4*vg.Inch)
}

// ChartWidth is the width of a chart of ncat categories.
func ChartWidth(ncat int) vg.Length {
	w := vg.Length(ncat) * 0.9 * vg.Inch
	if w < 6*vg.Inch {
		w = 6 * vg.Inch
	}
	if w > 14*vg.Inch {
		w = 14 * vg.Inch
	}
	return w
}

// categoryLabel names a row's group by its name keys other than the
// -by and -ignore keys and the keys in skip; it falls back to the group.
func categoryLabel(r *Row, skip map[string]bool) string {
	var ps []string
	for _, p := range r.gparts {
		if skip[p.Key] {
			continue
		}
		if p.Key == "op" && len(r.parts) > 0 {
			ps = append(ps, p.Val)
			continue
		}
		if p.Key == "" {
			ps = append(ps, p.Val)
		} else {
			ps = append(ps, p.Key+"="+p.Val)
		}
	}
	if len(ps) == 0 {
		return r.Group
	}
	return strings.Join(ps, " ")
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
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

// PayloadCharts plots sec/op against payload size, one chart per op
// and one line per row label (-by and -ignore values).
func PayloadCharts(t *Table, name, title string) ([]Chart, error) {
	var ops []string
	for _, r := range t.Rows {
		if op := Lookup(r.parts, "op"); indexOf(ops, op) < 0 {
			ops = append(ops, op)
		}
	}
	var out []Chart
	for _, op := range ops {
		n, ti := name, title
		if len(ops) > 1 || op != "" {
			n = name + "-" + op
			ti = strings.Replace(title, "Payload cost", fmt.Sprintf("Payload cost of %s", op), 1)
		}
		c, err := payloadChart(t, op, n, ti)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

func payloadChart(t *Table, op, name, title string) (*Chart, error) {
	var series []string
	pts := map[string]*ErrPoints{}
	var yr, xr YRange
	var ticks []plot.Tick
	for _, r := range t.Rows {
		if Lookup(r.parts, "op") != op {
			continue
		}
		label := Lookup(r.parts, "size")
		size, ok := ParseSize(label)
		if !ok || size <= 0 || !(r.Center > 0) {
			continue
		}
		s := r.Label()
		if pts[s] == nil {
			pts[s] = &ErrPoints{}
			series = append(series, s)
		}
		pts[s].Add(size, float64(r.Center), float64(r.Lo), float64(r.Hi))
		yr.Add(float64(r.Center), float64(r.Lo), float64(r.Hi))
		xr.Add(size)
		dup := false
		for _, tk := range ticks {
			dup = dup || tk.Value == size
		}
		if !dup {
			ticks = append(ticks, plot.Tick{Value: size, Label: label})
		}
	}
	if len(series) == 0 {
		return nil, nil
	}
	p := NewPlot(title)
	p.X.Label.Text = "payload size (0B not shown)"
	p.Y.Label.Text = "sec/op"
	for i, s := range series {
		if err := AddSeries(p, i, s, pts[s], true); err != nil {
			return nil, err
		}
	}
	LogY(p, yr, "sec/op", len(series), 4.5*vg.Inch)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = xr.min/2, xr.max*2
	return Render(p, name, title, 7*vg.Inch, 4.5*vg.Inch)
}

// KeyChart plots every row's center on a log scale, one category per
// row label (and the name keys other than key), one series per value of the
// name key key (the setup phase, the event shape).
func KeyChart(t *Table, name, title, key string) (*Chart, error) {
	skip := map[string]bool{key: true}
	var cats, series []string
	catIdx := map[string]int{}
	pts := map[string]*ErrPoints{}
	var yr YRange
	type pt struct {
		r      *Row
		cat, s string
	}
	var all []pt
	for _, r := range t.Rows {
		if !(r.Center > 0) {
			continue
		}
		cat := r.Label()
		if extra := categoryLabel(r, skip); extra != r.Group {
			cat += " " + extra
		}
		if _, ok := catIdx[cat]; !ok {
			catIdx[cat] = len(cats)
			cats = append(cats, cat)
		}
		s := Lookup(r.parts, key)
		if s == "" {
			s = r.Group
		}
		if pts[s] == nil {
			pts[s] = &ErrPoints{}
			series = append(series, s)
		}
		yr.Add(float64(r.Center), float64(r.Lo), float64(r.Hi))
		all = append(all, pt{r, cat, s})
	}
	if len(series) == 0 {
		return nil, nil
	}
	// Keep each label's categories together, in row order.
	labelRank := map[string]int{}
	for _, a := range all {
		if _, ok := labelRank[a.r.Label()]; !ok {
			labelRank[a.r.Label()] = len(labelRank)
		}
	}
	catLabel := map[string]string{}
	for _, a := range all {
		catLabel[a.cat] = a.r.Label()
	}
	sort.SliceStable(cats, func(i, j int) bool {
		return labelRank[catLabel[cats[i]]] < labelRank[catLabel[cats[j]]]
	})
	for i, c := range cats {
		catIdx[c] = i
	}
	width := 0.6 / float64(len(series))
	for _, a := range all {
		x := float64(catIdx[a.cat]) - 0.3 + width*(float64(indexOf(series, a.s))+0.5)
		pts[a.s].Add(x, float64(a.r.Center), float64(a.r.Lo), float64(a.r.Hi))
	}
	p := NewPlot(title)
	p.Y.Label.Text = t.Unit
	for i, s := range series {
		if err := AddSeries(p, i, s, pts[s], false); err != nil {
			return nil, err
		}
	}
	LogY(p, yr, t.Unit, len(series), 4.5*vg.Inch)
	p.NominalX(cats...)
	RotateX(p)
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	return Render(p, name, title, ChartWidth(len(cats)), 4.5*vg.Inch)
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
