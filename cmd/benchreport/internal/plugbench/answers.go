package plugbench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The findings, as answers to the questions a chooser asks, a short
// section each: the cheapest call, the cheapest way to move data,
// events, to call back, to start, to hold many instances, to survive a
// bad plugin, then the same guest through two mechanisms. Every figure
// is a row's median; a ratio is to the baseline's median of the same
// benchmark. The tables below the findings have every row.

// Question headings, in order.
const (
	qCall      = "The cheapest call"
	qData      = "The cheapest way to move data"
	qEvents    = "The cheapest way to move events"
	qCallback  = "The cheapest way to call back"
	qStart     = "The cheapest way to start"
	qInstances = "Holding many instances"
	qFaults    = "Surviving a bad plugin"
	qPairs     = "The same guest, two mechanisms"
)

// noFaultTable answers the last question without -faults.
const noFaultTable = "No fault table in this report (-faults FILE adds it)."

// topN is how many of the cheapest rows an answer names.
const topN = 3

// answers returns the findings of rep, grouped by question; fr is the
// fault table (nil if not measured). Its rows must be compared by
// backend: with another -by, the tables say what there is to say.
func answers(rep *engine.Report, fr *FaultReport) []engine.FindingSection {
	if rep.ByName != "backend" {
		return nil
	}
	files := engine.DistinctFiles(rep)
	byQ := map[string][]string{}
	for _, file := range files {
		prefix := ""
		if len(files) > 1 {
			prefix = file + ": "
		}
		a := &answerer{rep: rep, file: file, baseline: rep.Baseline}
		for _, qa := range []struct {
			q     string
			lines []string
		}{
			{qCall, a.call()},
			{qData, a.data()},
			{qEvents, a.events()},
			{qCallback, a.callback()},
			{qStart, a.start()},
			{qInstances, a.instances()},
			{qPairs, pairFindings(rep, file)},
		} {
			for _, l := range qa.lines {
				byQ[qa.q] = append(byQ[qa.q], prefix+l)
			}
		}
	}
	byQ[qFaults] = faultAnswers(fr)
	var out []engine.FindingSection
	for _, q := range []string{qCall, qData, qEvents, qCallback, qStart, qInstances, qFaults, qPairs} {
		if len(byQ[q]) > 0 {
			out = append(out, engine.FindingSection{Heading: q, Findings: byQ[q]})
		}
	}
	return out
}

// An answerer answers the questions from one file's tables.
type answerer struct {
	rep            *engine.Report
	file, baseline string
}

func (a *answerer) table(bench, unit string) *engine.Table {
	return engine.FindTable(a.rep, a.file, bench, unit)
}

// fmtValue formats a figure of unit for prose.
func fmtValue(v float64, unit string) string {
	switch {
	case strings.HasPrefix(unit, "sec/"):
		return fmtSeconds(v)
	case strings.HasPrefix(unit, "B/") || strings.HasSuffix(unit, "-B") || strings.Contains(unit, "-B/"):
		return fmtBytes3(v)
	}
	return engine.Human(v, unit)
}

// figure is a row for prose: "wasm (c) 24.4 ns (6.4×)", with the
// extra words first inside the parentheses ("flat").
func figure(r *engine.Row, unit string, extra ...string) string {
	return backendOf(r) + " " + withRatio(fmtValue(float64(r.Center), unit), r, extra...)
}

