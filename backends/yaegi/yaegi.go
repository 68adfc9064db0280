// Package yaegi is plugbench's backend for Go source interpreted by yaegi
// (github.com/traefik/yaegi v0.16.1, Traefik's Go interpreter): the Go
// guest's own source (fixtures/go/yaegi, package guest and package event)
// run by an interpreter inside the host, with nothing of the guest
// compiled.
//
// # Artifact
//
// The artifact is a folder, a GOPATH tree that fixtures.WriteYaegi
// writes: FOLDER/src/IMPORT/PATH/*.go for the entry package
// (fixtures.YaegiPackage) and every package of this module it imports,
// lowered to the Go that yaegi v0.16.1 runs (fixtures/yaegi.go says how and
// why). Load makes an interpreter with that folder as its GOPATH, imports
// the entry package (which interprets its imports and runs their init
// functions) and reads the entry's exports:
//
//   - ABIVersion func() int32 and Identity func() string, checked with
//     backends.CheckArtifact: the identity is "lang=go backend=yaegi
//     toolchain=go1.X.Y", the version of the standard library that
//     interpreted code calls into (the host's: yaegi runs the interpreted
//     code against the host's compiled standard library).
//   - New func(emit func(int64) int64) Exports: one instance, as a struct
//     of the func values of its methods, bound to it.
//   - Min func(a, b int32) int32, for the call-path benchmark.
//   - the sentinel errors of the interpreted package event, which the
//     backend maps to the host's (event.ErrMalformed, event.ErrLimit,
//     event.ErrSpace), since the interpreted package is not the host's.
//
// A missing folder matches fs.ErrNotExist; a folder without the entry's
// source, or source yaegi cannot parse or type-check, matches
// backends.ErrFormat; a missing export or one of another type matches
// backends.ErrMissingExport and names it.
//
// # Calls
//
// An interpreted function reaches the host as a Go func value made by
// reflect.MakeFunc: the host asserts it to its Go type once and calls it
// directly, the fastest of the ways measured (BenchmarkCrossing). Every
// call allocates the interpreter's frame (a frame, its slots, one
// reflect.New per local), so a call costs far more than a compiled one
// (the report has the figures). A yaegi type has no Go methods: the host
// cannot call a method of an interpreted value (through its own interface
// it could only with a wrapper type exported into the interpreter, which
// calls the same MakeFunc funcs one indirection later), so the guest's New
// hands over its bound methods.
//
// One interpreter serves every instance of a Module: the guest's packages
// are interpreted once, at Load, and Instantiate calls the interpreted
// New. Calls on different instances may run on different goroutines at
// once (every call has frames of its own; TestConcurrent runs under
// -race), with one caveat: yaegi builds some reflect types lazily, on a
// code path's first run, and caches them without a lock, so Load takes
// every export's paths once (Min's excepted: a fault variant misbehaves
// there) before any instance runs; a path first taken by two goroutines
// at once is still a data race inside yaegi (both build the same type).
// An instance made with WithCallTimeout gets an interpreter of its
// own (an Instantiate as costly as a Load), because yaegi stops a whole
// interpreter at once.
//
// # Sandbox
//
// The interpreted guest reaches only the standard library packages the
// guest imports (encoding/binary, errors, fmt, math, strconv, strings) and,
// of package runtime, Version and KeepAlive; everything else fails to
// import ("unable to find source related to"). No os, no syscall, no
// unsafe, no reflect, no net: no file, socket, environment or process. fmt's
// Print functions write to nothing, its Scan functions read nothing. What
// no Go interpreter can take away: the CPU and the memory of the host's
// process, and goroutines (a go statement in interpreted code).
//
// # Events
//
// The encoded transports only, json, binary and flat: bytes in, bytes out,
// the guest decoding and re-encoding with its interpreted package event.
// The value transport is not offered: the interpreted event.Event is a type
// yaegi built at run time (reflect.StructOf), not the host's event.Event,
// and carrying a host value across would be a field-by-field reflect copy,
// an encoding of its own.
//
// # Faults
//
//   - Load and Instantiate honour their context: the import runs under
//     yaegi's EvalWithContext, which at the context's end stops the
//     interpreted code (an init that never returns) at its next
//     statement; Load returns an error wrapping ctx.Err().
//   - WithCallTimeout is honoured: yaegi checks, before every statement it
//     executes, that its interpreter was not stopped, and stopping it
//     (through EvalWithContext with a done context, the only way yaegi
//     offers) ends a running call within a statement. The call returns an
//     error wrapping context.DeadlineExceeded and the instance is closed.
//     A call blocked outside interpreted code (in a host function, or on a
//     channel) is not stopped before it returns.
//   - A panic in interpreted code (its own, or a store through a nil
//     pointer, which yaegi's reflect-based execution turns into reflect's
//     panic "call of reflect.Value.Set on zero Value") unwinds through the
//     interpreter into the host's call. Every call recovers it into an
//     error wrapping a *PanicError (the recover's price is
//     BenchmarkCrossing's via=plugin against via=plugin-norecover). The
//     instance stays usable.
//   - No memory limit is possible: the guest allocates from the host's Go
//     heap. A guest that eats memory ends the process when the runtime
//     runs out ("fatal error: runtime: out of memory"), as a Go plugin
//     does; the suite's fault table runs it in a child process.
//
// Module.Close releases nothing (the interpreter is garbage once no
// instance holds it) and fails while instances are open.
package yaegi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names.
const Name = "yaegi"

