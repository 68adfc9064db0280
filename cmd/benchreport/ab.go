package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/ab"
	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// cmdAB wires "benchreport ab": its flags, the runner of package ab,
// then the gate on the two files it wrote.
func cmdAB(stdout, stderr io.Writer, args []string) error {
	var f ab.Options
	gf := new(engine.GateOptions)
	fs := flag.NewFlagSet("ab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: benchreport ab [flags] -base REF

Ab measures the working tree against a git ref: it builds the test
binary of -pkg at REF (in a temporary git worktree) and in the working
tree with "go test -c", runs them interleaved (base, new, base, new, …)
for -rounds rounds with the same -bench and -benchtime, writes
DIR/base.txt and DIR/new.txt, and gates new against base (the gate
flags below apply), round by round (-paired): each round's new sample is
divided by its base sample, measured just before it. Exit status as for
gate.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.Base, "base", "", "git `ref` to compare the working tree with (required)")
	fs.StringVar(&f.Pkg, "pkg", "./bench", "benchmark `package`, relative to the current directory")
	fs.StringVar(&f.Bench, "bench", ".", "run benchmarks matching `regexp`")
	fs.StringVar(&f.Benchtime, "benchtime", "1s", "run each benchmark for `duration` (or Nx) per round")
	fs.IntVar(&f.Rounds, "rounds", 10, "number of interleaved `rounds` (samples per benchmark and side)")
	fs.StringVar(&f.Out, "o", "ab-results", "write base.txt, new.txt and the test binaries to `dir`")
	fs.BoolVar(&f.Benchmem, "benchmem", true, "report allocations (B/op, allocs/op)")
	fs.BoolVar(&f.KeepWorktree, "keep-worktree", false, "keep the temporary worktree of the base ref")
	addGateFlags(fs, gf, true)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.Base == "" || fs.NArg() != 0 {
		fs.Usage()
		return engine.UsageError{Err: errors.New("ab: need -base REF and no arguments")}
	}
	if err := f.Check(); err != nil {
		return engine.UsageError{Err: fmt.Errorf("ab: %w", err)}
	}
	// Validate gate flags before spending minutes on benchmarks.
	if _, err := engine.NewGateConfig(gf); err != nil {
		return err
	}
	basePath, newPath, err := ab.Run(context.Background(), stderr, &f)
	if err != nil {
		return err
	}
	res, err := gateFiles("base="+basePath, "new="+newPath, gf)
	if err != nil {
		return err
	}
	if err := engine.WriteGate(stdout, res, gf.Format); err != nil {
		return err
	}
	warnMachineFormats(stderr, res, gf.Format)
	return gateVerdict(res, gf.AllowInconc)
}
