// Package plugbench is benchreport's knowledge of plugbench's own
// benchmark suite, as a layer on top of the general engine (package
// engine): the backend= name key and the static baseline, the
// findings drawn from the suite's benchmarks (Call, Payload, Setup,
// Event, Pipeline, Callback, Ref), the event round-trip table, the
// fault table (-faults), the backends none of whose rows ran, and the
// suite's charts.
//
// It imports the engine and adds to a Report through its extension
// points (Findings, NotRunNotes, Ext, Sections, Charts); the engine
// does not import it. main decides, with Detect, whether the layer
// applies to the data at hand.
package plugbench

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The report's defaults for plugbench's results: rows are compared by
// backend with static's, whatever their fixture and transport.
const (
	By       = "/backend"
	Ignore   = "/fixture,/transport"
	Baseline = "static"
	Title    = "plugbench results"
	// NormalizeExample is the -normalize reference the gate suggests
	// for results from different machines.
	NormalizeExample = "backend=static"
)

// backendOfName returns the backend= key of a benchmark name as go test
// prints it ("BenchmarkCall/op=min/backend=wasm/fixture=c"), or "".
func backendOfName(name string) string {
	_, parts, _ := engine.NameParts(benchfmt.Name(strings.TrimPrefix(name, "Benchmark")))
	return engine.Lookup(parts, "backend")
}

// Detect reports whether ds holds plugbench's results: a benchmark,
// run or not, whose name has a backend= key.
func Detect(ds *engine.Dataset) bool {
	for _, in := range ds.Inputs {
		for name := range in.Ran {
			if backendOfName(name) != "" {
				return true
			}
		}
	}
	for _, nr := range ds.NotRun {
		if backendOfName(nr.Name) != "" {
			return true
		}
	}
	return false
}

// Apply adds plugbench's knowledge to rep, the engine's report of ds:
// the backends that did not run, the findings, the event table, the
// fault table fr (nil if not measured) and the charts.
func Apply(rep *engine.Report, ds *engine.Dataset, fr *FaultReport) error {
	dead := deadBackends(ds)
	rep.NotRunNotes = append(rep.NotRunNotes, deadBackendLines(rep, dead)...)
	rep.Findings = append(rep.Findings, notRunFindings(rep, dead)...)
	events := eventSummary(rep)
	if len(events) > 0 {
		rep.Ext = append(rep.Ext, engine.ExtField{Key: "events", Value: events})
	}
	charts, err := makeCharts(rep)
	if err != nil {
		return err
	}
	rep.Charts = append(rep.Charts, charts...)
	if fr != nil {
		joinRecover(rep, fr)
		rep.Warnings = append(rep.Warnings, faultMachineWarnings(rep, fr)...)
	}
	rep.FindingSections = append(rep.FindingSections, answers(rep, fr)...)
	rep.Ext = append(rep.Ext, engine.ExtField{Key: "finding_sections", Value: nonNil(rep.FindingSections)})
	rep.Ext = append(rep.Ext, engine.ExtField{Key: "faults", Value: fr})
	rep.HideEnv, rep.HiddenEnvNote = hiddenEnvKey, hiddenEnvNote
	baseline := rep.Baseline
	if ct := chooseTable(rep, fr); ct != nil {
		rep.Ext = append(rep.Ext, engine.ExtField{Key: "choosing", Value: ct})
		lines := glance(ct, baseline)
		rep.Ext = append(rep.Ext, engine.ExtField{Key: "at_a_glance", Value: lines})
		rep.Lead = append(rep.Lead, engine.Section{
			Markdown: func(w io.Writer) { writeGlanceMarkdown(w, lines, "##") },
			HTML:     func() (template.HTML, error) { return glanceHTML(lines) },
		}, engine.Section{
			Markdown: func(w io.Writer) { WriteChoiceMarkdown(w, ct, baseline, "##") },
			HTML:     func() (template.HTML, error) { return chooseHTML(ct, baseline) },
		})
	}
	rep.Sections = append(rep.Sections,
		engine.Section{
			Markdown: func(w io.Writer) { writeEventMarkdown(w, events, baseline) },
			HTML:     func() (template.HTML, error) { return eventsHTML(events, baseline) },
		},
		engine.Section{
			Markdown: func(w io.Writer) { writeFaultsMarkdown(w, fr) },
			HTML:     func() (template.HTML, error) { return faultsHTML(fr) },
		})
	return nil
}

// deadBackends returns, per file, the backends none of whose rows ran.
func deadBackends(ds *engine.Dataset) map[string][]string {
	out := map[string][]string{}
	for _, in := range ds.Inputs {
		ran := map[string]bool{}
		for name := range in.Ran {
			if b := backendOfName(name); b != "" {
				ran[b] = true
			}
		}
		var nrs []engine.NotRun
		for _, nr := range ds.NotRun {
			if nr.File == in.Label {
				nrs = append(nrs, nr)
			}
		}
		if bs := backendsNotRun(nrs, ran); len(bs) > 0 {
			out[in.Label] = bs
		}
	}
	return out
}

// deadBackendLines names, per file, the backends none of whose rows
// ran.
func deadBackendLines(rep *engine.Report, dead map[string][]string) []string {
	var out []string
	for _, ef := range rep.Environment {
		bs := dead[ef.File]
		if len(bs) == 0 {
			continue
		}
		s, verb := "No row of backend "+engine.OrList(bs)+" ran", "it is"
		if len(bs) > 1 {
			s, verb = "No row of the backends "+engine.OrList(bs)+" ran", "they are"
		}
		if len(rep.Environment) > 1 {
			s += " in " + ef.File
		}
		out = append(out, s+": "+verb+" missing from every table and chart.")
	}
	return out
}

// backendsNotRun returns the values of the name key "backend" that
// appear only in rows that did not run: the backends of a file that
// have no results at all.
func backendsNotRun(nrs []engine.NotRun, ran map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, nr := range nrs {
		b := backendOfName(nr.Name)
		if b == "" || seen[b] || ran[b] {
			continue
		}
		seen[b] = true
		out = append(out, b)
	}
	return out
}

// nonNil makes a nil slice an empty one, for JSON ("[]", not null).
func nonNil(s []engine.FindingSection) []engine.FindingSection {
	if s == nil {
		return []engine.FindingSection{}
	}
	return s
}

// hiddenEnvKey reports whether a configuration key is left out of the
// Markdown and HTML environment blocks and the fault table's intro: the
// fixture-* keys are the artifacts' content hashes, for machines (the
// JSON report keeps them).
func hiddenEnvKey(key string) bool { return strings.HasPrefix(key, "fixture-") }

// hiddenEnvNote says, under the environment block, where they are.
func hiddenEnvNote(hidden []string) string {
	return fmt.Sprintf("%d fixture hashes (%s) are in the JSON report (-format json).", len(hidden), strings.Join(hidden, ", "))
}
