package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// A Report is the data model behind every report format. The JSON
// format is this structure, with the Ext fields after "findings".
type Report struct {
	Title string `json:"title"`
	// FailedRuns holds, per input file that shows a failed run (read
	// with -allow-failed), its first line that shows it.
	FailedRuns  []FailedRun `json:"failed_runs"`
	Baseline    string      `json:"baseline"`
	Confidence  float64     `json:"confidence"`
	Alpha       float64     `json:"alpha"`
	MinSamples  int         `json:"min_samples"`
	Environment []EnvFile   `json:"environment"`
	// NotRun lists the rows that printed a skip or a failure instead
	// of results.
	NotRun   []NotRun `json:"not_run"`
	Findings []string `json:"findings"`
	Tables   []*Table `json:"tables"`
	Warnings []string `json:"warnings"`

	// ByName and IgnoreName name the values of the -by and -ignore
	// projections: column headers and JSON keys ("file" for -by .file;
	// "" for an empty projection).
	ByName, IgnoreName string `json:"-"`
	// ByFile is set when the rows compared are files (-by .file).
	ByFile bool `json:"-"`

	// A layer on top of the engine adds to a report: notes printed
	// with the rows that did not run, JSON fields, sections at the
	// top of the page (Lead: before everything but the title and the
	// failed-run warnings), findings grouped under headings (after
	// the ungrouped Findings), sections after the findings and charts.
	NotRunNotes     []string         `json:"-"`
	Ext             []ExtField       `json:"-"`
	Lead            []Section        `json:"-"`
	FindingSections []FindingSection `json:"-"`
	Sections        []Section        `json:"-"`
	Charts          []Chart          `json:"-"`
	// A layer may also hide configuration keys from the Markdown and
	// HTML environment blocks (the JSON report keeps every key):
	// HideEnv reports whether a key is hidden, and HiddenEnvNote says
	// under the block what was left out (default: a list of the keys).
	HideEnv       func(key string) bool        `json:"-"`
	HiddenEnvNote func(hidden []string) string `json:"-"`
}

// A FindingSection is a group of findings under a heading of its own
// (a question they answer), written after the ungrouped findings.
type FindingSection struct {
	Heading  string   `json:"heading"`
	Findings []string `json:"findings"`
}

// An ExtField is a JSON field a layer adds to a report, written after
// "findings" in the order added.
type ExtField struct {
	Key   string
	Value any
}

// A Section is a part of the Markdown and HTML reports a layer adds
// after the findings. HTML returns the section's markup as it goes in
// the page, with its trailing newline.
type Section struct {
	Markdown func(w io.Writer)
	HTML     func() (template.HTML, error)
}

// MarshalJSON writes the report's fields in order, with the Ext fields
// after "findings".
func (rep *Report) MarshalJSON() ([]byte, error) {
	o := jsonObject{
		{"title", rep.Title},
		{"failed_runs", rep.FailedRuns},
		{"baseline", rep.Baseline},
		{"confidence", rep.Confidence},
		{"alpha", rep.Alpha},
		{"min_samples", rep.MinSamples},
		{"environment", rep.Environment},
		{"not_run", rep.NotRun},
		{"findings", rep.Findings},
	}
	for _, e := range rep.Ext {
		o = append(o, jsonField{e.Key, e.Value})
	}
	o = append(o, jsonField{"tables", rep.Tables}, jsonField{"warnings", rep.Warnings})
	return o.MarshalJSON()
}

// A jsonObject is a JSON object whose keys are known only at run
// time, written in order.
type jsonObject []jsonField

type jsonField struct {
	key   string
	value any
}

func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// EnvFile is the file configuration of one input.
type EnvFile struct {
	File   string     `json:"file"`
	Config []EnvEntry `json:"config"`
}

// EnvEntry is one configuration line. Varies is set if the file sets
// the key to several values; Value is then the first one.
type EnvEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Varies bool   `json:"varies,omitempty"`
}

// A Table holds the rows of one benchmark (e.g. "Call") in one unit
// from one input file.
type Table struct {
	File      string `json:"file"`
	Benchmark string `json:"benchmark"`
	Unit      string `json:"unit"`
	Better    string `json:"better"`
	Summary   string `json:"summary"` // "median" or "mean"
	Rows      []*Row `json:"rows"`
}

