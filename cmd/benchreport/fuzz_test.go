package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F, add func(b []byte)) {
	for _, name := range []string{"sample.txt", "gate-base.txt", "gate-few.txt", "bad-syntax.txt", "bad-unit.txt", "bad-truncated.txt"} {
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
		p, err := parseProjections(rf)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := parseInputs([]*input{{label: "fuzz", path: "fuzz"}}, [][]byte{data}, p.filter)
		if err != nil {
			return
		}
		rep, err := reportFromData(ds, p, rf)
		if err != nil {
			return
		}
		for _, format := range []string{"md", "html", "csv", "json"} {
			rf.format = format
			if err := writeReport(discard{}, rep, rf); err != nil {
				t.Fatalf("writing %s: %v", format, err)
			}
		}
	})
}

// FuzzGate feeds two arbitrary inputs to the gate.
func FuzzGate(f *testing.F) {
	var seeds [][]byte
	fuzzSeeds(f, func(b []byte) { seeds = append(seeds, b) })
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, base, new []byte, normalize bool) {
		defer watchdog(t)()
		gf := defaultGateFlags()
		if normalize {
			gf.normalize = "backend=static"
		}
		gf.correct = normalize
		c, err := newGateConfig(gf)
		if err != nil {
			t.Fatal(err)
		}
		ins := []*input{{label: "base", path: "base"}, {label: "new", path: "new"}}
		ds, err := parseInputs(ins, [][]byte{base, new}, c.filter)
		if err != nil {
			return
		}
		res, err := gate(ds, c)
		if err != nil {
			return
		}
		for _, format := range []string{"text", "md", "csv", "json"} {
			if err := writeGate(discard{}, res, format); err != nil {
				t.Fatalf("writing %s: %v", format, err)
			}
		}
		_ = gateVerdict(res, false)
	})
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
