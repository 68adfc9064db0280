//go:build cgo

package wasmtime

// #include "capi.h"
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/modbook"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
)

// Available reports whether this build has cgo, and so whether the backend
// can load anything.
const Available = true

// New returns a wasmtime backend: one Wasmtime engine, with epoch
// interruption, the ticker that advances its epoch, and one linker holding
// WASI and the host function every instance shares.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	if err := checkLayout(); err != nil {
		return nil, err
	}
	limit := cfg.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	if limit < 1<<16 || limit > 1<<32 {
		return nil, fmt.Errorf("%s: memory limit of %d bytes: want 64 KiB to 4 GiB", Name, cfg.MemoryLimit)
	}
	period := cfg.EpochPeriod
	if period == 0 {
		period = DefaultEpochPeriod
	}
	if period < 0 {
		return nil, fmt.Errorf("%s: epoch period %v: want a positive duration", Name, period)
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: cache directory: %w", Name, err)
		}
	}
	wc := wt.NewConfig()
	wc.SetEpochInterruption(true)
	engine := wt.NewEngineWithConfig(wc)
	linker := wt.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		return nil, fmt.Errorf("%s: define wasi: %w", Name, err)
	}
	if err := defineEmit(linker); err != nil {
		return nil, fmt.Errorf("%s: define host function %q %q: %w", Name, hostModule, "emit", err)
	}
	b := &backend{
		engine: engine, linker: linker, limit: limit, period: period,
		cacheDir: cfg.CacheDir, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.tick()
	return b, nil
}

// The host module guests import their callback from: "plugbench" "emit",
// (i64 ctx, i64 v) -> i64, as in the wazero backend.
const hostModule = "plugbench"

type backend struct {
	engine   *wt.Engine
	linker   *wt.Linker
	limit    uint64        // bytes of linear memory an instance may have
	period   time.Duration // of the epoch ticker
	cacheDir string

	stop, done chan struct{}

	mu       sync.Mutex
	closed   bool
	freed    bool
	modules  int // open modules
	inflight int // compiles running, abandoned ones included
}

// free releases the linker and the engine once the backend is closed and
// nothing uses them any more: no module open, no compile running (an
// abandoned compile runs on, and freeing its engine under it would crash).
// b.mu is held.
func (b *backend) free() {
	if b.closed && !b.freed && b.modules == 0 && b.inflight == 0 {
		b.freed = true
		b.linker.Close()
		b.engine.Close()
	}
}

func (b *backend) Name() string { return Name }

// drop closes a compiled module that Load does not return.
func (b *backend) drop(wm *wt.Module) {
	wm.Close()
	b.mu.Lock()
	b.modules--
	b.free()
	b.mu.Unlock()
}

// tick advances the engine's epoch every period until Close, keeping it at
// the number of periods since the backend started: a Ticker drops the
// ticks its goroutine was too late for (on a loaded machine, hundreds of
// milliseconds' worth), and a deadline counted in ticks would drift late by
// as much.
func (b *backend) tick() {
	defer close(b.done)
	t := time.NewTicker(b.period)
	defer t.Stop()
	start, epoch := time.Now(), uint64(0)
	for {
		select {
		case <-t.C:
			for want := uint64(time.Since(start) / b.period); epoch < want; epoch++ {
				b.engine.IncrementEpoch()
			}
		case <-b.stop:
			return
		}
	}
}

// Close stops the epoch ticker and releases the engine. Close every module
// first: the engine of a backend closed with modules open (or with a compile
// that Load abandoned still running) is released when the last of them is
// done.
func (b *backend) Close(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.stop)
	<-b.done
	b.free()
	if b.modules > 0 {
		return fmt.Errorf("%s: close with %d modules open", Name, b.modules)
	}
	return nil
}

// ticks is the epoch deadline, in ticks, of a call bounded by d: it ends
// between d and d plus one period after the call starts.
func (b *backend) ticks(d time.Duration) uint64 {
	return uint64((d+b.period-1)/b.period) + 1
}

type sig struct {
	name            string
	fn              int // index in pb_inst.fn
	params, results []wt.ValKind
}

