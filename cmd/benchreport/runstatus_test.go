package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/perf/benchproc"
)

func TestFailedRunLine(t *testing.T) {
	for _, line := range []string{
		"FAIL",
		"FAIL\tgithub.com/plugbench/plugbench/bench\t1.234s",
		"FAIL github.com/plugbench/plugbench/bench [build failed]",
		"--- FAIL: BenchmarkCall/op=min/backend=dlopen/fixture=c",
		"--- FAIL: TestX (0.00s)",
		"panic: runtime error: invalid memory address or nil pointer dereference",
		"fatal error: all goroutines are asleep - deadlock!",
		"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]",
		"SIGSEGV: segmentation violation",
		"SIGABRT: abort",
		"signal: segmentation fault (core dumped)",
		"*** Test killed with quit: ran too long (11m0s).",
	} {
		if !failedRunLine.MatchString(line) {
			t.Errorf("%q does not show a failed run", line)
		}
	}
	for _, line := range []string{
		"FAILED",
		"PASS",
		"ok  \tgithub.com/plugbench/plugbench/bench\t1.2s",
		"    panic: in a log line",
		"        SIGSEGV: segmentation violation",
		"--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c",
		"--- FAILURE: not go test's",
		"signals: 3",
		"BenchmarkCall/op=min/backend=static/fixture=builtin-2 \t 1000 \t 1.2 ns/op",
	} {
		if failedRunLine.MatchString(line) {
			t.Errorf("%q shows a failed run", line)
		}
	}
}

func TestScanRun(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     string
		failed int // line of the first failed-run line, 0 for none
		want   []NotRun
	}{
		{
			name: "suite block",
			in: "--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c\n" +
				"    dlopen/c: fixture unavailable: no C compiler\n" +
				"        install gcc\n" +
				"BenchmarkCall/op=min/backend=static/fixture=builtin-2 \t 1000 \t 1.2 ns/op\n",
			want: []NotRun{{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: notRunSkipped,
				Reason: "dlopen/c: fixture unavailable: no C compiler\ninstall gcc"}},
		},
		{
			name: "go test -v: log lines first, then the suite's block is merged",
			in: "BenchmarkCall/op=min/backend=dlopen/fixture=c\n" +
				"    bench_test.go:96: first log\n" +
				"    bench_test.go:123: dlopen/c: fixture unavailable\n" +
				"        second line\n" +
				"--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c (0.00s)\n" +
				"--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c\n" +
				"    other text\n" +
				"--- SKIP: TestX (0.00s)\n" +
				"    x_test.go:1: not a benchmark\n",
			want: []NotRun{{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: notRunSkipped,
				Reason: "dlopen/c: fixture unavailable\nsecond line"}},
		},
		{
			name: "a crash: blank and tab-indented continuation lines",
			in: "--- FAIL: BenchmarkCall/op=min/backend=dlopen/fixture=c\n" +
				"    isolate_test.go:88: crashed: signal SIGSEGV in the row's isolated child process\n" +
				"        \tSIGSEGV: segmentation violation\n" +
				"        \n" +
				"        \tgoroutine 1 [running]:\n" +
				"--- FAIL: BenchmarkCall\n" +
				"FAIL\n",
			failed: 1,
			want: []NotRun{
				{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: notRunFailed,
					Reason: "crashed: signal SIGSEGV in the row's isolated child process\nSIGSEGV: segmentation violation\n\ngoroutine 1 [running]:"},
				{Name: "BenchmarkCall", Status: notRunFailed},
			},
		},
		{
			name: "a reason is not taken from the block above",
			in: "--- SKIP: BenchmarkA/x\n" +
				"    reason of x\n" +
				"--- SKIP: BenchmarkA/y\n",
			want: []NotRun{
				{Name: "BenchmarkA/x", Status: notRunSkipped, Reason: "reason of x"},
				{Name: "BenchmarkA/y", Status: notRunSkipped},
			},
		},
		{
			name: "failed wins over skipped",
			in: "--- SKIP: BenchmarkA/x\n" +
				"    skipped first\n" +
				"--- FAIL: BenchmarkA/x\n" +
				"    then failed\n",
			failed: 3,
			want:   []NotRun{{Name: "BenchmarkA/x", Status: notRunFailed, Reason: "then failed"}},
		},
		{
			name:   "a panic",
			in:     "BenchmarkA-2 \t 1 \t 1 ns/op\npanic: boom\n\ngoroutine 1 [running]:\n",
			failed: 2,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			failed, got := scanRun("f", []byte(tt.in))
			line := 0
			if failed != nil {
				line = failed.Line
			}
			if line != tt.failed {
				t.Errorf("failed run at line %d, want %d (%+v)", line, tt.failed, failed)
			}
			for i := range tt.want {
				tt.want[i].File = "f"
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("not run:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestKeepNotRun(t *testing.T) {
	nrs := []NotRun{
		{Name: "BenchmarkCall", Status: notRunFailed},                                              // a parent: dropped
		{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: notRunFailed, Reason: "x"}, // kept
		{Name: "BenchmarkCall/op=min/backend=static/fixture=builtin", Status: notRunSkipped},       // ran: dropped
		{Name: "BenchmarkSetup/phase=load/backend=dlopen/fixture=c", Status: notRunSkipped},        // filtered out
	}
	ran := map[string]bool{"BenchmarkCall/op=min/backend=static/fixture=builtin": true}
	filter, err := benchproc.NewFilter(".name:Call")
	if err != nil {
		t.Fatal(err)
	}
	got := keepNotRun(nrs, ran, &input{label: "f"}, filter)
	if len(got) != 1 || got[0].Name != nrs[1].Name {
		t.Errorf("kept %+v, want only %s", got, nrs[1].Name)
	}
	if dead := backendsNotRun(got, map[string]bool{"static": true}); !reflect.DeepEqual(dead, []string{"dlopen"}) {
		t.Errorf("backends that did not run: %v, want [dlopen]", dead)
	}
}

func TestMachineDiffs(t *testing.T) {
	a := []kv{{"goos", "linux"}, {"cpu", "A"}, {"go", "go1.26.8"}, {"commit", "x"}}
	b := []kv{{"goos", "linux"}, {"cpu", "B"}, {"goarch", "amd64"}, {"commit", "y"}}
	got := machineDiffs("base", a, "new", b)
	want := []string{
		`cpu is "A" in base, "B" in new`,
		`goarch is absent from base, "amd64" in new`,
		`go is "go1.26.8" in base, absent from new`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("machineDiffs:\n got %q\nwant %q", got, want)
	}
	if d := machineDiffs("a", a, "b", a); len(d) != 0 {
		t.Errorf("same machine: %q", d)
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
				if code := exitCode(discard{}, err); code != exitBad {
					t.Errorf("exit status %d, want %d", code, exitBad)
				}
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
