package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// A Report is the data model behind every report format. The JSON
// format is this structure.
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
	NotRun   []NotRun     `json:"not_run"`
	Findings []string     `json:"findings"`
	Events   []EventRow   `json:"events,omitempty"`
	Faults   *FaultReport `json:"faults"` // nil without -faults
	Tables   []*Table     `json:"tables"`
	Warnings []string     `json:"warnings"`

	charts []chart
	// deadBackends holds, per file, the backends none of whose rows
	// ran (see backendsNotRun).
	deadBackends map[string][]string
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

// A Row is one backend's sample in one benchmark group. Group is the
// benchmark with the -by and -ignore keys removed (the rows of a group
// are compared with each other); Backend and Fixture hold the values
// of the -by and -ignore projections.
type Row struct {
	Group      string  `json:"group"`
	Backend    string  `json:"backend"`
	Fixture    string  `json:"fixture"`
	Name       string  `json:"name"` // full name of the first result
	N          int     `json:"n"`
	Center     num     `json:"center"`
	Lo         num     `json:"lo"`
	Hi         num     `json:"hi"`
	Confidence float64 `json:"confidence"`

	// Baseline is set on the baseline row of the group; HasBase on
	// rows that were compared with it.
	Baseline        bool     `json:"baseline"`
	HasBase         bool     `json:"compared"`
	Ratio           num      `json:"-"` // see MarshalJSON
	RatioLo         num      `json:"-"` // see MarshalJSON
	RatioHi         num      `json:"-"` // see MarshalJSON
	RatioConfidence float64  `json:"-"` // see MarshalJSON
	P               num      `json:"-"` // see MarshalJSON
	Significant     bool     `json:"significant"`
	Warnings        []string `json:"warnings,omitempty"`

	BaseCenter num `json:"-"` // see MarshalJSON

	parts  []kv   // name keys of Name
	gparts []kv   // parts without the -by and -ignore keys
	procs  string // GOMAXPROCS suffix
	base   string // base benchmark name
	unit   string
}

// MarshalJSON encodes the comparison fields of a row that was not
// compared with a baseline as null.
func (r *Row) MarshalJSON() ([]byte, error) {
	type plain Row
	out := struct {
		*plain
		Ratio           *num     `json:"ratio"`
		RatioLo         *num     `json:"ratio_lo"`
		RatioHi         *num     `json:"ratio_hi"`
		RatioConfidence *float64 `json:"ratio_confidence"`
		P               *num     `json:"p"`
		BaseCenter      *num     `json:"base_center"`
	}{plain: (*plain)(r)}
	if r.HasBase {
		out.Ratio, out.RatioLo, out.RatioHi = &r.Ratio, &r.RatioLo, &r.RatioHi
		out.RatioConfidence, out.P, out.BaseCenter = &r.RatioConfidence, &r.P, &r.BaseCenter
	}
	return json.Marshal(out)
}

// Label is the row's display label: backend and fixture.
func (r *Row) Label() string {
	switch {
	case r.Backend == "" && r.Fixture == "":
		return "—"
	case r.Backend == "":
		return "(" + r.Fixture + ")"
	case r.Fixture == "":
		return r.Backend
	}
	return r.Backend + " (" + r.Fixture + ")"
}

// num is a float64 that encodes infinities and NaN as JSON null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

type reportFlags struct {
	filter, group, by, ignore string
	baseline                  string
	format, out, chartDir     string
	chartFormat               string
	title                     string
	alpha, confidence         float64
	minSamples                int
	allowFailed               bool
	faults                    string
}

// defaultReportFlags returns the flag defaults of "report".
func defaultReportFlags() *reportFlags {
	f, _ := reportFlagSet(io.Discard)
	return f
}

func cmdReport(stdout, stderr io.Writer, args []string) error {
	f, fs := reportFlagSet(stderr)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{errors.New("report: no input files")}
	}
	if err := checkReportFlags(f); err != nil {
		return usageError{fmt.Errorf("report: %w", err)}
	}
	rep, err := buildReport(fs.Args(), f)
	if err != nil {
		return err
	}
	for _, w := range rep.failedRunWarnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if f.format == "md" && f.out == "" && f.chartDir == "" && len(rep.charts) > 0 {
		fmt.Fprintf(stderr, "note: %d charts not written: use -o FILE or -charts DIR\n", len(rep.charts))
	}
	return writeReport(stdout, rep, f)
}