// A Row is one -by value's sample in one benchmark group. Group is
// the benchmark with the -by and -ignore keys removed (the rows of a
// group are compared with each other); By and Ignored hold the values
// of the -by and -ignore projections.
type Row struct {
	Group      string
	By         string
	Ignored    string
	Name       string // full name of the first result
	N          int
	Center     Num
	Lo         Num
	Hi         Num
	Confidence float64

	// Baseline is set on the baseline row of the group; HasBase on
	// rows that were compared with it.
	Baseline        bool
	HasBase         bool
	Ratio           Num
	RatioLo         Num
	RatioHi         Num
	RatioConfidence float64
	P               Num
	Significant     bool
	Warnings        []string

	BaseCenter Num

	byKey, ignKey string // JSON keys of By and Ignored
	parts         []KV   // name keys of Name
	gparts        []KV   // parts without the -by and -ignore keys
	procs         string // GOMAXPROCS suffix
	base          string // base benchmark name
	unit          string
}

// MarshalJSON encodes a row with By and Ignored under the names of the
// -by and -ignore projections, and the comparison fields of a row that
// was not compared with a baseline as null.
func (r *Row) MarshalJSON() ([]byte, error) {
	o := jsonObject{{"group", r.Group}}
	if r.byKey != "" {
		o = append(o, jsonField{r.byKey, r.By})
	}
	if r.ignKey != "" {
		o = append(o, jsonField{r.ignKey, r.Ignored})
	}
	o = append(o, jsonObject{{"name", r.Name}, {"n", r.N}, {"center", r.Center}, {"lo", r.Lo}, {"hi", r.Hi},
		{"confidence", r.Confidence}, {"baseline", r.Baseline}, {"compared", r.HasBase}, {"significant", r.Significant}}...)
	if len(r.Warnings) > 0 {
		o = append(o, jsonField{"warnings", r.Warnings})
	}
	var ratio, lo, hi, conf, p, base any
	if r.HasBase {
		ratio, lo, hi, conf, p, base = r.Ratio, r.RatioLo, r.RatioHi, r.RatioConfidence, r.P, r.BaseCenter
	}
	o = append(o, jsonObject{{"ratio", ratio}, {"ratio_lo", lo}, {"ratio_hi", hi}, {"ratio_confidence", conf},
		{"p", p}, {"base_center", base}}...)
	return o.MarshalJSON()
}

// Key returns the value of the name key k of the row's benchmark, or
// "" if it has none.
func (r *Row) Key(k string) string { return Lookup(r.parts, k) }

// Label is the row's display label: its -by and -ignore values.
func (r *Row) Label() string {
	switch {
	case r.By == "" && r.Ignored == "":
		return "—"
	case r.By == "":
		return "(" + r.Ignored + ")"
	case r.Ignored == "":
		return r.By
	}
	return r.By + " (" + r.Ignored + ")"
}

// Num is a float64 that encodes infinities and NaN as JSON null.
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// ReportOptions are the choices of a report: its projections, its
// baseline and its statistics.
type ReportOptions struct {
	Filter, Group, By, Ignore string
	Baseline                  string
	Title                     string
	Alpha, Confidence         float64
	MinSamples                int
}

// OutputOptions say where and how a report is written.
type OutputOptions struct {
	Format      string // md, html, csv or json
	Out         string // file; "" for the writer given
	ChartDir    string // directory of the Markdown charts
	ChartFormat string // svg or png
}

// CheckChoice checks that a flag's value is one of the allowed ones.
func CheckChoice(flagName, val string, allowed ...string) error {
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want %s", flagName, val, OrList(allowed))
}

// OrList joins words as "a, b or c".
func OrList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func CheckLevels(alpha, confidence float64) error {
	if !(alpha > 0 && alpha < 1) {
		return fmt.Errorf("-alpha %v: must be in (0, 1), e.g. 0.05", alpha)
	}
	if !(confidence > 0 && confidence < 1) {
		return fmt.Errorf("-confidence %v: must be in (0, 1), e.g. 0.95", confidence)
	}
	return nil
}

// CheckMinSamples checks -min-samples: benchmath needs two values to
// compute a confidence interval or a Mann–Whitney U test, so a bound
// below 2 would let a row with a single sample pass as measured.
func CheckMinSamples(n int) error {
	if n < 2 {
		return fmt.Errorf("-min-samples %d: must be at least 2: benchmath cannot estimate the spread of a single value "+
			"(its confidence interval is unbounded and no Mann–Whitney U test on it can be significant); 6 or more per side give a 95%% interval", n)
	}
	return nil
}

