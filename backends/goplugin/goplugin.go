// Package goplugin is plugbench's backend for Go plugins: a Go package built
// with -buildmode=plugin (fixtures/go/plugin) and opened with Go's plugin
// package, so that host and plugin are one Go program sharing one runtime.
//
// # Symbols
//
// Load opens the plugin and looks up ABIVersion (func() int32), Identity
// (func() string, "lang=go backend=goplugin toolchain=goX.Y.Z"), New
// (func(emit func(int64) int64) any) and Min (func(a, b int32) int32). A
// missing symbol, or one of another type, is an error wrapping
// backends.ErrMissingExport naming it. New returns an instance whose
// methods the host calls through an interface the host defines (Guest):
// no type is shared but package event's, and the value satisfying the
// interface is checked at Load, naming the method that is missing.
//
// Every call is a method call through that interface: it costs what a
// call of the plugin's exported func Min through a func value costs (both
// are one indirect call: BenchmarkCrossing compares them), and it
// carries the instance's state with it, where functions would need a
// handle table. Min is exported as a function only for that comparison.
// Payloads cross without a copy, and an event crosses as the Go value it
// is (the value transport), as well as encoded (json, binary, flat).
//
// # What a Go plugin cannot do
//
//   - Be unloaded (golang/go#20461). Module.Close frees the instances and
//     refuses new ones, but the code and data stay mapped until the process
//     ends; [Mapped] tells how many bytes.
//   - Be opened twice. plugin.Open of a path already opened returns the same
//     plugin: Load then gives a fresh Module of it, but nothing is mapped or
//     initialised again ([Opened] tells the suite, so that cold loads are
//     measured in fresh processes only), and a file replaced on disk since
//     is not seen. A copy of a loaded plugin at another path, or another
//     build of the same main package, fails: "plugin already loaded".
//   - Disagree with the host. Host and plugin must be built by the same
//     toolchain with the same flags, and agree on the version of every
//     package they share; plugin.Open refuses a plugin that does not ("plugin
//     was built with a different version of package …"), and Load adds what
//     differs and how to rebuild (fixtures.BuildGoPlugin reads the running
//     host's flags).
//   - Be stopped: its code runs on the host's goroutines. WithCallTimeout is
//     refused with backends.ErrNoInterrupt, and a plugin whose init never
//     returns is abandoned at Load's deadline with an error wrapping
//     ctx.Err() and backends.ErrNoInterrupt; its init runs on, forever, and
//     every later Load in the process is refused at once.
//
// # Faults
//
// A plugin's code runs on the host's goroutine, in the host's runtime: what
// it does is what any Go function called there does. A panic (its own, or
// the run-time panic of a nil dereference, which Go makes of the SIGSEGV)
// propagates out of the call into the host's caller, and ends the process
// unless the caller recovers it, as it can: one runtime, one goroutine.
// The backend does not recover it for the caller. A deferred recover on every
// call costs more than the rest of the call (BenchmarkCrossing,
// via=plugin-recover against via=plugin; RATIONALE.md has the figures): it
// would measure the guard instead of the mechanism. The static backend does not recover
// its plugin's panics either, and the two fault rows then agree. Only New,
// called once per instance, is guarded: Instantiate returns its panic as an
// error wrapping a *PanicError.
//
// What no recover could catch ends the process as it would any Go program:
// a fatal error of the runtime (out of memory, a concurrent map write), a
// panic on a goroutine the plugin started, os.Exit. A call that never
// returns hangs its caller for good.
//
// Without cgo (or on a system Go's plugin package does not support), Load
// fails with an error wrapping errors.ErrUnsupported: see [Available].
package goplugin

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/dynload"
	"github.com/plugbench/plugbench/backends/internal/elfcheck"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names.
const Name = "goplugin"

// The symbols a plugin exports.
const (
	SymABIVersion = "ABIVersion"
	SymIdentity   = "Identity"
	SymNew        = "New"
	SymMin        = "Min"
)

// Guest is what the value New returns must implement: the host's view of a
// plugin instance. The plugin defines no type the host knows; its value
// satisfies this interface because its method set matches.
type Guest interface {
	Min(a, b int32) int32
	Accumulate(x int64) int64
	Sum(p []byte) uint64
	Upper(p []byte)
	// Callback calls the emit function given to New k times.
	Callback(k int32) int64
	// Event processes an event as a Go value: the value transport.
	Event(in, out *event.Event) (keep bool, err error)
	// EventJSON, EventBinary and EventFlat process an encoded event into
	// out and return the output's length (0: dropped), or an error
	// matching event.ErrSpace when out is too small.
	EventJSON(in, out []byte) (int, error)
	EventBinary(in, out []byte) (int, error)
	EventFlat(in, out []byte) (int, error)
	// Free drops what the instance holds.
	Free()
}

