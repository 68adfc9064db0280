package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// An input is one benchmark results file named on the command line.
type input struct {
	label string // value of the .file key (label=path, or the path)
	path  string

	// config holds the file configuration lines in order of first
	// appearance. If a key is set to several values within the file,
	// the first one is kept in config and the others are noted in
	// configConflicts.
	config          []kv
	configConflicts map[string]bool

	nResults int // results read before filtering

	// deadBackends are the values of the "backend" name key that
	// appear only in rows that did not run (see backendsNotRun).
	deadBackends []string
}

type kv struct{ key, val string }

// A dataset is the parsed content of all inputs: the results that passed
// the filter and the unit metadata collected from all files.
type dataset struct {
	inputs  []*input
	results []*benchfmt.Result // cloned, filtered
	units   benchfmt.UnitMetadataMap

	// failed holds the first line of each file that shows a failed
	// run; it is only ever non-empty with parseOpts.allowFailed.
	failed []FailedRun
	// notRun lists the rows that printed a "--- SKIP:" or "--- FAIL:"
	// block and no results, file by file (filtered like the results).
	notRun []NotRun
}

// parseOpts are the choices of the command that reads the inputs.
type parseOpts struct {
	cmd         string // "report", "gate": for messages
	allowFailed bool   // read a failed run anyway (report -allow-failed)
}

// inputErrors is a list of problems in the input files. Each error is
// printed on its own line in "file:line: message" form and the
// program exits with status 2.
type inputErrors []error

