package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
	"github.com/plugbench/plugbench/cmd/benchreport/internal/plugbench"
)

// defaultGateFlags returns the flag defaults of "gate".
func defaultGateFlags() *engine.GateOptions {
	f, _ := gateFlagSet(io.Discard)
	return f
}

func cmdGate(stdout, stderr io.Writer, args []string) error {
	f, fs := gateFlagSet(stderr)
	rerun := fs.String("rerun", "", "when rows regress, run shell `command` (sh -c) with $RERUN_BENCH set to a go test -bench pattern of those benchmarks and their -normalize references, read its standard output as benchmark results, and fail only the rows that regress again (default: no rerun)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return engine.UsageError{Err: fmt.Errorf("gate: want 2 input files (BASE NEW), have %d", fs.NArg())}
	}
	res, err := gateFiles(fs.Arg(0), fs.Arg(1), f)
	if err != nil {
		return err
	}
	if *rerun != "" && res.Regression > 0 {
		again, err := gateRerun(stderr, fs.Arg(0), *rerun, res, f)
		if err != nil {
			return err
		}
		res.Confirm(again, *rerun)
	}
	if err := engine.WriteGate(stdout, res, f.Format); err != nil {
		return err
	}
	warnMachineFormats(stderr, res, f.Format)
	return gateVerdict(res, f.AllowInconc)
}

// gateRerun runs command for a second opinion on res's regressions
// and gates BASE against what it prints.
func gateRerun(stderr io.Writer, basePath, command string, res *engine.GateResult, f *engine.GateOptions) (*engine.GateResult, error) {
	pattern := res.RerunPattern()
	fmt.Fprintf(stderr, "gate: %d regression(s); rerunning them to confirm: RERUN_BENCH='%s' sh -c '%s'\n", res.Regression, pattern, command)
	dir, err := os.MkdirTemp("", "benchreport-rerun-")
	if err != nil {
		return nil, fmt.Errorf("gate: -rerun: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rerun.txt")
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("gate: -rerun: %w", err)
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = append(os.Environ(), "RERUN_BENCH="+pattern)
	cmd.Stdout, cmd.Stderr = out, stderr
	err = cmd.Run()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("gate: -rerun %q: %w", command, err)
	}
	again, err := gateFiles(basePath, "rerun="+path, f)
	if err != nil {
		return nil, fmt.Errorf("gate: -rerun %q: %w", command, err)
	}
	return again, nil
}

