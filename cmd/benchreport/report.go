package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
	"github.com/plugbench/plugbench/cmd/benchreport/internal/plugbench"
)

// reportFlags are the flags of "report".
type reportFlags struct {
	engine.ReportOptions
	out         engine.OutputOptions
	allowFailed bool
	faults      string
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
		return engine.UsageError{Err: errors.New("report: no input files")}
	}
	if err := checkReportFlags(f); err != nil {
		return engine.UsageError{Err: fmt.Errorf("report: %w", err)}
	}
	rep, err := buildReport(fs.Args(), f)
	if err != nil {
		return err
	}
	for _, w := range rep.FailedRunWarnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if f.out.Format == "md" && f.out.Out == "" && f.out.ChartDir == "" && len(rep.Charts) > 0 {
		fmt.Fprintf(stderr, "note: %d charts not written: use -o FILE or -charts DIR\n", len(rep.Charts))
	}
	return engine.WriteReport(stdout, rep, f.out)
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
	fs.StringVar(&f.Filter, "filter", "*", "use only benchmarks matching benchproc filter `query`")
	fs.StringVar(&f.Group, "group", ".fullname", "compare rows that agree on `projection` (the -by and -ignore keys are removed from it)")
	fs.StringVar(&f.By, "by", plugbench.By, "compare rows that differ in `projection`")
	fs.StringVar(&f.Ignore, "ignore", plugbench.Ignore, "`projection` of keys that may differ between a row and its baseline")
	fs.StringVar(&f.Baseline, "baseline", plugbench.Baseline, "`value` of -by that the other rows are compared with")
	fs.StringVar(&f.out.Format, "format", "md", "output `format`: md, html, csv or json")
	fs.StringVar(&f.out.Out, "o", "", "write the report to `file` (default stdout)")
	fs.StringVar(&f.out.ChartDir, "charts", "", "write Markdown charts to `dir` (default: charts/ beside -o; none when writing to stdout)")
	fs.StringVar(&f.out.ChartFormat, "chart-format", "svg", "Markdown chart file `format`: svg or png")
	fs.StringVar(&f.Title, "title", plugbench.Title, "report `title`")
	fs.Float64Var(&f.Alpha, "alpha", 0.05, "significance level `α` of the Mann–Whitney U test")
	fs.Float64Var(&f.Confidence, "confidence", 0.95, "confidence `level` of the intervals")
	fs.IntVar(&f.MinSamples, "min-samples", 6, "warn about samples smaller than `n` (≥ 2)")
	fs.BoolVar(&f.allowFailed, "allow-failed", false, "report an input that shows a failed run (FAIL, panic, a signal…) with a warning, rather than refusing it")
	fs.StringVar(&f.faults, "faults", "", "add the fault table from `file`, the JSON that make faults writes (results/faults-latest.json; results/faults.json is the committed one); without it the report says the faults were not measured")
	return f, fs
}

// checkReportFlags validates the flag values of "report".
func checkReportFlags(f *reportFlags) error {
	if err := engine.CheckChoice("-format", f.out.Format, "md", "html", "csv", "json"); err != nil {
		return err
	}
	if err := engine.CheckChoice("-chart-format", f.out.ChartFormat, "svg", "png"); err != nil {
		return err
	}
	if err := engine.CheckLevels(f.Alpha, f.Confidence); err != nil {
		return err
	}
	if err := engine.CheckMinSamples(f.MinSamples); err != nil {
		return err
	}
	if f.Baseline == "" {
		return errors.New("-baseline is empty: want the -by value of the rows the others are compared with (e.g. static)")
	}
	return nil
}

// buildReport wires the layers: the engine reads the files and builds
// the report, and plugbench's layer adds its findings, tables and
// charts.
func buildReport(paths []string, f *reportFlags) (*engine.Report, error) {
	p, err := engine.ParseProjections(&f.ReportOptions)
	if err != nil {
		return nil, engine.UsageError{Err: err}
	}
	// Read the fault table first: it is small, and a bad one is a
	// reason not to spend time on the results.
	var faults *plugbench.FaultReport
	if f.faults != "" {
		if faults, err = plugbench.ReadFaults(f.faults); err != nil {
			return nil, err
		}
	}
	ds, err := engine.ReadFiles(paths, p.Filter, engine.ParseOpts{Cmd: "report", AllowFailed: f.allowFailed})
	if err != nil {
		return nil, err
	}
	rep, err := engine.BuildReport(ds, p, &f.ReportOptions)
	if err != nil {
		return nil, err
	}
	if err := plugbench.Apply(rep, ds, faults); err != nil {
		return nil, err
	}
	return rep, nil
}
