// Benchreport turns plugbench results into reports and regression
// verdicts.
//
// Usage:
//
//	benchreport report [flags] [label=]file...
//	benchreport gate [flags] BASE NEW
//	benchreport ab [flags] -base REF
//
// # Model
//
// The inputs are files in the Go benchmark format
// (https://golang.org/design/14313-benchmark-format), such as the
// output of "go test -bench . -count 10". They are read with
// golang.org/x/perf/benchfmt: file configuration lines ("cpu: …",
// "go: go1.26.8", "wazero: v1.12.0", "commit: …") describe the
// environment, and "Unit NAME better=higher|lower assume=nothing|exact"
// lines describe custom units. The units sec/op, B/op and allocs/op
// (lower is better) and B/s (higher is better) are built in; any other
// unit must be declared or the input is rejected.
//
// Every measurement of one benchmark in one unit from one file is a
// sample. Results are grouped with golang.org/x/perf/benchproc
// projections, exactly like benchstat: -filter selects results, and
// for the report a sample's row is given by three projections:
//
//	-group .fullname  the rows that are compared with each other
//	-by /backend      the dimension being compared
//	-ignore /fixture,/transport  keys allowed to differ from the baseline
//
// Keys named by -by and -ignore are removed from .fullname, so
// "Call/op=min/backend=wasm/fixture=c-2" falls in the group
// "Call/op=min-2" as backend "wasm", fixture "c", and is compared with
// "Call/op=min/backend=static/fixture=builtin-2", the row of the same
// group whose -by value is the -baseline ("static"). Likewise an event
// through any transport ("Event/transport=json/shape=typical/…") is
// compared with static's Go value ("Event/transport=value/…").
//
// Every statistic comes from golang.org/x/perf/benchmath under the
// unit's assumption: for the default "assume=nothing", the center is
// the median with its distribution-free confidence interval, and two
// samples are compared with the Mann–Whitney U test. A ratio to the
// baseline is the ratio of the centers; its interval is
// [lo/base_hi, hi/base_lo] from the two centers' intervals, each
// computed at √confidence when the sample is large enough. The samples
// are independent, so the interval's coverage is at least the product
// of the two actual levels; that product is reported (ratio_confidence,
// "≥93% CI" in findings) rather than assumed.
//
// When a group has no baseline row (e.g. "Setup/phase=load/cache=none",
// since static has no cache key), the baseline is the static row whose
// name keys are a subset of the row's ("Setup/phase=load").
//
// # Report
//
//	benchreport report [-format md|html|csv|json] [-o FILE] [-baseline static]
//		[-filter Q] [-group P] [-by P] [-ignore P] [-alpha 0.05]
//		[-confidence 0.95] [-min-samples 6] [-charts DIR] [-chart-format svg|png]
//		[label=]file...
//
// For every group it lists each backend's center with its confidence
// interval, its ratio to the baseline with an interval, the p-value of
// the comparison and the sample size; samples smaller than -min-samples
// are flagged. It adds an environment block built from the file
// configuration, findings generated from the data (every difference
// quoted is significant), and charts drawn with gonum.org/v1/plot:
// per-call cost as a ratio to the baseline (log scale, whiskers),
// payload cost against size (log–log) and setup phases per backend.
// Markdown charts are written as SVG (or PNG) files in charts/ beside
// -o and linked; the HTML page is a single self-contained file with
// the charts inline. CSV and JSON carry the raw numbers.
//
// # Gate
//
//	benchreport gate [-tolerance 5%] [-thresholds FILE] [-normalize REF]
//		[-correct] [-allow-inconclusive] [-min-samples 6] [-filter Q]
//		[-row P] [-ignore P] [-format text|md|csv|json] BASE NEW
//
// Every benchmark (the -row projection, .fullname by default) and unit
// of NEW is compared with BASE. For noisy units a row is a regression
// only if the change is both significant (Mann–Whitney U p < α, or the
// Holm–Bonferroni adjusted p with -correct) and beyond the tolerance in
// the worse direction; an improvement if significant and beyond the
// tolerance in the better direction; unchanged otherwise. B/op,
// allocs/op and assume=exact units are compared by their centers alone:
// any worsening beyond their tolerance (0 by default) fails. A row is
// inconclusive if it is missing from one file, has fewer than
// -min-samples samples on a side, or has too few samples for any
// outcome to be significant.
//
// A thresholds file has one "NAME-REGEXP TOLERANCE [UNIT]" per line
// ("#" starts a comment), e.g. "Call/op=min/backend=wasm 10%". The
// regexp is matched against the benchmark name without "Benchmark";
// the first matching line wins. A line without UNIT applies to the
// noisy units only.
//
// -normalize REF divides every benchmark's noisy units (time) by its
// reference in the same file before comparing, to cancel out a machine
// that is uniformly faster or slower; exact units (allocs/op, B/op) are
// counts, the same on any machine, and are compared as they are. REF is either name keys ("backend=static" or
// "/backend:static"): the reference of a benchmark is the one with
// those key values that otherwise agrees on every name key except the
// -normalize-ignore keys (default "fixture,transport"); or a benchmark name
// ("BenchmarkRef/op=min/impl=cgo") used for all benchmarks. Values are
// divided by the reference's center; the reference rows' time is not gated.
//
// # A/B runs
//
//	benchreport ab -base REF [-pkg ./bench] [-bench RE] [-benchtime 1s]
//		[-rounds 10] [-o DIR] [gate flags]
//
// builds the test binary of -pkg at REF (in a temporary git worktree)
// and in the working tree with "go test -c", runs them interleaved
// (base, new, base, new, …) -rounds times, writes DIR/base.txt and
// DIR/new.txt and gates them.
//
// # Exit status
//
//	0  no regression (or -h)
//	1  a regression (gate, ab); takes precedence over inconclusive rows
//	2  bad usage or input, or an inconclusive row without -allow-inconclusive
//
// Input errors (syntax errors, truncated lines, unknown units, empty or
// missing files) are all reported, as "file:line: message" or
// "file: message", and exit with status 2.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	err := run(os.Stdout, os.Stderr, os.Args[1:])
	os.Exit(exitCode(os.Stderr, err))
}