func reportFlagSet(stderr io.Writer) (*reportFlags, *flag.FlagSet) {
	f := new(reportFlags)
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: benchreport report [flags] [label=]file...

Report summarizes each benchmark group: every backend's median with
its confidence interval, its ratio to the baseline backend and whether
the difference is significant (Mann–Whitney U test).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.filter, "filter", "*", "use only benchmarks matching benchproc filter `query`")
	fs.StringVar(&f.group, "group", ".fullname", "compare rows that agree on `projection` (the -by and -ignore keys are removed from it)")
	fs.StringVar(&f.by, "by", "/backend", "compare rows that differ in `projection`")
	fs.StringVar(&f.ignore, "ignore", "/fixture,/transport", "`projection` of keys that may differ between a row and its baseline")
	fs.StringVar(&f.baseline, "baseline", "static", "`value` of -by that the other rows are compared with")
	fs.StringVar(&f.format, "format", "md", "output `format`: md, html, csv or json")
	fs.StringVar(&f.out, "o", "", "write the report to `file` (default stdout)")
	fs.StringVar(&f.chartDir, "charts", "", "write Markdown charts to `dir` (default: charts/ beside -o; none when writing to stdout)")
	fs.StringVar(&f.chartFormat, "chart-format", "svg", "Markdown chart file `format`: svg or png")
	fs.StringVar(&f.title, "title", "plugbench results", "report `title`")
	fs.Float64Var(&f.alpha, "alpha", 0.05, "significance level `α` of the Mann–Whitney U test")
	fs.Float64Var(&f.confidence, "confidence", 0.95, "confidence `level` of the intervals")
	fs.IntVar(&f.minSamples, "min-samples", 6, "warn about samples smaller than `n` (≥ 2)")
	fs.BoolVar(&f.allowFailed, "allow-failed", false, "report an input that shows a failed run (FAIL, panic, a signal…) with a warning, rather than refusing it")
	fs.StringVar(&f.faults, "faults", "", "add the fault table from `file`, the JSON that make faults writes (results/faults-latest.json; results/faults.json is the committed one); without it the report says the faults were not measured")
	return f, fs
}

// checkReportFlags validates the flag values of "report".
func checkReportFlags(f *reportFlags) error {
	if err := checkChoice("-format", f.format, "md", "html", "csv", "json"); err != nil {
		return err
	}
	if err := checkChoice("-chart-format", f.chartFormat, "svg", "png"); err != nil {
		return err
	}
	if err := checkLevels(f.alpha, f.confidence); err != nil {
		return err
	}
	if err := checkMinSamples(f.minSamples); err != nil {
		return err
	}
	if f.baseline == "" {
		return errors.New("-baseline is empty: want the -by value of the rows the others are compared with (e.g. static)")
	}
	return nil
}

