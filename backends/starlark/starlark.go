// Package starlark is plugbench's backend for a guest written in Starlark
// (go.starlark.net, the Go implementation of the configuration language
// of Bazel, embedded by Telegraf's processors and others): the guest's
// source (fixtures/starlark/plugbench.star) compiled by Load and run by
// an interpreter inside the host.
//
// # Artifact
//
// The artifact is a Starlark file. Load compiles it once, runs its top
// level under a thread bound to Load's context, and freezes its globals,
// which every instance then shares. The file defines:
//
//   - abi_version() and identity(), checked with backends.CheckArtifact
//     ("lang=starlark backend=starlark toolchain=go.starlark.net");
//   - new(emit): one instance, as a dict of the functions min,
//     accumulate, sum, upper, callback and process, bound to the
//     instance's state; emit is the host function (backends.WithEmit).
//
// A missing file matches fs.ErrNotExist; a folder, a file Starlark cannot
// parse or resolve, and a top level that fails match backends.ErrFormat; a missing definition, or one that
// is not a function, matches backends.ErrMissingExport and names it. The
// file may use while loops and top-level control flow (the fault guests
// do); Starlark's other dialect options keep their defaults.
//
// # Calls
//
// A call is starlark.Call on the instance's own thread: an instance is
// not safe for concurrent use, as the contract says; instances are. Ints
// cross as Starlark's exact ints, a payload as bytes for sum and as a
// string for upper (the guest's doc says why), copied in and, for upper,
// back.
//
// # Faults
//
//   - Load honours its context: at its end the loading thread is
//     cancelled, which stops a top level that never returns at its next
//     step, and Load returns an error wrapping ctx.Err().
//   - WithCallTimeout is honoured the same way: the instance's thread is
//     cancelled at the deadline, the call returns an error wrapping
//     context.DeadlineExceeded, and the instance is closed.
//   - A Starlark error (fail, an index out of range, a wrong type) is an
//     error of the call; the instance stays usable.
//   - Starlark has no memory limit: the guest allocates from the host's
//     Go heap, and a guest that eats memory ends the host's process.
//
// # Events
//
// An event crosses as Starlark's own values, a dict of lists and dicts
// (the value transport), converted from the host's event.Event and back on
// every call: the price of scripting. events.go says why JSON through
// Starlark's json module is not offered.
package starlark

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names, and the backend the
// guest's identity names.
const Name = "starlark"

// The guest's definitions.
const (
	SymABIVersion = "abi_version"
	SymIdentity   = "identity"
	SymNew        = "new"
)

// The functions of an instance's dict, in the contract's order.
var instanceFuncs = []string{"min", "accumulate", "sum", "upper", "callback", "process"}

// fileOptions are the dialect a guest is written in: while loops and
// top-level control flow allowed, the rest as Starlark's defaults.
var fileOptions = &syntax.FileOptions{While: true, TopLevelControl: true}

