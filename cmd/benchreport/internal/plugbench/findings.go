package plugbench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// findings derives short statements from the report tables. Every
// number quoted comes from a Row; a difference is only called one if
// it is significant.
func findings(rep *engine.Report) []string {
	out := []string{}
	files := engine.DistinctFiles(rep)
	for _, file := range files {
		prefix := ""
		if len(files) > 1 {
			prefix = file + ": "
		}
		add := func(s string) { out = append(out, prefix+s) }
		for _, bench := range []string{"Call", "Parallel"} {
			if t := engine.FindTable(rep, file, bench, "sec/op"); t != nil {
				for _, s := range callFindings(t, rep, bench) {
					add(s)
				}
			}
		}
		if t := engine.FindTable(rep, file, "Payload", "sec/op"); t != nil {
			for _, s := range payloadFindings(t, engine.FindTable(rep, file, "Payload", "B/s"), rep) {
				add(s)
			}
		}
		if t := engine.FindTable(rep, file, "Setup", "sec/op"); t != nil {
			for _, s := range setupFindings(t) {
				add(s)
			}
		}
		for _, bench := range []string{"Call", "Payload", "Parallel", "Event", "Pipeline"} {
			if t := engine.FindTable(rep, file, bench, "allocs/op"); t != nil {
				if s := allocFinding(t, rep.Baseline); s != "" {
					add(s)
				}
			}
		}
		if t := engine.FindTable(rep, file, "Event", "sec/op"); t != nil {
			for _, s := range eventFindings(rep, file, t) {
				add(s)
			}
		}
		if t := engine.FindTable(rep, file, "Pipeline", "events/s"); t != nil {
			for _, s := range pipelineFindings(t, rep.Baseline) {
				add(s)
			}
		}
		if t := engine.FindTable(rep, file, "Callback", "sec/callback"); t != nil {
			for _, s := range callbackFindings(t, engine.FindTable(rep, file, "Callback", "allocs/op"), rep.Baseline) {
				add(s)
			}
		}
		if t := engine.FindTable(rep, file, "Ref", "sec/op"); t != nil {
			for _, s := range refFindings(t, engine.FindTable(rep, file, "Call", "sec/op"), rep.Baseline) {
				add(s)
			}
		}
		if t := engine.FindTable(rep, file, "Call", "sec/op"); t != nil {
			if s := nativeCallFinding(t, engine.FindTable(rep, file, "Ref", "sec/op")); s != "" {
				add(s)
			}
		}
		for _, s := range pairFindings(rep, file) {
			add(s)
		}
	}
	return out
}

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
		return fmt.Sprintf("%.0f%%", math.Floor(100*conf))
	}
	return fmt.Sprintf("≥%.0f%%", math.Floor(100*conf))
}

// ratioPhrase describes a compared row: "10.2× (95% CI 9.8×–10.6×)".
func ratioPhrase(r *engine.Row) string {
	s := engine.FmtRatio(float64(r.Ratio))
	if !math.IsInf(float64(r.RatioHi), 1) {
		s += fmt.Sprintf(" (%s CI %s–%s)", ciPct(r.RatioConfidence), engine.FmtRatio(float64(r.RatioLo)), engine.FmtRatio(float64(r.RatioHi)))
	} else if r.BaseCenter == 0 {
		s = "more than zero"
	}
	return s
}

