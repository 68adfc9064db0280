package engine

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// Gate verdicts.
const (
	verdictRegression   = "regression"
	verdictImprovement  = "improvement"
	verdictUnchanged    = "unchanged"
	verdictInconclusive = "inconclusive"
	// A row of BASE that NEW lacks fails the gate: a benchmark that
	// stops running (a skip, a crash, a deleted b.Run) must not pass as
	// "no regression". -allow-missing names the ones that may go.
	verdictMissing        = "missing"
	verdictMissingAllowed = "missing-allowed"
	// A row of NEW that BASE lacks has nothing to be compared with.
	verdictNew = "new"
	// A regression that a rerun of its benchmarks did not find again
	// (GateResult.Confirm).
	verdictNotConfirmed = "not-confirmed"
)

// A GateResult is the outcome of "benchreport gate"; the JSON format
// is this structure.
type GateResult struct {
	Base string `json:"base"`
	New  string `json:"new"`
	// Warnings concern the whole comparison (BASE and NEW from
	// different machines); they are printed above the table.
	Warnings       []string   `json:"warnings"`
	Alpha          float64    `json:"alpha"`
	Corrected      bool       `json:"holm_corrected"`
	Paired         bool       `json:"paired,omitempty"`
	Normalize      string     `json:"normalize,omitempty"`
	Rows           []*GateRow `json:"rows"`
	Notes          []string   `json:"notes"`
	Regression     int        `json:"regressions"`
	Missing        int        `json:"missing"`
	MissingAllowed int        `json:"missing_allowed"`
	Improved       int        `json:"improvements"`
	Unchanged      int        `json:"unchanged"`
	NewRows        int        `json:"new_rows"`
	Unknown        int        `json:"inconclusive"`
	NotConfirmed   int        `json:"not_confirmed"`
	// Rerun is the command that reran the regressed benchmarks (see
	// Confirm), "" if none ran.
	Rerun string `json:"rerun,omitempty"`

	refNote string // the note that names the -normalize references
}

// A GateRow is one benchmark in one unit.
type GateRow struct {
	Name       string    `json:"name"`
	Unit       string    `json:"unit"`
	Better     string    `json:"better"`
	Exact      bool      `json:"exact"` // compared by center only, no test
	Normalized bool      `json:"normalized"`
	Paired     bool      `json:"paired,omitempty"` // delta and p from the pairs' ratios
	Base       *GateSide `json:"base"`
	New        *GateSide `json:"new"`
	Delta      *Num      `json:"delta,omitempty"` // (new-base)/base of the centers
	Tolerance  float64   `json:"tolerance"`
	P          *Num      `json:"p,omitempty"`
	PAdjusted  *Num      `json:"p_adjusted,omitempty"`
	Verdict    string    `json:"verdict"`
	Reason     string    `json:"reason"`
	Warnings   []string  `json:"warnings,omitempty"`
	// Rerun is this row in the gate of the rerun that confirmed or
	// cleared its regression (see GateResult.Confirm).
	Rerun *GateRow `json:"rerun,omitempty"`

	sBase, sNew *summary
	// benches are the benchmarks (full names without GOMAXPROCS) whose
	// results make up the row and, for a regression, its -normalize
	// references in NEW: what a rerun has to run.
	benches []string
	rep     *benchfmt.Result // one of its results, NEW's if it has one
}

// A GateSide summarizes one side of a comparison.
type GateSide struct {
	N      int `json:"n"`
	Center Num `json:"center"`
	Lo     Num `json:"lo"`
	Hi     Num `json:"hi"`
}

// GateOptions are the choices of a gate.
type GateOptions struct {
	Filter, Row, Ignore  string
	Tolerance            string
	Thresholds           string // file
	Normalize, NormIgn   string
	NormScope            string // "row" (default) or "run"
	Correct, AllowInconc bool
	// Paired compares sample i of NEW with sample i of BASE: the rounds
	// of an interleaved run (benchreport ab), each a pair measured on
	// the same machine state.
	Paired            bool
	Alpha, Confidence float64
	MinSamples        int
	Format            string
	AllowMissing      string
}

// A GateConfig is the parsed form of GateOptions.
type GateConfig struct {
	f          *GateOptions
	Filter     *benchproc.Filter
	row, file  *benchproc.Projection
	unit       *benchproc.Field
	residue    *benchproc.Projection
	tolerance  float64
	thresholds []threshold
	norm       *normRef
	runScope   bool           // -normalize-scope run
	allowMiss  *regexp.Regexp // nil: no row may go missing

	// NormalizeExample is an example of -normalize for the data at
	// hand, given in the warning about results from different
	// machines ("" for none).
	NormalizeExample string
}

