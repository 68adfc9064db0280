package plugbench

import (
	"fmt"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// notRunFindings names every backend that has no results in a file
// because all its rows did not run: the tables and the other findings
// cannot mention it, and must not drop it silently.
func notRunFindings(rep *engine.Report, dead map[string][]string) []string {
	out := []string{}
	for _, ef := range rep.Environment {
		for _, b := range dead[ef.File] {
			var rows []engine.NotRun
			for _, nr := range rep.NotRun {
				_, parts, _ := engine.NameParts(benchfmt.Name(strings.TrimPrefix(nr.Name, "Benchmark")))
				if nr.File == ef.File && engine.Lookup(parts, "backend") == b {
					rows = append(rows, nr)
				}
			}
			skipped := 0
			for _, nr := range rows {
				if nr.Status == engine.NotRunSkipped {
					skipped++
				}
			}
			how := "skipped"
			switch {
			case skipped == 0:
				how = "failed"
			case skipped < len(rows):
				how = fmt.Sprintf("skipped (%d) or failed (%d)", skipped, len(rows)-skipped)
			}
			in := ""
			if len(rep.Environment) > 1 {
				in = " in " + ef.File
			}
			s := fmt.Sprintf("Backend %s did not run%s: all %d of its rows were %s", b, in, len(rows), how)
			if len(rows) == 1 {
				s = fmt.Sprintf("Backend %s did not run%s: its one row was %s", b, in, how)
			}
			if r := engine.FirstLine(rows[0].Reason); r != "" {
				s += fmt.Sprintf(" (`%s`)", strings.ReplaceAll(r, "`", "'"))
			}
			out = append(out, s+"; they are listed under “Rows that did not run”.")
		}
	}
	return out
}

// ciPct formats the coverage of a ratio interval. It is a lower
// bound (see ratio), hence "≥" unless it reaches 95%.
func ciPct(conf float64) string {
	if conf >= 0.95 {
		return engine.FmtLevel(conf)
	}
	return "≥" + engine.FmtLevel(conf)
}

// forEachGroup calls f with each run of rows of the same group.
func forEachGroup(t *engine.Table, f func([]*engine.Row)) {
	for i := 0; i < len(t.Rows); {
		j := i
		for j < len(t.Rows) && t.Rows[j].Group == t.Rows[i].Group {
			j++
		}
		f(t.Rows[i:j])
		i = j
	}
}

// matchRow finds the row of t with r's group and backend.
func matchRow(t *engine.Table, r *engine.Row) *engine.Row {
	if t == nil {
		return nil
	}
	for _, x := range t.Rows {
		if x.Name == r.Name {
			return x
		}
	}
	return nil
}

// refBackends names the backends built on each reference implementation
// of plugbench's BenchmarkRef, or measured against it: the findings relate
// them. A bare cgo call is both the cgo backend's floor and what purego's
// dlopen is compared with; the trampoline is a cgo-free call's floor.
var refBackends = map[string][]string{
	"go-direct":           {"static"},
	"cgo":                 {"cgo", "dlopen"},
	"trampoline":          {"dlopen"},
	"purego-syscalln":     {"dlopen"},
	"purego-registerfunc": {"dlopen"},
	"goplugin-symbol":     {"goplugin"},
	"wazero":              {"wasm"},
	"wazero-bounded":      {"wasm-bounded"},
	"wasmtime":            {"wasmtime"},
	"wasmtime-unchecked":  {"wasmtime"},
	"wasmtime-epoch":      {"wasmtime"},
	"wasmtime-fuel":       {"wasmtime"},
	"extism":              {"extism"},
	"knqyf263-generated":  {"knqyf263"},
	"yaegi":               {"yaegi"},
	"starlark-call":       {"starlark"},
	"gopher-lua-call":     {"lua"},
	"goja-callable":       {"goja"},
	"pipe":                {"subprocess"},
	"shm-doorbell":        {"shm"},
	"go-plugin-grpc":      {"hashicorp-grpc"},
	"go-plugin-netrpc":    {"hashicorp-netrpc"},
}

// nativeBackends are plugbench's in-process native mechanisms, in the
// order a chooser weighs them: compiled in, a Go plugin, cgo, purego.
var nativeBackends = []string{"static", "goplugin", "cgo", "dlopen"}

// nativeCallFinding answers "what does a native call cost from Go through
// each mechanism?": the `min` call of every native backend and guest, and
// the bare mechanisms (BenchmarkRef) beneath them, medians of one file.
func nativeCallFinding(call, ref *engine.Table) string {
	var rows []string
	seen := 0
	for _, b := range nativeBackends {
		var these []string
		for _, r := range call.Rows {
			if r.By != b || r.Key("op") != "min" || !(r.Center > 0) {
				continue
			}
			these = append(these, fmt.Sprintf("%s %s", r.Label(), fmtSeconds(float64(r.Center))))
		}
		if len(these) > 0 {
			seen++
			rows = append(rows, strings.Join(these, ", "))
		}
	}
	if seen < 2 {
		return ""
	}
	s := "A native `min` call from Go, by mechanism: " + strings.Join(rows, "; ")
	var floors []string
	if ref != nil {
		for _, impl := range []struct{ name, what string }{
			{"go-direct", "a direct Go call"},
			{"goplugin-symbol", "a Go plugin's func value"},
			{"cgo", "a bare cgo call"},
			{"trampoline", "a cgo-free assembly trampoline"},
			{"purego-syscalln", "a bare purego.SyscallN"},
		} {
			for _, r := range ref.Rows {
				if r.Key("op") == "min" && r.Key("impl") == impl.name && r.Center > 0 {
					floors = append(floors, fmt.Sprintf("%s %s", impl.what, fmtSeconds(float64(r.Center))))
					break
				}
			}
		}
	}
	if len(floors) > 0 {
		s += ". Beneath them, the bare mechanisms: " + strings.Join(floors, ", ")
	}
	return s + "."
}

// runtimePairs are the comparisons of two backends running the same guest
// code: what one runtime, or a framework on top of it, costs over another.
var runtimePairs = []struct{ a, b, fixture, what string }{
	{"wasmtime", "wasm", "c", "Wasmtime against wazero, on the same C module"},
	{"extism", "wasm", "c", "The Extism framework over raw wazero, on the same C code"},
	{"knqyf263", "wasm", "go", "The knqyf263/go-plugin framework over raw wazero, on the same Go guest"},
	{"shm", "subprocess", "c", "Shared memory against pipes, to the same C plugin process"},
	{"shm", "wasm", "c", "A plugin process over shared memory against wazero in the host, on the same C code"},
	{"hashicorp-grpc", "subprocess", "go", "hashicorp/go-plugin over gRPC against plain pipes, to the same Go guest"},
	{"hashicorp-netrpc", "subprocess", "go", "hashicorp/go-plugin over net/rpc against plain pipes, to the same Go guest"},
}

// pairRows are the rows a pair is compared on, as a chooser reads them:
// setup first, then crossings.
var pairRows = []struct {
	bench, unit string
	keys        [][2]string // key=value pairs the row's name has
	label       string
}{
	{"Setup", "sec/op", [][2]string{{"phase", "load"}, {"cache", "none"}}, "compile"},
	{"Setup", "sec/op", [][2]string{{"phase", "load"}, {"cache", "disk"}}, "cached load"},
	{"Setup", "sec/op", [][2]string{{"phase", "load"}, {"cache", "memory"}}, "load compiled in memory"},
	{"Setup", "sec/op", [][2]string{{"phase", "instantiate"}}, "instantiate"},
	{"Call", "sec/op", [][2]string{{"op", "min"}}, "`min`"},
	{"Payload", "sec/op", [][2]string{{"op", "sum"}, {"size", "1MiB"}}, "1 MiB `sum`"},
	{"Event", "sec/op", [][2]string{{"transport", "flat"}, {"shape", "typical"}}, "a typical `flat` event"},
	{"Event", "sec/op", [][2]string{{"transport", "json"}, {"shape", "typical"}}, "a typical `json` event"},
	{"Callback", "sec/callback", nil, "a callback"},
	{"Call", "allocs/op", [][2]string{{"op", "min"}}, "`min`"},
}

// pairFindings compares each pair of runtimePairs present in file, row by
// row: "compile 1.2ms against 800µs (1.50×)". Medians of one file.
func pairFindings(rep *engine.Report, file string) []string {
	var out []string
	for _, p := range runtimePairs {
		var cells []string
		for _, pr := range pairRows {
			t := engine.FindTable(rep, file, pr.bench, pr.unit)
			if t == nil {
				continue
			}
			a, b := pairRow(t, p.a, p.fixture, pr.keys), pairRow(t, p.b, p.fixture, pr.keys)
			if a == nil || b == nil {
				continue
			}
			label := pr.label
			if pr.unit == "allocs/op" {
				cells = append(cells, fmt.Sprintf("%s allocates %s against %s", label, fmtValue(float64(a.Center), t.Unit), fmtValue(float64(b.Center), t.Unit)))
				continue
			}
			c := fmt.Sprintf("%s %s against %s", label, fmtValue(float64(a.Center), t.Unit), fmtValue(float64(b.Center), t.Unit))
			if a.Center > 0 && b.Center > 0 {
				c += " (" + shortRatio(float64(a.Center)/float64(b.Center)) + ")"
			}
			cells = append(cells, c)
		}
		if len(cells) >= 2 {
			out = append(out, fmt.Sprintf("%s (%s/%s against %s/%s, medians): %s.", p.what, p.a, p.fixture, p.b, p.fixture, strings.Join(cells, "; ")))
		}
	}
	return out
}

// pairRow is t's row of backend and fixture whose name has every key=value
// of keys, or nil.
func pairRow(t *engine.Table, backend, fixture string, keys [][2]string) *engine.Row {
	for _, r := range t.Rows {
		// The name's fixture key: a table's Fixture column may hold more
		// (an event table's is "c json").
		if r.By != backend || r.Key("fixture") != fixture {
			continue
		}
		ok := true
		for _, kv := range keys {
			if r.Key(kv[0]) != kv[1] {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}