// EntryPackage is the import path of the interpreted entry package
// (fixtures.YaegiPackage).
const EntryPackage = "github.com/plugbench/plugbench/fixtures/go/yaegi"

// The exports Load reads from the entry package.
const (
	SymABIVersion = "ABIVersion"
	SymIdentity   = "Identity"
	SymNew        = "New"
	SymMin        = "Min"
)

// The types of the exports, and of the fields of what New returns.
type (
	abiVersionFunc = func() int32
	identityFunc   = func() string
	minFunc        = func(a, b int32) int32
	emitFunc       = func(v int64) int64
	eventFunc      = func(in, out []byte) (int, error)
)

// allowed is what the interpreted guest may import: the standard library
// packages it uses, and of runtime only what it calls. Every other import
// fails.
var allowed = map[string][]string{ // import path → symbols (nil: all)
	"encoding/binary": nil,
	"errors":          nil,
	"fmt":             nil,
	"math":            nil,
	"strconv":         nil,
	"strings":         nil,
	"runtime":         {"Version", "KeepAlive"},
}

// symbols is the standard library the interpreter gets: stdlib.Symbols
// narrowed to allowed.
var symbols = sync.OnceValue(func() interp.Exports {
	ex := interp.Exports{}
	for path, names := range allowed {
		key := path + "/" + filepath.Base(path)
		all, ok := stdlib.Symbols[key]
		if !ok {
			panic("yaegi: the stdlib symbols lack " + key)
		}
		if names == nil {
			ex[key] = all
			continue
		}
		some := map[string]reflect.Value{}
		for _, n := range names {
			some[n] = all[n]
		}
		ex[key] = some
	}
	return ex
})

// Config configures the yaegi backend. It has no settings: it is here
// so that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the yaegi backend. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Load interprets the guest's source in the folder path (see the package
// doc) and checks its ABI version and identity.
func (backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: sym, Err: err}
	}
	g, err := interpret(ctx, path)
	if err != nil {
		var se *symbolError
		if errors.As(err, &se) {
			return nil, fail(se.sym, se.err)
		}
		return nil, fail("", err)
	}
	m := &module{path: path, g: g, book: modbook.Book{Backend: Name, Path: path}}
	if m.id, err = backends.CheckArtifact(g.version(), g.identity(), Name); err != nil {
		return nil, fail("", err)
	}
	if err := g.warm(); err != nil {
		return nil, fail(SymNew, err)
	}
	return m, nil
}