// The types of the symbols, as plugin.Lookup returns them.
type (
	abiVersionFunc = func() int32
	identityFunc   = func() string
	newFunc        = func(emit func(int64) int64) any
	minFunc        = func(a, b int32) int32
)

// Config configures the goplugin backend. It has no settings: it is here
// so that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the goplugin backend. It never fails; without cgo, or on a
// platform without Go plugins, its Load fails (see Available).
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// stuck is the plugin whose plugin.Open was abandoned at its context's
// deadline: its init functions never returned.
var stuck atomic.Pointer[string]

// opened holds the real paths this process has passed to plugin.Open.
var opened sync.Map

// Opened reports whether this process has already opened the plugin at
// path (or tried to): a Load of it then maps and initialises nothing, and
// a failed open fails again the same way. The suite times cold loads only
// where it is false, in a fresh process.
func Opened(path string) bool {
	real, err := realPath(path)
	if err != nil {
		return false
	}
	_, ok := opened.Load(real)
	return ok
}

func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Load opens the plugin at path, looks up its symbols, checks its ABI
// version and identity, and makes and frees one instance to check its
// methods.
//
// # Notes
//
//   - plugin.Open runs the plugin's init functions, which nothing can stop.
//     When ctx can be done, Load opens on another goroutine and returns at
//     ctx's end with an error wrapping ctx.Err() and
//     backends.ErrNoInterrupt. The init goes on running on that goroutine,
//     and the plugin's packages stay half-initialised: every later Load in
//     this process fails at once (only a new process can load again). A
//     shared object's constructor that package dynload recorded as stuck
//     (dlopen, cgo) holds the dynamic loader's lock, which plugin.Open needs
//     too, and refuses Load in the same way.
//   - A file that is not a Go plugin is refused before dlopen(3) sees it
//     (the runtime would abort on a C library), as is one whose headers
//     are not a shared object's for this host, or cut short. Loading
//     trusts the rest: see package dlopen's doc.
func (backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: sym, Err: err}
	}
	if !Available {
		return nil, fail("", errUnavailable)
	}
	if p := stuck.Load(); p != nil {
		return nil, fail("", fmt.Errorf("the init of %s never returned and still runs: %w", *p, backends.ErrNoInterrupt))
	}
	if p, ok := dynload.Stuck(); ok {
		return nil, fail("", fmt.Errorf("the dynamic loader is locked: a constructor of %s never returned: %w", p, backends.ErrNoInterrupt))
	}
	real, err := realPath(path)
	if err != nil {
		return nil, fail("", err)
	}
	_, reopened := opened.Load(real)
	if !reopened {
		if err := check(real); err != nil {
			return nil, fail("", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("", fmt.Errorf("plugin.Open not started: %w", err))
	}
	opened.Store(real, true)
	lookup, err := abandon.Wait(ctx, func() (lookupFunc, error) { return open(real) }, func(lookupFunc) {})
	if err != nil {
		if err == ctx.Err() { // given up on: the init still runs
			stuck.CompareAndSwap(nil, &real)
			return nil, fail("", fmt.Errorf("plugin.Open did not return (an init function still runs): %w: %w", err, backends.ErrNoInterrupt))
		}
		return nil, fail("", explain(err, real))
	}
	m := &module{path: path, real: real, reopened: reopened, book: modbook.Book{Backend: Name, Path: path}}
	var version abiVersionFunc
	var identity identityFunc
	for _, s := range []struct {
		name string
		to   any
	}{{SymABIVersion, &version}, {SymIdentity, &identity}, {SymNew, &m.newFn}, {SymMin, &m.minFn}} {
		if err := lookupAs(lookup, s.name, s.to); err != nil {
			return nil, fail(s.name, err)
		}
	}
	if m.id, err = backends.CheckArtifact(version(), identity(), Name); err != nil {
		return nil, fail("", err)
	}
	g, err := m.guest(nil)
	if err != nil {
		return nil, fail(SymNew, err)
	}
	g.Free()
	return m, nil
}

// lookupFunc is a plugin's Lookup.
type lookupFunc func(symbol string) (any, error)

// lookupAs looks name up and stores it in *to (to is a pointer to a func
// variable), or says what is wrong.
func lookupAs(lookup lookupFunc, name string, to any) error {
	sym, err := lookup(name)
	if err != nil {
		return fmt.Errorf("%w: %w", backends.ErrMissingExport, err)
	}
	dst := reflect.ValueOf(to).Elem()
	v := reflect.ValueOf(sym)
	if v.Type() != dst.Type() {
		return fmt.Errorf("%w: is a %v, want a %v", backends.ErrMissingExport, v.Type(), dst.Type())
	}
	dst.Set(v)
	return nil
}

// check refuses, before dlopen(3) sees it, what the runtime or the loader
// would die of and can be told from outside: a file that is not a shared
// object for this host or is cut short (elfcheck.Check), or one that is
// not a Go plugin (plugin.Open of a C library aborts the process:
// "runtime: no plugin module data"). A plugin of another toolchain is
// refused here too, with a clearer message than plugin.Open's. The rest
// of the file the loader trusts, as it trusts the plugin's code: a
// corrupt one can still crash the host.
func check(real string) error {
	if err := elfcheck.Check(real); err != nil {
		return err
	}
	bi, err := buildinfo.ReadFile(real)
	if err != nil {
		return fmt.Errorf("%w: not a Go binary: %w", backends.ErrFormat, err)
	}
	if mode := setting(bi, "-buildmode"); mode != "plugin" {
		return fmt.Errorf("%w: a Go binary built with -buildmode=%s, not a Go plugin", backends.ErrFormat, mode)
	}
	if bi.GoVersion != runtime.Version() {
		return fmt.Errorf("%w: built by %s, this host by %s; rebuild the plugin with the host's toolchain (fixtures.BuildGoPlugin)",
			ErrMismatch, bi.GoVersion, runtime.Version())
	}
	return nil
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// ErrMismatch: the plugin and the host disagree on the toolchain, a
// build flag or the version of a package they share, and the plugin cannot
// be opened in this host.
var ErrMismatch = errors.New("plugin and host do not match")

// explain wraps an error of plugin.Open with what it means and how to fix
// it.
func explain(err error, real string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "plugin was built with a different version of package"):
		hint := "rebuild the plugin in the host's module, with the host's toolchain and flags (fixtures.BuildGoPlugin)"
		if d := flagDiff(real); d != "" {
			hint = "they were built with different flags (" + d + "); " + hint
		}
		return fmt.Errorf("%w: %w; %s", ErrMismatch, err, hint)
	case strings.HasSuffix(msg, "plugin already loaded"):
		return fmt.Errorf("%w: a Go plugin's package can be loaded once per process, and this is a copy or another build of one already loaded; load it by the path it was first loaded from, or in a new process", err)
	}
	return err
}