// NewGateConfig checks and parses o.
func NewGateConfig(f *GateOptions) (*GateConfig, error) {
	c := &GateConfig{f: f}
	var err error
	if err := CheckLevels(f.Alpha, f.Confidence); err != nil {
		return nil, UsageError{fmt.Errorf("gate: %w", err)}
	}
	if err := CheckChoice("-format", f.Format, "text", "md", "csv", "json"); err != nil {
		return nil, UsageError{fmt.Errorf("gate: %w", err)}
	}
	if err := CheckMinSamples(f.MinSamples); err != nil {
		return nil, UsageError{fmt.Errorf("gate: %w", err)}
	}
	if c.tolerance, err = parseTolerance(f.Tolerance); err != nil {
		return nil, UsageError{fmt.Errorf("gate: -tolerance: %w", err)}
	}
	if f.AllowMissing != "" {
		if c.allowMiss, err = regexp.Compile(f.AllowMissing); err != nil {
			return nil, UsageError{fmt.Errorf("gate: -allow-missing: %w", err)}
		}
	}
	if f.Thresholds != "" {
		if c.thresholds, err = readThresholds(f.Thresholds); err != nil {
			return nil, err
		}
	}
	if c.Filter, err = benchproc.NewFilter(f.Filter); err != nil {
		return nil, UsageError{fmt.Errorf("gate: parsing -filter: %w", err)}
	}
	var pp benchproc.ProjectionParser
	if c.row, c.unit, err = pp.ParseWithUnit(f.Row, c.Filter); err != nil {
		return nil, UsageError{fmt.Errorf("gate: parsing -row: %w", err)}
	}
	if _, err = pp.Parse(f.Ignore, c.Filter); err != nil {
		return nil, UsageError{fmt.Errorf("gate: parsing -ignore: %w", err)}
	}
	if c.file, err = pp.Parse(".file", c.Filter); err != nil {
		return nil, UsageError{fmt.Errorf("gate: %w", err)}
	}
	c.residue = pp.Residue()
	if f.Normalize != "" {
		if c.norm, err = parseNormRef(f.Normalize, f.NormIgn); err != nil {
			return nil, UsageError{fmt.Errorf("gate: -normalize: %w", err)}
		}
	}
	switch f.NormScope {
	case "row", "":
	case "run":
		c.runScope = true
	default:
		return nil, UsageError{fmt.Errorf("gate: -normalize-scope %q: want row or run", f.NormScope)}
	}
	if c.runScope && c.norm == nil {
		return nil, UsageError{errors.New("gate: -normalize-scope run needs -normalize")}
	}
	return c, nil
}

// A gateCell accumulates the measurements of one benchmark and unit
// from one file.
type gateCell struct {
	rep      *benchfmt.Result
	values   []float64
	residues []benchproc.Key
	names    []string // the benchmarks whose results it holds
}

type gateKey struct {
	row  benchproc.Key
	side int // 0 base, 1 new
}

// Gate compares the second input of ds (NEW) with the first (BASE), in
// steps: the result and its machine warnings; what NEW ran; the cells
// (one benchmark and unit from one file); the -normalize references;
// then each row: its tolerance, its sides, their divisors and summaries,
// and its verdict; last, Holm's correction and the counts.
func Gate(ds *Dataset, c *GateConfig) (*GateResult, error) {
	f := c.f
	if len(ds.Inputs) != 2 {
		return nil, fmt.Errorf("gate: want 2 inputs, have %d", len(ds.Inputs))
	}
	if ds.Inputs[0].Label == ds.Inputs[1].Label {
		return nil, UsageError{fmt.Errorf("gate: BASE and NEW have the same label %q", ds.Inputs[0].Label)}
	}
	g := &gating{ds: ds, c: c, f: f,
		opts: &statOpts{confidence: f.Confidence, thresholds: benchmath.DefaultThresholds, units: ds.Units},
		res: &GateResult{Base: ds.Inputs[0].Label, New: ds.Inputs[1].Label, Alpha: f.Alpha,
			Corrected: f.Correct, Paired: f.Paired, Normalize: f.Normalize, Rows: []*GateRow{}, Notes: []string{}, Warnings: []string{}},
	}
	g.opts.thresholds.CompareAlpha = f.Alpha
	g.machineWarnings()
	g.ranInNew()
	g.collect()
	if err := g.references(); err != nil {
		return nil, err
	}
	for _, k := range g.rowKeys {
		g.gateRow(k)
	}
	g.correct()
	g.tally()
	if c.norm != nil {
		addRerunRefs(ds, c, g.res)
	}
	return g.res, nil
}

// gating is one Gate call's state, step by step.
type gating struct {
	ds   *Dataset
	c    *GateConfig
	f    *GateOptions
	opts *statOpts
	res  *GateResult

	newNames  map[string]bool   // the benchmarks NEW has results of
	newNotRun map[string]NotRun // the rows NEW says did not run

	cells   map[gateKey]*gateCell
	rowKeys []benchproc.Key // sorted

	refs      [2]map[string]*summary // -normalize: each side's references
	runFactor map[string]float64     // -normalize-scope run: unit → new/base factor

	noisy   []*GateRow // rows for the significance test (and Holm's correction)
	refRows []string   // the -normalize references, not gated
}

// machineWarnings warns when BASE and NEW come from different machines,
// and says what -normalize does or would do about it.
func (g *gating) machineWarnings() {
	res, f := g.res, g.f
	diffs := MachineDiffs(res.Base, g.ds.Inputs[0].Config, res.New, g.ds.Inputs[1].Config)
	if len(diffs) == 0 {
		return
	}
	for _, d := range diffs {
		res.Warnings = append(res.Warnings, "BASE and NEW come from different machines: "+d)
	}
	if f.Normalize == "" {
		hint := "times from different machines differ for reasons other than the code: " +
			"rerun BASE and NEW on one machine, or compare each time as a ratio to a reference of its own run with -normalize"
		if g.c.NormalizeExample != "" {
			hint += " (e.g. -normalize " + g.c.NormalizeExample + ")"
		}
		res.Warnings = append(res.Warnings, hint)
		return
	}
	res.Warnings = append(res.Warnings, fmt.Sprintf("times are divided by their -normalize %s reference of the same run; "+
		"the ratios themselves can still differ between machines", f.Normalize))
}

// ranInNew notes what NEW ran, and what it says did not run: the reasons
// of missing rows.
func (g *gating) ranInNew() {
	g.newNames = map[string]bool{}
	for _, r := range g.ds.Results {
		if r.GetConfig(".file") == g.res.New {
			g.newNames[resultName(r)] = true
		}
	}
	g.newNotRun = map[string]NotRun{}
	for _, nr := range g.ds.NotRun {
		if nr.File == g.res.New {
			g.newNotRun[nr.Name] = nr
		}
	}
}