// warm makes an instance and takes every path of its exports once, on one
// goroutine, then frees it. yaegi builds some reflect types lazily, on a
// path's first run, and caches them without a lock: two instances taking
// a path for the first time on two goroutines at once race (both build the
// same type; the race detector sees it). Warmed at Load, the paths the
// instances take find their types built.
func (g *interpreter) warm() (err error) {
	ex, err := g.instance(func(v int64) int64 { return v })
	if err != nil {
		return err
	}
	defer ex.free()
	defer recoverPanic(&err)
	// Not Min: a fault variant's Min panics, loops or eats memory, and Load
	// must not run it. Its path (two plain calls) is short.
	b := []byte("warm")
	ex.accumulate(1)
	ex.sum(b)
	ex.upper(b)
	ex.callback(2)
	in, err := event.Shape("typical")
	if err != nil {
		return err
	}
	small, out := make([]byte, 8), make([]byte, 4096)
	for _, c := range []struct {
		t  event.Transport
		fn eventFunc
	}{{event.JSON, ex.eventJSON}, {event.Binary, ex.eventBinary}, {event.Flat, ex.eventFlat}} {
		enc, err := event.Append(c.t, nil, in)
		if err != nil {
			return err
		}
		if _, err := c.fn(enc, out); err != nil {
			return fmt.Errorf("%s: warm-up: %w", c.t, err)
		}
		c.fn(enc, small)    // ErrSpace
		c.fn(enc[:9], out)  // malformed
		c.fn([]byte{}, out) // empty
	}
	return nil
}

// symbolError is an error about one export.
type symbolError struct {
	sym string
	err error
}

func (e *symbolError) Error() string { return e.sym + ": " + e.err.Error() }

// interpreter is one yaegi interpreter holding the guest, and its exports.
type interpreter struct {
	in       *interp.Interpreter
	started  atomic.Pointer[chan struct{}] // closed by stop's evaluation once it runs (stopHook)
	release  atomic.Pointer[chan struct{}] // closed by stop to end its evaluation's Wait
	stopMu   sync.Mutex                    // held by stop
	version  abiVersionFunc
	identity identityFunc
	min      minFunc
	newFn    reflect.Value // func(emit) Exports
	sentinel [3]error      // the guest's event.ErrMalformed, ErrLimit, ErrSpace
}

// interpret makes an interpreter of the guest in the folder path.
func interpret(ctx context.Context, path string) (*interpreter, error) {
	abs, err := checkFolder(path)
	if err != nil {
		return nil, err
	}
	in := interp.New(interp.Options{
		GoPath: abs,
		Stdin:  strings.NewReader(""),
		Stdout: io.Discard,
		Stderr: io.Discard, // yaegi writes a line per frame of a panic there
		Args:   []string{},
		Env:    []string{},
	})
	if err := in.Use(symbols()); err != nil {
		return nil, fmt.Errorf("yaegi: stdlib symbols: %w", err)
	}
	g := &interpreter{in: in}
	if err := g.stopHook(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("import not started: %w", err)
	}
	if err := g.importEntry(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("import of %s stopped: %w", EntryPackage, err)
		}
		var p interp.Panic
		if errors.As(err, &p) {
			return nil, fmt.Errorf("an init function panicked: %w", &PanicError{Value: p.Value, Stack: p.Stack})
		}
		return nil, fmt.Errorf("%w: yaegi: %w", backends.ErrFormat, err)
	}
	for _, s := range []struct {
		name string
		to   any
	}{{SymABIVersion, &g.version}, {SymIdentity, &g.identity}, {SymMin, &g.min}} {
		if err := g.lookup(s.name, s.to); err != nil {
			return nil, err
		}
	}
	if g.newFn, err = g.value(SymNew); err != nil {
		return nil, err
	}
	t := g.newFn.Type()
	if t.Kind() != reflect.Func || t.NumIn() != 1 || t.In(0) != reflect.TypeFor[emitFunc]() || t.NumOut() != 1 || t.Out(0).Kind() != reflect.Struct {
		return nil, &symbolError{SymNew, fmt.Errorf("%w: is a %v, want a func(emit func(int64) int64) Exports", backends.ErrMissingExport, t)}
	}
	for i, name := range []string{"ErrMalformed", "ErrLimit", "ErrSpace"} {
		v, err := g.eventSentinel(name)
		if err != nil {
			return nil, &symbolError{"event." + name, fmt.Errorf("%w: %w", backends.ErrMissingExport, err)}
		}
		e, ok := v.Interface().(error)
		if !ok {
			return nil, &symbolError{"event." + name, fmt.Errorf("%w: is a %v, want an error", backends.ErrMissingExport, v.Type())}
		}
		g.sentinel[i] = e
	}
	return g, nil
}

