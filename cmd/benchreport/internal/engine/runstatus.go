package engine

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// A results file says more than its results: "go test" prints lines
// that show the run failed, and blocks for the benchmarks that did not
// run. benchfmt ignores both; they are read here, in a pass over the
// raw bytes.

// failedRunLine matches a line that shows the run failed: go test's
// "FAIL" and "FAIL\tpkg\t1.2s", a failed test or benchmark, a panic, a
// fatal runtime error, a signal, or a test binary killed by -timeout.
var failedRunLine = regexp.MustCompile(`^(?:FAIL\b|--- FAIL: |panic: |fatal error: |\[signal |SIG[A-Z]+: |signal: |\*\*\* Test killed)`)

// A FailedRun is the first line of a file that shows its run failed.
type FailedRun struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// A NotRun is a benchmark that printed a "--- SKIP:" or "--- FAIL:"
// block instead of results.
type NotRun struct {
	File   string `json:"file"`
	Name   string `json:"name"`
	Status string `json:"status"` // "skipped" or "failed"
	Reason string `json:"reason"` // lines joined with "\n"
	// ByDesign is set for a skip whose reason began "by design: " (which
	// Reason no longer holds): the benchmark cannot run there, and said
	// so, rather than could not. The report lists such rows apart.
	ByDesign bool `json:"by_design,omitempty"`
}

// ByDesignPrefix begins the reason of a benchmark that skips by design
// (NotRun.ByDesign).
const ByDesignPrefix = "by design: "

// Statuses of a NotRun.
const (
	NotRunSkipped = "skipped"
	NotRunFailed  = "failed"
)

var (
	// elapsedSuffix is the " (0.00s)" that go test -v appends to
	// a "--- SKIP:" or "--- FAIL:" line.
	elapsedSuffix = regexp.MustCompile(` \(\d+(?:\.\d+)?s\)$`)
	// logPrefix is the "file.go:NN: " of a t.Log line.
	logPrefix = regexp.MustCompile(`^[^\s:]+\.go:\d+: `)
)

