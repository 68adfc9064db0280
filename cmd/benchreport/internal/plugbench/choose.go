package plugbench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The "Choosing a mechanism" table: one row per backend and fixture of
// the results, with what a chooser compares, each cell taken from a
// row of the data (or the fault table, or a config line), never typed.
// It heads REPORT.md and report.html, and README's "What it found"
// (benchreport choose).

// A ChoiceTable is the table of one results file.
type ChoiceTable struct {
	File    string         `json:"file"`
	Columns []ChoiceColumn `json:"columns"`
	Rows    []ChoiceRow    `json:"rows"`
	// Notes say what the whole table lacks: a column with no data.
	Notes []string `json:"notes"`
}

// A ChoiceColumn is a column of the table. Numeric columns sort by
// their cells' values, the others by their text.
type ChoiceColumn struct {
	Key     string `json:"key"`
	Head    string `json:"head"`
	Numeric bool   `json:"numeric"`
}

// A ChoiceRow is one backend and fixture; Cells follow Columns.
type ChoiceRow struct {
	Backend string       `json:"backend"`
	Fixture string       `json:"fixture"`
	Cells   []ChoiceCell `json:"cells"`
}

// A ChoiceCell is one figure or word. Value is the figure a numeric
// column sorts by (seconds, bytes; for the fault column a severity),
// absent when the cell has none; Note says why a cell is empty (a
// skip's reason), or gives the detail a short cell stands for (shown on
// hover).
type ChoiceCell struct {
	Text  string   `json:"text"`
	Value *float64 `json:"value,omitempty"`
	Note  string   `json:"note,omitempty"`
	// Class, for the HTML page, marks the cell's kind (sev-N: the
	// worst-fault column's gravity, which colours it).
	Class string `json:"class,omitempty"`
}

// The words of the cells without a figure.
const (
	cellNone    = "–" // the backend has no such row
	cellUnknown = "?" // the data cannot say
)

// needsCgoKey is the config line that lists the backends that need cgo
// ("needs-cgo: cgo goplugin wasmtime").
const needsCgoKey = "needs-cgo"

var choiceColumns = []ChoiceColumn{
	{"mechanism", "mechanism", false},
	{"safety", "worst fault", true},
	{"call", "a call", true},
	{"callback", "a callback", true},
	{"payload", "1 MiB in", true},
	{"event", "typical event", true},
	{"instantiate", "instantiate", true},
	{"load", "cold load", true},
	{"cached", "cached load", true},
	{"memory", "memory/instance", true},
	{"artifact", "artifact", true},
	{"faults", "bad plugin", true},
	{"cgo", "needs cgo", false},
	{"unload", "unloads", false},
	{"languages", "languages", false},
}

// chooseIntro is the paragraph above the table.
func chooseIntro(baseline string) string {
	return "One row per backend and guest, every cell from the data: medians, with the ratio to " + baseline +
		"'s median of the same benchmark where one means something (the crossings and instantiate). " +
		"A call: `min`; a callback: one call back into the host; 1 MiB in: `sum` of 1 MiB; typical event: " +
		"the typical event's round trip through the backend's fastest transport (named); cold load: from the file " +
		"(a native plugin's: the loader's work + the check of its headers, the probe on hover); " +
		"cached load: the fastest cache mode (named); memory/instance: what one more instance holds, " +
		"the host's (the larger of its resident growth, PSS, and its Go heap) and its plugin processes' (PSS), " +
		"at the most instances every backend measured (@N); artifact: the plugin's size on disk; " +
		"worst fault: the gravest thing any of the fault table's faults did to the host (hover for each fault's); " +
		"bad plugin: the fault table, in a few words, each fault's gravest consequence over its trials; needs cgo: the results' `needs-cgo` line; unloads: whether " +
		"closing frees the plugin's code; languages: the guests the backend runs in this data."
}

