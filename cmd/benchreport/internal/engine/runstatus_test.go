package engine

import (
	"reflect"
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
			want: []NotRun{{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: NotRunSkipped,
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
			want: []NotRun{{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: NotRunSkipped,
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
				{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: NotRunFailed,
					Reason: "crashed: signal SIGSEGV in the row's isolated child process\nSIGSEGV: segmentation violation\n\ngoroutine 1 [running]:"},
				{Name: "BenchmarkCall", Status: NotRunFailed},
			},
		},
		{
			name: "a reason is not taken from the block above",
			in: "--- SKIP: BenchmarkA/x\n" +
				"    reason of x\n" +
				"--- SKIP: BenchmarkA/y\n",
			want: []NotRun{
				{Name: "BenchmarkA/x", Status: NotRunSkipped, Reason: "reason of x"},
				{Name: "BenchmarkA/y", Status: NotRunSkipped},
			},
		},
		{
			name: "failed wins over skipped",
			in: "--- SKIP: BenchmarkA/x\n" +
				"    skipped first\n" +
				"--- FAIL: BenchmarkA/x\n" +
				"    then failed\n",
			failed: 3,
			want:   []NotRun{{Name: "BenchmarkA/x", Status: NotRunFailed, Reason: "then failed"}},
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
		{Name: "BenchmarkCall", Status: NotRunFailed},                                              // a parent: dropped
		{Name: "BenchmarkCall/op=min/backend=dlopen/fixture=c", Status: NotRunFailed, Reason: "x"}, // kept
		{Name: "BenchmarkCall/op=min/backend=static/fixture=builtin", Status: NotRunSkipped},       // ran: dropped
		{Name: "BenchmarkSetup/phase=load/backend=dlopen/fixture=c", Status: NotRunSkipped},        // filtered out
	}
	ran := map[string]bool{"BenchmarkCall/op=min/backend=static/fixture=builtin": true}
	filter, err := benchproc.NewFilter(".name:Call")
	if err != nil {
		t.Fatal(err)
	}
	got := keepNotRun(nrs, ran, &Input{Label: "f"}, filter)
	if len(got) != 1 || got[0].Name != nrs[1].Name {
		t.Errorf("kept %+v, want only %s", got, nrs[1].Name)
	}
}

func TestMachineDiffs(t *testing.T) {
	a := []KV{{"goos", "linux"}, {"cpu", "A"}, {"go", "go1.26.8"}, {"commit", "x"}}
	b := []KV{{"goos", "linux"}, {"cpu", "B"}, {"goarch", "amd64"}, {"commit", "y"}}
	got := MachineDiffs("base", a, "new", b)
	want := []string{
		`cpu is "A" in base, "B" in new`,
		`goarch is absent from base, "amd64" in new`,
		`go is "go1.26.8" in base, absent from new`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("machineDiffs:\n got %q\nwant %q", got, want)
	}
	if d := MachineDiffs("a", a, "b", a); len(d) != 0 {
		t.Errorf("same machine: %q", d)
	}
}
