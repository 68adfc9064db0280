package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// progressInput is go test -bench output: two groups, a row sampled
// twice, a skipped row, a failed row with its log, a package's end.
const progressInput = `goos: linux
goarch: amd64
pkg: example.com/x
BenchmarkA/x=1-2   	      10	         5.0 ns/op
BenchmarkA/x=1-2   	      10	         5.1 ns/op
--- SKIP: BenchmarkA/x=2
    a_test.go:1: not here
BenchmarkB/y=1-2   	       1	         5.0 ns/op
--- FAIL: BenchmarkB/y=2
    b_test.go:9: it broke
    and said why
BenchmarkB/y=3-2   	       1	         5.0 ns/op
--- FAIL: BenchmarkB
FAIL
exit status 1
FAIL	example.com/x	1.2s
`

// runProgress runs the display over in, with a clock that moves a second
// a line, and returns what it printed.
func runProgress(t *testing.T, tty bool, plan string, in string) (string, *progress) {
	t.Helper()
	var out bytes.Buffer
	now := time.Unix(0, 0)
	p := &progress{w: &out, tty: tty, start: now, now: func() time.Time { now = now.Add(time.Second); return now }}
	if plan != "" {
		p.plan([]byte(plan))
	}
	var file bytes.Buffer
	if err := p.copy(&file, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if file.String() != in {
		t.Errorf("the file holds %q, want the whole input", file.String())
	}
	return out.String(), p
}

// TestProgressLines checks the display for a log (no terminal): a line
// as each group starts, the failure with its context, the package's end,
// and the last word; nothing of the results or the skips.
func TestProgressLines(t *testing.T) {
	got, p := runProgress(t, false, progressInput, progressInput)
	want := `progress: BenchmarkA (group 1 of 2): 1 of about 5 rows, 4s, about 16s left
progress: BenchmarkB (group 2 of 2): 3 of about 5 rows, 8s, about 5s left
--- FAIL: BenchmarkB/y=2
    b_test.go:9: it broke
    and said why
--- FAIL: BenchmarkB
FAIL
exit status 1
FAIL	example.com/x	1.2s
progress: 5 rows, 17s; 2 failures (above)
`
	if got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
	if p.done != 5 {
		t.Errorf("%d rows done, want 5 (a row sampled twice is one; a skipped and a failed row are done)", p.done)
	}
}

// TestProgressNoPlan checks the display without a plan: rows and time,
// no estimate.
func TestProgressNoPlan(t *testing.T) {
	got, _ := runProgress(t, false, "", "BenchmarkA/x=1-2 1 5 ns/op\nok  \tpkg\t1s\n")
	if want := "progress: BenchmarkA: 1 rows, 1s\nok  \tpkg\t1s\nprogress: 1 rows, 3s\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

// TestProgressTerminal checks the updating line: each drawing replaces
// the one before (carriage return, clear to the end of the line), a
// failure is printed on a line of its own above it, and the line is
// cleared at the end before the last word.
func TestProgressTerminal(t *testing.T) {
	got, _ := runProgress(t, true, progressInput, progressInput)
	if !strings.HasPrefix(got, "\r\033[Kprogress: BenchmarkA (group 1 of 2): 1 of about 5 rows") {
		t.Errorf("the first drawing is %q", got[:min(len(got), 80)])
	}
	if !strings.Contains(got, "\r\033[K--- FAIL: BenchmarkB/y=2\n") {
		t.Errorf("the failure is not on a line of its own, the progress line cleared first:\n%q", got)
	}
	if !strings.HasSuffix(got, "\r\033[Kprogress: 5 rows, 17s; 2 failures (above)\n") {
		t.Errorf("the end is %q", got[max(0, len(got)-80):])
	}
	if n := strings.Count(got, "\n"); n != 8 {
		t.Errorf("%d lines on the terminal, want 8 (the failures with their context, the package's end, the last word):\n%q", n, got)
	}
}

// TestProgressGroups checks -groups and -skip: the plan counts only the
// groups the run runs.
func TestProgressGroups(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-groups", "^BenchmarkB$"}, "progress: BenchmarkB (group 1 of 1): 1 of about 3 rows"},
		{[]string{"-skip", "^BenchmarkB$"}, "progress: BenchmarkA (group 1 of 1): 1 of about 2 rows"},
	} {
		dir := t.TempDir()
		plan := filepath.Join(dir, "plan.txt")
		if err := os.WriteFile(plan, []byte(progressInput), 0o666); err != nil {
			t.Fatal(err)
		}
		in := "BenchmarkB/y=1-2 1 5 ns/op\n"
		if c.args[0] == "-skip" {
			in = "BenchmarkA/x=1-2 1 5 ns/op\n"
		}
		stdin := filepath.Join(dir, "in.txt")
		if err := os.WriteFile(stdin, []byte(in), 0o666); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(stdin)
		if err != nil {
			t.Fatal(err)
		}
		old := os.Stdin
		os.Stdin = f
		out := filepath.Join(dir, "out.txt")
		stdout, stderr, code := runMain(append([]string{"progress", "-tty", "no", "-plan", plan, "-o", out}, c.args...)...)
		os.Stdin = old
		f.Close()
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		if !strings.HasPrefix(stdout, c.want) {
			t.Errorf("%v: printed %q, want it to start %q", c.args, stdout, c.want)
		}
		if b, _ := os.ReadFile(out); string(b) != in {
			t.Errorf("%v: the file holds %q, want %q", c.args, b, in)
		}
	}
}

// TestProgressUsage checks the errors of a bad call.
func TestProgressUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"progress"}, "want -o FILE"},
		{[]string{"progress", "-o", filepath.Join(t.TempDir(), "x"), "extra"}, "want -o FILE and no arguments"},
		{[]string{"progress", "-o", filepath.Join(t.TempDir(), "x"), "-tty", "maybe"}, `-tty "maybe": want yes, no or auto`},
		{[]string{"progress", "-o", filepath.Join(t.TempDir(), "x"), "-groups", "("}, "progress: -groups: error parsing regexp"},
	} {
		_, stderr, code := runMain(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