// collect puts every measurement in its cell, and lists the rows.
func (g *gating) collect() {
	c := g.c
	g.cells = map[gateKey]*gateCell{}
	seenRow := map[benchproc.Key]bool{}
	for _, r := range g.ds.Results {
		side := 0
		if r.GetConfig(".file") == g.ds.Inputs[1].Label {
			side = 1
		}
		rk := c.residue.Project(r)
		for i, k := range c.row.ProjectValues(r) {
			gk := gateKey{k, side}
			cl := g.cells[gk]
			if cl == nil {
				cl = &gateCell{rep: r}
				g.cells[gk] = cl
			}
			cl.values = append(cl.values, r.Values[i].Value)
			if name := resultName(r); !slices.Contains(cl.names, name) {
				cl.names = append(cl.names, name)
			}
			if !containsKey(cl.residues, rk) {
				cl.residues = append(cl.residues, rk)
			}
			if !seenRow[k] {
				seenRow[k] = true
				g.rowKeys = append(g.rowKeys, k)
			}
		}
	}
	benchproc.SortKeys(g.rowKeys)
}

// references finds each side's -normalize references and, under the
// run scope, the factor of each unit.
func (g *gating) references() error {
	c, f, ds := g.c, g.f, g.ds
	if c.norm == nil {
		return nil
	}
	for side := range 2 {
		g.refs[side] = c.norm.references(ds, ds.Inputs[side].Label, g.opts)
	}
	if len(g.refs[0]) == 0 && len(g.refs[1]) == 0 {
		return UsageError{fmt.Errorf("gate: -normalize %s: no reference benchmark in either file", f.Normalize)}
	}
	if !c.runScope {
		return nil
	}
	g.runFactor = runFactors(g.refs)
	if len(g.runFactor) == 0 {
		return UsageError{fmt.Errorf("gate: -normalize %s -normalize-scope run: no reference benchmark in both files", f.Normalize)}
	}
	units := make([]string, 0, len(g.runFactor))
	for u := range g.runFactor {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		if u == "B/op" || u == "allocs/op" || ds.Units.GetAssumption(u) == benchmath.AssumeExact {
			continue // counts are compared as they are
		}
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("%s: the new run is %.3f× the base run, the geometric mean of its -normalize references' ratios; every %s is divided by it", u, g.runFactor[u], u))
	}
	return nil
}

// gateRow makes the row of key k, summarizes its sides and gives it its
// verdict, or leaves that to the significance test (g.noisy). A
// -normalize reference is listed apart, not gated.
func (g *gating) gateRow(k benchproc.Key) {
	row := g.newRow(k)
	var sideCells [2]*gateCell
	for side := range 2 {
		sideCells[side] = g.cells[gateKey{k, side}]
		if cl := sideCells[side]; cl != nil {
			for _, name := range cl.names {
				if !slices.Contains(row.benches, name) {
					row.benches = append(row.benches, name)
				}
			}
		}
	}
	divisors, isRef, normFail := g.divisors(row, sideCells)
	sums, sideVals := g.summarize(row, sideCells, divisors, normFail)
	if isRef {
		if !slices.Contains(g.refRows, row.Name) {
			g.refRows = append(g.refRows, row.Name)
		}
		return
	}
	for _, cl := range sideCells {
		if cl != nil {
			row.rep = cl.rep
		}
	}
	row.sBase, row.sNew = sums[0], sums[1]
	if s := sums[0]; s != nil {
		row.Base = &GateSide{s.n(), Num(s.Center), Num(s.Lo), Num(s.Hi)}
	}
	if s := sums[1]; s != nil {
		row.New = &GateSide{s.n(), Num(s.Center), Num(s.Lo), Num(s.Hi)}
	}
	g.res.Rows = append(g.res.Rows, row)
	switch {
	case sums[0] == nil:
		row.Verdict, row.Reason = verdictNew, "not in "+g.res.Base
	case sums[1] == nil:
		g.missing(row, sideCells[0])
	case normFail != "":
		row.Verdict, row.Reason = verdictInconclusive, normFail
	default:
		g.compare(row, sums, sideVals)
	}
}

// newRow is the row of key k with its unit's direction and its
// tolerance: -tolerance for noisy units, 0 for exact ones, unless a
// thresholds line names it.
func (g *gating) newRow(k benchproc.Key) *GateRow {
	c, units := g.c, g.ds.Units
	unit := k.Get(c.unit)
	row := &GateRow{
		Name:   groupLabel(k, c.unit),
		Unit:   unit,
		Better: BetterString(units.GetBetter(unit)),
	}
	row.Exact = unit == "B/op" || unit == "allocs/op" || units.GetAssumption(unit) == benchmath.AssumeExact
	row.Tolerance = c.tolerance
	if row.Exact {
		row.Tolerance = 0
	}
	if t, ok := matchThreshold(c.thresholds, row.Name, unit, row.Exact); ok {
		row.Tolerance = t
	}
	return row
}

