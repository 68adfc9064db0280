package plugbench

import (
	"strings"
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// section returns the findings under heading, joined by newlines.
func section(secs []engine.FindingSection, heading string) string {
	for _, s := range secs {
		if s.Heading == heading {
			return strings.Join(s.Findings, "\n")
		}
	}
	return ""
}

// TestAnswers checks that the findings answer each question in its own
// section, with the figures of the rows: the baseline's, the cheapest
// across a boundary with their ratios, what a cache buys, memory per
// instance at the largest count, and what a fault does to the host.
func TestAnswers(t *testing.T) {
	rep := report(t, chooseInput(t, "", true))
	fr := *chooseFaults
	secs := answers(rep, &fr)
	var heads []string
	for _, s := range secs {
		heads = append(heads, s.Heading)
	}
	if got, want := strings.Join(heads, "|"), strings.Join([]string{qCall, qData, qEvents, qCallback, qStart, qInstances, qFaults}, "|"); got != want {
		t.Errorf("sections %s, want %s", got, want)
	}
	for heading, wants := range map[string][]string{
		qCall: {"One `min` call: static (builtin) 2.05 ns; the cheapest across a boundary: goplugin (go) 4.10 ns (2.0×), wasm (c) 20.5 ns (10×), wasm (go) 30.8 ns (15×); the dearest: shm (c) 308 ns (150×)."},
		qData: {"`sum` of 1MiB: static (builtin) 410 µs; the cheapest across a boundary: wasm (c) 1.03 ms (2.5×)."},
		qEvents: {"A `typical` event's round trip, at each backend's fastest transport: static (builtin) 102 ns (value); the cheapest across a boundary: wasm (c) 1.54 µs (flat, 15×).",
			"? The backends that offer no such transport encode every event; the cheapest of them: wasm (c) 1.54 µs (flat, 15×); json costs 3.3× their cheapest encoding."},
		qCallback: {"One call back into the host: static (builtin) 2.05 ns; the cheapest across a boundary: wasm (c) 41.0 ns (20×)."},
		qStart:    {"A compilation cache, at its fastest mode: wasm (c) 12.3 ms → 410 µs (memory, 30× faster).", "A cold load's peak resident memory (peak-B), the largest: wasm (c) 2.86 MiB."},
		qInstances: {"the least across a boundary: wasm (c) 1.43 MiB @100 (30.0 µs to create each), shm (c) 2.00 MiB @100 (1.00 ms to create each).",
			"Did not run (see “Rows that did not run” for why): wasm (c) @10000, goplugin (go) @1."},
		qFaults: {"A fault kills the host: static (builtin): segv.",
			"A fault freezes the host: its next garbage collection waits for ever for a guest that Go cannot preempt, and only a restart helps: wasm (c): loop, startloop.",
			"A fault that nothing can stop keeps a core for good, and the host works on: static (builtin): loop."},
	} {
		got := section(secs, heading)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", heading, got, w)
			}
		}
	}
}

// TestAnswersMissing checks the answers to the questions the data
// cannot answer: no memory rows, no fault table.
func TestAnswersMissing(t *testing.T) {
	secs := answers(report(t, chooseInput(t, "", false)), nil)
	if got := section(secs, qInstances); !strings.Contains(got, "No memory rows in this run") {
		t.Errorf("%s: %q, want it to say there are no memory rows", qInstances, got)
	}
	if got := section(secs, qFaults); got != noFaultTable {
		t.Errorf("%s: %q, want %q", qFaults, got, noFaultTable)
	}
}
