// Package extism is plugbench's Extism backend, on
// github.com/extism/go-sdk (which runs on wazero): the raw-wazero backend's
// twin (package backends/wasm) behind a plugin framework, so that the
// suite can show what the framework costs.
//
// Its artifact is the C fixture inside an Extism layer
// (fixtures/c/extism.c, fixtures.WriteExtismWasm): one Extism function per
// call, each taking its arguments as input bytes and giving its result as
// output bytes, little-endian. Every call is plugin.Call: Extism copies the
// input into its kernel's memory, the guest loads it from there a word at
// a time through host functions, and stores its output back the same way;
// the host gets a fresh copy of the output. That is Extism's ABI, and what
// this backend measures.
//
// What a call costs beyond the guest's work is the SDK's: CallWithContext
// looks up by name, and so makes anew, a wazero function for each of its
// own calls into the kernel (reset, alloc, input_set, error_get,
// output_offset, output_length), for the guest's function, and for every
// kernel function the guest calls (input_length, alloc, output_set); each
// is a wazero call engine with a stack of its own, about 12 KB. A min is
// then 35 allocations and 118 KB, whatever the backend reuses (TestAllocs).
// Plain loads and stores (input_load_u64, store_u64) are Go functions and
// allocate nothing, but each is a host call: 1 MiB of input is 131072 of
// them.
//
// A Load is extism.NewCompiledPlugin (a wazero runtime of its own, with
// the Extism kernel and host functions), after the module's exports are
// checked on a compilation that shares the backend's compilation cache,
// so that the module is compiled once. Instantiate is
// CompiledPlugin.Instance: an Extism kernel instance and a guest instance
// of its own per plugin. Guests get no WASI, no allowed hosts or paths, no
// config: the C guest needs none of them.
//
// # Faults
//
// A guest's memory is capped (Config.MemoryLimit, 256 MiB by default) the
// way backends/wasm caps it, by wazero's experimental memory allocator,
// which the SDK lets through because it instantiates with the context of
// Instance: a refused grow is then known, and the call it failed wraps
// backends.ErrMemoryLimit. (Manifest.Memory.MaxPages, the SDK's own cap,
// refuses the grow inside wazero where nothing sees it: the guest traps
// and the host cannot say why.)
//
// Stopping a guest mid-call is wazero's WithCloseOnContextDone, which the
// SDK turns on only with a manifest timeout, for every instance alike;
// here it is Config.Interruptible ("extism-bounded"), and
// backends.WithCallTimeout sets the instance's extism.Plugin.Timeout. It
// costs every wazero call a goroutine, and an Extism call is about ten
// wazero calls (min: 65 allocations instead of 35; RATIONALE.md has the
// figures), so the default backend refuses WithCallTimeout with
// backends.ErrNoInterrupt and abandons a start function at the context's
// end, as backends/wasm does.
//
// The SDK runs a guest's _initialize only with WASI, lazily at its first
// call; this backend runs it itself at every instantiation (the load's
// probe included), bounded by the context, as backends/wasm does with a
// reactor's start function.
package extism

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/memlimit"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Names of the backend in benchmark names.
const (
	Name        = "extism"         // calls cannot be stopped
	NameBounded = "extism-bounded" // Config.Interruptible
)

// BuiltFor is the backend an Extism artifact's identity names.
const BuiltFor = "extism"

// DefaultMemoryLimit is a guest's memory limit when Config.MemoryLimit is 0.
const DefaultMemoryLimit = 256 << 20

// Config configures the backend.
type Config struct {
	// Cache, if set, is the compilation cache of every runtime the backend
	// makes (one per Load: the SDK makes a runtime per compiled plugin).
	// Nil: each Load compiles the module and the Extism kernel from
	// scratch, as the SDK does by default, into an in-memory cache of its
	// own (which its two compiles share), closed with the module. The
	// caller closes a given cache after the backend.
	Cache wazero.CompilationCache
	// MemoryLimit caps each linear memory of an instance (the guest's and
	// the Extism kernel's), in bytes, rounded down to 64 KiB pages; 0
	// means DefaultMemoryLimit.
	MemoryLimit uint64
	// Interruptible makes guests stoppable mid-call (wazero's
	// WithCloseOnContextDone): start functions honour the context of Load
	// and Instantiate, and instances take backends.WithCallTimeout. It
	// costs every wazero call a goroutine (see the package doc).
	Interruptible bool
}

