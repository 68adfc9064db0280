// Package lua is plugbench's backend for a guest written in Lua 5.1, run
// by gopher-lua (github.com/yuin/gopher-lua, the Lua VM in pure Go that
// many Go servers and games embed): the guest's source
// (fixtures/lua/plugbench.lua) compiled by Load and run by an interpreter
// inside the host.
//
// # Artifact
//
// The artifact is a Lua file. Load parses and compiles it once, to a
// function prototype that every instance shares (gopher-lua's byte code
// is read-only), and runs its top level once in a state of its own to
// check it. The file defines, as globals:
//
//   - abi_version() and identity(), checked with backends.CheckArtifact
//     ("lang=lua backend=lua toolchain=gopher-lua");
//   - new(emit): one instance, as a table of the functions min,
//     accumulate, sum, upper, callback and process, bound to the
//     instance's state; emit is the host function (backends.WithEmit).
//
// A missing file matches fs.ErrNotExist; a folder, a file Lua cannot
// parse, and a top level that fails match backends.ErrFormat; a missing
// definition, or one that is not a function, matches
// backends.ErrMissingExport and names it.
//
// # Instances
//
// A gopher-lua state is for one goroutine at a time and holds the
// globals, so each instance is a state of its own: Instantiate makes one
// with Lua's base, table, string and math libraries (not io, os or
// package, and without dofile and loadfile: a plugin gets no files), runs
// the shared prototype's top level in it, and calls new.
//
// # Calls
//
// A call pushes the function and its arguments on the instance's stack
// and calls it protected (PCall): an instance is not safe for concurrent
// use, as the contract says; instances are. Lua 5.1's only number is a
// float64, so an int64 crosses as two numbers, its high 32 bits signed
// and its low 32 bits unsigned, which the guest adds as two's complement
// does (the guest's doc says how); an int32 or a sum of bytes crosses as
// one. A payload crosses as a Lua string, copied in and, for upper, back.
//
// # Faults
//
//   - Load and Instantiate honour their context: a state with a context
//     checks it before every instruction, which stops a top level that
//     never returns, and they return an error wrapping ctx.Err().
//   - WithCallTimeout is honoured the same way: the instance's state has a
//     context of its own, cancelled at the deadline; the call returns an
//     error wrapping context.DeadlineExceeded, and the instance is closed.
//     The check costs every instruction of an instance with a timeout;
//     one without runs gopher-lua's loop without it.
//   - A Lua error (error(), indexing nil, a wrong type) is an error of the
//     call; the instance stays usable.
//   - gopher-lua has no memory limit: the guest allocates from the host's
//     Go heap, and a guest that eats memory ends the host's process.
//
// # Events
//
// An event crosses as Lua's own values, a table of arrays and tables (the
// value transport), converted from the host's event.Event and back on
// every call: the price of scripting. Lua has no JSON of its own, so no
// JSON transport is offered.
package lua

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names, and the backend the
// guest's identity names.
const Name = "lua"

// The guest's definitions.
const (
	SymABIVersion = "abi_version"
	SymIdentity   = "identity"
	SymNew        = "new"
)

// The functions of an instance's table, in the contract's order.
var instanceFuncs = []string{"min", "accumulate", "sum", "upper", "callback", "process"}

const (
	fnMin = iota
	fnAccumulate
	fnSum
	fnUpper
	fnCallback
	fnProcess
)

// Config configures the lua backend. It has no settings: it is here so
// that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the lua backend. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Load compiles the file at path, runs its top level in a state of its
// own and checks its version and identity.
func (backend) Load(ctx context.Context, path string) (backends.Module, error) {
	m := &module{path: path, book: modbook.Book{Backend: Name, Path: path}}
	src, err := m.book.ReadSource(ctx)
	if err != nil {
		return nil, err
	}
	chunk, err := parse.Parse(bytes.NewReader(src), path)
	if err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: %w", backends.ErrFormat, err))
	}
	if m.proto, err = glua.Compile(chunk, path); err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: %w", backends.ErrFormat, err))
	}
	L, err := m.state(ctx, "Load")
	if err != nil {
		return nil, err
	}
	defer L.Close()
	for _, name := range []string{SymABIVersion, SymIdentity, SymNew} {
		if _, ok := L.GetGlobal(name).(*glua.LFunction); !ok {
			return nil, m.book.Fail(name, backends.ErrMissingExport)
		}
	}
	L.SetContext(ctx)
	defer L.RemoveContext()
	version, err := callGlobal(L, SymABIVersion)
	if err != nil {
		return nil, m.book.Fail(SymABIVersion, err)
	}
	n, ok := version.(glua.LNumber)
	if !ok || float64(n) != float64(int32(n)) {
		return nil, m.book.Fail(SymABIVersion, fmt.Errorf("%w: %s is not an int32", backends.ErrIdentity, version))
	}
	id, err := callGlobal(L, SymIdentity)
	if err != nil {
		return nil, m.book.Fail(SymIdentity, err)
	}
	idStr, ok := id.(glua.LString)
	if !ok {
		return nil, m.book.Fail(SymIdentity, fmt.Errorf("%w: a %s, want a string", backends.ErrIdentity, id.Type()))
	}
	if m.id, err = backends.CheckArtifact(int32(n), string(idStr), Name); err != nil {
		return nil, m.book.Fail("", err)
	}
	return m, nil
}

