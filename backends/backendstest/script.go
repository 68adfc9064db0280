package backendstest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
)

// What the scripting backends (starlark, lua, goja) share in their tests:
// a guest is a source file, so its variants are edits of it; its faults are
// the fault table's variants; and its min is compared with the engine's
// bare call of it.

// Variant writes the source at path with old replaced by new, once, into
// a test folder as name (keeping path's extension), and returns its path.
// A source without old fails the test.
func Variant(t testing.TB, path, name, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s: no %q in the guest", path, old)
	}
	p := filepath.Join(t.TempDir(), name+filepath.Ext(path))
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An InstanceError is a guest whose Instantiate must fail with
// backends.ErrMissingExport and an error containing Want.
type InstanceError struct {
	Name, Path, Want string
}

// CheckInstanceErrors checks each case: its module loads, Instantiate
// fails as the case says, and the module then closes cleanly.
func CheckInstanceErrors(t *testing.T, be backends.Backend, cases []InstanceError) {
	t.Helper()
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			mod, err := be.Load(ctx, c.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			p, err := mod.Instantiate(ctx)
			if !errors.Is(err, backends.ErrMissingExport) || !strings.Contains(err.Error(), c.Want) {
				t.Errorf("Instantiate = %v, %v; want ErrMissingExport with %q", p, err, c.Want)
			}
			if err := mod.Close(ctx); err != nil {
				t.Errorf("module Close after a failed Instantiate: %v", err)
			}
		})
	}
}

// ScriptFaults runs the fault table's variants of a scripted guest
// (write makes the one named fault in a folder) through be, all but the
// bomb, which would take the test process: a top level that never returns
// stops at Load's deadline; a loop in min stops at the instance's
// WithCallTimeout, which closes the instance; segv and abort are errors
// of the call containing want[fault], and the instance answers after them.
func ScriptFaults(t *testing.T, be backends.Backend, write func(dir, fault string) (string, error), want map[string]string) {
	t.Helper()
	ctx := context.Background()
	variant := func(t *testing.T, fault string) string {
		p, err := write(t.TempDir(), fault)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("startloop", func(t *testing.T) {
		const d = 200 * time.Millisecond
		lctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		start := time.Now()
		_, err := be.Load(lctx, variant(t, "startloop"))
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load = %v, want DeadlineExceeded", err)
		}
		Ended(t, "Load", took, d)
	})
	t.Run("loop", func(t *testing.T) {
		const d = 100 * time.Millisecond
		p := Open(t, be, variant(t, "loop"), backends.WithCallTimeout(d))
		start := time.Now()
		_, err := p.Min(1, 2)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Min = %v, want DeadlineExceeded", err)
		}
		Ended(t, "Min", took, d)
		if _, err := p.Accumulate(1); !errors.Is(err, backends.ErrClosed) {
			t.Errorf("a call after the timeout: %v, want ErrClosed", err)
		}
	})
	for _, fault := range []string{"abort", "segv"} {
		t.Run(fault, func(t *testing.T) {
			p := Open(t, be, variant(t, fault))
			if _, err := p.Min(1, 2); err == nil || !strings.Contains(err.Error(), want[fault]) {
				t.Errorf("Min = %v, want an error with %q", err, want[fault])
			}
			if r, err := p.Accumulate(3); r != 3 || err != nil {
				t.Errorf("Accumulate after the failed call: %d, %v", r, err)
			}
		})
	}
}

// refModule is a module with the suite's reference rows (BenchmarkRef):
// the method is on the backends' unexported module types.
type refModule interface {
	RefMin(ctx context.Context, impl string) (min func(a, b int32) (int32, error), closeFn func(), err error)
}

// MinCall returns the guest's min at path through be (impl "backend"), or
// the engine's bare call of it (impl "bare"): the module's reference row
// ref, with nothing of the backend around it.
func MinCall(tb testing.TB, be backends.Backend, path, ref, impl string) func(a, b int32) (int32, error) {
	tb.Helper()
	if impl == "backend" {
		return Open(tb, be, path).Min
	}
	ctx := context.Background()
	mod, err := be.Load(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	r, ok := mod.(refModule)
	if !ok {
		tb.Fatalf("a %s module (%T) has no RefMin", be.Name(), mod)
	}
	call, closeFn, err := r.RefMin(ctx, ref)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeFn)
	return call
}

// MinImpls are MinCall's impls, in the order BenchmarkMin runs them.
var MinImpls = []string{"backend", "bare"}

var sinkI32 int32

// BenchmarkMin measures the guest's min through the backend and bare
// (MinCall), in one run: what the backend adds to its engine's call.
func BenchmarkMin(b *testing.B, be backends.Backend, path, ref string) {
	for _, impl := range MinImpls {
		b.Run("impl="+impl, func(b *testing.B) {
			call := MinCall(b, be, path, ref, impl)
			b.ReportAllocs()
			var r int32
			for b.Loop() {
				r, _ = call(5, -9)
			}
			sinkI32 = r
		})
	}
}

// TestMin is BenchmarkMin's twin: both calls answer as static does.
func TestMin(t *testing.T, be backends.Backend, path, ref string) {
	for _, impl := range MinImpls {
		if r, err := MinCall(t, be, path, ref, impl)(5, -9); r != -9 || err != nil {
			t.Errorf("%s: min(5, -9) = %d, %v", impl, r, err)
		}
	}
}
