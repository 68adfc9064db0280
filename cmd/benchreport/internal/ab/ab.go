// Package ab measures two builds of a Go benchmark package against each
// other on the same machine state: it builds the package's test binary
// at a git ref (in a temporary git worktree) and in the working tree,
// runs the two binaries interleaved, round after round (base first in odd
// rounds, new first in even ones), and writes each side's results to a
// file for the gate to compare.
//
// Two sequential runs cannot tell a slower machine from a slower build;
// interleaved rounds share the machine's drifts, so what differs between
// the sides is the build. The package knows nothing of what the
// benchmarks measure: any package with Benchmark functions will do.
package ab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options say what to build and how to run it.
type Options struct {
	Base         string // git ref of the base side (required)
	Pkg          string // benchmark package, relative to the current directory
	Bench        string // -test.bench regexp
	Benchtime    string // -test.benchtime per round: a duration or Nx
	Rounds       int    // interleaved rounds: samples per benchmark and side
	Out          string // directory for base.txt, new.txt and the binaries
	Benchmem     bool   // -test.benchmem
	KeepWorktree bool   // leave the base ref's worktree in place
}

// Check validates the options before anything is built.
func (o *Options) Check() error {
	if o.Base == "" {
		return errors.New("-base is empty: want a git ref, e.g. origin/main")
	}
	if o.Rounds < 1 {
		return fmt.Errorf("-rounds %d: must be at least 1 (each round adds one sample per benchmark and side; 6 or more give a test)", o.Rounds)
	}
	if err := CheckBenchtime(o.Benchtime); err != nil {
		return err
	}
	if o.Pkg == "" {
		return errors.New("-pkg is empty: want the benchmark package, e.g. ./bench")
	}
	if o.Out == "" {
		return errors.New("-o is empty: want the directory for base.txt and new.txt")
	}
	if o.Bench == "" {
		return errors.New("-bench is empty: want a regexp of benchmark names, e.g. . for all")
	}
	if _, err := regexp.Compile(o.Bench); err != nil {
		return fmt.Errorf("-bench: %w", err)
	}
	return nil
}

// CheckBenchtime checks a -benchtime value as go test reads it: a
// positive duration ("1s", "500ms") or a positive count ("100x").
func CheckBenchtime(s string) error {
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

// Run builds both sides and runs them interleaved (base, new, base,
// new, …) for o.Rounds rounds, logging its progress and the builds'
// output to log. It returns the paths of the base and new result
// files, in o.Out. Each file starts with config lines saying what was
// compared (ab-side, ab-ref and ab-commit for the base, ab-rounds).
func Run(ctx context.Context, log io.Writer, o *Options) (basePath, newPath string, err error) {
	if err := o.Check(); err != nil {
		return "", "", fmt.Errorf("ab: %w", err)
	}
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
	commit, err := gitOutput(ctx, cwd, "rev-parse", "--verify", "--quiet", o.Base+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("ab: -base %s: no such commit in %s (a branch, a tag or a commit, such as -base HEAD~1 or -base origin/main)", o.Base, top)
	}

	out, err := filepath.Abs(o.Out)
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
	fmt.Fprintf(log, "ab: checking out %s (%s) in %s\n", o.Base, commit[:min(12, len(commit))], wt)
	if _, err := gitOutput(ctx, cwd, "worktree", "add", "--detach", wt, commit); err != nil {
		os.RemoveAll(tmp)
		return "", "", fmt.Errorf("ab: creating worktree: %w", err)
	}
	if !o.KeepWorktree {
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
		fmt.Fprintf(log, "ab: building %s %s\n", s.name, o.Pkg)
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", s.bin, o.Pkg)
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
	// so that relative paths to test data work.
	runArgs := []string{"-test.run=^$", "-test.bench=" + o.Bench, "-test.benchtime=" + o.Benchtime, "-test.count=1"}
	if o.Benchmem {
		runArgs = append(runArgs, "-test.benchmem")
	}
	for round := 1; round <= o.Rounds; round++ {
		// Base first in odd rounds, new first in even ones (ABBA): a
		// machine that drifts one way (load building up, a CPU warming)
		// slows whichever side runs second in every round alike, and
		// alternating cancels it between rounds.
		order := sides
		if round%2 == 0 {
			order = []*side{sides[1], sides[0]}
		}
		for _, s := range order {
			fmt.Fprintf(log, "ab: round %d/%d: %s\n", round, o.Rounds, s.name)
			cmd := exec.CommandContext(ctx, s.bin, runArgs...)
			cmd.Dir = filepath.Join(s.dir, o.Pkg)
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
			note += "ab-ref: " + o.Base + "\nab-commit: " + commit + "\n"
		}
		note += "ab-rounds: " + strconv.Itoa(o.Rounds) + "\n"
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
