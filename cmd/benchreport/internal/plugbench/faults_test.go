package plugbench

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

func TestBackendsNotRun(t *testing.T) {
	nrs := []engine.NotRun{
		{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: engine.NotRunFailed, Reason: "x"},
		{Name: "BenchmarkCall/op=min/backend=static/fixture=builtin", Status: engine.NotRunSkipped},
	}
	if dead := backendsNotRun(nrs, map[string]bool{"static": true}); !reflect.DeepEqual(dead, []string{"dlopen"}) {
		t.Errorf("backends that did not run: %v, want [dlopen]", dead)
	}
}

func TestFmtDuration(t *testing.T) {
	for ns, want := range map[float64]string{
		0: "0 ns", 48211: "48 µs", 2.1e6: "2.1 ms", 3e6: "3 ms", 1e9: "1 s", 999.6e3: "1 ms",
		12.34: "12 ns", 1.25e6: "1.3 ms", 95e9: "95 s",
	} {
		if got := fmtDuration(ns); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", ns, got, want)
		}
	}
	if got := fmtBytes(73400320); got != "70 MiB" {
		t.Errorf("fmtBytes(70 MiB) = %q", got)
	}
	if got := fmtDurationRange(30e3, 33e3); got != "30–33 µs" {
		t.Errorf("fmtDurationRange = %q", got)
	}
}

// withTrials gives cell, an old table's cell, the consequence cons and a
// trial per consequence in trials (a JSON string, or "" for none).
func withTrials(cell, cons string, trials ...string) string {
	var ts []string
	for _, tc := range trials {
		t := `{"outcome": "error", "detect_ns": 1, "since": "call", "recovery": "none"`
		if tc != "" {
			t += `, "consequence": ` + tc
		}
		ts = append(ts, t+"}")
	}
	return strings.TrimSuffix(cell, "}") + `, "consequence": "` + cons + `", "trials": [` + strings.Join(ts, ", ") + "]}"
}

// trialsDoc is a table of n trials a cell (no trials line if n < 0).
func trialsDoc(n int, cells ...string) string {
	return fmt.Sprintf("{\n\"config\": {\"go\": \"go1.26.8\"},\n\"deadline_ns\": 1000,\n\"faults\": [\"segv\"],\n\"trials\": %d,\n\"cells\": [\n%s\n]\n}\n", n, strings.Join(cells, ",\n"))
}

// TestFaultsBeforeTrials checks that a table from before trials reads:
// each cell its own one trial, its consequence derived from what it
// recorded.
func TestFaultsBeforeTrials(t *testing.T) {
	in := `{"config": {}, "deadline_ns": 1, "faults": ["loop", "startloop"], "cells": [
{"fault": "loop", "backend": "wasm", "fixture": "c", "outcome": "hung", "detect_ns": 0, "since": "deadline", "recovery": "restart", "recovery_note": "the host froze after it"},
{"fault": "startloop", "backend": "dlopen", "fixture": "c", "outcome": "deadline", "detect_ns": 0, "since": "deadline", "recovery": "restart", "recovery_note": "nothing loads in this process any more"},
{"fault": "loop", "backend": "dlopen", "fixture": "c", "outcome": "hung", "detect_ns": 0, "since": "deadline", "recovery": "reinstantiate"},
{"fault": "startloop", "backend": "wasm-interp", "fixture": "c", "outcome": "deadline", "detect_ns": 0, "since": "deadline", "recovery": "reload", "recovery_note": "the start function runs on"}
]}`
	fr, err := parseFaults("old.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if fr.Trials != 1 {
		t.Errorf("trials %d, want 1", fr.Trials)
	}
	for i, want := range []string{"host-frozen", "loader-locked", "core-lost", "core-lost"} {
		c := fr.Cells[i]
		if c.Consequence != want || len(c.Trials) != 1 || c.Trials[0].Consequence != want {
			t.Errorf("cell %d (%s %s): consequence %q, trials %d; want %q, one trial", i, c.Fault, c.Backend, c.Consequence, len(c.Trials), want)
		}
	}
}

func TestParseFaultsErrors(t *testing.T) {
	const cell = `{"fault": "segv", "backend": "wasm", "fixture": "c", "outcome": "error", "detect_ns": 1, "since": "call", "recovery": "none"}`
	doc := func(cells ...string) string {
		return fmt.Sprintf("{\n\"config\": {\"go\": \"go1.26.8\"},\n\"deadline_ns\": 1000,\n\"faults\": [\"segv\"],\n\"cells\": [\n%s\n]\n}\n", strings.Join(cells, ",\n"))
	}
	for _, tt := range []struct{ name, in, want string }{
		{"ok", doc(cell), ""},
		{"unknown field", doc(strings.Replace(cell, `"since"`, `"sincе"`, 1)), `f.json:6: json: unknown field "sincе"`},
		{"repeated cell", doc(cell, cell), "f.json:7: cells[1]: fault segv, backend wasm, fixture c again (first at line 6)"},
		{"syntax", doc(cell + ","), "f.json:7: invalid character ']' looking for beginning of value"},
		{"config value", strings.Replace(doc(cell), `"go1.26.8"`, `1.26`, 1), "f.json:2: json: cannot unmarshal number into Go value of type string"},
		{"trailing data", doc(cell) + "{}", "f.json:9: invalid character '{' after top-level value"},
		{"unknown top-level field", strings.Replace(doc(cell), `"faults"`, `"fault"`, 1), `f.json:4: unknown field "fault" (want config, deadline_ns, trials, faults and cells)`},
		{"truncated", doc(cell)[:40], "f.json:3: unexpected end of JSON input"},
		{"not an object", "[]", `f.json:1: want "{", have [`},
		{"empty signal for killed is a Go fatal error", doc(strings.Replace(cell, `"error"`, `"killed"`, 1)), ""},
		{"trials", trialsDoc(2, withTrials(cell, "error", `"error"`, `"error"`)), ""},
		{"trials varied", trialsDoc(2, withTrials(cell, "host-frozen", `"stopped"`, `"host-frozen"`)), ""},
		{"trials empty", trialsDoc(2, withTrials(cell, "error")), "f.json:7: cells[0]: trials is empty: want every trial of the cell"},
		{"trials counted wrong", trialsDoc(3, withTrials(cell, "error", `"error"`, `"error"`)), "f.json:7: cells[0]: 2 trials, the table says 3 a cell"},
		{"no trials in the table", trialsDoc(0, withTrials(cell, "error", `"error"`)), "f.json:5: trials 0: want at least 1"},
		{"a cell's consequence is not its worst trial's", trialsDoc(2, withTrials(cell, "stopped", `"stopped"`, `"host-frozen"`)),
			`f.json:7: cells[0]: consequence "stopped" is not its gravest trial's, "host-frozen"`},
		{"an unknown consequence", trialsDoc(1, withTrials(cell, "fine", `"fine"`)),
			`f.json:7: cells[0]: consequence "fine": want not-applicable, error, stopped, core-lost, restart, loader-locked, host-frozen or host-killed` + "\n" +
				`f.json:7: cells[0]: trials[0]: consequence "fine": want not-applicable, error, stopped, core-lost, restart, loader-locked, host-frozen or host-killed`},
		{"a trial without a consequence", trialsDoc(1, withTrials(cell, "error", "")), `f.json:7: cells[0]: trials[0]: missing "consequence"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFaults("f.json", []byte(tt.in))
			got := ""
			if err != nil {
				got = err.Error()
				var ie engine.InputErrors
				if !errors.As(err, &ie) {
					t.Errorf("error %T is not an input error (exit status 2)", err)
				}
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
