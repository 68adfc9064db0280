// Package goja is plugbench's backend for a guest written in JavaScript,
// run by goja (github.com/dop251/goja, the ECMAScript engine in pure Go
// that k6 and many API gateways embed): the guest's source
// (fixtures/js/plugbench.js) compiled by Load and run by an interpreter
// inside the host.
//
// # Artifact
//
// The artifact is a JavaScript file (a script, not a module). Load
// compiles it once, to a program that every instance shares (goja's
// programs are not tied to a runtime), and runs it once in a runtime of
// its own to check it. The script defines, as globals:
//
//   - abi_version() and identity(), checked with backends.CheckArtifact
//     ("lang=js backend=goja toolchain=goja");
//   - newInstance(emit): one instance, as an object of the functions
//     min, accumulate, sum, upper, callback and process, bound to the
//     instance's state; emit is the host function (backends.WithEmit).
//     (new is a reserved word in JavaScript.)
//
// A missing file matches fs.ErrNotExist; a folder, a file goja cannot
// compile, and a script that throws match backends.ErrFormat; a missing
// definition, or one that is not a function, matches
// backends.ErrMissingExport and names it.
//
// # Instances
//
// A goja runtime is for one goroutine at a time and holds the globals, so
// each instance is a runtime of its own: Instantiate makes one, runs the
// shared program in it and calls newInstance. A runtime has
// ECMAScript's built-ins only: no require, no console, no files.
//
// # Calls
//
// A call is the function's goja.Callable: an instance is not safe for
// concurrent use, as the contract says; instances are. An int32 or a
// sum of bytes crosses as a number; an int64 as a BigInt, which the
// guest wraps with BigInt.asIntN(64, …). A payload crosses as a
// Uint8Array over the host's own bytes, shared, not copied: upper writes
// them in place. Its ArrayBuffer is detached after the call, so a guest
// that kept it can touch the bytes no more.
//
// # Faults
//
//   - Load and Instantiate honour their context: goja checks before every
//     instruction whether its runtime was interrupted, and the runtime is
//     interrupted when the context ends, which stops a script that never
//     returns; they return an error wrapping ctx.Err().
//   - WithCallTimeout is honoured the same way: the instance's runtime is
//     interrupted at the deadline, the call returns an error wrapping
//     context.DeadlineExceeded, and the instance is closed. (goja cannot
//     interrupt its built-ins, which are Go code: a single huge
//     'x'.repeat(n) runs to its end.)
//   - A JavaScript exception (throw, a property of null, a wrong type) is
//     an error of the call; the instance stays usable. A Go panic in the
//     host function is recovered into one too.
//   - goja has no memory limit: the guest allocates from the host's Go
//     heap, and a guest that eats memory ends the host's process.
//
// # Events
//
// An event crosses as JavaScript's own values, an object of arrays and
// objects (the value transport), converted from the host's event.Event
// and back on every call: the price of scripting. JSON through
// JSON.parse is not offered: it reads every number as a float64, so an
// int64 beyond 2^53 would change, and JSON.stringify refuses a BigInt.
package goja

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names, and the backend the
// guest's identity names.
const Name = "goja"

// The guest's definitions.
const (
	SymABIVersion = "abi_version"
	SymIdentity   = "identity"
	SymNew        = "newInstance"
)

// The functions of an instance's object, in the contract's order.
var instanceFuncs = []string{"min", "accumulate", "sum", "upper", "callback", "process"}

const (
	fnMin = iota
	fnAccumulate
	fnSum
	fnUpper
	fnCallback
	fnProcess
)

// Config configures the goja backend. It has no settings: it is here so
// that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the goja backend. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Load compiles the file at path, runs it in a runtime of its own and
// checks its version and identity.
func (backend) Load(ctx context.Context, path string) (backends.Module, error) {
	m := &module{path: path, book: modbook.Book{Backend: Name, Path: path}}
	src, err := m.book.ReadSource(ctx)
	if err != nil {
		return nil, err
	}
	if m.prog, err = goja.Compile(path, string(src), false); err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: %w", backends.ErrFormat, err))
	}
	vm, err := m.runtime(ctx, "Load")
	if err != nil {
		return nil, err
	}
	var fns [3]goja.Callable
	for i, name := range []string{SymABIVersion, SymIdentity, SymNew} {
		var ok bool
		if fns[i], ok = goja.AssertFunction(vm.Get(name)); !ok {
			return nil, m.book.Fail(name, backends.ErrMissingExport)
		}
	}
	version, err := bounded(ctx, vm, fns[0])
	if err != nil {
		return nil, m.book.Fail(SymABIVersion, err)
	}
	n, ok := version.Export().(int64)
	if !ok || n != int64(int32(n)) {
		return nil, m.book.Fail(SymABIVersion, fmt.Errorf("%w: %s is not an int32", backends.ErrIdentity, version))
	}
	id, err := bounded(ctx, vm, fns[1])
	if err != nil {
		return nil, m.book.Fail(SymIdentity, err)
	}
	idStr, ok := id.Export().(string)
	if !ok {
		return nil, m.book.Fail(SymIdentity, fmt.Errorf("%w: a %s, want a string", backends.ErrIdentity, id.ExportType()))
	}
	if m.id, err = backends.CheckArtifact(int32(n), idStr, Name); err != nil {
		return nil, m.book.Fail("", err)
	}
	return m, nil
}

