package knqyf263

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/fixtures"
	"github.com/tetratelabs/wazero"
)

// The guests, built once per test binary by TestMain into dir.
var (
	dir        string
	healthy    string            // fixtures.BuildKnq's
	faults     map[string]string // fault name → guest
	v2         string            // ABI version 2
	wrong      string            // identity naming the backend wasm
	buildError error
)

func TestMain(m *testing.M) {
	var err error
	if dir, err = os.MkdirTemp("", "plugbench-knqyf263-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildError = buildAll(context.Background())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testFaults are the fault variants the tests run in their own process:
// the others (loop, startloop) leave a guest spinning in compiled code
// that Go's garbage collector would wait for, for ever; the fault table
// runs them in processes of their own.
var testFaults = []string{"segv", "bomb"}

// buildAll builds every guest at once.
func buildAll(ctx context.Context) error {
	healthy = filepath.Join(dir, fixtures.KnqName)
	v2, wrong = filepath.Join(dir, "v2.wasm"), filepath.Join(dir, "wrong.wasm")
	faults = map[string]string{}
	builds := []func() error{
		func() error { return fixtures.BuildKnq(ctx, healthy) },
		func() error { return fixtures.BuildKnqWith(ctx, v2, "-X main.abi=2") },
		func() error { return fixtures.BuildKnqWith(ctx, wrong, "-X main.backend=wasm") },
	}
	for _, f := range testFaults {
		out := filepath.Join(dir, fixtures.KnqFaultName(f))
		faults[f] = out
		builds = append(builds, func() error { return fixtures.BuildKnqFault(ctx, out, f) })
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() { errs[i] = b() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func built(t testing.TB) {
	t.Helper()
	if buildError != nil {
		t.Fatal(buildError)
	}
}

func TestBackend(t *testing.T) {
	built(t)
	backendstest.TestBackend(t, backendstest.Kit{
		Backend: backendstest.New(t, New, Config{}),
		Guests:  map[string]string{"go": healthy},
	})
}

func TestLoadErrors(t *testing.T) {
	built(t)
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cWasm, err := fixtures.WriteWasmFault(tmp, "segv") // the C guest: another ABI
	if err != nil {
		t.Fatal(err)
	}
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(tmp, "nope.wasm"), Is: fs.ErrNotExist, Text: "nope.wasm"},
		{Name: "a folder", Path: tmp, Is: backends.ErrFormat, Text: "a directory"},
		{Name: "not wasm", Path: write("text.wasm", []byte("not a module")), Is: backends.ErrFormat, Text: "magic"},
		{Name: "empty", Path: write("empty.wasm", nil), Is: backends.ErrFormat},
		{Name: "the C ABI", Path: cWasm, Is: backends.ErrMissingExport, Symbol: SymAPIVersion},
		{Name: "abi version", Path: v2, Is: backends.ErrABIVersion, Symbol: SymIdentity, Text: "plugin ABI version 2, host expects 1"},
		{Name: "wrong backend", Path: wrong, Is: backends.ErrIdentity, Symbol: SymIdentity, Text: `built for backend "wasm"`},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestFileChanged: an instance reads the file again (the generated Load
// takes a path), and refuses another guest than the one Load checked.
func TestFileChanged(t *testing.T) {
	built(t)
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "guest.wasm")
	copyFile(t, healthy, p)
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	copyFile(t, faults["segv"], p)
	if inst, err := mod.Instantiate(ctx); !errors.Is(err, backends.ErrIdentity) || !strings.Contains(err.Error(), "the file changed") {
		t.Fatalf("Instantiate of a changed file = %v, %v; want ErrIdentity", inst, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoInterrupt: the framework's runtime cannot stop a guest mid-call,
// so a call timeout is refused rather than promised.
func TestNoInterrupt(t *testing.T) {
	built(t)
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, healthy)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if p, err := mod.Instantiate(ctx, backends.WithCallTimeout(1)); !errors.Is(err, backends.ErrNoInterrupt) {
		t.Fatalf("Instantiate(WithCallTimeout) = %v, %v; want ErrNoInterrupt", p, err)
	}
}

// TestFaults runs the fault variants that end their call: a Go guest
// that panics (segv: a nil pointer) aborts its runtime with a trap, the
// call is an error and the instance is closed, and a new one works; a
// guest that eats memory meets the backend's limit.
func TestFaults(t *testing.T) {
	built(t)
	ctx := context.Background()
	t.Run("segv", func(t *testing.T) {
		be := backendstest.New(t, New, Config{})
		p := backendstest.Open(t, be, faults["segv"])
		if _, err := p.Min(1, 2); err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "runtime.sigpanic") || !strings.Contains(err.Error(), SymMin) {
			t.Errorf("Min = %v, want the guest's trap (a nil pointer's panic) naming %s", err, SymMin)
		}
		if _, err := p.Accumulate(3); !errors.Is(err, backends.ErrClosed) {
			t.Errorf("a call after the exit: %v, want ErrClosed", err)
		}
		q := backendstest.Open(t, be, faults["segv"])
		if r, err := q.Accumulate(3); r != 3 || err != nil {
			t.Errorf("a new instance: Accumulate(3) = %d, %v", r, err)
		}
	})
	t.Run("bomb", func(t *testing.T) {
		be := backendstest.New(t, New, Config{MemoryLimit: 64 << 20})
		p := backendstest.Open(t, be, faults["bomb"])
		if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrMemoryLimit) {
			t.Errorf("Min = %v, want ErrMemoryLimit", err)
		}
	})
	if _, err := New(ctx, Config{MemoryLimit: 1 << 10}); err == nil {
		t.Error("New with a 1 KiB memory limit: no error")
	}
}

// TestLoadContext: a Load whose context ends during the compile returns
// at once with the context's error, and the compile it abandoned runs to
// its end without touching what Load released: a second load of the same
// file, which compiles as long, finishes after it, and the process lives.
func TestLoadContext(t *testing.T) {
	built(t)
	be := backendstest.New(t, New, Config{})
	// Far less than the compile's second, far more than reading the file.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if mod, err := be.Load(ctx, healthy); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			mod.Close(context.Background())
		}
		t.Fatalf("Load past its deadline = %v, want DeadlineExceeded", err)
	}
	mod, err := be.Load(context.Background(), healthy)
	if err != nil {
		t.Fatal(err)
	}
	if err := mod.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestHostFunctionLeak holds RATIONALE.md's word on knqyf263/go-plugin
// v0.9.0 ("What a careful knqyf263 host should know"): the generated code
// writes each host function's reply into memory the guest's malloc gives,
// and nothing frees it, so a guest that calls its host grows with every
// call whose reply is not empty. The guest's memory is deterministic (one
// thread, the same calls), not timed. When an upgrade fixes it, this test
// fails: say so there, and drop it.
func TestHostFunctionLeak(t *testing.T) {
	built(t)
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, healthy)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	grown := func(emit func(int64) int64) uint64 {
		pl, err := mod.Instantiate(ctx, backends.WithEmit(emit))
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close(ctx)
		p := pl.(*Plugin)
		p.Callback(1000)
		before := p.gm.Size()
		for range 200 {
			if _, err := p.Callback(1000); err != nil {
				t.Fatal(err)
			}
		}
		return p.gm.Size() - before
	}
	empty := grown(func(int64) int64 { return 0 }) // a reply of zero bytes: nothing allocated
	full := grown(func(v int64) int64 { return v + 1 })
	t.Logf("the guest's memory grew %d MiB over 200 000 callbacks with replies, %d MiB without", full>>20, empty>>20)
	if full < empty+8<<20 {
		t.Errorf("over 200 000 callbacks the guest grew %d MiB with replies, %d MiB without: the replies no longer leak?", full>>20, empty>>20)
	}
}

// TestCacheDir: with Config.CacheDir, the first load of a module fills the
// directory and a load by another backend (another process, as far as the
// cache is concerned) answers from it; each module's cache is still its
// own, closed with it. A shared Cache and a CacheDir together are refused.
func TestCacheDir(t *testing.T) {
	built(t)
	ctx := context.Background()
	cacheDir := t.TempDir()
	for i := range 2 {
		be, err := New(ctx, Config{CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		mod, err := be.Load(ctx, healthy)
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		p, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatalf("instantiate %d: %v", i, err)
		}
		if r, err := p.Min(3, -4); err != nil || r != -4 {
			t.Fatalf("load %d: min(3, -4) = %d, %v", i, r, err)
		}
		if err := errors.Join(p.Close(ctx), mod.Close(ctx), be.Close(ctx)); err != nil {
			t.Fatal(err)
		}
		var files int
		filepath.WalkDir(cacheDir, func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				files++
			}
			return nil
		})
		if files == 0 {
			t.Fatalf("after load %d: nothing in %s", i, cacheDir)
		}
	}
	if _, err := New(ctx, Config{CacheDir: cacheDir, Cache: wazero.NewCompilationCache()}); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("Cache and CacheDir: %v, want an error naming both", err)
	}
	if _, err := New(ctx, Config{CacheDir: "/proc/version/nope"}); err != nil {
		t.Fatalf("New does not touch the directory: %v", err)
	}
	be, _ := New(ctx, Config{CacheDir: "/proc/version/nope"})
	if _, err := be.Load(ctx, healthy); err == nil || !strings.Contains(err.Error(), "cache directory") {
		t.Errorf("a cache directory that cannot be: %v, want an error naming it", err)
	}
}
