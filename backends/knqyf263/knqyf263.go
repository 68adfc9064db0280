// Package knqyf263 is plugbench's backend for knqyf263/go-plugin, the
// framework on wazero in which a plugin is a protobuf service: its users
// write a .proto, protoc-gen-go-plugin generates the host's and the
// guest's code, and the guest is built by the standard Go toolchain for
// wasip1. The backend is a host as the framework's users write one: it
// loads the guest (fixtures/go/knqyf263, package guest's logic) through
// the generated code of backends/knqyf263/protocol and calls its methods
// with protobuf messages.
//
// Its cost over raw wazero on the same Go guest (the wasm backend's go
// row) is what the framework adds: every call marshals its request,
// has the guest allocate room for it (a wasm call), copies it in, calls,
// reads and unmarshals the reply, and frees (one or two wasm calls more).
//
// # Artifact
//
// The artifact is a wasip1 reactor exporting the service Guest of
// protocol/plugbench.proto (guest_api_version, guest_identity,
// guest_min and the other methods, malloc and free), importing only WASI
// and the host function env.emit. Load compiles it, checks those exports
// (backends.ErrMissingExport names the first one missing or of another
// signature), loads it once through the generated code (which checks the
// framework's API version) and checks the ABI version and identity its
// Identity method returns ("lang=go backend=knqyf263 toolchain=goX.Y.Z").
// A missing file matches fs.ErrNotExist; a folder, or a file wazero cannot
// compile, matches backends.ErrFormat.
//
// # Instances
//
// The generated Load is the framework's only way to an instance: it reads
// the file, makes a new wazero runtime (with WASI and the host module),
// compiles the module and instantiates it, which runs the Go runtime's
// initialisation (_initialize). An instance is one such Load. The backend
// gives the framework a runtime with a compilation cache (the way its
// author recommends, go-plugin issue #51), one per module (in memory, or
// backed by Config.CacheDir) unless Config.Cache is set, so that an instance's compile is a cache hit;
// without it every instance would compile the 3 MiB guest anew, for a
// second. Each instance checks the identity again, as the file is read
// again.
//
// # Faults
//
//   - The runtimes are wazero's compiler without WithCloseOnContextDone,
//     as the framework's default is: a running guest cannot be stopped.
//     WithCallTimeout is refused with backends.ErrNoInterrupt; Load and
//     Instantiate return at their context's end, the guest's _initialize
//     running on (their error wraps backends.ErrNoInterrupt too), and Go's
//     garbage collector waits for that goroutine for ever (the fault
//     table measures it).
//   - A guest's memory is capped (Config.MemoryLimit, 256 MiB by default,
//     as the wasm backend's): a call that fails because the guest could
//     not grow wraps backends.ErrMemoryLimit.
//   - A Go guest that panics, or whose runtime dies, aborts with a trap
//     ("wasm error: unreachable"): the call returns it, with the guest's
//     stack, and the instance is closed, its runtime being dead; a later
//     call fails with backends.ErrClosed. A guest that exits (WASI's
//     proc_exit) is closed the same way.
//   - An error the guest's method returns is an error of the call; the
//     instance goes on.
//
// # Events
//
// An event crosses as the protobuf message protocol.Event (the value
// transport): converted from the host's event.Event (Encode), marshalled,
// copied into the guest and unmarshalled there, converted to package
// guest's event.Event, processed, and back the same way (Call), then
// converted to the host's event.Event (Decode).
package knqyf263

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/memlimit"
	"github.com/plugbench/plugbench/backends/internal/modbook"
	"github.com/plugbench/plugbench/backends/knqyf263/protocol"
)

// Name is the backend's name in benchmark names, and the backend the
// guest's identity names.
const Name = "knqyf263"

// DefaultMemoryLimit is a guest's memory limit when Config.MemoryLimit is
// 0: the wasm backend's.
const DefaultMemoryLimit = 256 << 20

// The guest's exports the framework calls: the service Guest's methods
// (snake_case service_method), its API version, and the framework's
// allocator.
const (
	SymAPIVersion = "guest_api_version"
	SymIdentity   = "guest_identity"
	SymMin        = "guest_min"
	SymAccumulate = "guest_accumulate"
	SymSum        = "guest_sum"
	SymUpper      = "guest_upper"
	SymCallback   = "guest_callback"
	SymProcess    = "guest_process"
	SymMalloc     = "malloc"
	SymFree       = "free"
)

