package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// abFlags are the flags of "benchreport ab" besides the gate's.
type abFlags struct {
	base      string
	pkg       string
	bench     string
	benchtime string
	rounds    int
	out       string
	benchmem  bool
	keep      bool
}

func cmdAB(stdout, stderr io.Writer, args []string) error {
	var f abFlags
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
flags below apply). Exit status as for gate.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.base, "base", "", "git `ref` to compare the working tree with (required)")
	fs.StringVar(&f.pkg, "pkg", "./bench", "benchmark `package`, relative to the current directory")
	fs.StringVar(&f.bench, "bench", ".", "run benchmarks matching `regexp`")
	fs.StringVar(&f.benchtime, "benchtime", "1s", "run each benchmark for `duration` (or Nx) per round")
	fs.IntVar(&f.rounds, "rounds", 10, "number of interleaved `rounds` (samples per benchmark and side)")
	fs.StringVar(&f.out, "o", "ab-results", "write base.txt, new.txt and the test binaries to `dir`")
	fs.BoolVar(&f.benchmem, "benchmem", true, "report allocations (B/op, allocs/op)")
	fs.BoolVar(&f.keep, "keep-worktree", false, "keep the temporary worktree of the base ref")
	addGateFlags(fs, gf)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.base == "" || fs.NArg() != 0 {
		fs.Usage()
		return engine.UsageError{Err: errors.New("ab: need -base REF and no arguments")}
	}
	if err := checkABFlags(&f); err != nil {
		return engine.UsageError{Err: fmt.Errorf("ab: %w", err)}
	}
	// Validate gate flags before spending minutes on benchmarks.
	if _, err := engine.NewGateConfig(gf); err != nil {
		return err
	}
	basePath, newPath, err := runAB(context.Background(), stderr, &f)
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

// checkABFlags validates the flag values of "ab" besides the gate's.
func checkABFlags(f *abFlags) error {
	if f.rounds < 1 {
		return fmt.Errorf("-rounds %d: must be at least 1 (each round adds one sample per benchmark and side; 6 or more give a test)", f.rounds)
	}
	if err := checkBenchtime(f.benchtime); err != nil {
		return err
	}
	if f.pkg == "" {
		return errors.New("-pkg is empty: want the benchmark package, e.g. ./bench")
	}
	if f.out == "" {
		return errors.New("-o is empty: want the directory for base.txt and new.txt")
	}
	if f.bench == "" {
		return errors.New("-bench is empty: want a regexp of benchmark names, e.g. . for all")
	}
	if _, err := regexp.Compile(f.bench); err != nil {
		return fmt.Errorf("-bench: %w", err)
	}
	return nil
}

// checkBenchtime checks a -benchtime value as go test reads it: a
// positive duration ("1s", "500ms") or a positive count ("100x").
func checkBenchtime(s string) error {
	const want = `want a duration such as 1s or 500ms, or an iteration count such as 100x`
	if s == "" {
		return errors.New("-benchtime is empty: " + want)
	}
	if n, ok := strings.CutSuffix(s, "x"); ok {
		if i, err := strconv.Atoi(n); err != nil || i < 1 {
			return fmt.Errorf("-benchtime %q: %s", s, want)
		}
		return nil
	}
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return fmt.Errorf("-benchtime %q: %s", s, want)
	}
	return nil
}

// runAB builds and runs both sides and returns the result files.
func runAB(ctx context.Context, log io.Writer, f *abFlags) (basePath, newPath string, err error) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("ab: %w", err)
	}
	top, err := gitOutput(ctx, cwd, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", "", fmt.Errorf("ab: finding the repository: %w", err)
	}
	// Resolve symlinks so the relative path below is right.
	if t, err := filepath.EvalSymlinks(top); err == nil {
		top = t
	}
	realCwd := cwd
	if c, err := filepath.EvalSymlinks(cwd); err == nil {
		realCwd = c
	}
	rel, err := filepath.Rel(top, realCwd)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", "", fmt.Errorf("ab: current directory is outside the repository %s", top)
	}
	commit, err := gitOutput(ctx, cwd, "rev-parse", "--verify", f.base+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("ab: resolving -base %s: %w", f.base, err)
	}

	out, err := filepath.Abs(f.out)
	if err != nil {
		return "", "", fmt.Errorf("ab: %w", err)
	}
	if err := os.MkdirAll(out, 0o777); err != nil {
		return "", "", fmt.Errorf("ab: creating -o directory: %w", err)
	}
	tmp, err := os.MkdirTemp("", "benchreport-ab-")
	if err != nil {
		return "", "", fmt.Errorf("ab: %w", err)
	}
	wt := filepath.Join(tmp, "base")
	fmt.Fprintf(log, "ab: checking out %s (%s) in %s\n", f.base, commit[:min(12, len(commit))], wt)
	if _, err := gitOutput(ctx, cwd, "worktree", "add", "--detach", wt, commit); err != nil {
		os.RemoveAll(tmp)
		return "", "", fmt.Errorf("ab: creating worktree: %w", err)
	}
	if !f.keep {
		defer func() {
			if _, rerr := gitOutput(context.Background(), cwd, "worktree", "remove", "--force", wt); rerr != nil {
				fmt.Fprintf(log, "ab: removing worktree %s: %v\n", wt, rerr)
			}
			os.RemoveAll(tmp)
		}()
	}

	type side struct {
		name, dir, bin, results string
	}
	sides := []*side{
		{name: "base", dir: filepath.Join(wt, rel)},
		{name: "new", dir: cwd},
	}
	for _, s := range sides {
		s.bin = filepath.Join(out, s.name+".test")
		s.results = filepath.Join(out, s.name+".txt")
		fmt.Fprintf(log, "ab: building %s %s\n", s.name, f.pkg)
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", s.bin, f.pkg)
		cmd.Dir = s.dir
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("ab: building %s: %w", s.name, err)
		}
		if err := os.WriteFile(s.results, nil, 0o666); err != nil {
			return "", "", fmt.Errorf("ab: %w", err)
		}
	}
	// The test binary runs in its package directory, as under go test,
	// so that relative paths to fixtures work.
	runArgs := []string{"-test.run=^$", "-test.bench=" + f.bench, "-test.benchtime=" + f.benchtime, "-test.count=1"}
	if f.benchmem {
		runArgs = append(runArgs, "-test.benchmem")
	}
	for round := 1; round <= f.rounds; round++ {
		for _, s := range sides {
			fmt.Fprintf(log, "ab: round %d/%d: %s\n", round, f.rounds, s.name)
			pkgDir := filepath.Join(s.dir, f.pkg)
			cmd := exec.CommandContext(ctx, s.bin, runArgs...)
			cmd.Dir = pkgDir
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, log
			if err := cmd.Run(); err != nil {
				log.Write(buf.Bytes())
				return "", "", fmt.Errorf("ab: running %s (round %d): %w", s.name, round, err)
			}
			if err := appendFile(s.results, buf.Bytes()); err != nil {
				return "", "", fmt.Errorf("ab: %w", err)
			}
		}
	}
	// Record what was compared.
	for _, s := range sides {
		note := "ab-side: " + s.name + "\n"
		if s.name == "base" {
			note += "ab-ref: " + f.base + "\nab-commit: " + commit + "\n"
		}
		note += "ab-rounds: " + strconv.Itoa(f.rounds) + "\n"
		if err := prependFile(s.results, []byte(note)); err != nil {
			return "", "", fmt.Errorf("ab: %w", err)
		}
	}
	return sides[0].results, sides[1].results, nil
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func prependFile(path string, b []byte) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, old...), 0o666)
}
