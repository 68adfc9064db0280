//go:build cgo

package wasmtime

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
	"github.com/plugbench/plugbench/fixtures"
)

// guests are the wasm guests of the tests, by language: C and Rust are
// committed; Go is built once in TestMain (skipped when it cannot be).
var guests = map[string]string{}

var goGuestErr error

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "plugbench-wasmtime-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	guests["c"], err = filepath.Abs("../../fixtures/c/plugbench.wasm")
	if err == nil {
		guests["rust"], err = fixtures.WriteRustWasm(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		p := filepath.Join(dir, fixtures.GoWasmName)
		if goGuestErr = fixtures.BuildGoWasm(ctx, p); goGuestErr == nil {
			guests["go"] = p
		}
		cancel()
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newBackend(t testing.TB, cfg Config) backends.Backend {
	t.Helper()
	be, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close(context.Background()) })
	return be
}

func load(t testing.TB, be backends.Backend, path string) backends.Module {
	t.Helper()
	m, err := be.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func instance(t testing.TB, m backends.Module, opts ...backends.Option) backends.Plugin {
	t.Helper()
	p, err := m.Instantiate(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

const goodIdentity = "lang=c backend=wasm toolchain=handmade"

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.wasm"), Is: fs.ErrNotExist, Text: "nope.wasm"},
		{Name: "not wasm", Path: write(t, dir, "text.wasm", []byte("hello, not wasm")), Is: backends.ErrFormat, Text: "not a wasm module"},
		{Name: "bad wasm", Path: write(t, dir, "bad.wasm", []byte("\x00asm\x01\x00\x00\x00\x01\xff")), Is: backends.ErrFormat, Text: "compile"},
		{Name: "missing export", Path: write(t, dir, "nomin.wasm", wasmabi.Assemble(1, goodIdentity, wasmabi.Min, nil)), Is: backends.ErrMissingExport, Symbol: wasmabi.Min, Text: "symbol plugbench_min: missing export"},
		{Name: "wrong signature", Path: write(t, dir, "sig.wasm", wasmabi.Assemble(1, goodIdentity, "", map[string][]byte{wasmabi.Sum: {wasmabi.I64}})),
			Is: backends.ErrMissingExport, Symbol: wasmabi.Sum, Text: "signature (i64) -> (i64), want (i32, i32) -> (i64)"},
		{Name: "abi version", Path: write(t, dir, "v2.wasm", wasmabi.Assemble(2, goodIdentity, "", nil)), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: write(t, dir, "so.wasm", wasmabi.Assemble(1, "lang=c backend=dlopen toolchain=gcc", "", nil)), Is: backends.ErrIdentity, Text: `built for backend "dlopen"`},
		{Name: "bad identity", Path: write(t, dir, "id.wasm", wasmabi.Assemble(1, "garbage", "", nil)), Is: backends.ErrIdentity, Text: "not key=value"},
	}
	be := newBackend(t, Config{})
	backendstest.CheckLoadErrors(t, be, cases, nil)
	// The assembler itself is right: the same module, unbroken, loads.
	mod := load(t, be, write(t, dir, "good.wasm", wasmabi.Assemble(1, goodIdentity, "", nil)))
	if id := mod.Identity(); id.Raw != goodIdentity || id.Toolchain != "handmade" {
		t.Errorf("identity %+v", id)
	}
	// A host function for a module that takes none is refused.
	_, err := mod.Instantiate(context.Background(), backends.WithEmit(func(v int64) int64 { return v }))
	if !errors.Is(err, backends.ErrMissingExport) || !strings.Contains(err.Error(), wasmabi.SetHost) {
		t.Errorf("Instantiate(WithEmit) of a module without %s: %v", wasmabi.SetHost, err)
	}
}

func TestNoCgoError(t *testing.T) {
	if !errors.Is(ErrNoCgo, errors.ErrUnsupported) || !strings.Contains(ErrNoCgo.Error(), "CGO_ENABLED=0") {
		t.Errorf("ErrNoCgo = %v", ErrNoCgo)
	}
}

// TestBackend checks the contract with backendstest's kit, on every
// guest this machine has.
func TestBackend(t *testing.T) {
	if _, ok := guests["go"]; !ok {
		t.Logf("no go guest: %v", goGuestErr)
	}
	backendstest.TestBackend(t, backendstest.Kit{
		Backend:    newBackend(t, Config{}),
		Guests:     guests,
		BuiltFor:   BuiltFor,
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
	})
}

// TestHostPanic: a host function that panics fails the guest's call, and
// does not unwind through Wasmtime.
func TestHostPanic(t *testing.T) {
	be := newBackend(t, Config{})
	p := instance(t, load(t, be, guests["c"]), backends.WithEmit(func(v int64) int64 { panic("boom") }))
	_, err := p.(backends.Caller).Callback(3)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Callback with a panicking host: %v", err)
	}
}