// Exit statuses.
const (
	exitOK         = 0
	exitRegression = 1
	exitBad        = 2
)

// usageError is a bad command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// flagError is a flag parsing error; the flag package has already
// printed it along with the usage.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }
func (e flagError) Unwrap() error { return e.err }

// gateError reports a gate verdict other than "pass". The table has
// already been printed.
type gateError struct {
	code int
	msg  string
}

func (e *gateError) Error() string { return e.msg }

// exitCode prints err to stderr (unless it is a flag.ErrHelp-style
// usage error that was already reported) and returns the exit status.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ie inputErrors
	var ge *gateError
	var ue usageError
	var fe flagError
	switch {
	case errors.As(err, &fe):
		if isFlagHelp(fe.err) {
			return exitOK
		}
		return exitBad
	case errors.As(err, &ie):
		fmt.Fprintln(stderr, ie.Error())
		return exitBad
	case errors.As(err, &ge):
		fmt.Fprintf(stderr, "benchreport: %s\n", ge.msg)
		return ge.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "benchreport: %s\n", ue.err)
		return exitBad
	}
	fmt.Fprintf(stderr, "benchreport: %s\n", err)
	return exitBad
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: benchreport <command> [flags] args...

Commands:
  report [flags] [label=]file...   summarize results as md, html, csv or json
  gate [flags] BASE NEW            fail (exit 1) on a significant regression
  ab [flags] -base REF             run ./bench at REF and in the working tree, then gate

Run "benchreport <command> -h" for the flags of a command.
`)
}

// run is the whole program: main only maps its error to an exit status.
func run(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		usage(stderr)
		return usageError{errors.New("no command")}
	}
	switch args[0] {
	case "report":
		return cmdReport(stdout, stderr, args[1:])
	case "gate":
		return cmdGate(stdout, stderr, args[1:])
	case "ab":
		return cmdAB(stdout, stderr, args[1:])
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}
