package extism

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"
)

// plainWasm is the raw wasm backend's C guest: the same code, without the
// Extism layer.
const plainWasm = "../../fixtures/c/plugbench.wasm"

func guest(t testing.TB) string {
	t.Helper()
	p, err := fixtures.WriteExtismWasm(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newBackend(t testing.TB, cfg Config) backends.Backend {
	t.Helper()
	be, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close(context.Background()) })
	return be
}

func load(t testing.TB, be backends.Backend, path string) backends.Module {
	t.Helper()
	mod, err := be.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	return mod
}

func instantiate(t testing.TB, mod backends.Module, opts ...backends.Option) *Plugin {
	t.Helper()
	p, err := mod.Instantiate(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p.(*Plugin)
}

// buildGuest builds fixtures/c/extism.c with extra flags, for plugins that
// are wrong on purpose; it skips without clang.
func buildGuest(t *testing.T, out string, extra ...string) {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("no clang: ", err)
	}
	args := []string{"--target=wasm32", "-O2", "-nostdlib", "-ffreestanding", "-fvisibility=hidden",
		"-Wl,--no-entry", "-Wl,--export-dynamic", "-Wl,--strip-debug", "-Wl,-z,stack-size=16384", "-Wl,--initial-memory=65536"}
	args = append(append(args, extra...), "-o", out, "../../fixtures/c/extism.c")
	if b, err := exec.Command("clang", args...).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.wasm"), Is: fs.ErrNotExist, Text: "nope.wasm"},
		{Name: "not wasm", Path: write("text.wasm", []byte("hello, not wasm")), Is: backends.ErrFormat, Text: "not a wasm module"},
		{Name: "bad wasm", Path: write("bad.wasm", []byte("\x00asm\x01\x00\x00\x00\x01\xff")), Is: backends.ErrFormat, Text: "compile"},
		// The raw wasm guest exports plugbench_*, no Extism function: its
		// exports are checked before anything runs.
		{Name: "plain wasm guest", Path: plainWasm, Is: backends.ErrMissingExport, Symbol: fnVersion, Text: "symbol abi_version: missing export"},
	}
	if _, err := exec.LookPath("clang"); err == nil {
		v2, other := filepath.Join(dir, "v2.wasm"), filepath.Join(dir, "other.wasm")
		buildGuest(t, v2, `-DPLUGBENCH_BACKEND="extism"`, "-DPLUGBENCH_ABI_OVERRIDE=2")
		buildGuest(t, other, `-DPLUGBENCH_BACKEND="wasm"`)
		cases = append(cases,
			backendstest.LoadError{Name: "abi version", Path: v2, Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
			backendstest.LoadError{Name: "wrong backend", Path: other, Is: backends.ErrIdentity, Text: `built for backend "wasm"`})
	} else {
		t.Log("no clang: the ABI version and identity cases are skipped")
	}
	for _, interruptible := range []bool{false, true} {
		be := newBackend(t, Config{Interruptible: interruptible})
		t.Run("backend="+be.Name(), func(t *testing.T) {
			backendstest.CheckLoadErrors(t, be, cases, nil)
		})
	}
}

// TestBackend checks the contract with backendstest's kit, on both of
// the backend's configurations.
func TestBackend(t *testing.T) {
	for _, interruptible := range []bool{false, true} {
		be := newBackend(t, Config{Interruptible: interruptible})
		t.Run("backend="+be.Name(), func(t *testing.T) {
			backendstest.TestBackend(t, backendstest.Kit{
				Backend:    be,
				Guests:     map[string]string{"c": guest(t)},
				BuiltFor:   BuiltFor,
				Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
			})
		})
	}
}

// TestToolchain checks the guest's toolchain, and that it is the healthy
// build.
func TestToolchain(t *testing.T) {
	mod := load(t, newBackend(t, Config{}), guest(t))
	id := mod.Identity()
	if !strings.HasPrefix(id.Toolchain, "clang-") || strings.Contains(id.Raw, "fault") {
		t.Errorf("identity %+v", id)
	}
}