// Config configures the starlark backend. It has no settings: it is here
// so that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the starlark backend. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Load compiles the file at path, runs its top level and checks its
// version and identity.
func (backend) Load(ctx context.Context, path string) (backends.Module, error) {
	m := &module{path: path, book: modbook.Book{Backend: Name, Path: path}}
	src, err := m.book.ReadSource(ctx)
	if err != nil {
		return nil, err
	}
	_, prog, err := starlark.SourceProgramOptions(fileOptions, path, src, func(string) bool { return false })
	if err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: %w", backends.ErrFormat, err))
	}
	th := newThread("load")
	stop := context.AfterFunc(ctx, func() { th.Cancel(ctx.Err().Error()) })
	globals, err := prog.Init(th, nil)
	if !stop() {
		return nil, m.book.Fail("", fmt.Errorf("the top level ran past Load's context: %w", ctx.Err()))
	}
	if err != nil {
		return nil, m.book.Fail("", fmt.Errorf("%w: the top level: %w", backends.ErrFormat, err))
	}
	globals.Freeze()
	fn := func(name string) (starlark.Callable, error) {
		f, ok := globals[name].(*starlark.Function)
		if !ok {
			return nil, m.book.Fail(name, backends.ErrMissingExport)
		}
		return f, nil
	}
	var fns [3]starlark.Callable
	for i, name := range []string{SymABIVersion, SymIdentity, SymNew} {
		if fns[i], err = fn(name); err != nil {
			return nil, err
		}
	}
	v, err := starlark.Call(th, fns[0], nil, nil)
	if err != nil {
		return nil, m.book.Fail(SymABIVersion, err)
	}
	version, err := toInt64(v)
	if err != nil || version != int64(int32(version)) {
		return nil, m.book.Fail(SymABIVersion, fmt.Errorf("%w: %s is not an int32", backends.ErrIdentity, v))
	}
	v, err = starlark.Call(th, fns[1], nil, nil)
	if err != nil {
		return nil, m.book.Fail(SymIdentity, err)
	}
	idStr, ok := starlark.AsString(v)
	if !ok {
		return nil, m.book.Fail(SymIdentity, fmt.Errorf("%w: a %s, want a string", backends.ErrIdentity, v.Type()))
	}
	if m.id, err = backends.CheckArtifact(int32(version), idStr, Name); err != nil {
		return nil, m.book.Fail("", err)
	}
	m.new = fns[2]
	return m, nil
}

// newThread returns a thread whose print goes nowhere: a guest has no
// output.
func newThread(name string) *starlark.Thread {
	return &starlark.Thread{Name: name, Print: func(*starlark.Thread, string) {}}
}

type module struct {
	path string
	id   backends.Identity
	new  starlark.Callable // frozen, shared by every instance
	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate calls the guest's new on a thread of the instance's own.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if err := ctx.Err(); err != nil {
		return nil, m.book.Fail("", fmt.Errorf("not instantiated: %w", err))
	}
	if err := m.book.Reserve(); err != nil {
		return nil, err
	}
	p := &Plugin{m: m, th: newThread("instance"), hasEmit: cfg.Emit != nil, timeout: cfg.CallTimeout}
	emit := cfg.Emit
	host := starlark.NewBuiltin("emit", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var v int64
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &v); err != nil {
			return nil, err
		}
		if emit == nil {
			return nil, backends.ErrNoHost
		}
		return starlark.MakeInt64(emit(v)), nil
	})
	stop := context.AfterFunc(ctx, func() { p.th.Cancel(ctx.Err().Error()) })
	v, err := starlark.Call(p.th, m.new, starlark.Tuple{host}, nil)
	if !stop() {
		m.book.Release()
		return nil, m.book.Fail(SymNew, fmt.Errorf("new ran past Instantiate's context: %w", ctx.Err()))
	}
	if err != nil {
		m.book.Release()
		return nil, m.book.Fail(SymNew, err)
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		m.book.Release()
		return nil, m.book.Fail(SymNew, fmt.Errorf("%w: new returned a %s, want a dict of functions", backends.ErrMissingExport, v.Type()))
	}
	for i, name := range instanceFuncs {
		f, found, _ := d.Get(starlark.String(name))
		c, ok := f.(starlark.Callable)
		if !found || !ok {
			m.book.Release()
			return nil, m.book.Fail(name, fmt.Errorf("%w: new's dict has no function %q", backends.ErrMissingExport, name))
		}
		p.fns[i] = c
	}
	p.open.Store(true)
	return p, nil
}

// Close marks the module closed: it fails while instances are open, and
// later Instantiates fail. The compiled program is garbage once no
// instance holds it.
func (m *module) Close(context.Context) error { return m.book.Close(nil) }

// Plugin is one instance of the Starlark guest.
type Plugin struct {
	m       *module
	th      *starlark.Thread
	fns     [6]starlark.Callable // instanceFuncs
	open    atomic.Bool
	hasEmit bool
	timeout time.Duration // 0: calls are not bounded
}

const (
	fnMin = iota
	fnAccumulate
	fnSum
	fnUpper
	fnCallback
	fnProcess
)

