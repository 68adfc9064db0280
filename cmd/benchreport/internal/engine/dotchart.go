package engine

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchunit"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The charts' layout. Every text is measured with the font the SVG
// names (Liberation Sans), so that the chart is sized to hold it: no
// label overlaps another or leaves the drawing.
const (
	labelSize  = 9  // points: row labels, tick labels, legend entries
	titleSize  = 11 // points
	rowPitch   = 14 // points between two rows of a DotChart (a 9pt label is ≈10pt high)
	chartWidth = 8 * vg.Inch
)

// A DotChart draws one horizontal line per row, each row's series as
// points with their intervals on one value axis (log where the values
// span more than 5×), the rows sorted by their Key (the largest at the
// top), the legend in a grid between the
// title and the plot. Any number of rows with labels of any length stays
// readable: each label has a line of its own.
type DotChart struct {
	Name, Title string
	Unit        string   // the values' unit, for the tick labels ("sec/op", "ratio", "B/op", "events/s")
	Axis        string   // the value axis's label
	Series      []string // one entry each in the legend; a single "" series has none
	Rows        []DotRow
	// Ref, if positive, draws a dashed line at that value, named
	// RefLabel in the legend (a baseline's ratio 1).
	Ref      float64
	RefLabel string
}

// A DotRow is one line of a DotChart.
type DotRow struct {
	Label string
	// Points holds one point per series, in the order of
	// DotChart.Series; a point with a non-positive Center is absent.
	Points []DotPoint
	// Key orders the rows; if zero, the row's first present point.
	Key float64
}

// A DotPoint is a value with its interval [Lo, Hi]; zero bounds draw
// no interval.
type DotPoint struct{ Center, Lo, Hi float64 }

func (p DotPoint) ok() bool { return p.Center > 0 && !math.IsInf(p.Center, 0) }