// Projections holds the parsed projections of a report.
type Projections struct {
	Filter                 *benchproc.Filter
	file, group, by, ignor *benchproc.Projection
	unit                   *benchproc.Field
	residue                *benchproc.Projection
}

// ParseProjections parses the filter and projections of o.
func ParseProjections(o *ReportOptions) (*Projections, error) {
	var p Projections
	var err error
	if p.Filter, err = benchproc.NewFilter(o.Filter); err != nil {
		return nil, fmt.Errorf("parsing -filter: %w", err)
	}
	var pp benchproc.ProjectionParser
	if p.group, p.unit, err = pp.ParseWithUnit(o.Group, p.Filter); err != nil {
		return nil, fmt.Errorf("parsing -group: %w", err)
	}
	if p.by, err = pp.Parse(o.By, p.Filter); err != nil {
		return nil, fmt.Errorf("parsing -by: %w", err)
	}
	if p.ignor, err = pp.Parse(o.Ignore, p.Filter); err != nil {
		return nil, fmt.Errorf("parsing -ignore: %w", err)
	}
	// Tables are split by input file, unless the projections use
	// .file themselves (e.g. -by .file to compare two runs).
	fileProj := ".file"
	if strings.Contains(o.Group+" "+o.By+" "+o.Ignore, ".file") {
		fileProj = ""
	}
	if p.file, err = pp.Parse(fileProj, p.Filter); err != nil {
		return nil, fmt.Errorf("parsing .file: %w", err)
	}
	p.residue = pp.Residue()
	return &p, nil
}

// projectionName names the values of a projection for a column header:
// its first field without the "/" or "." ("/os,/arch" is "os",
// ".file" is "file"), or "" for an empty projection.
func projectionName(proj string) string {
	f := strings.FieldsFunc(proj, func(r rune) bool { return r == ',' || r == ' ' })
	if len(f) == 0 {
		return ""
	}
	name := f[0]
	if i := strings.IndexAny(name, "@("); i >= 0 {
		name = name[:i]
	}
	return strings.TrimLeft(name, "/.")
}

// A cell accumulates the measurements of one row.
type cell struct {
	file, group, by, ignor benchproc.Key
	unit                   string
	rep                    *benchfmt.Result
	values                 []float64
	residues               []benchproc.Key
}

type cellKey struct{ file, group, by, ignor benchproc.Key }

// BuildReport summarizes ds: it groups its results with p's
// projections, summarizes every row and compares it with its group's
// baseline row.
func BuildReport(ds *Dataset, p *Projections, f *ReportOptions) (*Report, error) {
	order := reportCells(ds, p)
	opts := &statOpts{confidence: f.Confidence, thresholds: benchmath.DefaultThresholds, units: ds.Units}
	opts.thresholds.CompareAlpha = f.Alpha
	rep := newReport(ds, f)
	rk := rankCells(order)
	tcells := rep.addTables(ds, order, rk)
	for _, t := range rep.Tables {
		cs := tcells[t]
		rk.sort(cs)
		rows, sums := reportRows(cs, p, f, opts, rep)
		compareWithBaselines(rows, sums, f, opts)
		t.Rows = rows
		for _, r := range rows {
			for _, w := range r.Warnings {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s%s %s %s: %s", fileTag(t.File, len(ds.Inputs)), r.Group, r.Label(), t.Unit, w))
			}
		}
	}
	anyBase := false
	for _, t := range rep.Tables {
		for _, r := range t.Rows {
			anyBase = anyBase || r.Baseline
		}
	}
	if !anyBase {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no row has %s %s: nothing is compared (see -by and -baseline)", f.By, f.Baseline))
	}
	return rep, nil
}

// reportCells puts every measurement in its cell (one file, group, -by
// and -ignore value, and unit), in the order the cells first appear.
func reportCells(ds *Dataset, p *Projections) []*cell {
	cells := map[cellKey]*cell{}
	var order []*cell
	for _, res := range ds.Results {
		fk, bk, ik := p.file.Project(res), p.by.Project(res), p.ignor.Project(res)
		rk := p.residue.Project(res)
		for i, gk := range p.group.ProjectValues(res) {
			ck := cellKey{fk, gk, bk, ik}
			c := cells[ck]
			if c == nil {
				c = &cell{file: fk, group: gk, by: bk, ignor: ik, unit: res.Values[i].Unit, rep: res}
				cells[ck] = c
				order = append(order, c)
			}
			c.values = append(c.values, res.Values[i].Value)
			if !containsKey(c.residues, rk) {
				c.residues = append(c.residues, rk)
			}
		}
	}
	return order
}

