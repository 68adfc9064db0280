package plugbench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// chooseInput writes a results file: every row the table reads, for a
// few backends, six samples each, with the config lines given and the
// memory rows and a load's artifact-B and peak-B if memory is set.
func chooseInput(t *testing.T, config string, memory bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\n" + config)
	b.WriteString("Unit ns/callback better=lower\nUnit mapped-B better=lower assume=exact\n")
	if memory {
		for _, u := range []string{"heap-B/instance", "host-B/instance", "child-B/instance", "ns/instance", "artifact-B", "peak-B"} {
			fmt.Fprintf(&b, "Unit %s better=lower\n", u)
		}
	}
	rows := []struct {
		name    string
		metrics string // "%g" takes the sample's value
		value   float64
	}{
		{"Call/op=min/backend=static/fixture=builtin", "%g ns/op", 2},
		{"Call/op=min/backend=goplugin/fixture=go", "%g ns/op", 4},
		{"Call/op=min/backend=wasm/fixture=c", "%g ns/op", 20},
		{"Call/op=min/backend=wasm/fixture=go", "%g ns/op", 30},
		{"Call/op=min/backend=shm/fixture=c", "%g ns/op", 300},
		{"Call/op=min/backend=dlopen/fixture=c", "%g ns/op", 80},
		{"Callback/backend=static/fixture=builtin", "%g ns/callback", 2},
		{"Callback/backend=wasm/fixture=c", "%g ns/callback", 40},
		{"Payload/op=sum/size=1MiB/backend=static/fixture=builtin", "%g ns/op", 400000},
		{"Payload/op=sum/size=1MiB/backend=wasm/fixture=c", "%g ns/op", 1000000},
		{"Event/transport=value/shape=typical/backend=static/fixture=builtin", "%g ns/op", 100},
		{"Event/transport=flat/shape=typical/backend=wasm/fixture=c", "%g ns/op", 1500},
		{"Event/transport=json/shape=typical/backend=wasm/fixture=c", "%g ns/op", 5000},
		{"Event/transport=json/shape=large/backend=wasm/fixture=c", "%g ns/op", 50},
		{"Setup/phase=load/backend=static/fixture=builtin", "%g ns/op", 400},
		{"Setup/phase=load/backend=goplugin/fixture=go", "%g ns/op", 12e6},
		// A native load: the loader alone, then the check and the probe.
		{"Setup/phase=load/backend=dlopen/fixture=c", "%g ns/op", 50e3},
		{"Setup/phase=check/backend=dlopen/fixture=c", "%g ns/op", 10e3},
		{"Setup/phase=probe/backend=dlopen/fixture=c", "%g ns/op", 4e6},
		{"Setup/phase=load/backend=wasm/fixture=c/cache=none", "%g ns/op", 12e6},
		{"Setup/phase=load/backend=wasm/fixture=c/cache=memory", "%g ns/op", 4e5},
		{"Setup/phase=load/backend=wasm/fixture=c/cache=disk", "%g ns/op", 6e5},
		{"Setup/phase=instantiate/backend=static/fixture=builtin", "%g ns/op", 100},
		{"Setup/phase=instantiate/backend=wasm/fixture=c", "%g ns/op", 30000},
		{"Setup/phase=close/backend=static/fixture=builtin", "%g ns/op", 30},
		{"Setup/phase=close/backend=goplugin/fixture=go", "%g ns/op 3518464 mapped-B", 70},
		{"Setup/phase=close/backend=wasm/fixture=c", "%g ns/op", 4000},
	}
	if memory {
		rows = append(rows, []struct {
			name    string
			metrics string
			value   float64
		}{
			{"Memory/backend=wasm/fixture=c/instances=1", "%g ns/op 9000 heap-B/instance 2e6 host-B/instance 0 child-B/instance 30000 ns/instance", 1},
			// Resident memory moves by pages: static's 300 B of heap reads as 0 B resident.
			{"Memory/backend=static/fixture=builtin/instances=100", "%g ns/op 300 heap-B/instance 0 host-B/instance 150 ns/instance", 1},
			{"Memory/backend=wasm/fixture=c/instances=100", "%g ns/op 9000 heap-B/instance 1500000 host-B/instance 0 child-B/instance 30000 ns/instance", 1},
			{"Memory/backend=wasm/fixture=c/instances=1000", "%g ns/op 9000 heap-B/instance 1258291 host-B/instance 0 child-B/instance 30000 ns/instance", 1},
			{"Memory/backend=shm/fixture=c/instances=1", "%g ns/op 100 heap-B/instance 1e5 host-B/instance 3e6 child-B/instance 1e6 ns/instance", 1},
			{"Memory/backend=shm/fixture=c/instances=100", "%g ns/op 100 heap-B/instance 1e5 host-B/instance 2e6 child-B/instance 1e6 ns/instance", 1},
		}...)
	}
	if memory { // a load's footprint: on the load rows
		for i := range rows {
			if rows[i].name == "Setup/phase=load/backend=wasm/fixture=c/cache=none" {
				rows[i].metrics += " 10240 artifact-B 3e6 peak-B"
			}
		}
	}
	for i := range 6 {
		for _, r := range rows {
			fmt.Fprintf(&b, "Benchmark%s-2 1000 "+r.metrics+"\n", r.name, r.value*(1+float64(i)/100))
		}
	}
	b.WriteString("--- SKIP: BenchmarkCallback/backend=goplugin/fixture=go\n    callback_test.go:12: goplugin/go: no callback in this guest\n")
	if memory {
		b.WriteString("--- SKIP: BenchmarkMemory/backend=wasm/fixture=c/instances=10000\n    memory_test.go:40: wasm/c: 10000 instances do not fit in 8 GiB\n")
		b.WriteString("--- SKIP: BenchmarkMemory/backend=goplugin/fixture=go/instances=1\n    memory_test.go:40: goplugin/go: a Go plugin has one instance per process\n")
	}
	path := filepath.Join(t.TempDir(), "choose.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cells maps "backend (fixture)" and column key to the cell's text.
func cells(ct *ChoiceTable) map[string]map[string]ChoiceCell {
	out := map[string]map[string]ChoiceCell{}
	for _, r := range ct.Rows {
		m := map[string]ChoiceCell{}
		for i, c := range r.Cells {
			m[ct.Columns[i].Key] = c
		}
		out[r.Cells[0].Text] = m
	}
	return out
}

var chooseFaults = &FaultReport{
	File: "faults.json", DeadlineNs: 5e8, Trials: 3, Faults: []string{"segv", "loop", "bomb", "startloop"},
	Cells: []*FaultCell{
		faultCell("segv", "static", "builtin", "killed", "restart", "host-killed"),
		faultCell("loop", "static", "builtin", "hung", "reinstantiate", "core-lost"),
		faultCell("startloop", "static", "builtin", "not-applicable", "none", "not-applicable"),
		faultCell("segv", "wasm", "c", "error", "reinstantiate", "error"),
		faultCell("loop", "wasm", "c", "hung", "restart", "host-frozen", "host-frozen", "host-frozen"),
		faultCell("bomb", "wasm", "c", "error", "reinstantiate", "error"),
		// A cell whose trials differed (none of ours does): the worst
		// is the cell's, and the table says in how many trials.
		faultCell("startloop", "wasm", "c", "deadline", "reload", "stopped", "host-frozen", "stopped"),
	},
}

// faultCell is a cell whose trials had the consequences trials (one
// trial when one is given); its own fields are the gravest trial's.
func faultCell(fault, backend, fixture, outcome, recovery string, trials ...string) *FaultCell {
	c := &FaultCell{Fault: fault, Backend: backend, Fixture: fixture}
	for _, cons := range trials {
		t := &FaultTrial{Outcome: outcome, Consequence: cons, Since: "call", Recovery: recovery}
		if cons == "not-applicable" {
			t.Since = ""
		}
		if gravity(cons) > gravity(c.Consequence) {
			c.Consequence, c.Outcome, c.Since, c.Recovery = cons, t.Outcome, t.Since, t.Recovery
		}
		c.Trials = append(c.Trials, t)
	}
	return c
}

// TestChooseTable checks every column's cell from a file that has every
// row the table reads: the figures, their ratios to static, the
// fastest transport and cache mode by name, memory at the largest
// instance count with the child processes' share, the fault table in
// a few words, needs-cgo, unloading and the languages.
func TestChooseTable(t *testing.T) {
	rep := report(t, chooseInput(t, "needs-cgo: cgo goplugin wasmtime\n", true))
	ct := chooseTable(rep, chooseFaults)
	if ct == nil {
		t.Fatal("no table")
	}
	var order []string
	for _, r := range ct.Rows {
		order = append(order, r.Cells[0].Text)
	}
	// The call table's order (a fixture's rank is where it first
	// appears: go before c here), then the rows only other benchmarks
	// have.
	if got, want := strings.Join(order, ", "), "static (builtin), goplugin (go), wasm (go), wasm (c), shm (c), dlopen (c)"; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	if len(ct.Notes) != 0 {
		t.Errorf("notes %q, want none: every column has data", ct.Notes)
	}
	got := cells(ct)
	want := map[string]map[string]string{
		"static (builtin)": {"call": "2.05 ns", "callback": "2.05 ns", "payload": "410 µs", "event": "102 ns (value)",
			"instantiate": "102 ns", "load": "410 ns", "cached": "–", "memory": "300 B @100", "artifact": "– (compiled in)",
			"faults": "segv: host dies; loop: core lost", "safety": "host dies", "cgo": "no", "unload": "no (compiled in)", "languages": "go"},
		"goplugin (go)": {"call": "4.10 ns (2.0×)", "callback": "n/a (skipped)", "load": "12.3 ms", "memory": "n/a (skipped)",
			"faults": "–", "cgo": "yes", "unload": "no (3.36 MiB stay mapped)", "languages": "go"},
		"wasm (c)": {"call": "20.5 ns (10×)", "callback": "41.0 ns (20×)", "payload": "1.03 ms (2.5×)", "event": "1.54 µs (flat, 15×)",
			"instantiate": "30.8 µs (300×)", "load": "12.3 ms", "cached": "410 µs (memory)", "memory": "1.43 MiB @100",
			"artifact": "10.0 KiB", "faults": "loop: host freezes; startloop: host freezes (1 of 3); segv, bomb: error",
			"safety": "host freezes", "cgo": "no", "unload": "yes",
			"languages": "c, go"},
		// wasm's faults were measured with the C guest only: the Go
		// guest's cell says so (goplugin's, with none at all, is "–").
		"wasm (go)": {"call": "30.8 ns (15×)", "callback": "–", "event": "–", "load": "–", "unload": "?", "languages": "c, go",
			"faults": "– (no faulty go guest)", "safety": "–"},
		"shm (c)":    {"call": "308 ns (150×)", "memory": "2.00 MiB @100", "artifact": "–", "languages": "c"},
		"dlopen (c)": {"call": "82.0 ns (40×)", "load": "51.3 µs + 10.3 µs check"},
	}
	for row, cols := range want {
		for col, w := range cols {
			if g := got[row][col].Text; g != w {
				t.Errorf("%s, %s: %q, want %q", row, col, g, w)
			}
		}
	}
	if n := got["dlopen (c)"]["load"].Note; !strings.Contains(n, "adds 4.10 ms") {
		t.Errorf("a native cold load's note is %q, want the probe's cost", n)
	}
	if v := got["dlopen (c)"]["load"].Value; v == nil || math.Abs(*v-61.5e-6) > 1e-9 {
		t.Errorf("a native cold load sorts by %v, want the loader's and the check's 61.5 µs", v)
	}
	if n := got["goplugin (go)"]["callback"].Note; n != "goplugin/go: no callback in this guest" {
		t.Errorf("a skipped cell's note is %q, want the skip's reason", n)
	}
	// Numeric columns sort by value: seconds, bytes, a fault severity.
	if v := got["wasm (c)"]["call"].Value; v == nil || *v != 20.5e-9 {
		t.Errorf("wasm (c) call value %v, want 2.05e-08", v)
	}
	if v := got["shm (c)"]["memory"].Value; v == nil || *v != 2.1e6 {
		t.Errorf("shm (c) memory value %v, want host+child 2.1e6", v)
	}
	if a, b := got["static (builtin)"]["faults"].Value, got["wasm (c)"]["faults"].Value; a == nil || b == nil || !(*a > *b) {
		t.Errorf("fault severity static %v, wasm %v: want the host's death to rank worse", a, b)
	}
	// The worst-fault column sorts as the bad-plugin one, and its hover
	// is the bad-plugin cell.
	for _, row := range []string{"static (builtin)", "wasm (c)"} {
		s, f := got[row]["safety"], got[row]["faults"]
		if s.Value == nil || f.Value == nil || *s.Value != *f.Value || s.Note != f.Text {
			t.Errorf("%s: worst fault %+v, want the value and, as its note, the text of %+v", row, s, f)
		}
	}
	if v := got["wasm (go)"]["callback"].Value; v != nil {
		t.Errorf("a missing cell has value %v, want none (sorted last)", *v)
	}
}

// TestChooseTableMissing checks what the table says when whole columns
// have no data: no memory or footprint rows, no fault table, no
// needs-cgo line. Each cell says so, and a note under the table says
// why.
func TestChooseTableMissing(t *testing.T) {
	rep := report(t, chooseInput(t, "", false))
	ct := chooseTable(rep, nil)
	got := cells(ct)
	for _, row := range []string{"static (builtin)", "wasm (c)"} {
		for col, w := range map[string]string{"memory": "–", "artifact": "–", "faults": "?", "cgo": "?"} {
			if col == "artifact" && row == "static (builtin)" {
				w = "– (compiled in)" // the host's own code: never a load row
			}
			if g := got[row][col].Text; g != w {
				t.Errorf("%s, %s: %q, want %q", row, col, g, w)
			}
		}
	}
	notes := strings.Join(ct.Notes, " ")
	for _, w := range []string{"no BenchmarkMemory rows in this run", "no load rows with artifact-B", "fault table was not given", "no `needs-cgo` line"} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes %q lack %q", notes, w)
		}
	}
}