// divisors are what each side of row is divided by under -normalize
// (0: nothing), whether row is a reference itself, and why it cannot be
// normalized ("" if it can). Both sides are normalized or neither, and
// only noisy units: exact units (allocs/op, B/op) are counts, the same
// on any machine, and are compared as they are.
func (g *gating) divisors(row *GateRow, sideCells [2]*gateCell) (divisors [2]float64, isRef bool, normFail string) {
	c := g.c
	switch {
	case row.Exact || c.norm == nil:
	case c.runScope:
		for _, cl := range sideCells {
			if cl != nil {
				isRef = isRef || c.norm.isRef(cl.rep)
			}
		}
		if f, ok := g.runFactor[row.Unit]; ok {
			divisors = [2]float64{1, f}
		} else {
			normFail = "no -normalize reference of unit " + row.Unit + " in both files"
		}
	default:
		for side, cl := range sideCells {
			if cl == nil {
				continue
			}
			isRef = isRef || c.norm.isRef(cl.rep)
			ref := g.refs[side][c.norm.signature(cl.rep)+"\x00"+row.Unit]
			switch {
			case ref == nil:
				normFail = "no -normalize reference in " + g.ds.Inputs[side].Label
			case ref.Center > 0:
				divisors[side] = ref.Center
			}
		}
		if normFail == "" && (divisors[0] == 0) != (divisors[1] == 0) && sideCells[0] != nil && sideCells[1] != nil {
			normFail = "-normalize reference center is 0 in one file only"
		}
	}
	return divisors, isRef, normFail
}

// summarize divides each side's values by its divisor and summarizes
// them, with their warnings: the summaries, and the values in file
// order (for -paired).
func (g *gating) summarize(row *GateRow, sideCells [2]*gateCell, divisors [2]float64, normFail string) (sums [2]*summary, sideVals [2][]float64) {
	for side, cl := range sideCells {
		if cl == nil {
			continue
		}
		vals := cl.values
		if divisors[side] > 0 && normFail == "" {
			vals = make([]float64, len(cl.values))
			for i, v := range cl.values {
				vals[i] = v / divisors[side]
			}
			row.Normalized = true
		}
		s := g.opts.summarize(row.Unit, vals)
		sums[side] = s
		sideVals[side] = vals
		row.Warnings = append(row.Warnings, s.warnings...)
		if len(cl.residues) > 1 {
			var names []string
			for _, fld := range benchproc.NonSingularFields(cl.residues) {
				names = append(names, fld.Name)
			}
			row.Warnings = append(row.Warnings, fmt.Sprintf("%s: results vary in %s", g.ds.Inputs[side].Label, strings.Join(names, ", ")))
		}
	}
	return sums, sideVals
}

// missing gives a row of BASE that NEW lacks its verdict, and the reason
// NEW gives: it did not run, it ran without the unit, or it is gone.
func (g *gating) missing(row *GateRow, base *gateCell) {
	res := g.res
	row.Verdict = verdictMissing
	name := resultName(base.rep)
	switch nr, ok := g.newNotRun[name]; {
	case ok:
		row.Reason = fmt.Sprintf("missing in %s: %s", res.New, nr.Status)
		if r := FirstLine(nr.Reason); r != "" {
			row.Reason += ": " + r
		}
	case g.newNames[name]:
		row.Reason = fmt.Sprintf("%s has this benchmark but no %s", res.New, row.Unit)
		if IsCountUnit(row.Unit) {
			row.Reason += " (run without -benchmem?)"
		}
	default:
		row.Reason = "missing in " + res.New
	}
	if g.c.allowMiss != nil && g.c.allowMiss.MatchString(row.Name) {
		row.Verdict = verdictMissingAllowed
		row.Reason += " (allowed by -allow-missing)"
	}
}

// compare gives a row both sides have its delta, and a noisy row its
// p-value (paired or not), or makes it inconclusive when too few
// samples could show a difference. The verdict itself is decide's, once
// Holm's correction is known.
func (g *gating) compare(row *GateRow, sums [2]*summary, sideVals [2][]float64) {
	f := g.f
	d := delta(sums[0].Center, sums[1].Center)
	row.Delta = &d
	if row.Exact {
		return
	}
	if n0, n1 := sums[0].n(), sums[1].n(); n0 < f.MinSamples || n1 < f.MinSamples {
		row.Verdict = verdictInconclusive
		row.Reason = fmt.Sprintf("too few samples (n=%d+%d, want ≥ %d each)", n0, n1, f.MinSamples)
		return
	}
	if f.Paired {
		pairedRow(row, sideVals, f.Alpha, g.res)
		if row.Verdict == "" {
			g.noisy = append(g.noisy, row)
		}
		return
	}
	cmp := compare(sums[0], sums[1])
	p := Num(cmp.P)
	row.P = &p
	tooFew := false
	for _, w := range cmp.Warnings {
		row.Warnings = append(row.Warnings, ourWords(w.Error()))
		// benchmath warns "need >= N samples to detect a
		// difference" when no outcome could be significant.
		tooFew = tooFew || strings.HasPrefix(w.Error(), "need ")
	}
	if tooFew {
		row.Verdict = verdictInconclusive
		row.Reason = fmt.Sprintf("too few samples to detect a difference (n=%d+%d)", sums[0].n(), sums[1].n())
		return
	}
	g.noisy = append(g.noisy, row)
}

// correct adjusts the noisy rows' p-values with Holm–Bonferroni, under
// -correct.
func (g *gating) correct() {
	if !g.f.Correct || len(g.noisy) == 0 {
		return
	}
	ps := make([]float64, len(g.noisy))
	for i, r := range g.noisy {
		ps[i] = float64(*r.P)
	}
	for i, a := range holm(ps) {
		adj := Num(a)
		g.noisy[i].PAdjusted = &adj
	}
}

// tally decides the rows left undecided and counts the verdicts, and
// notes the -normalize references.
func (g *gating) tally() {
	res := g.res
	for _, row := range res.Rows {
		if row.Verdict == "" {
			decide(row, g.f.Alpha)
		}
		switch row.Verdict {
		case verdictRegression:
			res.Regression++
		case verdictMissing:
			res.Missing++
		case verdictMissingAllowed:
			res.MissingAllowed++
		case verdictImprovement:
			res.Improved++
		case verdictUnchanged:
			res.Unchanged++
		case verdictNew:
			res.NewRows++
		default:
			res.Unknown++
		}
	}
	if len(g.refRows) > 0 {
		res.refNote = refNote(g.refRows)
		res.Notes = append(res.Notes, res.refNote)
	}
}

