package shm

import (
	"context"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/ipc/ipctest"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/backends/subprocess"
)

// The benchmarks compare, in one run, the two out-of-process backends
// (the C guest's executable through pipes and through shared memory) and
// the static backend, the in-process baseline.
//
// The round trips run twice out of process: sched=os leaves the host's
// thread and the plugin process where the scheduler puts them; on a
// loaded 2-CPU machine it often puts both on one CPU, where a spinning
// waiter only delays the other side until it yields. sched=pinned locks
// the benchmark's goroutine to its thread, pins that thread to CPU 0 and
// the plugin process to CPU 1: the spinning path the shm backend is built
// for.

var (
	sinkI32 int32
	sinkI64 int64
	sinkU64 uint64
)

type impl struct {
	name string
	be   func(testing.TB) backends.Backend
	path func(testing.TB) string
}

var impls = []impl{
	{static.Name, func(tb testing.TB) backends.Backend { return backendstest.New(tb, static.New, static.Config{}) }, func(testing.TB) string { return static.Path }},
	{subprocess.Name, func(tb testing.TB) backends.Backend { return backendstest.New(tb, subprocess.New, subprocess.Config{}) }, ipctest.C},
	{Name, func(tb testing.TB) backends.Backend { return backendstest.New(tb, New, Config{}) }, ipctest.C},
}

func open(b *testing.B, i impl, opts ...backends.Option) backends.Plugin {
	return backendstest.Open(b, i.be(b), i.path(b), opts...)
}

// scheds lists the scheduling variants of i: static has none.
func scheds(i impl) []string {
	if i.name == static.Name {
		return []string{""}
	}
	return []string{"/sched=os", "/sched=pinned"}
}

// pin, for sched=pinned, locks the calling goroutine to its thread, pins
// the thread to CPU 0 and p's process to CPU 1, and returns the undo.
func pin(b *testing.B, sched string, p backends.Plugin) func() {
	if sched != "/sched=pinned" {
		return func() {}
	}
	if runtime.NumCPU() < 2 {
		b.Skip("pinning needs 2 CPUs")
	}
	runtime.LockOSThread()
	var old, cpu0, cpu1 unix.CPUSet
	unix.SchedGetaffinity(0, &old)
	cpu0.Set(0)
	cpu1.Set(1)
	if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
		b.Fatal(err)
	}
	if err := unix.SchedSetaffinity(p.(interface{ Pid() int }).Pid(), &cpu1); err != nil {
		b.Fatal(err)
	}
	return func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}
}

// BenchmarkMin times the cheapest round trip.
func BenchmarkMin(b *testing.B) {
	for _, i := range impls {
		for _, sched := range scheds(i) {
			p := open(b, i)
			b.Run("backend="+i.name+sched, func(b *testing.B) {
				defer pin(b, sched, p)()
				b.ReportAllocs()
				var s int32
				for n := 0; b.Loop(); n++ {
					r, _ := p.Min(int32(n), 7)
					s += r
				}
				sinkI32 = s
			})
		}
	}
}

// BenchmarkSum times a 1 MiB payload: through the kernel in 64 KiB pipe
// buffers, or copied into the region.
func BenchmarkSum(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for _, i := range impls {
		for _, sched := range scheds(i) {
			p := open(b, i)
			b.Run("size=1MiB/backend="+i.name+sched, func(b *testing.B) {
				defer pin(b, sched, p)()
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

// BenchmarkEvent times a round trip of the typical event through every
// transport each backend offers: the Go value for static, json, binary
// and flat for the others (shm's encoded straight into the region).
func BenchmarkEvent(b *testing.B) {
	in, err := event.Shape("typical")
	if err != nil {
		b.Fatal(err)
	}
	for _, i := range impls {
		for _, sched := range scheds(i) {
			p := open(b, i).(backends.EventPlugin)
			for _, tr := range p.Transports() {
				b.Run("transport="+string(tr)+"/backend="+i.name+sched, func(b *testing.B) {
					defer pin(b, sched, p)()
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
}

// BenchmarkCallback times a callback with 64 host calls, each an emit
// reply and an emitret request out of process.
func BenchmarkCallback(b *testing.B) {
	const k = 64
	for _, i := range impls {
		for _, sched := range scheds(i) {
			pl := open(b, i, backends.WithEmit(func(v int64) int64 { return v + 1 }))
			p := pl.(backends.Caller)
			b.Run("k=64/backend="+i.name+sched, func(b *testing.B) {
				defer pin(b, sched, pl)()
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
}

// BenchmarkLoad times Load (out of process: a process start and the
// handshake); the module's Close is not timed.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	for _, i := range impls {
		path := i.path(b)
		b.Run("backend="+i.name, func(b *testing.B) {
			for b.Loop() {
				m, err := i.be(b).Load(ctx, path)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				m.Close(ctx)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkInstantiate times Instantiate of a loaded module (out of
// process: a process start, the handshake and the new op); the instance's
// Close is not timed. Load's own process went to a first, untimed
// instance.
func BenchmarkInstantiate(b *testing.B) {
	ctx := context.Background()
	for _, i := range impls {
		m, err := i.be(b).Load(ctx, i.path(b))
		if err != nil {
			b.Fatal(err)
		}
		first, err := m.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		first.Close(ctx)
		b.Run("backend="+i.name, func(b *testing.B) {
			for b.Loop() {
				p, err := m.Instantiate(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.Close(ctx)
				b.StartTimer()
			}
		})
		m.Close(ctx)
	}
}