// chooseLegend is the line under the table.
const chooseLegend = "Worst fault and bad plugin, from the mildest: error: an error of the call, the host is fine; " +
	"stopped: stopped at the deadline, the host is fine (contained: every fault one or the other); " +
	"core lost: the plugin runs on, on a core of its own, and cannot be stopped, the host is fine; " +
	"restart: the host is fine but gets no working plugin again without a new process; " +
	"loader locked: nothing loads in the process again until it restarts; " +
	"host freezes: the host stops at its next garbage collection, for good; host dies: the host process is killed. " +
	"(k of N): seen in k of the cell's N trials, the others milder. ⚠: a figure the report doubts, and why on hover " +
	"(shm's doorbell falling back to sleeping, samples spread widely, or a call far dearer than the same mechanism's to its other guest). " +
	"– : the backend has no such row (no faulty GUEST: the fault table has this backend's faults with its other guests); n/a (skipped), n/a (failed): its row did not run " +
	"(see “Rows that did not run”); ? : the data does not say."

// chooseTable builds the table of rep's first file from its results,
// the fault table fr (nil if not measured) and the config line
// needs-cgo. It returns nil when no row has a backend, or when the
// rows are not compared by backend (-by): the ratios would not be to
// the baseline backend. Of several files, it reads the first.
func chooseTable(rep *engine.Report, fr *FaultReport) *ChoiceTable {
	files := engine.DistinctFiles(rep)
	if len(files) == 0 || rep.ByName != "backend" {
		return nil
	}
	file := files[0]
	ct := &ChoiceTable{File: file, Columns: choiceColumns, Notes: []string{}}
	if len(files) > 1 {
		ct.Notes = append(ct.Notes, "The table is "+file+"'s; the other files are in the tables below.")
	}
	c := &chooser{rep: rep, file: file, fr: fr, baseline: rep.Baseline, fixtures: map[string][]string{}}
	type bf struct{ b, f string }
	var order []bf
	seen := map[bf]bool{}
	add := func(b, f string) {
		if b == "" {
			return
		}
		k := bf{b, f}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
		if f != "" && !slices.Contains(c.fixtures[b], f) {
			c.fixtures[b] = append(c.fixtures[b], f)
		}
	}
	// Rows in the order of the call table (the suite's order of
	// targets), then any backend only other benchmarks have.
	for _, first := range []bool{true, false} {
		for _, t := range rep.Tables {
			if t.File != file || t.Benchmark == "Ref" || (t.Benchmark == "Call") != first {
				continue
			}
			for _, r := range t.Rows {
				add(r.By, r.Key("fixture"))
			}
		}
	}
	for _, nr := range rep.NotRun {
		if nr.File != file {
			continue
		}
		_, parts, _ := engine.NameParts(benchfmt.Name(strings.TrimPrefix(nr.Name, "Benchmark")))
		add(engine.Lookup(parts, "backend"), engine.Lookup(parts, "fixture"))
	}
	if len(order) == 0 {
		return nil
	}
	c.needsCgo, c.haveCgo = c.configList(needsCgoKey)
	c.memN = -1
	if t := engine.FindTable(rep, file, "Memory", "host-B/instance"); t != nil {
		c.memN = commonInstances(t.Rows)
	}
	for _, k := range order {
		ct.Rows = append(ct.Rows, c.row(k.b, k.f))
	}
	if engine.FindTable(rep, file, "Memory", "host-B/instance") == nil {
		ct.Notes = append(ct.Notes, "memory/instance: no BenchmarkMemory rows in this run.")
	}
	if engine.FindTable(rep, file, "Setup", "artifact-B") == nil {
		ct.Notes = append(ct.Notes, "artifact: no load rows with artifact-B in this run.")
	}
	if fr == nil {
		ct.Notes = append(ct.Notes, "bad plugin: the fault table was not given (-faults).")
	}
	if !c.haveCgo {
		ct.Notes = append(ct.Notes, "needs cgo: the results have no `"+needsCgoKey+"` line.")
	}
	return ct
}

// A chooser fills the cells of one file's table.
type chooser struct {
	rep      *engine.Report
	file     string
	fr       *FaultReport
	baseline string
	fixtures map[string][]string // per backend, in order of appearance
	needsCgo []string
	haveCgo  bool
	memN     int // the instance count memory is compared at (commonInstances)
}

// configList returns the words of config line key of the chooser's
// file, and whether the file has the line.
func (c *chooser) configList(key string) ([]string, bool) {
	for _, ef := range c.rep.Environment {
		if ef.File != c.file {
			continue
		}
		for _, e := range ef.Config {
			if e.Key == key {
				return strings.Fields(e.Value), true
			}
		}
	}
	return nil, false
}

