// Package cabitest holds the tests that the two backends of the C ABI
// (dlopen and cgo) share: they load the same C fixture and must refuse the
// same broken libraries alike.
package cabitest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/fixtures"
)

// Build builds the C fixture with extra compiler flags, skipping without a
// C compiler.
func Build(t testing.TB, name string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	if err := fixtures.BuildSO(context.Background(), out, extra...); err != nil {
		if errors.Is(err, fixtures.ErrNoCompiler) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return out
}

// onlyIdentity is a library with the identity exports and nothing else.
const onlyIdentity = `
__attribute__((visibility("default"))) int plugbench_abi_version(void) { return 1; }
__attribute__((visibility("default"))) const char *plugbench_identity(void) { return "lang=c backend=dlopen toolchain=test"; }
`

// LoadErrors checks that be refuses a missing file, a file that is no
// shared object, a library missing an export, one of another ABI version
// and one built for another backend, each with its error, and leaves none
// of them mapped (isMapped).
func LoadErrors(t *testing.T, be backends.Backend, isMapped func(path string) (bool, error)) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "partial.so")
	src := filepath.Join(dir, "partial.c")
	os.WriteFile(src, []byte(onlyIdentity), 0o644)
	cc, err := fixtures.CC(context.Background())
	if err != nil {
		t.Skip(err)
	}
	if out, err := exec.Command(cc[0], append(cc[1:], "-shared", "-fPIC", "-fvisibility=hidden", "-o", partial, src)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.so"), Is: fs.ErrNotExist, Text: "nope.so"},
		{Name: "not a shared object", Path: text, Is: backends.ErrFormat, Text: "not a shared object"},
		{Name: "missing symbol", Path: partial, Is: backends.ErrMissingExport, Symbol: "plugbench_new", Text: "symbol plugbench_new: missing export"},
		{Name: "abi version", Path: Build(t, "v2.so", "-DPLUGBENCH_ABI_OVERRIDE=2"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: Build(t, "wasm.so", `-UPLUGBENCH_BACKEND`, `-DPLUGBENCH_BACKEND="wasm"`), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
	}
	backendstest.CheckLoadErrors(t, be, cases, func(t *testing.T, c backendstest.LoadError) {
		// A refused library is not left mapped.
		if mapped, _ := isMapped(c.Path); mapped {
			t.Errorf("%s still mapped after a failed load", c.Path)
		}
	})
}

// CloseUnmaps checks that be's module refuses to close with an instance
// open, closes once it has none (a second Close does nothing, an
// Instantiate fails), and that the library is mapped (isMapped) from Load
// to Close and no longer.
func CloseUnmaps(t *testing.T, be backends.Backend, isMapped func(path string) (bool, error)) {
	so := Build(t, "ok.so")
	ctx := context.Background()
	mod, err := be.Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := isMapped(so); err != nil || !m {
		t.Fatalf("not mapped after load: %v", err)
	}
	p, err := mod.Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := mod.Close(ctx); err == nil {
		t.Fatal("closed with an instance open")
	}
	p.Close(ctx)
	if err := mod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mod.Close(ctx); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	if m, _ := isMapped(so); m {
		t.Fatal("still mapped after close")
	}
	if _, err := mod.Instantiate(ctx); err == nil {
		t.Fatal("instantiate after close succeeded")
	}
}