// callGlobal calls the global function name with no arguments and
// returns its one result.
func callGlobal(L *glua.LState, name string) (glua.LValue, error) {
	L.Push(L.GetGlobal(name))
	if err := L.PCall(0, 1, nil); err != nil {
		return nil, err
	}
	v := L.Get(-1)
	L.Pop(1)
	return v, nil
}

// libs are the libraries a guest's state opens: no io, os or package.
var libs = []struct {
	name string
	open glua.LGFunction
}{
	{glua.BaseLibName, glua.OpenBase},
	{glua.TabLibName, glua.OpenTable},
	{glua.StringLibName, glua.OpenString},
	{glua.MathLibName, glua.OpenMath},
}

// state returns a new state with the guest's top level run in it, bounded
// by ctx; op names the caller in errors.
func (m *module) state(ctx context.Context, op string) (*glua.LState, error) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	for _, lib := range libs {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		if err := L.PCall(1, 0, nil); err != nil {
			L.Close()
			return nil, m.book.Fail("", fmt.Errorf("open Lua's %s library: %w", lib.name, err))
		}
	}
	// The base library can read files; a plugin gets none.
	for _, name := range []string{"dofile", "loadfile"} {
		L.SetGlobal(name, glua.LNil)
	}
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(m.proto))
	err := L.PCall(0, 0, nil)
	L.RemoveContext()
	if ctx.Err() != nil {
		L.Close()
		return nil, m.book.Fail("", fmt.Errorf("the top level ran past %s's context: %w", op, ctx.Err()))
	}
	if err != nil {
		L.Close()
		return nil, m.book.Fail("", fmt.Errorf("%w: the top level: %w", backends.ErrFormat, err))
	}
	return L, nil
}

type module struct {
	path  string
	id    backends.Identity
	proto *glua.FunctionProto // read-only, shared by every instance
	book  modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes the instance's state and calls the guest's new in it.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
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
	L, err := m.state(ctx, "Instantiate")
	if err != nil {
		return nil, err
	}
	p := &Plugin{m: m, L: L, hasEmit: cfg.Emit != nil, timeout: cfg.CallTimeout}
	emit := cfg.Emit
	host := L.NewFunction(func(L *glua.LState) int {
		v := L.CheckNumber(1)
		if emit == nil {
			L.RaiseError("%v", backends.ErrNoHost)
		}
		hi, lo := split(emit(int64(v)))
		L.Push(hi)
		L.Push(lo)
		return 2
	})
	L.SetContext(ctx)
	L.Push(L.GetGlobal(SymNew))
	L.Push(host)
	err = L.PCall(1, 1, nil)
	L.RemoveContext()
	if ctx.Err() != nil {
		L.Close()
		return nil, m.book.Fail(SymNew, fmt.Errorf("new ran past Instantiate's context: %w", ctx.Err()))
	}
	if err != nil {
		L.Close()
		return nil, m.book.Fail(SymNew, err)
	}
	v := L.Get(-1)
	L.Pop(1)
	t, ok := v.(*glua.LTable)
	if !ok {
		L.Close()
		return nil, m.book.Fail(SymNew, fmt.Errorf("%w: new returned a %s, want a table of functions", backends.ErrMissingExport, v.Type()))
	}
	for i, name := range instanceFuncs {
		f, ok := t.RawGetString(name).(*glua.LFunction)
		if !ok {
			L.Close()
			return nil, m.book.Fail(name, fmt.Errorf("%w: new's table has no function %q", backends.ErrMissingExport, name))
		}
		p.fns[i] = f
	}
	if p.timeout > 0 {
		// Checked before every instruction from now on; cancelled by a
		// call that runs past the timeout.
		var cctx context.Context
		cctx, p.cancel = context.WithCancel(context.Background())
		L.SetContext(cctx)
	}
	return p, nil
}

// Close marks the module closed: it fails while instances are open, and
// later Instantiates fail. The prototype is garbage once no instance
// holds it.
func (m *module) Close(context.Context) error { return m.book.Close(nil) }

// Plugin is one instance of the Lua guest.
type Plugin struct {
	m       *module
	L       *glua.LState
	fns     [6]*glua.LFunction // instanceFuncs
	open    atomic.Bool
	hasEmit bool
	timeout time.Duration // 0: calls are not bounded
	cancel  context.CancelFunc
}

