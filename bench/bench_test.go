package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/static"
)

// The axes of every table, in their fixed order.
var (
	setupPhases = []string{"load", "check", "probe", "instantiate", "close"}
	callOps     = []string{"min", "accumulate"}
	payloadOps  = []string{"sum", "upper"}
	sizes       = []struct {
		name string
		n    int
	}{{"0B", 0}, {"64B", 64}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}
)

// Call arguments: min's answer is its second argument, so a backend that
// returned the first would fail the check after the loop.
const minA, minB, accX = int32(7), int32(-3), int64(3)

// forTargets runs f under backend=NAME/fixture=NAME for every target, in
// Targets' order, each backend once with its fixtures below it.
func forTargets[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, f func(T, Target)) {
	forTargetsIn(tb, Targets, f)
}

// forTargetsIn is forTargets over ts, a part of Targets in its order.
func forTargetsIn[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, ts []Target, f func(T, Target)) {
	for i, t := range ts {
		if i > 0 && ts[i-1].Backend == t.Backend {
			continue // run with the first target of its backend
		}
		tb.Run("backend="+t.Backend, func(tb T) {
			for _, u := range ts[i:] {
				if u.Backend != t.Backend {
					break
				}
				tb.Run("fixture="+u.Fixture, func(tb T) {
					if u.Isolated() {
						if path, err := u.Path(fx); path == "" {
							skip(tb, "%s/%s: unavailable: %v", u.Backend, u.Fixture, err)
						}
						if isolate(tb) {
							return
						}
					}
					f(tb, u)
				})
				rowDone(tb, u)
			}
		})
	}
}

// rowDone closes the instances the row of u that just ran held
// (rowInstances): every sample of a row, and every round of a sample,
// runs inside its Run.
func rowDone(tb testing.TB, u Target) {
	tb.Helper()
	if err := releaseRow(); err != nil {
		tb.Errorf("%s/%s: %v", u.Backend, u.Fixture, err)
	}
}

// BenchmarkSetup measures each phase of a plugin's life:
//
//   - phase=load: Load, from a file to a verified module (the close that
//     follows is not timed). Its first load in a sample also reports the
//     resident memory it took at its peak (peak-B: a Go guest's compile),
//     and the row the artifact's size on disk (artifact-B). For wasm, with each compilation-cache mode
//     (cache=none|memory|disk). A dlopen load is cold every time: the
//     library is unmapped between iterations, and checked to be. For the
//     targets the host's own loader maps (Target.Verify), the mechanism
//     alone: the check of the file their Load makes first is phase=check.
//   - phase=check: that check, of the file's ELF and program headers.
//   - phase=probe: the opt-in probe (Config.Probe): the file loaded, its
//     identity read and the file unloaded in a child process, this
//     executable started again. A Load with the probe on costs
//     check + probe + load.
//   - phase=instantiate: a new instance from a loaded module.
//   - phase=close: closing an instance and then its module, the whole
//     teardown. A backend that cannot unload also reports the bytes of
//     the plugin's file that stay mapped (mapped-B). Its time is read around the two Close calls and reported as
//     ns/op (b.Loop scales on the whole iteration, so that a costly setup,
//     such as a Go guest's, cannot stretch the run).
func BenchmarkSetup(b *testing.B) {
	defer func() {
		if err := releaseWarmCaches(); err != nil {
			b.Errorf("releasing the warm caches: %v", err)
		}
	}()
	for _, phase := range setupPhases {
		b.Run("phase="+phase, func(b *testing.B) {
			if phase == "check" || phase == "probe" {
				forTargetsIn(b, verifying(), func(b *testing.B, t Target) { benchVerify(b, t, phase) })
				return
			}
			forTargets(b, func(b *testing.B, t Target) {
				switch phase {
				case "load":
					if len(t.Caches) == 0 {
						benchLoad(b, t, "")
						return
					}
					for _, c := range t.Caches {
						b.Run("cache="+string(c), func(b *testing.B) { benchLoad(b, t, c) })
					}
				case "instantiate":
					benchInstantiate(b, t)
				case "close":
					benchClose(b, t)
				}
			})
		})
	}
}

