package plugbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// TestPairFindings checks the comparison of two runtimes on the same guest:
// every row both have is quoted with its ratio, a row only one has is
// left out, and a pair with one backend missing says nothing.
func TestPairFindings(t *testing.T) {
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\n")
	rows := []struct {
		name    string
		wazero  float64
		runtime float64
	}{
		{"Setup/phase=load/backend=%s/fixture=c/cache=none", 800000, 1200000},
		{"Setup/phase=instantiate/backend=%s/fixture=c", 5000, 20000},
		{"Call/op=min/backend=%s/fixture=c", 20, 30},
		{"Event/transport=flat/shape=typical/backend=%s/fixture=c", 1000, 3000},
	}
	for i := 0; i < 6; i++ {
		for _, r := range rows {
			fmt.Fprintf(&b, "Benchmark"+r.name+"-2 1000 %g ns/op\n", "wasm", r.wazero*(1+float64(i)/100))
			fmt.Fprintf(&b, "Benchmark"+r.name+"-2 1000 %g ns/op\n", "wasmtime", r.runtime*(1+float64(i)/100))
		}
		// A row only wazero has.
		fmt.Fprintf(&b, "BenchmarkSetup/phase=load/backend=wasm/fixture=c/cache=disk-2 1000 %d ns/op\n", 9000+i)
	}
	path := filepath.Join(t.TempDir(), "pair.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := report(t, path)
	got := pairFindings(rep, rep.Tables[0].File)
	if len(got) != 1 {
		t.Fatalf("pairFindings = %q, want one finding (wasmtime against wasm; no extism rows)", got)
	}
	for _, want := range []string{"Wasmtime against wazero", "wasmtime/c against wasm/c", "compile ", "(1.5×)", "instantiate ", "(4.0×)", "`min` ", "(1.5×)", "a typical `flat` event ", "(3.0×)"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("finding %q lacks %q", got[0], want)
		}
	}
	if strings.Contains(got[0], "cached load") {
		t.Errorf("finding %q quotes a row only one backend has", got[0])
	}
}

// report builds plugbench's report of the files as "benchreport
// report" does by default.
func report(t *testing.T, paths ...string) *engine.Report {
	t.Helper()
	o := &engine.ReportOptions{Filter: "*", Group: ".fullname", By: By, Ignore: Ignore, Baseline: Baseline,
		Title: Title, Alpha: 0.05, Confidence: 0.95, MinSamples: 6}
	p, err := engine.ParseProjections(o)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := engine.ReadFiles(paths, p.Filter, engine.ParseOpts{Cmd: "report"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := engine.BuildReport(ds, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(rep, ds, nil); err != nil {
		t.Fatal(err)
	}
	return rep
}