// fnIndex is each export's index in pb_inst.fn.
var fnIndex = map[string]int{
	wasmabi.Version: fnVersion, wasmabi.Identity: fnIdentity, wasmabi.IdentityLen: fnIdentityLen,
	wasmabi.New: fnNew, wasmabi.Free: fnFree, wasmabi.Buffer: fnBuffer, wasmabi.Min: fnMin,
	wasmabi.Accumulate: fnAccumulate, wasmabi.Sum: fnSum, wasmabi.Upper: fnUpper,
	wasmabi.EventJSON: fnJSON, wasmabi.EventBinary: fnBinary, wasmabi.EventFlat: fnFlat,
	wasmabi.SetHost: fnSetHost, wasmabi.Callback: fnCallback,
}

// signatures are the required exports, optional the ones a module may
// lack: wasmabi's, in Wasmtime's value kinds.
var signatures, optional = sigs(wasmabi.Required), sigs(wasmabi.Optional)

func sigs(fs []wasmabi.Func) []sig {
	kinds := func(ts []byte) []wt.ValKind {
		ks := make([]wt.ValKind, len(ts))
		for i, t := range ts {
			ks[i] = map[byte]wt.ValKind{wasmabi.I32: wt.KindI32, wasmabi.I64: wt.KindI64}[t]
		}
		return ks
	}
	out := make([]sig, len(fs))
	for i, f := range fs {
		fn, ok := fnIndex[f.Name]
		if !ok {
			panic("wasmtime: export " + f.Name + " has no slot in pb_inst.fn")
		}
		out[i] = sig{f.Name, fn, kinds(f.Params), kinds(f.Results)}
	}
	return out
}

// funcNames names the exports by their index in pb_inst.fn.
var funcNames = func() [nFuncs]string {
	var n [nFuncs]string
	for _, s := range append(append([]sig{}, signatures...), optional...) {
		n[s.fn] = s.name
	}
	n[fnInit] = wasmabi.Init
	return n
}()

// Load compiles the module at path (or reads it from the cache), checks its
// exports and their signatures, then runs a probe instance to read its ABI
// version and identity: load is compile plus verification.
func (b *backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: sym, Err: err}
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, fail("", errors.New("load after close"))
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fail("", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x00asm")) {
		return nil, fail("", fmt.Errorf("%w: not a wasm module (no \\0asm header)", backends.ErrFormat))
	}
	// A compiled module holds the engine: it counts in b.modules from the
	// compile's end, and a compile in b.inflight while it runs, so that
	// Close frees the engine under neither.
	compile := func() (*wt.Module, error) {
		b.mu.Lock()
		if b.freed {
			b.mu.Unlock()
			return nil, errors.New("backend closed")
		}
		b.inflight++
		b.mu.Unlock()
		wm, err := b.compile(bin)
		b.mu.Lock()
		b.inflight--
		if err == nil {
			b.modules++
		}
		b.free()
		b.mu.Unlock()
		return wm, err
	}
	wm, err := abandon.Wait(ctx, compile, b.drop)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail("", fmt.Errorf("compile: %w (the compile runs on: %w)", err, backends.ErrNoInterrupt))
		}
		return nil, fail("", fmt.Errorf("%w: compile: %w", backends.ErrFormat, err))
	}
	m := &module{b: b, path: path, wm: wm, book: modbook.Book{Backend: Name, Path: path}}
	if err := m.checkExports(); err != nil {
		b.drop(wm)
		return nil, err
	}
	if err := m.probe(ctx); err != nil {
		b.drop(wm)
		return nil, err
	}
	return m, nil
}

