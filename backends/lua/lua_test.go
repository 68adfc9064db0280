package lua

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
	p, err := fixtures.WriteLua(t.TempDir())
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
		Guests:  map[string]string{"lua": guest(t)},
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.lua"), Is: fs.ErrNotExist, Text: "nope.lua"},
		{Name: "a folder", Path: dir, Is: backends.ErrFormat, Text: "a directory"},
		{Name: "syntax error", Path: variant(t, "syntax", "function abi_version()", "function abi_version("), Is: backends.ErrFormat, Text: "syntax.lua"},
		{Name: "missing new", Path: variant(t, "nonew", "function new(emit)", "function old(emit)"), Is: backends.ErrMissingExport, Symbol: SymNew},
		{Name: "not a function", Path: variant(t, "notfunc", "function abi_version()\n  return 1\nend\n", "abi_version = 1\n"), Is: backends.ErrMissingExport, Symbol: SymABIVersion},
		{Name: "abi version", Path: variant(t, "v2", "function abi_version()\n  return 1\n", "function abi_version()\n  return 2\n"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1"},
		{Name: "not an int32", Path: variant(t, "half", "function abi_version()\n  return 1\n", "function abi_version()\n  return 1.5\n"), Is: backends.ErrIdentity, Symbol: SymABIVersion, Text: "1.5 is not an int32"},
		{Name: "wrong backend", Path: variant(t, "wasm", "backend=lua", "backend=wasm"), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "top-level error", Path: variant(t, "fail", "local TWO32 = 4294967296", `local TWO32 = error("no")`), Is: backends.ErrFormat, Text: "the top level"},
		{Name: "no files for a plugin", Path: variant(t, "dofile", "local TWO32 = 4294967296", `local TWO32 = dofile("/etc/hostname")`), Is: backends.ErrFormat, Text: "dofile"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestInstanceErrors: new returning no table, or a table without a
// function, is an error of Instantiate naming what is missing.
func TestInstanceErrors(t *testing.T) {
	backendstest.CheckInstanceErrors(t, backendstest.New(t, New, Config{}), []backendstest.InstanceError{
		{Name: "no table", Path: variant(t, "x", "  return {\n    min = smaller,", "  do return nil end\n  return {\n    min = smaller,"), Want: "new returned a nil"},
		{Name: "no min", Path: variant(t, "x", "min = smaller,", ""), Want: `no function "min"`},
	})
}

// TestFaults runs the fault variants the fault table loads: a loop at the
// top level is stopped at Load's deadline, a loop in a call at the
// instance's WithCallTimeout; an error of the guest or an index of nil is
// an error of its call, and the instance goes on.
func TestFaults(t *testing.T) {
	backendstest.ScriptFaults(t, backendstest.New(t, New, Config{}), fixtures.WriteLuaFault, map[string]string{"abort": "abort: the Lua guest gave up", "segv": "attempt to index a non-table object(nil)"})
}