// TestChooseHTML checks the structure the browser check and the sort
// script rely on: the table's id, a button per column header with the
// column's type, and data-value on every cell that has a figure.
func TestChooseHTML(t *testing.T) {
	rep := report(t, chooseInput(t, "needs-cgo: goplugin\n", true))
	h, err := chooseHTML(chooseTable(rep, chooseFaults), rep.Baseline)
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	for _, w := range []string{
		`<table id="choosing" class="compact">`,
		`<th scope="col" data-key="call" data-type="number" aria-sort="none"><button type="button">a call</button></th>`,
		`<th scope="col" data-key="mechanism" data-type="text" aria-sort="none">`,
		`<td class="n" data-value="0.0000000205">20.5 ns (10×)</td>`,
		`<td class="n" data-value="1500000">1.43 MiB @100</td>`,
		`<td class="n" title="goplugin/go: no callback in this guest">n/a (skipped)</td>`,
		// The worst fault: coloured by its gravity, the detail on hover.
		`<td class="sev sev-7" data-value="1000100" title="segv: host dies; loop: core lost">host dies</td>`,
		`<script>`,
	} {
		if !strings.Contains(s, w) {
			t.Errorf("HTML lacks %s", w)
		}
	}
	if n, want := strings.Count(s, "<tr data-backend="), 6; n != want {
		t.Errorf("%d body rows, want %d", n, want)
	}
}

