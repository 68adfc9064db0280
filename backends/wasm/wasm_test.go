package wasm

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
	"github.com/plugbench/plugbench/fixtures"
)

const goodIdentity = "lang=c backend=wasm toolchain=handmade"

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.wasm"), Is: fs.ErrNotExist, Text: "nope.wasm"},
		{Name: "not wasm", Path: write("text.wasm", []byte("hello, not wasm")), Is: backends.ErrFormat, Text: "not a wasm module"},
		{Name: "bad wasm", Path: write("bad.wasm", []byte("\x00asm\x01\x00\x00\x00\x01\xff")), Is: backends.ErrFormat, Text: "compile"},
		{Name: "missing export", Path: write("nomin.wasm", wasmabi.Assemble(1, goodIdentity, wasmabi.Min, nil)), Is: backends.ErrMissingExport, Symbol: wasmabi.Min, Text: "symbol plugbench_min: missing export"},
		{Name: "wrong signature", Path: write("sig.wasm", wasmabi.Assemble(1, goodIdentity, "", map[string][]byte{wasmabi.Sum: {wasmabi.I64}})),
			Is: backends.ErrMissingExport, Symbol: wasmabi.Sum, Text: "signature (i64) -> (i64), want (i32, i32) -> (i64)"},
		{Name: "abi version", Path: write("v2.wasm", wasmabi.Assemble(2, goodIdentity, "", nil)), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: write("so.wasm", wasmabi.Assemble(1, "lang=c backend=dlopen toolchain=gcc", "", nil)), Is: backends.ErrIdentity, Text: `built for backend "dlopen"`},
		{Name: "bad identity", Path: write("id.wasm", wasmabi.Assemble(1, "garbage", "", nil)), Is: backends.ErrIdentity, Text: "not key=value"},
	}
	ctx := context.Background()
	for _, interp := range []bool{false, true} {
		be, err := New(ctx, Config{Interpreter: interp})
		if err != nil {
			t.Fatal(err)
		}
		defer be.Close(ctx)
		t.Run("backend="+be.Name(), func(t *testing.T) {
			backendstest.CheckLoadErrors(t, be, cases, nil)
			// The assembler itself is right: the same module, unbroken, loads.
			mod, err := be.Load(ctx, write("good.wasm", wasmabi.Assemble(1, goodIdentity, "", nil)))
			if err != nil {
				t.Fatal(err)
			}
			if id := mod.Identity(); id.Raw != goodIdentity || id.Toolchain != "handmade" {
				t.Errorf("identity %+v", id)
			}
			mod.Close(ctx)
		})
	}
}

func TestSplitMixDeterministic(t *testing.T) {
	a, b := make([]byte, 13), make([]byte, 13)
	(&splitMix{}).Read(a)
	(&splitMix{}).Read(b)
	if string(a) != string(b) || strings.Count(string(a), "\x00") > 3 {
		t.Errorf("splitMix: %x and %x", a, b)
	}
}

// TestBackend checks the contract with backendstest's kit, on each engine
// and configuration, with the C and Rust guests (the suite's conformance
// test adds the Go guest).
func TestBackend(t *testing.T) {
	ctx := context.Background()
	rust, err := fixtures.WriteRustWasm(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	guests := map[string]string{"c": "../../fixtures/c/plugbench.wasm", "rust": rust}
	for _, cfg := range []Config{{}, {Interpreter: true}, {Interruptible: true}, {Interpreter: true, Interruptible: true}} {
		be, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer be.Close(ctx)
		t.Run(fmt.Sprintf("interpreter=%v/interruptible=%v", cfg.Interpreter, cfg.Interruptible), func(t *testing.T) {
			backendstest.TestBackend(t, backendstest.Kit{
				Backend:    be,
				Guests:     guests,
				BuiltFor:   BuiltFor,
				Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
			})
		})
	}
}
