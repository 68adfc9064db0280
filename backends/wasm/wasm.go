// Package wasm is plugbench's WebAssembly backend, on
// github.com/tetratelabs/wazero: the compiler engine by default ("wasm"),
// the interpreter as a named variant ("wasm-interp").
//
// Calls go through api.Function.CallWithStack with a stack each instance
// allocates once, so a call allocates nothing. Payloads cross through a
// guest buffer that the guest hands out once (plugbench_buffer) and the
// instance reuses: Sum copies the bytes in, Upper copies them in and back.
//
// Guests get no filesystem, environment, arguments or network: a module that
// imports WASI (a Go guest needs it for its runtime) gets wazero's WASI with
// none of those configured, and wazero's fake clocks.
//
// # Faults
//
// A guest's memory is capped (Config.MemoryLimit, 256 MiB by default):
// growing past it fails inside the guest, and a call that then fails wraps
// backends.ErrMemoryLimit. A trap (an out-of-bounds access, unreachable) is
// an error of the call that hit it.
//
// Stopping a guest mid-call is a choice of the runtime, made once in
// Config.Interruptible, because it has a price on every call: wazero then
// watches each call's context from a goroutine of its own (RATIONALE.md has
// the figures). An interruptible backend ("wasm-bounded",
// "wasm-interp-bounded") honours the context of Load and Instantiate inside
// the guest's start function and takes backends.WithCallTimeout; the
// others abandon a start function at the context's end (it runs on, on a
// goroutine of its own) and refuse WithCallTimeout with
// backends.ErrNoInterrupt.
package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/memlimit"
	"github.com/plugbench/plugbench/backends/internal/modbook"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
)

// Names of the engines in benchmark names.
const (
	Name              = "wasm"                // wazero's compiler
	NameInterp        = "wasm-interp"         // wazero's interpreter
	NameBounded       = "wasm-bounded"        // the compiler, Interruptible
	NameInterpBounded = "wasm-interp-bounded" // the interpreter, Interruptible
)

// DefaultMemoryLimit is a guest's memory limit when Config.MemoryLimit is 0.
const DefaultMemoryLimit = 256 << 20

// BuiltFor is the backend a wasm artifact's identity names: both engines
// load the same artifacts.
const BuiltFor = "wasm"

// Config selects the engine and the compilation cache.
type Config struct {
	// Interpreter selects wazero's interpreter instead of its compiler.
	Interpreter bool
	// Cache, if set, is shared by the backend's runtime: an in-memory cache
	// (wazero.NewCompilationCache) reuses a module compiled by any runtime
	// sharing it while that module is open; a directory cache
	// (wazero.NewCompilationCacheWithDir) also reuses compilations from
	// earlier processes. The caller closes it after the backend.
	Cache wazero.CompilationCache
	// Interruptible makes guests stoppable mid-call (wazero's
	// WithCloseOnContextDone): start functions honour the context of Load
	// and Instantiate, and instances take backends.WithCallTimeout. It
	// costs every call a goroutine (see the package doc).
	Interruptible bool
	// MemoryLimit caps each instance's linear memory, in bytes, rounded
	// down to 64 KiB pages; 0 means DefaultMemoryLimit.
	MemoryLimit uint64
}

// New returns a wasm backend with its own wazero runtime.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	rc := wazero.NewRuntimeConfigCompiler()
	name := Name
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
		name = NameInterp
	}
	if cfg.Interruptible {
		rc = rc.WithCloseOnContextDone(true)
		name += "-bounded"
	}
	limit := cfg.MemoryLimit &^ (1<<16 - 1)
	if cfg.MemoryLimit == 0 {
		limit = DefaultMemoryLimit
	}
	if limit == 0 || limit > 1<<32 {
		return nil, fmt.Errorf("%s: memory limit of %d bytes: want 64 KiB to 4 GiB", name, cfg.MemoryLimit)
	}
	if cfg.Cache != nil {
		rc = rc.WithCompilationCache(cfg.Cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	// WASI for guests whose runtime needs it (Go's): with a default module
	// config it has no filesystem, environment, arguments or network.
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("%s: instantiate wasi: %w", name, err)
	}
	if err := instantiateHost(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("%s: instantiate host module %q: %w", name, hostModule, err)
	}
	return &backend{name: name, r: r, interruptible: cfg.Interruptible, limit: limit}, nil
}