// pairedRow sets row's delta and p from the pairs of vals (BASE, NEW),
// or makes it inconclusive when they cannot be paired or are too few
// for any outcome to be significant.
func pairedRow(row *GateRow, vals [2][]float64, alpha float64, res *GateResult) {
	n0, n1 := len(vals[0]), len(vals[1])
	if n0 != n1 {
		row.Verdict = verdictInconclusive
		row.Reason = fmt.Sprintf("-paired: %s has %d samples and %s %d: no pairs", res.Base, n0, res.New, n1)
		return
	}
	pr, ok := pairedCompare(vals[0], vals[1])
	if !ok {
		row.Verdict = verdictInconclusive
		row.Reason = "-paired: a sample ≤ 0 has no ratio"
		return
	}
	d, p := Num(pr.Delta), Num(pr.P)
	row.Delta, row.P, row.Paired = &d, &p, true
	// The smallest p the test can give with n pairs is 2/2^n.
	if pr.N < 1 || 2*math.Pow(0.5, float64(pr.N)) >= alpha {
		row.Verdict = verdictInconclusive
		row.Reason = fmt.Sprintf("too few pairs that differ to detect a difference (%d of %d)", pr.N, n0)
	}
}

// refNote says which rows are -normalize references, in one line: a
// suite with a reference per benchmark has dozens of them.
func refNote(names []string) string {
	const show = 3
	if len(names) == 1 {
		return names[0] + " is a -normalize reference: not gated"
	}
	list := strings.Join(names[:min(show, len(names))], ", ")
	if len(names) > show {
		list += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return fmt.Sprintf("%d rows are -normalize references, not gated: %s", len(names), list)
}

// addRerunRefs adds to each regressed row's benches the -normalize
// references in NEW that its time was divided by, so that a rerun of
// the row measures them too. With -normalize-scope run every row is
// divided by one factor from all the references: a rerun takes them all,
// or its factor would rest on the row's own reference alone (one
// rerun's factor from that reference was 0.751, where the run's, from
// all 22, was 0.807).
func addRerunRefs(ds *Dataset, c *GateConfig, res *GateResult) {
	for _, row := range res.Rows {
		// Under the run scope every row's rerun needs the references,
		// the run's factor comes from them all: a row without a
		// reference of its own in its group, and an exact unit's row too
		// (the rerun's file is normalized as a whole).
		if row.Verdict != verdictRegression || (row.Exact || row.rep == nil) && !c.runScope {
			continue
		}
		var sig string
		if row.rep != nil {
			sig = c.norm.signature(row.rep)
		}
		var own, all []string
		for _, r := range ds.Results {
			if r.GetConfig(".file") != res.New || !c.norm.isRef(r) {
				continue
			}
			name := resultName(r)
			if !slices.Contains(all, name) {
				all = append(all, name)
			}
			if c.norm.signature(r) == sig && !slices.Contains(own, name) {
				own = append(own, name)
			}
		}
		if c.runScope {
			own = all
		}
		for _, name := range own {
			if !slices.Contains(row.benches, name) {
				row.benches = append(row.benches, name)
			}
		}
	}
}

// RerunPattern returns a go test -bench pattern that runs the
// benchmarks of every regressed row and their -normalize references,
// and no other (each name anchored level by level, the names joined by
// "|", which go test reads as alternatives of whole names), or "" when
// no row regressed.
func (res *GateResult) RerunPattern() string {
	var alts []string
	for _, row := range res.Rows {
		if row.Verdict != verdictRegression {
			continue
		}
		for _, name := range row.benches {
			levels := strings.Split(name, "/")
			for i, l := range levels {
				levels[i] = "^" + regexp.QuoteMeta(l) + "$"
			}
			if p := strings.Join(levels, "/"); !slices.Contains(alts, p) {
				alts = append(alts, p)
			}
		}
	}
	return strings.Join(alts, "|")
}

// Confirm takes a second opinion on res's regressions: rerun is the
// gate of the same BASE against a rerun of the regressed benchmarks
// (RerunPattern), run by command. A regression stands if the rerun
// finds it again, or has no unchanged or improved verdict for the row
// (it did not run it, or could not tell); otherwise it becomes
// "not-confirmed", which does not fail the gate. A slowdown of the
// code shows in both runs; a burst of load on a shared machine, which
// makes all of a row's samples slow together, seldom lands on the same
// rows twice.
func (res *GateResult) Confirm(rerun *GateResult, command string) {
	res.Rerun = command
	again := map[string]*GateRow{}
	for _, r := range rerun.Rows {
		again[r.Name+"\x00"+r.Unit] = r
	}
	for _, row := range res.Rows {
		if row.Verdict != verdictRegression {
			continue
		}
		a := again[row.Name+"\x00"+row.Unit]
		row.Rerun = a
		switch {
		case a == nil:
			row.Reason += "; the rerun did not measure it"
		case a.Verdict == verdictUnchanged || a.Verdict == verdictImprovement:
			row.Verdict = verdictNotConfirmed
			row.Reason += "; not in the rerun: " + a.Reason
			res.Regression--
			res.NotConfirmed++
		case a.Verdict == verdictRegression:
			row.Reason += "; again in the rerun: " + a.Reason
		default:
			row.Reason += "; the rerun could not tell (" + a.Verdict + ": " + a.Reason + ")"
		}
	}
	for _, n := range rerun.Notes {
		if n != rerun.refNote { // the same rows as above
			res.Notes = append(res.Notes, "rerun: "+n)
		}
	}
}

func delta(base, x float64) Num {
	switch {
	case base == x:
		return 0
	case base == 0:
		return Num(math.Inf(1))
	}
	return Num((x - base) / base)
}

// decide sets the verdict of a row with both sides present.
func decide(row *GateRow, alpha float64) {
	d := float64(*row.Delta)
	worse, better := d > row.Tolerance, d < -row.Tolerance
	if row.Better == "higher" {
		worse, better = d < -row.Tolerance, d > row.Tolerance
	}
	if row.Exact {
		change := fmt.Sprintf("%s → %s", FmtVal(float64(row.Base.Center), row.Unit), FmtVal(float64(row.New.Center), row.Unit))
		if !math.IsInf(d, 0) {
			change += " (" + pctString(d) + ")"
		}
		switch {
		case worse:
			row.Verdict, row.Reason = verdictRegression, fmt.Sprintf("%s, exact unit, tolerance %s", change, fmtTol(row.Tolerance))
		case better:
			row.Verdict, row.Reason = verdictImprovement, fmt.Sprintf("%s, exact unit", change)
		default:
			row.Verdict, row.Reason = verdictUnchanged, "within tolerance (exact unit)"
		}
		return
	}
	p := float64(*row.P)
	pName := "p"
	if row.Paired {
		pName = "paired p"
	}
	if row.PAdjusted != nil {
		p, pName = float64(*row.PAdjusted), "Holm-adjusted "+pName
	}
	pEq := func(p float64) string {
		if s := FmtP(p); strings.HasPrefix(s, "<") {
			return pName + s
		} else {
			return pName + "=" + s
		}
	}
	sig := p < alpha
	switch {
	case sig && worse:
		row.Verdict = verdictRegression
		row.Reason = fmt.Sprintf("%s, beyond tolerance %s, %s", pctString(d), fmtTol(row.Tolerance), pEq(p))
	case sig && better:
		row.Verdict = verdictImprovement
		row.Reason = fmt.Sprintf("%s, %s", pctString(d), pEq(p))
	case sig:
		row.Verdict, row.Reason = verdictUnchanged, fmt.Sprintf("%s, significant (%s) but within tolerance %s", pctString(d), pEq(p), fmtTol(row.Tolerance))
	default:
		row.Verdict, row.Reason = verdictUnchanged, fmt.Sprintf("not significant (%s)", pEq(p))
	}
}

func fmtTol(t float64) string {
	return strconv.FormatFloat(100*t, 'g', 4, 64) + "%"
}

// parseTolerance parses "5%", "0.05" or "exact" (zero).
func parseTolerance(s string) (float64, error) {
	s = strings.TrimSpace(s)
	orig := s
	if s == "exact" {
		return 0, nil
	}
	scale := 1.0
	if strings.HasSuffix(s, "%") {
		s, scale = strings.TrimSuffix(s, "%"), 0.01
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("bad tolerance %q: want a percentage like 5%%, a fraction like 0.05, or exact (not negative)", orig)
	}
	return v * scale, nil
}

// A threshold is one line of a -thresholds file.
type threshold struct {
	re        *regexp.Regexp
	tolerance float64
	unit      string // "" applies to every non-exact unit
}

// readThresholds parses a thresholds file: one "NAME-REGEXP TOLERANCE
// [UNIT]" per line, with blank lines and "#" comments ignored. The
// regexp is matched (unanchored) against the benchmark name without
// the "Benchmark" prefix. Without UNIT a line applies to the noisy
// units only; B/op, allocs/op and assume=exact units are overridden
// only by lines naming the unit.
func readThresholds(path string) ([]threshold, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, InputErrors{fmt.Errorf("%s: %w", path, err)}
	}
	return parseThresholds(path, b)
}

