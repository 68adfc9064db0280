package ab

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestRun runs two builds of a throwaway repository's benchmark, each
// reporting which build it is as a metric: every round of the base file
// must come from the commit, every round of the new file from the
// working tree, base first in odd rounds and new first in even ones, and
// the worktree must be gone afterwards.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs test binaries")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	bench := func(build int) string {
		return strings.ReplaceAll(`package p

import "testing"

func BenchmarkX(b *testing.B) {
	for range b.N {
	}
	b.ReportMetric(BUILD, "build")
}
`, "BUILD", strconv.Itoa(build))
	}
	write("go.mod", "module example.com/abtest\n\ngo 1.22\n")
	write("sub/p/p_test.go", bench(1))
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	commit := git("rev-parse", "HEAD")
	write("sub/p/p_test.go", bench(2))

	// From a subdirectory, as a user in their package's folder would.
	t.Chdir(filepath.Join(repo, "sub"))
	out := filepath.Join(t.TempDir(), "out")
	// A -base that names nothing is refused in our words, not git's.
	_, _, err := Run(context.Background(), io.Discard, &Options{Base: "NOSUCHREF", Pkg: "./p", Bench: ".", Benchtime: "10x", Rounds: 3, Out: out})
	if err == nil || !strings.Contains(err.Error(), "ab: -base NOSUCHREF: no such commit in ") || strings.Contains(err.Error(), "fatal") {
		t.Errorf("Run with -base NOSUCHREF: %v, want it named as no such commit", err)
	}
	var log bytes.Buffer
	o := &Options{Base: "HEAD", Pkg: "./p", Bench: ".", Benchtime: "10x", Rounds: 3, Out: out}
	basePath, newPath, err := Run(context.Background(), &log, o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}

	builds := regexp.MustCompile(`(?m)^BenchmarkX\S*\s+10\s+.*\s(\d)\.000 build$`)
	for _, c := range []struct {
		path, header, build string
	}{
		{basePath, "ab-side: base\nab-ref: HEAD\nab-commit: " + commit + "\nab-rounds: 3\n", "1"},
		{newPath, "ab-side: new\nab-rounds: 3\n", "2"},
	} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), c.header) {
			t.Errorf("%s starts %q, want %q", c.path, b[:min(len(b), len(c.header))], c.header)
		}
		ms := builds.FindAllStringSubmatch(string(b), -1)
		if len(ms) != 3 {
			t.Errorf("%s has %d results, want 3:\n%s", c.path, len(ms), b)
		}
		for _, m := range ms {
			if m[1] != c.build {
				t.Errorf("%s has a result of build %s, want %s: %s", c.path, m[1], c.build, m[0])
			}
		}
	}
	var order []string
	for _, m := range regexp.MustCompile(`ab: round (\d)/3: (\w+)`).FindAllStringSubmatch(log.String(), -1) {
		order = append(order, m[1]+m[2])
	}
	if got, want := strings.Join(order, " "), "1base 1new 2new 2base 3base 3new"; got != want {
		t.Errorf("rounds ran in the order %q, want %q", got, want)
	}
	if wts := git("worktree", "list"); strings.Count(wts, "\n") != 0 {
		t.Errorf("worktree left behind:\n%s", wts)
	}
}

func TestCheck(t *testing.T) {
	good := Options{Base: "main", Pkg: "./p", Bench: ".", Benchtime: "1s", Rounds: 10, Out: "out"}
	if err := good.Check(); err != nil {
		t.Fatalf("Check(%+v): %v", good, err)
	}
	for _, c := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"no base", func(o *Options) { o.Base = "" }, "-base is empty"},
		{"no rounds", func(o *Options) { o.Rounds = 0 }, "-rounds 0"},
		{"benchtime 0", func(o *Options) { o.Benchtime = "0s" }, `-benchtime "0s"`},
		{"benchtime 0x", func(o *Options) { o.Benchtime = "0x" }, `-benchtime "0x"`},
		{"benchtime word", func(o *Options) { o.Benchtime = "long" }, `-benchtime "long"`},
		{"no package", func(o *Options) { o.Pkg = "" }, "-pkg is empty"},
		{"no out", func(o *Options) { o.Out = "" }, "-o is empty"},
		{"bad regexp", func(o *Options) { o.Bench = "(" }, "-bench: error parsing regexp"},
	} {
		o := good
		c.set(&o)
		if err := o.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want an error containing %q", c.name, err, c.want)
		}
	}
	for _, s := range []string{"1s", "100ms", "1x", "250x"} {
		if err := CheckBenchtime(s); err != nil {
			t.Errorf("CheckBenchtime(%q) = %v, want nil", s, err)
		}
	}
}