// eventSentinel reads a sentinel error of the interpreted package event.
func (g *interpreter) eventSentinel(name string) (reflect.Value, error) {
	if _, err := g.in.Eval(`import guestevent "github.com/plugbench/plugbench/backends/event"`); err != nil {
		return reflect.Value{}, err
	}
	return g.in.Eval("guestevent." + name)
}

// checkFolder checks that path is a folder holding the entry package's
// source, and returns its absolute path.
func checkFolder(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%w: not a folder (a yaegi artifact is a GOPATH tree of Go source)", backends.ErrFormat)
	}
	entry := filepath.Join(abs, "src", filepath.FromSlash(EntryPackage))
	ents, err := os.ReadDir(entry)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".go") && !e.IsDir() {
			return abs, nil
		}
	}
	return "", fmt.Errorf("%w: no Go source in src/%s", backends.ErrFormat, EntryPackage)
}

// value evaluates the entry's export name.
func (g *interpreter) value(name string) (reflect.Value, error) {
	v, err := g.in.Eval("entry." + name)
	if err != nil {
		return v, &symbolError{name, fmt.Errorf("%w: %w", backends.ErrMissingExport, err)}
	}
	if !v.IsValid() {
		return v, &symbolError{name, fmt.Errorf("%w: no value", backends.ErrMissingExport)}
	}
	return v, nil
}

// lookup evaluates the entry's export name and stores it in *to (to is a
// pointer to a func variable).
func (g *interpreter) lookup(name string, to any) error {
	v, err := g.value(name)
	if err != nil {
		return err
	}
	dst := reflect.ValueOf(to).Elem()
	if v.Type() != dst.Type() {
		return &symbolError{name, fmt.Errorf("%w: is a %v, want a %v", backends.ErrMissingExport, v.Type(), dst.Type())}
	}
	dst.Set(v)
	return nil
}

// exports is one instance's methods, as New returned them.
type exports struct {
	min         minFunc
	accumulate  func(x int64) int64
	sum         func(p []byte) uint64
	upper       func(p []byte)
	callback    func(k int32) int64
	eventJSON   eventFunc
	eventBinary eventFunc
	eventFlat   eventFunc
	free        func()
}