func parseThresholds(path string, b []byte) ([]threshold, error) {
	var ts []threshold
	var errs InputErrors
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		fs := strings.Fields(text)
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 2 || len(fs) > 3 {
			errs = append(errs, fmt.Errorf("%s:%d: want \"NAME-REGEXP TOLERANCE [UNIT]\"", path, line))
			continue
		}
		re, err := regexp.Compile(fs[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, line, err))
			continue
		}
		tol, err := parseTolerance(fs[1])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, line, err))
			continue
		}
		t := threshold{re: re, tolerance: tol}
		if len(fs) == 3 {
			t.unit = fs[2]
		}
		ts = append(ts, t)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return ts, nil
}

func matchThreshold(ts []threshold, name, unit string, exact bool) (float64, bool) {
	for _, t := range ts {
		if t.unit != "" && t.unit != unit || t.unit == "" && exact {
			continue
		}
		if t.re.MatchString(name) {
			return t.tolerance, true
		}
	}
	return 0, false
}

// A normRef identifies the -normalize reference of each benchmark.
//
// With name keys ("impl=go", or "/impl:go" filter terms)
// the reference of a benchmark is the benchmark of the same file whose
// name has those key values and otherwise agrees on every name key
// except those in -normalize-ignore. With a benchmark name
// ("BenchmarkRef/op=min/impl=cgo", GOMAXPROCS suffix optional) every
// benchmark is divided by that one.
type normRef struct {
	fixed  string // benchmark name without "Benchmark" and "-N"
	keys   []KV
	ignore map[string]bool
}

var normTerm = regexp.MustCompile(`^/?([^=:/\s]+)[=:](\S+)$`)

