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
	warnings    int
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
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	rep, err := buildReport(fs.Args(), f, set)
	if err != nil {
		return err
	}
	for _, w := range rep.FailedRunWarnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	printWarnings(stderr, rep.Warnings, f.warnings)
	if f.out.Format == "md" && f.out.Out == "" && f.out.ChartDir == "" && len(rep.Charts) > 0 {
		what := "charts"
		if len(rep.Charts) == 1 {
			what = "chart"
		}
		fmt.Fprintf(stderr, "note: %d %s not written: use -o FILE or -charts DIR\n", len(rep.Charts), what)
	}
	return engine.WriteReport(stdout, rep, f.out)
}

// printWarnings prints the first max of a report's warnings on stderr (all
// of them if max is negative, none if it is 0), then how many it left out:
// the report itself carries every one, so a quick run's hundreds of spread
// warnings do not bury the terminal.
func printWarnings(stderr io.Writer, ws []string, max int) {
	if max == 0 {
		return
	}
	for i, w := range ws {
		if max >= 0 && i == max {
			fmt.Fprintf(stderr, "warning: and %d more, every one in the report (its Warnings section; -warnings -1 prints them all here)\n", len(ws)-max)
			return
		}
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}

func reportFlagSet(stderr io.Writer) (*reportFlags, *flag.FlagSet) {
	f := new(reportFlags)
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: benchreport report [flags] [label=]file...

Report summarizes each benchmark group: every row's median with its
confidence interval, its ratio to the group's baseline row and whether
the difference is significant (Mann–Whitney U test).

For plugbench's results (benchmark names with a backend= key), rows are
backends compared with static, with plugbench's findings, tables and
charts. For any other results, unless -by or -ignore is given, each
file is compared with the first, like benchstat's columns: a ratio is
new/old. Files are labelled by their base name, or by the label
given as label=path ("report old.txt tuned=new.txt").

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.Filter, "filter", "*", "use only benchmarks matching benchproc filter `query`")
	fs.StringVar(&f.Group, "group", ".fullname", "compare rows that agree on `projection` (the -by and -ignore keys are removed from it)")
	fs.StringVar(&f.By, "by", plugbench.By, "compare rows that differ in `projection` (results without a backend= key: .file, each file against the first)")
	fs.StringVar(&f.Ignore, "ignore", plugbench.Ignore, "`projection` of keys that may differ between a row and its baseline (results without a backend= key: none)")
	fs.StringVar(&f.Baseline, "baseline", plugbench.Baseline, "`value` of -by that the other rows are compared with (results without a backend= key: the first file)")
	fs.StringVar(&f.out.Format, "format", "md", "output `format`: md, html, csv or json")
	fs.StringVar(&f.out.Out, "o", "", "write the report to `file` (default stdout)")
	fs.StringVar(&f.out.ChartDir, "charts", "", "write Markdown charts to `dir` (default: charts/ beside -o; none when writing to stdout)")
	fs.StringVar(&f.out.ChartFormat, "chart-format", "svg", "Markdown chart file `format`: svg or png")
	fs.StringVar(&f.Title, "title", plugbench.Title, "report `title` (results without a backend= key: the files' labels)")
	fs.Float64Var(&f.Alpha, "alpha", 0.05, "significance level `α` of the Mann–Whitney U test")
	fs.Float64Var(&f.Confidence, "confidence", 0.95, "confidence `level` of the intervals")
	fs.IntVar(&f.MinSamples, "min-samples", 6, "warn about samples smaller than `n` (≥ 2)")
	fs.BoolVar(&f.allowFailed, "allow-failed", false, "report an input that shows a failed run (FAIL, panic, a signal…) with a warning, rather than refusing it")
	fs.IntVar(&f.warnings, "warnings", 10, "print at most `n` of the report's warnings on stderr (-1: all, 0: none); the report has every one")
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
// the report; for plugbench's results (or with -faults), plugbench's
// layer adds its findings, tables and charts, and for any other
// results the engine compares the files (unless -by or -ignore was
// set) and draws its ratio charts. set holds the flags given.
func buildReport(paths []string, f *reportFlags, set map[string]bool) (*engine.Report, error) {
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
	opts := engine.ParseOpts{Cmd: "report", AllowFailed: f.allowFailed}
	ds, err := engine.ReadFiles(paths, p.Filter, opts)
	if err != nil {
		return nil, err
	}
	suite := faults != nil || plugbench.Detect(ds)
	if !suite {
		if !set["by"] && !set["ignore"] {
			// Compare the files, labelled by their base names.
			opts.BaseNames = true
			if ds, err = engine.ReadFiles(paths, p.Filter, opts); err != nil {
				return nil, err
			}
			f.By, f.Ignore = ".file", ""
			if !set["baseline"] {
				f.Baseline = ds.Inputs[0].Label
			}
			if p, err = engine.ParseProjections(&f.ReportOptions); err != nil {
				return nil, engine.UsageError{Err: err}
			}
		}
		if !set["title"] {
			f.Title = engine.FilesTitle(ds)
		}
	}
	rep, err := engine.BuildReport(ds, p, &f.ReportOptions)
	if err != nil {
		return nil, err
	}
	if suite {
		if err := plugbench.Apply(rep, ds, faults); err != nil {
			return nil, err
		}
		return rep, nil
	}
	charts, err := engine.RatioCharts(rep)
	if err != nil {
		return nil, err
	}
	rep.Charts = append(rep.Charts, charts...)
	return rep, nil
}
