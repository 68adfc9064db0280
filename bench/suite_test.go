package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
)

// The conformance table: edge inputs every backend must answer as static does.
var (
	minCases = [][2]int32{
		{minA, minB}, {0, 0}, {-1, 1}, {1, -1},
		{math.MinInt32, math.MaxInt32}, {math.MaxInt32, math.MinInt32},
		{math.MinInt32, math.MinInt32}, {math.MaxInt32, math.MaxInt32}, {math.MinInt32, 0},
	}
	// Accumulated in order on one instance: crosses int64's overflow both ways.
	accumulateCases = []int64{accX, 0, -1, math.MaxInt64, 1, math.MinInt64, math.MinInt64, -1, 42}
	bufferCases     = [][]byte{
		nil, {}, {0}, {'a'}, {'z' + 1}, {'a' - 1}, []byte("Hello, World!"),
		[]byte("odd"), []byte("\x80\xff\xc3\xa9abc\x00xyz"), allBytes(), payload(4097), payload(1<<20 + 1),
	}
)

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestConformance runs the edge table through every backend and fixture.
func TestConformance(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		_, mod := open(t, tg)
		backendstest.Answers(t, instance(t, mod), minCases, accumulateCases, bufferCases)
	})
}

// FuzzConformance checks every backend and fixture against static on random
// inputs. One instance per target lives across the whole fuzzing run, so
// accumulate's state is checked over long random sequences too.
func FuzzConformance(f *testing.F) {
	f.Add(int32(1), int32(2), int64(3), []byte("abc"))
	f.Add(int32(math.MinInt32), int32(math.MaxInt32), int64(math.MinInt64), []byte{0x80, 0xff, 'z'})
	type live struct {
		name string
		p    backends.Plugin
		ref  backends.Plugin
	}
	var plugins []live
	for _, tg := range Targets {
		if path, _ := tg.Path(fx); path == "" {
			continue // open would skip the whole fuzz target
		}
		if !fuzzingIsolated(f, tg) {
			continue
		}
		_, mod := open(f, tg)
		plugins = append(plugins, live{tg.Backend + "/" + tg.Fixture, instance(f, mod), reference()})
	}
	f.Fuzz(func(t *testing.T, a, b int32, x int64, buf []byte) {
		for _, l := range plugins {
			ref := l.ref
			if got, _ := l.p.Min(a, b); got != min(a, b) {
				t.Errorf("%s: min(%d, %d) = %d", l.name, a, b, got)
			}
			got, err := l.p.Accumulate(x)
			if want, _ := ref.Accumulate(x); err != nil || got != want {
				t.Errorf("%s: accumulate(%d) = %d, %v; want %d", l.name, x, got, err, want)
			}
			s, err := l.p.Sum(buf)
			if want, _ := ref.Sum(buf); err != nil || s != want {
				t.Errorf("%s: sum = %d, %v; want %d", l.name, s, err, want)
			}
			up, want := bytes.Clone(buf), bytes.Clone(buf)
			ref.Upper(want)
			if err := l.p.Upper(up); err != nil || !bytes.Equal(up, want) {
				t.Errorf("%s: upper(%q) = %q, %v; want %q", l.name, buf, up, err, want)
			}
		}
	})
}

// TestSetup is BenchmarkSetup's twin: each load setup (every cache mode)
// gives the plugin the name claims, which instantiates and answers, and a
// full close unmaps a dlopen library so the next load is cold.
func TestSetup(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		if len(tg.Caches) == 0 {
			testSetup(t, tg, "")
			return
		}
		for _, mode := range tg.Caches {
			t.Run("cache="+string(mode), func(t *testing.T) { testSetup(t, tg, mode) })
		}
	})
}