// call calls the instance's function i with args, bounded by the
// instance's timeout if it has one.
func (p *Plugin) call(i int, args starlark.Tuple) (v starlark.Value, err error) {
	name := instanceFuncs[i]
	if !p.open.Load() {
		return nil, backends.Closed(Name, name)
	}
	fail := func(err error) error { return &backends.Error{Backend: Name, Path: p.m.path, Symbol: name, Err: err} }
	defer func() {
		// A host function that panics unwinds through the interpreter.
		if r := recover(); r != nil {
			v, err = nil, fail(fmt.Errorf("panic: %v", r))
		}
	}()
	if p.timeout == 0 {
		v, err = starlark.Call(p.th, p.fns[i], args, nil)
		if err != nil {
			return nil, fail(err)
		}
		return v, nil
	}
	var fired atomic.Bool
	t := time.AfterFunc(p.timeout, func() {
		fired.Store(true)
		p.th.Cancel("the call's timeout")
	})
	v, err = starlark.Call(p.th, p.fns[i], args, nil)
	if !t.Stop() || fired.Load() {
		p.Close(context.Background())
		return nil, fail(fmt.Errorf("call stopped after %v, instance closed: %w", p.timeout, context.DeadlineExceeded))
	}
	if err != nil {
		return nil, fail(err)
	}
	return v, nil
}

// toInt64 converts a Starlark int that fits in an int64.
func toInt64(v starlark.Value) (int64, error) {
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, fmt.Errorf("a %s, want an int", v.Type())
	}
	n, ok := i.Int64()
	if !ok {
		return 0, fmt.Errorf("%s does not fit in an int64", i)
	}
	return n, nil
}

// result converts the int the function i returned.
func (p *Plugin) result(i int, v starlark.Value) (int64, error) {
	n, err := toInt64(v)
	if err != nil {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: instanceFuncs[i], Err: fmt.Errorf("returned %w", err)}
	}
	return n, nil
}

// Min calls the instance's min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	v, err := p.call(fnMin, starlark.Tuple{starlark.MakeInt64(int64(a)), starlark.MakeInt64(int64(b))})
	if err != nil {
		return 0, err
	}
	n, err := p.result(fnMin, v)
	if err == nil && n != int64(int32(n)) {
		err = &backends.Error{Backend: Name, Path: p.m.path, Symbol: "min", Err: fmt.Errorf("returned %d, not an int32", n)}
	}
	return int32(n), err
}

// Accumulate calls the instance's accumulate.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	v, err := p.call(fnAccumulate, starlark.Tuple{starlark.MakeInt64(x)})
	if err != nil {
		return 0, err
	}
	return p.result(fnAccumulate, v)
}

// Sum calls the instance's sum with a copy of b, as Starlark bytes.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	v, err := p.call(fnSum, starlark.Tuple{starlark.Bytes(b)})
	if err != nil {
		return 0, err
	}
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: "sum", Err: fmt.Errorf("returned a %s, want an int", v.Type())}
	}
	n, ok := i.Uint64()
	if !ok {
		return 0, &backends.Error{Backend: Name, Path: p.m.path, Symbol: "sum", Err: fmt.Errorf("returned %s, not a uint64", i)}
	}
	return n, nil
}

// Upper calls the instance's upper with a copy of b, as a Starlark
// string, and copies the string it returns back into b.
func (p *Plugin) Upper(b []byte) error {
	v, err := p.call(fnUpper, starlark.Tuple{starlark.String(b)})
	if err != nil {
		return err
	}
	s, ok := v.(starlark.String)
	if !ok || len(s) != len(b) {
		return &backends.Error{Backend: Name, Path: p.m.path, Symbol: "upper", Err: fmt.Errorf("returned %s, want a string of %d bytes", v.Type(), len(b))}
	}
	copy(b, s)
	return nil
}

// Callback has the guest call the host's emit function k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "callback")
	}
	if !p.hasEmit {
		return 0, backends.ErrNoHost
	}
	v, err := p.call(fnCallback, starlark.Tuple{starlark.MakeInt64(int64(k))})
	if err != nil {
		return 0, err
	}
	return p.result(fnCallback, v)
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