// bounded calls fn with args in vm, interrupted when ctx ends.
func bounded(ctx context.Context, vm *goja.Runtime, fn goja.Callable, args ...goja.Value) (v goja.Value, err error) {
	stop := context.AfterFunc(ctx, func() { vm.Interrupt(ctx.Err()) })
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("panic: %v", r)
		}
		if !stop() {
			v, err = nil, fmt.Errorf("stopped: %w", ctx.Err())
		}
	}()
	return fn(goja.Undefined(), args...)
}

// runtime returns a new runtime with the guest's program run in it,
// bounded by ctx; op names the caller in errors.
func (m *module) runtime(ctx context.Context, op string) (*goja.Runtime, error) {
	vm := goja.New()
	stop := context.AfterFunc(ctx, func() { vm.Interrupt(ctx.Err()) })
	_, err := vm.RunProgram(m.prog)
	if !stop() {
		return nil, m.book.Fail("", fmt.Errorf("the script ran past %s's context: %w", op, ctx.Err()))
	}
	if err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: the script: %w", backends.ErrFormat, err))
	}
	return vm, nil
}

type module struct {
	path string
	id   backends.Identity
	prog *goja.Program // shared by every instance
	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes the instance's runtime and calls the guest's
// newInstance in it.
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
	vm, err := m.runtime(ctx, "Instantiate")
	if err != nil {
		return nil, err
	}
	p := &Plugin{m: m, vm: vm, hasEmit: cfg.Emit != nil, timeout: cfg.CallTimeout}
	p.u8, _ = goja.AssertConstructor(vm.Get("Uint8Array"))
	if p.u8 == nil {
		return nil, m.book.Fail(SymNew, errors.New("the runtime has no Uint8Array"))
	}
	emit := cfg.Emit
	host := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if emit == nil {
			panic(vm.NewGoError(backends.ErrNoHost))
		}
		return vm.ToValue(big.NewInt(emit(call.Argument(0).ToInteger())))
	})
	newFn, _ := goja.AssertFunction(vm.Get(SymNew))
	v, err := bounded(ctx, vm, newFn, host)
	if err != nil {
		return nil, m.book.Fail(SymNew, err)
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return nil, m.book.Fail(SymNew, fmt.Errorf("%w: newInstance returned %s, want an object of functions", backends.ErrMissingExport, v))
	}
	for i, name := range instanceFuncs {
		if p.fns[i], ok = goja.AssertFunction(obj.Get(name)); !ok {
			return nil, m.book.Fail(name, fmt.Errorf("%w: newInstance's object has no function %q", backends.ErrMissingExport, name))
		}
	}
	return p, nil
}

// Close marks the module closed: it fails while instances are open, and
// later Instantiates fail. The program is garbage once no instance holds
// it.
func (m *module) Close(context.Context) error { return m.book.Close(nil) }

// Plugin is one instance of the JavaScript guest.
type Plugin struct {
	m       *module
	vm      *goja.Runtime
	fns     [6]goja.Callable // instanceFuncs
	u8      goja.Constructor // Uint8Array
	open    atomic.Bool
	hasEmit bool
	timeout time.Duration // 0: calls are not bounded
}

