//go:build cgo

package wasmtime

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/wasm"
)

// The benchmarks behind the package doc's figures: each compares this
// backend's choice with its alternatives, and with the wazero backend
// (package wasm) in the same run.
//
//	go test -run '^$' -bench . -count 6 ./backends/wasmtime

// backendsUnderTest are this backend and the wazero compiler backend.
func backendsUnderTest(b *testing.B) map[string]backends.Backend {
	wz, err := wasm.New(context.Background(), wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { wz.Close(context.Background()) })
	return map[string]backends.Backend{Name: newBackend(b, Config{}), "wazero": wz}
}

var sink int64

// BenchmarkMin: every call path to plugbench_min of the C guest.
func BenchmarkMin(b *testing.B) {
	for _, impl := range refImpls {
		b.Run("ref="+impl, func(b *testing.B) {
			call, closeFn, err := refMin(context.Background(), impl, guests["c"])
			if err != nil {
				b.Fatal(err)
			}
			defer closeFn()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r, _ := call(int32(i), 7)
				sink += int64(r)
			}
		})
	}
	for _, name := range []string{Name, "wazero"} {
		for _, bounded := range []bool{false, true} {
			bn := "backend=" + name
			var opts []backends.Option
			if bounded {
				bn += "/timeout"
				opts = append(opts, backends.WithCallTimeout(time.Second))
			}
			b.Run(bn, func(b *testing.B) {
				var be backends.Backend
				if name == Name {
					be = newBackend(b, Config{})
				} else {
					wz, err := wasm.New(context.Background(), wasm.Config{Interruptible: bounded})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { wz.Close(context.Background()) })
					be = wz
				}
				p := instance(b, load(b, be, guests["c"]), opts...)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					r, _ := p.Min(int32(i), 7)
					sink += int64(r)
				}
			})
		}
	}
}

// BenchmarkCompile: compiling the C and the Go guest with this backend's
// engine settings, and deserializing what the disk cache holds.
func BenchmarkCompile(b *testing.B) {
	for _, lang := range []string{"c", "go"} {
		path, ok := guests[lang]
		if !ok {
			continue
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		wc := wt.NewConfig()
		wc.SetEpochInterruption(true)
		engine := wt.NewEngineWithConfig(wc)
		b.Run("guest="+lang+"/compile", func(b *testing.B) {
			for b.Loop() {
				m, err := wt.NewModule(engine, bin)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
		m, err := wt.NewModule(engine, bin)
		if err != nil {
			b.Fatal(err)
		}
		ser, err := m.Serialize()
		if err != nil {
			b.Fatal(err)
		}
		b.Run("guest="+lang+"/deserialize", func(b *testing.B) {
			b.ReportMetric(float64(len(ser)), "bytes")
			for b.Loop() {
				m, err := wt.NewModuleDeserialize(engine, ser)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
		// Load from the disk cache: read, check, deserialize, probe.
		b.Run("guest="+lang+"/load-cached", func(b *testing.B) {
			dir := b.TempDir()
			be := newBackend(b, Config{CacheDir: dir})
			load(b, be, path).Close(context.Background())
			for b.Loop() {
				m, err := be.Load(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				m.Close(context.Background())
			}
		})
	}
}

// BenchmarkInstantiate: a new instance (store, WASI for the Go guest,
// _initialize, plugbench_new) and its Close.
func BenchmarkInstantiate(b *testing.B) {
	bes := backendsUnderTest(b)
	for _, lang := range []string{"c", "go"} {
		path, ok := guests[lang]
		if !ok {
			continue
		}
		for _, name := range []string{Name, "wazero"} {
			b.Run("guest="+lang+"/backend="+name, func(b *testing.B) {
				m := load(b, bes[name], path)
				b.ReportAllocs()
				for b.Loop() {
					p, err := m.Instantiate(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					p.Close(context.Background())
				}
			})
		}
	}
}

// BenchmarkSum1MiB: 1 MiB copied into the guest and summed.
func BenchmarkSum1MiB(b *testing.B) {
	buf := make([]byte, 1<<20)
	for _, name := range []string{Name, "wazero"} {
		b.Run("backend="+name, func(b *testing.B) {
			p := instance(b, load(b, backendsUnderTest(b)[name], guests["c"]))
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				n, _ := p.Sum(buf)
				sink += int64(n)
			}
		})
	}
}

// BenchmarkCallback: one call into the guest that calls the host back k
// times.
func BenchmarkCallback(b *testing.B) {
	for _, name := range []string{Name, "wazero"} {
		for _, k := range []int32{1, 100} {
			b.Run(fmt.Sprintf("backend=%s/k=%d", name, k), func(b *testing.B) {
				p := instance(b, load(b, backendsUnderTest(b)[name], guests["c"]), backends.WithEmit(func(v int64) int64 { return v }))
				c := p.(backends.Caller)
				b.ReportAllocs()
				for b.Loop() {
					r, _ := c.Callback(k)
					sink += r
				}
			})
		}
	}
}

// BenchmarkEvent: the typical event's round trip through each transport.
func BenchmarkEvent(b *testing.B) {
	in, _ := event.Shape("typical")
	for _, name := range []string{Name, "wazero"} {
		for _, tr := range []event.Transport{event.JSON, event.Binary, event.Flat} {
			b.Run("backend="+name+"/transport="+string(tr), func(b *testing.B) {
				p := instance(b, load(b, backendsUnderTest(b)[name], guests["c"]))
				c, err := p.(backends.EventPlugin).Events(tr)
				if err != nil {
					b.Fatal(err)
				}
				var out event.Event
				b.ReportAllocs()
				for b.Loop() {
					if _, err := backends.Process(c, in, &out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
