package bench

import (
	"context"
	"os"
	"plugin"
	"slices"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/plugbench/plugbench/backends/extism"
	"github.com/plugbench/plugbench/backends/goja"
	"github.com/plugbench/plugbench/backends/goplugin"
	"github.com/plugbench/plugbench/backends/hashicorp"
	"github.com/plugbench/plugbench/backends/knqyf263"
	"github.com/plugbench/plugbench/backends/lua"
	"github.com/plugbench/plugbench/backends/shm"
	"github.com/plugbench/plugbench/backends/starlark"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/backends/subprocess"
	"github.com/plugbench/plugbench/backends/wasmtime"
	"github.com/plugbench/plugbench/backends/yaegi"
	"github.com/plugbench/plugbench/bench/internal/cgoref"
	"github.com/plugbench/plugbench/bench/internal/trampoline"
	"github.com/plugbench/plugbench/fixtures"
)

// Reference implementations of the min call, measured beside the backends
// so that ratios come from one run: each is the bare mechanism a backend is
// built on, or an alternative it was chosen over.
var refImpls = []struct {
	impl, fixture string
}{
	{"go-direct", FixtureBuiltin},               // the static plugin called without the interface
	{"cgo", FixtureC},                           // a cgo call through the library's function pointer
	{"trampoline", FixtureC},                    // runtime.cgocall into asm specialised to min: a cgo-free call's floor
	{"purego-syscalln", FixtureC},               // purego.SyscallN with a fresh variadic slice
	{"purego-registerfunc", FixtureC},           // purego.RegisterFunc's reflect-built func
	{"goplugin-symbol", FixtureGo},              // a Go plugin's exported Min, looked up and called as a func value
	{"wazero", FixtureC}, {"wazero", FixtureGo}, // bare wazero CallWithStack, no backend code
	{"wazero-bounded", FixtureC},        // the same with WithCloseOnContextDone, as wasm-bounded runs it
	{"wasmtime", FixtureC},              // bare wasmtime-go Func.Call
	{"wasmtime-unchecked", FixtureC},    // Wasmtime's C API, unchecked call, as the backend calls
	{"wasmtime-epoch", FixtureC},        // Func.Call with epoch interruption on, as the backend runs
	{"wasmtime-fuel", FixtureC},         // Func.Call with fuel metering on, the alternative to epochs
	{"extism", FixtureC},                // the bare Extism SDK: Plugin.Call("min", 8 bytes)
	{knqyf263.RefImpl, FixtureGo},       // knqyf263/go-plugin's generated Min, on an instance of the generated Load
	{"yaegi", FixtureGo},                // the interpreted guest's Min, evaluated and called as a func value
	{starlark.RefImpl, FixtureStarlark}, // starlark.Call on the guest's min, on a thread of its own
	{lua.RefImpl, FixtureLua},           // gopher-lua's CallByParam on the guest's min, in a state of its own
	{goja.RefImpl, FixtureJS},           // goja's Callable of the guest's min, in a runtime of its own
	{"pipe", FixtureC},                  // the C executable's bare mode: 8 bytes through a pipe, 4 back
	{"shm-doorbell", FixtureC},          // the same over the shared region: two words and a doorbell each way
	{"go-plugin-grpc", FixtureGo},       // go-plugin's generated gRPC client's Min, without the backend around it
	{"go-plugin-netrpc", FixtureGo},     // go-plugin's net/rpc client's Call("Plugin.Min")
}

// refMin sets up impl and returns its min call.
func refMin(tb testing.TB, impl, fixture string) func(a, b int32) (int32, error) {
	tb.Helper()
	switch impl {
	case "go-direct":
		p := &static.Plugin{}
		return p.Min
	case "cgo", "trampoline", "purego-syscalln", "purego-registerfunc":
		refAvailable(tb, impl)
		fn := refSymbol(tb, "plugbench_min")
		switch impl {
		case "cgo":
			return func(a, b int32) (int32, error) { return cgoref.Min(fn, a, b), nil }
		case "trampoline":
			return func(a, b int32) (int32, error) { return trampoline.Min(fn, a, b), nil }
		case "purego-syscalln":
			return func(a, b int32) (int32, error) {
				r, _, _ := purego.SyscallN(fn, uintptr(a), uintptr(b))
				return int32(r), nil
			}
		default:
			var f func(a, b int32) int32
			purego.RegisterFunc(&f, fn)
			return func(a, b int32) (int32, error) { return f(a, b), nil }
		}
	case "goplugin-symbol":
		refAvailable(tb, impl)
		f := refGoPlugin(tb)
		return func(a, b int32) (int32, error) { return f(a, b), nil }
	case "wazero", "wazero-bounded":
		fn := refWazero(tb, fixture, impl == "wazero-bounded")
		stack := make([]uint64, 2)
		ctx := context.Background()
		return func(a, b int32) (int32, error) {
			stack[0], stack[1] = api.EncodeI32(a), api.EncodeI32(b)
			err := fn.CallWithStack(ctx, stack)
			return api.DecodeI32(stack[0]), err
		}
	}
	if _, ok := refRuntimes[impl]; ok {
		return refRuntime(tb, impl, fixture)
	}
	tb.Fatalf("unknown reference %q", impl)
	return nil
}