// call calls the instance's function i with args, bounded by the
// instance's timeout if it has one.
func (p *Plugin) call(i int, args ...goja.Value) (v goja.Value, err error) {
	name := instanceFuncs[i]
	if !p.open.Load() {
		return nil, backends.Closed(Name, name)
	}
	fail := func(err error) error { return &backends.Error{Backend: Name, Path: p.m.path, Symbol: name, Err: err} }
	defer func() {
		// goja turns no Go panic but its own into an exception.
		if r := recover(); r != nil {
			v, err = nil, fail(fmt.Errorf("panic: %v", r))
		}
	}()
	if p.timeout == 0 {
		if v, err = p.fns[i](goja.Undefined(), args...); err != nil {
			return nil, fail(err)
		}
		return v, nil
	}
	var fired atomic.Bool
	t := time.AfterFunc(p.timeout, func() {
		fired.Store(true)
		p.vm.Interrupt("the call's timeout")
	})
	v, err = p.fns[i](goja.Undefined(), args...)
	if !t.Stop() || fired.Load() {
		p.Close(context.Background())
		return nil, fail(fmt.Errorf("call stopped after %v, instance closed: %w", p.timeout, context.DeadlineExceeded))
	}
	if err != nil {
		return nil, fail(err)
	}
	return v, nil
}

// errResult is a result of the function i that is not what it must be.
func (p *Plugin) errResult(i int, v goja.Value, want string) error {
	return &backends.Error{Backend: Name, Path: p.m.path, Symbol: instanceFuncs[i], Err: fmt.Errorf("returned %s, want %s", v, want)}
}

// toInt64 reads a BigInt that fits in an int64.
func toInt64(v goja.Value) (int64, bool) {
	b, ok := v.Export().(*big.Int)
	if !ok || !b.IsInt64() {
		return 0, false
	}
	return b.Int64(), true
}

// integer reads a number that is an integer in [lo, hi].
func integer(v goja.Value, lo, hi float64) (float64, bool) {
	if !goja.IsNumber(v) {
		return 0, false
	}
	f := v.ToFloat()
	return f, f == math.Trunc(f) && f >= lo && f <= hi
}

// Min calls the instance's min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	v, err := p.call(fnMin, p.vm.ToValue(a), p.vm.ToValue(b))
	if err != nil {
		return 0, err
	}
	n, ok := integer(v, math.MinInt32, math.MaxInt32)
	if !ok {
		return 0, p.errResult(fnMin, v, "an int32")
	}
	return int32(n), nil
}

// Accumulate calls the instance's accumulate with x as a BigInt.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	v, err := p.call(fnAccumulate, p.vm.ToValue(big.NewInt(x)))
	if err != nil {
		return 0, err
	}
	n, ok := toInt64(v)
	if !ok {
		return 0, p.errResult(fnAccumulate, v, "a BigInt in int64's range")
	}
	return n, nil
}

// bytes returns a Uint8Array over b, and detach, which ends the guest's
// access to b.
func (p *Plugin) bytes(b []byte) (goja.Value, func(), error) {
	ab := p.vm.NewArrayBuffer(b)
	u, err := p.u8(nil, p.vm.ToValue(ab))
	if err != nil {
		return nil, nil, err
	}
	return u, func() { ab.Detach() }, nil
}

// Sum calls the instance's sum with a Uint8Array over b.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "sum")
	}
	u, detach, err := p.bytes(b)
	if err != nil {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: "sum", Err: err}
	}
	v, err := p.call(fnSum, u)
	detach()
	if err != nil {
		return 0, err
	}
	n, ok := integer(v, 0, 1<<53)
	if !ok {
		return 0, p.errResult(fnSum, v, "an integer in [0, 2^53]")
	}
	return uint64(n), nil
}

// Upper calls the instance's upper with a Uint8Array over b, which it
// changes in place.
func (p *Plugin) Upper(b []byte) error {
	if !p.open.Load() {
		return backends.Closed(Name, "upper")
	}
	u, detach, err := p.bytes(b)
	if err != nil {
		return &backends.Error{Backend: Name, Path: p.m.path, Symbol: "upper", Err: err}
	}
	_, err = p.call(fnUpper, u)
	detach()
	return err
}

// Callback has the guest call the host's emit function k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "callback")
	}
	if !p.hasEmit {
		return 0, backends.ErrNoHost
	}
	v, err := p.call(fnCallback, p.vm.ToValue(k))
	if err != nil {
		return 0, err
	}
	n, ok := toInt64(v)
	if !ok {
		return 0, p.errResult(fnCallback, v, "a BigInt in int64's range")
	}
	return n, nil
}

// Close frees the instance. Later calls fail with backends.ErrClosed; a
// second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if !p.open.Swap(false) {
		return nil
	}
	p.m.book.Release()
	return nil
}

var (
	_ backends.Caller      = (*Plugin)(nil)
	_ backends.EventPlugin = (*Plugin)(nil)
)