// verifying are the targets with a check and a probe (Target.Verify).
func verifying() []Target {
	var ts []Target
	for _, t := range Targets {
		if t.Verify != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// benchVerify times t's check of its artifact, or its probe.
func benchVerify(b *testing.B, t Target, phase string) {
	path, err := t.Path(fx)
	if path == "" {
		skip(b, "%s/%s: unavailable: %v", t.Backend, t.Fixture, err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if phase == "check" {
			err = t.Verify.Check(path)
		} else {
			_, err = t.Verify.Probe(ctx, path)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// loadSetup makes t's backend ready to load with the given cache mode: for
// "memory", a second runtime sharing the cache keeps the module compiled;
// for "disk", one load has filled the cache directory first.
func loadSetup(tb testing.TB, t Target, mode CacheMode) (backends.Backend, string) {
	tb.Helper()
	ctx := context.Background()
	path, err := t.Path(fx)
	if path == "" {
		skip(tb, "%s/%s: unavailable: %v", t.Backend, t.Fixture, err)
	}
	var cache Cache
	if mode == CacheMemory || mode == CacheDisk {
		cache = warmCache(tb, t, path, mode)
	}
	be, err := t.New(ctx, cache)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { be.Close(ctx) })
	return be, path
}

// mechanismSetup is loadSetup for phase=load: for a target whose Load
// checks the file first (Target.Verify), the backend that does not, so
// that the row times the mechanism alone (phase=check times the check).
func mechanismSetup(tb testing.TB, t Target, mode CacheMode) (backends.Backend, string) {
	tb.Helper()
	be, path := loadSetup(tb, t, mode)
	if t.Verify != nil {
		bare, err := t.Verify.Bare(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		be = bare
	}
	return be, path
}

// warmCache returns t's compilation cache for mode, filled by one load
// of path, once per process: every sample of a row starts from the same
// warm cache, so that a Go guest's second-long compile is paid once, not
// once per sample. For memory, the runtime that filled it keeps the module
// compiled for the process's life; for disk, it closed it again, so that
// a load finds the module only in the directory (a closed module leaves
// the cache's memory).
func warmCache(tb testing.TB, t Target, path string, mode CacheMode) Cache {
	tb.Helper()
	v, _ := warmCaches.LoadOrStore(t.Backend+"/"+t.Fixture+"/"+string(mode), &warm{})
	w := v.(*warm)
	w.once.Do(func() { w.cache, w.release, w.err = fillCache(t, path, mode) })
	if w.err != nil {
		tb.Fatalf("%s/%s: warming the %s cache: %v", t.Backend, t.Fixture, mode, w.err)
	}
	return w.cache
}

type warm struct {
	once    sync.Once
	cache   Cache
	release func() error // closes what keeps the cache warm
	err     error
}

var warmCaches sync.Map // "backend/fixture/mode" → *warm

// releaseWarmCaches closes every warm cache and what keeps it warm, once
// the rows that use them are done: the modules the memory caches keep
// compiled were a third of the heap every later sample's collection
// marks (testing collects before each).
func releaseWarmCaches() error {
	var errs []error
	warmCaches.Range(func(k, v any) bool {
		if w := v.(*warm); w.release != nil {
			errs = append(errs, w.release())
		}
		warmCaches.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// fillCache makes t's cache for mode and fills it with one load of path,
// and returns what releases it.
func fillCache(t Target, path string, mode CacheMode) (Cache, func() error, error) {
	ctx := setupContext()
	cache := Cache{Wazero: wazero.NewCompilationCache()}
	if mode == CacheDisk {
		dir, err := os.MkdirTemp(scratch, "cache-")
		if err != nil {
			return Cache{}, nil, err
		}
		cache.Dir = filepath.Join(dir, "compiled")
		cache.ModuleDir = filepath.Join(dir, "module")
		if cache.Wazero, err = wazero.NewCompilationCacheWithDir(filepath.Join(dir, "wazero")); err != nil {
			return Cache{}, nil, err
		}
	}
	release := func() error { return cache.Wazero.Close(ctx) }
	be, err := t.New(ctx, cache)
	if err != nil {
		return Cache{}, release, err
	}
	mod, err := be.Load(ctx, path)
	if err != nil {
		return Cache{}, func() error { return errors.Join(be.Close(ctx), release()) }, err
	}
	if mode == CacheDisk {
		return cache, release, errors.Join(mod.Close(ctx), be.Close(ctx))
	}
	return cache, func() error { return errors.Join(mod.Close(ctx), be.Close(ctx), release()) }, nil
}

// checkUnmapped fails if a native target's library is still mapped: a
// later dlopen would only bump a reference count and measure nothing.
func checkUnmapped(tb testing.TB, t Target, path string) {
	tb.Helper()
	if t.IsMapped == nil {
		return
	}
	mapped, err := t.IsMapped(path)
	if err != nil {
		tb.Fatal(err)
	}
	if mapped {
		tb.Fatalf("%s is still mapped: the load would not be cold", path)
	}
}

// untimed closes what a setup benchmark made, with the timer stopped, a
// batch at a time: b.StopTimer reads memory statistics, a stop-the-world
// pause far longer than a cheap phase, so paying it per iteration would
// make the run, not the result, a hundred times longer.
//
// The pending list is allocated before the loop and holds the values
// themselves (a module or an instance, not a closure over one), so that
// adding to it allocates nothing inside the timed region.
type untimed[T interface{ Close(context.Context) error }] struct {
	b       *testing.B
	pending []T
	before  func(T) // runs on each value before it is closed, timer stopped
	after   func()  // runs after each batch is closed, timer stopped
}

func newUntimed[T interface{ Close(context.Context) error }](b *testing.B, batch int) *untimed[T] {
	return &untimed[T]{b: b, pending: make([]T, 0, batch)}
}

func (u *untimed[T]) add(v T) {
	u.pending = append(u.pending, v)
	if len(u.pending) == cap(u.pending) {
		u.b.StopTimer()
		u.closeAll()
		u.b.StartTimer()
	}
}

// closeAll closes what is pending; after the loop, call it directly: the
// timer is already stopped.
func (u *untimed[T]) closeAll() {
	for _, v := range u.pending {
		if u.before != nil {
			u.before(v)
		}
		if err := v.Close(context.Background()); err != nil {
			u.b.Fatal(err)
		}
	}
	clear(u.pending)
	u.pending = u.pending[:0]
	if u.after != nil {
		u.after()
	}
}

// setupBatch is how many instances or modules may wait to be closed: a
// batch costs one b.StopTimer, a stop-the-world pause of ~0.1 ms, so that a
// 300 ns instantiate in batches of 32 spent most of its row stopped. Loads
// that must be cold (dlopen, and wasm, whose compiled code another open
// module would share) close every time.
const setupBatch = 256

func benchLoad(b *testing.B, t Target, mode CacheMode) {
	if t.OncePerProcess {
		benchFreshLoad(b, t)
		return
	}
	ctx := context.Background()
	be, path := mechanismSetup(b, t, mode)
	checkUnmapped(b, t, path)
	batch := 1
	if t.Where == Compiled {
		batch = setupBatch
	}
	u := newUntimed[backends.Module](b, batch)
	u.before = func(mod backends.Module) { checkIdentity(b, t, mod) }
	u.after = func() { checkUnmapped(b, t, path) }
	var peak *peakMeter // the first load of a sample also has its peak read
	var peakB uint64
	b.ReportAllocs()
	for b.Loop() {
		if peak == nil {
			b.StopTimer()
			var err error
			if peak, err = startPeak(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		mod, err := be.Load(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		if peakB == 0 {
			b.StopTimer()
			if peakB, err = peak.peak(); err != nil {
				b.Fatal(err)
			}
			peakB = max(peakB, 1) // read once: a load that grew nothing shows 1 B
			b.StartTimer()
		}
		u.add(mod)
	}
	u.closeAll()
	if path != static.Path { // the static plugin is the host's own code: nothing to load
		b.ReportMetric(float64(peakB), "peak-B")
	}
	reportArtifact(b, path)
}

// reportArtifact reports the size on disk of the artifact a load reads
// (artifact-B): a file, or a folder's files (a Go guest's source for
// yaegi). The static backend's plugin is in the host's own binary: none.
func reportArtifact(b *testing.B, path string) {
	if path == static.Path {
		return
	}
	var size int64
	err := filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		size += info.Size()
		return err
	})
	if err != nil {
		b.Fatalf("the size of %s: %v", path, err)
	}
	b.ReportMetric(float64(size), "artifact-B")
}

// benchFreshLoad measures the cold load of a target that can open a plugin
// only once per process (Go's plugin package: a second open of the same
// file returns the first, and a copy of it is refused): each iteration
// starts a new host process (restart's), which times its one Load and
// counts its allocations. ns/op, B/op and allocs/op are that Load's, not
// the process start's, which b.Loop's own clock includes.
func benchFreshLoad(b *testing.B, t Target) {
	path, err := t.Path(fx)
	if path == "" {
		skip(b, "%s/%s: unavailable: %v", t.Backend, t.Fixture, err)
	}
	var took time.Duration
	var allocs, bytes, peak uint64
	b.ReportAllocs() // prints the child's figures, reported below
	for b.Loop() {
		c, err := freshLoad(t, path)
		if err != nil {
			b.Fatal(err)
		}
		if peak == 0 {
			peak = max(c.peak, 1) // the first load's, as benchLoad reads it
		}
		took += c.took
		allocs += c.allocs
		bytes += c.bytes
	}
	n := float64(b.N)
	b.ReportMetric(float64(took.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(bytes)/n, "B/op")
	b.ReportMetric(float64(allocs)/n, "allocs/op")
	b.ReportMetric(float64(peak), "peak-B")
	reportArtifact(b, path)
}

// openWarm is open, then one instance made and closed: an out-of-process
// module hands the process its Load started to its first instance, which
// would make one instance of a row free (and the ramp of b.Loop guess
// wrong), and a runtime's first instance may set up what later ones share.
func openWarm(tb testing.TB, t Target) backends.Module {
	tb.Helper()
	ctx := context.Background()
	_, mod := open(tb, t)
	p, err := mod.Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		tb.Fatal(err)
	}
	return mod
}

func benchInstantiate(b *testing.B, t Target) {
	ctx := context.Background()
	mod := openWarm(b, t)
	u := newUntimed[backends.Plugin](b, setupBatch)
	b.ReportAllocs()
	for b.Loop() {
		p, err := mod.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		u.add(p)
	}
	u.closeAll()
}

func benchClose(b *testing.B, t Target) {
	ctx := context.Background()
	// A disk cache keeps a Go guest's setup affordable; closing still frees
	// everything, as no other module holds the compiled code.
	mode := CacheNone
	if len(t.Caches) > 0 && t.Caches[len(t.Caches)-1] == CacheDisk {
		mode = CacheDisk
	}
	be, path := loadSetup(b, t, mode)
	var closing time.Duration
	for b.Loop() {
		mod, err := be.Load(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := mod.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		perr, merr := p.Close(ctx), mod.Close(ctx)
		closing += time.Since(start)
		if perr != nil || merr != nil {
			b.Fatal(perr, merr)
		}
	}
	checkUnmapped(b, t, path)
	b.ReportMetric(float64(closing.Nanoseconds())/float64(b.N), "ns/op")
	if t.StaysMapped != nil {
		// What Close could not free: the plugin's code, for the process's life.
		mapped, err := t.StaysMapped(path)
		if err != nil {
			b.Fatal(err)
		}
		if mapped == 0 {
			b.Fatalf("%s: nothing mapped after close, yet %s cannot unload", path, t.Backend)
		}
		b.ReportMetric(float64(mapped), "mapped-B")
	}
}

// BenchmarkCall measures one call across the boundary.
func BenchmarkCall(b *testing.B) {
	for _, op := range callOps {
		b.Run("op="+op, func(b *testing.B) {
			forTargets(b, func(b *testing.B, t Target) {
				_, mod := open(b, t)
				p, _ := rowInstance(b, mod)
				benchCall(b, op, p)
			})
		})
	}
}

func benchCall(b *testing.B, op string, p backends.Plugin) {
	b.ReportAllocs()
	defer reportSlowWaits(b, p)()
	switch op {
	case "min":
		var r int32
		var err error
		for b.Loop() {
			if r, err = p.Min(minA, minB); err != nil {
				b.Fatal(err)
			}
		}
		if r != min(minA, minB) {
			b.Fatalf("min(%d, %d) = %d", minA, minB, r)
		}
	case "accumulate":
		// The instance's state is its own: the total is exactly what this
		// row's calls added (an instance the quick run's samples share
		// starts from the last sample's total).
		r, err := p.Accumulate(0)
		if err != nil {
			b.Fatal(err)
		}
		want := r
		for b.Loop() {
			if r, err = p.Accumulate(accX); err != nil {
				b.Fatal(err)
			}
		}
		if want += accX * int64(b.N); r != want {
			b.Fatalf("accumulate total %d after %d calls, want %d", r, b.N, want)
		}
	default:
		b.Fatalf("unknown op %q", op)
	}
}

// doorbell is an instance on shm's shared-memory channel, which counts
// the replies it had to yield its CPU or sleep for.
type doorbell interface {
	DoorbellWaits() (waits, slow uint64, ok bool)
}

// reportSlowWaits starts counting p's slow waits, if it has a doorbell,
// and returns what reports, after the loop, the share of the row's round
// trips that were slow (slow-waits): a row measured while the host and
// the plugin did not each have a free core is the fallback's, and the
// report says so.
func reportSlowWaits(b *testing.B, p backends.Plugin) func() {
	d, ok := p.(doorbell)
	if !ok {
		return func() {}
	}
	w0, s0, ok := d.DoorbellWaits()
	if !ok {
		return func() {}
	}
	return func() {
		w1, s1, _ := d.DoorbellWaits()
		if w1 > w0 {
			b.ReportMetric(float64(s1-s0)/float64(w1-w0), "slow-waits")
		}
	}
}

// payload returns n bytes of mixed-case text with some non-ASCII bytes.
func payload(n int) []byte {
	const text = "The quick brown fox jumps over the lazy dog \xc3\xa9\xff 0123456789 "
	p := make([]byte, n)
	for i := range p {
		p[i] = text[i%len(text)]
	}
	return p
}

// BenchmarkPayload measures data crossing the boundary: sum (host to
// plugin) and upper (host to plugin and back), at each size.
func BenchmarkPayload(b *testing.B) {
	for _, op := range payloadOps {
		b.Run("op="+op, func(b *testing.B) {
			for _, size := range sizes {
				b.Run("size="+size.name, func(b *testing.B) {
					forTargets(b, func(b *testing.B, t Target) {
						_, mod := open(b, t)
						p, fresh := rowInstance(b, mod)
						benchPayload(b, op, p, size.n, fresh)
					})
				})
			}
		})
	}
}

func benchPayload(b *testing.B, op string, p backends.Plugin, n int, fresh bool) {
	buf := payload(n)
	want, _ := reference().Sum(buf)
	// A new instance's first call is made untimed (b.Loop resets the timer
	// and the allocation count): a guest buffer grows once per instance,
	// then is reused.
	if fresh {
		if _, err := p.Sum(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	switch op {
	case "sum":
		var r uint64
		var err error
		for b.Loop() {
			if r, err = p.Sum(buf); err != nil {
				b.Fatal(err)
			}
		}
		if r != want {
			b.Fatalf("sum = %d, want %d", r, want)
		}
	case "upper":
		for b.Loop() {
			if err := p.Upper(buf); err != nil {
				b.Fatal(err)
			}
		}
		upper := payload(n)
		reference().Upper(upper)
		if string(buf) != string(upper) {
			b.Fatalf("upper of %d bytes differs from static's", n)
		}
	default:
		b.Fatalf("unknown op %q", op)
	}
}

// parallelInstances returns one instance per goroutine that RunParallel
// will start, made before the timer runs (instantiating is not what is
// measured), each with its running total. A benchmark's RunParallel rounds
// of a sample share them (rowInstances): when each round made its own, a
// quick run's knqyf263 row spent 0.3 s a sample instantiating.
func parallelInstances(tb testing.TB, mod backends.Module) func() (backends.Plugin, *int64) {
	var ps []backends.Plugin
	var totals []int64
	if b, ok := tb.(*testing.B); ok {
		ps, _ = rowInstances(b, mod, runtime.GOMAXPROCS(0))
		totals = held.totals
	} else {
		for range runtime.GOMAXPROCS(0) {
			ps = append(ps, instance(tb, mod))
		}
		totals = make([]int64, len(ps))
	}
	var next atomic.Int32
	return func() (backends.Plugin, *int64) {
		i := next.Add(1) - 1
		return ps[i], &totals[i]
	}
}

// BenchmarkParallel measures the calls from every core at once, one
// instance per goroutine.
func BenchmarkParallel(b *testing.B) {
	for _, op := range callOps {
		b.Run("op="+op, func(b *testing.B) {
			forTargets(b, func(b *testing.B, t Target) {
				_, mod := open(b, t)
				take := parallelInstances(b, mod)
				b.ReportAllocs()
				// RunParallel runs the b.N protocol: this function runs once
				// per round, its setup timed unless the timer is reset.
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					p, total := take()
					if err := parallelCalls(op, p, total, pb.Next); err != nil {
						b.Error(err)
					}
				})
			})
		})
	}
}

// parallelCalls makes op's call while next says so, and checks the answer.
// parallelCalls makes op's calls on p while next says so, and checks the
// last answer; total is p's running total before them, and after.
func parallelCalls(op string, p backends.Plugin, total *int64, next func() bool) error {
	switch op {
	case "min":
		var r int32
		var err error
		for next() {
			if r, err = p.Min(minA, minB); err != nil {
				return err
			}
		}
		if r != min(minA, minB) && r != 0 {
			return fmt.Errorf("min(%d, %d) = %d", minA, minB, r)
		}
	case "accumulate":
		var r, n int64
		var err error
		for next() {
			if r, err = p.Accumulate(accX); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		if want := *total + accX*n; r != want {
			return fmt.Errorf("accumulate total %d after %d calls in this goroutine, want %d", r, n, want)
		}
		*total = r
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}