// rankRows returns rows with a figure, cheapest (or, for a unit where
// higher is better, best) first, without the baseline's.
func rankRows(rows []*engine.Row, higherBetter bool) []*engine.Row {
	var out []*engine.Row
	for _, r := range rows {
		if !r.Baseline && r.Center > 0 {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(x, y *engine.Row) int {
		if higherBetter {
			x, y = y, x
		}
		switch {
		case x.Center < y.Center:
			return -1
		case x.Center > y.Center:
			return 1
		}
		return 0
	})
	return out
}

// extremes is the usual answer: the baseline's figure, the cheapest
// rows across a boundary, those not distinguishable from the baseline
// and the dearest: "static 3.82 ns; the cheapest across a boundary: …;
// the dearest: …".
func (a *answerer) extremes(what string, rows []*engine.Row, unit string, higherBetter bool, label func(*engine.Row) []string) string {
	if label == nil {
		label = func(*engine.Row) []string { return nil }
	}
	fig := func(r *engine.Row) string { return figure(r, unit, label(r)...) }
	var parts []string
	if b := baselineOf(rows); b != nil {
		parts = append(parts, fig(b))
	}
	ranked := rankRows(rows, higherBetter)
	if len(ranked) == 0 {
		return ""
	}
	best, word := "the cheapest", "the dearest"
	if higherBetter {
		best, word = "the best", "the worst"
	}
	var top []string
	for _, r := range ranked[:min(topN, len(ranked))] {
		top = append(top, fig(r))
	}
	parts = append(parts, best+" across a boundary: "+strings.Join(top, ", "))
	var same []string
	for _, r := range ranked {
		if r.HasBase && !r.Significant {
			same = append(same, backendOf(r))
		}
	}
	if len(same) > 0 {
		parts = append(parts, "not distinguishable from "+a.baseline+": "+strings.Join(same, ", "))
	}
	if len(ranked) > topN {
		parts = append(parts, word+": "+fig(ranked[len(ranked)-1]))
	}
	return what + ": " + strings.Join(parts, "; ") + "."
}

// groups splits a table's rows by group.
func groups(t *engine.Table) [][]*engine.Row {
	var out [][]*engine.Row
	if t != nil {
		forEachGroup(t, func(rows []*engine.Row) { out = append(out, rows) })
	}
	return out
}

func (a *answerer) call() []string {
	var out []string
	for _, rows := range groups(a.table("Call", "sec/op")) {
		op := engine.NonEmpty(rows[0].Key("op"), rows[0].Group)
		if s := a.extremes("One `"+op+"` call", rows, "sec/op", false, nil); s != "" {
			out = append(out, s)
		}
	}
	if gs := groups(a.table("Parallel", "sec/op")); len(gs) > 0 {
		op := engine.NonEmpty(gs[0][0].Key("op"), gs[0][0].Group)
		if s := a.extremes("One `"+op+"` call from every core at once (Parallel)", gs[0], "sec/op", false, nil); s != "" {
			out = append(out, s)
		}
	}
	if call := a.table("Call", "sec/op"); call != nil {
		if s := nativeCallFinding(call, a.table("Ref", "sec/op")); s != "" {
			out = append(out, s)
		}
		if s := refAnswer(a.table("Ref", "sec/op"), call); s != "" {
			out = append(out, s)
		}
	}
	if s := allocAnswer("The calls that allocate (`min`)", a.table("Call", "allocs/op"), "min", " per call"); s != "" {
		out = append(out, s)
	}
	return out
}

// allocAnswer lists the rows of op (every row if op is "") that
// allocate, most first: "extism (c) 35, yaegi (go) 34 allocs/op".
func allocAnswer(what string, t *engine.Table, op, per string) string {
	if t == nil {
		return ""
	}
	var rows []*engine.Row
	for _, r := range t.Rows {
		if (op == "" || r.Key("op") == op) && r.Center > 0 && !r.Baseline {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	ranked := rankRows(rows, true)
	var parts []string
	for _, r := range ranked {
		parts = append(parts, backendOf(r)+" "+strconv.FormatFloat(float64(r.Center), 'f', -1, 64))
	}
	return what + ", most first: " + strings.Join(parts, ", ") + " allocs" + per + "; the others none."
}

// refAnswer relates each backend's `min` to its bare mechanism
// (BenchmarkRef, the same fixture): "wasm (c) 1.08× `wazero` (22.5 ns)".
func refAnswer(ref, call *engine.Table) string {
	if ref == nil {
		return ""
	}
	var parts []string
	for _, r := range ref.Rows {
		impl := r.Key("impl")
		if r.Key("op") != "min" || !(r.Center > 0) {
			continue
		}
		for _, c := range call.Rows {
			if c.Key("op") != "min" || c.Baseline || !(c.Center > 0) || !slices.Contains(refBackends[impl], c.By) {
				continue
			}
			if f := r.Key("fixture"); f != "" && c.Key("fixture") != f {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s `%s` (%s)", backendOf(c), shortRatio(float64(c.Center/r.Center)), impl, fmtSeconds(float64(r.Center))))
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Each backend's `min` against the bare mechanism beneath it (BenchmarkRef, medians of one run): " + strings.Join(parts, ", ") + "."
}

func (a *answerer) data() []string {
	t := a.table("Payload", "sec/op")
	if t == nil {
		return nil
	}
	var maxSize float64
	var maxLabel string
	for _, r := range t.Rows {
		if s, ok := engine.ParseSize(r.Key("size")); ok && s > maxSize {
			maxSize, maxLabel = s, r.Key("size")
		}
	}
	var out []string
	for _, rows := range groups(t) {
		if rows[0].Key("size") != maxLabel {
			continue
		}
		what := fmt.Sprintf("`%s` of %s", rows[0].Key("op"), maxLabel)
		if s := a.extremes(what, rows, t.Unit, false, nil); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// typicalGroup is the event table's group of the typical shape (or the
// middle shape).
func typicalGroup(t *engine.Table) []*engine.Row {
	shape := typicalShape(t)
	for _, rows := range groups(t) {
		if rows[0].Key("shape") == shape {
			return rows
		}
	}
	return nil
}

// bestPerBackend keeps each backend and fixture's fastest row.
func bestPerBackend(rows []*engine.Row, keep func(*engine.Row) bool) []*engine.Row {
	var out []*engine.Row
	for _, b := range byBackend(rows) {
		for _, r := range fastestFirst(b) {
			if keep(r) && r.Center > 0 {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (a *answerer) events() []string {
	t := a.table("Event", "sec/op")
	if t == nil {
		return nil
	}
	var out []string
	transport := func(r *engine.Row) []string { return []string{r.Key("transport")} }
	for _, rows := range groups(t) {
		shape := engine.NonEmpty(rows[0].Key("shape"), rows[0].Group)
		best := bestPerBackend(rows, func(*engine.Row) bool { return true })
		if b := baselineOf(rows); b != nil && !slices.Contains(best, b) {
			best = append([]*engine.Row{b}, best...)
		}
		if s := a.extremes("A `"+shape+"` event's round trip, at each backend's fastest transport", best, t.Unit, false, transport); s != "" {
			out = append(out, s)
		}
	}
	// Can serialization be avoided? From the typical shape.
	rows := typicalGroup(t)
	plain := rankRows(bestPerBackend(rows, func(r *engine.Row) bool { return noEncoding[r.Key("transport")] }), false)
	// The backends that offer no transport without encoding.
	var encodedOnly []*engine.Row
	for _, b := range byBackend(rows) {
		if !slices.ContainsFunc(b, func(r *engine.Row) bool { return noEncoding[r.Key("transport")] }) {
			encodedOnly = append(encodedOnly, b...)
		}
	}
	encoded := rankRows(bestPerBackend(encodedOnly, func(*engine.Row) bool { return true }), false)
	var parts []string
	if len(plain) > 0 {
		var fs []string
		for _, r := range plain {
			fs = append(fs, figure(r, t.Unit, r.Key("transport")))
		}
		parts = append(parts, "in process, yes: without encoding, "+strings.Join(fs, ", "))
	}
	if len(encoded) > 0 {
		var fs []string
		for _, r := range encoded[:min(topN, len(encoded))] {
			fs = append(fs, figure(r, t.Unit, r.Key("transport")))
		}
		s := "the backends that offer no such transport encode every event; the cheapest of them: " + strings.Join(fs, ", ")
		if ph := phasesOf(a.rep, a.file, encoded[0]); ph.ok() {
			s += fmt.Sprintf(" (%s of it encoding and decoding on the host)", pct(ph.codecShare()))
		}
		if lo, hi, ok := jsonSpread(rows, encoded); ok {
			spread := shortRatio(lo)
			if shortRatio(hi) != spread {
				spread += "–" + shortRatio(hi)
			}
			s += "; json costs " + spread + " their cheapest encoding"
		}
		parts = append(parts, s)
	}
	if len(parts) > 0 {
		out = append(out, "Can serialization be avoided (a `"+typicalShape(t)+"` event)? "+upperFirst(strings.Join(parts, "; "))+".")
	}
	if pt := a.table("Pipeline", "events/s"); pt != nil {
		// Each backend's highest throughput.
		var best []*engine.Row
		for _, b := range byBackend(pt.Rows) {
			top := b[0]
			for _, r := range b {
				if r.Center > top.Center {
					top = r
				}
			}
			best = append(best, top)
		}
		if s := a.extremes("A batch of events streamed through one instance (Pipeline), at each backend's best transport", best, pt.Unit, true, transport); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// jsonSpread is the range, over the backends that have both, of json's
// round trip over the cheapest encoding's.
func jsonSpread(rows, cheapest []*engine.Row) (lo, hi float64, ok bool) {
	for _, c := range cheapest {
		for _, r := range rows {
			if r.Key("transport") != "json" || backendOf(r) != backendOf(c) || r == c {
				continue
			}
			x := float64(r.Center / c.Center)
			if !ok || x < lo {
				lo = x
			}
			if !ok || x > hi {
				hi = x
			}
			ok = true
		}
	}
	return lo, hi, ok
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (a *answerer) callback() []string {
	t := a.table("Callback", "sec/callback")
	if t == nil {
		return nil
	}
	var out []string
	if s := a.extremes("One call back into the host", t.Rows, t.Unit, false, nil); s != "" {
		out = append(out, s)
	}
	if s := allocAnswer("The callbacks that allocate", a.table("Callback", "allocs/op"), "", " per call of 100 callbacks"); s != "" {
		out = append(out, s)
	}
	return out
}

func (a *answerer) start() []string {
	t := a.table("Setup", "sec/op")
	if t == nil {
		return nil
	}
	var out []string
	// Per phase, in order of appearance; a load from a cache is not a
	// cold load.
	var phases []string
	byPhase := map[string][]*engine.Row{}
	for _, r := range t.Rows {
		ph := r.Key("phase")
		if ph == "" {
			continue
		}
		if c := r.Key("cache"); c != "" && c != "none" {
			continue
		}
		if _, ok := byPhase[ph]; !ok {
			phases = append(phases, ph)
		}
		byPhase[ph] = append(byPhase[ph], r)
	}
	for _, ph := range phases {
		what := "`" + ph + "`"
		if ph == "load" {
			what = "A cold `load`"
		}
		if s := a.extremes(upperFirst(what), byPhase[ph], t.Unit, false, nil); s != "" {
			out = append(out, s)
		}
	}
	// What a cache buys: each backend's fastest cache mode against its
	// cold load.
	var caches []string
	for _, b := range byBackend(t.Rows) {
		var cold, best *engine.Row
		for _, r := range b {
			if r.Key("phase") != "load" {
				continue
			}
			switch c := r.Key("cache"); c {
			case "none":
				cold = r
			case "":
			default:
				if best == nil || r.Center < best.Center {
					best = r
				}
			}
		}
		if cold != nil && best != nil && best.Center > 0 {
			caches = append(caches, fmt.Sprintf("%s %s → %s (%s, %s faster)", backendOf(cold), fmtSeconds(float64(cold.Center)),
				fmtSeconds(float64(best.Center)), best.Key("cache"), shortRatio(float64(cold.Center/best.Center))))
		}
	}
	if len(caches) > 0 {
		out = append(out, "A compilation cache, at its fastest mode: "+strings.Join(caches, ", ")+".")
	}
	if pt := a.table("Setup", "peak-B"); pt != nil {
		// A cold load's: without a cache, or the one with cache=none.
		var cold []*engine.Row
		for _, r := range pt.Rows {
			if r.Key("phase") == "load" && (r.Key("cache") == "" || r.Key("cache") == "none") {
				cold = append(cold, r)
			}
		}
		ranked := rankRows(cold, false)
		if n := len(ranked); n > 0 {
			var fs []string
			for i := n - 1; i >= max(0, n-topN); i-- {
				fs = append(fs, backendOf(ranked[i])+" "+fmtValue(float64(ranked[i].Center), pt.Unit))
			}
			out = append(out, "A cold load's peak resident memory (peak-B), the largest: "+strings.Join(fs, ", ")+".")
		}
	}
	return out
}

func (a *answerer) instances() []string {
	host := a.table("Memory", "host-B/instance")
	if host == nil {
		return []string{"No memory rows in this run (BenchmarkMemory): nothing to say about holding many instances."}
	}
	child := a.table("Memory", "child-B/instance")
	heapT := a.table("Memory", "heap-B/instance")
	perNs := a.table("Memory", "sec/instance")
	type mem struct {
		label string
		n     int
		bytes float64
		row   *engine.Row
	}
	var ms []mem
	common := commonInstances(host.Rows)
	for _, b := range byBackend(host.Rows) {
		if len(b) == 0 {
			continue
		}
		top, topN := memoryRow(b, common)
		v := float64(top.Center)
		if h := matchRow(heapT, top); h != nil {
			v = max(v, float64(h.Center)) // resident moves by pages: 200 B of heap can read as 0
		}
		if c := matchRow(child, top); c != nil {
			v += float64(c.Center)
		}
		ms = append(ms, mem{backendOf(top), topN, v, top})
	}
	slices.SortStableFunc(ms, func(x, y mem) int {
		switch {
		case x.bytes < y.bytes:
			return -1
		case x.bytes > y.bytes:
			return 1
		}
		return 0
	})
	f := func(m mem) string {
		s := fmt.Sprintf("%s %s @%d", m.label, fmtBytes3(m.bytes), m.n)
		if p := matchRow(perNs, m.row); p != nil {
			s += fmt.Sprintf(" (%s to create each)", fmtSeconds(float64(p.Center)))
		}
		return s
	}
	var out []string
	var base []mem
	var others []mem
	for _, m := range ms {
		if m.row.Baseline {
			base = append(base, m)
		} else {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		s := "Memory per instance, the host's (the larger of its resident growth and its Go heap) and its plugin processes' (PSS), at the most instances every backend measured: "
		if len(base) > 0 {
			s += f(base[0]) + "; "
		}
		var least []string
		for _, m := range others[:min(topN, len(others))] {
			least = append(least, f(m))
		}
		s += "the least across a boundary: " + strings.Join(least, ", ")
		if len(others) > topN {
			s += "; the most: " + f(others[len(others)-1])
		}
		out = append(out, s+".")
	}
	// The counts that did not fit.
	var skipped []string
	for _, nr := range a.rep.NotRun {
		base, parts, _ := engine.NameParts(benchfmt.Name(strings.TrimPrefix(nr.Name, "Benchmark")))
		if nr.File != a.file || base != "Memory" {
			continue
		}
		get := func(k string) string { return engine.Lookup(parts, k) }
		s := get("backend")
		if fx := get("fixture"); fx != "" {
			s += " (" + fx + ")"
		}
		if n := get("instances"); n != "" {
			s += " @" + n
		}
		skipped = append(skipped, s)
	}
	if len(skipped) > 0 {
		out = append(out, "Did not run (see “Rows that did not run” for why): "+strings.Join(skipped, ", ")+".")
	}
	return out
}

// faultAnswers sorts the fault table's rows by the gravest thing a
// fault did to the host, and gives the range of the recoveries' cost.
func faultAnswers(fr *FaultReport) []string {
	if fr == nil {
		return []string{noFaultTable}
	}
	t := fr.table()
	// Per consequence graver than a stopped call, the rows and their
	// faults; the rows that met nothing graver.
	var lives []string
	byWorst := map[string][]string{}
	for _, r := range t.Rows {
		faults := map[string][]string{}
		for _, c := range r.Cells {
			if c != nil && gravity(c.Consequence) > gravity("stopped") {
				faults[c.Consequence] = append(faults[c.Consequence], c.Fault)
			}
		}
		if len(faults) == 0 {
			lives = append(lives, r.Label)
		}
		for cons, fs := range faults {
			byWorst[cons] = append(byWorst[cons], r.Label+": "+strings.Join(fs, ", "))
		}
	}
	var out []string
	if len(lives) > 0 {
		out = append(out, "The host is fine whatever the fault (an error of the call, or a call stopped at its deadline): "+strings.Join(lives, ", ")+".")
	}
	lead := map[string]string{
		"host-killed":   "A fault kills the host",
		"host-frozen":   "A fault freezes the host: its next garbage collection waits for ever for a guest that Go cannot preempt, and only a restart helps",
		"loader-locked": "A fault locks the dynamic loader: nothing loads in the process again until it restarts",
		"restart":       "A fault leaves the host without a working plugin until it restarts",
		"core-lost":     "A fault that nothing can stop keeps a core for good, and the host works on",
	}
	for g := len(faultConsequences) - 1; g > gravity("stopped"); g-- {
		cons := faultConsequences[g].name
		if rows := byWorst[cons]; len(rows) > 0 {
			out = append(out, lead[cons]+": "+strings.Join(rows, "; ")+".")
		}
	}
	// The recoveries' cost, by kind (BenchmarkRecover).
	type span struct {
		lo, hi *FaultCell
	}
	spans := map[string]*span{}
	var kinds []string
	for _, c := range t.Cells {
		if c.Recover == nil || !(c.Recover.Center > 0) {
			continue
		}
		s := spans[c.Recovery]
		if s == nil {
			s = &span{c, c}
			spans[c.Recovery] = s
			kinds = append(kinds, c.Recovery)
		}
		if c.Recover.Center < s.lo.Recover.Center {
			s.lo = c
		}
		if c.Recover.Center > s.hi.Recover.Center {
			s.hi = c
		}
	}
	var rec []string
	for _, k := range kinds {
		s := spans[k]
		what := map[string]string{"reinstantiate": "a new instance", "reload": "a new module", "restart": "a new host process"}[k]
		what = engine.NonEmpty(what, k)
		r := fmt.Sprintf("%s from %s (%s, %s)", what, fmtSeconds(float64(s.lo.Recover.Center)), s.lo.label(), s.lo.Fault)
		if s.hi != s.lo {
			r += fmt.Sprintf(" to %s (%s, %s)", fmtSeconds(float64(s.hi.Recover.Center)), s.hi.label(), s.hi.Fault)
		}
		rec = append(rec, r)
	}
	if len(rec) > 0 {
		out = append(out, "Back to a working plugin (BenchmarkRecover): "+strings.Join(rec, "; ")+".")
	}
	return out
}