func parseNormRef(s, ignore string) (*normRef, error) {
	n := &normRef{ignore: map[string]bool{}}
	for _, k := range strings.Split(ignore, ",") {
		if k = strings.TrimPrefix(strings.TrimSpace(k), "/"); k != "" {
			n.ignore[k] = true
		}
	}
	if strings.HasPrefix(s, "Benchmark") {
		base, parts, _ := NameParts(benchfmt.Name(strings.TrimPrefix(s, "Benchmark")))
		n.fixed = canonicalName(base, parts)
		return n, nil
	}
	for _, term := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		m := normTerm.FindStringSubmatch(term)
		if m == nil {
			return nil, fmt.Errorf("bad term %q: want key=value, /key:value or a Benchmark name", term)
		}
		n.keys = append(n.keys, KV{m[1], m[2]})
	}
	if len(n.keys) == 0 {
		return nil, errors.New("empty reference")
	}
	return n, nil
}

func canonicalName(base string, parts []KV) string {
	var b strings.Builder
	b.WriteString(base)
	for _, p := range parts {
		b.WriteByte('/')
		if p.Key != "" {
			b.WriteString(p.Key + "=")
		}
		b.WriteString(p.Val)
	}
	return b.String()
}

// isRef reports whether r is a reference benchmark.
func (n *normRef) isRef(r *benchfmt.Result) bool {
	base, parts, _ := NameParts(r.Name)
	if n.fixed != "" {
		return canonicalName(base, parts) == n.fixed
	}
	for _, k := range n.keys {
		if Lookup(parts, k.Key) != k.Val {
			return false
		}
	}
	return true
}

// signature is the identity a benchmark shares with its reference.
func (n *normRef) signature(r *benchfmt.Result) string {
	if n.fixed != "" {
		return n.fixed
	}
	base, parts, procs := NameParts(r.Name)
	var kept []KV
	for _, p := range parts {
		skip := n.ignore[p.Key]
		for _, k := range n.keys {
			skip = skip || p.Key == k.Key
		}
		if !skip {
			kept = append(kept, p)
		}
	}
	return canonicalName(base, kept) + "-" + procs
}

// references summarizes the reference benchmarks of one file, by
// signature and unit.
func (n *normRef) references(ds *Dataset, file string, opts *statOpts) map[string]*summary {
	vals := map[string][]float64{}
	var order []string
	for _, r := range ds.Results {
		if r.GetConfig(".file") != file || !n.isRef(r) {
			continue
		}
		sig := n.signature(r)
		for _, v := range r.Values {
			k := sig + "\x00" + v.Unit
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], v.Value)
		}
	}
	out := map[string]*summary{}
	for _, k := range order {
		unit := k[strings.IndexByte(k, 0)+1:]
		out[k] = opts.summarize(unit, vals[k])
	}
	return out
}

// runFactors returns, per unit, the geometric mean of new/base over the
// references present in both files with positive centers: how much faster
// or slower the new run's machine was, estimated from every reference at
// once rather than from each row's own.
func runFactors(refs [2]map[string]*summary) map[string]float64 {
	// In the keys' order: a float sum in a map's order would change the
	// factor's last digits, and every normalized figure's, run to run.
	keys := make([]string, 0, len(refs[0]))
	for k := range refs[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	logs := map[string][]float64{}
	for _, k := range keys {
		b, n := refs[0][k], refs[1][k]
		if n == nil || b.Center <= 0 || n.Center <= 0 {
			continue
		}
		unit := k[strings.IndexByte(k, 0)+1:]
		logs[unit] = append(logs[unit], math.Log(float64(n.Center)/float64(b.Center)))
	}
	out := map[string]float64{}
	for u, l := range logs {
		var sum float64
		for _, v := range l {
			sum += v
		}
		out[u] = math.Exp(sum / float64(len(l)))
	}
	return out
}

// WriteGate prints the gate result as format: json, csv, md or text.
func WriteGate(w io.Writer, res *GateResult, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "csv":
		return writeGateCSV(w, res)
	}
	return writeGateText(w, res, format == "md")
}