// newReport is the report's frame: its options, the runs that failed or
// did not run, and the environment of each file.
func newReport(ds *Dataset, f *ReportOptions) *Report {
	rep := &Report{
		Title:      f.Title,
		Baseline:   f.Baseline,
		Confidence: f.Confidence,
		Alpha:      f.Alpha,
		MinSamples: f.MinSamples,
		FailedRuns: append([]FailedRun{}, ds.Failed...),
		NotRun:     append([]NotRun{}, ds.NotRun...),
		Findings:   []string{},
		Warnings:   []string{},
		ByName:     projectionName(f.By),
		IgnoreName: projectionName(f.Ignore),
		ByFile:     strings.TrimSpace(f.By) == ".file",
	}
	for _, in := range ds.Inputs {
		ef := EnvFile{File: in.Label, Config: []EnvEntry{}}
		for _, c := range in.Config {
			ef.Config = append(ef.Config, EnvEntry{c.Key, c.Val, in.ConfigConflicts[c.Key]})
		}
		rep.Environment = append(rep.Environment, ef)
	}
	return rep
}

// cellRanks order cells: by file, then benchmark (first appearance),
// unit (first appearance), group, -by and -ignore keys in projection
// order.
type cellRanks struct {
	file, group, by, ign map[benchproc.Key]int
	firstSeen            map[string]int // "b:" benchmark, "u:" unit → first appearance
}

// rankCells ranks the keys of the cells in order: each projection's
// keys in benchproc's sort order, benchmarks and units by first
// appearance.
func rankCells(order []*cell) *cellRanks {
	rank := func(keys func(*cell) benchproc.Key) map[benchproc.Key]int {
		var ks []benchproc.Key
		seen := map[benchproc.Key]bool{}
		for _, c := range order {
			if k := keys(c); !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
		benchproc.SortKeys(ks)
		m := map[benchproc.Key]int{}
		for i, k := range ks {
			m[k] = i
		}
		return m
	}
	rk := &cellRanks{
		file:      rank(func(c *cell) benchproc.Key { return c.file }),
		group:     rank(func(c *cell) benchproc.Key { return c.group }),
		by:        rank(func(c *cell) benchproc.Key { return c.by }),
		ign:       rank(func(c *cell) benchproc.Key { return c.ignor }),
		firstSeen: map[string]int{},
	}
	for _, c := range order {
		base, _, _ := NameParts(c.rep.Name)
		for _, s := range []string{"b:" + base, "u:" + c.unit} {
			if _, ok := rk.firstSeen[s]; !ok {
				rk.firstSeen[s] = len(rk.firstSeen)
			}
		}
	}
	return rk
}

// sort orders a table's cells by group, -by and -ignore keys.
func (rk *cellRanks) sort(cs []*cell) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if x, y := rk.group[a.group], rk.group[b.group]; x != y {
			return x < y
		}
		if x, y := rk.by[a.by], rk.by[b.by]; x != y {
			return x < y
		}
		return rk.ign[a.ignor] < rk.ign[b.ignor]
	})
}

// addTables makes a table per file, benchmark and unit, sorted, and
// returns each table's cells.
func (rep *Report) addTables(ds *Dataset, order []*cell, rk *cellRanks) map[*Table][]*cell {
	type tkey struct{ file, bench, unit string }
	tables := map[tkey]*Table{}
	tcells := map[*Table][]*cell{}
	for _, c := range order {
		base, _, _ := NameParts(c.rep.Name)
		tk := tkey{c.file.StringValues(), base, c.unit}
		t := tables[tk]
		if t == nil {
			t = &Table{File: tk.file, Benchmark: base, Unit: c.unit,
				Better:  BetterString(ds.Units.GetBetter(c.unit)),
				Summary: ds.Units.GetAssumption(c.unit).SummaryLabel()}
			tables[tk] = t
			rep.Tables = append(rep.Tables, t)
		}
		tcells[t] = append(tcells[t], c)
	}
	sort.SliceStable(rep.Tables, func(i, j int) bool {
		a, b := rep.Tables[i], rep.Tables[j]
		fa, fb := rk.file[tcells[a][0].file], rk.file[tcells[b][0].file]
		if fa != fb {
			return fa < fb
		}
		if a.Benchmark != b.Benchmark {
			return rk.firstSeen["b:"+a.Benchmark] < rk.firstSeen["b:"+b.Benchmark]
		}
		return rk.firstSeen["u:"+a.Unit] < rk.firstSeen["u:"+b.Unit]
	})
	return tcells
}

