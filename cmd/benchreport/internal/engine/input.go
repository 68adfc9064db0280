package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// An input is one benchmark results file named on the command line.
type Input struct {
	Label string // value of the .file key (label=path, or the path)
	Path  string

	// Config holds the file configuration lines in order of first
	// appearance. If a key is set to several values within the file,
	// the first one is kept in Config and the others are noted in
	// ConfigConflicts.
	Config          []KV
	ConfigConflicts map[string]bool

	NResults int // results read before filtering

	// Ran holds the names of the benchmarks with results in the file
	// (before filtering), as go test prints them in a "--- SKIP:"
	// line: with "Benchmark", without the GOMAXPROCS suffix.
	Ran map[string]bool
}

type KV struct{ Key, Val string }

// A Dataset is the parsed content of all inputs: the results that passed
// the filter and the unit metadata collected from all files.
type Dataset struct {
	Inputs  []*Input
	Results []*benchfmt.Result // cloned, filtered
	Units   benchfmt.UnitMetadataMap

	// Failed holds the first line of each file that shows a failed
	// run; it is only ever non-empty with ParseOpts.AllowFailed.
	Failed []FailedRun
	// NotRun lists the rows that printed a "--- SKIP:" or "--- FAIL:"
	// block and no results, file by file (filtered like the results).
	NotRun []NotRun
}

// ParseOpts are the choices of the command that reads the inputs.
type ParseOpts struct {
	Cmd         string // "report", "gate": for messages
	AllowFailed bool   // read a failed run anyway (report -allow-failed)
	// BaseNames labels an input given without "label=" by the base
	// name of its path rather than the whole path, when the base
	// names of the inputs differ.
	BaseNames bool
}

// InputErrors is a list of problems in the input files. Each error is
// printed on its own line in "file:line: message" form and the
// program exits with status 2.
type InputErrors []error