type module struct {
	b     *backend
	path  string
	wm    *wt.Module
	id    backends.Identity
	start bool // exports _initialize: a reactor (Go's wasip1 build)
	wasi  bool // imports wasi_snapshot_preview1
	has   [nFuncs]bool

	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

func (m *module) checkExports() error {
	fns := map[string][2][]wt.ValKind{}
	memory := false
	for _, e := range m.wm.Exports() {
		t := e.Type()
		if ft := t.FuncType(); ft != nil {
			fns[e.Name()] = [2][]wt.ValKind{kinds(ft.Params()), kinds(ft.Results())}
		} else if t.MemoryType() != nil && e.Name() == wasmabi.Memory {
			memory = true
		}
	}
	check := func(s sig) error {
		d := fns[s.name]
		if !equalKinds(d[0], s.params) || !equalKinds(d[1], s.results) {
			return m.book.Fail(s.name, fmt.Errorf("%w: signature %s, want %s", backends.ErrMissingExport,
				signature(d[0], d[1]), signature(s.params, s.results)))
		}
		m.has[s.fn] = true
		return nil
	}
	for _, s := range signatures {
		if _, ok := fns[s.name]; !ok {
			return m.book.Fail(s.name, backends.ErrMissingExport)
		}
		if err := check(s); err != nil {
			return err
		}
	}
	if !memory {
		return m.book.Fail(wasmabi.Memory, backends.ErrMissingExport)
	}
	for _, s := range optional {
		if _, ok := fns[s.name]; ok {
			if err := check(s); err != nil {
				return err
			}
		}
	}
	if d, ok := fns[wasmabi.Init]; ok && len(d[0]) == 0 && len(d[1]) == 0 {
		m.start = true
		m.has[fnInit] = true
	}
	for _, imp := range m.wm.Imports() {
		if imp.Module() == "wasi_snapshot_preview1" {
			m.wasi = true
		}
	}
	return nil
}

func kinds(ts []*wt.ValType) []wt.ValKind {
	ks := make([]wt.ValKind, len(ts))
	for i, t := range ts {
		ks[i] = t.Kind()
	}
	return ks
}

func equalKinds(a, b []wt.ValKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(params, results []wt.ValKind) string {
	name := func(ks []wt.ValKind) string {
		var b bytes.Buffer
		for i, k := range ks {
			if i > 0 {
				b.WriteString(", ")
			}
			switch k {
			case wt.KindI32, wt.KindI64, wt.KindF32, wt.KindF64, wt.KindExternref, wt.KindFuncref:
				b.WriteString(k.String())
			case 4:
				b.WriteString("v128")
			default:
				fmt.Fprintf(&b, "kind%d", k)
			}
		}
		return b.String()
	}
	return "(" + name(params) + ") -> (" + name(results) + ")"
}

// probe reads the module's ABI version and identity from an instance of
// its own.
func (m *module) probe(ctx context.Context) error {
	p, err := m.newInstance(ctx)
	if err != nil {
		return err
	}
	defer p.release()
	call := func(fn int) (uint32, error) {
		if err := p.call(fn); err != nil {
			return 0, err
		}
		return uint32(p.args[0][0]), nil
	}
	v, err := call(fnVersion)
	if err != nil {
		return err
	}
	if v != backends.ABIVersion {
		return m.book.Fail("", &backends.VersionError{Got: int32(v), Want: backends.ABIVersion})
	}
	ptr, err := call(fnIdentity)
	if err != nil {
		return err
	}
	n, err := call(fnIdentityLen)
	if err != nil {
		return err
	}
	raw, ok := p.read(ptr, n)
	if !ok {
		return m.book.Fail(wasmabi.Identity, fmt.Errorf("%w: identity [%d, +%d) is outside memory", backends.ErrIdentity, ptr, n))
	}
	m.id, err = backends.CheckArtifact(int32(v), string(raw), BuiltFor)
	if err != nil {
		return m.book.Fail("", err)
	}
	return nil
}

// bound is what an instance's epoch deadline callback (pbEpoch) decides
// with: while ctx is set (a start function runs), the guest runs on, a tick
// at a time, until ctx is done; otherwise the deadline is a call's timeout,
// and the guest stops there. stopped says why it stopped.
type bound struct {
	ctx     context.Context
	stopped error
}

func (b *bound) tick() bool {
	if b.ctx != nil {
		if err := b.ctx.Err(); err != nil {
			b.stopped = err
			return false
		}
		return true
	}
	b.stopped = context.DeadlineExceeded
	return false
}

// newInstance makes an instance of the module, its memory capped, and runs
// its start function, bounded by ctx: a Plugin without plugin state yet.
func (m *module) newInstance(ctx context.Context) (*Plugin, error) {
	if err := ctx.Err(); err != nil {
		return nil, m.book.Fail("", fmt.Errorf("instantiate: %w", err))
	}
	store := wt.NewStore(m.b.engine)
	store.Limiter(int64(m.b.limit), -1, -1, -1, -1)
	if m.wasi {
		// No arguments, environment, preopened directories or stdio.
		store.SetWasi(wt.NewWasiConfig())
	}
	p := &Plugin{m: m, store: store, b: &bound{}}
	p.c = newInst(store)
	p.addr = C.uintptr_t(uintptr(unsafe.Pointer(p.c)))
	p.args = (*rawArgs)(unsafe.Pointer(&p.c.args))
	p.h = cgo.NewHandle(p.b)
	setEpochCallback(store, uintptr(p.h))
	if ctx.Done() != nil {
		p.b.ctx = ctx // the start function runs until ctx is done
		setDeadline(p.c, 1)
	} else {
		setDeadline(p.c, epochNever)
	}
	inst, err := m.b.linker.Instantiate(store, m.wm)
	if err != nil {
		p.release()
		return nil, m.startError(p, "", err)
	}
	p.inst = inst
	mem := inst.GetExport(store, wasmabi.Memory)
	if mem == nil || mem.Memory() == nil {
		p.release()
		return nil, m.book.Fail(wasmabi.Memory, backends.ErrMissingExport)
	}
	setMemory(p.c, mem.Memory())
	if m.start {
		if err := p.call(fnInit); err != nil {
			p.release()
			return nil, err
		}
	}
	p.b.ctx = nil
	setDeadline(p.c, epochNever)
	p.memory()
	return p, nil
}

// startError explains an instantiation that failed.
func (m *module) startError(p *Plugin, sym string, err error) error {
	if p.b.stopped != nil {
		return m.book.Fail(sym, fmt.Errorf("instantiate: %w: %w", p.b.stopped, err))
	}
	return m.book.Fail(sym, fmt.Errorf("instantiate: %w", err))
}

// Instantiate makes a new instance in a store of its own, with its own
// memory, and a plugin state inside it.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if cfg.Emit != nil && (!m.has[fnSetHost] || !m.has[fnCallback]) {
		return nil, m.book.Fail(wasmabi.SetHost, fmt.Errorf("%w: a host function was given, the module takes none", backends.ErrMissingExport))
	}
	if cfg.CallTimeout < 0 {
		return nil, m.book.Fail("", fmt.Errorf("call timeout %v: want a positive duration", cfg.CallTimeout))
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
	p, err := m.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	for _, fn := range []int{fnMin, fnAccumulate, fnSum, fnUpper} {
		if err := p.lookup(fn); err != nil {
			p.release()
			return nil, err
		}
	}
	if cfg.CallTimeout > 0 {
		p.timeout = cfg.CallTimeout
		p.c.delta = C.uint64_t(m.b.ticks(cfg.CallTimeout))
	}
	if err := p.call(fnNew); err != nil {
		p.release()
		return nil, err
	}
	if p.state = uint32(p.args[0][0]); p.state == 0 {
		p.release()
		return nil, m.book.Fail(wasmabi.New, errors.New("plugin returned no state"))
	}
	if cfg.Emit != nil {
		if err := p.setHost(cfg.Emit); err != nil {
			p.release()
			return nil, err
		}
	}
	made = true
	return p, nil
}

// Close releases the compiled module. It fails while instances are open.
func (m *module) Close(ctx context.Context) error {
	return m.book.Close(func() error { m.b.drop(m.wm); return nil })
}

// Plugin is one wasmtime instance, in a store of its own. Its hot fields
// have cache lines of their own: instances are used from different
// goroutines.
type Plugin struct {
	_ cpu.CacheLinePad

	// closed is set by Close, and when a deadline stopped the guest (Close
	// then still has the store to free).
	closed bool
	c      *C.pb_inst // the C half: context, exports, argument array
	addr   C.uintptr_t
	args   *rawArgs // c.args
	state  uint32   // the guest's plugbench_state*
	buf    uint32   // guest buffer address, 0 until first used
	cap    uint32   // its size
	have   [nFuncs]bool

	m       *module
	store   *wt.Store
	inst    *wt.Instance
	b       *bound
	h       cgo.Handle // of b, for pbEpoch
	host    uint64     // hostfn handle of the emit function, 0 if none
	timeout time.Duration
	memSeen uint64 // memory size when last looked at (memory)
	other   string // the export in pb_inst.fn[fnOther] (CallExport)
	_       cpu.CacheLinePad
}

// lookup fills pb_inst.fn[fn] from the instance's export.
func (p *Plugin) lookup(fn int) error {
	f := p.inst.GetFunc(p.store, funcNames[fn])
	if f == nil {
		return p.m.book.Fail(funcNames[fn], backends.ErrMissingExport)
	}
	setFunc(p.c, fn, f)
	p.have[fn] = true
	return nil
}

// call calls export fn with the arguments in p.args: the one way every
// export is called, so that every call is bounded and explains its
// failure. The callers check p.closed.
func (p *Plugin) call(fn int) error {
	if !p.have[fn] {
		if err := p.lookup(fn); err != nil {
			return err
		}
	}
	if pbCall(p.addr, C.size_t(fn)) != 0 {
		name := funcNames[fn]
		if fn == fnOther {
			name = p.other
		}
		return p.callError(name)
	}
	return nil
}

// callError explains a failed call: a guest stopped at its deadline (the
// instance is then closed) or at the end of a start function's context,
// or one that ran out of memory.
func (p *Plugin) callError(name string) error {
	var err error = takeFailure(p.c)
	switch stopped := p.b.stopped; {
	case stopped != nil && p.b.ctx != nil:
		err = fmt.Errorf("stopped when its context ended: %w: %w", stopped, err)
	case stopped != nil:
		p.closed = true
		err = fmt.Errorf("stopped after %v, the instance is closed: %w: %w", p.timeout, stopped, err)
	default:
		before := p.memSeen
		if now := uint64(len(p.memory())); now > before {
			err = fmt.Errorf("%w: the guest's memory grew from %d to %d MiB in the call that failed, its limit is %d MiB: %w",
				backends.ErrMemoryLimit, before>>20, now>>20, p.m.b.limit>>20, err)
		}
	}
	return p.m.book.Fail(name, err)
}

func (p *Plugin) closedError(name string) error { return p.m.book.Fail(name, backends.ErrClosed) }

// memory returns the guest's memory as it is now (valid until the next
// call of the guest).
func (p *Plugin) memory() []byte {
	pbMem(p.addr)
	p.memSeen = uint64(p.c.size)
	if p.c.base == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p.c.base)), int(p.c.size))
}