func TestFaults(t *testing.T) {
	dir := t.TempDir()
	be := newBackend(t, Config{})
	for _, fault := range fixtures.Faults {
		t.Run("fault="+fault, func(t *testing.T) {
			path, err := fixtures.WriteWasmFault(dir, fault)
			if err != nil {
				t.Fatal(err)
			}
			const loadDeadline = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), loadDeadline)
			defer cancel()
			if fault == "startloop" {
				start := time.Now()
				_, err := be.Load(ctx, path)
				took := time.Since(start)
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backends.ErrNoInterrupt) {
					t.Errorf("Load: %v, want context.DeadlineExceeded, interrupted", err)
				}
				backendstest.Ended(t, "Load", took, loadDeadline)
				return
			}
			m := load(t, be, path)
			// Only the loop is stopped by the deadline. The other faults
			// happen by themselves, and a bomb touches its 256 MiB first,
			// which a busy machine can take longer than 300 ms to do: their
			// deadline only keeps a test from hanging.
			callTimeout := 300 * time.Millisecond
			if fault != "loop" {
				callTimeout = backendstest.StuckAfter
			}
			p := instance(t, m, backends.WithCallTimeout(callTimeout))
			start := time.Now()
			_, err = p.Min(1, 2)
			took := time.Since(start)
			switch fault {
			case "segv":
				if err == nil || !strings.Contains(err.Error(), "out of bounds memory access") {
					t.Errorf("Min: %v, want an out-of-bounds trap", err)
				}
			case "abort":
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Errorf("Min: %v, want an unreachable trap", err)
				}
			case "loop":
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Min: %v, want context.DeadlineExceeded", err)
				}
				backendstest.Ended(t, "Min", took, callTimeout)
				if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrClosed) {
					t.Errorf("Min after the deadline: %v, want ErrClosed", err)
				}
			case "bomb":
				if !errors.Is(err, backends.ErrMemoryLimit) {
					t.Errorf("Min: %v, want ErrMemoryLimit", err)
				}
			}
			var e *backends.Error
			if !errors.As(err, &e) || e.Backend != Name || e.Symbol != wasmabi.Min {
				t.Errorf("error %#v: want a *backends.Error of %s", err, wasmabi.Min)
			}
		})
	}
	// Instantiate honours its context in the start function too.
	t.Run("instantiate-startloop", func(t *testing.T) {
		path, err := fixtures.WriteWasmFault(dir, "startloop")
		if err != nil {
			t.Fatal(err)
		}
		_ = path
		// Load cannot succeed on startloop (its probe runs the start
		// function), so cancel instead of a deadline: cancellation is
		// honoured as well.
		const after = 50 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		time.AfterFunc(after, cancel)
		_, err = be.Load(ctx, path)
		took := time.Since(start)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Load, cancelled: %v after %v, want context.Canceled", err, took)
		}
		backendstest.Ended(t, "Load, cancelled,", took, after)
	})
}

// TestMemoryLimit: the limit is the configured one, and a healthy guest
// under it is unaffected.
func TestMemoryLimit(t *testing.T) {
	path, err := fixtures.WriteWasmFault(t.TempDir(), "bomb")
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t, Config{MemoryLimit: 160 << 20})
	p := instance(t, load(t, be, path))
	_, err = p.Min(1, 2)
	if !errors.Is(err, backends.ErrMemoryLimit) || !strings.Contains(err.Error(), "to 128 MiB") || !strings.Contains(err.Error(), "limit is 160 MiB") {
		t.Errorf("Min: %v, want ErrMemoryLimit at 128 of 160 MiB", err)
	}
	q := instance(t, load(t, be, guests["c"]))
	if _, err := q.Sum(make([]byte, 1<<20)); err != nil {
		t.Error(err)
	}
	if _, err := q.Sum(make([]byte, 200<<20)); !errors.Is(err, backends.ErrMemoryLimit) {
		t.Errorf("Sum of 200 MiB under a 160 MiB limit: %v, want ErrMemoryLimit", err)
	}
	if _, err := q.Sum(make([]byte, 1<<20)); err != nil {
		t.Errorf("Sum after a refused growth: %v", err)
	}
}

