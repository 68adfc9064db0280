package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runMain runs the program as main does and returns its output and
// exit status.
func runMain(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	err := run(&o, &e, args)
	code = exitCode(&e, err)
	return o.String(), e.String(), code
}

// svgElem matches the inline SVG charts of the HTML report. They are
// checked for well-formedness separately; their exact coordinates
// depend on floating-point details of the platform.
var svgElem = regexp.MustCompile(`(?s)<svg .*?</svg>`)

func checkGolden(t *testing.T, name, kind, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+"."+kind)
	if *update {
		if got == "" {
			os.Remove(path)
			return
		}
		if err := os.WriteFile(path, []byte(got), 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test -update to accept):\n%s", kind, path, diffLines(string(want), got))
	}
}

// diffLines reports the first differing lines of want and got.
func diffLines(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n\twant: %q\n\tgot:  %q\n", i+1, w, g)
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

// TestGolden runs each command and compares stdout, stderr and the
// exit status with testdata/NAME.stdout and NAME.stderr.
func TestGolden(t *testing.T) {
	td := func(name string) string { return filepath.Join("testdata", name) }
	base, same := td("gate-base.txt"), td("gate-same.txt")
	tests := []struct {
		name string
		code int
		args []string
	}{
		// Report formats.
		{"report-md", 0, []string{"report", td("sample.txt")}},
		{"report-csv", 0, []string{"report", "-format", "csv", td("sample.txt")}},
		{"report-json", 0, []string{"report", "-format", "json", td("sample.txt")}},
		{"report-html", 0, []string{"report", "-format", "html", td("sample.txt")}},
		{"report-filter", 0, []string{"report", "-filter", ".name:Call /op:min", "-format", "csv", td("sample.txt")}},
		{"report-two-files", 0, []string{"report", "-filter", ".name:Call", "run1=" + base, "run2=" + same}},
		{"report-by-file", 0, []string{"report", "-by", ".file", "-ignore", "", "-baseline", "old", "-filter", "/op:min", "old=" + base, "new=" + td("gate-slow.txt")}},
		{"report-few", 0, []string{"report", td("gate-few.txt")}},
		// Events: every transport is compared with static's Go value
		// (-ignore /fixture,/transport), with the event findings.
		{"report-events", 0, []string{"report", td("events.txt")}},

		// Results without plugbench's keys (two runs of Go's own bytes
		// benchmarks): the files are compared, the first is the
		// baseline, labelled by base name or label=.
		{"report-foreign", 0, []string{"report", td("bytes-old.txt"), td("bytes-new.txt")}},
		{"report-foreign-html", 0, []string{"report", "-format", "html", td("bytes-old.txt"), td("bytes-new.txt")}},
		{"report-foreign-csv", 0, []string{"report", "-format", "csv", "before=" + td("bytes-old.txt"), "after=" + td("bytes-new.txt")}},
		{"report-foreign-one", 0, []string{"report", td("bytes-old.txt")}},
		{"gate-foreign", 1, []string{"gate", td("bytes-old.txt"), td("bytes-new.txt")}},

		// Gate outcomes.
		{"gate-same", 0, []string{"gate", base, same}},
		// A file gated against itself, or reported with itself, says
		// nothing: an error, not a pass.
		{"gate-identical", 2, []string{"gate", base, base}},
		{"report-same-file", 2, []string{"report", base, "again=" + base}},
		// A wasm module is not benchmark output.
		{"report-binary", 2, []string{"report", "../../fixtures/c/plugbench.wasm"}},
		{"gate-slow", 1, []string{"gate", base, td("gate-slow.txt")}},
		{"gate-slow-json", 1, []string{"gate", "-format", "json", base, td("gate-slow.txt")}},
		{"gate-slow-md", 1, []string{"gate", "-format", "md", base, td("gate-slow.txt")}},
		{"gate-slow-csv", 1, []string{"gate", "-format", "csv", base, td("gate-slow.txt")}},
		{"gate-slow-thresholds", 0, []string{"gate", "-thresholds", td("thresholds.txt"), base, td("gate-slow.txt")}},
		{"gate-slow-tolerance", 0, []string{"gate", "-tolerance", "30%", base, td("gate-slow.txt")}},
		{"gate-correct", 1, []string{"gate", "-correct", base, td("gate-slow.txt")}},
		{"gate-alloc", 1, []string{"gate", base, td("gate-alloc.txt")}},
		{"gate-improve", 0, []string{"gate", base, td("gate-improve.txt")}},
		{"gate-few", 2, []string{"gate", base, td("gate-few.txt")}},
		{"gate-few-allowed", 0, []string{"gate", "-allow-inconclusive", base, td("gate-few.txt")}},
		{"gate-missing", 1, []string{"gate", base, td("gate-missing.txt")}},
		{"gate-machine", 1, []string{"gate", base, td("gate-machine.txt")}},
		{"gate-normalize", 0, []string{"gate", "-normalize", "backend=static", base, td("gate-machine.txt")}},
		{"gate-normalize-name", 0, []string{"gate", "-normalize", "BenchmarkCall/op=min/backend=static/fixture=builtin", "-filter", "/op:min", base, td("gate-machine.txt")}},
		{"gate-events", 0, []string{"gate", "-normalize", "backend=static", td("events.txt"), td("events-again.txt")}},
		{"gate-labels", 1, []string{"gate", "-filter", "/backend:wasm", "old=" + base, "new=" + td("gate-slow.txt")}},
		{"gate-machine-json", 1, []string{"gate", "-format", "json", base, td("gate-machine.txt")}},
		{"gate-machine-md", 1, []string{"gate", "-format", "md", base, td("gate-machine.txt")}},
		{"gate-machine-csv", 1, []string{"gate", "-format", "csv", base, td("gate-machine.txt")}},
		// Rows that go missing fail, unless -allow-missing names them;
		// rows only NEW has are new.
		{"gate-missing-allowed", 0, []string{"gate", "-allow-missing", "op=accumulate/backend=wasm", base, td("gate-missing.txt")}},
		{"gate-new", 0, []string{"gate", td("gate-missing.txt"), base}},
		{"gate-skipped", 1, []string{"gate", base, td("skipped.txt")}},
		// -rerun: a regression that the rerun does not find again is
		// not-confirmed and passes; one it finds again fails; the
		// pattern names the regressed benchmarks and, with -normalize,
		// their references.
		{"gate-rerun-cleared", 0, []string{"gate", "-rerun", "cat " + same, base, td("gate-slow.txt")}},
		{"gate-rerun-confirmed", 1, []string{"gate", "-rerun", "cat " + td("gate-slow.txt"), base, td("gate-slow.txt")}},
		{"gate-rerun-md", 1, []string{"gate", "-format", "md", "-rerun", "cat " + td("gate-slow.txt"), base, td("gate-slow.txt")}},
		{"gate-rerun-json", 0, []string{"gate", "-format", "json", "-rerun", "cat " + same, base, td("gate-slow.txt")}},
		{"gate-rerun-normalize", 1, []string{"gate", "-normalize", "backend=static", "-rerun", "cat " + td("gate-slow.txt"), base, td("gate-slow.txt")}},
		{"gate-rerun-unneeded", 0, []string{"gate", "-rerun", "exit 3", base, same}},
		{"err-rerun-fails", 2, []string{"gate", "-rerun", "echo rerun broke >&2; exit 3", base, td("gate-slow.txt")}},

		// Rows that did not run, failed runs, the fault table.
		{"report-skipped", 0, []string{"report", td("skipped.txt")}},
		{"report-skipped-json", 0, []string{"report", "-format", "json", td("skipped.txt")}},
		{"report-skipped-html", 0, []string{"report", "-format", "html", td("skipped.txt")}},
		{"err-failed", 2, []string{"report", td("crashed.txt")}},
		{"err-failed-gate", 2, []string{"gate", base, td("crashed.txt")}},
		{"report-failed-allowed", 0, []string{"report", "-allow-failed", td("crashed.txt")}},
		{"report-failed-allowed-json", 0, []string{"report", "-allow-failed", "-format", "json", td("crashed.txt")}},
		{"report-failed-allowed-csv", 0, []string{"report", "-allow-failed", "-format", "csv", td("crashed.txt")}},
		{"report-faults", 0, []string{"report", "-faults", td("faults.json"), td("recover.txt")}},
		{"report-faults-html", 0, []string{"report", "-format", "html", "-faults", td("faults.json"), td("recover.txt")}},
		{"report-faults-json", 0, []string{"report", "-format", "json", "-faults", td("faults.json"), td("recover.txt")}},
		// A table with trials, one cell of which varied (faults.json is
		// a table from before trials).
		{"report-faults-trials", 0, []string{"report", "-faults", td("faults-trials.json"), td("recover.txt")}},
		{"err-faults", 2, []string{"report", "-faults", td("bad-faults.json"), td("recover.txt")}},
		{"err-faults-missing", 2, []string{"report", "-faults", td("nope.json"), td("recover.txt")}},

		// Bad input and usage.
		{"err-missing-file", 2, []string{"report", td("nope.txt")}},
		{"err-empty", 2, []string{"report", td("empty.txt")}},
		{"err-truncated", 2, []string{"gate", base, td("bad-truncated.txt")}},
		{"err-unit", 2, []string{"report", td("bad-unit.txt")}},
		{"err-syntax", 2, []string{"gate", td("bad-syntax.txt"), base}},
		{"err-thresholds", 2, []string{"gate", "-thresholds", td("bad-thresholds.txt"), base, same}},
		{"err-gate-args", 2, []string{"gate", base}},
		{"err-format", 2, []string{"report", "-format", "pdf", base}},
		{"err-filter", 2, []string{"report", "-filter", "(", base}},
		{"err-normalize", 2, []string{"gate", "-normalize", "backend=nosuch", base, same}},
		{"err-command", 2, []string{"frobnicate"}},
		{"err-unit-builtin", 2, []string{"report", td("bad-unit-builtin.txt")}},
		{"err-unit-builtin-gate", 2, []string{"gate", base, td("bad-unit-builtin.txt")}},
		{"err-unit-conflict", 2, []string{"gate", td("unit-base.txt"), td("unit-new.txt")}},

		// Bad flag values.
		{"err-min-samples", 2, []string{"gate", "-min-samples", "-5", base, same}},
		{"err-report-min-samples", 2, []string{"report", "-min-samples", "1", base}},
		{"err-tolerance", 2, []string{"gate", "-tolerance", "-5%", base, same}},
		{"err-alpha", 2, []string{"report", "-alpha", "1.5", base}},
		{"err-confidence", 2, []string{"gate", "-confidence", "0", base, same}},
		{"err-gate-format", 2, []string{"gate", "-format", "xml", base, same}},
		{"err-allow-missing", 2, []string{"gate", "-allow-missing", "(", base, same}},
		{"err-flag-value", 2, []string{"gate", "-min-samples", "six", base, same}},
		{"err-rounds", 2, []string{"ab", "-base", "HEAD", "-rounds", "0"}},
		{"err-benchtime", 2, []string{"ab", "-base", "HEAD", "-benchtime", ""}},
		{"err-ab-min-samples", 2, []string{"ab", "-base", "HEAD", "-min-samples", "0"}},

		// Help: every command lists its flags with their defaults.
		{"help", 0, []string{"-h"}},
		{"report-help", 0, []string{"report", "-h"}},
		{"gate-help", 0, []string{"gate", "-h"}},
		{"ab-help", 0, []string{"ab", "-h"}},
		{"help-gate", 0, []string{"help", "gate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runMain(tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", code, tt.code, stderr)
			}
			if strings.HasSuffix(tt.name, "html") || strings.Contains(strings.Join(tt.args, " "), "html") {
				for _, svg := range svgElem.FindAllString(stdout, -1) {
					checkXML(t, svg)
				}
				stdout = svgElem.ReplaceAllString(stdout, "<svg><!-- chart --></svg>")
			}
			checkGolden(t, tt.name, "stdout", stdout)
			checkGolden(t, tt.name, "stderr", stderr)
		})
	}
}