// read returns n bytes of guest memory at ptr, in place.
func (p *Plugin) read(ptr, n uint32) ([]byte, bool) {
	mem := p.memory()
	if uint64(ptr)+uint64(n) > uint64(len(mem)) {
		return nil, false
	}
	return mem[ptr : ptr+n], true
}

// Min calls plugbench_min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.closed {
		return 0, p.closedError(wasmabi.Min)
	}
	p.args[0][0], p.args[1][0] = uint64(uint32(a)), uint64(uint32(b))
	if pbCall(p.addr, fnMin) != 0 {
		return 0, p.callError(wasmabi.Min)
	}
	return int32(uint32(p.args[0][0])), nil
}

// Accumulate calls plugbench_accumulate with this instance's state.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if p.closed {
		return 0, p.closedError(wasmabi.Accumulate)
	}
	p.args[0][0], p.args[1][0] = uint64(p.state), uint64(x)
	if pbCall(p.addr, fnAccumulate) != 0 {
		return 0, p.callError(wasmabi.Accumulate)
	}
	return int64(p.args[0][0]), nil
}

// Sum copies b into the guest buffer and calls plugbench_sum on it.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	ptr, err := p.in(b)
	if err != nil {
		return 0, err
	}
	p.args[0][0], p.args[1][0] = uint64(ptr), uint64(len(b))
	if pbCall(p.addr, fnSum) != 0 {
		return 0, p.callError(wasmabi.Sum)
	}
	return p.args[0][0], nil
}