// flagDiff lists the build settings that differ between the plugin at real
// and the running host and change how packages compile.
func flagDiff(real string) string {
	pbi, err := buildinfo.ReadFile(real)
	if err != nil {
		return ""
	}
	hbi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var diffs []string
	for _, k := range []string{"-race", "-msan", "-asan", "-trimpath", "-gcflags", "-tags", "-pgo", "CGO_ENABLED", "GOEXPERIMENT", "GOAMD64", "GOARM64"} {
		if h, p := setting(hbi, k), setting(pbi, k); h != p {
			diffs = append(diffs, fmt.Sprintf("%s: host %q, plugin %q", k, h, p))
		}
	}
	return strings.Join(diffs, ", ")
}

type module struct {
	path, real string
	id         backends.Identity
	reopened   bool
	newFn      newFunc
	minFn      minFunc

	book modbook.Book
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Reopened reports whether the module's plugin was already open in this
// process when Load made it: nothing was mapped or initialised.
func (m *module) Reopened() bool { return m.reopened }

// guest makes a plugin instance and checks that it is a Guest.
func (m *module) guest(emit func(int64) int64) (g Guest, err error) {
	defer recoverPanic(&err)
	v := m.newFn(emit)
	g, ok := v.(Guest)
	if !ok {
		return nil, fmt.Errorf("%w: New returned a %T, which %s", backends.ErrMissingExport, v, missingMethods(v))
	}
	return g, nil
}

// missingMethods says which of Guest's methods v lacks, or has with
// another signature.
func missingMethods(v any) string {
	if v == nil {
		return "is nil"
	}
	gt, vt := reflect.TypeFor[Guest](), reflect.TypeOf(v)
	var bad []string
	for i := range gt.NumMethod() {
		want := gt.Method(i)
		got, ok := vt.MethodByName(want.Name)
		switch {
		case !ok:
			bad = append(bad, "lacks "+want.Name)
		case got.Type.NumIn() < 1 || !sameSignature(got.Type, want.Type):
			bad = append(bad, fmt.Sprintf("has %s %v, want %v", want.Name, got.Type, want.Type))
		}
	}
	return strings.Join(bad, ", ")
}

// sameSignature compares a method's type (receiver first) with an
// interface method's.
func sameSignature(method, want reflect.Type) bool {
	if method.NumIn()-1 != want.NumIn() || method.NumOut() != want.NumOut() {
		return false
	}
	for i := range want.NumIn() {
		if method.In(i+1) != want.In(i) {
			return false
		}
	}
	for i := range want.NumOut() {
		if method.Out(i) != want.Out(i) {
			return false
		}
	}
	return true
}

func (m *module) Instantiate(_ context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if cfg.CallTimeout > 0 {
		return nil, backends.NoInterrupt(Name, "a Go plugin runs on the host's own goroutine and cannot be stopped")
	}
	if err := m.book.Reserve(); err != nil {
		return nil, err
	}
	g, err := m.guest(cfg.Emit)
	if err != nil {
		m.book.Release()
		return nil, m.book.Fail(SymNew, err)
	}
	return &Plugin{g: g, m: m, emit: cfg.Emit != nil}, nil
}

// Close marks the module closed: it fails while instances are open, and
// later Instantiates fail. The plugin stays mapped (see [Mapped]): Go
// cannot unload a plugin.
func (m *module) Close(context.Context) error { return m.book.Close(nil) }

// Plugin is one instance of a Go plugin. What a call writes has cache
// lines of its own: instances are used from different goroutines.
type Plugin struct {
	_    cpu.CacheLinePad
	g    Guest // nil once closed
	m    *module
	emit bool
	_    cpu.CacheLinePad
}

// PanicError is a panic recovered from a plugin's New.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("plugin panicked: %v", e.Value) }

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

// Min calls the instance's Min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.g == nil {
		return 0, backends.Closed(Name, "Min")
	}
	return p.g.Min(a, b), nil
}