// New returns an Extism backend.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	name := Name
	if cfg.Interruptible {
		name = NameBounded
	}
	limit := cfg.MemoryLimit &^ (1<<16 - 1)
	if cfg.MemoryLimit == 0 {
		limit = DefaultMemoryLimit
	}
	if limit == 0 || limit > 1<<32 {
		return nil, fmt.Errorf("%s: memory limit of %d bytes: want 64 KiB to 4 GiB", name, cfg.MemoryLimit)
	}
	b := &backend{name: name, interruptible: cfg.Interruptible, limit: limit, cache: cfg.Cache}
	if b.cache != nil {
		// The runtime that checks modules' exports, made once: making a
		// runtime would cost every load more than the cached compile.
		b.r = wazero.NewRuntimeWithConfig(ctx, b.config(b.cache))
	}
	return b, nil
}

// config is the runtime config of the backend's runtimes, with cache.
func (b *backend) config(cache wazero.CompilationCache) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache).WithCloseOnContextDone(b.interruptible)
}

type backend struct {
	name          string
	interruptible bool
	limit         uint64
	cache         wazero.CompilationCache // Config.Cache, or nil: one per Load
	r             wazero.Runtime          // checks exports with cache; nil without one
	// compiles counts compiles running, abandoned ones too: they write
	// into the cache's engine, so Close waits for them first.
	compiles sync.WaitGroup
}

func (b *backend) Name() string { return b.name }

// Close waits for every compile a Load abandoned to finish: the caller
// may close the cache it gave next.
func (b *backend) Close(ctx context.Context) error {
	b.compiles.Wait()
	if b.r != nil {
		return b.r.Close(ctx)
	}
	return nil
}

// The Extism functions of the guest (fixtures/c/extism.c), every one
// () -> i32.
const (
	fnVersion     = "abi_version"
	fnIdentity    = "identity"
	fnSetHost     = "set_host"
	fnMin         = "min"
	fnAccumulate  = "accumulate"
	fnSum         = "sum"
	fnUpper       = "upper"
	fnEventJSON   = "event_json"
	fnEventBinary = "event_binary"
	fnEventFlat   = "event_flat"
	fnCallback    = "callback"
	fnInitialize  = "_initialize"
)

// required are the functions every Extism artifact exports; the event
// functions and callback (with set_host) are optional.
var (
	required = []string{fnVersion, fnIdentity, fnMin, fnAccumulate, fnSum, fnUpper}
	optional = []string{fnEventJSON, fnEventBinary, fnEventFlat, fnSetHost, fnCallback}
)

// Return codes of the guest's functions beyond 0 (fixtures/c/extism.c).
const (
	rcMalformed = 2
	rcNoMemory  = 3
)

// hostNamespace and hostEmit name the host function guests call back:
// "extism:host/user" "emit", (i64 ctx, i64 v) -> i64, ctx the handle the
// host gave the instance (set_host).
const (
	hostNamespace = "extism:host/user"
	hostEmit      = "emit"
)

// emitFunction is the one host function of every compiled plugin: it finds
// the instance's emit function by the handle the guest passes.
var emitFunction = func() extism.HostFunction {
	f := extism.NewHostFunctionWithStack(hostEmit, func(_ context.Context, _ *extism.CurrentPlugin, stack []uint64) {
		stack[0] = uint64(hostfn.Call(stack[0], int64(stack[1])))
	}, []extism.ValueType{extism.ValueTypeI64, extism.ValueTypeI64}, []extism.ValueType{extism.ValueTypeI64})
	f.SetNamespace(hostNamespace)
	return f
}()