// TestCallTimeoutHealthy: a bounded instance answers as an unbounded one
// (under a timeout that no busy machine makes a healthy call miss).
func TestCallTimeoutHealthy(t *testing.T) {
	be := newBackend(t, Config{EpochPeriod: time.Millisecond})
	p := instance(t, load(t, be, guests["c"]), backends.WithCallTimeout(backendstest.StuckAfter))
	for range 1000 {
		if r, err := p.Min(3, -4); err != nil || r != -4 {
			t.Fatalf("Min = %d, %v", r, err)
		}
	}
	if n, err := p.Sum(bytes.Repeat([]byte{1}, 1<<20)); err != nil || n != 1<<20 {
		t.Fatalf("Sum = %d, %v", n, err)
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	hits, writes := cacheHits.Load(), cacheWrites.Load()
	be := newBackend(t, Config{CacheDir: dir})
	m := load(t, be, guests["c"])
	m.Close(ctx)
	if got := cacheWrites.Load() - writes; got != 1 {
		t.Fatalf("%d cache writes, want 1", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.cwasm"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want 1", files)
	}
	be2 := newBackend(t, Config{CacheDir: dir})
	p := instance(t, load(t, be2, guests["c"]))
	if got := cacheHits.Load() - hits; got != 1 {
		t.Errorf("%d cache hits, want 1", got)
	}
	if r, err := p.Min(3, -4); err != nil || r != -4 {
		t.Errorf("Min from a cached module = %d, %v", r, err)
	}
	// A corrupt file is recompiled and rewritten; so is a foreign one.
	for _, junk := range [][]byte{[]byte("junk"), []byte(cacheMagic + strings.Repeat("x", 40))} {
		b, _ := os.ReadFile(files[0])
		if len(junk) > 10 {
			junk = append(junk, b[len(junk):]...) // a flipped header hash
		}
		if err := os.WriteFile(files[0], junk, 0o644); err != nil {
			t.Fatal(err)
		}
		hits, writes = cacheHits.Load(), cacheWrites.Load()
		m := load(t, newBackend(t, Config{CacheDir: dir}), guests["c"])
		if cacheHits.Load() != hits || cacheWrites.Load() != writes+1 {
			t.Errorf("corrupt cache file: %d hits, %d writes; want 0, 1", cacheHits.Load()-hits, cacheWrites.Load()-writes)
		}
		m.Close(ctx)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestAllocs(t *testing.T) {
	be := newBackend(t, Config{})
	p := instance(t, load(t, be, guests["c"]), backends.WithEmit(func(v int64) int64 { return v }))
	buf := make([]byte, 4096)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Min", func() { p.Min(1, 2) }},
		{"Accumulate", func() { p.Accumulate(1) }},
		{"Sum", func() { p.Sum(buf) }},
		{"Upper", func() { p.Upper(buf) }},
		{"Callback", func() { p.(backends.Caller).Callback(4) }},
	} {
		c.f() // the guest buffer is allocated once
		if n := testing.AllocsPerRun(100, c.f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", c.name, n)
		}
	}
}

func TestRefMin(t *testing.T) {
	for _, lang := range []string{"c", "go"} {
		path, ok := guests[lang]
		if !ok {
			continue
		}
		for _, impl := range refImpls {
			if lang == "go" && impl != "wasmtime" {
				continue // the Go guest takes seconds to compile: once is enough
			}
			call, closeFn, err := refMin(context.Background(), impl, path)
			if err != nil {
				t.Errorf("%s %s: %v", lang, impl, err)
				continue
			}
			if r, err := call(-7, 2); r != -7 || err != nil {
				t.Errorf("%s %s: min(-7, 2) = %d, %v", lang, impl, r, err)
			}
			closeFn()
		}
	}
	if _, _, err := refMin(context.Background(), "nope", guests["c"]); err == nil {
		t.Error("RefMin of an unknown impl succeeded")
	}
}

func TestBackendClose(t *testing.T) {
	ctx := context.Background()
	be, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := be.Load(ctx, guests["c"])
	if err != nil {
		t.Fatal(err)
	}
	m.Close(ctx)
	if err := be.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := be.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := be.Load(ctx, guests["c"]); err == nil {
		t.Error("Load after Close succeeded")
	}
}