var (
	i32, i64 = api.ValueTypeI32, api.ValueTypeI64
	// exports are the exports Load checks, with their signatures.
	exports = []struct {
		name            string
		params, results []api.ValueType
	}{
		{SymAPIVersion, nil, []api.ValueType{i64}},
		{SymIdentity, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymMin, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymAccumulate, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymSum, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymUpper, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymCallback, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymProcess, []api.ValueType{i32, i32}, []api.ValueType{i64}},
		{SymMalloc, []api.ValueType{i32}, []api.ValueType{i32}},
		{SymFree, []api.ValueType{i32}, nil},
	}
)

// Config configures the knqyf263 backend.
type Config struct {
	// Cache is the wazero compilation cache every runtime of the backend
	// shares (the suite's warm cache); nil: each module has one of its
	// own, in memory, dropped when the module is closed.
	Cache wazero.CompilationCache
	// CacheDir, without Cache, backs each module's own cache with this
	// directory (wazero's file cache), so that a module compiled once, by
	// any process, loads from disk; the module's cache is still its own,
	// and closing the module frees its compiled code.
	CacheDir string
	// MemoryLimit caps each instance's linear memory, in bytes, rounded
	// down to 64 KiB pages; 0 means DefaultMemoryLimit.
	MemoryLimit uint64
}

// New returns the knqyf263 backend.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	limit := cfg.MemoryLimit &^ (1<<16 - 1)
	if cfg.MemoryLimit == 0 {
		limit = DefaultMemoryLimit
	}
	if limit == 0 || limit > 4<<30 {
		return nil, fmt.Errorf("%s: memory limit of %d bytes: want 64 KiB to 4 GiB", Name, cfg.MemoryLimit)
	}
	if cfg.Cache != nil && cfg.CacheDir != "" {
		return nil, fmt.Errorf("%s: Cache and CacheDir both set: a shared cache or a directory for each module's own, not both", Name)
	}
	return &backend{cache: cfg.Cache, dir: cfg.CacheDir, limit: limit}, nil
}

type backend struct {
	cache wazero.CompilationCache // nil: one per module
	dir   string                  // backs each module's own cache, if set
	limit uint64
}

func (*backend) Name() string                { return Name }
func (*backend) Close(context.Context) error { return nil }

// runtimes returns what makes the runtimes of a module sharing cache: the
// framework's default runtime (wazero's compiler, WASI), with the cache.
// The memory cap is each instance's allocator (memlimit), which
// remembers what it refused.
func (b *backend) runtimes(cache wazero.CompilationCache) protocol.WazeroNewRuntime {
	rc := wazero.NewRuntimeConfig().WithCompilationCache(cache)
	return func(ctx context.Context) (wazero.Runtime, error) {
		r := wazero.NewRuntimeWithConfig(ctx, rc)
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
			r.Close(ctx)
			return nil, err
		}
		return r, nil
	}
}

// Load compiles the module at path, checks its exports, and loads it once
// through the generated code to check its version and identity.
func (b *backend) Load(ctx context.Context, path string) (backends.Module, error) {
	m := &module{b: b, path: path, book: modbook.Book{Backend: Name, Path: path}, cache: b.cache}
	bin, err := m.book.ReadSource(ctx)
	if err != nil {
		return nil, err
	}
	if m.cache == nil {
		if b.dir == "" {
			m.cache = wazero.NewCompilationCache()
		} else if m.cache, err = wazero.NewCompilationCacheWithDir(b.dir); err != nil {
			return nil, fmt.Errorf("%s: %s: cache directory: %w", Name, path, err)
		}
		m.ownCache = true
	}
	m.newRuntime = b.runtimes(m.cache)
	ok := false
	defer func() {
		if !ok {
			m.unload()
		}
	}()
	if err := m.compile(ctx, bin); err != nil {
		return nil, err
	}
	if m.gen, err = protocol.NewGuestPlugin(ctx, protocol.WazeroRuntime(m.newRuntime)); err != nil {
		return nil, m.book.Fail("", err)
	}
	g, _, err := m.load(ctx, "Load", host{})
	if err != nil {
		return nil, err
	}
	defer g.Close(context.Background())
	rep, err := g.Identity(ctx, &protocol.IdentityRequest{})
	if err != nil {
		return nil, m.book.Fail(SymIdentity, err)
	}
	if m.id, err = backends.CheckArtifact(rep.AbiVersion, rep.Identity, Name); err != nil {
		return nil, m.book.Fail(SymIdentity, err)
	}
	ok = true
	return m, nil
}