// refIsolated runs a reference that calls the shared object in a child
// process, as the dlopen backend's rows are (isolate_test.go), and reports
// whether it did.
func refIsolated(tb testing.TB, impl string) bool {
	tb.Helper()
	switch impl {
	case "cgo", "trampoline", "purego-syscalln", "purego-registerfunc":
		refAvailable(tb, impl)
		if fx.SO == "" {
			skip(tb, "shared object unavailable: %v", fx.SOErr)
		}
		return isolate(tb)
	case "goplugin-symbol":
		refAvailable(tb, impl)
		if p, err := fx.Artifact(fixtures.GoPluginName); p == "" {
			skip(tb, "go plugin unavailable: %v", err)
		}
		return isolate(tb)
	case "yaegi", starlark.RefImpl, lua.RefImpl, goja.RefImpl: // interpreters in the host's process, as their backends' rows
		return isolate(tb)
	}
	return false
}

// refRuntimes maps the references a backend's module offers to that
// backend: each is the runtime's own bare min call on the artifact the
// backend loads, which needs the backend's internals (wasmtime's C API,
// the process channels, go-plugin's client).
var refRuntimes = map[string]string{
	"wasmtime": wasmtime.Name, "wasmtime-unchecked": wasmtime.Name, "wasmtime-epoch": wasmtime.Name, "wasmtime-fuel": wasmtime.Name,
	"extism": extism.Name, knqyf263.RefImpl: knqyf263.Name, "yaegi": yaegi.Name, starlark.RefImpl: starlark.Name, lua.RefImpl: lua.Name, goja.RefImpl: goja.Name,
	"pipe": subprocess.Name, "shm-doorbell": shm.Name,
	"go-plugin-grpc": hashicorp.NameGRPC, "go-plugin-netrpc": hashicorp.NameNetRPC,
}

// refModule is what a module with references offers: the method is on
// the backends' unexported module types, no part of their API.
type refModule interface {
	RefMin(ctx context.Context, impl string) (min func(a, b int32) (int32, error), closeFn func(), err error)
}

// refRuntime sets up a runtime's own bare min call: the module of impl's
// backend (refRuntimes) loads the artifact, checking its identity, and
// its RefMin sets the reference up on it and checks one answer.
func refRuntime(tb testing.TB, impl, fixture string) func(a, b int32) (int32, error) {
	tb.Helper()
	name := refRuntimes[impl]
	if name == wasmtime.Name && !wasmtime.Available {
		skip(tb, "%v", wasmtime.ErrNoCgo)
	}
	i := slices.IndexFunc(Targets, func(t Target) bool { return t.Backend == name && t.Fixture == fixture })
	if i < 0 && os.Getenv(envBackends) != "" {
		skip(tb, "%s: backend %s not selected (%s=%s)", impl, name, envBackends, os.Getenv(envBackends))
	}
	if i < 0 {
		tb.Fatalf("%s: no target %s/%s", impl, name, fixture)
	}
	_, mod := open(tb, Targets[i])
	r, ok := mod.(refModule)
	if !ok {
		tb.Fatalf("%s: a %s module (%T) has no RefMin", impl, name, mod)
	}
	call, closeFn, err := r.RefMin(context.Background(), impl)
	if err != nil {
		tb.Fatalf("%s: %v", impl, err)
	}
	tb.Cleanup(closeFn)
	return call
}

// refGoPlugin opens the Go plugin with the plugin package alone, checks
// its identity export, and returns its exported Min: what the goplugin
// backend's instance method is compared with.
func refGoPlugin(tb testing.TB) func(a, b int32) int32 {
	tb.Helper()
	path, err := fx.Artifact(fixtures.GoPluginName)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := plugin.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	idSym, err := p.Lookup("Identity")
	if err != nil {
		tb.Fatal(err)
	}
	identity, ok := idSym.(func() string)
	if !ok {
		tb.Fatalf("%s: Identity is %T", path, idSym)
	}
	if id := identity(); !strings.HasPrefix(id, "lang=go backend=goplugin ") {
		tb.Fatalf("%s: identity %q, want the Go plugin", path, id)
	}
	minSym, err := p.Lookup("Min")
	if err != nil {
		tb.Fatal(err)
	}
	f, ok := minSym.(func(a, b int32) int32)
	if !ok {
		tb.Fatalf("%s: Min is %T", path, minSym)
	}
	return f
}