func callFindings(t *engine.Table, rep *engine.Report, bench string) []string {
	var out []string
	noun := "call"
	if bench == "Parallel" {
		noun = "parallel call"
	}
	forEachGroup(t, func(rows []*engine.Row) {
		var base *engine.Row
		for _, r := range rows {
			if r.Baseline {
				base = r
			}
		}
		if base == nil {
			return
		}
		op := base.Key("op")
		if op == "" {
			op = base.Group
		}
		var sig, same []string
		for _, r := range rows {
			if !r.HasBase {
				continue
			}
			if r.Significant {
				sig = append(sig, fmt.Sprintf("%s %s", r.Label(), ratioPhrase(r)))
			} else {
				same = append(same, fmt.Sprintf("%s (p=%s)", r.Label(), engine.FmtP(float64(r.P))))
			}
		}
		s := fmt.Sprintf("One `%s` %s through %s costs %s", op, noun, rep.Baseline, engine.Human(float64(base.Center), t.Unit))
		if len(sig) > 0 {
			s += "; relative to it: " + strings.Join(sig, ", ")
		}
		if len(same) > 0 {
			s += "; not distinguishable from it: " + strings.Join(same, ", ")
		}
		out = append(out, s+".")
	})
	return out
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

func payloadFindings(t, rate *engine.Table, rep *engine.Report) []string {
	// Find the largest size.
	var maxSize float64
	var maxLabel string
	for _, r := range t.Rows {
		if s, ok := engine.ParseSize(r.Key("size")); ok && s > maxSize {
			maxSize, maxLabel = s, r.Key("size")
		}
	}
	if maxLabel == "" {
		return nil
	}
	var out []string
	forEachGroup(t, func(rows []*engine.Row) {
		if rows[0].Key("size") != maxLabel {
			return
		}
		op := rows[0].Key("op")
		var parts []string
		for _, r := range rows {
			s := fmt.Sprintf("%s %s", r.Label(), engine.Human(float64(r.Center), t.Unit))
			if rr := matchRow(rate, r); rr != nil {
				s += fmt.Sprintf(" (%s)", engine.Human(float64(rr.Center), rate.Unit))
			}
			if r.HasBase && r.Significant {
				s += fmt.Sprintf(", %s %s", ratioPhrase(r), rep.Baseline)
			} else if r.HasBase {
				s += fmt.Sprintf(", not distinguishable from %s (p=%s)", rep.Baseline, engine.FmtP(float64(r.P)))
			}
			parts = append(parts, s)
		}
		out = append(out, fmt.Sprintf("Passing %s to `%s` costs: %s.", maxLabel, op, strings.Join(parts, "; ")))
	})
	return out
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

func setupFindings(t *engine.Table) []string {
	var out []string
	// Per phase: the cheapest and the most expensive backend.
	type ext struct{ lo, hi *engine.Row }
	phases := map[string]*ext{}
	var order []string
	for _, r := range t.Rows {
		ph := r.Key("phase")
		if ph == "" {
			continue
		}
		e := phases[ph]
		if e == nil {
			e = &ext{r, r}
			phases[ph] = e
			order = append(order, ph)
		}
		if r.Center < e.lo.Center {
			e.lo = r
		}
		if r.Center > e.hi.Center {
			e.hi = r
		}
	}
	for _, ph := range order {
		e := phases[ph]
		if e.lo == e.hi {
			continue
		}
		out = append(out, fmt.Sprintf("Setup phase `%s` ranges from %s (%s) to %s (%s).",
			ph, engine.Human(float64(e.lo.Center), t.Unit), setupLabel(e.lo), engine.Human(float64(e.hi.Center), t.Unit), setupLabel(e.hi)))
	}
	// Cache effect: compare each cache mode with cache=none for the
	// same backend and fixture, by the centers and their intervals.
	for _, r := range t.Rows {
		c := r.Key("cache")
		if c == "" || c == "none" {
			continue
		}
		for _, n := range t.Rows {
			if n.Key("cache") != "none" || n.By != r.By || n.Ignored != r.Ignored ||
				n.Key("phase") != r.Key("phase") {
				continue
			}
			disjoint := float64(r.Hi) < float64(n.Lo) || float64(r.Lo) > float64(n.Hi)
			how := "the confidence intervals overlap"
			if disjoint {
				how = "the confidence intervals do not overlap"
			}
			rt := float64(n.Center / r.Center)
			change := engine.FmtRatio(rt) + " faster"
			if rt < 1 {
				change = engine.FmtRatio(1/rt) + " slower"
			}
			out = append(out, fmt.Sprintf("cache=%s makes `%s` of %s %s than cache=none: %s vs %s (%s).",
				c, r.Key("phase"), r.Label(), change, engine.Human(float64(r.Center), t.Unit), engine.Human(float64(n.Center), t.Unit), how))
		}
	}
	return out
}

func setupLabel(r *engine.Row) string {
	s := r.Label()
	if c := r.Key("cache"); c != "" {
		s += " cache=" + c
	}
	return s
}

func allocFinding(t *engine.Table, baseline string) string {
	var parts []string
	var baseAllocs float64 = -1
	for _, r := range t.Rows {
		if r.Baseline && float64(r.Center) > baseAllocs {
			baseAllocs = float64(r.Center)
		}
	}
	for _, r := range t.Rows {
		if r.HasBase && r.Center > 0 && r.Significant {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Group, r.Label(), engine.Human(float64(r.Center), t.Unit)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	const maxList = 6
	more := ""
	if len(parts) > maxList {
		more = fmt.Sprintf(" and %d more", len(parts)-maxList)
		parts = parts[:maxList]
	}
	s := fmt.Sprintf("%s: %s makes %s; these make significantly more: %s%s.", t.Benchmark, baseline, engine.Human(baseAllocs, t.Unit), strings.Join(parts, ", "), more)
	if baseAllocs < 0 {
		s = fmt.Sprintf("%s: allocating rows: %s%s.", t.Benchmark, strings.Join(parts, ", "), more)
	}
	return s
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
	"extism":              {"extism"},
	"yaegi":               {"yaegi"},
	"pipe":                {"subprocess"},
	"shm-doorbell":        {"shm"},
	"go-plugin-grpc":      {"hashicorp-grpc"},
	"go-plugin-netrpc":    {"hashicorp-netrpc"},
}

// refFindings relates reference implementations to the baseline call of
// the same op and to the backend built on the same mechanism, for the same
// fixture (medians only: they are different benchmarks of one run).
func refFindings(ref, call *engine.Table, baseline string) []string {
	var out []string
	for _, r := range ref.Rows {
		op, impl, fixture := r.Key("op"), r.Key("impl"), r.Key("fixture")
		name := engine.NonEmpty(impl, r.Label())
		if fixture != "" {
			name += " (" + fixture + ")"
		}
		s := fmt.Sprintf("Reference `%s` via %s costs %s", op, name, engine.Human(float64(r.Center), ref.Unit))
		if call != nil {
			for _, c := range call.Rows {
				if c.Key("op") != op || c.Center <= 0 || r.Center <= 0 {
					continue
				}
				if c.Baseline {
					s += fmt.Sprintf(" (%s the %s call's median)", engine.FmtRatio(float64(r.Center/c.Center)), baseline)
				}
				if slices.Contains(refBackends[impl], c.By) && c.By != baseline && (fixture == "" || c.Ignored == fixture) {
					s += fmt.Sprintf("; the %s call costs %s this", c.Label(), engine.FmtRatio(float64(c.Center/r.Center)))
				}
			}
		}
		out = append(out, s+".")
	}
	return out
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
			these = append(these, fmt.Sprintf("%s %s", r.Label(), engine.Human(float64(r.Center), call.Unit)))
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
					floors = append(floors, fmt.Sprintf("%s %s", impl.what, engine.Human(float64(r.Center), ref.Unit)))
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
				cells = append(cells, fmt.Sprintf("%s allocates %s against %s", label, engine.Human(float64(a.Center), t.Unit), engine.Human(float64(b.Center), t.Unit)))
				continue
			}
			c := fmt.Sprintf("%s %s against %s", label, engine.Human(float64(a.Center), t.Unit), engine.Human(float64(b.Center), t.Unit))
			if a.Center > 0 && b.Center > 0 {
				c += fmt.Sprintf(" (%.2f×)", float64(a.Center)/float64(b.Center))
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