// instance calls the interpreted New and reads its methods.
func (g *interpreter) instance(emit emitFunc) (ex exports, err error) {
	defer recoverPanic(&err)
	arg := reflect.ValueOf(emit)
	if emit == nil {
		arg = reflect.Zero(reflect.TypeFor[emitFunc]())
	}
	v := g.newFn.Call([]reflect.Value{arg})[0]
	for _, f := range []struct {
		name string
		to   any
	}{
		{"Min", &ex.min}, {"Accumulate", &ex.accumulate}, {"Sum", &ex.sum}, {"Upper", &ex.upper},
		{"Callback", &ex.callback}, {"EventJSON", &ex.eventJSON}, {"EventBinary", &ex.eventBinary},
		{"EventFlat", &ex.eventFlat}, {"Free", &ex.free},
	} {
		fv := v.FieldByName(f.name)
		dst := reflect.ValueOf(f.to).Elem()
		if !fv.IsValid() {
			return ex, fmt.Errorf("%w: New returned a %v, which lacks %s", backends.ErrMissingExport, v.Type(), f.name)
		}
		if fv.Type() != dst.Type() {
			return ex, fmt.Errorf("%w: New's %s is a %v, want a %v", backends.ErrMissingExport, f.name, fv.Type(), dst.Type())
		}
		if fv.IsNil() {
			return ex, fmt.Errorf("%w: New's %s is nil", backends.ErrMissingExport, f.name)
		}
		dst.Set(fv)
	}
	return ex, nil
}

// importEntry imports the entry package, running its init functions,
// bounded by ctx. yaegi's EvalWithContext stops the frames running when
// its context ends, but an import spends its first tens of milliseconds
// (hundreds on a loaded machine) parsing and compiling, and an init that
// starts after the stop never sees it and runs for good. So when ctx ends
// first, the interpreter is stopped again and again until the import
// returns.
func (g *interpreter) importEntry(ctx context.Context) error {
	src := `import entry "` + EntryPackage + `"`
	if ctx.Done() == nil {
		_, err := g.in.Eval(src)
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- interp.Panic{Value: r, Stack: debug.Stack()}
			}
		}()
		_, err := g.in.Eval(src)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
			g.stop()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return ctx.Err()
}

// stopPackage is the package through which stop's evaluation says it runs.
const stopPackage = "plugbench/yaegistop"

// stopHook gives the interpreter stopPackage's two functions: Started,
// which closes the channel stop waits on (once: a guest that imported the
// package could call it too), and Wait, which blocks until stop lets it
// go; and imports the package.
func (g *interpreter) stopHook() error {
	started := func() {
		if c := g.started.Swap(nil); c != nil {
			close(*c)
		}
	}
	wait := func() {
		if c := g.release.Load(); c != nil {
			<-*c
		}
	}
	if err := g.in.Use(interp.Exports{stopPackage + "/yaegistop": {
		"Started": reflect.ValueOf(started), "Wait": reflect.ValueOf(wait),
	}}); err != nil {
		return fmt.Errorf("yaegi: %s: %w", stopPackage, err)
	}
	if _, err := g.in.Eval(`import "` + stopPackage + `"`); err != nil {
		return fmt.Errorf("yaegi: import %s: %w", stopPackage, err)
	}
	return nil
}

// stop stops every call running in the interpreter, now and for good.
// yaegi's only way is EvalWithContext, whose context ends while its
// evaluation runs: every frame then sees, at its next statement, that its
// interpreter was stopped. The context must end after the evaluation
// started, not before, or the evaluation runs on unstopped (one of "for
// {}" under a context already done spun for ever). So the evaluation
// calls yaegistop.Started, and only then is the context cancelled; it
// waits in yaegistop.Wait, spinning nothing, until stop lets it end.
func (g *interpreter) stop() {
	// One at a time: two would each take the other's signal.
	g.stopMu.Lock()
	defer g.stopMu.Unlock()
	c, release := make(chan struct{}), make(chan struct{})
	g.started.Store(&c)
	g.release.Store(&release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c:
			cancel()
		case <-ctx.Done():
		}
	}()
	g.in.EvalWithContext(ctx, "yaegistop.Started(); yaegistop.Wait()")
	close(release)
}