// refAvailable skips impl's row when this build cannot run it.
func refAvailable(tb testing.TB, impl string) {
	tb.Helper()
	switch {
	case impl == "cgo" && !cgoref.Available:
		skip(tb, "the cgo reference needs CGO_ENABLED=1")
	case impl == "trampoline" && !trampoline.Available:
		skip(tb, "%s", trampoline.Reason)
	case impl == "goplugin-symbol" && !goplugin.Available:
		skip(tb, "Go plugins need cgo (plugin.Open) on linux, darwin or freebsd")
	}
}

// refSymbol opens the C shared object with purego alone and returns a
// symbol, after checking the library's identity export.
func refSymbol(tb testing.TB, name string) uintptr {
	tb.Helper()
	if fx.SO == "" {
		skip(tb, "shared object unavailable: %v", fx.SOErr)
	}
	h, err := purego.Dlopen(fx.SO, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { purego.Dlclose(h) })
	var identity func() string
	purego.RegisterLibFunc(&identity, h, "plugbench_identity")
	if id := identity(); !strings.Contains(id, "lang=c backend=dlopen ") {
		tb.Fatalf("%s: identity %q, want the C plugin built for dlopen", fx.SO, id)
	}
	fn, err := purego.Dlsym(h, name)
	if err != nil {
		tb.Fatal(err)
	}
	return fn
}

// refWazero instantiates a fixture with wazero alone, checks its identity
// export, and returns its min export.
func refWazero(tb testing.TB, fixture string, bounded bool) api.Function {
	tb.Helper()
	ctx := context.Background()
	path, want := fx.CWasm, "lang=c backend=wasm "
	if fixture == FixtureGo {
		if path, want = fx.GoWasm, "lang=go backend=wasm "; path == "" {
			skip(tb, "go guest unavailable: %v", fx.GoWasmErr)
		}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	// The shared cache: a reference measures calls, and a Go guest's
	// compile in every sample would only stretch the run.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(bounded).WithCompilationCache(compiled.Wazero))
	tb.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	// The guests import the host's callback; min never calls it.
	if _, err := r.NewHostModuleBuilder("plugbench").NewFunctionBuilder().
		WithFunc(func(ctx, v int64) int64 { return 0 }).Export("emit").Instantiate(ctx); err != nil {
		tb.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := mod.ExportedFunction("plugbench_identity").Call(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := mod.ExportedFunction("plugbench_identity_len").Call(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := mod.Memory().Read(uint32(res[0]), uint32(n[0]))
	if !strings.HasPrefix(string(id), want) {
		tb.Fatalf("%s: identity %q, want %q…", path, id, want)
	}
	return mod.ExportedFunction("plugbench_min")
}

// BenchmarkRef measures the reference implementations of min.
func BenchmarkRef(b *testing.B) {
	b.Run("op=min", func(b *testing.B) {
		for i, r := range refImpls {
			if i > 0 && refImpls[i-1].impl == r.impl {
				continue
			}
			b.Run("impl="+r.impl, func(b *testing.B) {
				for _, u := range refImpls[i:] {
					if u.impl != r.impl {
						break
					}
					b.Run("fixture="+u.fixture, func(b *testing.B) {
						if refIsolated(b, u.impl) {
							return
						}
						f := refMin(b, u.impl, u.fixture)
						b.ReportAllocs()
						var v int32
						var err error
						for b.Loop() {
							if v, err = f(minA, minB); err != nil {
								b.Fatal(err)
							}
						}
						if v != min(minA, minB) {
							b.Fatalf("min(%d, %d) = %d", minA, minB, v)
						}
					})
				}
			})
		}
	})
}

// TestRef is BenchmarkRef's twin: every reference answers min exactly.
func TestRef(t *testing.T) {
	for _, r := range refImpls {
		t.Run("impl="+r.impl+"/fixture="+r.fixture, func(t *testing.T) {
			if refIsolated(t, r.impl) {
				return
			}
			f := refMin(t, r.impl, r.fixture)
			for _, c := range minCases {
				if got, err := f(c[0], c[1]); err != nil || got != min(c[0], c[1]) {
					t.Errorf("min(%d, %d) = %d, %v", c[0], c[1], got, err)
				}
			}
		})
	}
}