type backend struct {
	name          string
	r             wazero.Runtime
	interruptible bool
	limit         uint64 // bytes of linear memory an instance may have
	// compiles counts compiles running, abandoned ones too: they write
	// into the runtime's engine, so Close waits for them first.
	compiles sync.WaitGroup
}

func (b *backend) Name() string { return b.name }

// Close closes the runtime, once every compile a Load abandoned has
// finished (a compile always does).
func (b *backend) Close(ctx context.Context) error {
	b.compiles.Wait()
	return b.r.Close(ctx)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// Load compiles the module at path, checks its exports and their
// signatures, then runs a probe instance to read its ABI version and
// identity: load is compile plus verification.
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
	cm, err := abandon.Tracked(&b.compiles, ctx, func() (wazero.CompiledModule, error) { return b.r.CompileModule(ctx, bin) },
		func(cm wazero.CompiledModule) { cm.Close(context.Background()) })
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail("", fmt.Errorf("compile: %w", err))
		}
		return nil, fail("", fmt.Errorf("%w: compile: %w", backends.ErrFormat, err))
	}
	m := &module{b: b, path: path, cm: cm, has: map[string]bool{}, book: modbook.Book{Backend: b.name, Path: path}}
	if err := m.checkExports(); err != nil {
		cm.Close(ctx)
		return nil, err
	}
	if err := m.probe(ctx); err != nil {
		cm.Close(ctx)
		return nil, err
	}
	return m, nil
}

func (m *module) checkExports() error {
	fns := m.cm.ExportedFunctions()
	check := func(f wasmabi.Func) error {
		d := fns[f.Name]
		if !equalTypes(d.ParamTypes(), f.Params) || !equalTypes(d.ResultTypes(), f.Results) {
			return m.book.Fail(f.Name, fmt.Errorf("%w: signature %s, want %s", backends.ErrMissingExport,
				signature(d.ParamTypes(), d.ResultTypes()), signature(f.Params, f.Results)))
		}
		return nil
	}
	for _, f := range wasmabi.Required {
		if _, ok := fns[f.Name]; !ok {
			return m.book.Fail(f.Name, backends.ErrMissingExport)
		}
		if err := check(f); err != nil {
			return err
		}
	}
	if _, ok := m.cm.ExportedMemories()[wasmabi.Memory]; !ok {
		return m.book.Fail(wasmabi.Memory, backends.ErrMissingExport)
	}
	for _, f := range wasmabi.Optional {
		if _, ok := fns[f.Name]; !ok {
			continue
		}
		if err := check(f); err != nil {
			return err
		}
		m.has[f.Name] = true
	}
	if _, ok := fns[wasmabi.Init]; ok {
		m.start = wasmabi.Init // a reactor: Go's c-shared build
	}
	return nil
}

func (m *module) probe(ctx context.Context) error {
	mod, _, err := m.instantiate(ctx)
	if err != nil {
		return err
	}
	defer mod.Close(ctx)
	var stack [1]uint64
	call := func(name string) (uint32, error) {
		if err := mod.ExportedFunction(name).CallWithStack(ctx, stack[:]); err != nil {
			return 0, m.book.Fail(name, err)
		}
		return api.DecodeU32(stack[0]), nil
	}
	v, err := call(wasmabi.Version)
	if err != nil {
		return err
	}
	if v != backends.ABIVersion {
		return m.book.Fail("", &backends.VersionError{Got: int32(v), Want: backends.ABIVersion})
	}
	p, err := call(wasmabi.Identity)
	if err != nil {
		return err
	}
	n, err := call(wasmabi.IdentityLen)
	if err != nil {
		return err
	}
	raw, ok := mod.Memory().Read(p, n)
	if !ok {
		return m.book.Fail(wasmabi.Identity, fmt.Errorf("%w: identity [%d, +%d) is outside memory", backends.ErrIdentity, p, n))
	}
	m.id, err = backends.CheckArtifact(int32(v), string(raw), BuiltFor)
	if err != nil {
		return m.book.Fail("", err)
	}
	return nil
}