// reportRows summarizes each cell into a row, with its warnings: too few
// samples, a wide spread, results that vary in a key no projection
// names.
func reportRows(cs []*cell, p *Projections, f *ReportOptions, opts *statOpts, rep *Report) ([]*Row, map[*Row]*summary) {
	var rows []*Row
	sums := map[*Row]*summary{}
	for _, c := range cs {
		base, parts, procs := NameParts(c.rep.Name)
		s := opts.summarize(c.unit, c.values)
		r := &Row{
			Group:      groupLabel(c.group, p.unit),
			By:         c.by.StringValues(),
			Ignored:    c.ignor.StringValues(),
			Name:       c.rep.Name.String(),
			N:          s.n(),
			Center:     Num(s.Center),
			Lo:         Num(s.Lo),
			Hi:         Num(s.Hi),
			Confidence: s.Confidence,
			Warnings:   s.warnings,
			parts:      parts,
			byKey:      rep.ByName,
			ignKey:     rep.IgnoreName,
			gparts:     withoutKeys(parts, nameKeysOf(f.By, f.Ignore)),
			procs:      procs,
			base:       base,
			unit:       c.unit,
		}
		if r.N < f.MinSamples {
			r.Warnings = append(r.Warnings, fmt.Sprintf("only %d samples (want ≥ %d)", r.N, f.MinSamples))
		}
		if w := r.Spread(); w > SpreadLimit {
			r.Warnings = append(r.Warnings, fmt.Sprintf("samples spread widely: the interval's ends are %.1f× apart", w))
		}
		if len(c.residues) > 1 {
			var names []string
			for _, fld := range benchproc.NonSingularFields(c.residues) {
				names = append(names, fld.Name)
			}
			r.Warnings = append(r.Warnings, "results vary in "+strings.Join(names, ", "))
		}
		sums[r] = s
		rows = append(rows, r)
	}
	return rows, sums
}

// compareWithBaselines gives each row its ratio to its baseline, with
// the ratio's interval and the comparison's p. A row's baseline is the
// -baseline row of its group. For a group without one (e.g. rows with a
// name key the baseline's name lacks), it is the baseline row whose name
// keys are a subset of the row's, preferring the most keys.
func compareWithBaselines(rows []*Row, sums map[*Row]*summary, f *ReportOptions, opts *statOpts) {
	groupBase := map[string]*Row{}
	var bases []*Row
	for _, r := range rows {
		if r.By != f.Baseline {
			continue
		}
		if b := groupBase[r.Group]; b != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("several baseline rows: compared with %s", b.Label()))
			continue
		}
		groupBase[r.Group] = r
		r.Baseline = true
		bases = append(bases, r)
	}
	for _, r := range rows {
		if r.Baseline {
			continue
		}
		base := groupBase[r.Group]
		if base == nil {
			for _, b := range bases {
				if b.base == r.base && b.procs == r.procs && isSubset(b.gparts, r.gparts) &&
					(base == nil || len(b.gparts) > len(base.gparts)) {
					base = b
				}
			}
		}
		if base == nil || base == r {
			continue
		}
		bs, xs := sums[base], sums[r]
		rt := opts.ratio(bs, xs)
		cmp := compare(bs, xs)
		r.HasBase = true
		r.BaseCenter = base.Center
		r.Ratio, r.RatioLo, r.RatioHi, r.RatioConfidence = Num(rt.Value), Num(rt.Lo), Num(rt.Hi), rt.Confidence
		r.P = Num(cmp.P)
		r.Significant = cmp.P < cmp.Alpha
		for _, w := range cmp.Warnings {
			r.Warnings = append(r.Warnings, ourWords(w.Error()))
		}
	}
}

// nameKeysOf returns the name keys ("/key") used in projections.
func nameKeysOf(projs ...string) map[string]bool {
	m := map[string]bool{}
	for _, p := range projs {
		for _, f := range strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' }) {
			if i := strings.Index(f, "@"); i >= 0 {
				f = f[:i]
			}
			if strings.HasPrefix(f, "/") {
				m[f[1:]] = true
			}
		}
	}
	return m
}

func withoutKeys(parts []KV, keys map[string]bool) []KV {
	var out []KV
	for _, p := range parts {
		if !keys[p.Key] {
			out = append(out, p)
		}
	}
	return out
}

// isSubset reports whether every key=value of a is in b.
func isSubset(a, b []KV) bool {
	for _, x := range a {
		if Lookup(b, x.Key) != x.Val {
			return false
		}
	}
	return true
}

