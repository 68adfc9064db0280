package starlark

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/fixtures"
)

// guest writes the Starlark guest into a test folder.
func guest(t testing.TB) string {
	t.Helper()
	p, err := fixtures.WriteStarlark(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// variant writes the guest with edit applied, as name.
func variant(t *testing.T, name string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(guest(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".star")
	if err := os.WriteFile(p, []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func replace(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q in the guest", old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{
		Backend: backendstest.New(t, New, Config{}),
		Guests:  map[string]string{"starlark": guest(t)},
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.star"), Is: fs.ErrNotExist, Text: "nope.star"},
		{Name: "a folder", Path: dir, Is: backends.ErrFormat, Text: "a directory"},
		{Name: "syntax error", Path: variant(t, "syntax", replace(t, "def abi_version():", "def abi_version(:")), Is: backends.ErrFormat, Text: "syntax.star:"},
		{Name: "undefined name", Path: variant(t, "undefined", replace(t, "return 1\n", "return one\n")), Is: backends.ErrFormat, Text: "undefined: one"},
		{Name: "missing new", Path: variant(t, "nonew", replace(t, "def new(emit):", "def old(emit):")), Is: backends.ErrMissingExport, Symbol: SymNew},
		{Name: "not a function", Path: variant(t, "notfunc", replace(t, "def abi_version():\n    return 1\n", "abi_version = 1\n")), Is: backends.ErrMissingExport, Symbol: SymABIVersion},
		{Name: "abi version", Path: variant(t, "v2", replace(t, "def abi_version():\n    return 1\n", "def abi_version():\n    return 2\n")), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1"},
		{Name: "wrong backend", Path: variant(t, "wasm", replace(t, "backend=starlark", "backend=wasm")), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "top-level error", Path: variant(t, "fail", replace(t, "_HALF = 1 << 63", `_HALF = fail("no")`)), Is: backends.ErrFormat, Text: "the top level: fail: no"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestInstanceErrors: new returning no dict, or a dict without a function,
// is an error of Instantiate naming what is missing.
func TestInstanceErrors(t *testing.T) {
	ctx := context.Background()
	be := backendstest.New(t, New, Config{})
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"no dict", "    return {\n        \"min\"", "    return None\n    {\n        \"min\"", "new returned a NoneType"},
		{"no min", `"min": smaller,`, "", `no function "min"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			mod, err := be.Load(ctx, variant(t, "x", replace(t, c.old, c.new)))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			p, err := mod.Instantiate(ctx)
			if !errors.Is(err, backends.ErrMissingExport) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Instantiate = %v, %v; want ErrMissingExport with %q", p, err, c.want)
			}
			if err := mod.Close(ctx); err != nil {
				t.Errorf("module Close after a failed Instantiate: %v", err)
			}
		})
	}
}

// TestFaults runs the fault variants the fault table loads: a loop at the
// top level is stopped at Load's deadline, a loop in a call at the
// instance's WithCallTimeout; an error of the guest or an attribute of
// None is an error of its call, and the instance goes on.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	be := backendstest.New(t, New, Config{})
	fault := func(t *testing.T, name string) string {
		p, err := fixtures.WriteStarlarkFault(t.TempDir(), name)
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
		_, err := be.Load(lctx, fault(t, "startloop"))
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load = %v, want DeadlineExceeded", err)
		}
		backendstest.Ended(t, "Load", took, d)
	})
	t.Run("loop", func(t *testing.T) {
		const d = 100 * time.Millisecond
		p := backendstest.Open(t, be, fault(t, "loop"), backends.WithCallTimeout(d))
		start := time.Now()
		_, err := p.Min(1, 2)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Min = %v, want DeadlineExceeded", err)
		}
		backendstest.Ended(t, "Min", took, d)
		if _, err := p.Accumulate(1); !errors.Is(err, backends.ErrClosed) {
			t.Errorf("a call after the timeout: %v, want ErrClosed", err)
		}
	})
	for _, c := range []struct{ fault, want string }{
		{"abort", "abort: the Starlark guest gave up"},
		{"segv", "NoneType has no .field field or method"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			p := backendstest.Open(t, be, fault(t, c.fault))
			if _, err := p.Min(1, 2); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Min = %v, want an error with %q", err, c.want)
			}
			if r, err := p.Accumulate(3); r != 3 || err != nil {
				t.Errorf("Accumulate after the failed call: %d, %v", r, err)
			}
		})
	}
}
