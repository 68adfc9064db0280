package goja

import (
	"io/fs"
	"path/filepath"
	"testing"

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

// variant is the guest with old replaced by new, as name.
func variant(t *testing.T, name, old, new string) string {
	t.Helper()
	return backendstest.Variant(t, guest(t), name, old, new)
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
		{Name: "syntax error", Path: variant(t, "syntax", "function abi_version()", "function abi_version("), Is: backends.ErrFormat, Text: "syntax.js"},
		{Name: "missing newInstance", Path: variant(t, "nonew", "function newInstance(emit)", "function oldInstance(emit)"), Is: backends.ErrMissingExport, Symbol: SymNew},
		{Name: "not a function", Path: variant(t, "notfunc", v1, "var abi_version = 1;\n"), Is: backends.ErrMissingExport, Symbol: SymABIVersion},
		{Name: "abi version", Path: variant(t, "v2", v1, "function abi_version() {\n  return 2;\n}\n"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1"},
		{Name: "not an int32", Path: variant(t, "half", v1, "function abi_version() {\n  return 1.5;\n}\n"), Is: backends.ErrIdentity, Symbol: SymABIVersion, Text: "1.5 is not an int32"},
		{Name: "wrong backend", Path: variant(t, "wasm", "backend=goja", "backend=wasm"), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "script throws", Path: variant(t, "throw", "const MAX_FIELDS = 64;", `const MAX_FIELDS = 64; throw new Error("no");`), Is: backends.ErrFormat, Text: "the script"},
		{Name: "no require", Path: variant(t, "require", "const MAX_FIELDS = 64;", `const MAX_FIELDS = 64; require("fs");`), Is: backends.ErrFormat, Text: "require"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestInstanceErrors: newInstance returning no object, or an object
// without a function, is an error of Instantiate naming what is missing.
func TestInstanceErrors(t *testing.T) {
	backendstest.CheckInstanceErrors(t, backendstest.New(t, New, Config{}), []backendstest.InstanceError{
		{Name: "no object", Path: variant(t, "x", "  let total = 0n;\n", "  let total = 0n;\n  return null;\n"), Want: "newInstance returned null"},
		{Name: "no min", Path: variant(t, "x", "    min(a, b) {", "    max(a, b) {"), Want: `no function "min"`},
	})
}

// TestFaults runs the fault variants the fault table loads: a loop at the
// top level is stopped at Load's deadline, a loop in a call at the
// instance's WithCallTimeout; an error of the guest or a property of null is
// an error of its call, and the instance goes on.
func TestFaults(t *testing.T) {
	backendstest.ScriptFaults(t, backendstest.New(t, New, Config{}), fixtures.WriteJSFault, map[string]string{"abort": "abort: the JavaScript guest gave up", "segv": "TypeError: Cannot read property 'field' of"})
}
