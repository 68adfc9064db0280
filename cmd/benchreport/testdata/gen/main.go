// Command gen writes the synthetic plugbench results in testdata.
// They were generated with:
//
//	go run ./testdata/gen -seed 1 > testdata/sample.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 2 > testdata/gate-base.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 3 > testdata/gate-same.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 4 -scale "Call/op=min/backend=wasm/fixture=c=1.2" > testdata/gate-slow.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 3 -allocadd "Call/op=min/backend=wasm/fixture=c" > testdata/gate-alloc.txt
//	go run ./testdata/gen -mode gate -count 3 -seed 5 > testdata/gate-few.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 3 -drop "op=accumulate/backend=wasm" > testdata/gate-missing.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 7 -scale "Call/op=min/backend=wasm/fixture=c=0.8" > testdata/gate-improve.txt
//	go run ./testdata/gen -mode gate -count 8 -seed 6 -scale "Call/=1.3" -cpu "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" > testdata/gate-machine.txt
//	go run ./testdata/gen -mode memory -seed 8 > testdata/memory.txt
//
// The numbers are invented but shaped like real plugbench runs: lognormal
// noise with occasional outliers, -count style consecutive samples.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
)

type row struct {
	name   string
	ns     float64
	noise  float64
	bytes  float64 // SetBytes, 0 = none
	bop    float64
	allocs float64
	extra  string // extra metric unit
}

var rng *rand.Rand

func sample(mu, noise float64) float64 {
	v := mu * math.Exp(rng.NormFloat64()*noise)
	if rng.Float64() < 0.08 { // occasional outlier (scheduler, GC)
		v *= 1 + 0.1*rng.Float64()
	}
	return v
}

