package plugbench

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// makeCharts draws the report's charts: per-call cost relative to the
// baseline (Call and Parallel), payload cost by size, setup phases,
// the event suite's, memory per instance and density (Memory), and the
// footprint of a load (Setup's artifact-B and peak-B). Every one is a line per target (backend and fixture),
// sorted, so that thirty targets stay readable; charts whose data is
// absent are skipped.
func makeCharts(rep *engine.Report) ([]engine.Chart, error) {
	var out []engine.Chart
	add := func(c *engine.Chart, err error) error {
		if err == nil && c != nil {
			out = append(out, *c)
		}
		return err
	}
	files := engine.DistinctFiles(rep)
	for fi, file := range files {
		suffix, prefix := "", ""
		if len(files) > 1 {
			suffix, prefix = "-"+strconv.Itoa(fi+1), file+": "
		}
		for _, bench := range []string{"Call", "Parallel"} {
			t := engine.FindTable(rep, file, bench, "sec/op")
			if t == nil {
				continue
			}
			title := fmt.Sprintf("%s%s cost relative to %s, by op (sec/op, %s)", prefix, bench, rep.Baseline, engine.CILabel(t.Levels(true)))
			if err := add(ratioChart(t, lowerName(bench)+"-ratio"+suffix, title, rep.Baseline)); err != nil {
				return nil, err
			}
		}
		if t := engine.FindTable(rep, file, "Payload", "sec/op"); t != nil {
			var ops []string
			for _, r := range t.Rows {
				if op := r.Key("op"); !slices.Contains(ops, op) {
					ops = append(ops, op)
				}
			}
			for _, op := range ops {
				name, what := "payload"+suffix, "Payload cost"
				if len(ops) > 1 || op != "" {
					name, what = "payload-"+op+suffix, "Payload cost of "+op
				}
				title := fmt.Sprintf("%s%s per backend, by size (sec/op, %s)", prefix, what, engine.CILabel(t.Levels(false)))
				if err := add(payloadChart(t, op, name, title)); err != nil {
					return nil, err
				}
			}
		}
		if t := engine.FindTable(rep, file, "Setup", "sec/op"); t != nil {
			title := fmt.Sprintf("%sSetup phases per backend (sec/op, %s)", prefix, engine.CILabel(t.Levels(false)))
			if err := add(setupChart(t, "setup"+suffix, title)); err != nil {
				return nil, err
			}
		}
		cs, err := eventCharts(rep, file, prefix, suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		cs, err = memoryCharts(rep, file, prefix, suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func lowerName(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// dots builds a DotChart row by row and series by series, both in the
// order they are first met.
type dots struct {
	c    engine.DotChart
	rows map[string]int
}

func newDots(name, title, unit, axis string) *dots {
	return &dots{c: engine.DotChart{Name: name, Title: title, Unit: unit, Axis: axis}, rows: map[string]int{}}
}

// put sets the point of series s on the row labelled row.
func (d *dots) put(row, s string, pt engine.DotPoint) {
	ri, ok := d.rows[row]
	if !ok {
		ri = len(d.c.Rows)
		d.rows[row] = ri
		d.c.Rows = append(d.c.Rows, engine.DotRow{Label: row})
	}
	si := slices.Index(d.c.Series, s)
	if si < 0 {
		si = len(d.c.Series)
		d.c.Series = append(d.c.Series, s)
	}
	r := &d.c.Rows[ri]
	for len(r.Points) <= si {
		r.Points = append(r.Points, engine.DotPoint{})
	}
	r.Points[si] = pt
}

// sortBy orders the rows by the value of series s (the largest at the
// top); rows without it follow their first point.
func (d *dots) sortBy(s string) {
	si := slices.Index(d.c.Series, s)
	for i := range d.c.Rows {
		if r := &d.c.Rows[i]; si >= 0 && si < len(r.Points) {
			r.Key = r.Points[si].Center
		}
	}
}

func (d *dots) render() (*engine.Chart, error) { return d.c.Render() }

func center(r *engine.Row) engine.DotPoint {
	return engine.DotPoint{Center: float64(r.Center), Lo: float64(r.Lo), Hi: float64(r.Hi)}
}

// ratioChart is each target's ratio to the baseline, one series per op.
func ratioChart(t *engine.Table, name, title, baseline string) (*engine.Chart, error) {
	d := newDots(name, title, "ratio", "ratio to "+baseline)
	for _, r := range t.Rows {
		if !r.HasBase || !(r.Ratio > 0) || math.IsInf(float64(r.Ratio), 0) {
			continue
		}
		d.put(backendOf(r), engine.NonEmpty(r.Key("op"), r.Group),
			engine.DotPoint{Center: float64(r.Ratio), Lo: float64(r.RatioLo), Hi: float64(r.RatioHi)})
	}
	d.c.Ref, d.c.RefLabel = 1, baseline+" = 1"
	return d.render()
}

// payloadChart is each target's cost of op, one series per payload
// size, sorted by the largest size's.
func payloadChart(t *engine.Table, op, name, title string) (*engine.Chart, error) {
	type sized struct {
		label string
		bytes float64
	}
	var sizes []sized
	for _, r := range t.Rows {
		l := r.Key("size")
		if b, ok := engine.ParseSize(l); ok && r.Key("op") == op && !slices.ContainsFunc(sizes, func(s sized) bool { return s.label == l }) {
			sizes = append(sizes, sized{l, b})
		}
	}
	sort.SliceStable(sizes, func(i, j int) bool { return sizes[i].bytes < sizes[j].bytes })
	d := newDots(name, title, "sec/op", "sec/op")
	for _, s := range sizes {
		d.c.Series = append(d.c.Series, s.label)
	}
	for _, r := range t.Rows {
		if r.Key("op") == op && slices.Contains(d.c.Series, r.Key("size")) {
			d.put(backendOf(r), r.Key("size"), center(r))
		}
	}
	if len(sizes) > 0 {
		d.sortBy(sizes[len(sizes)-1].label)
	}
	return d.render()
}

// setupChart is each target's setup phases: a load (from scratch, from a
// memory cache, from a disk cache), an instantiation and a close.
func setupChart(t *engine.Table, name, title string) (*engine.Chart, error) {
	d := newDots(name, title, "sec/op", "sec/op")
	d.c.Series = []string{"load", "load, memory cache", "load, disk cache", "instantiate", "close"}
	for _, r := range t.Rows {
		s := r.Key("phase")
		switch c := r.Key("cache"); {
		case s == "load" && c != "" && c != "none":
			s += ", " + c + " cache"
		case s == "":
			s = r.Group
		}
		d.put(backendOf(r), s, center(r))
	}
	d.sortBy("load")
	d.c.Series = usedSeries(&d.c)
	return d.render()
}

// usedSeries drops the series no row has a point of, and those points'
// places.
func usedSeries(c *engine.DotChart) []string {
	used := make([]bool, len(c.Series))
	for _, r := range c.Rows {
		for i, p := range r.Points {
			used[i] = used[i] || p.Center > 0
		}
	}
	var keep []string
	for i := range c.Rows {
		r := &c.Rows[i]
		var pts []engine.DotPoint
		for si, p := range r.Points {
			if used[si] {
				pts = append(pts, p)
			}
		}
		r.Points = pts
	}
	for i, s := range c.Series {
		if used[i] {
			keep = append(keep, s)
		}
	}
	return keep
}

// eventCharts draws the event suite's charts: each round trip by shape, the
// phases of the middle shape's round trips, pipeline throughput by
// transport and the cost of a callback.
func eventCharts(rep *engine.Report, file, prefix, suffix string) ([]engine.Chart, error) {
	var out []engine.Chart
	add := func(c *engine.Chart, err error) error {
		if err == nil && c != nil {
			out = append(out, *c)
		}
		return err
	}
	if t := engine.FindTable(rep, file, "Event", "sec/op"); t != nil {
		title := fmt.Sprintf("%sEvent round trip per backend and transport, by shape (sec/op, %s)", prefix, engine.CILabel(t.Levels(false)))
		d := newDots("event"+suffix, title, "sec/op", "sec/op")
		for _, r := range t.Rows {
			d.put(evLabel(r), engine.NonEmpty(r.Key("shape"), r.Group), center(r))
		}
		d.sortBy(middleShape(t))
		if err := add(d.render()); err != nil {
			return nil, err
		}
		title = fmt.Sprintf("%sWhere an event's round trip goes: encode, call, decode", prefix)
		if err := add(phaseChart(rep, file, t, "event-phases"+suffix, title)); err != nil {
			return nil, err
		}
	}
	if t := engine.FindTable(rep, file, "Pipeline", "events/s"); t != nil {
		title := fmt.Sprintf("%sPipeline throughput per backend, by transport (events/s, %s)", prefix, engine.CILabel(t.Levels(false)))
		d := newDots("pipeline"+suffix, title, "events/s", "events/s (more is better)")
		for _, r := range t.Rows {
			d.put(backendOf(r), engine.NonEmpty(r.Key("transport"), r.Group), center(r))
		}
		for i := range d.c.Rows { // the best transport's throughput, the best at the top
			for _, p := range d.c.Rows[i].Points {
				d.c.Rows[i].Key = math.Max(d.c.Rows[i].Key, p.Center)
			}
		}
		if err := add(d.render()); err != nil {
			return nil, err
		}
	}
	if t := engine.FindTable(rep, file, "Callback", "sec/callback"); t != nil {
		title := fmt.Sprintf("%sOne host callback per backend (sec/callback, %s)", prefix, engine.CILabel(t.Levels(false)))
		d := newDots("callback"+suffix, title, "sec/callback", "sec/callback")
		for _, r := range t.Rows {
			d.put(evLabel(r), "", center(r))
		}
		if err := add(d.render()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// middleShape is the shape the event charts sort by: typical, or the
// middle one.
func middleShape(t *engine.Table) string {
	var shapes []string
	for _, r := range t.Rows {
		if s := r.Key("shape"); !slices.Contains(shapes, s) {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 || slices.Contains(shapes, "typical") {
		return "typical"
	}
	return shapes[len(shapes)/2]
}

// phaseChart plots, for the typical (or middle) shape, each row's encode,
// call and decode time beside its whole round trip.
func phaseChart(rep *engine.Report, file string, t *engine.Table, name, title string) (*engine.Chart, error) {
	shape := middleShape(t)
	d := newDots(name, title, "sec/op", "sec/op")
	d.c.Series = []string{"round trip", "encode", "call", "decode"}
	for _, r := range t.Rows {
		if r.Key("shape") != shape {
			continue
		}
		ph := phasesOf(rep, file, r)
		if !ph.ok() {
			continue
		}
		row := evLabel(r)
		d.put(row, "round trip", center(r))
		d.put(row, "encode", engine.DotPoint{Center: ph.encode})
		d.put(row, "call", engine.DotPoint{Center: ph.call})
		d.put(row, "decode", engine.DotPoint{Center: ph.decode})
	}
	if shape != "" {
		d.c.Title += ", shape " + shape
	}
	d.c.Title += " (sec/op, medians)"
	return d.render()
}

// The memory suite: BenchmarkMemory/backend=B/fixture=F/instances=N, with
// what N instances cost per instance in the host's Go heap, the host
// process's resident memory (PSS) and the child processes' (only for
// out-of-process backends); and, on BenchmarkSetup's phase=load rows, the
// artifact's size on disk (artifact-B) and a load's peak resident growth
// (peak-B).
const (
	unitHost  = "host-B/instance"
	unitChild = "child-B/instance"
	unitHeap  = "heap-B/instance"
)

// memoryCharts draws, when the input has Memory rows or load rows with
// artifact-B or peak-B, each
// target's memory per instance at the most instances every target ran
// (commonInstances, as the choosing table), memory per
// instance against the number of instances (density), and the artifacts'
// footprint.
func memoryCharts(rep *engine.Report, file, prefix, suffix string) ([]engine.Chart, error) {
	var out []engine.Chart
	add := func(c *engine.Chart, err error) error {
		if err == nil && c != nil {
			out = append(out, *c)
		}
		return err
	}
	if host := engine.FindTable(rep, file, "Memory", unitHost); host != nil {
		child := engine.FindTable(rep, file, "Memory", unitChild)
		heap := engine.FindTable(rep, file, "Memory", unitHeap)
		per := memoryPerTarget(host, heap, child)
		common := commonInstances(host.Rows)
		at := "at the most instances every backend ran"
		if common < 0 {
			at = "at the most instances each ran"
		}
		title := fmt.Sprintf("%sMemory per instance per backend, %s (the host's resident growth or Go heap, the larger, plus child processes' PSS; B/instance, medians)", prefix, at)
		d := newDots("memory"+suffix, title, "B/instance", "bytes per instance")
		d.c.Series = []string{"host + child processes", "of which the host's Go heap"}
		for _, tg := range per.targets {
			pts := per.points[tg]
			last := pts[len(pts)-1]
			for _, p := range pts {
				if p.n == float64(common) {
					last = p // the count the choosing table compares at
				}
			}
			row := fmt.Sprintf("%s, %s", tg, instancesLabel(last.n))
			d.put(row, d.c.Series[0], last.total)
			if h := matchRow(heap, last.row); h != nil {
				d.put(row, d.c.Series[1], center(h))
			}
		}
		d.sortBy(d.c.Series[0])
		if err := add(d.render()); err != nil {
			return nil, err
		}
		lc := engine.LineChart{
			Name:  "density" + suffix,
			Title: fmt.Sprintf("%sDensity: memory per instance against instances (host and child processes, as above; log–log)", prefix),
			XUnit: "instances", YUnit: "B/instance",
			XAxis: "instances", YAxis: "bytes per instance",
		}
		var ns []float64
		for _, tg := range per.targets {
			s := engine.LineSeries{Label: tg}
			for _, p := range per.points[tg] {
				s.Points = append(s.Points, engine.LinePoint{X: p.n, Y: p.total.Center, Lo: p.total.Lo, Hi: p.total.Hi})
				if !slices.Contains(ns, p.n) {
					ns = append(ns, p.n)
				}
			}
			lc.Series = append(lc.Series, s)
		}
		slices.Sort(ns)
		lc.XTicks = ns
		if err := add(lc.Render()); err != nil {
			return nil, err
		}
	}
	art := engine.FindTable(rep, file, "Setup", "artifact-B")
	peak := engine.FindTable(rep, file, "Setup", "peak-B")
	if art != nil || peak != nil {
		title := fmt.Sprintf("%sFootprint per backend: the artifact on disk, a load's peak resident growth (bytes, medians)", prefix)
		d := newDots("footprint"+suffix, title, "B", "bytes")
		d.c.Series = []string{"artifact on disk", "a load's peak", "a load's peak, memory cache", "a load's peak, disk cache"}
		if art != nil {
			for _, r := range art.Rows {
				d.put(backendOf(r), d.c.Series[0], center(r)) // the same file whatever the cache
			}
		}
		if peak != nil {
			for _, r := range peak.Rows {
				s := d.c.Series[1]
				if c := r.Key("cache"); c == "memory" || c == "disk" {
					s += ", " + c + " cache"
				}
				d.put(backendOf(r), s, center(r))
			}
		}
		d.sortBy(d.c.Series[1])
		d.c.Series = usedSeries(&d.c)
		if err := add(d.render()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// memPoint is one target's memory per instance at n instances.
type memPoint struct {
	n     float64
	total engine.DotPoint // host + child processes, per instance
	row   *engine.Row     // the host's resident row
}

type memTargets struct {
	targets []string // in row order
	points  map[string][]memPoint
}

// memoryPerTarget sums, for each target and number of instances, the
// host's and the child processes' memory per instance, as the choosing
// table does: the host's is the larger of its resident growth and its Go
// heap (resident memory moves by pages: a native instance's 200 B of
// heap reads as 0 B or a page among a thousand, and a total below its own
// heap would read as nonsense). The intervals are summed too (a bound,
// not an interval of the sum).
func memoryPerTarget(host, heap, child *engine.Table) memTargets {
	m := memTargets{points: map[string][]memPoint{}}
	for _, r := range host.Rows {
		n, err := strconv.ParseFloat(r.Key("instances"), 64)
		if err != nil || n <= 0 {
			continue
		}
		tg := backendOf(r)
		p := memPoint{n: n, total: center(r), row: r}
		if h := matchRow(heap, r); h != nil && h.Center > r.Center {
			p.total = center(h)
		}
		if c := matchRow(child, r); c != nil && c.Center > 0 {
			p.total.Center += float64(c.Center)
			p.total.Lo += float64(c.Lo)
			p.total.Hi += float64(c.Hi)
		}
		if _, ok := m.points[tg]; !ok {
			m.targets = append(m.targets, tg)
		}
		m.points[tg] = append(m.points[tg], p)
	}
	for _, tg := range m.targets {
		sort.SliceStable(m.points[tg], func(i, j int) bool { return m.points[tg][i].n < m.points[tg][j].n })
	}
	return m
}

func instancesLabel(n float64) string {
	if n == 1 {
		return "1 instance"
	}
	return strconv.FormatFloat(n, 'f', -1, 64) + " instances"
}