func (c *chooser) row(b, f string) ChoiceRow {
	label := b
	if f != "" {
		label += " (" + f + ")"
	}
	faults := c.faultCell(b, f)
	cells := []ChoiceCell{
		{Text: label},
		c.safetyCell(b, f, faults),
		c.otherGuest(c.timeCell("Call", "sec/op", b, f, true, kv{"op", "min"}), b, f),
		c.timeCell("Callback", "sec/callback", b, f, true),
		c.timeCell("Payload", "sec/op", b, f, true, kv{"op", "sum"}, kv{"size", "1MiB"}),
		c.eventCell(b, f),
		c.timeCell("Setup", "sec/op", b, f, true, kv{"phase", "instantiate"}),
		c.coldLoadCell(b, f),
		c.cachedLoadCell(b, f),
		c.memoryCell(b, f),
		c.artifactCell(b, f),
		faults,
		c.cgoCell(b),
		c.unloadCell(b, f),
		c.languagesCell(b),
	}
	return ChoiceRow{Backend: b, Fixture: f, Cells: cells}
}

type kv struct{ k, v string }

// find returns the rows of bench in unit of backend b and fixture f
// whose names have every key=value of keys.
func (c *chooser) find(bench, unit, b, f string, keys ...kv) []*engine.Row {
	t := engine.FindTable(c.rep, c.file, bench, unit)
	if t == nil {
		return nil
	}
	var out []*engine.Row
	for _, r := range t.Rows {
		if r.By != b || r.Key("fixture") != f || !hasKeys(r.Key, keys) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func hasKeys(get func(string) string, keys []kv) bool {
	for _, x := range keys {
		if get(x.k) != x.v {
			return false
		}
	}
	return true
}

// missing is the cell of a row the data lacks: "n/a (skipped)" with
// its reason if the row did not run, "–" if the backend has none.
func (c *chooser) missing(bench, b, f string, keys ...kv) ChoiceCell {
	for _, nr := range c.rep.NotRun {
		if nr.File != c.file {
			continue
		}
		base, parts, _ := engine.NameParts(benchfmt.Name(strings.TrimPrefix(nr.Name, "Benchmark")))
		get := func(k string) string { return engine.Lookup(parts, k) }
		if base == bench && get("backend") == b && get("fixture") == f && hasKeys(get, keys) {
			return ChoiceCell{Text: "n/a (" + nr.Status + ")", Note: engine.FirstLine(nr.Reason)}
		}
	}
	return ChoiceCell{Text: cellNone}
}

// withRatio appends the ratio to the baseline, "303 ns (80×)", when it
// means something: a compared row, not the baseline itself.
func withRatio(s string, r *engine.Row, extra ...string) string {
	if r.HasBase && !r.Baseline && r.BaseCenter > 0 && r.Center > 0 {
		extra = append(extra, shortRatio(float64(r.Ratio)))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func value(v float64) *float64 { return &v }

func (c *chooser) timeCell(bench, unit, b, f string, ratio bool, keys ...kv) ChoiceCell {
	rows := c.find(bench, unit, b, f, keys...)
	if len(rows) == 0 {
		return c.missing(bench, b, f, keys...)
	}
	r := rows[0]
	s := fmtSeconds(float64(r.Center))
	if ratio {
		s = withRatio(s, r)
	}
	return c.markSuspect(ChoiceCell{Text: s, Value: value(float64(r.Center))}, bench, r, b, f, keys...)
}

// suspectMark follows a figure the report does not trust; the cell's
// note (on hover, and in the legend's words) says why.
const suspectMark = " ⚠"

// slowWaitsLimit is the share of slow round trips past which an shm
// row measured its fallback: a slow one costs microseconds, forty
// times a spinning one, so a twentieth of them moves the median.
const slowWaitsLimit = 0.05

// markSuspect marks cell, the figure of row r (benchmark bench, backend
// b, fixture f), when the report has reason to doubt it: shm's doorbell
// had to yield or sleep for its replies (the suite counts them:
// slow-waits), or its samples spread widely. The reasons go in the
// cell's note.
func (c *chooser) markSuspect(cell ChoiceCell, bench string, r *engine.Row, b, f string, keys ...kv) ChoiceCell {
	var why []string
	for _, sw := range c.find(bench, "slow-waits", b, f, keys...) {
		if float64(sw.Center) >= slowWaitsLimit {
			why = append(why, fmt.Sprintf("the host had to yield its CPU or sleep for %.0f%% of the replies: "+
				"it and the plugin did not each have a free core, so this is the doorbell's fallback, not its spinning path "+
				"(RATIONALE: Why does the shared-memory doorbell spin, then yield, then sleep?)", 100*float64(sw.Center)))
			break
		}
	}
	if w := r.Spread(); w > engine.SpreadLimit {
		why = append(why, fmt.Sprintf("its samples spread widely: the interval is %s – %s, %.1f× apart (a busy machine?)",
			fmtSeconds(float64(r.Lo)), fmtSeconds(float64(r.Hi)), w))
	}
	return suspect(cell, why...)
}

// suspect marks cell with the reasons given, if any.
func suspect(cell ChoiceCell, why ...string) ChoiceCell {
	if len(why) == 0 {
		return cell
	}
	if !strings.HasSuffix(cell.Text, suspectMark) {
		cell.Text += suspectMark
	}
	switch {
	case strings.HasPrefix(cell.Note, "⚠ "): // marked before: more reasons
		cell.Note += "; " + strings.Join(why, "; ")
	case cell.Note != "":
		cell.Note = "⚠ " + strings.Join(why, "; ") + ". " + cell.Note
	default:
		cell.Note = "⚠ " + strings.Join(why, "; ")
	}
	return cell
}

// otherGuest marks a backend's call that is far dearer than the same
// mechanism's call to another guest: a mechanism's guests cost within
// a few times of each other everywhere in this suite, so more says
// the row measured something else (shm's doorbell falling back to
// sleeping on a busy machine).
func (c *chooser) otherGuest(cell ChoiceCell, b, f string) ChoiceCell {
	if cell.Value == nil {
		return cell
	}
	for _, other := range c.fixtures[b] {
		if other == f {
			continue
		}
		rows := c.find("Call", "sec/op", b, other, kv{"op", "min"})
		if len(rows) == 0 || !(rows[0].Center > 0) {
			continue
		}
		if x := *cell.Value / float64(rows[0].Center); x > otherGuestLimit {
			return suspect(cell, fmt.Sprintf("%.0f× the same mechanism's call to its %s guest (%s)", x, other, fmtSeconds(float64(rows[0].Center))))
		}
	}
	return cell
}

// otherGuestLimit is how many times dearer than another guest's a
// mechanism's call may be before the report doubts it.
const otherGuestLimit = 3

// typicalShape is the event shape the table quotes: "typical", or the
// middle shape of the data.
func typicalShape(t *engine.Table) string {
	var shapes []string
	for _, r := range t.Rows {
		if s := r.Key("shape"); !slices.Contains(shapes, s) {
			shapes = append(shapes, s)
		}
	}
	if slices.Contains(shapes, "typical") || len(shapes) == 0 {
		return "typical"
	}
	return shapes[len(shapes)/2]
}

// eventCell is the typical event's round trip at the backend's fastest
// transport: "2.28 µs (flat, 22×)".
func (c *chooser) eventCell(b, f string) ChoiceCell {
	t := engine.FindTable(c.rep, c.file, "Event", "sec/op")
	if t == nil {
		return c.missing("Event", b, f)
	}
	shape := typicalShape(t)
	var best *engine.Row
	for _, r := range c.find("Event", "sec/op", b, f, kv{"shape", shape}) {
		if best == nil || r.Center < best.Center {
			best = r
		}
	}
	if best == nil {
		return c.missing("Event", b, f, kv{"shape", shape})
	}
	return ChoiceCell{Text: withRatio(fmtSeconds(float64(best.Center)), best, best.Key("transport")), Value: value(float64(best.Center))}
}

// loadRows splits a backend's load rows into the cold one (no cache
// key, or cache=none) and the cached ones.
func (c *chooser) loadRows(b, f string) (cold *engine.Row, cached []*engine.Row) {
	for _, r := range c.find("Setup", "sec/op", b, f, kv{"phase", "load"}) {
		switch r.Key("cache") {
		case "", "none":
			if cold == nil {
				cold = r
			}
		default:
			cached = append(cached, r)
		}
	}
	return cold, cached
}

func (c *chooser) coldLoadCell(b, f string) ChoiceCell {
	cold, _ := c.loadRows(b, f)
	if cold == nil {
		return c.missing("Setup", b, f, kv{"phase", "load"})
	}
	cell := ChoiceCell{Text: fmtSeconds(float64(cold.Center)), Value: value(float64(cold.Center))}
	// A native load's row times the loader alone; the check every Load
	// makes first, and the opt-in probe, are rows of their own.
	if check := c.find("Setup", "sec/op", b, f, kv{"phase", "check"}); len(check) > 0 {
		total := float64(cold.Center) + float64(check[0].Center)
		cell.Text += " + " + fmtSeconds(float64(check[0].Center)) + " check"
		cell.Value = value(total)
		cell.Note = "the dynamic loader's work, then the check of the file's headers that every Load makes first"
		if probe := c.find("Setup", "sec/op", b, f, kv{"phase", "probe"}); len(probe) > 0 {
			cell.Note += "; a Load with the probe on (Config.Probe) adds " + fmtSeconds(float64(probe[0].Center)) + ": the file loaded in a child process first"
		}
	}
	return cell
}

// cachedLoadCell is the fastest cache mode's load: "379 µs (memory)".
func (c *chooser) cachedLoadCell(b, f string) ChoiceCell {
	_, cached := c.loadRows(b, f)
	var best *engine.Row
	for _, r := range cached {
		if best == nil || r.Center < best.Center {
			best = r
		}
	}
	if best == nil {
		return ChoiceCell{Text: cellNone}
	}
	return ChoiceCell{Text: fmtSeconds(float64(best.Center)) + " (" + best.Key("cache") + ")", Value: value(float64(best.Center))}
}

// memoryCell is the host's growth per instance (the larger of its
// resident memory and its Go heap) and the child processes' at the instance count every target has (commonInstances), or
// at the largest this one has: "1.2 MiB @1000".
func (c *chooser) memoryCell(b, f string) ChoiceCell {
	host := c.find("Memory", "host-B/instance", b, f)
	if len(host) == 0 {
		return c.missing("Memory", b, f)
	}
	top, topN := memoryRow(host, c.memN)
	v := float64(top.Center)
	for _, r := range c.find("Memory", "heap-B/instance", b, f) {
		if r.Key("instances") == top.Key("instances") {
			// Resident memory moves by pages: an instance's 200 B of
			// heap can read as 0 B resident.
			v = max(v, float64(r.Center))
		}
	}
	for _, r := range c.find("Memory", "child-B/instance", b, f) {
		if r.Key("instances") == top.Key("instances") {
			v += float64(r.Center)
		}
	}
	s := fmtBytes3(v)
	if topN >= 0 {
		s += " @" + strconv.Itoa(topN)
	}
	return ChoiceCell{Text: s, Value: value(v)}
}

// memoryRow returns the row of one target's rows at instances=n, or,
// without one, at the largest count it has, with that count (-1 when
// the rows have no instances key).
func memoryRow(rows []*engine.Row, n int) (*engine.Row, int) {
	var top *engine.Row
	topN := -1
	for _, r := range rows {
		m, err := strconv.Atoi(r.Key("instances"))
		if err != nil {
			continue
		}
		if m == n {
			return r, m
		}
		if m > topN {
			top, topN = r, m
		}
	}
	if top == nil {
		return rows[len(rows)-1], -1
	}
	return top, topN
}

// commonInstances returns the largest instance count that every target
// among rows measured, or -1. Memory per instance is compared at one
// count: a thousand processes of one executable share more of it, per
// process, than ten do, so the largest count of each would favour the
// cheap mechanisms that reach 10 000 over the dear ones that stop at 100.
func commonInstances(rows []*engine.Row) int {
	counts := map[string]map[int]bool{}
	for _, r := range rows {
		n, err := strconv.Atoi(r.Key("instances"))
		if err != nil {
			continue
		}
		k := r.By + "\x00" + r.Key("fixture")
		if counts[k] == nil {
			counts[k] = map[int]bool{}
		}
		counts[k][n] = true
	}
	best := -1
	for _, cs := range counts {
		for n := range cs {
			if n <= best {
				continue
			}
			all := true
			for _, other := range counts {
				all = all && other[n]
			}
			if all {
				best = n
			}
		}
		break // a common count is in the first target's too
	}
	return best
}

// artifactCell is the size on disk of what a load reads, from the load
// rows (artifact-B, the same for every cache mode).
func (c *chooser) artifactCell(b, f string) ChoiceCell {
	rows := c.find("Setup", "artifact-B", b, f, kv{"phase", "load"})
	if len(rows) == 0 {
		if b == c.baseline {
			return ChoiceCell{Text: "– (compiled in)"}
		}
		return c.missing("Setup", b, f, kv{"phase", "load"})
	}
	v := float64(rows[0].Center)
	return ChoiceCell{Text: fmtBytes3(v), Value: value(v)}
}

// faultWeight is what a consequence adds to a bad-plugin cell's value,
// which sorts the column: one fault of a graver consequence outweighs
// every fault of a milder one.
func faultWeight(consequence string) float64 {
	return math.Pow(10, float64(max(gravity(consequence)-1, 0)))
}

// faultCell condenses the fault table's row: each fault's gravest
// consequence, faults with the same words together, gravest first:
// "segv, abort, bomb: host dies; loop: core lost; startloop: loader
// locked" (the legend says what the words mean). A consequence seen in
// only some of a cell's trials says in how many: "host freezes (2 of
// 5)". Its value, for sorting, weighs each fault by its consequence.
func (c *chooser) faultCell(b, f string) ChoiceCell {
	if c.fr == nil {
		return ChoiceCell{Text: cellUnknown}
	}
	type group struct {
		gravity int
		words   string
		faults  []string
	}
	var groups []*group
	sev, any := 0.0, false
	for _, fault := range c.fr.Faults {
		for _, cell := range c.fr.Cells {
			if cell.Backend != b || cell.Fixture != f || cell.Fault != fault {
				continue
			}
			any = true
			if cell.Consequence == "not-applicable" {
				continue
			}
			words := consequenceWord(cell.Consequence)
			if n, k := len(cell.Trials), cell.trialsWith(cell.Consequence); k < n {
				words += fmt.Sprintf(" (%d of %d)", k, n)
			}
			sev += faultWeight(cell.Consequence)
			i := slices.IndexFunc(groups, func(g *group) bool { return g.words == words })
			if i < 0 {
				groups = append(groups, &group{gravity: gravity(cell.Consequence), words: words})
				i = len(groups) - 1
			}
			groups[i].faults = append(groups[i].faults, fault)
		}
	}
	if !any {
		// The backend's faults measured with another guest only: the
		// cell says so rather than suggest the backend has none.
		for _, cell := range c.fr.Cells {
			if cell.Backend == b && cell.Fixture != f {
				return ChoiceCell{Text: cellNone + " (no faulty " + f + " guest)"}
			}
		}
		return ChoiceCell{Text: cellNone}
	}
	if len(groups) == 0 {
		return ChoiceCell{Text: "n/a"}
	}
	slices.SortStableFunc(groups, func(x, y *group) int { return y.gravity - x.gravity })
	var parts []string
	for _, g := range groups {
		parts = append(parts, strings.Join(g.faults, ", ")+": "+g.words)
	}
	return ChoiceCell{Text: strings.Join(parts, "; "), Value: value(sev)}
}

// safetyCell is the worst-fault column: the gravest consequence of any
// of the target's faults in a word or two ("contained" when every fault
// ends in an error or at its deadline), the bad-plugin cell on hover.
// It sorts by the same value as the bad-plugin column.
func (c *chooser) safetyCell(b, f string, faults ChoiceCell) ChoiceCell {
	if faults.Value == nil {
		// No fault measured: "?", or "–" with the reason on hover.
		if strings.HasPrefix(faults.Text, cellNone+" ") {
			return ChoiceCell{Text: cellNone, Note: strings.Trim(strings.TrimPrefix(faults.Text, cellNone+" "), "()")}
		}
		return ChoiceCell{Text: faults.Text}
	}
	worst := ""
	for _, cell := range c.fr.Cells {
		if cell.Backend == b && cell.Fixture == f && gravity(cell.Consequence) > gravity(worst) {
			worst = cell.Consequence
		}
	}
	text := consequenceWord(worst)
	if gravity(worst) <= gravity("stopped") {
		text = "contained"
	}
	return ChoiceCell{Text: text, Value: faults.Value, Note: faults.Text, Class: "sev-" + strconv.Itoa(gravity(worst))}
}

func (c *chooser) cgoCell(b string) ChoiceCell {
	switch {
	case !c.haveCgo:
		return ChoiceCell{Text: cellUnknown}
	case slices.Contains(c.needsCgo, b):
		return ChoiceCell{Text: "yes"}
	}
	return ChoiceCell{Text: "no"}
}

// unloadCell says whether closing frees the plugin: a close row that
// reports mapped-B left mapped cannot; the baseline is compiled in.
func (c *chooser) unloadCell(b, f string) ChoiceCell {
	if b == c.baseline {
		return ChoiceCell{Text: "no (compiled in)"}
	}
	for _, r := range c.find("Setup", "mapped-B", b, f, kv{"phase", "close"}) {
		if r.Center > 0 {
			return ChoiceCell{Text: "no (" + fmtBytes3(float64(r.Center)) + " stay mapped)"}
		}
	}
	if len(c.find("Setup", "sec/op", b, f, kv{"phase", "close"})) > 0 {
		return ChoiceCell{Text: "yes"}
	}
	if m := c.missing("Setup", b, f, kv{"phase", "close"}); m.Text != cellNone {
		return m
	}
	return ChoiceCell{Text: cellUnknown}
}

// languagesCell lists the guests the backend runs in the data; the
// baseline's builtin plugin is Go.
func (c *chooser) languagesCell(b string) ChoiceCell {
	var langs []string
	for _, f := range c.fixtures[b] {
		if f == "builtin" {
			f = "go"
		}
		if !slices.Contains(langs, f) {
			langs = append(langs, f)
		}
	}
	slices.Sort(langs)
	if len(langs) == 0 {
		return ChoiceCell{Text: cellUnknown}
	}
	return ChoiceCell{Text: strings.Join(langs, ", ")}
}

// shortRatio formats a ratio to two or three significant digits:
// "80×", "1.4×", "0.98×", "10.33k×".
func shortRatio(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "?×"
	case x >= 10000:
		return engine.FmtRatio(x)
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x >= 1:
		return fmt.Sprintf("%.1f×", x)
	case x >= 0.1:
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("%.2g×", x)
}

// sig3 formats v in the largest unit of units it reaches, to three
// significant digits: "303 ns", "2.28 µs", "12.3 ms".
func sig3(v float64, units []scaleUnit) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return cellUnknown
	}
	u := 0
	for u+1 < len(units) && math.Abs(v) >= units[u+1].scale*0.9995 {
		u++
	}
	x := v / units[u].scale
	prec := 2
	switch ax := math.Abs(x); {
	case ax >= 99.95:
		prec = 0
	case ax >= 9.995:
		prec = 1
	}
	return strconv.FormatFloat(x, 'f', prec, 64) + " " + units[u].name
}

// fmtSeconds formats seconds to three significant digits.
func fmtSeconds(s float64) string { return sig3(s*1e9, timeUnits) }

// fmtBytes3 formats bytes to three significant digits: "1.23 MiB".
func fmtBytes3(b float64) string {
	if math.Abs(b) < 1024 {
		return strconv.FormatFloat(math.Round(b), 'f', -1, 64) + " B"
	}
	return sig3(b, bytesUnits)
}

// WriteChoiceMarkdown writes the table as a Markdown section whose
// heading has the given level ("##").
func WriteChoiceMarkdown(w io.Writer, ct *ChoiceTable, baseline, level string) {
	if ct == nil {
		return
	}
	// The intro and legend are this file's text, Markdown already.
	fmt.Fprintf(w, "%s Choosing a mechanism\n\n%s\n\n", level, chooseIntro(engine.MDEscape(baseline)))
	fmt.Fprint(w, "|")
	for _, col := range ct.Columns {
		fmt.Fprintf(w, " %s |", engine.MDEscape(col.Head))
	}
	fmt.Fprint(w, "\n|")
	for _, col := range ct.Columns {
		if col.Numeric && col.Key != "faults" && col.Key != "safety" {
			fmt.Fprint(w, "--:|")
		} else {
			fmt.Fprint(w, "---|")
		}
	}
	fmt.Fprintln(w)
	for _, r := range ct.Rows {
		fmt.Fprint(w, "|")
		for _, cell := range r.Cells {
			fmt.Fprintf(w, " %s |", engine.MDEscape(cell.Text))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%s", chooseLegend)
	for _, n := range ct.Notes {
		fmt.Fprintf(w, " %s", n)
	}
	fmt.Fprint(w, "\n\n")
}

// The HTML of the table: a <div class="scroll"><table id="choosing" class="compact"> (its first
// column stays in view when the table scrolls sideways: at 1280 px the
// last four columns are off the first screen) whose header cells
// are buttons that sort it (numeric columns by each cell's data-value,
// the others by its text; cells without a value last), with a small
// inline script and no network.
var chooseTmpl = template.Must(template.New("choose").Funcs(template.FuncMap{
	"md": engine.MDInline,
	"val": func(c ChoiceCell, numeric bool) string {
		if !numeric {
			return c.Text
		}
		if c.Value == nil {
			return ""
		}
		return strconv.FormatFloat(*c.Value, 'f', -1, 64)
	},
	"col": func(ct *ChoiceTable, i int) ChoiceColumn { return ct.Columns[i] },
}).Parse(`<h2 id="choosing-a-mechanism">Choosing a mechanism</h2>
<p>One row per backend and guest, every cell from the data; what each column holds is under the table. Click a column's heading to sort by it.</p>
<style>
#choosing { border-collapse: separate; border-spacing: 0; }
#choosing th, #choosing td { border-width: 0 1px 1px 0; }
#choosing th { border-top-width: 1px; }
#choosing th:first-child, #choosing td:first-child { position: sticky; left: 0; z-index: 1; border-left-width: 1px; }
#choosing td:first-child { background: #fff; }
#choosing td.sev { white-space: nowrap; font-weight: 600; }
#choosing td.sev[data-value]::before { content: "\25CF\00A0"; }
#choosing td.sev-1, #choosing td.sev-2 { color: #1a7f37; }
#choosing td.sev-3 { color: #9a6700; }
#choosing td.sev-4, #choosing td.sev-5 { color: #bc4c00; }
#choosing td.sev-6, #choosing td.sev-7 { color: #cf222e; }
</style>
<div class="scroll"><table id="choosing" class="compact">
<thead><tr>{{range $i, $c := .T.Columns}}<th scope="col" data-key="{{$c.Key}}" data-type="{{if $c.Numeric}}number{{else}}text{{end}}" aria-sort="none"><button type="button">{{$c.Head}}</button></th>{{end}}</tr></thead>
<tbody>
{{range .T.Rows}}<tr data-backend="{{.Backend}}" data-fixture="{{.Fixture}}">{{range $i, $c := .Cells}}{{$col := col $.T $i}}{{$v := val $c $col.Numeric}}<td{{if eq $col.Key "safety"}} class="sev {{$c.Class}}"{{else if eq $col.Key "faults"}} class="words"{{else if $col.Numeric}} class="n"{{end}}{{if $v}} data-value="{{$v}}"{{end}}{{if $c.Note}} title="{{$c.Note}}"{{end}}>{{$c.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
<p>{{md .Intro}}</p>
<p>{{md .Legend}}{{range .T.Notes}} {{md .}}{{end}}</p>
<script>
(function () {
  var table = document.getElementById("choosing");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.querySelector("button").addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = th.getAttribute("data-type") === "number";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
        if (x === null || y === null) return (x === null) - (y === null);
        var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
</script>
`))

// chooseHTML is the table's section of the HTML page.
func chooseHTML(ct *ChoiceTable, baseline string) (template.HTML, error) {
	if ct == nil {
		return "", nil
	}
	var buf bytes.Buffer
	d := struct {
		T             *ChoiceTable
		Intro, Legend string
	}{ct, chooseIntro(baseline), chooseLegend}
	if err := chooseTmpl.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("choosing section: %w", err)
	}
	return template.HTML(buf.String()), nil
}