// Accumulate calls the instance's Accumulate.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if p.g == nil {
		return 0, backends.Closed(Name, "Accumulate")
	}
	return p.g.Accumulate(x), nil
}

// Sum calls the instance's Sum on b in place: no copy.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if p.g == nil {
		return 0, backends.Closed(Name, "Sum")
	}
	return p.g.Sum(b), nil
}

// Upper calls the instance's Upper on b in place.
func (p *Plugin) Upper(b []byte) error {
	if p.g == nil {
		return backends.Closed(Name, "Upper")
	}
	p.g.Upper(b)
	return nil
}

// Callback has the plugin call the host's emit function k times: a Go
// closure call from the plugin's code, nothing more.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.g == nil {
		return 0, backends.Closed(Name, "Callback")
	}
	if !p.emit {
		return 0, backends.ErrNoHost
	}
	return p.g.Callback(k), nil
}

// Close frees the instance. Later calls fail with backends.ErrClosed; a
// second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if p.g == nil {
		return nil
	}
	g := p.g
	p.g = nil
	g.Free()
	p.m.book.Release()
	return nil
}

// Mapped returns how many bytes of the file at path are mapped into this
// process, from /proc/self/maps (Linux only): after Load, the plugin's
// segments; after Module.Close, the same, since a Go plugin is never
// unmapped.
func Mapped(path string) (int64, error) {
	if runtime.GOOS != "linux" {
		return 0, fmt.Errorf("goplugin: mapped bytes of %s: /proc/self/maps is Linux's: %w", path, errors.ErrUnsupported)
	}
	real, err := realPath(path)
	if err != nil {
		return 0, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("goplugin: mapped bytes of %s: %w", path, err)
	}
	var n int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode pathname
		f := strings.Fields(sc.Text())
		if len(f) < 6 || strings.Join(f[5:], " ") != real {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			return 0, fmt.Errorf("goplugin: /proc/self/maps: bad line %q", sc.Text())
		}
		n += int64(end - start)
	}
	return n, sc.Err()
}
