package bench

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/wasm"
	"github.com/plugbench/plugbench/fixtures"
)

// TestClosed checks, on every target, that every call on a closed
// instance fails with backends.ErrClosed instead of reaching the plugin
// (a dlopen call used to reach freed C state), that a module refuses to
// close with an instance open, and that a second Close is harmless
// (backendstest.Closed).
func TestClosed(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		be, mod := open(t, tg)
		backendstest.Closed(t, be, mod.Path())
	})
}

// TestDeadlines shows the contract's deadlines with the C guest's fault
// variants, in this process (the fault table runs every backend and fault
// in a child of its own): an interruptible wasm runtime stops a start
// function that never returns at Load's deadline and a looping call at
// its WithCallTimeout, and the next instance works; the memory bomb meets
// the limit. Backends that cannot interrupt refuse WithCallTimeout.
func TestDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for deadlines of seconds: skipped with -short")
	}
	ctx := context.Background()
	be, err := wasm.New(ctx, wasm.Config{Interruptible: true})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close(ctx)
	variant := func(fault string) string {
		path, err := fixtures.WriteWasmFault(t.TempDir(), fault)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("start function, 2s deadline", func(t *testing.T) {
		const d = 2 * time.Second
		dctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		start := time.Now()
		_, err := be.Load(dctx, variant("startloop"))
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load returned in %v: %v; want context.DeadlineExceeded", took, err)
		}
		backendstest.Ended(t, "Load", took, d)
		t.Logf("Load: %v", err)
	})
	t.Run("call, 1s timeout", func(t *testing.T) {
		mod, err := be.Load(ctx, variant("loop"))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		const d = time.Second
		p, err := mod.Instantiate(ctx, backends.WithCallTimeout(d))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, minErr := p.Min(1, 2)
		took := time.Since(start)
		if !errors.Is(minErr, context.DeadlineExceeded) {
			t.Fatalf("Min returned in %v: %v; want context.DeadlineExceeded", took, minErr)
		}
		backendstest.Ended(t, "Min", took, d)
		if _, err := p.Accumulate(1); !errors.Is(err, backends.ErrClosed) {
			t.Errorf("the stopped instance's next call: %v, want ErrClosed", err)
		}
		p.Close(ctx)
		// The next instance is bounded too, by a timeout that no busy
		// machine makes a healthy call miss.
		q, err := mod.Instantiate(ctx, backends.WithCallTimeout(backendstest.StuckAfter))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(ctx)
		if v, err := q.Accumulate(5); err != nil || v != 5 {
			t.Fatalf("the next instance: %d, %v", v, err)
		}
		t.Logf("Min: %v; the next instance answers", minErr)
	})
	t.Run("memory bomb", func(t *testing.T) {
		mod, err := be.Load(ctx, variant("bomb"))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		p, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrMemoryLimit) {
			t.Fatalf("Min: %v, want an error matching ErrMemoryLimit", err)
		}
	})
	t.Run("refused where a call cannot be stopped", func(t *testing.T) {
		forTargets(t, func(t *testing.T, tg Target) {
			_, mod := open(t, tg)
			// A timeout that no busy machine makes a healthy call miss.
			p, err := mod.Instantiate(ctx, backends.WithCallTimeout(backendstest.StuckAfter))
			bounded := tg.Bounded
			switch {
			case bounded && err != nil:
				t.Fatalf("an interruptible backend refused WithCallTimeout: %v", err)
			case !bounded && !errors.Is(err, backends.ErrNoInterrupt):
				t.Fatalf("WithCallTimeout: %v, want ErrNoInterrupt", err)
			case bounded:
				defer p.Close(ctx)
				backendstest.Answers(t, p, minCases, accumulateCases, bufferCases[:8]) // bounded calls answer alike
			}
		})
	})
}

// prober is a wasm instance that calls any export by name and reads its
// memory: a probe beyond the contract.
type prober interface {
	CallExport(name string, args ...uint64) ([]uint64, error)
	ReadMemory(ptr, n uint32) ([]byte, bool)
}