// TestShortFormats checks the figures' formats: three significant
// digits in the largest unit reached, and ratios to two or three.
func TestShortFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtSeconds(303e-9), "303 ns"},
		{fmtSeconds(2.284e-6), "2.28 µs"},
		{fmtSeconds(999.7e-9), "1.00 µs"},
		{fmtSeconds(1.05), "1.05 s"},
		{fmtBytes3(512), "512 B"},
		{fmtBytes3(3518464), "3.36 MiB"},
		{shortRatio(79.4), "79×"},
		{shortRatio(1.07), "1.1×"},
		{shortRatio(0.713), "0.71×"},
		{shortRatio(10331), engine.FmtRatio(10331)},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

// TestMemoryChartTotals checks that the memory charts plot what the
// choosing table's memory column holds: the larger of the host's
// resident growth and its Go heap, plus the child processes'. A static
// instance's 300 B of heap that reads as 0 B resident is 300 B, not 0.
func TestMemoryChartTotals(t *testing.T) {
	rep := report(t, chooseInput(t, "", true))
	file := engine.DistinctFiles(rep)[0]
	per := memoryPerTarget(engine.FindTable(rep, file, "Memory", unitHost),
		engine.FindTable(rep, file, "Memory", unitHeap), engine.FindTable(rep, file, "Memory", unitChild))
	ct := chooseTable(rep, nil)
	got := cells(ct)
	for tg, want := range map[string]float64{"static (builtin)": 300, "wasm (c)": 1.5e6, "shm (c)": 2.1e6} {
		var at100 *memPoint
		for i, p := range per.points[tg] {
			if p.n == 100 {
				at100 = &per.points[tg][i]
			}
		}
		if at100 == nil {
			t.Errorf("%s: no point at 100 instances", tg)
			continue
		}
		if c := at100.total.Center; math.Abs(c-want)/want > 0.05 {
			t.Errorf("%s at 100: chart %g B, want %g", tg, c, want)
		}
		if v := got[tg]["memory"].Value; v == nil {
			t.Errorf("%s at 100: the choosing table has no memory figure", tg)
		} else if math.Abs(*v-at100.total.Center)/want > 0.001 {
			t.Errorf("%s at 100: chart %g B, choosing table %g B", tg, at100.total.Center, *v)
		}
	}
}