// Load checks the module's exports, compiles it into an Extism compiled
// plugin, then runs a probe instance to read its ABI version and identity.
func (b *backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: b.name, Path: path, Symbol: sym, Err: err}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fail("", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x00asm")) {
		return nil, fail("", fmt.Errorf("%w: not a wasm module (no \\0asm header)", backends.ErrFormat))
	}
	// The compilation cache: the one given, shared by every Load; or, with
	// none, one for this Load alone, so that a load compiles the module and
	// the Extism kernel from scratch, as the SDK does by default, and once:
	// the compile that checks the exports and the SDK's share it.
	bg := context.Background()
	cache, own := b.cache, b.cache == nil
	if own {
		cache = wazero.NewCompilationCache()
	}
	closeCache := func() {
		if own {
			cache.Close(bg)
		}
	}
	rc := b.config(cache)
	r := b.r
	if own {
		r = wazero.NewRuntimeWithConfig(ctx, rc)
	}
	closeRuntime := func() {
		if own {
			r.Close(bg)
		}
	}
	// Compile once to check the exports: the SDK's own compile below finds
	// it in the cache while this one is open. An abandoned compile closes
	// what it used once it ends (abandon.Tracked).
	cm, err := abandon.Tracked(&b.compiles, ctx, func() (wazero.CompiledModule, error) { return r.CompileModule(ctx, bin) },
		func(cm wazero.CompiledModule) { cm.Close(bg); closeRuntime(); closeCache() })
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail("", fmt.Errorf("compile: %w", err))
		}
		closeRuntime()
		closeCache()
		return nil, fail("", fmt.Errorf("%w: compile: %w", backends.ErrFormat, err))
	}
	m := &module{b: b, path: path, has: map[string]bool{}, book: modbook.Book{Backend: b.name, Path: path}}
	if err := m.checkExports(cm); err != nil {
		cm.Close(bg)
		closeRuntime()
		closeCache()
		return nil, err
	}
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: bin, Name: "main"}}}
	pc := extism.PluginConfig{RuntimeConfig: rc}
	m.cp, err = abandon.Tracked(&b.compiles, ctx, func() (*extism.CompiledPlugin, error) {
		return extism.NewCompiledPlugin(ctx, manifest, pc, []extism.HostFunction{emitFunction})
	}, func(cp *extism.CompiledPlugin) { cp.Close(bg); cm.Close(bg); closeRuntime(); closeCache() })
	if err != nil {
		if ctx.Err() == nil {
			cm.Close(bg)
			closeRuntime()
			closeCache()
		}
		return nil, fail("", fmt.Errorf("extism: compile: %w", err))
	}
	cm.Close(bg)
	closeRuntime()
	if own {
		m.cache = cache
	}
	if err := m.probe(ctx); err != nil {
		m.cp.Close(ctx)
		closeCache()
		return nil, err
	}
	return m, nil
}

// checkExports checks that every required function is exported as an
// Extism function, () -> i32, and notes the optional ones present.
func (m *module) checkExports(cm wazero.CompiledModule) error {
	fns := cm.ExportedFunctions()
	check := func(name string) (bool, error) {
		d, ok := fns[name]
		if !ok {
			return false, nil
		}
		if len(d.ParamTypes()) != 0 || !bytes.Equal(d.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
			return false, m.book.Fail(name, fmt.Errorf("%w: signature %s, want an Extism function () -> (i32)",
				backends.ErrMissingExport, signature(d.ParamTypes(), d.ResultTypes())))
		}
		return true, nil
	}
	for _, name := range required {
		ok, err := check(name)
		if err != nil {
			return err
		}
		if !ok {
			return m.book.Fail(name, backends.ErrMissingExport)
		}
	}
	for _, name := range optional {
		ok, err := check(name)
		if err != nil {
			return err
		}
		m.has[name] = ok
	}
	if d, ok := fns[fnInitialize]; ok && len(d.ParamTypes()) == 0 {
		m.start = true
	}
	return nil
}

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		var b bytes.Buffer
		for i, t := range ts {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(api.ValueTypeName(t))
		}
		return b.String()
	}
	return "(" + name(params) + ") -> (" + name(results) + ")"
}

