package dlopen

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
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
	cases := []struct {
		name   string
		path   string
		is     error
		symbol string
		text   string
	}{
		{"missing file", filepath.Join(dir, "nope.so"), fs.ErrNotExist, "", "nope.so"},
		{"not a shared object", text, backends.ErrFormat, "", "not a shared object"},
		{"missing symbol", partial, backends.ErrMissingExport, "plugbench_new", "symbol plugbench_new: missing export"},
		{"abi version", build(t, "v2.so", "-DPLUGBENCH_ABI_OVERRIDE=2"), backends.ErrABIVersion, "", "plugin ABI version 2, host expects 1: "},
		{"wrong backend", build(t, "wasm.so", `-UPLUGBENCH_BACKEND`, `-DPLUGBENCH_BACKEND="wasm"`), backends.ErrIdentity, "", `built for backend "wasm"`},
	}
	ctx := context.Background()
	be := Backend()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := be.Load(ctx, c.path)
			if !errors.Is(err, c.is) {
				t.Fatalf("Load(%s) = %v, want %v", c.path, err, c.is)
			}
			var e *backends.Error
			if !errors.As(err, &e) || e.Backend != Name || e.Path != c.path || e.Symbol != c.symbol {
				t.Fatalf("error %#v: want backend %s, path %s, symbol %q", e, Name, c.path, c.symbol)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, Name+": ") || !strings.HasSuffix(msg, c.path) || !strings.Contains(msg, c.text) {
				t.Errorf("message %q: want %q…%q…%q", msg, Name+": ", c.text, c.path)
			}
			// A refused library is not left mapped.
			if mapped, _ := IsMapped(c.path); mapped {
				t.Errorf("%s still mapped after a failed load", c.path)
			}
		})
	}
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
