package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/fixtures"
)

// BenchmarkRecover measures the recovery column of the fault table: the
// time from a plugin's fault to a working instance again, for each cell
// whose host can recover (Target.ExpectFault says how):
//
//   - reinstantiate: the faulted instance is closed and a new instance of
//     the same module answers a call. The fault itself (a trap, a call
//     stopped at a short deadline, a memory bomb meeting its limit) happens
//     in every iteration, untimed.
//   - reload: after a start function that never returned (stopped at a
//     short deadline, untimed), the healthy plugin loads, instantiates and
//     answers with the same backend.
//   - restart: the host process is gone, and a new one (this test binary,
//     doing nothing else) loads the plugin, instantiates it and answers.
//
// A cell whose plugin goes on running after the fault (a native loop, a
// start function that an uninterruptible runtime abandoned) is skipped
// with the reason: each iteration would leave a core spinning for good.
func BenchmarkRecover(b *testing.B) {
	prebuildFaults(faultDir)
	forFaultCells(b, func(b *testing.B, tg Target, fault, path string) {
		r := recoverer(b, tg, fault, path)
		var took time.Duration
		b.ReportAllocs()
		for b.Loop() {
			d, err := r()
			if err != nil {
				b.Fatal(err)
			}
			took += d
		}
		b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "ns/op")
	})
}

// TestRecover is BenchmarkRecover's twin: the same recoveries, each giving
// a working instance of the plugin the cell names.
func TestRecover(t *testing.T) {
	forFaultCells(t, func(t *testing.T, tg Target, fault, path string) {
		r := recoverer(t, tg, fault, path)
		for range 2 {
			if d, err := r(); err != nil || d <= 0 {
				t.Fatalf("recovery took %v: %v", d, err)
			}
		}
	})
}

// forFaultCells runs f for every fault table cell with a recovery to
// measure, as fault=F/backend=B/fixture=X.
func forFaultCells[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, f func(T, Target, string, string)) {
	for _, fault := range fixtures.Faults {
		tb.Run("fault="+fault, func(tb T) {
			for _, g := range backendGroups(faultTargets()) {
				tb.Run("backend="+g[0].Backend, func(tb T) {
					for _, tg := range g {
						e := tg.ExpectFault(fault)
						tb.Run("fixture="+tg.Fixture, func(tb T) {
							if e.Outcome == "not-applicable" {
								_, err := tg.Faults(faultDir, fault)
								skipByDesign(tb, "%s/%s %s: not applicable: %v", tg.Backend, tg.Fixture, fault, err)
							}
							if e.Outcome == "hung" || e.Consequence == "core-lost" {
								skipByDesign(tb, "%s/%s %s: the plugin goes on running after the fault, so each iteration would leave a core spinning for good; its recovery (%s) is timed elsewhere: a new instance by BenchmarkSetup, a new process by the restart rows here", tg.Backend, tg.Fixture, fault, e.Recovery)
							}
							path, err := tg.Faults(faultDir, fault)
							if path == "" {
								skip(tb, "%s/%s: fault variant unavailable: %v", tg.Backend, tg.Fixture, err)
							}
							f(tb, tg, fault, path)
						})
					}
				})
			}
		})
	}
}

// recoveryDeadline stops the faults the benchmark repeats: short, as it is
// not what is measured.
const recoveryDeadline = 20 * time.Millisecond