// instantiate makes an instance of the module, its memory capped, and runs
// its start function, bounded by ctx as the package doc says.
func (m *module) instantiate(ctx context.Context) (api.Module, *memlimit.Limit, error) {
	// An anonymous module may be instantiated any number of times; the
	// default config gives no filesystem, environment or arguments.
	// The guest's random source is a cheap generator of our own: wazero's
	// default seeds a math/rand source, a fifth of an instantiation's time.
	// Guests need no real entropy here, and a benchmark wants repeatable runs.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(&splitMix{})
	if m.start != "" {
		cfg = cfg.WithStartFunctions(m.start)
	}
	gm := &memlimit.Limit{Max: m.b.limit}
	mctx := experimental.WithMemoryAllocator(ctx, gm)
	inst := func() (api.Module, error) { return m.b.r.InstantiateModule(mctx, m.cm, cfg) }
	var mod api.Module
	var err error
	if m.b.interruptible || ctx.Done() == nil {
		mod, err = inst() // wazero itself stops the start function at ctx's end
	} else {
		mod, err = abandon.Wait(ctx, inst, func(mod api.Module) { mod.Close(context.Background()) })
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (its start function runs on: %w)", err, backends.ErrNoInterrupt)
		}
	}
	if err != nil {
		err = gm.Explain(err)
		return nil, nil, m.book.Fail(m.start, fmt.Errorf("instantiate: %w", err))
	}
	return mod, gm, nil
}