// compile compiles bin into the module's cache, where the generated
// Load finds it, and checks the exports the framework calls: the
// generated code would find a missing one only at instantiation, and
// say less. A compile abandoned at ctx's end runs on, and its runtime
// and the module's own cache are closed when it is done.
func (m *module) compile(ctx context.Context, bin []byte) error {
	r, err := m.newRuntime(ctx)
	if err != nil {
		return m.book.Fail("", err)
	}
	cache, own := m.cache, m.ownCache
	// The compiled module is not closed: the cache keeps it for the
	// instances (the generated Load never closes the modules it
	// compiles either). Closing the runtime leaves the cache as it is.
	cm, err := abandon.Wait(ctx, func() (wazero.CompiledModule, error) { return r.CompileModule(ctx, bin) }, func(wazero.CompiledModule) {
		r.Close(context.Background())
		if own {
			cache.Close(context.Background())
		}
	})
	if err != nil && ctx.Err() != nil {
		m.abandoned.Store(true) // the abandoned compile closes the cache
		return m.book.Fail("", fmt.Errorf("not compiled: %w", err))
	}
	r.Close(context.Background())
	if err != nil {
		return m.book.Fail("", fmt.Errorf("%w: %w", backends.ErrFormat, err))
	}
	defs := cm.ExportedFunctions()
	for _, e := range exports {
		d := defs[e.name]
		if d == nil {
			return m.book.Fail(e.name, backends.ErrMissingExport)
		}
		if !equal(d.ParamTypes(), e.params) || !equal(d.ResultTypes(), e.results) {
			return m.book.Fail(e.name, fmt.Errorf("%w: signature (%v) -> (%v), want (%v) -> (%v)", backends.ErrMissingExport,
				names(d.ParamTypes()), names(d.ResultTypes()), names(e.params), names(e.results)))
		}
	}
	return nil
}

func equal(a, b []api.ValueType) bool { return string(a) == string(b) }

func names(ts []api.ValueType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = api.ValueTypeName(t)
	}
	return strings.Join(s, ", ")
}

// guestConn is an instance as the generated Load returns it.
type guestConn interface {
	protocol.Guest
	Close(ctx context.Context) error
}

// load makes an instance through the generated Load, bounded by ctx as
// the package doc says; op names the caller in errors.
func (m *module) load(ctx context.Context, op string, h host) (guestConn, *memlimit.Limit, error) {
	gm := &memlimit.Limit{Max: m.b.limit}
	lctx := experimental.WithMemoryAllocator(ctx, gm)
	g, err := abandon.Wait(ctx, func() (guestConn, error) {
		g, err := m.gen.Load(lctx, m.path, h)
		if err != nil {
			return nil, err
		}
		return g, nil
	}, func(g guestConn) { g.Close(context.Background()) })
	switch {
	case err == nil:
		return g, gm, nil
	case ctx.Err() != nil:
		// The abandoned Load may still compile into the module's cache,
		// or never end: the cache stays open for it (unload).
		m.abandoned.Store(true)
		err = fmt.Errorf("the generated Load (the guest's _initialize) ran past the context, and runs on (%w): %w", backends.ErrNoInterrupt, err)
	case strings.HasPrefix(err.Error(), "API version mismatch"):
		err = fmt.Errorf("%w: %w", backends.ErrABIVersion, err)
	default:
		err = gm.Explain(err)
	}
	return nil, nil, m.book.Fail("", fmt.Errorf("%s: %w", strings.ToLower(op), err))
}

type module struct {
	b          *backend
	path       string
	id         backends.Identity
	book       modbook.Book
	cache      wazero.CompilationCache
	ownCache   bool
	abandoned  atomic.Bool // work given up on at a context's end may still use cache
	newRuntime protocol.WazeroNewRuntime
	gen        *protocol.GuestPlugin
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate loads the guest through the generated code, with the
// instance's host function, and checks that it is still the guest Load
// checked.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if cfg.CallTimeout > 0 {
		return nil, m.book.Fail("", backends.NoInterruptWhy("the framework's runtime cannot stop a guest mid-call (no WithCloseOnContextDone)"))
	}
	if err := ctx.Err(); err != nil {
		return nil, m.book.Fail("", fmt.Errorf("not instantiated: %w", err))
	}
	if err := m.book.Reserve(); err != nil {
		return nil, err
	}
	p, err := m.instantiate(ctx, cfg)
	if err != nil {
		m.book.Release()
		return nil, err
	}
	p.open.Store(true)
	return p, nil
}

func (m *module) instantiate(ctx context.Context, cfg backends.InstanceConfig) (*Plugin, error) {
	g, gm, err := m.load(ctx, "Instantiate", host{emit: cfg.Emit})
	if err != nil {
		return nil, err
	}
	p := &Plugin{m: m, g: g, gm: gm, ctx: context.Background(), hasEmit: cfg.Emit != nil}
	rep, err := g.Identity(p.ctx, &protocol.IdentityRequest{})
	if err != nil {
		g.Close(p.ctx)
		return nil, m.book.Fail(SymIdentity, err)
	}
	if rep.Identity != m.id.Raw {
		g.Close(p.ctx)
		return nil, m.book.Fail(SymIdentity, fmt.Errorf("%w: %q, Load read %q: the file changed", backends.ErrIdentity, rep.Identity, m.id.Raw))
	}
	return p, nil
}

