package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
)

// instancesFlag is the instance counts BenchmarkMemory measures: the full
// run takes every one that fits, the quick run (make report) one.
var instancesFlag = flag.String("instances", "1,10,100,1000,10000",
	"BenchmarkMemory measures these comma-separated instance `counts`, each where it fits")

// The limits of a memory row: a count is measured only if, projected from
// the count before it, its instances fit in memBudget (the 8 GiB,
// of this machine's 24) and, above memEvery instances, one sample creates
// and closes them within memSampleCap. Every target is measured up to
// memEvery wherever it fits, however long it takes (a thousand go-plugin
// processes: 5-6 s a sample; Go guests on wazero: 5-10 s): a host of many
// plugins wants that figure for every mechanism. A count that does not
// fit is a skipped row that says why.
const (
	memBudget    = 8 << 30
	memEvery     = 1000
	memSampleCap = 2 * time.Second
	memBatch     = 64 // instances that may wait to be closed (benchMemory)
)

// memCounts parses -instances.
func memCounts() ([]int, error) {
	var out []int
	for _, f := range strings.Split(*instancesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-instances: %q is not a positive count", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-instances: %d after %d: counts go up", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// BenchmarkMemory measures what instances cost as they grow, for every
// target: instances=N creates N instances of one loaded module (the timed
// part: ns/op is the N, ns/instance one of them), then, with the timer
// stopped, reads what the N hold above what was there before them:
//
//   - heap-B/instance: the host's live Go heap (after a collection);
//   - host-B/instance: the host process's resident memory (PSS): the Go
//     heap that is touched, C allocations, guest linear memory, compiled
//     code;
//   - child-B/instance: the resident memory (PSS) of the processes the
//     instances run in, for a plugin that is a process of its own (no
//     such row for the others: TestMemory checks they start none).
//
// A count that would not fit (memBudget; memSampleCap above memEvery),
// projected from the one before it, is skipped with the projection as its
// reason.
func BenchmarkMemory(b *testing.B) {
	counts, err := memCounts()
	if err != nil {
		b.Fatal(err)
	}
	forTargets(b, func(b *testing.B, t Target) {
		var last *memPerInstance // the last count measured, for the projection
		for _, n := range counts {
			b.Run("instances="+strconv.Itoa(n), func(b *testing.B) {
				if last != nil {
					if reason := last.wontFit(n); reason != "" {
						skipByDesign(b, "%s/%s: %s", t.Backend, t.Fixture, reason)
					}
				}
				m := benchMemory(b, t, n)
				if last == nil || last.n != n || m.total() > last.total() {
					last = m // the worst sample of a count projects the next
				}
			})
		}
	})
}

// memPerInstance is what one sample of a count measured, per instance.
type memPerInstance struct {
	n                 int
	heap, host, child float64       // bytes
	cycle             time.Duration // creating and closing one instance
}

func (m *memPerInstance) total() float64 { return max(m.heap, m.host+m.child) }

// wontFit returns why n instances would not fit, projected from m, or "".
// The projection takes the larger of the Go heap (which a runtime may
// reserve without touching: wazero's linear memory) and the resident
// memory, and assumes a count costs what the smaller one did per
// instance: its fixed costs spread thinner, so it overestimates.
func (m *memPerInstance) wontFit(n int) string {
	mem := m.total() * float64(n)
	took := m.cycle * time.Duration(n)
	switch {
	case mem > memBudget:
		return fmt.Sprintf("%d instances would take ≈%.1f GiB (%.0f KiB each at %d), over the %d GiB budget",
			n, mem/(1<<30), m.total()/1024, m.n, memBudget>>30)
	case n > memEvery && took > memSampleCap:
		return fmt.Sprintf("%d instances would take ≈%.1f s a sample to create and close (%.0f µs each at %d), over the %v cap",
			n, took.Seconds(), float64(m.cycle.Microseconds())/1, m.n, memSampleCap)
	}
	return ""
}

// benchMemory measures one count for t and returns what it measured.
func benchMemory(b *testing.B, t Target, n int) *memPerInstance {
	ctx := context.Background()
	mod := openWarm(b, t)
	before, err := snapshot()
	if err != nil {
		b.Fatal(err)
	}
	// Instances wait to be closed in batches of at least memBatch, as in
	// the setup rows (untimed): b.StopTimer is a stop-the-world pause, and
	// paying it for every 200 ns instance made the run, not the row,
	// ten times longer.
	insts := make([]backends.Plugin, 0, max(n, memBatch))
	var m *memPerInstance
	var closing time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for range n {
			p, err := mod.Instantiate(ctx)
			if err != nil {
				b.StopTimer()
				closeAll(ctx, insts)
				b.Fatalf("instance %d of %d: %v", len(insts)+1, n, err)
			}
			insts = append(insts, p)
		}
		if m == nil { // the sample's first n instances, and nothing else
			b.StopTimer()
			m = measureInstances(b, t, before, insts)
			b.StartTimer()
		}
		if len(insts)+n > cap(insts) {
			b.StopTimer()
			start := time.Now()
			if err := closeAll(ctx, insts); err != nil {
				b.Fatal(err)
			}
			closing += time.Since(start)
			insts = insts[:0]
			b.StartTimer()
		}
	}
	start := time.Now()
	if err := closeAll(ctx, insts); err != nil {
		b.Fatal(err)
	}
	closing += time.Since(start)
	perInst := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(perInst, "ns/instance")
	b.ReportMetric(m.heap, "heap-B/instance")
	b.ReportMetric(m.host, "host-B/instance")
	if t.Where == OwnProcess {
		b.ReportMetric(m.child, "child-B/instance")
	}
	m.cycle = time.Duration(perInst) + closing/time.Duration(b.N*n)
	return m
}

// measureInstances reads what insts hold: a snapshot with them against
// before, the one taken before they were made. It checks that every
// instance answers and, for a plugin that is a process of its own, that
// each one is a process the snapshot counted.
func measureInstances(b testing.TB, t Target, before memSnapshot, insts []backends.Plugin) *memPerInstance {
	b.Helper()
	for i, p := range insts {
		if got, err := p.Min(minA, minB); err != nil || got != minB {
			b.Fatalf("instance %d: min(%d, %d) = %d, %v; want %d", i, minA, minB, got, err, minB)
		}
	}
	with, err := snapshot()
	if err != nil {
		b.Fatal(err)
	}
	n := len(insts)
	made, _ := with.since(before)
	if t.Where == OwnProcess && made != n {
		b.Fatalf("%d instances, but %d new processes below the host: the row would not count what it claims", n, made)
	}
	if t.Where != OwnProcess && made != 0 {
		b.Fatalf("an in-process plugin's %d instances, and %d new processes below the host", n, made)
	}
	per := func(a, z uint64) float64 { return (float64(a) - float64(z)) / float64(n) }
	return &memPerInstance{
		n:     n,
		heap:  max(0, per(with.heap, before.heap)),
		host:  max(0, per(with.host, before.host)),
		child: max(0, per(with.child, before.child)),
	}
}

// closeAll closes every instance of ps and returns the first error.
func closeAll(ctx context.Context, ps []backends.Plugin) error {
	var first error
	for _, p := range ps {
		if err := p.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// TestMemory is BenchmarkMemory's twin: through the same setup, three
// instances of every target answer, and what the row reads is where the
// instances are: a plugin that is a process of its own is three new
// processes below the host (measureInstances checks) that hold resident
// memory, and closing them leaves none; one inside the host makes none.
// Processes that were there before (a shared module's spare) are not
// counted: their memory moves by itself.
func TestMemory(t *testing.T) {
	const n = 3
	forTargets(t, func(t *testing.T, tg Target) {
		ctx := context.Background()
		mod := openWarm(t, tg)
		before, err := snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var insts []backends.Plugin
		t.Cleanup(func() { closeAll(ctx, insts) })
		for range n {
			p, err := mod.Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			insts = append(insts, p)
		}
		measureInstances(t, tg, before, insts) // checks the processes made
		if with, err := snapshot(); err != nil {
			t.Fatal(err)
		} else if _, pss := with.since(before); tg.Where == OwnProcess && pss == 0 {
			t.Errorf("%d plugin processes, and no resident memory in them", n)
		}
		if err := closeAll(ctx, insts); err != nil {
			t.Fatal(err)
		}
		insts = nil
		// A closed instance's process is gone: Close reaps it. The count
		// is polled for up to backendstest.StuckAfter, so that only a
		// process that never ends fails.
		var after memSnapshot
		if !backendstest.Eventually(func() bool {
			if after, err = snapshot(); err != nil {
				t.Fatal(err)
			}
			left, _ := after.since(before)
			return left == 0
		}) {
			left, _ := after.since(before)
			t.Fatalf("%d of the instances' processes still below the host after closing", left)
		}
	})
}

// TestMemoryProjection checks which counts BenchmarkMemory skips: one
// whose projection exceeds the memory budget always, one that would take
// longer than memSampleCap a sample only above memEvery.
func TestMemoryProjection(t *testing.T) {
	goGuest := &memPerInstance{n: 100, heap: 4.09 * (1 << 20), cycle: 9 * time.Millisecond}
	process := &memPerInstance{n: 100, host: 1500, child: 2.2 * (1 << 20), cycle: 7 * time.Millisecond}
	cheap := &memPerInstance{n: 1000, heap: 300, cycle: time.Microsecond}
	for _, c := range []struct {
		m    *memPerInstance
		n    int
		want string // a word of the reason, or "" to measure
	}{
		{goGuest, 1000, ""},        // 4 GiB, 9 s a sample: measured
		{goGuest, 10000, "budget"}, // 40 GiB
		{process, 1000, ""},        // 2.2 GiB, 7 s a sample: measured
		{process, 10000, "budget"}, // 22 GiB
		{&memPerInstance{n: 1000, host: 100 << 10, cycle: 900 * time.Microsecond}, 10000, "cap"}, // 1 GiB, 9 s
		{cheap, 10000, ""},
	} {
		got := c.m.wontFit(c.n)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v at %d: %q, want a reason with %q", *c.m, c.n, got, c.want)
		}
	}
}

// envProcMem makes this test binary a quiet process for TestProcMem's
// measurements (TestMain runs procMemChild and exits).
const envProcMem = "PLUGBENCH_PROCMEM_CHILD"

// TestProcMem checks what the memory rows read against processes and
// allocations of known size: a child that touches 32 MiB, and a load-like
// operation that touches 64 MiB and frees it. It measures in a process of
// its own (this binary again, doing nothing else): in the suite's process,
// goroutines of earlier tests allocate and free while it measures, the
// 64 MiB partly reuses pages their garbage left resident, and a peak read
// there came out 5 MiB short of what was touched.
func TestProcMem(t *testing.T) {
	if inChild() {
		t.Skip("an isolated row's child checks no meters")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envProcMem+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the meters, read in a process of their own (%v):\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// procMemChild is TestProcMem's process: it checks the meters, prints
// what it read, and exits non-zero if a check fails.
func procMemChild() {
	failed := false
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL: "+format+"\n", args...)
		failed = true
	}
	defer func() {
		if failed {
			os.Exit(1)
		}
		os.Exit(0)
	}()
	// Nothing collects or returns memory while the meters read: what the
	// heap holds free now goes back to the system, and the 64 MiB must
	// come from new pages.
	debug.SetGCPercent(-1)
	before, err := snapshot()
	if err != nil {
		fmt.Printf("no /proc memory accounting here: %v\n", err)
		return
	}
	pm, err := startPeak()
	if err != nil {
		fail("%v", err)
		return
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	buf = nil
	peak, err := pm.peak()
	switch {
	case err != nil:
		fail("%v", err)
	case peak < 64<<20:
		fail("peak = %d B after touching 64 MiB, want at least 64 MiB", peak)
	default:
		fmt.Printf("peak %d B after touching 64 MiB\n", peak)
	}
	// A child that keeps 32 MiB resident in a shell variable until its
	// stdin closes.
	cmd := exec.Command("sh", "-c", `x=$(head -c 33554432 /dev/zero | tr '\0' x); echo ready; read _`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fail("%v", err)
		return
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("%v", err)
		return
	}
	if err := cmd.Start(); err != nil {
		fail("%v", err)
		return
	}
	defer cmd.Wait()
	defer stdin.Close()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		fail("the child never got ready: %v", err)
		return
	}
	with, err := snapshot()
	if err != nil {
		fail("%v", err)
		return
	}
	if with.procs != before.procs+1 {
		fail("%d processes below the host with one child, %d before", with.procs, before.procs)
	}
	if grew := int64(with.child) - int64(before.child); grew < 32<<20 {
		fail("children's PSS grew %d B with a child holding 32 MiB, want at least 32 MiB", grew)
	} else {
		fmt.Printf("children's PSS grew %d B with a child holding 32 MiB\n", grew)
	}
}

// TestNeedsCgo checks Target.NeedsCgo, which the needs-cgo config line
// reports: without cgo, a target that claims to need it cannot load (its
// error matches errors.ErrUnsupported) and every other one loads; with
// cgo, every target loads.
func TestNeedsCgo(t *testing.T) {
	ctx := context.Background()
	for _, tg := range Targets {
		t.Run(tg.Backend+"/"+tg.Fixture, func(t *testing.T) {
			if cgoEnabled && tg.Isolated() {
				t.Skip("loads in its isolated rows only: a native plugin is not loaded into the test process")
			}
			path, perr := tg.Path(fx)
			err := perr
			if path != "" {
				be, nerr := tg.New(ctx, compiled)
				if nerr != nil {
					t.Fatal(nerr)
				}
				defer be.Close(ctx)
				var mod backends.Module
				if mod, err = be.Load(ctx, path); err == nil {
					mod.Close(ctx)
				}
			}
			switch {
			case !cgoEnabled && tg.NeedsCgo:
				if !errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("claims to need cgo, yet without it: %v (want an error matching errors.ErrUnsupported)", err)
				}
			case err != nil && errors.Is(err, errors.ErrUnsupported):
				t.Errorf("does not claim to need cgo, yet (cgo=%v): %v", cgoEnabled, err)
			case err != nil && path != "":
				t.Fatalf("load: %v", err)
			case err != nil:
				t.Skipf("unavailable: %v", err)
			}
		})
	}
}