// Upper copies b into the guest buffer, calls plugbench_upper on it and
// copies the result back into b.
func (p *Plugin) Upper(b []byte) error {
	ptr, err := p.in(b)
	if err != nil {
		return err
	}
	p.args[0][0], p.args[1][0] = uint64(ptr), uint64(len(b))
	if pbCall(p.addr, fnUpper) != 0 {
		return p.callError(wasmabi.Upper)
	}
	// Read again: the call may have grown (and so moved) the memory.
	view, ok := p.read(ptr, uint32(len(b)))
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
		return 0, p.closedError(wasmabi.Buffer)
	}
	if len(b) == 0 {
		return p.buf, nil
	}
	if uint64(len(b)) > uint64(p.cap) {
		if err := p.grow(len(b)); err != nil {
			return 0, err
		}
	}
	view, ok := p.read(p.buf, uint32(len(b)))
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
	p.args[0][0], p.args[1][0] = uint64(p.state), uint64(n)
	if err := p.call(fnBuffer); err != nil {
		return err
	}
	ptr := uint32(p.args[0][0])
	if ptr == 0 {
		err := fmt.Errorf("guest could not allocate %d bytes", n)
		if size := uint64(len(p.memory())); size+uint64(n) > p.m.b.limit {
			err = fmt.Errorf("%w: %w: its memory is %d MiB, its limit %d MiB", backends.ErrMemoryLimit, err, size>>20, p.m.b.limit>>20)
		}
		return p.m.book.Fail(wasmabi.Buffer, err)
	}
	p.buf, p.cap = ptr, uint32(n)
	return nil
}

