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
		{"unknown top-level field", strings.Replace(doc(cell), `"faults"`, `"fault"`, 1), `f.json:4: unknown field "fault" (want config, deadline_ns, faults and cells)`},
		{"truncated", doc(cell)[:40], "f.json:3: unexpected end of JSON input"},
		{"not an object", "[]", `f.json:1: want "{", have [`},
		{"empty signal for killed is a Go fatal error", doc(strings.Replace(cell, `"error"`, `"killed"`, 1)), ""},
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
