package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
	"github.com/plugbench/plugbench/cmd/benchreport/internal/plugbench"
)

func fuzzSeeds(f *testing.F, add func(b []byte)) {
	for _, name := range []string{"sample.txt", "gate-base.txt", "gate-few.txt", "bad-syntax.txt", "bad-unit.txt", "bad-truncated.txt",
		"skipped.txt", "crashed.txt", "bad-unit-builtin.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	add([]byte("Unit x/op better=higher assume=exact\nBenchmarkA/backend=static-2 1 0 x/op\nBenchmarkA/backend=wasm-2 1 1e308 x/op\n"))
	add([]byte("BenchmarkPayload/op=sum/size=1MiB/backend=static 1 0 ns/op\nBenchmarkPayload/op=sum/size=1MiB/backend=wasm 1 5 ns/op\n"))
}

// FuzzRead feeds arbitrary bytes to the reader and, if they parse, to
// the whole report pipeline, including the charts.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t)()
		rf := defaultReportFlags()
		p, err := engine.ParseProjections(&rf.ReportOptions)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := engine.ParseInputs([]*engine.Input{{Label: "fuzz", Path: "fuzz"}}, [][]byte{data}, p.Filter, engine.ParseOpts{Cmd: "report", AllowFailed: true})
		if err != nil {
			return
		}
		rep, err := engine.BuildReport(ds, p, &rf.ReportOptions)
		if err != nil {
			return
		}
		if err := plugbench.Apply(rep, ds, nil); err != nil {
			return
		}
		for _, format := range []string{"md", "html", "csv", "json"} {
			rf.out.Format = format
			if err := engine.WriteReport(discard{}, rep, rf.out); err != nil {
				t.Fatalf("writing %s: %v", format, err)
			}
		}
	})
}

// fuzzUnitNames are the units fuzzUnitLines declares: the built-in
// ones (as written and as benchfmt tidies them), the suite's custom
// ones, and others made up from the fuzzer's bytes.
var fuzzUnitNames = []string{"ns/op", "sec/op", "B/op", "allocs/op", "MB/s", "B/s", "x/op",
	"events/s", "moved-B/op", "ns/callback", "encode-ns/op"}

// fuzzUnitLines turns fuzzer bytes into "Unit" lines, three bytes a
// line: the unit, its better= and its assume= (either may be left out
// or be invalid).
func fuzzUnitLines(b []byte) string {
	betters := []string{"", "higher", "lower", "sideways"}
	assumes := []string{"", "nothing", "exact", "normal"}
	var s strings.Builder
	for ; len(b) >= 3; b = b[3:] {
		unit := fmt.Sprintf("w%d/op", b[0])
		if int(b[0]) < 2*len(fuzzUnitNames) {
			unit = fuzzUnitNames[int(b[0])%len(fuzzUnitNames)]
		}
		s.WriteString("Unit " + unit)
		if v := betters[int(b[1])%len(betters)]; v != "" {
			s.WriteString(" better=" + v)
		}
		if v := assumes[int(b[2])%len(assumes)]; v != "" {
			s.WriteString(" assume=" + v)
		}
		s.WriteString("\n")
	}
	return s.String()
}

// FuzzGate feeds two arbitrary inputs, each with Unit lines made from
// the fuzzer's bytes, to the gate. It checks that nothing panics, that
// an error is an input or usage error (exit status 2) or a gate
// verdict, and that no Unit line changes a built-in unit: the gate
// cannot be talked out of failing.
func FuzzGate(f *testing.F) {
	var seeds [][]byte
	fuzzSeeds(f, func(b []byte) { seeds = append(seeds, b) })
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], i%2 == 0, []byte{}, []byte{})
	}
	base, _ := os.ReadFile(filepath.Join("testdata", "gate-base.txt"))
	slow, _ := os.ReadFile(filepath.Join("testdata", "gate-slow.txt"))
	f.Add(base, slow, false, []byte{0, 1, 1}, []byte{0, 1, 1})     // ns/op better=higher on both sides
	f.Add(base, slow, false, []byte{6, 1, 2}, []byte{6, 2, 1})     // x/op: BASE and NEW disagree
	f.Add(base, slow, true, []byte{3, 2, 2}, []byte{})             // allocs/op assume=exact
	f.Add(base, slow, false, []byte{200, 1, 0}, []byte{200, 1, 0}) // a made-up unit, agreed on
	f.Fuzz(func(t *testing.T, base, new []byte, normalize bool, baseUnits, newUnits []byte) {
		defer watchdog(t)()
		gf := defaultGateFlags()
		if normalize {
			gf.Normalize = "backend=static"
		}
		gf.Correct = normalize
		c, err := engine.NewGateConfig(gf)
		if err != nil {
			t.Fatal(err)
		}
		// Unit lines first or last: they may follow the results they
		// describe.
		withUnits := func(data, units []byte) []byte {
			u := fuzzUnitLines(units)
			if len(units) > 0 && units[0]%2 == 1 {
				return append(append([]byte(nil), data...), "\n"+u...)
			}
			return append([]byte(u), data...)
		}
		ins := []*engine.Input{{Label: "base", Path: "base"}, {Label: "new", Path: "new"}}
		ds, err := engine.ParseInputs(ins, [][]byte{withUnits(base, baseUnits), withUnits(new, newUnits)}, c.Filter, engine.ParseOpts{Cmd: "gate"})
		if err != nil {
			checkExitBad(t, err)
			return
		}
		for unit, better := range map[string]string{"sec/op": "lower", "B/op": "lower", "allocs/op": "lower", "B/s": "higher"} {
			if got := engine.BetterString(ds.Units.GetBetter(unit)); got != better {
				t.Fatalf("a Unit line made %s better=%s", unit, got)
			}
			if ds.Units.GetAssumption(unit) != benchmath.AssumeNothing {
				t.Fatalf("a Unit line changed the assumption of %s", unit)
			}
		}
		res, err := engine.Gate(ds, c)
		if err != nil {
			checkExitBad(t, err)
			return
		}
		for _, format := range []string{"text", "md", "csv", "json"} {
			if err := engine.WriteGate(discard{}, res, format); err != nil {
				t.Fatalf("writing %s: %v", format, err)
			}
		}
		if err := gateVerdict(res, false); err != nil {
			var ge *gateError
			if !errors.As(err, &ge) || (ge.code != exitRegression && ge.code != exitBad) {
				t.Fatalf("gate verdict %v (%T)", err, err)
			}
		}
	})
}

// checkExitBad checks that err is an input or usage error, which exits
// with status 2.
func checkExitBad(t *testing.T, err error) {
	t.Helper()
	var ie engine.InputErrors
	var ue engine.UsageError
	if !errors.As(err, &ie) && !errors.As(err, &ue) && err.Error() != "no benchmark results match -filter" {
		t.Fatalf("error %q (%T) is not an input error", err, err)
	}
	if code := exitCode(io.Discard, err); code != exitBad {
		t.Fatalf("error %q: exit status %d, want %d", err, code, exitBad)
	}
}

// watchdog fails the test if it runs longer than 10 seconds, so the
// fuzzer records inputs that make the pipeline hang.
func watchdog(t *testing.T) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			panic("fuzz input took more than 10s")
		}
	}()
	return func() { close(done) }
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