// TestGlance checks the report's first lines against the choosing
// table they are drawn from: each need named once, with the mechanism
// and its figure, and nothing said for a need the data cannot answer.
func TestGlance(t *testing.T) {
	rep := report(t, chooseInput(t, "needs-cgo: cgo goplugin wasmtime\n", true))
	lines := glance(chooseTable(rep, chooseFaults), "static")
	got := map[string]string{}
	for _, l := range lines {
		got[l.Need] = l.Answer
	}
	for need, want := range map[string]string{
		"The cheapest call": "goplugin (go), 4.10 ns (2.0× static) a `min` call; to a C or Rust plugin, wasm (c), 20.5 ns (10× static).",
		// No mechanism of this data contains every fault: wasm's loop
		// freezes the host.
		"A plugin you do not trust": "no mechanism contains every fault in this data; a runaway guest freezes the host with wasm (c).",
		"Many instances":            "the least memory an instance, wasm (c), 1.43 MiB @100.",
		"No cgo":                    "in a host built with `CGO_ENABLED=0`, the cheapest call is wasm (c), 20.5 ns (10× static).",
		"Unloading":                 "every mechanism frees its plugin at `Close` but goplugin (go): 3.36 MiB stay mapped.",
	} {
		if got[need] != want {
			t.Errorf("%s: %q\nwant %q", need, got[need], want)
		}
	}
	if len(lines) != 5 {
		t.Errorf("%d lines, want 5: %+v", len(lines), lines)
	}
	// Without a fault table or memory rows, those needs are not answered.
	rep = report(t, chooseInput(t, "", false))
	for _, l := range glance(chooseTable(rep, nil), "static") {
		if l.Need == "A plugin you do not trust" || l.Need == "Many instances" || l.Need == "No cgo" {
			t.Errorf("answered %q without the data for it: %s", l.Need, l.Answer)
		}
	}
}