func checkXML(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
}

// TestMarkdownCharts checks that -o writes the report and its charts
// beside it, and links them.
func TestMarkdownCharts(t *testing.T) {
	for _, format := range []string{"svg", "png"} {
		dir := t.TempDir()
		out := filepath.Join(dir, "results", "REPORT.md")
		_, stderr, code := runMain("report", "-chart-format", format, "-o", out, filepath.Join("testdata", "sample.txt"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		md, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"call-ratio", "parallel-ratio", "payload-sum", "payload-upper", "setup"} {
			file := name + "." + format
			if !bytes.Contains(md, []byte("](charts/"+file+")")) {
				t.Errorf("REPORT.md does not link charts/%s", file)
			}
			b, err := os.ReadFile(filepath.Join(dir, "results", "charts", file))
			if err != nil {
				t.Error(err)
				continue
			}
			switch format {
			case "svg":
				checkXML(t, string(b))
			case "png":
				if !bytes.HasPrefix(b, []byte("\x89PNG")) {
					t.Errorf("%s is not a PNG", file)
				}
			}
		}
	}
}

// TestHTMLSelfContained checks that the HTML report loads nothing from
// the network and inlines its charts; its one script (the choosing
// table's sort) is inline.
func TestHTMLSelfContained(t *testing.T) {
	stdout, _, code := runMain("report", "-format", "html", filepath.Join("testdata", "sample.txt"))
	if code != 0 {
		t.Fatal("report failed")
	}
	if n := strings.Count(stdout, "<svg "); n != 5 {
		t.Errorf("found %d inline charts, want 5", n)
	}
	for _, bad := range []string{"<script ", "<link", "src=\"http", "href=\"http", "@import", "url("} {
		if strings.Contains(stdout, bad) {
			t.Errorf("HTML report contains %q", bad)
		}
	}
	if n := strings.Count(stdout, "<script"); n != 1 {
		t.Errorf("found %d scripts, want 1 (the choosing table's sort)", n)
	}
}

// writeBench writes a results file with the given samples for one
// benchmark and returns its path.
func writeBench(t *testing.T, name string, values []float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\npkg: example\n")
	for _, v := range values {
		fmt.Fprintf(&b, "BenchmarkCall/op=min/backend=wasm/fixture=c-2\t1000000\t%.3f ns/op\n", v)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(b.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	return path
}

func noisy(r *rand.Rand, n int, center, spread float64) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = center * (1 + spread*r.NormFloat64())
	}
	return vs
}

// TestGateFiresOnSlowdown checks the gate on synthetic samples: it
// fails a clear slowdown, and passes samples from one distribution.
func TestGateFiresOnSlowdown(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	base := writeBench(t, "base.txt", noisy(r, 10, 100, 0.01))
	slow := writeBench(t, "slow.txt", noisy(r, 10, 150, 0.01))
	same := writeBench(t, "same.txt", noisy(r, 10, 100, 0.01))
	small := writeBench(t, "small.txt", noisy(r, 10, 102, 0.01))

	if _, stderr, code := runMain("gate", base, slow); code != exitRegression {
		t.Errorf("slowdown by 50%%: exit %d, want %d; stderr:\n%s", code, exitRegression, stderr)
	}
	if stdout, _, code := runMain("gate", base, slow); !strings.Contains(stdout, "REGRESSION Call/op=min/backend=wasm/fixture=c-2 sec/op: +") {
		t.Errorf("exit %d; regression not named with its delta:\n%s", code, stdout)
	}
	if _, _, code := runMain("gate", slow, base); code != exitOK {
		t.Errorf("speedup: exit %d, want 0", code)
	}
	if _, stderr, code := runMain("gate", base, same); code != exitOK {
		t.Errorf("same distribution: exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if _, stderr, code := runMain("gate", base, base); code != exitBad || !strings.Contains(stderr, "a file compared with itself") {
		t.Errorf("a file against itself: exit %d, want %d and the reason; stderr:\n%s", code, exitBad, stderr)
	}
	// A 2% slowdown is within the default 5% tolerance but not 1%.
	if _, _, code := runMain("gate", base, small); code != exitOK {
		t.Errorf("2%% slowdown, 5%% tolerance: exit %d, want 0", code)
	}
	if _, _, code := runMain("gate", "-tolerance", "1%", base, small); code != exitRegression {
		t.Errorf("2%% slowdown, 1%% tolerance: exit %d, want 1", code)
	}
	// Fewer samples than -min-samples.
	few := writeBench(t, "few.txt", noisy(r, 3, 150, 0.01))
	if _, _, code := runMain("gate", base, few); code != exitBad {
		t.Errorf("3 samples: exit %d, want 2 (inconclusive)", code)
	}
	// Too few samples for any outcome to be significant (benchmath
	// says so), even when allowed by -min-samples.
	two := writeBench(t, "two.txt", noisy(r, 2, 150, 0.01))
	two2 := writeBench(t, "two2.txt", noisy(r, 2, 100, 0.01))
	if _, _, code := runMain("gate", "-min-samples", "2", two2, two); code != exitBad {
		t.Errorf("2+2 samples: exit %d, want 2 (inconclusive)", code)
	}
}

// TestGateSameDistributionRate checks that, over many pairs of samples
// from one distribution, the gate rarely fails: a regression needs
// both significance and a change beyond the tolerance.
func TestGateSameDistributionRate(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	fails := 0
	const trials = 40
	for range trials {
		// 10% noise: the tolerance alone would not protect.
		a := writeBench(t, "a.txt", noisy(r, 8, 100, 0.1))
		b := writeBench(t, "b.txt", noisy(r, 8, 100, 0.1))
		if _, _, code := runMain("gate", a, b); code == exitRegression {
			fails++
		}
	}
	// α = 0.05, one-sided worse direction: expect about 1 in 40.
	if fails > 5 {
		t.Errorf("%d of %d same-distribution comparisons failed", fails, trials)
	}
}

// TestHTMLEscapes checks that benchmark names cannot inject markup
// into the HTML report, in tables or in chart labels.
func TestHTMLEscapes(t *testing.T) {
	var b strings.Builder
	for _, backend := range []string{"static", "<b>evil</b>"} {
		for i := range 6 {
			fmt.Fprintf(&b, "BenchmarkCall/op=<script>x</script>/backend=%s/fixture=c-2\t1000\t%d ns/op\n", backend, 10+i)
		}
	}
	path := filepath.Join(t.TempDir(), "evil.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runMain("report", "-format", "html", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, bad := range []string{"<script>x", "<b>evil"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("HTML report contains unescaped %q", bad)
		}
	}
	// The page's own script, the choosing table's sort, and no other.
	if n := strings.Count(stdout, "<script"); n != 1 {
		t.Errorf("HTML report has %d scripts, want 1", n)
	}
	if !strings.Contains(stdout, "<svg ") {
		t.Error("no chart")
	}
}

// TestGateNormalizeRunScope: a reference row that jumps on its own (static's
// min, bimodal between processes) moves its row's neighbours under
// -normalize-scope row, and no one under run, which still catches a real
// slowdown and still leaves the references ungated.
func TestGateNormalizeRunScope(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	// ops: each has a static reference and a wasm row; the new run is a
	// 10% slower machine, except static's min, twice as fast (its other
	// mode), and wasm's accumulate, slow is 3x: a real regression.
	write := func(name string, staticMin, machine, acc float64) string {
		var b strings.Builder
		b.WriteString("goos: linux\ngoarch: amd64\npkg: example\n")
		for _, op := range []string{"min", "accumulate", "sum", "upper", "json"} {
			st, wasm := 2.0*machine, 20.0*machine
			switch op {
			case "min":
				st = staticMin
			case "accumulate":
				wasm *= acc
			}
			for range 10 {
				fmt.Fprintf(&b, "BenchmarkCall/op=%s/backend=static/fixture=builtin-2\t1000000\t%.4f ns/op\n", op, st*(1+0.01*r.NormFloat64()))
				fmt.Fprintf(&b, "BenchmarkCall/op=%s/backend=wasm/fixture=c-2\t1000000\t%.4f ns/op\n", op, wasm*(1+0.01*r.NormFloat64()))
			}
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(b.String()), 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := write("base.txt", 3.8, 1, 1)
	next := write("new.txt", 1.9, 1.1, 3)
	gate := func(scope string) string {
		stdout, stderr, _ := runMain("gate", "-normalize", "backend=static", "-normalize-scope", scope, "-tolerance", "100%", base, next)
		return stdout + stderr
	}
	row, run := gate("row"), gate("run")
	const minRow = "Call/op=min/backend=wasm/fixture=c-2 sec/op"
	if !strings.Contains(row, "REGRESSION "+minRow) {
		t.Errorf("row scope: wasm's min, divided by a reference that halved, should look 2.2x slower:\n%s", row)
	}
	if strings.Contains(run, "REGRESSION "+minRow) {
		t.Errorf("run scope: wasm's min flagged for its reference's jump:\n%s", run)
	}
	if !strings.Contains(run, "REGRESSION Call/op=accumulate/backend=wasm/fixture=c-2 sec/op") {
		t.Errorf("run scope: a 3x slowdown not flagged:\n%s", run)
	}
	if !strings.Contains(run, "sec/op: the new run is") || strings.Contains(run, "REGRESSION Call/op=min/backend=static") {
		t.Errorf("run scope: want the factor noted and the references not gated:\n%s", run)
	}
	if _, stderr, code := runMain("gate", "-normalize-scope", "run", base, next); code != exitBad || !strings.Contains(stderr, "needs -normalize") {
		t.Errorf("-normalize-scope run without -normalize: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runMain("gate", "-normalize", "backend=static", "-normalize-scope", "file", base, next); code != exitBad || !strings.Contains(stderr, "want row or run") {
		t.Errorf("-normalize-scope file: exit %d, %s", code, stderr)
	}
}

// TestForeignSpeaksNoSuite checks that results without plugbench's keys
// are reported and gated in the engine's words: nothing in any format
// names backends, static or plugbench.
func TestForeignSpeaksNoSuite(t *testing.T) {
	old, new := filepath.Join("testdata", "bytes-old.txt"), filepath.Join("testdata", "bytes-new.txt")
	suite := regexp.MustCompile(`(?i)backend|static|plugbench`)
	for _, args := range [][]string{
		{"report", old, new},
		{"report", "-format", "html", old, new},
		{"report", "-format", "csv", old, new},
		{"report", "-format", "json", old, new},
		{"gate", old, new},
		{"gate", "-format", "json", old, new},
	} {
		stdout, stderr, code := runMain(args...)
		if code != 0 && code != exitRegression {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
		if m := suite.FindString(stdout + stderr); m != "" {
			t.Errorf("%v: output mentions %q", args, m)
		}
	}
	stdout, _, _ := runMain("report", "-format", "html", old, new)
	if n := strings.Count(stdout, "<svg "); n == 0 {
		t.Error("HTML report of foreign results has no chart")
	}
}