// Close frees the guest state and drops the instance's store. Later calls
// fail with backends.ErrClosed; a second Close does nothing.
func (p *Plugin) Close(ctx context.Context) error {
	if p.store == nil {
		return nil
	}
	var ferr error
	if !p.closed { // a guest stopped at a deadline has no state to free
		p.args[0][0] = uint64(p.state)
		ferr = p.call(fnFree)
	}
	p.release()
	p.m.book.Release()
	return ferr
}

// release frees the store and everything the instance holds.
func (p *Plugin) release() {
	if p.store == nil {
		return
	}
	p.store.Close()
	p.store, p.inst, p.closed = nil, nil, true
	freeInst(p.c)
	p.c, p.addr, p.args = nil, 0, nil
	p.h.Delete()
	if p.host != 0 {
		hostfn.Release(p.host)
		p.host = 0
	}
}

// CallExport calls an export of the instance by name, with and returning
// raw wasm values (i32 and i64, as uint64): for tests and probes beyond the
// contract (a guest's view of its sandbox, say). It is bounded like every
// call.
func (p *Plugin) CallExport(name string, args ...uint64) ([]uint64, error) {
	if p.closed {
		return nil, p.closedError(name)
	}
	f := p.inst.GetFunc(p.store, name)
	if f == nil {
		return nil, p.m.book.Fail(name, backends.ErrMissingExport)
	}
	ty := f.Type(p.store)
	np, nr := len(ty.Params()), len(ty.Results())
	if len(args) != np || np > len(p.args) || nr > len(p.args) {
		return nil, p.m.book.Fail(name, fmt.Errorf("%d arguments for %d parameters and %d results", len(args), np, nr))
	}
	setFunc(p.c, fnOther, f)
	p.have[fnOther], p.other = true, name
	for i, a := range args {
		p.args[i][0] = a
	}
	if err := p.call(fnOther); err != nil {
		return nil, err
	}
	out := make([]uint64, nr)
	for i, r := range ty.Results() {
		out[i] = p.args[i][0]
		if r.Kind() != wt.KindI64 {
			out[i] &= 0xffff_ffff // an i32 or f32 writes the low 4 bytes only
		}
	}
	return out, nil
}

// ReadMemory copies n bytes of the instance's memory at ptr.
func (p *Plugin) ReadMemory(ptr, n uint32) ([]byte, bool) {
	if p.closed {
		return nil, false
	}
	b, ok := p.read(ptr, n)
	return bytes.Clone(b), ok
}