// TestMalformed: the guest says an input is malformed, and the instance
// is fine after it.
func TestMalformed(t *testing.T) {
	p := instantiate(t, load(t, newBackend(t, Config{}), guest(t)))
	c, _ := p.Events(event.JSON)
	cc := c.(*conn)
	cc.enc, cc.encoded = []byte(`{"id":1,`), true
	if _, err := c.Call(); !errors.Is(err, event.ErrMalformed) {
		t.Errorf("malformed JSON: %v, want ErrMalformed", err)
	}
	if got, err := p.Min(4, 2); err != nil || got != 2 {
		t.Errorf("Min after a malformed event: %d, %v", got, err)
	}
}

func TestRefMin(t *testing.T) {
	call, closeFn, err := refMin(context.Background(), guest(t))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if got, err := call(5, -9); err != nil || got != -9 {
		t.Errorf("refMin(5, -9) = %d, %v", got, err)
	}
}

// TestAllocs reports what a call allocates: Extism's CallWithContext makes
// contexts, a result slice per wazero call, a wazero call engine per
// ExportedFunction lookup (the SDK looks up reset, alloc, input_set,
// error_get, output_offset, output_length and each kernel function the
// guest calls through, at every call), and a copy of the output.
func TestAllocs(t *testing.T) {
	mod := load(t, newBackend(t, Config{}), guest(t))
	p := instantiate(t, mod, backends.WithEmit(func(v int64) int64 { return v }))
	ev, _ := event.Shape("typical")
	conns := map[event.Transport]backends.EventConn{}
	for _, tr := range p.Transports() {
		conns[tr], _ = p.Events(tr)
	}
	var out event.Event
	kib := make([]byte, 1024)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"min", func() { p.Min(1, 2) }},
		{"accumulate", func() { p.Accumulate(1) }},
		{"sum-1KiB", func() { p.Sum(kib) }},
		{"upper-1KiB", func() { p.Upper(kib) }},
		{"callback-1", func() { p.Callback(1) }},
		{"callback-16", func() { p.Callback(16) }},
		{"event-json", func() { backends.Process(conns[event.JSON], ev, &out) }},
		{"event-binary", func() { backends.Process(conns[event.Binary], ev, &out) }},
		{"event-flat", func() { backends.Process(conns[event.Flat], ev, &out) }},
	} {
		n := testing.AllocsPerRun(200, c.f)
		t.Logf("%-13s %5.0f allocs/call", c.name, n)
		if n == 0 {
			t.Errorf("%s: no allocation: the SDK changed, update the package doc", c.name)
		}
	}
}

