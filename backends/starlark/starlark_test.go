package starlark

import (
	"io/fs"
	"path/filepath"
	"testing"

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

// variant is the guest with old replaced by new, as name.
func variant(t *testing.T, name, old, new string) string {
	t.Helper()
	return backendstest.Variant(t, guest(t), name, old, new)
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
		{Name: "syntax error", Path: variant(t, "syntax", "def abi_version():", "def abi_version(:"), Is: backends.ErrFormat, Text: "syntax.star:"},
		{Name: "undefined name", Path: variant(t, "undefined", "return 1\n", "return one\n"), Is: backends.ErrFormat, Text: "undefined: one"},
		{Name: "missing new", Path: variant(t, "nonew", "def new(emit):", "def old(emit):"), Is: backends.ErrMissingExport, Symbol: SymNew},
		{Name: "not a function", Path: variant(t, "notfunc", "def abi_version():\n    return 1\n", "abi_version = 1\n"), Is: backends.ErrMissingExport, Symbol: SymABIVersion},
		{Name: "abi version", Path: variant(t, "v2", "def abi_version():\n    return 1\n", "def abi_version():\n    return 2\n"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1"},
		{Name: "wrong backend", Path: variant(t, "wasm", "backend=starlark", "backend=wasm"), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "top-level error", Path: variant(t, "fail", "_HALF = 1 << 63", `_HALF = fail("no")`), Is: backends.ErrFormat, Text: "the top level: fail: no"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestInstanceErrors: new returning no dict, or a dict without a function,
// is an error of Instantiate naming what is missing.
func TestInstanceErrors(t *testing.T) {
	backendstest.CheckInstanceErrors(t, backendstest.New(t, New, Config{}), []backendstest.InstanceError{
		{Name: "no dict", Path: variant(t, "x", "    return {\n        \"min\"", "    return None\n    {\n        \"min\""), Want: "new returned a NoneType"},
		{Name: "no min", Path: variant(t, "x", `"min": smaller,`, ""), Want: `no function "min"`},
	})
}

// TestFaults runs the fault variants the fault table loads: a loop at the
// top level is stopped at Load's deadline, a loop in a call at the
// instance's WithCallTimeout; an error of the guest or an attribute of
// None is an error of its call, and the instance goes on.
func TestFaults(t *testing.T) {
	backendstest.ScriptFaults(t, backendstest.New(t, New, Config{}), fixtures.WriteStarlarkFault, map[string]string{"abort": "abort: the Starlark guest gave up", "segv": "NoneType has no .field field or method"})
}