// TestSandbox has the Go guest try, through WASI, to read a host file, list
// a directory, and read the environment, the arguments and the clock, on
// every wasm target: it gets nothing, and a fake clock.
func TestSandbox(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		if tg.Fixture != FixtureGo || tg.BuiltFor != wasm.BuiltFor {
			return // the sandbox is WASI's, and the probe the Go guest's
		}
		_, mod := open(t, tg)
		p, ok := instance(t, mod).(prober)
		if !ok {
			t.Fatalf("%T cannot call an export by name", p)
		}
		ptr, err := p.CallExport("plugbench_sandbox")
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.CallExport("plugbench_sandbox_len")
		if err != nil {
			t.Fatal(err)
		}
		report, ok := p.ReadMemory(uint32(ptr[0]), uint32(n[0]))
		if !ok {
			t.Fatal("the report is outside memory")
		}
		got := map[string]string{}
		for line := range strings.Lines(string(report)) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
			got[k] = v
		}
		// (getwd is Go's own "/" for a guest with no preopened directory.)
		for _, k := range []string{"read /etc/hostname", "list /"} {
			if !strings.HasPrefix(got[k], "error ") {
				t.Errorf("%s: %q, want an error", k, got[k])
			}
		}
		if got["environ"] != "0 variables" || got["args"] != "0 arguments" {
			t.Errorf("environ %q, args %q: want none", got["environ"], got["args"])
		}
		// wazero gives a guest fake clocks unless told otherwise; Wasmtime's
		// WASI (its C API) has no setting for them, so a guest there reads
		// the host's time: a difference of the runtimes, which this checks
		// stays what RATIONALE.md says.
		clock, err := time.Parse(time.RFC3339, got["clock"])
		fake := err == nil && clock.Sub(time.Now()).Abs() > 24*time.Hour
		if wantFake := slices.Contains(tg.Modules, "github.com/tetratelabs/wazero"); fake != wantFake {
			t.Errorf("the guest's clock reads %q (%v): want a fake clock %v", got["clock"], err, wantFake)
		}
		t.Logf("the guest's view:\n%s", report)
	})
}

// TestCapabilities checks what each target says of its plugins' optional
// capabilities against its plugin: events (backends.EventPlugin) unless
// NoEvents says why not, with Transports then empty, and callbacks
// (backends.Caller) unless NoCallbacks says why not.
func TestCapabilities(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		if tg.NoEvents != "" && len(tg.Transports) > 0 {
			t.Errorf("NoEvents (%s) beside Transports %v", tg.NoEvents, tg.Transports)
		}
		if tg.NoEvents == "" && len(tg.Transports) == 0 {
			t.Error("no Transports, and no NoEvents reason")
		}
		_, mod := open(t, tg)
		p := instance(t, mod)
		if _, ok := p.(backends.EventPlugin); ok != (tg.NoEvents == "") {
			t.Errorf("%T implements EventPlugin: %v; the target says NoEvents %q", p, ok, tg.NoEvents)
		}
		if _, ok := p.(backends.Caller); ok != (tg.NoCallbacks == "") {
			t.Errorf("%T implements Caller: %v; the target says NoCallbacks %q", p, ok, tg.NoCallbacks)
		}
	})
}

// TestSkipsWhatATargetLacks runs the event, pipeline and callback twins on
// a matrix of one target whose plugins offer neither events nor
// callbacks: each row is skipped by design with the target's reason, not
// failed, and the contract's own tests pass on it.
func TestSkipsWhatATargetLacks(t *testing.T) {
	tg := Targets[0] // static: the baseline is always in the matrix
	tg.Backend = "bare"
	newStatic := tg.New
	tg.New = func(ctx context.Context, c Cache) (backends.Backend, error) {
		be, err := newStatic(ctx, c)
		return backendstest.Bare(be), err
	}
	tg.Transports, tg.NoEvents, tg.NoCallbacks = nil, "a test's backend without them", "a test's backend without them"
	saved := Targets
	Targets = []Target{tg}
	t.Cleanup(func() { Targets = saved })
	for name, test := range map[string]func(*testing.T){
		"TestEventConformance": TestEventConformance, "TestPipeline": TestPipeline, "TestCallback": TestCallback,
		"TestEventTransports": TestEventTransports, "TestCapabilities": TestCapabilities, "TestClosed": TestClosed,
	} {
		t.Run(name, test)
	}
}
