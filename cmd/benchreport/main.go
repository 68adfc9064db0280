// Benchreport turns Go benchmark results, plugbench's and anyone
// else's, into reports and regression verdicts.
//
// Usage:
//
//	benchreport report [flags] [label=]file...
//	benchreport gate [flags] BASE NEW
//	benchreport ab [flags] -base REF
//	benchreport choose [-faults FILE] [-readme FILE] file
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
// A built-in unit's meaning is fixed: better as above and
// assume=nothing (the gate compares B/op and allocs/op exactly
// whatever their metadata). A Unit line may restate it but not change
// it: "Unit ns/op better=higher" (benchfmt reads ns/op as sec/op, MB/s
// as B/s) or "Unit allocs/op assume=exact" is an input error, so no
// results file can turn a slowdown into an improvement. Two files
// must agree on every unit they both declare; a Unit line that
// contradicts another file's is an input error naming both lines.
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
// # Other suites' results
//
// Results without plugbench's backend= name key (say, two runs of
// "go test -run '^$' -bench . -count 6 bytes") are compared file
// against file, like benchstat's columns, unless -by or -ignore is
// given: the first file is the baseline (-by .file, -ignore "",
// -baseline the first file's label), each benchmark's median and
// interval is given per file with its ratio to the first (new/old),
// the ratio's interval and the p-value, the title names the files, and
// the HTML page (or -o for Markdown) charts every benchmark's ratio
// with its interval, one chart per unit. An argument without "label="
// is labelled by its base name (by its path if two base names are
// the same): "report old.txt tuned=new.txt". None of plugbench's
// findings, tables or words appear. The gate labels such files by
// their base names too.
//
// # Layers
//
// The program is built in layers, each a package, importing one way:
// main (flags, commands, exit statuses) imports internal/plugbench
// (plugbench's defaults, findings, event and fault tables, charts),
// and both import internal/engine (reading with its checks,
// statistics, report tables, the gate, charts and output formats),
// which imports neither and names no plugbench concept. main applies
// the plugbench layer when the data has a backend= key or -faults is
// given.
//
// # Failed runs and rows that did not run
//
// benchfmt ignores every line that is not a result, a configuration
// or a Unit line; benchreport reads two kinds itself. A file that
// shows its run failed is refused (an input error at the first such
// line) by report, unless -allow-failed, and always by gate and ab.
// These lines, at the start of a line, show a failed run:
//
//	FAIL                 go test's "FAIL" and "FAIL\tpkg\t1.2s"
//	--- FAIL: NAME       a failed test or benchmark
//	panic: …             a panic
//	fatal error: …       a fatal runtime error
//	[signal …            the runtime's signal line
//	SIGSEGV: …           (any SIG[A-Z]+) the runtime's signal report
//	signal: …            go test's "signal: segmentation fault"
//	*** Test killed      a test binary killed by -timeout
//
// A benchmark that did not run prints a block in the format of go
// test's own, which the suite prints for every row that cannot run,
// even without -v:
//
//	--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c
//	    bench_test.go:123: dlopen/c: fixture unavailable: …
//	        continuation lines, indented 4 more
//
// or the same with "--- FAIL:" (a row whose isolated child process
// crashed). Its reason is the first indented line without its
// "file.go:NN: " prefix, with the continuation lines; under -v, where
// go test prints a row's log lines before its "--- SKIP:" line, the
// last message just above a header without one. A trailing " (0.00s)"
// is dropped and duplicates are merged; names not starting with
// "Benchmark", names that also have results in the file, and a parent
// that failed only because a sub-benchmark did are left out, and
// -filter applies. The report lists these rows under "Rows that did
// not run", and names every backend none of whose rows ran in that
// section and in the findings; the gate gives their reason when a row
// goes missing.
//
// # Report
//
//	benchreport report [-format md|html|csv|json] [-o FILE] [-baseline static]
//		[-filter Q] [-group P] [-by P] [-ignore P] [-alpha 0.05]
//		[-confidence 0.95] [-min-samples 6] [-charts DIR] [-chart-format svg|png]
//		[-allow-failed] [-faults FILE] [label=]file...
//
// For every group it lists each backend's center with its confidence
// interval, its ratio to the baseline with an interval, the p-value of
// the comparison and the sample size; samples smaller than -min-samples
// are flagged. It adds an environment block built from the file
// configuration, findings generated from the data (for plugbench's
// results, a short section per question: the cheapest call, way to
// move data, events, to call back, to start, holding many instances,
// surviving a bad plugin), and charts drawn with gonum.org/v1/plot:
// per-call cost as a ratio to the baseline (log scale, whiskers),
// payload cost against size (log–log) and setup phases per backend.
// Markdown charts are written as SVG (or PNG) files in charts/ beside
// -o and linked; the HTML page is a single self-contained file with
// the charts inline. CSV and JSON carry the raw numbers.
//
// The environment block (Markdown, HTML) shows every configuration key
// of the files in order of first appearance, one column per file,
// except the fixture-* keys: content hashes, for machines, which only
// the JSON report ("environment") carries. A new library version line
// ("wasmtime-go: v39.0.0") needs no change here.
//
// With -allow-failed, a file that shows a failed run is reported with
// a warning at the top: a block quote (Markdown), a paragraph (HTML),
// "failed_runs" (JSON), a "# warning:" line before the header (CSV,
// read it with encoding/csv's Reader.Comment = '#'), and on stderr.
// The rows that did not run are listed near the top ("not_run" in
// JSON: file, name, status "skipped" or "failed", reason).
//
// -faults FILE adds the fault table, a JSON file the suite writes
// ("make faults" writes results/faults-latest.json; the committed one
// is results/faults.json):
//
//	{"config": {"go": "go1.26.8", "wazero": "v1.12.0", …},
//	 "deadline_ns": 1000000000,
//	 "faults": ["segv", "abort", "loop", "bomb", "startloop"],
//	 "cells": [{"fault": "segv", "backend": "wasm", "fixture": "c",
//	   "outcome": "error",  // error, deadline, killed, hung or not-applicable
//	   "signal": "",        // killed: "SIGSEGV", … ("" for a Go fatal error)
//	   "detail": "…", "detect_ns": 48211,
//	   "since": "call",     // call, deadline or load ("" if not-applicable)
//	   "recovery": "reinstantiate", // reinstantiate, reload, restart or none
//	   "recovery_note": "…", "peak_rss_bytes": 0}]}
//
// Every field of a cell but signal, detail, recovery_note and
// peak_rss_bytes is required; unknown fields, values outside those
// lists, a fault not in "faults" and a repeated cell are input errors
// ("file:line: message"). Markdown and HTML render one table, a row
// per backend and fixture and a column per fault, each cell in words
// ("error in 48 µs", "killed by SIGSEGV, 2.1 ms", "stopped at the
// deadline +3 ms", "hung (cannot be interrupted)", "n/a") with its
// recovery, then the details. A cell's
// recovery is joined with the BenchmarkRecover/fault=F/backend=B/fixture=X
// row of the results (sec/op) when there is one: its median, with its
// confidence interval from 6 samples. JSON carries the table as read
// ("faults"; config as an ordered list), each cell with its "recover"
// row. Without -faults, Markdown and HTML say in one line that the
// fault table was not measured.
//
// For plugbench's results, the report opens with "Choosing a
// mechanism": one row per backend and fixture, with a min call, a
// callback, 1 MiB into the plugin, the typical event at its fastest
// transport, instantiate (each with its ratio to static), cold and
// cached load, memory per instance (BenchmarkMemory's host-B/instance
// plus child-B/instance at the largest instances=N), the artifact's
// size (BenchmarkFootprint's artifact-B), the fault table in a few
// words (-faults), whether it needs cgo (the results' "needs-cgo:"
// config line, the backends that do), whether it unloads (a close row
// reporting mapped-B cannot) and the guest languages. "–" is a row the
// backend lacks, "n/a (skipped)" a row that did not run, "?" what the
// data does not say. In the HTML page the table (id "choosing") sorts
// by any column: its header cells are buttons, and each figure's cell
// carries its value (seconds, bytes) in data-value. JSON carries it as
// "choosing".
//
// # Choose
//
//	benchreport choose [-faults FILE] [-readme FILE] [-level ###] file
//
// writes that table as Markdown, or with -readme rewrites the part of
// FILE between the marker comments chooseBegin and chooseEnd: make
// readme puts the committed results' table in README.md, and a test
// fails when README's differs from what they give.
//
// # Gate
//
//	benchreport gate [-tolerance 5%] [-thresholds FILE] [-normalize REF]
//		[-correct] [-allow-inconclusive] [-allow-missing REGEXP]
//		[-min-samples 6] [-filter Q] [-row P] [-ignore P]
//		[-rerun COMMAND] [-format text|md|csv|json] BASE NEW
//
// Every benchmark (the -row projection, .fullname by default) and unit
// of NEW is compared with BASE. For noisy units a row is a regression
// only if the change is both significant (Mann–Whitney U p < α, or the
// Holm–Bonferroni adjusted p with -correct) and beyond the tolerance in
// the worse direction; an improvement if significant and beyond the
// tolerance in the better direction; unchanged otherwise. B/op,
// allocs/op and assume=exact units are compared by their centers alone:
// any worsening beyond their tolerance (0 by default) fails. A row is
// inconclusive if it has fewer than -min-samples samples on a side, or
// too few samples for any outcome to be significant.
//
// A row of BASE that NEW lacks is missing, and fails the gate like a
// regression (exit 1): a benchmark that stops running (a skip, a crash,
// a dropped b.Run, a run without -benchmem) must not read as "no
// regression". -allow-missing REGEXP accepts the missing rows whose
// name (without "Benchmark", matched like a thresholds line) it
// matches ("missing-allowed"). A row only NEW has is "new": nothing to
// compare it with, and no failure.
//
// If BASE and NEW differ in any of the configuration keys cpu, goos,
// goarch and go (or only one has it), the gate warns above its table,
// in every format ("warning:" lines, Markdown block quotes, "# warning:"
// lines before the CSV header, "warnings" in JSON, and on stderr for
// JSON and CSV), naming each key with both values.
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
// -rerun COMMAND takes a second opinion before failing: when rows
// regress, the gate runs COMMAND with "sh -c" and RERUN_BENCH set to a
// go test -bench pattern that matches exactly the regressed benchmarks
// and their -normalize references, e.g.
//
//	-rerun 'go test ./bench -run "^$" -count 6 -bench "$RERUN_BENCH"'
//
// It gates BASE against what COMMAND prints, and a row fails only if the
// rerun finds it worse again (or could not measure it); the others are
// "not-confirmed" and pass. A slower build is slower in both runs; a
// burst of load on a shared machine, which makes all of one row's
// samples slow together and so passes the test as significant, seldom
// hits the same row twice. COMMAND failing is an error (exit 2).
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
//	1  a regression or a missing row (gate, ab); takes precedence over inconclusive rows
//	2  bad usage or input, or an inconclusive row without -allow-inconclusive
//
// Input errors (syntax errors, truncated lines, unknown units, Unit
// lines that contradict a built-in unit or another file, a failed run,
// a bad fault table, empty or missing files) are all reported, as
// "file:line: message" or "file: message", and exit with status 2. So
// does a bad flag value, with a message saying what is allowed:
// -min-samples must be at least 2 (benchmath cannot estimate the
// spread of one value), -alpha and -confidence in (0, 1), -tolerance a
// non-negative percentage, fraction or "exact", -format and
// -chart-format one of their values, -allow-missing a regexp, and for
// ab -rounds at least 1, -benchtime a positive duration or count ("Nx").
// Every command's -h lists its flags with their defaults.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
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
	var ie engine.InputErrors
	var ge *gateError
	var ue engine.UsageError
	var fe flagError
	switch {
	case errors.As(err, &fe):
		if isFlagHelp(fe.err) {
			return exitOK
		}
		return exitBad
	case errors.As(err, &ie):
		fmt.Fprintln(stderr, err.Error()) // with any context it was wrapped in
		return exitBad
	case errors.As(err, &ge):
		fmt.Fprintf(stderr, "benchreport: %s\n", ge.msg)
		return ge.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "benchreport: %s\n", ue.Err)
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
  choose [flags] file              plugbench's "At a glance" and "Choosing a mechanism" as Markdown (-readme: into README)
  progress -o FILE [flags]         copy go test -bench output to FILE and show where the run is