// checkChoice checks that a flag's value is one of the allowed ones.
func checkChoice(flagName, val string, allowed ...string) error {
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want %s", flagName, val, orList(allowed))
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func checkLevels(alpha, confidence float64) error {
	if !(alpha > 0 && alpha < 1) {
		return fmt.Errorf("-alpha %v: must be in (0, 1), e.g. 0.05", alpha)
	}
	if !(confidence > 0 && confidence < 1) {
		return fmt.Errorf("-confidence %v: must be in (0, 1), e.g. 0.95", confidence)
	}
	return nil
}

// checkMinSamples checks -min-samples: benchmath needs two values to
// compute a confidence interval or a Mann–Whitney U test, so a bound
// below 2 would let a row with a single sample pass as measured.
func checkMinSamples(n int) error {
	if n < 2 {
		return fmt.Errorf("-min-samples %d: must be at least 2: benchmath cannot estimate the spread of a single value "+
			"(its confidence interval is unbounded and no Mann–Whitney U test on it can be significant); 6 or more per side give a 95%% interval", n)
	}
	return nil
}

// projections holds the parsed projections of a report.
type projections struct {
	filter                 *benchproc.Filter
	file, group, by, ignor *benchproc.Projection
	unit                   *benchproc.Field
	residue                *benchproc.Projection
}

func parseProjections(f *reportFlags) (*projections, error) {
	var p projections
	var err error
	if p.filter, err = benchproc.NewFilter(f.filter); err != nil {
		return nil, fmt.Errorf("parsing -filter: %w", err)
	}
	var pp benchproc.ProjectionParser
	if p.group, p.unit, err = pp.ParseWithUnit(f.group, p.filter); err != nil {
		return nil, fmt.Errorf("parsing -group: %w", err)
	}
	if p.by, err = pp.Parse(f.by, p.filter); err != nil {
		return nil, fmt.Errorf("parsing -by: %w", err)
	}
	if p.ignor, err = pp.Parse(f.ignore, p.filter); err != nil {
		return nil, fmt.Errorf("parsing -ignore: %w", err)
	}
	// Tables are split by input file, unless the projections use
	// .file themselves (e.g. -by .file to compare two runs).
	fileProj := ".file"
	if strings.Contains(f.group+" "+f.by+" "+f.ignore, ".file") {
		fileProj = ""
	}
	if p.file, err = pp.Parse(fileProj, p.filter); err != nil {
		return nil, fmt.Errorf("parsing .file: %w", err)
	}
	p.residue = pp.Residue()
	return &p, nil
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

func buildReport(paths []string, f *reportFlags) (*Report, error) {
	p, err := parseProjections(f)
	if err != nil {
		return nil, usageError{err}
	}
	// Read the fault table first: it is small, and a bad one is a
	// reason not to spend time on the results.
	var faults *FaultReport
	if f.faults != "" {
		if faults, err = readFaults(f.faults); err != nil {
			return nil, err
		}
	}
	ds, err := readFiles(paths, p.filter, parseOpts{cmd: "report", allowFailed: f.allowFailed})
	if err != nil {
		return nil, err
	}
	rep, err := reportFromData(ds, p, f)
	if err != nil {
		return nil, err
	}
	if faults != nil {
		rep.Faults = faults
		joinRecover(rep)
		rep.Warnings = append(rep.Warnings, faultMachineWarnings(rep)...)
	}
	return rep, nil
}

func reportFromData(ds *dataset, p *projections, f *reportFlags) (*Report, error) {
	cells := map[cellKey]*cell{}
	var order []*cell
	for _, res := range ds.results {
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
	opts := &statOpts{confidence: f.confidence, thresholds: benchmath.DefaultThresholds, units: ds.units}
	opts.thresholds.CompareAlpha = f.alpha

	rep := &Report{
		Title:      f.title,
		Baseline:   f.baseline,
		Confidence: f.confidence,
		Alpha:      f.alpha,
		MinSamples: f.minSamples,
		FailedRuns: append([]FailedRun{}, ds.failed...),
		NotRun:     append([]NotRun{}, ds.notRun...),
		Findings:   []string{},
		Warnings:   []string{},

		deadBackends: map[string][]string{},
	}
	for _, in := range ds.inputs {
		if len(in.deadBackends) > 0 {
			rep.deadBackends[in.label] = in.deadBackends
		}
	}
	for _, in := range ds.inputs {
		ef := EnvFile{File: in.label, Config: []EnvEntry{}}
		for _, c := range in.config {
			ef.Config = append(ef.Config, EnvEntry{c.key, c.val, in.configConflicts[c.key]})
		}
		rep.Environment = append(rep.Environment, ef)
	}

	// Sort cells: by file, then benchmark (first appearance), unit
	// (first appearance), group, by and ignore keys in projection order.
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
	fileRank := rank(func(c *cell) benchproc.Key { return c.file })
	groupRank := rank(func(c *cell) benchproc.Key { return c.group })
	byRank := rank(func(c *cell) benchproc.Key { return c.by })
	ignRank := rank(func(c *cell) benchproc.Key { return c.ignor })
	firstSeen := map[string]int{}
	for _, c := range order {
		base, _, _ := nameParts(c.rep.Name)
		for _, s := range []string{"b:" + base, "u:" + c.unit} {
			if _, ok := firstSeen[s]; !ok {
				firstSeen[s] = len(firstSeen)
			}
		}
	}
	type tkey struct{ file, bench, unit string }
	tables := map[tkey]*Table{}
	tcells := map[*Table][]*cell{}
	for _, c := range order {
		base, _, _ := nameParts(c.rep.Name)
		tk := tkey{c.file.StringValues(), base, c.unit}
		t := tables[tk]
		if t == nil {
			t = &Table{File: tk.file, Benchmark: base, Unit: c.unit,
				Better:  betterString(ds.units.GetBetter(c.unit)),
				Summary: ds.units.GetAssumption(c.unit).SummaryLabel()}
			tables[tk] = t
			rep.Tables = append(rep.Tables, t)
		}
		tcells[t] = append(tcells[t], c)
	}
	sort.SliceStable(rep.Tables, func(i, j int) bool {
		a, b := rep.Tables[i], rep.Tables[j]
		fa, fb := fileRank[tcells[a][0].file], fileRank[tcells[b][0].file]
		if fa != fb {
			return fa < fb
		}
		if a.Benchmark != b.Benchmark {
			return firstSeen["b:"+a.Benchmark] < firstSeen["b:"+b.Benchmark]
		}
		return firstSeen["u:"+a.Unit] < firstSeen["u:"+b.Unit]
	})

	for _, t := range rep.Tables {
		cs := tcells[t]
		sort.SliceStable(cs, func(i, j int) bool {
			a, b := cs[i], cs[j]
			if x, y := groupRank[a.group], groupRank[b.group]; x != y {
				return x < y
			}
			if x, y := byRank[a.by], byRank[b.by]; x != y {
				return x < y
			}
			return ignRank[a.ignor] < ignRank[b.ignor]
		})
		// Build rows, then compare each group with its baseline.
		var rows []*Row
		sums := map[*Row]*summary{}
		for _, c := range cs {
			base, parts, procs := nameParts(c.rep.Name)
			s := opts.summarize(c.unit, c.values)
			r := &Row{
				Group:      groupLabel(c.group, p.unit),
				Backend:    c.by.StringValues(),
				Fixture:    c.ignor.StringValues(),
				Name:       c.rep.Name.String(),
				N:          s.n(),
				Center:     num(s.Center),
				Lo:         num(s.Lo),
				Hi:         num(s.Hi),
				Confidence: s.Confidence,
				Warnings:   s.warnings,
				parts:      parts,
				gparts:     withoutKeys(parts, nameKeysOf(f.by, f.ignore)),
				procs:      procs,
				base:       base,
				unit:       c.unit,
			}
			if r.N < f.minSamples {
				r.Warnings = append(r.Warnings, fmt.Sprintf("only %d samples (want ≥ %d)", r.N, f.minSamples))
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
		// A row's baseline is the -baseline row of its group. For a
		// group without one (e.g. wasm load rows with a cache key the
		// static backend lacks), it is the baseline row whose name
		// keys are a subset of the row's, preferring the most keys.
		groupBase := map[string]*Row{}
		var bases []*Row
		for _, r := range rows {
			if r.Backend != f.baseline {
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
			r.Ratio, r.RatioLo, r.RatioHi, r.RatioConfidence = num(rt.Value), num(rt.Lo), num(rt.Hi), rt.Confidence
			r.P = num(cmp.P)
			r.Significant = cmp.P < cmp.Alpha
			for _, w := range cmp.Warnings {
				r.Warnings = append(r.Warnings, w.Error())
			}
		}
		t.Rows = rows
		for _, r := range rows {
			for _, w := range r.Warnings {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s%s %s %s: %s", fileTag(t.File, len(ds.inputs)), r.Group, r.Label(), t.Unit, w))
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
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no row has %s %s: nothing is compared (see -by and -baseline)", f.by, f.baseline))
	}
	rep.Findings = append(notRunFindings(rep), findings(rep)...)
	rep.Events = eventSummary(rep)
	var err error
	rep.charts, err = makeCharts(rep)
	if err != nil {
		return nil, err
	}
	return rep, nil
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

func withoutKeys(parts []kv, keys map[string]bool) []kv {
	var out []kv
	for _, p := range parts {
		if !keys[p.key] {
			out = append(out, p)
		}
	}
	return out
}

// isSubset reports whether every key=value of a is in b.
func isSubset(a, b []kv) bool {
	for _, x := range a {
		if lookup(b, x.key) != x.val {
			return false
		}
	}
	return true
}

func fileTag(file string, n int) string {
	if n <= 1 {
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

// writeReport writes rep in the requested format to -o or stdout.
func writeReport(stdout io.Writer, rep *Report, f *reportFlags) error {
	w := stdout
	var file *os.File
	if f.out != "" {
		var err error
		if dir := filepath.Dir(f.out); dir != "." {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return fmt.Errorf("creating output directory: %w", err)
			}
		}
		file, err = os.Create(f.out)
		if err != nil {
			return fmt.Errorf("creating report: %w", err)
		}
		w = file
	}
	var err error
	switch f.format {
	case "md":
		chartDir, link := f.chartDir, ""
		if chartDir == "" && f.out != "" {
			chartDir = filepath.Join(filepath.Dir(f.out), "charts")
		}
		if chartDir != "" {
			if err = writeChartFiles(rep, chartDir, f.chartFormat); err == nil {
				link = chartDir
				if f.out != "" {
					if rel, rerr := filepath.Rel(filepath.Dir(f.out), chartDir); rerr == nil {
						link = rel
					}
				}
			}
		}
		if err == nil {
			err = writeMarkdown(w, rep, filepath.ToSlash(link), f.chartFormat)
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