// warnMachineFormats repeats the comparison's warnings on stderr when
// stdout is JSON or CSV, which is usually read by a program rather
// than the person running the gate.
func warnMachineFormats(stderr io.Writer, res *engine.GateResult, format string) {
	if format != "json" && format != "csv" {
		return
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}

func gateFlagSet(stderr io.Writer) (*engine.GateOptions, *flag.FlagSet) {
	f := new(engine.GateOptions)
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: benchreport gate [flags] [label=]BASE [label=]NEW

Gate compares every benchmark and unit of NEW with BASE. A row is a
regression only if the change is significant (Mann–Whitney U, p < α)
and beyond the tolerance in the worse direction; B/op, allocs/op and
assume=exact units fail on any increase of the median. A row of BASE
that NEW lacks is missing and fails too, unless -allow-missing names
it; a row only NEW has is new. Neither file may show a failed run.
With -rerun, the regressed benchmarks run again and only the rows that
regress again fail: the others are not-confirmed.
Exit status: 0 no regression, 1 a regression or a missing row,
2 bad usage or input, or an inconclusive row.

Flags:
`)
		fs.PrintDefaults()
	}
	addGateFlags(fs, f, false)
	return f, fs
}

// addGateFlags registers the gate's flags on fs; paired is -paired's
// default (ab's files are in pairs, round by round).
func addGateFlags(fs *flag.FlagSet, f *engine.GateOptions, paired bool) {
	fs.StringVar(&f.Filter, "filter", "*", "use only benchmarks matching benchproc filter `query`")
	fs.StringVar(&f.Row, "row", ".fullname", "identify benchmarks by `projection`")
	fs.StringVar(&f.Ignore, "ignore", "", "ignore differences in `keys` (e.g. /gomaxprocs; default: none)")
	fs.StringVar(&f.Tolerance, "tolerance", "5%", "allowed worsening (`percentage`) of noisy units before a significant change fails")
	fs.StringVar(&f.Thresholds, "thresholds", "", "per-benchmark tolerances: `file` of \"NAME-REGEXP TOLERANCE [UNIT]\" lines, first match wins (default: none, -tolerance for all)")
	fs.StringVar(&f.Normalize, "normalize", "", "divide each benchmark's time (noisy units; allocs/op and B/op stay as they are) by the reference `ref` of the same run: name keys (\"backend=static\" or \"/backend:static\") or a benchmark name (default: none, times compared as measured)")
	fs.StringVar(&f.NormIgn, "normalize-ignore", "fixture,transport", "comma-separated name `keys` that may differ between a benchmark and its -normalize reference")
	fs.StringVar(&f.NormScope, "normalize-scope", "row", "`scope` of -normalize: row (each benchmark by its own reference) or run (every benchmark by one factor per unit, the geometric mean of the references' new/base ratios: a noisy reference row then moves no one else)")
	fs.BoolVar(&f.Correct, "correct", false, "apply the Holm–Bonferroni correction across rows")
	fs.BoolVar(&f.Paired, "paired", paired, "compare sample i of NEW with sample i of BASE, as measured in pairs (an interleaved run's rounds): delta is the median of the pairs' ratios and p the Wilcoxon signed-rank test's, instead of the medians' ratio and Mann–Whitney U")
	fs.BoolVar(&f.AllowInconc, "allow-inconclusive", false, "exit 0 rather than 2 when rows are inconclusive")
	fs.Float64Var(&f.Alpha, "alpha", 0.05, "significance level `α`")
	fs.Float64Var(&f.Confidence, "confidence", 0.95, "confidence `level` of the printed intervals")
	fs.IntVar(&f.MinSamples, "min-samples", 6, "rows with fewer than `n` (≥ 2) samples on a side are inconclusive")
	fs.StringVar(&f.Format, "format", "text", "output `format`: text, md, csv or json")
	fs.StringVar(&f.AllowMissing, "allow-missing", "", "rows of BASE that NEW may lack without failing: `regexp` matched against the benchmark name without \"Benchmark\" (default: none may)")
}

// gateVerdict turns the row verdicts into the command's error.
func gateVerdict(res *engine.GateResult, allowInconclusive bool) error {
	switch {
	case res.Regression > 0 || res.Missing > 0:
		var what []string
		if res.Regression > 0 {
			what = append(what, fmt.Sprintf("%d regression(s)", res.Regression))
		}
		if res.Missing > 0 {
			what = append(what, fmt.Sprintf("%d row(s) missing in NEW (name them with -allow-missing to accept)", res.Missing))
		}
		return &gateError{exitRegression, "gate: " + strings.Join(what, ", ")}
	case res.Unknown > 0 && !allowInconclusive:
		return &gateError{exitBad, fmt.Sprintf("gate: %d inconclusive row(s) (use -allow-inconclusive to accept)", res.Unknown)}
	}
	return nil
}

// gateFiles wires the gate: the engine reads BASE and NEW and gates
// them; for plugbench's results, the gate's advice names plugbench's
// -normalize reference, and other results are labelled by their
// files' base names.
func gateFiles(basePath, newPath string, f *engine.GateOptions) (*engine.GateResult, error) {
	c, err := engine.NewGateConfig(f)
	if err != nil {
		return nil, err
	}
	ds, err := engine.ReadFiles([]string{basePath, newPath}, c.Filter, engine.ParseOpts{Cmd: "gate"})
	if err != nil {
		return nil, err
	}
	if plugbench.Detect(ds) {
		c.NormalizeExample = plugbench.NormalizeExample
	} else {
		// Label other results by their files' base names.
		ds, err = engine.ReadFiles([]string{basePath, newPath}, c.Filter, engine.ParseOpts{Cmd: "gate", BaseNames: true})
		if err != nil {
			return nil, err
		}
	}
	return engine.Gate(ds, c)
}