func (e inputErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// maxInputErrors bounds how many input errors are reported.
const maxInputErrors = 20

// parseInputArgs splits "label=path" arguments. Like benchfmt.Files,
// an argument without "=" uses the path as its label; repeated
// unlabelled paths are disambiguated with "#N".
func parseInputArgs(args []string) []*input {
	count := map[string]int{}
	var ins []*input
	for _, a := range args {
		in := &input{label: a, path: a}
		if i := strings.Index(a, "="); i >= 0 {
			in.label, in.path = a[:i], a[i+1:]
		} else {
			count[a]++
		}
		ins = append(ins, in)
	}
	seen := map[string]int{}
	for _, in := range ins {
		if in.label == in.path && count[in.path] > 1 {
			in.label = fmt.Sprintf("%s#%d", in.path, seen[in.path])
			seen[in.path]++
		}
	}
	return ins
}

// readFiles reads the named inputs from disk.
func readFiles(args []string, filter *benchproc.Filter, opts parseOpts) (*dataset, error) {
	ins := parseInputArgs(args)
	data := make([][]byte, len(ins))
	var errs inputErrors
	for i, in := range ins {
		b, err := os.ReadFile(in.path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: %w", in.path, err))
			continue
		}
		data[i] = b
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return parseInputs(ins, data, filter, opts)
}

// parseInputs parses data[i] as the content of ins[i]. Every syntax
// error is fatal: a results file that does not parse cleanly is more
// likely truncated or corrupted than worth a partial report. So is a
// file that shows its run failed, unless opts.allowFailed.
func parseInputs(ins []*input, data [][]byte, filter *benchproc.Filter, opts parseOpts) (*dataset, error) {
	ds := &dataset{inputs: ins, units: benchfmt.UnitMetadataMap{}}
	var errs inputErrors
	addErr := func(err error) {
		if len(errs) < maxInputErrors {
			errs = append(errs, err)
		}
	}
	badMeta := map[string]bool{}
	for i, in := range ins {
		b := data[i]
		failed, notRun := scanRun(in.label, b)
		if failed != nil {
			if opts.allowFailed {
				ds.failed = append(ds.failed, *failed)
			} else {
				advice := "rerun, or pass -allow-failed to report what it measured"
				if opts.cmd != "report" {
					advice = "rerun it (the gate never accepts a failed run)"
				}
				addErr(fmt.Errorf("%s:%d: a failed run (%s): its results cannot be trusted; %s", in.path, failed.Line, quoteLine(failed.Text), advice))
			}
		}
		// One reader per file, so that a Unit line of one file that
		// contradicts another's is reported with both positions
		// (a shared benchfmt.Reader would report the second only).
		var r benchfmt.Reader
		r.Reset(bytes.NewReader(b), in.path, ".file", in.label)
		in.configConflicts = map[string]bool{}
		seenCfg := map[string]string{}
		ran, ranBackends := map[string]bool{}, map[string]bool{}
		for r.Scan() {
			switch rec := r.Result().(type) {
			case *benchfmt.SyntaxError:
				addErr(rec)
			case *benchfmt.UnitMetadata:
				if err := checkMetadata(rec); err != nil {
					badMeta[rec.Unit] = true
					addErr(err)
					continue
				}
				if err := checkBuiltinUnit(rec); err != nil {
					addErr(err)
					continue
				}
				if first, ok := ds.units[rec.UnitMetadataKey]; ok {
					if first.Value != rec.Value {
						addErr(unitConflict(first, rec))
					}
					continue
				}
				ds.units[rec.UnitMetadataKey] = rec
			case *benchfmt.Result:
				in.nResults++
				for _, c := range rec.Config {
					if !c.File {
						continue
					}
					v := string(c.Value)
					if old, ok := seenCfg[c.Key]; !ok {
						seenCfg[c.Key] = v
						in.config = append(in.config, kv{c.Key, v})
					} else if old != v {
						in.configConflicts[c.Key] = true
					}
				}
				ran[resultName(rec)] = true
				if _, parts, _ := nameParts(rec.Name); lookup(parts, "backend") != "" {
					ranBackends[lookup(parts, "backend")] = true
				}
				if err := checkValues(rec); err != nil {
					addErr(err)
					continue
				}
				ok, err := filter.Apply(rec)
				if !ok {
					_ = err // the reason a result was filtered out is not an error
					continue
				}
				ds.results = append(ds.results, rec.Clone())
			}
		}
		if err := r.Err(); err != nil {
			addErr(fmt.Errorf("%s: %w", in.path, err))
			continue
		}
		if n, ok := truncatedLine(b); ok {
			addErr(fmt.Errorf("%s:%d: truncated benchmark line (file does not end in a newline)", in.path, n))
		}
		notRun = keepNotRun(notRun, ran, in, filter)
		ds.notRun = append(ds.notRun, notRun...)
		in.deadBackends = backendsNotRun(notRun, ranBackends)
		if in.nResults == 0 {
			msg := "no benchmark results"
			if len(notRun) > 0 {
				msg += fmt.Sprintf(" (%d rows did not run, e.g. %s: %s)", len(notRun), notRun[0].Name, nonEmpty(firstLine(notRun[0].Reason), notRun[0].Status))
			}
			addErr(fmt.Errorf("%s: %s", in.path, msg))
		}
	}
	// Check units only after all files are read: Unit lines may
	// follow the results they describe.
	reported := map[string]bool{}
	for _, res := range ds.results {
		for _, v := range res.Values {
			if ds.units.GetBetter(v.Unit) != 0 || reported[v.Unit] || badMeta[v.Unit] {
				continue
			}
			reported[v.Unit] = true
			file, line := res.Pos()
			unit := v.Unit
			if v.OrigUnit != "" {
				unit = v.OrigUnit
			}
			addErr(fmt.Errorf("%s:%d: unknown unit %q (add a line \"Unit %s better=higher\" or \"better=lower\")", file, line, unit, unit))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(ds.results) == 0 {
		return nil, errors.New("no benchmark results match -filter")
	}
	return ds, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkValues rejects measurements no benchmark can produce.
func checkValues(res *benchfmt.Result) error {
	for _, v := range res.Values {
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) || v.Value < 0 {
			file, line := res.Pos()
			return fmt.Errorf("%s:%d: invalid measurement %v %s", file, line, v.Value, v.Unit)
		}
	}
	if res.Iters <= 0 {
		file, line := res.Pos()
		return fmt.Errorf("%s:%d: invalid iteration count %d", file, line, res.Iters)
	}
	return nil
}

// checkMetadata validates the predefined unit metadata keys.
func checkMetadata(u *benchfmt.UnitMetadata) error {
	file, line := u.Pos()
	switch u.Key {
	case "better":
		if u.Value != "higher" && u.Value != "lower" {
			return fmt.Errorf("%s:%d: unit %s: better=%s: want higher or lower", file, line, u.OrigUnit, u.Value)
		}
	case "assume":
		if u.Value != "nothing" && u.Value != "exact" {
			return fmt.Errorf("%s:%d: unit %s: assume=%s: want nothing or exact", file, line, u.OrigUnit, u.Value)
		}
	}
	return nil
}

// builtinUnits are the units whose meaning is fixed: the direction
// benchfmt and benchstat give them, and the assumption this tool
// summarizes them with (medians and the Mann–Whitney U test; the gate
// compares B/op and allocs/op exactly whatever their metadata). They
// are keyed by benchfmt's tidied unit: "ns/op" is "sec/op", "MB/s" is
// "B/s". A Unit line may restate a built-in unit's meaning, not change
// it: a file that could declare "Unit ns/op better=higher" could turn
// every slowdown into an improvement.
var builtinUnits = map[string]struct{ better, assume string }{
	"sec/op":    {"lower", "nothing"},
	"B/op":      {"lower", "nothing"},
	"allocs/op": {"lower", "nothing"},
	"B/s":       {"higher", "nothing"},
}

// checkBuiltinUnit rejects metadata that contradicts a built-in unit.
func checkBuiltinUnit(u *benchfmt.UnitMetadata) error {
	b, ok := builtinUnits[u.Unit]
	if !ok {
		return nil
	}
	want := b.better
	switch u.Key {
	case "better":
	case "assume":
		want = b.assume
	default:
		return nil
	}
	if u.Value == want {
		return nil
	}
	name := u.OrigUnit
	if name != u.Unit {
		name += " (" + u.Unit + ")"
	}
	file, line := u.Pos()
	return fmt.Errorf("%s:%d: Unit %s %s=%s contradicts the built-in unit %s, which is better=%s assume=%s: a Unit line may not change a built-in unit; remove it",
		file, line, u.OrigUnit, u.Key, u.Value, name, b.better, b.assume)
}

// unitConflict reports a Unit line that contradicts the declaration of
// the same unit in an earlier file.
func unitConflict(first, u *benchfmt.UnitMetadata) error {
	f0, l0 := first.Pos()
	f1, l1 := u.Pos()
	return fmt.Errorf("%s:%d: Unit %s %s=%s contradicts %s:%d (Unit %s %s=%s): the files must agree on what a unit means",
		f1, l1, u.OrigUnit, u.Key, u.Value, f0, l0, first.OrigUnit, first.Key, first.Value)
}

// truncatedLine reports whether b ends in a benchmark line that is not
// terminated by a newline, and that line's number. "go test" always
// terminates its output, so this indicates a truncated file.
func truncatedLine(b []byte) (int, bool) {
	if len(b) == 0 || b[len(b)-1] == '\n' {
		return 0, false
	}
	last := b[bytes.LastIndexByte(b, '\n')+1:]
	if !bytes.HasPrefix(last, []byte("Benchmark")) {
		return 0, false
	}
	return bytes.Count(b, []byte("\n")) + 1, true
}

// nameParts splits a benchmark name (without the "Benchmark" prefix)
// into its base name, its key=value parts in order, and GOMAXPROCS.
// Positional parts get the key "" and their text as value.
func nameParts(name benchfmt.Name) (base string, parts []kv, procs string) {
	b, ps := name.Parts()
	base = string(b)
	for _, p := range ps {
		s := string(p)
		switch {
		case strings.HasPrefix(s, "-"):
			procs = s[1:]
		case strings.HasPrefix(s, "/"):
			s = s[1:]
			if i := strings.Index(s, "="); i >= 0 {
				parts = append(parts, kv{s[:i], s[i+1:]})
			} else {
				parts = append(parts, kv{"", s})
			}
		}
	}
	return base, parts, procs
}

func lookup(parts []kv, key string) string {
	for _, p := range parts {
		if p.key == key {
			return p.val
		}
	}
	return ""
}