func testSetup(t *testing.T, tg Target, mode CacheMode) {
	ctx := context.Background()
	be, path := mechanismSetup(t, tg, mode)
	for range 3 { // each load as cold as the first
		checkUnmapped(t, tg, path)
		mod, err := be.Load(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		checkIdentity(t, tg, mod)
		if tg.IsMapped != nil {
			if mapped, err := tg.IsMapped(path); err != nil || !mapped {
				t.Fatalf("%s not mapped after load (%v)", path, err)
			}
		}
		p, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		backendstest.Answers(t, p, minCases[:2], accumulateCases[:2], bufferCases[:7])
		if err := mod.Close(ctx); !errors.Is(err, backends.ErrInstancesOpen) {
			t.Fatalf("module Close with an instance open: %v, want ErrInstancesOpen", err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := mod.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := mod.Instantiate(ctx); err == nil {
			t.Fatal("instantiate after close succeeded")
		}
	}
	checkUnmapped(t, tg, path)
}

// TestVerify is the twin of BenchmarkSetup's phase=check and phase=probe:
// the check accepts the artifact, the probe finds in a child process the
// plugin the name claims without mapping it here, and a Load that does
// both (the backend with Config.Probe, as a host that distrusts its
// plugins makes it) gives a plugin that answers.
func TestVerify(t *testing.T) {
	forTargetsIn(t, verifying(), func(t *testing.T, tg Target) {
		path, err := tg.Path(fx)
		if path == "" {
			skip(t, "%s/%s: unavailable: %v", tg.Backend, tg.Fixture, err)
		}
		if err := tg.Verify.Check(path); err != nil {
			t.Fatal(err)
		}
		checkUnmapped(t, tg, path)
		id, err := tg.Verify.Probe(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkTargetIdentity(tg, id); err != nil {
			t.Fatal(err)
		}
		checkUnmapped(t, tg, path)
	})
}

// TestInstances checks that many instances of one module keep separate
// state, as BenchmarkSetup/phase=instantiate makes them.
func TestInstances(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		_, mod := open(t, tg)
		ps := make([]backends.Plugin, 4)
		for i := range ps {
			ps[i] = instance(t, mod)
		}
		for i, p := range ps {
			for range i + 1 {
				if _, err := p.Accumulate(int64(i + 1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, p := range ps {
			got, _ := p.Accumulate(0)
			if want := int64((i + 1) * (i + 1)); got != want {
				t.Errorf("instance %d total %d, want %d: state is shared", i, got, want)
			}
		}
	})
}

// TestCall is BenchmarkCall's twin: the same setup and arguments, the
// answer checked, on every target.
func TestCall(t *testing.T) {
	for _, op := range callOps {
		t.Run("op="+op, func(t *testing.T) {
			forTargets(t, func(t *testing.T, tg Target) {
				_, mod := open(t, tg)
				p := instance(t, mod)
				switch op {
				case "min":
					backendstest.Answers(t, p, minCases, nil, nil)
				case "accumulate":
					for i := int64(1); i <= 1000; i++ {
						if got, err := p.Accumulate(accX); err != nil || got != accX*i {
							t.Fatalf("call %d: accumulate = %d, %v; want %d", i, got, err, accX*i)
						}
					}
				}
			})
		})
	}
}

// TestPayload is BenchmarkPayload's twin: every size, repeated calls on one
// instance (the guest buffer is reused, and grows), against static.
func TestPayload(t *testing.T) {
	for _, op := range payloadOps {
		t.Run("op="+op, func(t *testing.T) {
			forTargets(t, func(t *testing.T, tg Target) {
				_, mod := open(t, tg)
				p := instance(t, mod)
				for _, size := range sizes {
					for range 2 {
						buf := payload(size.n)
						if op == "sum" {
							backendstest.Answers(t, p, nil, nil, [][]byte{buf})
							continue
						}
						want := bytes.Clone(buf)
						reference().Upper(want)
						if err := p.Upper(buf); err != nil || !bytes.Equal(buf, want) {
							t.Fatalf("size=%s: upper: %v, equal: %v", size.name, err, bytes.Equal(buf, want))
						}
					}
				}
			})
		})
	}
}

// TestParallel is BenchmarkParallel's twin: one instance per goroutine, all
// calling at once, each answer and each running total right.
func TestParallel(t *testing.T) {
	for _, op := range callOps {
		t.Run("op="+op, func(t *testing.T) {
			forTargets(t, func(t *testing.T, tg Target) {
				_, mod := open(t, tg)
				take := parallelInstances(t, mod)
				var wg sync.WaitGroup
				for range runtime.GOMAXPROCS(0) {
					p, total := take()
					wg.Go(func() {
						n := 0
						if err := parallelCalls(op, p, total, func() bool { n++; return n <= 10000 }); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			})
		})
	}
}

// TestLoadCloseCycles loads, instantiates, calls and closes each target
// thousands of times and checks nothing is left behind: no file
// descriptors, no mappings, no goroutines, and no heap growth beyond
// noise.
func TestLoadCloseCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of cycles: skipped with -short")
	}
	ctx := context.Background()
	forTargets(t, func(t *testing.T, tg Target) {
		be, path := loadSetup(t, tg, CacheNone)
		cycle := func() {
			mod, err := be.Load(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := mod.Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Sum(payload(100)); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := mod.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// As many cycles as fit in about a second, 2 to 2000: a load
		// costs from microseconds (dlopen) to seconds (a Go guest's
		// compile), and the test must stay inside the suite's budget.
		// Open files and mappings must come back exactly even after 2.
		start := time.Now()
		cycle()
		cycles := int(min(max(time.Second/max(time.Since(start), 1), 2), 2000))
		// First uses may allocate what lives as long as the backend, and a
		// young process (an isolated row's child) still maps its heap as
		// it grows: measure from a steady state.
		for range max(cycles/10, 1) {
			cycle()
		}
		r := resources(t)
		gs := runtime.NumGoroutine()
		for range cycles {
			cycle()
		}
		r2 := resources(t)
		// A goroutine per instance or per call that never ends leaks its
		// stack and whatever it holds. Those that end with their call
		// (wazero's WithCloseOnContextDone watcher) may take a moment to:
		// they are given backendstest.StuckAfter, polled.
		var gs2 int
		backendstest.Eventually(func() bool { gs2 = runtime.NumGoroutine(); return gs2 <= gs })
		t.Logf("%d cycles: %d → %d open files, %d → %d mappings of files, %d → %d anonymous (%d → %d threads), live heap %d → %d bytes, %d → %d goroutines",
			cycles, r.fds, r2.fds, r.fileMaps, r2.fileMaps, r.anonMaps, r2.anonMaps, r.threads, r2.threads, r.heap, r2.heap, gs, gs2)
		// Files and mappings of files (a library, a shared region) come
		// back exactly. Anonymous mappings grow with the process's
		// threads, which the Go runtime adds when calls block on a busy
		// machine (a stack and its guard page each), and with a heap
		// that grows within its bound: beyond that, a leak.
		if r2.fds != r.fds || r2.fileMaps != r.fileMaps {
			t.Errorf("after %d cycles: %d → %d open files, %d → %d mappings of files", cycles, r.fds, r2.fds, r.fileMaps, r2.fileMaps)
		}
		if grown := r2.anonMaps - r.anonMaps - 2*max(r2.threads-r.threads, 0); grown > 8 {
			t.Errorf("after %d cycles: %d → %d anonymous mappings, %d more than the %d → %d threads account for",
				cycles, r.anonMaps, r2.anonMaps, grown, r.threads, r2.threads)
		}
		if r2.heap > r.heap+8<<20 {
			t.Errorf("after %d cycles: live heap grew from %d to %d bytes", cycles, r.heap, r2.heap)
		}
		if gs2 > gs {
			t.Errorf("after %d cycles: %d → %d goroutines", cycles, gs, gs2)
		}
		checkUnmapped(t, tg, path)
	})
}

// resources reads what a leak would grow: open files; mappings, those of
// files apart from anonymous ones; the process's threads; the live heap.
func resources(t *testing.T) (r resourceCount) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// The live heap is what a collection marked, the least of five
	// readings, not MemStats.HeapAlloc: that also counts what goroutines
	// still running allocated during and after the collection, and rows
	// share this process with others' work. When a yaegi start function
	// stopped at its deadline still ran (fixed since), HeapAlloc after two
	// collections moved by up to 27 MiB between two readings with no cycle
	// in between, and rows that leak nothing (extism-bounded: flat to
	// kilobytes over thousands of cycles alone) failed the 8 MiB check at
	// random; the least of five marked readings moved by under 5 MiB.
	// Noise only adds to a reading, and what a row leaks is in every one.
	// The first collection queues finalizers, whose frees the others see.
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	r.heap = math.MaxUint64
	for range 5 {
		runtime.GC()
		metrics.Read(live)
		r.heap = min(r.heap, live[0].Value.Uint64())
	}
	r.fds = len(ents)
	for line := range bytes.Lines(m) {
		// "start-end perms offset dev inode path": a file's has an inode.
		if f := bytes.Fields(line); len(f) >= 6 && string(f[4]) != "0" {
			r.fileMaps++
		} else {
			r.anonMaps++
		}
	}
	if tasks, err := os.ReadDir("/proc/self/task"); err == nil {
		r.threads = len(tasks)
	}
	return r
}

type resourceCount struct {
	fds, fileMaps, anonMaps, threads int
	heap                             uint64
}
