package dlopen

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

// build builds the C fixture with extra compiler flags, skipping without a
// C compiler.
func build(t *testing.T, name string, extra ...string) string {
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

func TestLoadErrors(t *testing.T) {
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
		{Name: "abi version", Path: build(t, "v2.so", "-DPLUGBENCH_ABI_OVERRIDE=2"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: build(t, "wasm.so", `-UPLUGBENCH_BACKEND`, `-DPLUGBENCH_BACKEND="wasm"`), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
	}
	backendstest.CheckLoadErrors(t, Backend(), cases, func(t *testing.T, c backendstest.LoadError) {
		// A refused library is not left mapped.
		if mapped, _ := IsMapped(c.Path); mapped {
			t.Errorf("%s still mapped after a failed load", c.Path)
		}
	})
}

func TestCloseUnmaps(t *testing.T) {
	so := build(t, "ok.so")
	ctx := context.Background()
	mod, err := Backend().Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := IsMapped(so); err != nil || !m {
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
	if m, _ := IsMapped(so); m {
		t.Fatal("still mapped after close")
	}
}