// TestChooseSuspect checks the marks on figures the report doubts, each
// with its reason on hover: shm's call whose replies the host had to
// sleep for (the suite's slow-waits), which is also far dearer than the
// same mechanism's call to its other guest; a row whose samples spread
// widely; and nothing on a figure with no reason.
func TestChooseSuspect(t *testing.T) {
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\nUnit slow-waits better=lower\nUnit ns/callback better=lower\n")
	for i := range 6 {
		f := 1 + float64(i)/100
		fmt.Fprintf(&b, "BenchmarkCall/op=min/backend=static/fixture=builtin-2 1000 %g ns/op\n", 2*f)
		fmt.Fprintf(&b, "BenchmarkCall/op=min/backend=shm/fixture=c-2 1000 %g ns/op %g slow-waits\n", 7600*f, 0.9)
		fmt.Fprintf(&b, "BenchmarkCall/op=min/backend=shm/fixture=go-2 1000 %g ns/op %g slow-waits\n", 240*f, 0.001)
		fmt.Fprintf(&b, "BenchmarkCallback/backend=static/fixture=builtin-2 1000 %g ns/callback\n", 2*f)
		// The callback's samples: 100 ns, then a burst of load.
		fmt.Fprintf(&b, "BenchmarkCallback/backend=shm/fixture=go-2 1000 %g ns/callback\n", []float64{100, 100, 110, 900, 1000, 1200}[i])
	}
	path := filepath.Join(t.TempDir(), "suspect.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	got := cells(chooseTable(report(t, path), nil))
	c := got["shm (c)"]["call"]
	if !strings.HasSuffix(c.Text, " ⚠") || !strings.Contains(c.Note, "yield its CPU or sleep for 90% of the replies") ||
		!strings.Contains(c.Note, "32× the same mechanism's call to its go guest (246 ns)") || strings.Contains(c.Note, "⚠ ⚠") {
		t.Errorf("shm (c)'s call: %+v, want marked, for its slow waits and against its go guest", c)
	}
	if c := got["shm (go)"]["call"]; strings.Contains(c.Text, "⚠") || c.Note != "" {
		t.Errorf("shm (go)'s call: %+v, want no mark", c)
	}
	if c := got["shm (go)"]["callback"]; !strings.HasSuffix(c.Text, " ⚠") || !strings.Contains(c.Note, "its samples spread widely") {
		t.Errorf("shm (go)'s callback: %+v, want marked for its spread", c)
	}
	if c := got["static (builtin)"]["call"]; strings.Contains(c.Text, "⚠") {
		t.Errorf("static's call: %+v, want no mark", c)
	}
}
