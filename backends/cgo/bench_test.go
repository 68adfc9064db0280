//go:build cgo

package cgo

import (
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/event"
)

var (
	sinkI32 int32
	sinkI64 int64
	sinkU64 uint64
)

// BenchmarkMin compares the backend's Min with the bare cgo calls it is
// made of and with the dlopen backend's (purego) Min, on one fixture:
//
//   - impl=cgoref: a bare cgo call written as bench/internal/cgoref writes
//     it, the function pointer as a void * (checked by cgo on every call);
//   - impl=bare: the bare call the backend makes, the pointer as a
//     uintptr_t;
//   - impl=cgo: this backend, through the backends.Plugin interface;
//   - impl=dlopen: the dlopen backend, through the same interface.
func BenchmarkMin(b *testing.B) {
	p := open(b, backendstest.New(b, New, Config{}))
	fn := p.(*Plugin).minAddr()
	d := open(b, backendstest.New(b, dlopen.New, dlopen.Config{}))
	for _, c := range []struct {
		impl string
		min  func(a, b int32) int32
	}{
		{"cgoref", func(x, y int32) int32 { return refMin(fn, x, y) }},
		{"bare", func(x, y int32) int32 { return refMinAddr(fn, x, y) }},
		{"cgo", func(x, y int32) int32 { r, _ := p.Min(x, y); return r }},
		{"dlopen", func(x, y int32) int32 { r, _ := d.Min(x, y); return r }},
	} {
		b.Run("impl="+c.impl, func(b *testing.B) {
			if got := c.min(3, 4); got != 3 {
				b.Fatalf("min(3, 4) = %d", got)
			}
			b.ReportAllocs()
			var s int32
			for i := 0; b.Loop(); i++ {
				s += c.min(int32(i), 7)
			}
			sinkI32 = s
		})
	}
}

// BenchmarkCallback times plugbench_callback with k host calls on this
// backend (an exported Go function) and on the dlopen backend (a purego
// callback), and reports the cost of one host call.
func BenchmarkCallback(b *testing.B) {
	const k = 64
	emit := func(v int64) int64 { return v + 1 }
	for _, be := range []backends.Backend{backendstest.New(b, New, Config{}), backendstest.New(b, dlopen.New, dlopen.Config{})} {
		p := open(b, be, backends.WithEmit(emit)).(backends.Caller)
		b.Run("backend="+be.Name()+"/k=64", func(b *testing.B) {
			if got, err := p.Callback(k); err != nil || got != k*(k+1)/2 {
				b.Fatalf("callback(%d) = %d, %v", k, got, err)
			}
			b.ReportAllocs()
			var s int64
			for b.Loop() {
				r, _ := p.Callback(k)
				s += r
			}
			sinkI64 = s
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/k, "ns/callback")
		})
	}
}

// BenchmarkSum times payloads passed in place by both backends: at 16
// bytes the crossing dominates, at 4 KiB the plugin's loop.
func BenchmarkSum(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"4KiB", 4096}} {
		buf := make([]byte, size.n)
		for _, be := range []backends.Backend{backendstest.New(b, New, Config{}), backendstest.New(b, dlopen.New, dlopen.Config{})} {
			p := open(b, be)
			b.Run("size="+size.name+"/backend="+be.Name(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				var s uint64
				for b.Loop() {
					r, _ := p.Sum(buf)
					s += r
				}
				sinkU64 = s
			})
		}
	}
}

// BenchmarkEvents times a round trip of the typical event through every
// transport of both backends.
func BenchmarkEvents(b *testing.B) {
	in, err := event.Shape("typical")
	if err != nil {
		b.Fatal(err)
	}
	plugins := []backends.EventPlugin{
		open(b, backendstest.New(b, New, Config{})).(backends.EventPlugin),
		open(b, backendstest.New(b, dlopen.New, dlopen.Config{})).(backends.EventPlugin),
	}
	for _, tr := range plugins[0].Transports() {
		for i, p := range plugins {
			b.Run("transport="+string(tr)+"/backend="+[]string{Name, dlopen.Name}[i], func(b *testing.B) {
				c, err := p.Events(tr)
				if err != nil {
					b.Fatal(err)
				}
				var out event.Event
				if keep, err := backends.Process(c, in, &out); err != nil || !keep {
					b.Fatalf("keep %v, %v", keep, err)
				}
				b.ReportAllocs()
				for b.Loop() {
					backends.Process(c, in, &out)
				}
				b.ReportMetric(float64(c.Moved()), "B/moved")
			})
		}
	}
}