func fmtNs(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.3f", v)
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	case v < 1000:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func iters(ns float64) int {
	n := int(1e9 / ns)
	for _, c := range []int{1000000000, 500000000, 200000000, 100000000, 50000000, 20000000, 10000000, 5000000, 2000000, 1000000, 500000, 200000, 100000, 50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1} {
		if n >= c {
			return c
		}
	}
	return 1
}

func main() {
	seed := flag.Int64("seed", 1, "")
	count := flag.Int("count", 6, "")
	mode := flag.String("mode", "full", "")
	scale := flag.String("scale", "", "name=factor,...")
	allocAdd := flag.String("allocadd", "", "name substring to add 1 alloc")
	drop := flag.String("drop", "", "drop rows containing")
	commit := flag.String("commit", "4f1c2a9e7b3d5c8a0e6f2b1d9c7a5e3f1b2d4c6a", "")
	cpu := flag.String("cpu", "AMD EPYC 7B13", "")
	flag.Parse()
	rng = rand.New(rand.NewSource(*seed))
	if *mode == "memory" {
		memory(os.Stdout, *count, *cpu, *commit)
		return
	}
	var rows []row
	add := func(r row) { rows = append(rows, r) }
	if *mode == "full" {
		// Setup
		add(row{name: "Setup/phase=load/backend=static/fixture=builtin", ns: 0.62, noise: 0.02})
		add(row{name: "Setup/phase=load/backend=dlopen/fixture=c", ns: 45200, noise: 0.05, bop: 1184, allocs: 9})
		add(row{name: "Setup/phase=load/backend=dlopen/fixture=go", ns: 1.83e6, noise: 0.06, bop: 2456, allocs: 17})
		for _, fx := range []struct {
			f          string
			none, m, d float64
		}{{"c", 8.1e6, 11800, 612000}, {"go", 95.4e6, 15300, 4.05e6}} {
			add(row{name: "Setup/phase=load/backend=wasm/fixture=" + fx.f + "/cache=none", ns: fx.none, noise: 0.03, bop: 21e6 * fx.none / 8.1e6, allocs: 48210 * fx.none / 8.1e6})
			add(row{name: "Setup/phase=load/backend=wasm/fixture=" + fx.f + "/cache=memory", ns: fx.m, noise: 0.04, bop: 5120, allocs: 61})
			add(row{name: "Setup/phase=load/backend=wasm/fixture=" + fx.f + "/cache=disk", ns: fx.d, noise: 0.06, bop: 3.1e6 * fx.d / 612000, allocs: 7200 * fx.d / 612000})
		}
		add(row{name: "Setup/phase=load/backend=wasm-interp/fixture=c", ns: 402000, noise: 0.04, bop: 1.9e6, allocs: 5400})
		add(row{name: "Setup/phase=load/backend=wasm-interp/fixture=go", ns: 9.3e6, noise: 0.05, bop: 38e6, allocs: 91000})
		add(row{name: "Setup/phase=instantiate/backend=static/fixture=builtin", ns: 0.61, noise: 0.02})
		add(row{name: "Setup/phase=instantiate/backend=dlopen/fixture=c", ns: 81.5, noise: 0.03, bop: 16, allocs: 1})
		add(row{name: "Setup/phase=instantiate/backend=dlopen/fixture=go", ns: 92.0, noise: 0.03, bop: 16, allocs: 1})
		add(row{name: "Setup/phase=instantiate/backend=wasm/fixture=c", ns: 35100, noise: 0.04, bop: 1.13e6, allocs: 212})
		add(row{name: "Setup/phase=instantiate/backend=wasm/fixture=go", ns: 482000, noise: 0.05, bop: 17.2e6, allocs: 1840})
		add(row{name: "Setup/phase=instantiate/backend=wasm-interp/fixture=c", ns: 29800, noise: 0.04, bop: 1.12e6, allocs: 190})
		add(row{name: "Setup/phase=instantiate/backend=wasm-interp/fixture=go", ns: 451000, noise: 0.05, bop: 17.1e6, allocs: 1702})
		add(row{name: "Setup/phase=close/backend=static/fixture=builtin", ns: 0.59, noise: 0.02})
		add(row{name: "Setup/phase=close/backend=dlopen/fixture=c", ns: 21300, noise: 0.05, bop: 48, allocs: 2})
		add(row{name: "Setup/phase=close/backend=dlopen/fixture=go", ns: 25100, noise: 0.05, bop: 48, allocs: 2})
		add(row{name: "Setup/phase=close/backend=wasm/fixture=c", ns: 6200, noise: 0.05, bop: 320, allocs: 7})
		add(row{name: "Setup/phase=close/backend=wasm/fixture=go", ns: 88000, noise: 0.06, bop: 320, allocs: 7})
		add(row{name: "Setup/phase=close/backend=wasm-interp/fixture=c", ns: 5900, noise: 0.05, bop: 320, allocs: 7})
		add(row{name: "Setup/phase=close/backend=wasm-interp/fixture=go", ns: 86000, noise: 0.06, bop: 320, allocs: 7})
	}
	// Call
	calls := []struct {
		b        string
		min, acc float64
		bop, al  float64
	}{
		{"static/fixture=builtin", 1.203, 85.2, 0, 0},
		{"dlopen/fixture=c", 38.4, 88.1, 0, 0},
		{"dlopen/fixture=go", 121.5, 170.4, 0, 0},
		{"wasm/fixture=c", 24.9, 142.7, 0, 0},
		{"wasm/fixture=go", 41.2, 310.5, 0, 0},
		{"wasm-interp/fixture=c", 183.0, 2950, 16, 1},
		{"wasm-interp/fixture=go", 421.0, 8120, 16, 1},
	}
	for _, op := range []string{"min", "accumulate"} {
		for _, c := range calls {
			ns, noise := c.min, 0.015
			if op == "accumulate" {
				ns, noise = c.acc, 0.02
				if strings.HasPrefix(c.b, "dlopen/fixture=c") {
					noise = 0.06 // overlaps static
				}
			}
			if *mode == "gate" && !strings.Contains(c.b, "static") && !strings.Contains(c.b, "wasm/fixture=c") {
				continue
			}
			add(row{name: "Call/op=" + op + "/backend=" + c.b, ns: ns, noise: noise, bop: c.bop, allocs: c.al})
		}
	}
	if *mode == "full" {
		for _, op := range []string{"sum", "upper"} {
			for _, sz := range []struct {
				s string
				n float64
			}{{"0B", 0}, {"64B", 64}, {"4KiB", 4096}, {"64KiB", 65536}, {"1MiB", 1 << 20}} {
				for _, b := range []struct {
					name        string
					fixed, perB float64
					bop, allocs float64
				}{
					{"static/fixture=builtin", 2.1, 0.061, 0, 0},
					{"dlopen/fixture=c", 39.5, 0.066, 0, 0},
					{"wasm/fixture=c", 31.0, 0.29, 0, 0},
					{"wasm-interp/fixture=c", 205, 5.8, 16, 1},
				} {
					ns := b.fixed + b.perB*sz.n
					bop, allocs := b.bop, b.allocs
					if op == "upper" {
						// upper copies the result back: twice the traffic
						// and, outside static, a result buffer.
						ns = b.fixed*1.3 + 2.2*b.perB*sz.n
						if !strings.HasPrefix(b.name, "static") && sz.n > 0 {
							bop, allocs = bop+sz.n, allocs+1
						}
					}
					add(row{name: "Payload/op=" + op + "/size=" + sz.s + "/backend=" + b.name, ns: ns, noise: 0.02, bytes: sz.n, bop: bop, allocs: allocs})
				}
			}
		}
		for _, b := range []struct {
			name string
			ns   float64
		}{{"static/fixture=builtin", 0.61}, {"dlopen/fixture=c", 19.8}, {"wasm/fixture=c", 13.1}, {"wasm-interp/fixture=c", 96.0}} {
			add(row{name: "Parallel/op=min/backend=" + b.name, ns: b.ns, noise: 0.04, extra: "events/s"})
		}
		add(row{name: "Ref/op=min/impl=cgo/fixture=c", ns: 27.6, noise: 0.02})
		add(row{name: "Ref/op=min/impl=purego/fixture=c", ns: 44.8, noise: 0.02})
	}
	// scaling
	for _, kv := range strings.Split(*scale, ",") {
		if kv == "" {
			continue
		}
		var n string
		var f float64
		i := strings.LastIndex(kv, "=")
		n = kv[:i]
		fmt.Sscan(kv[i+1:], &f)
		for i := range rows {
			if strings.Contains(rows[i].name, n) {
				rows[i].ns *= f
			}
		}
	}
	w := os.Stdout
	fmt.Fprintf(w, "goos: linux\ngoarch: amd64\npkg: github.com/plugbench/plugbench/bench\ncpu: %s\ngo: go1.26.8\nwazero: v1.12.0\npurego: v0.11.3\n", *cpu)
	fmt.Fprintln(w, "fixture-c-wasm-sha256: 9b2f6c1e0d4a7b3c5e8f1a2d6c9b0e3f7a4d1c8b5e2f9a6d3c0b7e4a1f8d5c2b")
	fmt.Fprintln(w, "fixture-go-wasm-sha256: 3e7a9c1f5b2d8e4a0c6f9b3d7a1e5c8f2b4d6a9e0c3f7b1d5a8e2c4f6b9d0a3e")
	fmt.Fprintf(w, "commit: %s\n", *commit)
	if *mode == "full" {
		fmt.Fprintln(w, "Unit events/s better=higher")
	}
	for _, r := range rows {
		if *drop != "" && strings.Contains(r.name, *drop) {
			continue
		}
		for i := 0; i < *count; i++ {
			ns := sample(r.ns, r.noise)
			line := fmt.Sprintf("Benchmark%s-2", r.name)
			line = fmt.Sprintf("%-70s\t%10d\t%12s ns/op", line, iters(r.ns), fmtNs(ns))
			if r.bytes > 0 {
				line += fmt.Sprintf("\t%8.2f MB/s", r.bytes/ns*1e3)
			}
			if r.extra != "" {
				line += fmt.Sprintf("\t%10.0f %s", 2e9/ns, r.extra)
			}
			al := r.allocs
			if *allocAdd != "" && strings.Contains(r.name, *allocAdd) {
				al++
			}
			line += fmt.Sprintf("\t%8.0f B/op\t%8.0f allocs/op", r.bop+16*(al-r.allocs), al)
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "PASS\nok  \tgithub.com/plugbench/plugbench/bench\t187.412s")
}

// memory writes BenchmarkMemory rows, in the format of plugbench's memory
// suite: what N instances cost per instance (the host's Go heap, the
// host's PSS, and the child processes' for a backend whose plugin is a
// process), with the rows that would not fit in memory skipped; and
// BenchmarkSetup's phase=load rows with each artifact's size and a load's
// peak (wasm's from scratch and from its disk cache).
func memory(w *os.File, count int, cpu, commit string) {
	fmt.Fprintf(w, "goos: linux\ngoarch: amd64\npkg: github.com/plugbench/plugbench/bench\ncpu: %s\ngo: go1.26.8\n", cpu)
	fmt.Fprintf(w, "commit: %s\n", commit)
	for _, u := range []string{"ns/instance better=lower", "heap-B/instance better=lower", "host-B/instance better=lower",
		"child-B/instance better=lower", "artifact-B better=lower assume=exact", "peak-B better=lower"} {
		fmt.Fprintln(w, "Unit "+u)
	}
	type target struct {
		name               string
		create, heap, host float64 // per instance, at many instances
		child              float64
		max                int     // the most instances that fit
		artifact, peak     float64 // a load's
	}
	targets := []target{
		{"static/fixture=builtin", 90, 48, 64, 0, 10000, 0, 0},
		{"dlopen/fixture=c", 240, 96, 128, 0, 10000, 16200, 1.1e6},
		{"wasm/fixture=c", 24e3, 5800, 72e3, 0, 10000, 2140, 3.4e6},
		{"wasm/fixture=go", 3.4e6, 610e3, 38.5e6, 0, 100, 2.61e6, 182e6},
		{"wasmtime/fixture=c", 41e3, 1200, 140e3, 0, 10000, 2140, 9.8e6},
		{"subprocess/fixture=c", 910e3, 9200, 14e3, 360e3, 1000, 16400, 1.2e6},
		{"hashicorp-grpc/fixture=go", 5.9e6, 61e3, 70e3, 9.1e6, 100, 12.4e6, 9.6e6},
	}
	line := func(name string, iters int, metrics string) {
		fmt.Fprintf(w, "%-70s\t%10d\t%s\n", "Benchmark"+name+"-2", iters, metrics)
	}
	for _, t := range targets {
		for _, n := range []int{1, 10, 100, 1000, 10000} {
			name := fmt.Sprintf("Memory/backend=%s/instances=%d", t.name, n)
			if n > t.max {
				fmt.Fprintf(w, "--- SKIP: Benchmark%s\n", name)
				fmt.Fprintf(w, "    memory_test.go:88: %d instances need ≈%.0f GiB, more than the 8 GiB the run allows\n", n, float64(n)*(t.host+t.child)/(1<<30))
				continue
			}
			// Fixed costs shared by the instances (a page of the heap,
			// the runtime's per-process state) weigh on few instances.
			fixed := 1 + 40.0/float64(n)
			for i := 0; i < count; i++ {
				create := sample(t.create, 0.04)
				host := sample(t.host*fixed, 0.03)
				child := ""
				if t.child > 0 {
					child = fmt.Sprintf("\t%10.0f child-B/instance", sample(t.child*(1+2.0/float64(n)), 0.03))
				}
				line(name, 1, fmt.Sprintf("%12.0f ns/op\t%12.0f ns/instance\t%10.0f heap-B/instance\t%10.0f host-B/instance%s\t%10.0f B/op\t%8.0f allocs/op",
					create*float64(n), create, sample(t.heap*fixed, 0.02), host, child, t.heap*float64(n), math.Ceil(3*float64(n))))
			}
		}
	}
	for _, t := range targets {
		if t.artifact == 0 {
			continue
		}
		caches := []string{""}
		if strings.HasPrefix(t.name, "wasm/") {
			caches = []string{"/cache=none", "/cache=disk"}
		}
		for _, c := range caches {
			name := "Setup/phase=load/backend=" + t.name + c
			peak := t.peak
			if c == "/cache=disk" {
				peak /= 8 // no compile
			}
			for i := 0; i < count; i++ {
				line(name, 1, fmt.Sprintf("%12.0f ns/op\t%10.0f artifact-B\t%10.0f peak-B", sample(t.create*3, 0.05), t.artifact, sample(peak, 0.03)))
			}
		}
	}
	fmt.Fprintln(w, "PASS\nok  \tgithub.com/plugbench/plugbench/bench\t41.207s")
}