// Render draws c, or returns nil if no row has a point.
func (c *DotChart) Render() (*Chart, error) {
	var rows []DotRow
	var r YRange
	for _, row := range c.Rows {
		has := false
		for _, pt := range row.Points {
			if pt.ok() {
				has = true
				r.Add(pt.Center, pt.Lo, pt.Hi)
				if row.Key == 0 {
					row.Key = pt.Center
				}
			}
		}
		if has {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if c.Ref > 0 {
		r.Add(c.Ref)
	}
	// Sorted by Key, the largest at the top: NominalY puts the first
	// name at the bottom.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	labels := make([]string, len(rows))
	for i, row := range rows {
		labels[i] = row.Label
	}
	sty := labelStyle()
	labelW := maxWidth(sty, labels)
	w := chartWidth
	if min := labelW + 4*vg.Inch; w < min {
		w = min
	}
	w = fitTitle(c.Title, w)

	p := plot.New()
	p.X.Tick.Label.Font.Size = vg.Points(labelSize)
	p.Y.Tick.Label.Font.Size = vg.Points(labelSize)
	var leg legendGrid
	ns := len(c.Series)
	for si, s := range c.Series {
		var xs xErrPoints
		for i, row := range rows {
			if si >= len(row.Points) || !row.Points[si].ok() {
				continue
			}
			y := float64(i)
			if ns > 1 {
				y += 0.3 - 0.6/float64(ns)*(float64(si)+0.5) // the first series on top
			}
			pt := row.Points[si]
			xs.add(pt.Center, y, pt.Lo, pt.Hi)
		}
		col := seriesColor(si)
		sc, err := plotter.NewScatter(xs.XYs)
		if err != nil {
			return nil, fmt.Errorf("chart %s, series %s: %w", c.Name, s, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: seriesShape(si)}
		eb, err := plotter.NewXErrorBars(&xs)
		if err != nil {
			return nil, fmt.Errorf("chart %s, series %s: %w", c.Name, s, err)
		}
		eb.LineStyle.Color = col
		eb.CapWidth = vg.Points(4)
		p.Add(eb, sc)
		if ns > 1 || s != "" {
			leg.add(s, sc)
		}
	}
	n := float64(len(rows))
	if c.Ref > 0 {
		one, err := plotter.NewLine(plotter.XYs{{X: c.Ref, Y: -0.5}, {X: c.Ref, Y: n - 0.5}})
		if err != nil {
			return nil, fmt.Errorf("chart %s: reference line: %w", c.Name, err)
		}
		one.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		one.LineStyle.Color = color.Gray{Y: 0x60}
		p.Add(one)
		leg.add(c.RefLabel, one)
	}
	grid := plotter.NewGrid()
	grid.Horizontal.Color = color.Gray{Y: 0xe8}
	grid.Vertical.Color = color.Gray{Y: 0xd8}
	p.Add(grid)
	p.NominalY(labels...)
	p.Y.Min, p.Y.Max = -0.5, n-0.5
	xLabel := c.Axis
	if setValueAxis(&p.X, r, c.Unit, w-labelW-vg.Points(30), false) && xLabel != "" {
		xLabel += ", log scale"
	}
	plotH := vg.Points(rowPitch)*vg.Length(len(rows)) + vg.Points(48)
	return renderLayout(c.Name, c.Title, xLabel, "", w, plotH, &leg, p)
}

// A LineChart draws one line per series of points (x, y) with their y
// intervals, on axes that are logarithmic where their values span more
// than 5×, with the legend in a grid between the title and the plot.
type LineChart struct {
	Name, Title  string
	XUnit, YUnit string // units of the tick labels
	XAxis, YAxis string // axis labels
	// XTicks, if set, are the only ticks of the X axis, labelled with
	// their values (the instance counts 1, 10, 100).
	XTicks []float64
	Series []LineSeries
}

// A LineSeries is one line of a LineChart.
type LineSeries struct {
	Label  string
	Points []LinePoint
}

// A LinePoint is a point of a LineSeries: Y with its interval [Lo, Hi]
// at X.
type LinePoint struct{ X, Y, Lo, Hi float64 }

// Render draws c, or returns nil if it has no point.
func (c *LineChart) Render() (*Chart, error) {
	p := plot.New()
	p.X.Tick.Label.Font.Size = vg.Points(labelSize)
	p.Y.Tick.Label.Font.Size = vg.Points(labelSize)
	var leg legendGrid
	var xr, yr YRange
	for si, s := range c.Series {
		var pts ErrPoints
		for _, pt := range s.Points {
			if !(pt.X > 0) || !(pt.Y > 0) || math.IsInf(pt.X, 0) || math.IsInf(pt.Y, 0) {
				continue
			}
			pts.Add(pt.X, pt.Y, pt.Lo, pt.Hi)
			xr.Add(pt.X)
			yr.Add(pt.Y, pt.Lo, pt.Hi)
		}
		if len(pts.XYs) == 0 {
			continue
		}
		col := seriesColor(si)
		sc, err := plotter.NewScatter(pts.XYs)
		if err != nil {
			return nil, fmt.Errorf("chart %s, series %s: %w", c.Name, s.Label, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: seriesShape(si)}
		eb, err := plotter.NewYErrorBars(&pts)
		if err != nil {
			return nil, fmt.Errorf("chart %s, series %s: %w", c.Name, s.Label, err)
		}
		eb.LineStyle.Color = col
		eb.CapWidth = vg.Points(4)
		l, err := plotter.NewLine(pts.XYs)
		if err != nil {
			return nil, fmt.Errorf("chart %s, series %s: %w", c.Name, s.Label, err)
		}
		l.LineStyle.Color = col
		// Seven colours, then the next seven dashed: every series differs
		// from the others in colour, dash or glyph.
		l.LineStyle.Dashes = plotutil.Dashes(si / len(plotutil.DarkColors))
		p.Add(l, eb, sc)
		leg.add(s.Label, l, sc)
	}
	if len(leg.entries) == 0 {
		return nil, nil
	}
	p.Add(plotter.NewGrid())
	w := fitTitle(c.Title, chartWidth)
	xLabel, yLabel := c.XAxis, c.YAxis
	if len(c.XTicks) > 0 {
		var ticks []plot.Tick
		for _, x := range c.XTicks {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
			xr.Add(x)
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if xr.max/xr.min > 5 {
			xLabel += ", log scale"
			p.X.Scale = plot.LogScale{}
			p.X.Min, p.X.Max = xr.min/1.5, xr.max*1.5
		} else {
			pad := (xr.max - xr.min) * 0.05
			p.X.Min, p.X.Max = xr.min-pad, xr.max+pad
		}
	} else if setValueAxis(&p.X, xr, c.XUnit, w-vg.Points(80), false) {
		xLabel += ", log scale"
	}
	plotH := vg.Points(300)
	if setValueAxis(&p.Y, yr, c.YUnit, plotH-vg.Points(50), true) {
		yLabel += ", log scale"
	}
	return renderLayout(c.Name, c.Title, xLabel, yLabel, w, plotH, &leg, p)
}

// renderLayout draws title, legend and plot, top to bottom, in a chart of
// width w whose plot is plotH high, and the plot's axis labels xLabel and
// yLabel (either may be ""). The axis labels are drawn here, centred on
// the plot's data area: gonum/plot reserves room for them at the
// arithmetic middle of the axis range, which on a log axis is near its
// top end, and leaves a blank band there.
func renderLayout(name, title, xLabel, yLabel string, w, plotH vg.Length, leg *legendGrid, p *plot.Plot) (*Chart, error) {
	tsty := titleStyle()
	titleH := tsty.Height(title) + vg.Points(6)
	asty := labelStyle()
	asty.Font.Size = vg.Points(10)
	axisH := asty.Height("Mg") + vg.Points(4)
	leg.layout(w - vg.Points(20))
	h := titleH + leg.height() + plotH
	drawFn := func(dc draw.Canvas) {
		top := dc.Max.Y
		dc.FillText(tsty, vg.Point{X: dc.Center().X, Y: top - vg.Points(2)}, title)
		leg.draw(dc, dc.Min.X+vg.Points(10), top-titleH)
		pc := dc
		pc.Max.Y = top - titleH - leg.height()
		pc.Min.X += vg.Points(4)
		pc.Max.X -= vg.Points(8)
		pc.Min.Y += vg.Points(4)
		if xLabel != "" {
			pc.Min.Y += axisH
		}
		if yLabel != "" {
			pc.Min.X += axisH
		}
		p.Draw(pc)
		da := p.DataCanvas(pc)
		if xLabel != "" {
			s := asty
			s.XAlign, s.YAlign = draw.XCenter, draw.YBottom
			dc.FillText(s, vg.Point{X: da.Center().X, Y: dc.Min.Y + vg.Points(4)}, xLabel)
		}
		if yLabel != "" {
			s := asty
			s.XAlign, s.YAlign, s.Rotation = draw.XCenter, draw.YTop, math.Pi/2
			dc.FillText(s, vg.Point{X: dc.Min.X + vg.Points(4), Y: da.Center().Y}, yLabel)
		}
	}
	return renderDraw(drawFn, name, title, w, h)
}

// setValueAxis makes a a value axis over r in unit: logarithmic if r
// spans more than 5× (with as many tick labels as fit in its length),
// linear otherwise. It reports whether the axis is logarithmic.
func setValueAxis(a *plot.Axis, r YRange, unit string, length vg.Length, vertical bool) bool {
	lo, hi := r.min, r.max
	if lo == 0 {
		lo, hi = 1, 1
	}
	if hi/lo > 5 {
		a.Scale = plot.LogScale{}
		a.Tick.Marker = logTicks{unit: unit, space: length, sty: a.Tick.Label, vertical: vertical}
		a.Min, a.Max = lo/1.3, hi*1.3
		return true
	}
	pad := (hi - lo) * 0.08
	if pad == 0 {
		pad = lo * 0.05
	}
	a.Min, a.Max = math.Max(0, lo-pad), hi+pad
	a.Tick.Marker = linearTicks{unit}
	return false
}

// logTicks ticks a log axis: labels at powers of ten (two for bytes),
// as dense as fits in space (1-2-5 steps, decades, every other decade...),
// unlabelled minor ticks between them.
type logTicks struct {
	unit     string
	space    vg.Length
	sty      text.Style
	vertical bool
}

func (t logTicks) Ticks(min, max float64) []plot.Tick {
	binary := benchunit.ClassOf(t.unit) == benchunit.Binary && t.unit != "ratio"
	var levels [][]float64
	var minor []float64
	if binary {
		lo, hi := int(math.Floor(math.Log2(min))), int(math.Ceil(math.Log2(max)))
		for _, step := range []int{1, 2, 5, 10, 20} {
			var l []float64
			for k := lo; k <= hi; k++ {
				if k%step == 0 {
					l = append(l, math.Exp2(float64(k)))
				}
			}
			levels = append(levels, l)
		}
		if hi-lo <= 40 {
			minor = levels[0]
		}
	} else {
		lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
		var l125, all []float64
		for k := lo; k <= hi; k++ {
			d := math.Pow10(k)
			l125 = append(l125, d, 2*d, 5*d)
			for m := 1; m <= 9; m++ {
				all = append(all, float64(m)*d)
			}
		}
		levels = append(levels, l125)
		for _, step := range []int{1, 2, 3, 4, 6} {
			var l []float64
			for k := lo; k <= hi; k++ {
				if k%step == 0 {
					l = append(l, math.Pow10(k))
				}
			}
			levels = append(levels, l)
		}
		if hi-lo <= 12 {
			minor = all
		} else {
			minor = levels[1]
		}
	}
	in := func(v float64) bool { return v >= min*(1-1e-9) && v <= max*(1+1e-9) }
	var labels []float64
	for _, l := range levels {
		var cand []float64
		var size vg.Length
		for _, v := range l {
			if !in(v) {
				continue
			}
			cand = append(cand, v)
			s := t.sty.Width(tickLabel(v, t.unit))
			if t.vertical {
				s = t.sty.Height(tickLabel(v, t.unit))
			}
			if s > size {
				size = s
			}
		}
		labels = cand
		if vg.Length(len(cand))*(size+vg.Points(12)) <= t.space {
			break
		}
	}
	labelled := map[float64]bool{}
	var ticks []plot.Tick
	for _, v := range labels {
		labelled[v] = true
		ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v, t.unit)})
	}
	for _, v := range minor {
		if in(v) && !labelled[v] {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// linearTicks labels a linear axis in unit.
type linearTicks struct{ unit string }

func (t linearTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = tickLabel(ticks[i].Value, t.unit)
		}
	}
	return ticks
}

// tickLabel is a short label of v in unit, its unit left to the axis
// label: "100ns", "1.5×", "16KiB", "2M".
func tickLabel(v float64, unit string) string {
	if v == 0 {
		if unit == "ratio" {
			return "0×"
		}
		return "0"
	}
	num := func(x float64) string {
		if s := strconv.FormatFloat(x, 'g', 3, 64); !strings.Contains(s, "e") {
			return s
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if unit == "ratio" {
		switch {
		case v >= 1e6:
			return num(v/1e6) + "M×"
		case v >= 1e3:
			return num(v/1e3) + "k×"
		}
		return num(v) + "×"
	}
	if benchunit.ClassOf(unit) == benchunit.Binary {
		for _, p := range []struct {
			s string
			f float64
		}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if v >= p.f {
				return num(v/p.f) + p.s
			}
		}
		return num(v) + "B"
	}
	suffix := ""
	if strings.HasPrefix(unit, "sec/") {
		suffix = "s"
	}
	for _, p := range []struct {
		s string
		f float64
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}, {"", 1}, {"m", 1e-3}, {"µ", 1e-6}, {"n", 1e-9}, {"p", 1e-12}} {
		if math.Abs(v) >= p.f*(1-1e-9) {
			if p.f >= 1e3 && suffix == "s" { // 1000 s is "1000s", not "1ks"
				continue
			}
			return num(v/p.f) + p.s + suffix
		}
	}
	return num(v) + suffix
}

// seriesShape is the i-th series' glyph: filled and open shapes first,
// the cross and the plus (which look like an interval's caps) last.
func seriesShape(i int) draw.GlyphDrawer {
	shapes := []draw.GlyphDrawer{draw.RingGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CircleGlyph{},
		draw.SquareGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
	return shapes[i%len(shapes)]
}

// seriesColor is the i-th series' colour: gonum's dark palette, whose
// soft one is too pale for small glyphs on white.
func seriesColor(i int) color.Color {
	return plotutil.DarkColors[i%len(plotutil.DarkColors)]
}

func labelStyle() text.Style {
	return text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, labelSize), Handler: plot.DefaultTextHandler,
		XAlign: draw.XLeft, YAlign: draw.YCenter}
}

func titleStyle() text.Style {
	return text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, titleSize), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YTop}
}

