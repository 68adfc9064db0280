package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRerunPatternRunsExactly checks the pattern that -rerun hands its
// command against go test itself: in a package whose benchmark names
// share prefixes (op=min and op=minimum, backend=wasm and
// backend=wasm-bounded, fixture=c and fixture=cgo), the pattern for one
// regressed row must run that row and its -normalize references, and
// nothing else.
func TestRerunPatternRunsExactly(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("go.mod", "module rerun\n\ngo 1.24\n")
	write("rerun_test.go", `package rerun

import "testing"

func tree(b *testing.B) {
	for _, op := range []string{"min", "minimum"} {
		b.Run("op="+op, func(b *testing.B) {
			for _, be := range []string{"static", "wasm", "wasm-bounded"} {
				b.Run("backend="+be, func(b *testing.B) {
					for _, f := range []string{"c", "cgo"} {
						b.Run("fixture="+f, func(b *testing.B) {
							for b.Loop() {
							}
						})
					}
				})
			}
		})
	}
}

func BenchmarkCall(b *testing.B)     { tree(b) }
func BenchmarkCallback(b *testing.B) { tree(b) }
`)
	// BASE: every row at 10 ns; NEW: Call/op=min/backend=wasm/fixture=c
	// at 20 ns, the rest unchanged.
	var names []string
	for _, top := range []string{"Call", "Callback"} {
		for _, op := range []string{"min", "minimum"} {
			for _, be := range []string{"static", "wasm", "wasm-bounded"} {
				for _, f := range []string{"c", "cgo"} {
					names = append(names, fmt.Sprintf("Benchmark%s/op=%s/backend=%s/fixture=%s", top, op, be, f))
				}
			}
		}
	}
	const slow = "BenchmarkCall/op=min/backend=wasm/fixture=c"
	results := func(slowNs int) string {
		var b strings.Builder
		b.WriteString("goos: linux\ngoarch: amd64\n")
		for range 6 {
			for _, n := range names {
				ns := 10
				if n == slow {
					ns = slowNs
				}
				fmt.Fprintf(&b, "%s-2\t1000\t%d ns/op\n", n, ns)
			}
		}
		return b.String()
	}
	base := write("base.txt", results(10))
	newer := write("new.txt", results(20))
	patFile := filepath.Join(dir, "pattern")
	rerun := fmt.Sprintf(`printf '%%s' "$RERUN_BENCH" > %s && cat %s`, patFile, base)
	if _, stderr, code := runMain("gate", "-normalize", "backend=static", "-normalize-ignore", "fixture", "-rerun", rerun, base, newer); code != 0 {
		t.Fatalf("gate -rerun: exit %d, want 0 (the rerun clears the row)\n%s", code, stderr)
	}
	pattern, err := os.ReadFile(patFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "test", "-run", "^$", "-bench", string(pattern), "-benchtime", "1x")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -bench %q: %v\n%s", pattern, err, out)
	}
	var ran []string
	for _, m := range regexp.MustCompile(`(?m)^(Benchmark\S+?)(-\d+)?\s+\d+`).FindAllStringSubmatch(string(out), -1) {
		ran = append(ran, m[1])
	}
	slices.Sort(ran)
	// The row, and its references: static with any fixture
	// (-normalize-ignore fixture).
	want := []string{
		"BenchmarkCall/op=min/backend=static/fixture=c",
		"BenchmarkCall/op=min/backend=static/fixture=cgo",
		slow,
	}
	if !slices.Equal(ran, want) {
		t.Errorf("go test -bench %q ran\n\t%s\nwant\n\t%s", pattern, strings.Join(ran, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestRerunEmpty: a rerun that prints no results is an error, not a pass.
func TestRerunEmpty(t *testing.T) {
	td := func(name string) string { return filepath.Join("testdata", name) }
	_, stderr, code := runMain("gate", "-rerun", "true", td("gate-base.txt"), td("gate-slow.txt"))
	if code != 2 || !strings.Contains(stderr, `-rerun "true"`) {
		t.Errorf("gate -rerun true: exit %d, want 2 and an error naming the command; stderr:\n%s", code, stderr)
	}
}

// TestGatePaired: rounds whose speed drifts by up to 19% hide a 4%
// slowdown from the medians' test, and show it to the paired one, since
// both samples of a round share its drift.
func TestGatePaired(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, factor float64) string {
		var b strings.Builder
		b.WriteString("goos: linux\ngoarch: amd64\n")
		for i := range 16 {
			m := 2.0 * (1 + 0.2*float64((i*7)%16)/16) // the round's state: up to +19%
			fmt.Fprintf(&b, "BenchmarkCall/op=min-2\t1000\t%.4f ns/op\n", m*factor*(1+0.001*float64(i%4)))
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base, slower := file("base.txt", 1), file("new.txt", 1.04)
	if out, _, code := runMain("gate", "-tolerance", "3%", base, slower); code != 0 {
		t.Errorf("gate (unpaired): exit %d, want 0 (the medians' test cannot see 4%% here)\n%s", code, out)
	}
	out, _, code := runMain("gate", "-paired", "-tolerance", "3%", base, slower)
	if code != 1 || !strings.Contains(out, "+4.00%") || !strings.Contains(out, "paired p") {
		t.Errorf("gate -paired: exit %d, want 1 with +4.00%% and a paired p\n%s", code, out)
	}
	// Pairs need the same number of samples on both sides.
	short := filepath.Join(dir, "short.txt")
	b, _ := os.ReadFile(slower)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	os.WriteFile(short, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o666)
	out, _, code = runMain("gate", "-paired", base, short)
	if code != 2 || !strings.Contains(out, "no pairs") {
		t.Errorf("gate -paired with 16 and 15 samples: exit %d, want 2 (inconclusive: no pairs)\n%s", code, out)
	}
}

// rerunRunScope gates base against newer, whose rows are lines written
// six times, under -normalize-scope run with a rerun that records its
// RERUN_BENCH and prints the file named by rerunFrom ("base" or "new"):
// the gate's exit status and stderr, and the pattern the rerun was given.
func rerunRunScope(t *testing.T, base, newer []string, rerunFrom string) (code int, stderr, pattern string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		var b strings.Builder
		b.WriteString("goos: linux\ngoarch: amd64\n")
		for range 6 {
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
		}
		p := filepath.Join(dir, name+".txt")
		if err := os.WriteFile(p, []byte(b.String()), 0o666); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := map[string]string{"base": write("base", base), "new": write("new", newer)}
	patFile := filepath.Join(dir, "pattern")
	rerun := fmt.Sprintf(`printf '%%s' "$RERUN_BENCH" > %s && cat %s`, patFile, files[rerunFrom])
	_, stderr, code = runMain("gate", "-normalize", "backend=static", "-normalize-ignore", "fixture", "-normalize-scope", "run", "-rerun", rerun, files["base"], files["new"])
	b, err := os.ReadFile(patFile)
	if err != nil {
		t.Fatalf("the rerun did not run: %v\n%s", err, stderr)
	}
	return code, stderr, string(b)
}

// TestRerunRunScopeNoReference: under -normalize-scope run, a row with
// no reference of its own (a phase static does not have) that regressed
// in time is divided by the run's factor, so its rerun must run the
// references too. (TestRerunRunScopeExactRow is the case CI met.)
func TestRerunRunScopeNoReference(t *testing.T) {
	rows := func(probeNs int) []string {
		return []string{
			"BenchmarkCall/op=min/backend=static/fixture=builtin-2\t1000\t10 ns/op",
			"BenchmarkCall/op=min/backend=wasm/fixture=c-2\t1000\t20 ns/op",
			fmt.Sprintf("BenchmarkSetup/phase=probe/backend=dlopen/fixture=c-2\t1000\t%d ns/op", probeNs),
		}
	}
	// The rerun measures the base's figures again: the row is cleared.
	code, stderr, pattern := rerunRunScope(t, rows(1000), rows(3000), "base")
	if code != 0 {
		t.Errorf("gate -rerun: exit %d, want 0 (the rerun clears the row)\n%s", code, stderr)
	}
	for _, want := range []string{"^phase=probe$", "^backend=static$"} {
		if !strings.Contains(pattern, want) {
			t.Errorf("RERUN_BENCH %q lacks %s", pattern, want)
		}
	}
}

// TestRerunRunScopeExactRow is the CI failure of f775ea1's parent: under
// the run scope, a row that regressed in an exact unit (allocs/op, 72 to
// 73) was rerun without the -normalize references, and the rerun's file,
// normalized as a whole, had none: "no reference benchmark in both
// files". Its RERUN_BENCH must name the references too.
func TestRerunRunScopeExactRow(t *testing.T) {
	rows := func(allocs int) []string {
		return []string{
			"BenchmarkCall/op=min/backend=static/fixture=builtin-2\t1000\t10 ns/op\t0 B/op\t0 allocs/op",
			fmt.Sprintf("BenchmarkSetup/phase=probe/backend=dlopen/fixture=c-2\t1000\t1000 ns/op\t100 B/op\t%d allocs/op", allocs),
		}
	}
	// The rerun measures the new figures again: the regression stands;
	// what matters is what the rerun was asked for.
	code, stderr, pattern := rerunRunScope(t, rows(72), rows(73), "new")
	if code != 1 {
		t.Errorf("gate -rerun: exit %d, want 1 (allocs/op regressed in both runs)\n%s", code, stderr)
	}
	for _, want := range []string{"^phase=probe$", "^backend=static$"} {
		if !strings.Contains(pattern, want) {
			t.Errorf("RERUN_BENCH %q lacks %s", pattern, want)
		}
	}
}
