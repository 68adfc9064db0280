package wasm

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"
)

// assemble assembles a wasm module that exports the ABI with constant
// answers: version, identity, the exports in signatures minus omit, and
// sig overriding one export's signature. It keeps the error tests free of
// any toolchain.
func assemble(version int32, identity, omit string, sig map[string][]api.ValueType) []byte {
	const idAddr = 16
	var types, funcs, exports, code []byte
	n := 0
	for _, s := range signatures {
		if s.name == omit {
			continue
		}
		params, results := s.params, s.results
		if p, ok := sig[s.name]; ok {
			params = p
		}
		types = append(types, 0x60)
		types = append(types, vec(len(params), params)...)
		types = append(types, vec(len(results), results)...)
		funcs = append(funcs, uleb(uint64(n))...)
		exports = append(exports, name(s.name)...)
		exports = append(exports, 0x00)
		exports = append(exports, uleb(uint64(n))...)
		var body []byte
		for _, r := range results {
			v := int64(1024) // a non-zero state or buffer address
			switch s.name {
			case expVersion:
				v = int64(version)
			case expIdentity:
				v = idAddr
			case expIdentityLen:
				v = int64(len(identity))
			}
			if r == api.ValueTypeI64 {
				body = append(body, 0x42)
			} else {
				body = append(body, 0x41)
			}
			body = append(body, sleb(v)...)
		}
		body = append([]byte{0x00}, append(body, 0x0b)...) // no locals … end
		code = append(code, uleb(uint64(len(body)))...)
		code = append(code, body...)
		n++
	}
	exports = append(exports, name(expMemory)...)
	exports = append(exports, 0x02, 0x00)
	data := append([]byte{0x00, 0x41}, sleb(idAddr)...)
	data = append(data, 0x0b)
	data = append(data, uleb(uint64(len(identity)))...)
	data = append(data, identity...)

	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, n, types)...)
	out = append(out, section(3, n, funcs)...)
	out = append(out, section(5, 1, []byte{0x00, 0x01})...) // one memory, min 1 page
	out = append(out, section(7, n+1, exports)...)
	out = append(out, section(10, n, code)...)
	out = append(out, section(11, 1, data)...)
	return out
}

func section(id byte, count int, body []byte) []byte {
	content := append(uleb(uint64(count)), body...)
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

func vec(n int, b []byte) []byte { return append(uleb(uint64(n)), b...) }
func name(s string) []byte       { return append(uleb(uint64(len(s))), s...) }

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

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
		{Name: "missing export", Path: write("nomin.wasm", assemble(1, goodIdentity, expMin, nil)), Is: backends.ErrMissingExport, Symbol: expMin, Text: "symbol plugbench_min: missing export"},
		{Name: "wrong signature", Path: write("sig.wasm", assemble(1, goodIdentity, "", map[string][]api.ValueType{expSum: {api.ValueTypeI64}})),
			Is: backends.ErrMissingExport, Symbol: expSum, Text: "signature (i64) -> (i64), want (i32, i32) -> (i64)"},
		{Name: "abi version", Path: write("v2.wasm", assemble(2, goodIdentity, "", nil)), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: write("so.wasm", assemble(1, "lang=c backend=dlopen toolchain=gcc", "", nil)), Is: backends.ErrIdentity, Text: `built for backend "dlopen"`},
		{Name: "bad identity", Path: write("id.wasm", assemble(1, "garbage", "", nil)), Is: backends.ErrIdentity, Text: "not key=value"},
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
			mod, err := be.Load(ctx, write("good.wasm", assemble(1, goodIdentity, "", nil)))
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