func fileTag(file string, n int) string {
	if n <= 1 || file == "" { // a table of several files (by file) names them in its rows
		return ""
	}
	return file + ": "
}

func containsKey(ks []benchproc.Key, k benchproc.Key) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// groupLabel renders a group key without its .unit field.
func groupLabel(k benchproc.Key, unit *benchproc.Field) string {
	var vals []string
	for _, f := range k.Projection().FlattenedFields() {
		if f == unit {
			continue
		}
		if v := k.Get(f); v != "" {
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, " ")
}

// WriteReport writes rep in the requested format to f.Out or stdout.
func WriteReport(stdout io.Writer, rep *Report, f OutputOptions) error {
	w := stdout
	var file *os.File
	if f.Out != "" {
		var err error
		if dir := filepath.Dir(f.Out); dir != "." {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return fmt.Errorf("creating output directory: %w", err)
			}
		}
		file, err = os.Create(f.Out)
		if err != nil {
			return fmt.Errorf("creating report: %w", err)
		}
		w = file
	}
	var err error
	switch f.Format {
	case "md":
		chartDir, link := f.ChartDir, ""
		if chartDir == "" && f.Out != "" {
			chartDir = filepath.Join(filepath.Dir(f.Out), "charts")
		}
		if chartDir != "" {
			if err = writeChartFiles(rep, chartDir, f.ChartFormat); err == nil {
				link = chartDir
				if f.Out != "" {
					if rel, rerr := filepath.Rel(filepath.Dir(f.Out), chartDir); rerr == nil {
						link = rel
					}
				}
			}
		}
		if err == nil {
			err = writeMarkdown(w, rep, filepath.ToSlash(link), f.ChartFormat)
		}
	case "html":
		err = writeHTML(w, rep)
	case "csv":
		err = writeCSV(w, rep)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	}
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing report: %w", cerr)
		}
	}
	return err
}

// FmtLevel formats a confidence level to a tenth of a percent: "96.9%",
// "95%".
func FmtLevel(conf float64) string {
	return strconv.FormatFloat(math.Floor(1000*conf+1e-9)/10, 'f', -1, 64) + "%"
}

// CILabel names the confidence intervals of levels: "96.9% CI" when
// they all reach the same, "≥93.9% CI" (the least) when they differ.
// Intervals of medians reach what their sample size allows, at least
// the confidence asked for; those of ratios, the product of their two
// sides'.
func CILabel(levels []float64) string {
	if len(levels) == 0 {
		return "CI"
	}
	lo, hi := slices.Min(levels), slices.Max(levels)
	if FmtLevel(lo) == FmtLevel(hi) {
		return FmtLevel(lo) + " CI"
	}
	return "≥" + FmtLevel(lo) + " CI"
}

// Levels returns the confidence each row's interval reached, or with
// ratio its ratio interval's (rows compared with the baseline only).
func (t *Table) Levels(ratio bool) []float64 {
	var out []float64
	for _, r := range t.Rows {
		switch {
		case ratio && r.HasBase && !r.Baseline && r.RatioConfidence > 0:
			out = append(out, r.RatioConfidence)
		case !ratio && r.Confidence > 0:
			out = append(out, r.Confidence)
		}
	}
	return out
}

// levelsBySize returns, per sample size, the confidence the intervals
// of that many samples reach, in increasing size.
func (rep *Report) levelsBySize() (sizes []int, levels map[int]float64) {
	levels = map[int]float64{}
	for _, t := range rep.Tables {
		for _, r := range t.Rows {
			if r.Confidence <= 0 || r.N < 2 {
				continue
			}
			if _, ok := levels[r.N]; !ok {
				sizes = append(sizes, r.N)
			}
			levels[r.N] = max(levels[r.N], r.Confidence)
		}
	}
	slices.Sort(sizes)
	return sizes, levels
}

// SpreadLimit is how far apart a row's interval's ends may be, as a
// ratio, before the report marks its figure as suspect: past it, the
// samples disagree more than the machine's noise makes them on a quiet
// day (RATIONALE.md has how many rows pass it in a full and a quick run).
const SpreadLimit = 3

// Spread is how many times its lower end the interval's upper end is,
// for a positive sample; 1 otherwise.
func (r *Row) Spread() float64 {
	if r.Lo > 0 && r.Hi > r.Lo {
		return float64(r.Hi) / float64(r.Lo)
	}
	return 1
}