// Close unloads the module once no instance is open: its own compilation
// cache goes with it, unless a compile or an instantiation abandoned at
// its context's end may still use it (the abandoned compile closes it
// when it ends; a start function that never returns keeps it for good).
func (m *module) Close(context.Context) error { return m.book.Close(m.unload) }

func (m *module) unload() error {
	if m.ownCache && !m.abandoned.Load() && m.cache != nil {
		return m.cache.Close(context.Background())
	}
	return nil
}

// host is an instance's side of the service Host: its emit function.
type host struct {
	emit func(v int64) int64
}

// Emit calls the instance's emit function. Without one it fails, and the
// generated code turns the error into a panic that ends the guest's call.
func (h host) Emit(_ context.Context, r *protocol.EmitRequest) (*protocol.EmitReply, error) {
	if h.emit == nil {
		return nil, backends.ErrNoHost
	}
	return &protocol.EmitReply{R: h.emit(r.V)}, nil
}

// Plugin is one instance: one load of the guest through the generated
// code.
type Plugin struct {
	m       *module
	g       guestConn
	gm      *memlimit.Limit
	ctx     context.Context
	open    atomic.Bool
	hasEmit bool
}

// fail explains a failed call of the export sym, and closes the instance
// when its guest is gone: a trap (a Go guest's panic or fatal error
// aborts its runtime with one) or an exit. An error the guest's method
// returned leaves the instance open.
func (p *Plugin) fail(sym string, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) || strings.HasPrefix(err.Error(), "wasm error: ") {
		p.Close(p.ctx)
		err = fmt.Errorf("the guest died, the instance is closed: %w", err)
	}
	err = p.gm.Explain(err)
	return &backends.Error{Backend: Name, Path: p.m.path, Symbol: sym, Err: err}
}

// Min calls the guest's Min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "min")
	}
	rep, err := p.g.Min(p.ctx, &protocol.MinRequest{A: a, B: b})
	if err != nil {
		return 0, p.fail(SymMin, err)
	}
	return rep.R, nil
}

// Accumulate calls the guest's Accumulate.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "accumulate")
	}
	rep, err := p.g.Accumulate(p.ctx, &protocol.AccumulateRequest{X: x})
	if err != nil {
		return 0, p.fail(SymAccumulate, err)
	}
	return rep.Total, nil
}

// Sum calls the guest's Sum with b as the request's bytes.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "sum")
	}
	rep, err := p.g.Sum(p.ctx, &protocol.SumRequest{Data: b})
	if err != nil {
		return 0, p.fail(SymSum, err)
	}
	return rep.Sum, nil
}

// Upper calls the guest's Upper and copies the reply's bytes into b.
func (p *Plugin) Upper(b []byte) error {
	if !p.open.Load() {
		return backends.Closed(Name, "upper")
	}
	rep, err := p.g.Upper(p.ctx, &protocol.UpperRequest{Data: b})
	if err != nil {
		return p.fail(SymUpper, err)
	}
	if len(rep.Data) != len(b) {
		return p.fail(SymUpper, fmt.Errorf("the reply has %d bytes, the request %d", len(rep.Data), len(b)))
	}
	copy(b, rep.Data)
	return nil
}

// Callback calls the guest's Callback, which calls the host's Emit k
// times through the framework's host function.
func (p *Plugin) Callback(k int32) (int64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "callback")
	}
	if !p.hasEmit {
		return 0, backends.ErrNoHost
	}
	rep, err := p.g.Callback(p.ctx, &protocol.CallbackRequest{K: k})
	if err != nil {
		return 0, p.fail(SymCallback, err)
	}
	return rep.Sum, nil
}

// Close closes the instance's runtime. Later calls fail with
// backends.ErrClosed; a second Close does nothing.
func (p *Plugin) Close(ctx context.Context) error {
	if !p.open.Swap(false) {
		return nil
	}
	defer p.m.book.Release()
	if err := p.g.Close(ctx); err != nil {
		return &backends.Error{Backend: Name, Path: p.m.path, Err: fmt.Errorf("close: %w", err)}
	}
	return nil
}

var (
	_ backends.Caller      = (*Plugin)(nil)
	_ backends.EventPlugin = (*Plugin)(nil)
)