// quoteLine quotes a line of input for a message, shortened if long.
func QuoteLine(s string) string {
	const max = 120
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// scanRun finds the first line of b that shows a failed run (nil if
// none), and the blocks of the benchmarks that did not run, in order,
// without duplicates. A block is
//
//	--- SKIP: BenchmarkName[ (0.00s)]
//	    [file.go:NN: ]first line of the reason
//	        continuation lines, indented 4 more
//
// or the same with "--- FAIL:". The reason is the first log line
// without its "file.go:NN: " prefix, with its continuation lines.
// Under -v, go test prints a row's log lines before its "--- SKIP:"
// line instead: a header with no reason after it takes the last log
// message of the indented lines just above it. Duplicates (the suite's
// block and go test's own) are merged, keeping a reason, and "failed"
// wins over "skipped". Only names starting with "Benchmark" are kept.
func scanRun(file string, b []byte) (*FailedRun, []NotRun) {
	var failed *FailedRun
	var out []NotRun
	index := map[string]int{}
	lines := bytes.Split(b, []byte("\n"))
	text := func(i int) string { return strings.TrimRight(string(lines[i]), "\r") }
	indentOf := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	// reasonAt reads a log message starting at line j, for a header
	// indented by indent, and returns it and its last line.
	reasonAt := func(j, indent int) (string, int) {
		reason := []string{logPrefix.ReplaceAllString(strings.TrimSpace(text(j)), "")}
		for j+1 < len(lines) && indentOf(text(j+1)) >= indent+8 {
			j++
			reason = append(reason, strings.TrimSpace(text(j)))
		}
		return strings.TrimRight(strings.Join(reason, "\n"), "\n"), j
	}
	used := -1 // the last line read as part of a block
	for i := 0; i < len(lines); i++ {
		line := text(i)
		if failed == nil && failedRunLine.MatchString(line) {
			failed = &FailedRun{File: file, Line: i + 1, Text: line}
		}
		trimmed := strings.TrimLeft(line, " ")
		var status string
		switch {
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			status = NotRunSkipped
		case strings.HasPrefix(trimmed, "--- FAIL: "):
			status = NotRunFailed
		default:
			continue
		}
		indent := indentOf(line)
		name := strings.TrimSpace(elapsedSuffix.ReplaceAllString(trimmed[len("--- SKIP: "):], ""))
		isLog := func(s string) bool {
			return indentOf(s) >= indent+4 && strings.TrimSpace(s) != "" && !strings.HasPrefix(strings.TrimSpace(s), "--- ")
		}
		var reason string
		if i+1 < len(lines) && isLog(text(i+1)) {
			reason, i = reasonAt(i+1, indent)
		} else {
			// go test -v: the log lines come first. Find the start
			// of the last message among the indented lines above.
			for j := i - 1; j > used && isLog(text(j)); j-- {
				if indentOf(text(j)) < indent+8 {
					reason, _ = reasonAt(j, indent)
					break
				}
			}
		}
		used = i
		if !strings.HasPrefix(name, "Benchmark") || strings.ContainsAny(name, " \t") {
			continue
		}
		nr := NotRun{File: file, Name: name, Status: status, Reason: reason}
		if rest, ok := strings.CutPrefix(reason, ByDesignPrefix); ok && status == NotRunSkipped {
			nr.Reason, nr.ByDesign = rest, true
		}
		k, ok := index[name]
		if !ok {
			index[name] = len(out)
			out = append(out, nr)
			continue
		}
		have := &out[k]
		if nr.Status == NotRunFailed && have.Status != NotRunFailed {
			have.Status, have.ByDesign = NotRunFailed, false
			if nr.Reason != "" {
				have.Reason = nr.Reason
			}
		}
		if have.Reason == "" {
			have.Reason = nr.Reason
		}
	}
	return failed, out
}

// resultName is a result's name as go test prints it in a "--- SKIP:"
// line: with "Benchmark", without the GOMAXPROCS suffix.
func resultName(res *benchfmt.Result) string {
	name := string(res.Name)
	if _, parts := res.Name.Parts(); len(parts) > 0 {
		if last := parts[len(parts)-1]; bytes.HasPrefix(last, []byte("-")) {
			name = strings.TrimSuffix(name, string(last))
		}
	}
	return "Benchmark" + name
}

// keepNotRun drops the rows that ran after all (they have results in
// the same file, e.g. a -count run that skipped once), and the parents
// that failed only because a sub-benchmark did ("--- FAIL: BenchmarkCall"
// with no reason of its own). Then it applies the filter: a row is
// kept if the filter keeps any measurement a row of that name could
// have.
func keepNotRun(nrs []NotRun, ran map[string]bool, in *Input, filter *benchproc.Filter) []NotRun {
	var out []NotRun
	for _, nr := range nrs {
		if ran[nr.Name] {
			continue
		}
		if nr.Reason == "" && isParent(nr.Name, nrs, ran) {
			continue
		}
		res := &benchfmt.Result{Name: benchfmt.Name(strings.TrimPrefix(nr.Name, "Benchmark")), Iters: 1}
		for _, c := range in.Config {
			res.SetConfig(c.Key, c.Val)
		}
		res.SetConfig(".file", in.Label)
		for _, unit := range []string{"sec/op", "B/op", "allocs/op"} {
			res.Values = append(res.Values, benchfmt.Value{Unit: unit})
		}
		if m, _ := filter.Match(res); !m.Any() {
			continue
		}
		out = append(out, nr)
	}
	return out
}

func isParent(name string, nrs []NotRun, ran map[string]bool) bool {
	prefix := name + "/"
	for _, o := range nrs {
		if strings.HasPrefix(o.Name, prefix) {
			return true
		}
	}
	for r := range ran {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}