func equalTypes(a, b []api.ValueType) bool {
	return bytes.Equal(a, b)
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

type module struct {
	b     *backend
	path  string
	cm    wazero.CompiledModule
	id    backends.Identity
	start string
	has   map[string]bool // optional exports present

	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes a new wasm instance, with its own memory, and a
// plugin state inside it.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if cfg.Emit != nil && (!m.has[wasmabi.SetHost] || !m.has[wasmabi.Callback]) {
		return nil, m.book.Fail(wasmabi.SetHost, fmt.Errorf("%w: a host function was given, the module takes none", backends.ErrMissingExport))
	}
	if cfg.CallTimeout > 0 && !m.b.interruptible {
		return nil, m.book.Fail("", backends.NoInterruptWhy("this runtime cannot stop a guest mid-call (wasm.Config.Interruptible)"))
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
	mod, gm, err := m.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plugin{
		m: m, mod: mod, ctx: context.Background(), mem: mod.Memory(), gm: gm,
		timeout: cfg.CallTimeout, slow: cfg.CallTimeout > 0,
		min:        mod.ExportedFunction(wasmabi.Min),
		accumulate: mod.ExportedFunction(wasmabi.Accumulate),
		sum:        mod.ExportedFunction(wasmabi.Sum),
		upper:      mod.ExportedFunction(wasmabi.Upper),
		// buffer and free are looked up when first needed: each
		// api.Function carries its own call stack, and an instance that
		// never crosses a payload should not pay for one.
	}
	if err := p.call(mod.ExportedFunction(wasmabi.New), wasmabi.New, p.stack[:]); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	if p.state = api.DecodeU32(p.stack[0]); p.state == 0 {
		mod.Close(ctx)
		return nil, m.book.Fail(wasmabi.New, errors.New("plugin returned no state"))
	}
	if cfg.Emit != nil {
		if err := p.setHost(ctx, cfg.Emit); err != nil {
			mod.Close(ctx)
			return nil, err
		}
	}
	made = true
	return p, nil
}

// Close releases the compiled module. It fails while instances are open.
func (m *module) Close(ctx context.Context) error {
	return m.book.Close(func() error { return m.cm.Close(ctx) })
}

// Plugin is one wasm instance. Its call stack, written by every call, has
// cache lines of its own: instances are used from different goroutines.
type Plugin struct {
	_   cpu.CacheLinePad
	m   *module
	mod api.Module
	ctx context.Context
	mem api.Memory
	gm  *memlimit.Limit

	// slow is set when a call needs more than CallWithStack: a deadline,
	// or an instance that is closed (closed is then set too).
	slow    bool
	closed  bool
	timeout time.Duration

	min, accumulate, sum, upper, buffer api.Function
	callback                            api.Function // looked up when first needed

	state uint32 // the guest's plugbench_state*
	host  uint64 // hostfn handle of the emit function, 0 if none
	stack [2]uint64
	buf   uint32 // guest buffer address, 0 until first used
	cap   uint32 // its size
	_     cpu.CacheLinePad
}

// call calls fn with stack: the one way every export is called, so that
// every call is bounded, refused after Close, and explains its failure.
// Its fast path is small enough to be inlined into each call.
func (p *Plugin) call(fn api.Function, name string, stack []uint64) error {
	var err error
	if p.slow {
		err = p.callSlow(fn, stack)
	} else {
		err = fn.CallWithStack(p.ctx, stack)
	}
	if err != nil {
		return p.callError(name, err)
	}
	return nil
}

func (p *Plugin) callSlow(fn api.Function, stack []uint64) error {
	if p.closed {
		return backends.ErrClosed
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	return fn.CallWithStack(ctx, stack)
}

// callError explains a failed call: a guest stopped at its deadline (the
// instance is then closed: wazero closed it), or out of memory.
func (p *Plugin) callError(name string, err error) error {
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		p.closed, p.slow = true, true
		err = fmt.Errorf("stopped after %v, the instance is closed: %w", p.timeout, err)
	case p.gm != nil && p.gm.Refused():
		err = p.gm.Explain(err)
	}
	return p.m.book.Fail(name, err)
}

// Min calls plugbench_min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	p.stack[0], p.stack[1] = api.EncodeI32(a), api.EncodeI32(b)
	if err := p.call(p.min, wasmabi.Min, p.stack[:]); err != nil {
		return 0, err
	}
	return api.DecodeI32(p.stack[0]), nil
}

// Accumulate calls plugbench_accumulate with this instance's state.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	p.stack[0], p.stack[1] = api.EncodeU32(p.state), api.EncodeI64(x)
	if err := p.call(p.accumulate, wasmabi.Accumulate, p.stack[:]); err != nil {
		return 0, err
	}
	return int64(p.stack[0]), nil
}

// Sum copies b into the guest buffer and calls plugbench_sum on it.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	ptr, err := p.in(b)
	if err != nil {
		return 0, err
	}
	p.stack[0], p.stack[1] = api.EncodeU32(ptr), api.EncodeU32(uint32(len(b)))
	if err := p.call(p.sum, wasmabi.Sum, p.stack[:]); err != nil {
		return 0, err
	}
	return p.stack[0], nil
}

// Upper copies b into the guest buffer, calls plugbench_upper on it and
// copies the result back into b.
func (p *Plugin) Upper(b []byte) error {
	ptr, err := p.in(b)
	if err != nil {
		return err
	}
	p.stack[0], p.stack[1] = api.EncodeU32(ptr), api.EncodeU32(uint32(len(b)))
	if err := p.call(p.upper, wasmabi.Upper, p.stack[:]); err != nil {
		return err
	}
	// Read again: the call may have grown (and so moved) the memory.
	view, ok := p.mem.Read(ptr, uint32(len(b)))
	if !ok {
		return p.m.book.Fail(wasmabi.Upper, fmt.Errorf("guest buffer [%d, +%d) is outside memory", ptr, len(b)))
	}
	copy(b, view)
	return nil
}