Run "benchreport <command> -h" (or "benchreport help <command>") for the
flags of a command, with their defaults.
`)
}

// parseFlags parses args with fs. The flag package prints its errors
// and the usage to fs.Output(): the usage asked for with -h goes to
// stdout (and exits 0), a bad flag's message and the usage to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err == nil {
		return nil
	}
	if isFlagHelp(err) {
		stdout.Write(buf.Bytes())
	} else {
		stderr.Write(buf.Bytes())
	}
	return flagError{err}
}

func isFlagHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// run is the whole program: main only maps its error to an exit status.
func run(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		usage(stderr)
		return engine.UsageError{Err: errors.New("no command")}
	}
	switch args[0] {
	case "report":
		return cmdReport(stdout, stderr, args[1:])
	case "gate":
		return cmdGate(stdout, stderr, args[1:])
	case "ab":
		return cmdAB(stdout, stderr, args[1:])
	case "choose":
		return cmdChoose(stdout, stderr, args[1:])
	case "progress":
		return cmdProgress(stdout, stderr, args[1:])
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			switch args[1] {
			case "report", "gate", "ab", "choose", "progress":
				return run(stdout, stderr, []string{args[1], "-h"})
			}
			usage(stderr)
			return engine.UsageError{Err: fmt.Errorf("help: unknown command %q", args[1])}
		}
		usage(stdout)
		return nil
	}
	usage(stderr)
	return engine.UsageError{Err: fmt.Errorf("unknown command %q", args[0])}
}