func (e InputErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// MaxInputErrors bounds how many input errors are reported.
const MaxInputErrors = 20

// ParseInputArgs splits "label=path" arguments. Like benchfmt.Files,
// an argument without "=" uses the path as its label (or, with
// baseNames, its base name if no other input has the same);
// repeated unlabelled paths are disambiguated with "#N".
func ParseInputArgs(args []string, baseNames bool) []*Input {
	count := map[string]int{}
	var ins []*Input
	for _, a := range args {
		in := &Input{Label: a, Path: a}
		if i := strings.Index(a, "="); i >= 0 {
			in.Label, in.Path = a[:i], a[i+1:]
		} else {
			count[a]++
		}
		ins = append(ins, in)
	}
	seen := map[string]int{}
	for _, in := range ins {
		if in.Label == in.Path && count[in.Path] > 1 {
			in.Label = fmt.Sprintf("%s#%d", in.Path, seen[in.Path])
			seen[in.Path]++
		}
	}
	if baseNames {
		labels := map[string]int{}
		for _, in := range ins {
			labels[in.Label]++
			if in.Label == in.Path {
				labels[filepath.Base(in.Path)]++
			}
		}
		for _, in := range ins {
			if b := filepath.Base(in.Path); in.Label == in.Path && labels[b] == 1 {
				in.Label = b
			}
		}
	}
	return ins
}

// ReadFiles reads the named inputs ("[label=]path") from disk.
func ReadFiles(args []string, filter *benchproc.Filter, opts ParseOpts) (*Dataset, error) {
	ins := ParseInputArgs(args, opts.BaseNames)
	data := make([][]byte, len(ins))
	var errs InputErrors
	for i, in := range ins {
		b, err := os.ReadFile(in.Path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: %w", in.Path, err))
			continue
		}
		data[i] = b
	}
	// A file given twice would be compared with itself: a report of
	// nothing, a gate that cannot fail.
	for i, in := range ins {
		fi, err := os.Stat(in.Path)
		if err != nil {
			continue
		}
		for _, o := range ins[:i] {
			if fo, err := os.Stat(o.Path); err == nil && os.SameFile(fi, fo) {
				errs = append(errs, fmt.Errorf("%s: the same file as %s: a file compared with itself shows nothing (give two runs)", in.Path, o.Path))
				break
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return ParseInputs(ins, data, filter, opts)
}

// ParseInputs parses data[i] as the content of ins[i]. Every syntax
// error is fatal: a results file that does not parse cleanly is more
// likely truncated or corrupted than worth a partial report. So is a
// file that shows its run failed, unless opts.AllowFailed.
func ParseInputs(ins []*Input, data [][]byte, filter *benchproc.Filter, opts ParseOpts) (*Dataset, error) {
	ds := &Dataset{Inputs: ins, Units: benchfmt.UnitMetadataMap{}}
	var errs InputErrors
	addErr := func(err error) {
		if len(errs) < MaxInputErrors {
			errs = append(errs, err)
		}
	}
	badMeta := map[string]bool{}
	for i, in := range ins {
		b := data[i]
		failed, notRun := scanRun(in.Label, b)
		if failed != nil {
			if opts.AllowFailed {
				ds.Failed = append(ds.Failed, *failed)
			} else {
				advice := "rerun, or pass -allow-failed to report what it measured"
				if opts.Cmd != "report" {
					advice = "rerun it (the gate never accepts a failed run)"
				}
				addErr(fmt.Errorf("%s:%d: a failed run (%s): its results cannot be trusted; %s", in.Path, failed.Line, QuoteLine(failed.Text), advice))
			}
		}
		// One reader per file, so that a Unit line of one file that
		// contradicts another's is reported with both positions
		// (a shared benchfmt.Reader would report the second only).
		var r benchfmt.Reader
		r.Reset(bytes.NewReader(b), in.Path, ".file", in.Label)
		in.ConfigConflicts = map[string]bool{}
		seenCfg := map[string]string{}
		ran := map[string]bool{}
		in.Ran = ran
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
				if first, ok := ds.Units[rec.UnitMetadataKey]; ok {
					if first.Value != rec.Value {
						addErr(unitConflict(first, rec))
					}
					continue
				}
				ds.Units[rec.UnitMetadataKey] = rec
			case *benchfmt.Result:
				in.NResults++
				for _, c := range rec.Config {
					if !c.File {
						continue
					}
					v := string(c.Value)
					if old, ok := seenCfg[c.Key]; !ok {
						seenCfg[c.Key] = v
						in.Config = append(in.Config, KV{c.Key, v})
					} else if old != v {
						in.ConfigConflicts[c.Key] = true
					}
				}
				ran[resultName(rec)] = true
				if err := checkValues(rec); err != nil {
					addErr(err)
					continue
				}
				ok, err := filter.Apply(rec)
				if !ok {
					_ = err // the reason a result was filtered out is not an error
					continue
				}
				ds.Results = append(ds.Results, rec.Clone())
			}
		}
		if err := r.Err(); err != nil {
			addErr(fmt.Errorf("%s: %w", in.Path, err))
			continue
		}
		if n, ok := truncatedLine(b); ok {
			addErr(fmt.Errorf("%s:%d: truncated benchmark line (file does not end in a newline)", in.Path, n))
		}
		notRun = keepNotRun(notRun, ran, in, filter)
		ds.NotRun = append(ds.NotRun, notRun...)
		if in.NResults == 0 && isBinary(b) {
			addErr(fmt.Errorf("%s: not the output of go test -bench: a binary file (give the text go test prints, e.g. go test -bench . > results.txt)", in.Path))
			continue
		}
		if in.NResults == 0 {
			msg := "no benchmark results"
			if len(notRun) > 0 {
				msg += fmt.Sprintf(" (%d rows did not run, e.g. %s: %s)", len(notRun), notRun[0].Name, NonEmpty(FirstLine(notRun[0].Reason), notRun[0].Status))
			}
			addErr(fmt.Errorf("%s: %s", in.Path, msg))
		}
	}
	// Check units only after all files are read: Unit lines may
	// follow the results they describe.
	reported := map[string]bool{}
	for _, res := range ds.Results {
		for _, v := range res.Values {
			if ds.Units.GetBetter(v.Unit) != 0 || reported[v.Unit] || badMeta[v.Unit] {
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
	if len(ds.Results) == 0 {
		return nil, errors.New("no benchmark results match -filter")
	}
	return ds, nil
}

func FirstLine(s string) string {
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
func NameParts(name benchfmt.Name) (base string, parts []KV, procs string) {
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
				parts = append(parts, KV{s[:i], s[i+1:]})
			} else {
				parts = append(parts, KV{"", s})
			}
		}
	}
	return base, parts, procs
}

func Lookup(parts []KV, key string) string {
	for _, p := range parts {
		if p.Key == key {
			return p.Val
		}
	}
	return ""
}

// isBinary reports whether b looks like a binary file rather than text:
// a NUL byte, or bytes that are not UTF-8, in its first 8 KiB.
func isBinary(b []byte) bool {
	head := b[:min(len(b), 8<<10)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if len(head) < len(b) { // cut: drop a character the cut may have split
		for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
			head = head[:len(head)-1]
		}
	}
	return !utf8.Valid(head)
}