// probe reads the ABI version and identity through a throwaway instance.
func (m *module) probe(ctx context.Context) error {
	p, _, err := m.instance(ctx)
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	call := func(name string) ([]byte, error) {
		rc, out, err := p.CallWithContext(ctx, name, nil)
		if err == nil && rc != 0 {
			err = fmt.Errorf("returned %d", rc)
		}
		if err != nil {
			return nil, m.book.Fail(name, fmt.Errorf("%w: %w", backends.ErrIdentity, err))
		}
		return out, nil
	}
	v, err := call(fnVersion)
	if err != nil {
		return err
	}
	if len(v) != 4 {
		return m.book.Fail(fnVersion, fmt.Errorf("%w: %d bytes of version, want 4", backends.ErrIdentity, len(v)))
	}
	version := int32(binary.LittleEndian.Uint32(v))
	if version != backends.ABIVersion {
		return m.book.Fail("", &backends.VersionError{Got: version, Want: backends.ABIVersion})
	}
	id, err := call(fnIdentity)
	if err != nil {
		return err
	}
	if m.id, err = backends.CheckArtifact(version, string(id), BuiltFor); err != nil {
		return m.book.Fail("", err)
	}
	return nil
}

// instance makes an Extism plugin instance, its memories capped, and runs
// the guest's _initialize if it has one, bounded by ctx as the package doc
// says.
func (m *module) instance(ctx context.Context) (*extism.Plugin, *memlimit.Limit, error) {
	ml := &memlimit.Limit{Max: m.b.limit}
	ictx := experimental.WithMemoryAllocator(ctx, ml)
	p, err := m.cp.Instance(ictx, extism.PluginInstanceConfig{})
	if err != nil {
		err = ml.Explain(err)
		return nil, nil, m.book.Fail("", fmt.Errorf("instantiate: %w", err))
	}
	p.SetLogger(func(extism.LogLevel, string) {}) // the SDK would log through package log
	if !m.start {
		return p, ml, nil
	}
	start := func() (struct{}, error) {
		_, _, err := p.CallWithContext(ctx, fnInitialize, nil)
		return struct{}{}, err
	}
	if m.b.interruptible || ctx.Done() == nil {
		_, err = start() // wazero itself stops _initialize at ctx's end
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
	} else {
		_, err = abandon.Wait(ctx, start, func(struct{}) { p.Close(context.Background()) })
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (it runs on: %w)", err, backends.ErrNoInterrupt)
		}
	}
	if err != nil {
		if ctx.Err() == nil || m.b.interruptible {
			p.Close(context.Background())
		}
		err = ml.Explain(err)
		return nil, nil, m.book.Fail(fnInitialize, fmt.Errorf("instantiate: %w", err))
	}
	return p, ml, nil
}

type module struct {
	b     *backend
	path  string
	cp    *extism.CompiledPlugin
	cache wazero.CompilationCache // the Load's own, closed with the module, or nil
	id    backends.Identity
	start bool            // the guest exports _initialize
	has   map[string]bool // optional functions present

	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes a new Extism plugin instance: an Extism kernel and a
// guest instance of its own, whose guest state is made at its first call.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if cfg.Emit != nil && (!m.has[fnSetHost] || !m.has[fnCallback]) {
		return nil, m.book.Fail(fnSetHost, fmt.Errorf("%w: a host function was given, the module takes none", backends.ErrMissingExport))
	}
	if cfg.CallTimeout > 0 && !m.b.interruptible {
		return nil, m.book.Fail("", backends.NoInterruptWhy("this runtime cannot stop a guest mid-call (extism.Config.Interruptible)"))
	}
	if err := m.book.Reserve(); err != nil {
		return nil, err
	}
	made := false
	defer func() {
		if !made {
			m.book.Release()
		}
	}()
	ep, ml, err := m.instance(ctx)
	if err != nil {
		return nil, err
	}
	ep.Timeout = cfg.CallTimeout
	p := &Plugin{m: m, p: ep, ml: ml, ctx: context.Background(), timeout: cfg.CallTimeout}
	if cfg.Emit != nil {
		p.host = hostfn.Register(cfg.Emit)
		binary.LittleEndian.PutUint64(p.in[:], p.host)
		if _, err := p.call(fnSetHost, p.in[:8]); err != nil {
			hostfn.Release(p.host)
			ep.Close(context.Background())
			return nil, err
		}
	}
	made = true
	return p, nil
}

// Close releases the compiled plugin and its runtime. It fails while
// instances are open.
func (m *module) Close(ctx context.Context) error {
	return m.book.Close(func() error {
		err := m.cp.Close(ctx)
		if m.cache != nil {
			err = errors.Join(err, m.cache.Close(ctx))
		}
		return err
	})
}