// recoverer returns one recovery: it makes the fault happen (untimed) and
// returns how long getting a working instance again took.
func recoverer(tb testing.TB, tg Target, fault, path string) func() (time.Duration, error) {
	tb.Helper()
	ctx := context.Background()
	switch recovery := tg.ExpectFault(fault).Recovery; recovery {
	case "restart":
		load := path
		if fault == "startloop" {
			load, _ = tg.Path(fx) // the faulty plugin never loads: the host loads another
		}
		return func() (time.Duration, error) { return restart(tg, load) }
	case "reload":
		be, healthy := loadSetup(tb, tg, CacheNone)
		return func() (time.Duration, error) {
			dctx, cancel := context.WithTimeout(ctx, recoveryDeadline)
			_, err := be.Load(dctx, path)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				return 0, fmt.Errorf("the start that never returns: %v, want a deadline", err)
			}
			start := time.Now()
			mod, err := be.Load(ctx, healthy)
			if err != nil {
				return 0, err
			}
			p, err := mod.Instantiate(ctx)
			if err != nil {
				return 0, err
			}
			_, err = p.Accumulate(accX)
			took := time.Since(start)
			p.Close(ctx)
			mod.Close(ctx)
			return took, err
		}
	}
	var cache Cache
	if tg.CompileFirst {
		cache = compiledOnce(tb, path)
	}
	be, err := tg.New(ctx, cache)
	if fault == "bomb" && tg.NewLimited != nil {
		// The bomb meets a 16 MiB limit instead of the default 256 MiB:
		// the recovery that follows is the same, and each iteration's
		// untimed fault takes milliseconds, not half a second.
		be.Close(ctx)
		be, err = tg.NewLimited(ctx, cache, 16<<20)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { be.Close(ctx) })
	if be.Name() != tg.Backend {
		tb.Fatalf("made backend %s for target %s", be.Name(), tg.Backend)
	}
	mod, err := be.Load(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	if !strings.Contains(mod.Identity().Raw, "fault="+fault) {
		tb.Fatalf("%s: identity %q, want fault=%s", path, mod.Identity().Raw, fault)
	}
	var opts []backends.Option
	if fault == "loop" {
		opts = append(opts, backends.WithCallTimeout(recoveryDeadline))
	}
	p, err := mod.Instantiate(ctx, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return func() (time.Duration, error) {
		if _, err := p.Min(minA, minB); err == nil {
			return 0, errors.New("the faulty min returned no error")
		}
		start := time.Now()
		perr := p.Close(ctx)
		var err error
		if p, err = mod.Instantiate(ctx, opts...); err != nil {
			return 0, err
		}
		_, aerr := p.Accumulate(accX)
		took := time.Since(start)
		return took, errors.Join(perr, aerr)
	}
}

// compiledOnce returns a wazero cache holding the module at path,
// compiled once a process (Target.CompileFirst).
func compiledOnce(tb testing.TB, path string) Cache {
	tb.Helper()
	v, _ := compiledCaches.LoadOrStore(path, &warm{})
	w := v.(*warm)
	w.once.Do(func() { w.cache, w.err = compileFirst(setupContext(), path) })
	if w.err != nil {
		tb.Fatal(w.err)
	}
	return w.cache
}

var compiledCaches sync.Map // path → *warm

// envRestart makes this test binary a fresh host that loads one plugin,
// answers one call and exits: "backend fixture path".
const envRestart = "PLUGBENCH_RESTART"

// restart starts a new host process that loads the plugin at path with
// tg's backend and answers a call, and returns how long that took, from
// the process's start to its exit.
func restart(tg Target, path string) (time.Duration, error) {
	start := time.Now()
	_, err := restartOutput(tg, path)
	return time.Since(start), err
}

// restartOutput runs restart's new host process and returns its output.
func restartOutput(tg Target, path string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRestart+"="+tg.Backend+" "+tg.Fixture+" "+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "plugbench-restart: answered") {
		return "", fmt.Errorf("a new host process for %s: %v\n%s", path, err, out)
	}
	return string(out), nil
}

// restartChild is the fresh host of restart, run from TestMain before
// anything else (no fixtures are prepared: the path is given).
func restartChild(spec string) {
	f := strings.Fields(spec)
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "restart:", err)
		os.Exit(2)
	}
	if len(f) != 3 {
		fail(fmt.Errorf("%s=%q: want \"backend fixture path\"", envRestart, spec))
	}
	i := slices.IndexFunc(Targets, func(t Target) bool { return t.Backend == f[0] && t.Fixture == f[1] })
	if i < 0 {
		fail(fmt.Errorf("no target %s/%s", f[0], f[1]))
	}
	ctx := context.Background()
	be, err := Targets[i].New(ctx, Cache{})
	if err != nil {
		fail(err)
	}
	var before, after runtime.MemStats
	pm, err := startPeak()
	if err != nil {
		fail(err)
	}
	runtime.ReadMemStats(&before)
	start := time.Now()
	mod, err := be.Load(ctx, f[2])
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		fail(err)
	}
	peak, err := pm.peak()
	if err != nil {
		fail(err)
	}
	if err := checkTargetIdentity(Targets[i], mod.Identity()); err != nil {
		fail(err)
	}
	p, err := mod.Instantiate(ctx)
	if err != nil {
		fail(err)
	}
	if v, err := p.Accumulate(accX); err != nil || v != accX {
		fail(fmt.Errorf("accumulate = %d, %v", v, err))
	}
	fmt.Printf("plugbench-restart: answered load=%d allocs=%d bytes=%d peak=%d\n",
		took.Nanoseconds(), after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc, peak)
	os.Exit(0)
}

// A coldLoad is what a fresh host process measured of its one Load.
type coldLoad struct {
	took                time.Duration
	allocs, bytes, peak uint64 // peak: the load's resident growth at its peak (peakMeter)
}

// freshLoad starts a new host process (restart's) that loads the plugin
// at path with tg's backend, and returns what it measured of the load
// alone: the cold load of a mechanism that opens a plugin once per process.
func freshLoad(tg Target, path string) (coldLoad, error) {
	out, err := restartOutput(tg, path)
	if err != nil {
		return coldLoad{}, err
	}
	var c coldLoad
	var ns int64
	i := strings.Index(out, "plugbench-restart: answered ")
	if i < 0 {
		return coldLoad{}, fmt.Errorf("a new host process for %s printed no load figures:\n%s", path, out)
	}
	if _, err := fmt.Sscanf(out[i:], "plugbench-restart: answered load=%d allocs=%d bytes=%d peak=%d", &ns, &c.allocs, &c.bytes, &c.peak); err != nil {
		return coldLoad{}, fmt.Errorf("a new host process for %s: reading its load figures: %w\n%s", path, err, out)
	}
	c.took = time.Duration(ns)
	return c, nil
}