// call calls the instance's function i with the nargs values pushed after
// it, bounded by the instance's timeout if it has one, and leaves its
// nret results on the stack, for the caller to Pop.
func (p *Plugin) call(i, nargs, nret int) (err error) {
	name := instanceFuncs[i]
	fail := func(err error) error { return &backends.Error{Backend: Name, Path: p.m.path, Symbol: name, Err: err} }
	if p.timeout == 0 {
		if err := p.L.PCall(nargs, nret, nil); err != nil {
			return fail(err)
		}
		return nil
	}
	var fired atomic.Bool
	t := time.AfterFunc(p.timeout, func() {
		fired.Store(true)
		p.cancel()
	})
	err = p.L.PCall(nargs, nret, nil)
	if !t.Stop() || fired.Load() {
		if err == nil {
			p.L.Pop(nret)
		}
		p.Close(context.Background())
		return fail(fmt.Errorf("call stopped after %v, instance closed: %w", p.timeout, context.DeadlineExceeded))
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// push pushes the instance's function i: the call's first step.
func (p *Plugin) push(i int) error {
	if !p.open.Load() {
		return backends.Closed(Name, instanceFuncs[i])
	}
	p.L.Push(p.fns[i])
	return nil
}

// split is an int64 as the guest's pair: its high 32 bits, signed, and its
// low 32 bits, unsigned.
func split(x int64) (hi, lo glua.LNumber) {
	return glua.LNumber(x >> 32), glua.LNumber(uint32(x))
}

// join is split's inverse. A pair out of range, or not of integers,
// is an error.
func join(hi, lo glua.LValue) (int64, error) {
	h, ok1 := hi.(glua.LNumber)
	l, ok2 := lo.(glua.LNumber)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("an int64 is two numbers, got a %s and a %s", hi.Type(), lo.Type())
	}
	if float64(h) != math.Trunc(float64(h)) || h < math.MinInt32 || h > math.MaxInt32 ||
		float64(l) != math.Trunc(float64(l)) || l < 0 || l > math.MaxUint32 {
		return 0, fmt.Errorf("(%s, %s) is no int64's pair of 32-bit halves", h, l)
	}
	return int64(h)<<32 | int64(uint32(l)), nil
}

// pair pops the two numbers of an int64 the function i returned.
func (p *Plugin) pair(i int) (int64, error) {
	x, err := join(p.L.Get(-2), p.L.Get(-1))
	p.L.Pop(2)
	if err != nil {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: instanceFuncs[i], Err: fmt.Errorf("returned %w", err)}
	}
	return x, nil
}

// number pops the one number the function i returned, an integer in
// [lo, hi].
func (p *Plugin) number(i int, lo, hi float64) (float64, error) {
	v := p.L.Get(-1)
	p.L.Pop(1)
	n, ok := v.(glua.LNumber)
	if !ok || float64(n) != math.Trunc(float64(n)) || float64(n) < lo || float64(n) > hi {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: instanceFuncs[i], Err: fmt.Errorf("returned %s, want an integer in [%g, %g]", v, lo, hi)}
	}
	return float64(n), nil
}

// Min calls the instance's min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if err := p.push(fnMin); err != nil {
		return 0, err
	}
	p.L.Push(glua.LNumber(a))
	p.L.Push(glua.LNumber(b))
	if err := p.call(fnMin, 2, 1); err != nil {
		return 0, err
	}
	n, err := p.number(fnMin, math.MinInt32, math.MaxInt32)
	return int32(n), err
}

// Accumulate calls the instance's accumulate with x as its pair.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if err := p.push(fnAccumulate); err != nil {
		return 0, err
	}
	hi, lo := split(x)
	p.L.Push(hi)
	p.L.Push(lo)
	if err := p.call(fnAccumulate, 2, 2); err != nil {
		return 0, err
	}
	return p.pair(fnAccumulate)
}

// Sum calls the instance's sum with a copy of b, as a Lua string. The
// total is one number: below 2^53 for any payload under 32 TiB.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if err := p.push(fnSum); err != nil {
		return 0, err
	}
	p.L.Push(glua.LString(b))
	if err := p.call(fnSum, 1, 1); err != nil {
		return 0, err
	}
	n, err := p.number(fnSum, 0, 1<<53)
	return uint64(n), err
}

// Upper calls the instance's upper with a copy of b, as a Lua string, and
// copies the string it returns back into b.
func (p *Plugin) Upper(b []byte) error {
	if err := p.push(fnUpper); err != nil {
		return err
	}
	p.L.Push(glua.LString(b))
	if err := p.call(fnUpper, 1, 1); err != nil {
		return err
	}
	v := p.L.Get(-1)
	p.L.Pop(1)
	s, ok := v.(glua.LString)
	if !ok || len(s) != len(b) {
		return &backends.Error{Backend: Name, Path: p.m.path, Symbol: "upper", Err: fmt.Errorf("returned a %s, want a string of %d bytes", v.Type(), len(b))}
	}
	copy(b, s)
	return nil
}

// Callback has the guest call the host's emit function k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if err := p.push(fnCallback); err != nil {
		return 0, err
	}
	if !p.hasEmit {
		p.L.Pop(1)
		return 0, backends.ErrNoHost
	}
	p.L.Push(glua.LNumber(k))
	if err := p.call(fnCallback, 1, 2); err != nil {
		return 0, err
	}
	return p.pair(fnCallback)
}

// Close frees the instance. Later calls fail with backends.ErrClosed; a
// second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if !p.open.Swap(false) {
		return nil
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.L.Close()
	p.m.book.Release()
	return nil
}

var (
	_ backends.Caller      = (*Plugin)(nil)
	_ backends.EventPlugin = (*Plugin)(nil)
)
