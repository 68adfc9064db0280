// Benchreport turns Go benchmark results, plugbench's and anyone
// else's, into reports and regression verdicts, with golang.org/x/perf's
// reading and statistics (benchstat's).
//
// Usage:
//
//	benchreport report [flags] [label=]file...
//	benchreport gate [flags] BASE NEW
//	benchreport ab [flags] -base REF
//	benchreport choose [-faults FILE] [-readme FILE] file
//	go test -bench . | benchreport progress -o FILE [-plan EARLIER]
//
// report gives each benchmark's median with its confidence interval,
// its ratio to the baseline (static, for plugbench's results; the first
// file, for anyone else's) and the p-value, with findings and charts, as
// Markdown, HTML, CSV or JSON. gate compares NEW with BASE and fails a
// row that is both significantly and beyond its tolerance worse, or
// missing. ab builds two commits' test binaries, runs them interleaved
// and gates one against the other. choose writes plugbench's choosing
// table. progress copies go test's output to a file and shows how far
// the run is.
//
// Every command's -h lists its flags. The exit status is 0 for no
// regression, 1 for a regression or a missing row (gate, ab), 2 for bad
// usage or input, or an inconclusive row. Input errors name the file
// and line.
//
// The whole reference (the input model, failed runs, the report's
// tables, the fault table's format, the gate's rules, thresholds,
// normalization and reruns) is cmd/benchreport/README.md; README.md
// introduces the commands and RATIONALE.md says why they work this way.
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
