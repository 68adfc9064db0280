package goja

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

// guest writes the Lua guest into a test folder.
func guest(t testing.TB) string {
	t.Helper()
	p, err := fixtures.WriteJS(t.TempDir())
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
	p := filepath.Join(t.TempDir(), name+".js")
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
		Guests:  map[string]string{"js": guest(t)},
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	v1 := "function abi_version() {\n  return 1;\n}\n"
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.js"), Is: fs.ErrNotExist, Text: "nope.js"},
		{Name: "a folder", Path: dir, Is: backends.ErrFormat, Text: "a directory"},
		{Name: "syntax error", Path: variant(t, "syntax", replace(t, "function abi_version()", "function abi_version(")), Is: backends.ErrFormat, Text: "syntax.js"},
		{Name: "missing newInstance", Path: variant(t, "nonew", replace(t, "function newInstance(emit)", "function oldInstance(emit)")), Is: backends.ErrMissingExport, Symbol: SymNew},
		{Name: "not a function", Path: variant(t, "notfunc", replace(t, v1, "var abi_version = 1;\n")), Is: backends.ErrMissingExport, Symbol: SymABIVersion},
		{Name: "abi version", Path: variant(t, "v2", replace(t, v1, "function abi_version() {\n  return 2;\n}\n")), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1"},
		{Name: "not an int32", Path: variant(t, "half", replace(t, v1, "function abi_version() {\n  return 1.5;\n}\n")), Is: backends.ErrIdentity, Symbol: SymABIVersion, Text: "1.5 is not an int32"},
		{Name: "wrong backend", Path: variant(t, "wasm", replace(t, "backend=goja", "backend=wasm")), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "script throws", Path: variant(t, "throw", replace(t, "const MAX_FIELDS = 64;", `const MAX_FIELDS = 64; throw new Error("no");`)), Is: backends.ErrFormat, Text: "the script"},
		{Name: "no require", Path: variant(t, "require", replace(t, "const MAX_FIELDS = 64;", `const MAX_FIELDS = 64; require("fs");`)), Is: backends.ErrFormat, Text: "require"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestInstanceErrors: newInstance returning no object, or an object
// without a function, is an error of Instantiate naming what is missing.
func TestInstanceErrors(t *testing.T) {
	ctx := context.Background()
	be := backendstest.New(t, New, Config{})
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"no object", "  let total = 0n;\n", "  let total = 0n;\n  return null;\n", "newInstance returned null"},
		{"no min", "    min(a, b) {", "    max(a, b) {", `no function "min"`},
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
// instance's WithCallTimeout; an error of the guest or a property of null is
// an error of its call, and the instance goes on.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	be := backendstest.New(t, New, Config{})
	fault := func(t *testing.T, name string) string {
		p, err := fixtures.WriteJSFault(t.TempDir(), name)
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
		{"abort", "abort: the JavaScript guest gave up"},
		{"segv", "TypeError: Cannot read property 'field' of"},
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
