package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
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
}

type kv struct{ key, val string }

// A dataset is the parsed content of all inputs: the results that passed
// the filter and the unit metadata collected from all files.
type dataset struct {
	inputs  []*input
	results []*benchfmt.Result // cloned, filtered
	units   benchfmt.UnitMetadataMap
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
func readFiles(args []string, filter *benchproc.Filter) (*dataset, error) {
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
	return parseInputs(ins, data, filter)
}

// parseInputs parses data[i] as the content of ins[i]. Every syntax
// error is fatal: a results file that does not parse cleanly is more
// likely truncated or corrupted than worth a partial report.
func parseInputs(ins []*input, data [][]byte, filter *benchproc.Filter) (*dataset, error) {
	ds := &dataset{inputs: ins}
	var errs inputErrors
	addErr := func(err error) {
		if len(errs) < maxInputErrors {
			errs = append(errs, err)
		}
	}
	var r benchfmt.Reader
	for i, in := range ins {
		b := data[i]
		r.Reset(bytes.NewReader(b), in.path, ".file", in.label)
		in.configConflicts = map[string]bool{}
		seenCfg := map[string]string{}
		for r.Scan() {
			switch rec := r.Result().(type) {
			case *benchfmt.SyntaxError:
				addErr(rec)
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
		if in.nResults == 0 {
			addErr(fmt.Errorf("%s: no benchmark results", in.path))
		}
	}
	ds.units = r.Units()
	if ds.units == nil {
		ds.units = benchfmt.UnitMetadataMap{}
	}
	badMeta := map[string]bool{}
	var metaErrs []error
	for _, u := range ds.units {
		if err := checkMetadata(u); err != nil {
			badMeta[u.Unit] = true
			metaErrs = append(metaErrs, err)
		}
	}
	// Map iteration order is random: sort for stable messages.
	sort.Slice(metaErrs, func(i, j int) bool { return metaErrs[i].Error() < metaErrs[j].Error() })
	for _, err := range metaErrs {
		addErr(err)
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