// writeGateCSV writes a record per row, every figure in full, after the
// warnings as "# warning:" lines.
func writeGateCSV(w io.Writer, res *GateResult) error {
	if err := writeCSVComments(w, res.Warnings); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"name", "unit", "better", "exact", "normalized", "base_n", "base_center", "base_lo", "base_hi",
		"new_n", "new_center", "new_lo", "new_hi", "delta", "tolerance", "p", "p_adjusted", "verdict", "reason", "warnings"})
	g := func(x Num) string { return strconv.FormatFloat(float64(x), 'g', -1, 64) }
	gp := func(x *Num) string {
		if x == nil {
			return ""
		}
		return g(*x)
	}
	side := func(s *GateSide) []string {
		if s == nil {
			return []string{"0", "", "", ""}
		}
		return []string{strconv.Itoa(s.N), g(s.Center), g(s.Lo), g(s.Hi)}
	}
	for _, r := range res.Rows {
		rec := []string{r.Name, r.Unit, r.Better, strconv.FormatBool(r.Exact), strconv.FormatBool(r.Normalized)}
		rec = append(rec, side(r.Base)...)
		rec = append(rec, side(r.New)...)
		rec = append(rec, gp(r.Delta), g(Num(r.Tolerance)), gp(r.P), gp(r.PAdjusted), r.Verdict, r.Reason, strings.Join(r.Warnings, "; "))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// writeGateText writes the gate for a terminal (aligned columns) or as
// Markdown (md): its header and warnings, the table, then the rows'
// warnings, the notes and the verdicts, and the counts last, as a CI log
// is read from its end.
func writeGateText(w io.Writer, res *GateResult, md bool) error {
	bw := bufio.NewWriter(w)
	writeGateHeader(bw, res, md)
	if md {
		writeGateTable(bw, res, md)
	} else {
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		writeGateTable(tw, res, md)
		tw.Flush()
	}
	fmt.Fprintln(bw)
	writeGateFindings(bw, res, md)
	if md {
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "%d regression(s), %d missing, %d improvement(s), %d unchanged, %d new, %d inconclusive",
		res.Regression, res.Missing, res.Improved, res.Unchanged, res.NewRows, res.Unknown)
	if res.MissingAllowed > 0 {
		fmt.Fprintf(bw, ", %d missing as allowed", res.MissingAllowed)
	}
	if res.Rerun != "" {
		fmt.Fprintf(bw, ", %d not confirmed by the rerun", res.NotConfirmed)
	}
	fmt.Fprintln(bw)
	return bw.Flush()
}

// writeGateHeader writes what was gated against what, how, and the
// comparison's warnings.
func writeGateHeader(w io.Writer, res *GateResult, md bool) {
	norm := ""
	if res.Normalize != "" {
		norm = fmt.Sprintf(", normalized by %s", res.Normalize)
	}
	corr := ""
	if res.Corrected {
		corr = ", Holm–Bonferroni corrected"
	}
	paired := ""
	if res.Paired {
		paired = ", paired: delta is the median of the pairs' ratios, p the Wilcoxon signed-rank test's"
	}
	fmt.Fprintf(w, "gate: base %s, new %s (α=%g%s%s%s)\n\n", res.Base, res.New, res.Alpha, corr, norm, paired)
	for _, warn := range res.Warnings {
		if md {
			fmt.Fprintf(w, "> ⚠ %s\n\n", MDEscape(warn))
		} else {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	}
	if len(res.Warnings) > 0 && !md {
		fmt.Fprintln(w)
	}
}

// writeGateTable writes a line per row: its sides' centers (or ratios,
// normalized), delta, tolerance, p, sample sizes and verdict.
func writeGateTable(w io.Writer, res *GateResult, md bool) {
	line := func(cols ...string) {
		if md {
			for i := range cols {
				cols[i] = MDEscape(cols[i])
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cols, " | "))
			return
		}
		fmt.Fprintln(w, strings.Join(cols, "\t"))
	}
	line("benchmark", "unit", "base", "new", "delta", "tolerance", "p", "n", "verdict")
	if md {
		fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|---|")
	}
	for _, r := range res.Rows {
		unit := r.Unit
		if r.Normalized {
			unit += " (norm.)"
		}
		sideStr := func(s *GateSide) string {
			if s == nil {
				return "—"
			}
			v := FmtVal(float64(s.Center), r.Unit)
			if r.Normalized {
				v = strconv.FormatFloat(float64(s.Center), 'g', 4, 64) + "×"
			}
			return v
		}
		d, p := "", ""
		if r.Delta != nil {
			d = pctString(float64(*r.Delta))
			if math.IsInf(float64(*r.Delta), 1) {
				d = "+∞ (base 0)"
			}
		}
		if r.P != nil {
			p = FmtP(float64(*r.P))
			if r.PAdjusted != nil {
				p += " (adj " + FmtP(float64(*r.PAdjusted)) + ")"
			}
		} else if r.Exact {
			p = "exact"
		}
		n0, n1 := 0, 0
		if r.Base != nil {
			n0 = r.Base.N
		}
		if r.New != nil {
			n1 = r.New.N
		}
		v := r.Verdict
		if v == verdictRegression || v == verdictMissing {
			v = strings.ToUpper(v)
		}
		line(r.Name, unit, sideStr(r.Base), sideStr(r.New), d, fmtTol(r.Tolerance), p, fmt.Sprintf("%d+%d", n0, n1), v)
	}
}

// writeGateFindings writes the rows' warnings, the notes, then the rows
// whose verdict needs a reason, failures last. In Markdown each is a
// list item, not one paragraph of them all.
func writeGateFindings(w io.Writer, res *GateResult, md bool) {
	item := func(format string, a ...any) {
		if md {
			format = "- " + format
		}
		fmt.Fprintf(w, format, a...)
	}
	for _, r := range res.Rows {
		for _, warn := range r.Warnings {
			item("warning: %s %s: %s\n", r.Name, r.Unit, warn)
		}
	}
	for _, n := range res.Notes {
		item("note: %s\n", n)
	}
	if res.Rerun != "" {
		item("note: the regressed rows were rerun (%s): a regression stands only if the rerun finds it again\n", res.Rerun)
	}
	for _, r := range res.Rows {
		switch r.Verdict {
		case verdictInconclusive, verdictMissingAllowed, verdictNew, verdictNotConfirmed:
			item("%s %s %s: %s\n", r.Verdict, r.Name, r.Unit, r.Reason)
		}
	}
	for _, r := range res.Rows {
		switch r.Verdict {
		case verdictRegression, verdictMissing:
			item("%s %s %s: %s\n", strings.ToUpper(r.Verdict), r.Name, r.Unit, r.Reason)
		}
	}
}

// machineKeys are the configuration keys that tell machines and
// toolchains apart: times measured under different ones differ for
// reasons other than the code.
var machineKeys = []string{"cpu", "goos", "goarch", "go"}

// MachineDiffs describes each machine key whose value differs between
// two configurations, or that only one of them has.
func MachineDiffs(aName string, a []KV, bName string, b []KV) []string {
	get := func(cfg []KV, key string) (string, bool) {
		for _, c := range cfg {
			if c.Key == key {
				return c.Val, true
			}
		}
		return "", false
	}
	var out []string
	for _, k := range machineKeys {
		va, oka := get(a, k)
		vb, okb := get(b, k)
		switch {
		case oka == okb && va == vb:
		case !okb:
			out = append(out, fmt.Sprintf("%s is %q in %s, absent from %s", k, va, aName, bName))
		case !oka:
			out = append(out, fmt.Sprintf("%s is absent from %s, %q in %s", k, aName, vb, bName))
		default:
			out = append(out, fmt.Sprintf("%s is %q in %s, %q in %s", k, va, aName, vb, bName))
		}
	}
	return out
}