type module struct {
	path string
	id   backends.Identity
	g    *interpreter

	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes an instance: a call of the interpreted New. With
// WithCallTimeout, the instance gets an interpreter of its own, which
// Instantiate loads as Load does (honouring ctx), since a timeout stops a
// whole interpreter.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if err := m.book.Reserve(); err != nil { // Close waits for this instance
		return nil, err
	}
	g := m.g
	if cfg.CallTimeout > 0 {
		var err error
		if g, err = interpret(ctx, m.path); err != nil {
			m.book.Release()
			return nil, m.book.Fail("", fmt.Errorf("an interpreter for WithCallTimeout: %w", err))
		}
	}
	ex, err := g.instance(cfg.Emit)
	if err != nil {
		m.book.Release()
		return nil, m.book.Fail(SymNew, err)
	}
	p := &Plugin{ex: ex, g: g, m: m, emit: cfg.Emit != nil, timeout: cfg.CallTimeout}
	p.open.Store(true)
	return p, nil
}

// Close marks the module closed: it fails while instances are open, and
// later Instantiates fail.
func (m *module) Close(context.Context) error { return m.book.Close(nil) }

// Plugin is one instance of the interpreted guest.
type Plugin struct {
	ex      exports
	g       *interpreter
	m       *module
	open    atomic.Bool
	emit    bool
	timeout time.Duration // 0: calls are not bounded
}

// PanicError is a panic of interpreted code, recovered.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack (the interpreter's)
}

func (e *PanicError) Error() string { return fmt.Sprintf("yaegi: the guest panicked: %v", e.Value) }

// Unwrap returns the panic's value when it is an error (a runtime.Error
// for a nil dereference).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// recoverPanic, deferred, turns a panic into *err, a *PanicError.
func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// call runs f, the body of the call named name: recovering a panic into an
// error, and bounded by the instance's timeout if it has one.
func call[T any](p *Plugin, name string, f func() T) (v T, err error) {
	if !p.open.Load() {
		return v, backends.Closed(Name, name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = &backends.Error{Backend: Name, Path: p.m.path, Symbol: name, Err: &PanicError{Value: r, Stack: debug.Stack()}}
		}
	}()
	if p.timeout == 0 {
		return f(), nil
	}
	var fired atomic.Bool
	t := time.AfterFunc(p.timeout, func() {
		fired.Store(true)
		p.g.stop()
	})
	v = f()
	if !t.Stop() || fired.Load() {
		var zero T
		p.Close(context.Background())
		return zero, &backends.Error{Backend: Name, Path: p.m.path, Symbol: name,
			Err: fmt.Errorf("call stopped after %v, instance closed: %w", p.timeout, context.DeadlineExceeded)}
	}
	return v, nil
}

// Min calls the instance's Min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.timeout == 0 && p.open.Load() {
		return p.minFast(a, b)
	}
	return call(p, "Min", func() int32 { return p.ex.min(a, b) })
}

// minFast is Min without a timeout: no closure.
func (p *Plugin) minFast(a, b int32) (_ int32, err error) {
	defer recoverPanic(&err)
	return p.ex.min(a, b), nil
}

// Accumulate calls the instance's Accumulate.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	return call(p, "Accumulate", func() int64 { return p.ex.accumulate(x) })
}

// Sum calls the instance's Sum on b in place: no copy.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	return call(p, "Sum", func() uint64 { return p.ex.sum(b) })
}

// Upper calls the instance's Upper on b in place.
func (p *Plugin) Upper(b []byte) error {
	_, err := call(p, "Upper", func() struct{} { p.ex.upper(b); return struct{}{} })
	return err
}

// Callback has the guest call the host's emit function k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "Callback")
	}
	if !p.emit {
		return 0, backends.ErrNoHost
	}
	return call(p, "Callback", func() int64 { return p.ex.callback(k) })
}

// Close frees the instance. Later calls fail with backends.ErrClosed; a
// second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if !p.open.Swap(false) {
		return nil
	}
	if p.ex.free != nil && p.g == p.m.g {
		func() {
			defer func() { recover() }()
			p.ex.free()
		}()
	}
	p.m.book.Release()
	return nil
}