// Plugin is one Extism plugin instance.
type Plugin struct {
	m       *module
	p       *extism.Plugin
	ml      *memlimit.Limit
	ctx     context.Context
	timeout time.Duration
	closed  bool   // by Close, or by a call stopped at its deadline
	host    uint64 // hostfn handle of the emit function, 0 if none
	in      [8]byte
}

// call calls the Extism function name with input in and returns its
// output: the one way every function is called, so that every call is
// refused after Close and explains its failure.
func (p *Plugin) call(name string, in []byte) ([]byte, error) {
	if p.closed {
		return nil, p.m.book.Fail(name, backends.ErrClosed)
	}
	rc, out, err := p.p.CallWithContext(p.ctx, name, in)
	if err != nil {
		return nil, p.callError(name, rc, err)
	}
	if rc != 0 {
		return nil, p.callError(name, rc, nil)
	}
	return out, nil
}

// callError explains a failed call: a guest stopped at its deadline (the
// instance is then closed: wazero closed its guest), out of memory, or a
// guest's own return code.
func (p *Plugin) callError(name string, rc uint32, err error) error {
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		p.closed = true
		err = fmt.Errorf("stopped after %v, the instance is closed: %w", p.timeout, err)
	case p.ml.Refused():
		if err == nil {
			err = fmt.Errorf("returned %d", rc)
		}
		err = p.ml.Explain(err)
	case err != nil:
	case rc == rcNoMemory:
		err = fmt.Errorf("returned %d: the guest is out of memory", rc)
	default:
		err = fmt.Errorf("returned %d", rc)
	}
	return p.m.book.Fail(name, err)
}

func (p *Plugin) outputError(name string, out []byte, want int) error {
	return p.m.book.Fail(name, fmt.Errorf("output of %d bytes, want %d", len(out), want))
}

// Min calls min with a and b, 8 bytes.
func (p *Plugin) Min(a, b int32) (int32, error) {
	binary.LittleEndian.PutUint64(p.in[:], uint64(uint32(a))|uint64(uint32(b))<<32)
	out, err := p.call(fnMin, p.in[:8])
	if err != nil {
		return 0, err
	}
	if len(out) != 4 {
		return 0, p.outputError(fnMin, out, 4)
	}
	return int32(binary.LittleEndian.Uint32(out)), nil
}

// Accumulate calls accumulate with x, 8 bytes.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	binary.LittleEndian.PutUint64(p.in[:], uint64(x))
	return p.call64(fnAccumulate, p.in[:8])
}

func (p *Plugin) call64(name string, in []byte) (int64, error) {
	out, err := p.call(name, in)
	if err != nil {
		return 0, err
	}
	if len(out) != 8 {
		return 0, p.outputError(name, out, 8)
	}
	return int64(binary.LittleEndian.Uint64(out)), nil
}

// Sum calls sum with b as its input.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	v, err := p.call64(fnSum, b)
	return uint64(v), err
}

// Upper calls upper with b as its input and copies its output into b.
func (p *Plugin) Upper(b []byte) error {
	out, err := p.call(fnUpper, b)
	if err != nil {
		return err
	}
	if len(out) != len(b) {
		return p.outputError(fnUpper, out, len(b))
	}
	copy(b, out)
	return nil
}

// Callback calls callback with k, 4 bytes: the guest calls the host
// function "extism:host/user" "emit" k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.closed {
		return 0, p.m.book.Fail(fnCallback, backends.ErrClosed)
	}
	if p.host == 0 {
		return 0, backends.ErrNoHost
	}
	binary.LittleEndian.PutUint32(p.in[:], uint32(k))
	return p.call64(fnCallback, p.in[:4])
}

// Close closes the instance. Later calls fail with backends.ErrClosed; a
// second Close does nothing.
func (p *Plugin) Close(ctx context.Context) error {
	if p.p == nil {
		return nil
	}
	err := p.p.Close(ctx)
	p.p, p.closed = nil, true
	if p.host != 0 {
		hostfn.Release(p.host)
		p.host = 0
	}
	p.m.book.Release()
	if err != nil {
		return p.m.book.Fail("", err)
	}
	return nil
}

// CallFunction calls an Extism function of the instance by name: for tests
// and probes beyond the contract. It is bounded like every call.
func (p *Plugin) CallFunction(name string, in []byte) ([]byte, error) {
	return p.call(name, in)
}