// in copies b into the guest buffer, growing it first if b does not fit,
// and returns the buffer's guest address.
func (p *Plugin) in(b []byte) (uint32, error) {
	if p.closed {
		return 0, p.m.book.Fail(wasmabi.Buffer, backends.ErrClosed)
	}
	if len(b) == 0 {
		return p.buf, nil
	}
	if uint64(len(b)) > uint64(p.cap) {
		if err := p.grow(len(b)); err != nil {
			return 0, err
		}
	}
	view, ok := p.mem.Read(p.buf, uint32(len(b)))
	if !ok {
		return 0, p.m.book.Fail(wasmabi.Buffer, fmt.Errorf("guest buffer [%d, +%d) is outside memory", p.buf, len(b)))
	}
	copy(view, b)
	return p.buf, nil
}

func (p *Plugin) grow(n int) error {
	if n > 1<<31 {
		return p.m.book.Fail(wasmabi.Buffer, fmt.Errorf("payload of %d bytes does not fit a wasm32 guest", n))
	}
	if p.buffer == nil {
		p.buffer = p.mod.ExportedFunction(wasmabi.Buffer)
	}
	p.stack[0], p.stack[1] = api.EncodeU32(p.state), api.EncodeU32(uint32(n))
	if err := p.call(p.buffer, wasmabi.Buffer, p.stack[:]); err != nil {
		return err
	}
	ptr := api.DecodeU32(p.stack[0])
	if ptr == 0 {
		return p.m.book.Fail(wasmabi.Buffer, fmt.Errorf("guest could not allocate %d bytes", n))
	}
	p.buf, p.cap = ptr, uint32(n)
	return nil
}

// Close frees the guest state and closes the instance. Later calls fail
// with backends.ErrClosed; a second Close does nothing.
func (p *Plugin) Close(ctx context.Context) error {
	if p.mod == nil {
		return nil
	}
	var ferr error
	if !p.closed { // a guest stopped at a deadline has no state to free
		p.stack[0] = api.EncodeU32(p.state)
		ferr = p.call(p.mod.ExportedFunction(wasmabi.Free), wasmabi.Free, p.stack[:1])
	}
	err := p.mod.Close(ctx)
	p.mod, p.closed, p.slow = nil, true, true
	if p.host != 0 {
		hostfn.Release(p.host)
		p.host = 0
	}
	p.m.book.Release()
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return p.m.book.Fail("", err)
	}
	return nil
}

// CallExport calls an export of the instance by name, with and returning
// raw wasm values: for tests and probes beyond the contract (a guest's
// view of its sandbox, say). It is bounded like every call.
func (p *Plugin) CallExport(name string, args ...uint64) ([]uint64, error) {
	if p.closed {
		return nil, p.m.book.Fail(name, backends.ErrClosed)
	}
	fn := p.mod.ExportedFunction(name)
	if fn == nil {
		return nil, p.m.book.Fail(name, backends.ErrMissingExport)
	}
	stack := make([]uint64, max(len(args), len(fn.Definition().ResultTypes())))
	copy(stack, args)
	if err := p.call(fn, name, stack); err != nil {
		return nil, err
	}
	return stack[:len(fn.Definition().ResultTypes())], nil
}

// ReadMemory copies n bytes of the instance's memory at ptr.
func (p *Plugin) ReadMemory(ptr, n uint32) ([]byte, bool) {
	b, ok := p.mem.Read(ptr, n)
	return bytes.Clone(b), ok
}

// splitMix is SplitMix64 as an io.Reader: a deterministic random source for
// guests, one per instance (it is not goroutine-safe).
type splitMix struct{ x uint64 }

func (s *splitMix) Read(p []byte) (int, error) {
	for i := 0; i < len(p); {
		s.x += 0x9e3779b97f4a7c15
		z := s.x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 8 && i < len(p); j++ {
			p[i] = byte(z >> (8 * j))
			i++
		}
	}
	return len(p), nil
}