// TestFaults runs each fault fixture: traps are errors of the call that hit
// them, the instance lives on; a loop is stopped at its deadline on the
// bounded backend and refused on the other; a memory bomb gets
// ErrMemoryLimit; a start that never returns fails Load at its context's
// end (the unbounded backend's abandoned one in a child process).
func TestFaults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := func(fault string) string {
		p, err := fixtures.WriteExtismWasmFault(dir, fault)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bounded := newBackend(t, Config{Interruptible: true, MemoryLimit: 64 << 20})
	free := newBackend(t, Config{MemoryLimit: 64 << 20})
	for _, fault := range []string{"segv", "abort"} {
		t.Run(fault, func(t *testing.T) {
			mod := load(t, free, path(fault))
			if !strings.HasSuffix(mod.Identity().Raw, "fault="+fault) {
				t.Errorf("identity %q", mod.Identity().Raw)
			}
			p := instantiate(t, mod)
			want := map[string]string{"segv": "out of bounds memory access", "abort": "unreachable"}[fault]
			if _, err := p.Min(1, 2); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "symbol min") {
				t.Errorf("Min: %v, want a %q trap", err, want)
			}
			if got, err := p.Accumulate(5); err != nil || got != 5 {
				t.Errorf("Accumulate after the trap: %d, %v", got, err)
			}
		})
	}
	t.Run("bomb", func(t *testing.T) {
		for _, be := range []backends.Backend{free, bounded} {
			p := instantiate(t, load(t, be, path("bomb")))
			if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrMemoryLimit) {
				t.Errorf("%s: Min: %v, want ErrMemoryLimit", be.Name(), err)
			}
			if got, err := p.Accumulate(5); err != nil || got != 5 {
				t.Errorf("%s: Accumulate after the bomb: %d, %v", be.Name(), got, err)
			}
		}
	})
	t.Run("loop", func(t *testing.T) {
		if _, err := load(t, free, path("loop")).Instantiate(ctx, backends.WithCallTimeout(time.Second)); !errors.Is(err, backends.ErrNoInterrupt) {
			t.Errorf("%s: WithCallTimeout: %v, want ErrNoInterrupt", Name, err)
		}
		mod := load(t, bounded, path("loop"))
		// A healthy call answers under a timeout, one that no busy machine
		// makes it miss.
		if got, err := instantiate(t, mod, backends.WithCallTimeout(backendstest.StuckAfter)).Accumulate(5); err != nil || got != 5 {
			t.Errorf("Accumulate with a timeout: %d, %v", got, err)
		}
		const d = 50 * time.Millisecond
		p := instantiate(t, mod, backends.WithCallTimeout(d))
		start := time.Now()
		_, err := p.Min(1, 2)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Min: %v after %v, want DeadlineExceeded", err, took)
		}
		backendstest.Ended(t, "the loop", took, d)
		t.Logf("loop stopped: %v", err)
		if _, err := p.Accumulate(1); !errors.Is(err, backends.ErrClosed) {
			t.Errorf("Accumulate after the deadline: %v, want ErrClosed", err)
		}
	})
	t.Run("startloop", func(t *testing.T) {
		const d = 100 * time.Millisecond
		lctx, cancel := context.WithTimeout(ctx, d)
		start := time.Now()
		_, err := bounded.Load(lctx, path("startloop"))
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backends.ErrNoInterrupt) {
			t.Errorf("%s: Load: %v after %v, want DeadlineExceeded (not ErrNoInterrupt)", NameBounded, err, took)
		}
		backendstest.Ended(t, NameBounded+": Load", took, d)
		t.Logf("%s: %v", NameBounded, err)
		// The unbounded backend abandons the start function, which spins
		// on in wazero's compiled code, where the Go scheduler cannot
		// preempt it: the next garbage collection would wait for it
		// forever. So it runs in a child process.
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartloop$", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"="+path("startloop"))
		cmd.WaitDelay = time.Second
		// The child fails on its own a Load backendstest.StuckAfter past
		// its deadline; this ends one that does not even get there.
		timer := time.AfterFunc(2*backendstest.StuckAfter, func() { cmd.Process.Kill() })
		out, err := cmd.CombinedOutput()
		timer.Stop()
		if err != nil {
			t.Errorf("%s: startloop in a child process: %v\n%s", Name, err, out)
		} else {
			t.Logf("%s: child process: %s", Name, bytes.TrimSpace(out))
		}
	})
}

// helperEnv names the startloop fixture TestHelperStartloop loads.
const helperEnv = "PLUGBENCH_EXTISM_HELPER_STARTLOOP"

// TestHelperStartloop is not a test: TestFaults runs it in a child process,
// whose abandoned start function spins on. It ends the process itself, with
// syscall.Exit, before a garbage collection can wait for the spinning
// goroutine.
func TestHelperStartloop(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("run by TestFaults in a child process")
	}
	// No collection at all: one started while the start function spins
	// would wait for it for ever, before this could exit.
	debug.SetGCPercent(-1)
	be, err := New(context.Background(), Config{})
	if err != nil {
		fmt.Println(err)
		syscall.Exit(2)
	}
	const d = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	start := time.Now()
	_, err = be.Load(ctx, path)
	took := time.Since(start)
	cancel()
	code := 0
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, backends.ErrNoInterrupt) || backendstest.Stuck(took, d) {
		code = 1
	}
	fmt.Printf("Load: %v after %v (%v past the deadline)\n", err, took, took-d)
	syscall.Exit(code)
}