// maxWidth is the width of the widest of ss in sty.
func maxWidth(sty text.Style, ss []string) vg.Length {
	var w vg.Length
	for _, s := range ss {
		if x := sty.Width(s); x > w {
			w = x
		}
	}
	return w
}

// fitTitle widens a chart of width w to hold its title.
func fitTitle(title string, w vg.Length) vg.Length {
	if tw := titleStyle().Width(title) + vg.Points(20); tw > w {
		return tw
	}
	return w
}

// legendGrid is a legend laid out in columns, row by row, each column as
// wide as the widest entry: entries never overlap, and the legend takes
// no room from the plot.
type legendGrid struct {
	entries []legendEntry
	cols    int
	colW    vg.Length
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

const (
	legendPitch = 13 // points between two rows of entries
	thumbW      = 16 // points
	legendGap   = 4  // points between a thumbnail and its text
	legendColSp = 16 // points between columns
)

func (g *legendGrid) add(label string, thumbs ...plot.Thumbnailer) {
	g.entries = append(g.entries, legendEntry{label, thumbs})
}

// layout fits the entries in columns within width.
func (g *legendGrid) layout(width vg.Length) {
	if len(g.entries) == 0 {
		return
	}
	sty := labelStyle()
	for _, e := range g.entries {
		if w := vg.Points(thumbW+legendGap) + sty.Width(e.label); w > g.colW {
			g.colW = w
		}
	}
	g.cols = int((width + vg.Points(legendColSp)) / (g.colW + vg.Points(legendColSp)))
	if g.cols < 1 {
		g.cols = 1
	}
	if g.cols > len(g.entries) {
		g.cols = len(g.entries)
	}
}

func (g *legendGrid) rows() int {
	if g.cols == 0 {
		return 0
	}
	return (len(g.entries) + g.cols - 1) / g.cols
}

// height is the legend's height, with a gap below it; 0 for no entry.
func (g *legendGrid) height() vg.Length {
	if g.rows() == 0 {
		return 0
	}
	return vg.Points(legendPitch)*vg.Length(g.rows()) + vg.Points(6)
}

// draw draws the grid with its top left corner at (x, top).
func (g *legendGrid) draw(dc draw.Canvas, x, top vg.Length) {
	sty := labelStyle()
	for i, e := range g.entries {
		col, row := i%g.cols, i/g.cols
		ex := x + vg.Length(col)*(g.colW+vg.Points(legendColSp))
		cy := top - vg.Points(legendPitch)*(vg.Length(row)+0.5)
		tc := dc
		tc.Rectangle = vg.Rectangle{
			Min: vg.Point{X: ex, Y: cy - vg.Points(4)},
			Max: vg.Point{X: ex + vg.Points(thumbW), Y: cy + vg.Points(4)},
		}
		for _, t := range e.thumbs {
			t.Thumbnail(&tc)
		}
		dc.FillText(sty, vg.Point{X: ex + vg.Points(thumbW+legendGap), Y: cy}, e.label)
	}
}
