// Package backends holds plugbench's Plugin contract: the lifecycle and the
// calls every backend implements, so that the benchmark suite is written once
// and every backend is interchangeable.
//
// The model has three levels:
//
//  1. A [Backend] is a loading mechanism (static Go, dlopen, a wasm runtime).
//     It owns whatever is shared between loads, such as a wasm runtime and
//     its compilation cache.
//  2. [Backend.Load] turns an artifact (a .so, a .wasm, or the built-in static
//     plugin) into a [Module]: mapped or compiled, with its ABI version and
//     identity checked. Load refuses an artifact built for another ABI version
//     or another backend.
//  3. [Module.Instantiate] makes a [Plugin] with its own state. One Module
//     serves many instances.
//
// Every Plugin reproduces the same calls bit for bit (see [Plugin]); the
// suite checks each backend's answers against the static backend's.
//
// Further capabilities are interfaces a backend's Plugin may implement,
// discovered with a type assertion, so that a backend without them keeps
// compiling and the suite skips what it does not offer: [EventPlugin]
// (structured events) and [Caller] (calls back into the host, given
// [WithEmit] at instantiation). See RATIONALE.md.
//
// # Faults
//
// A plugin may misbehave, and the contract says what a host can count on:
//
//   - Load and Instantiate honour their context. When it is done before
//     they finish (a start function or a constructor that never returns,
//     a compile that takes too long), they return an error wrapping
//     ctx.Err() as soon as the backend's watcher runs: promptly, but how
//     soon depends on the host's scheduler, and the suite's fault table
//     measures it rather than promise a figure. A backend that could not
//     stop the work it abandoned says so by also wrapping [ErrNoInterrupt].
//   - A running call is bounded in one way for every backend: the
//     [WithCallTimeout] option at instantiation. A backend that can stop
//     its guest mid-call ends a call that runs longer with an error
//     wrapping context.DeadlineExceeded, and the instance is closed. A
//     backend that cannot (native code in the host's own process) refuses
//     the option with [ErrNoInterrupt] instead of pretending.
//   - Every call on a closed instance returns an error wrapping
//     [ErrClosed]; Close twice is harmless.
//   - A guest that grows its memory past its backend's limit gets an error
//     wrapping [ErrMemoryLimit].
//
// What no contract can promise, a native plugin crashing its host, is
// measured by the suite's fault table (package bench). Loading a native
// plugin trusts it: a crafted or corrupt shared object can crash the host
// inside the dynamic loader, as its own code can once called; the native
// backends' probe (dlopen.Config.Probe) loads a file in a child process
// first, and a crash there is an error matching [ErrCrashed].
package backends

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plugbench/plugbench/backends/event"
)

// ABIVersion is the plugin ABI this host speaks. Every artifact exports its
// own version (plugbench_abi_version); Load refuses any other.
const ABIVersion = 1

// Return codes of the event exports (plugbench.h): a negative length.
const (
	EventMalformed = -1 // PLUGBENCH_EMALFORMED: not a valid encoding, or beyond a limit
	EventNoSpace   = -2 // PLUGBENCH_ESPACE: the output did not fit; call again with more room
)

// Backend is a plugin loading mechanism.
//
// # Notes
//
//   - A Backend is safe for concurrent Load calls unless its doc says otherwise.
//   - Close releases what the backend shares between modules; close every
//     Module first.
type Backend interface {
	// Name is the backend's name as it appears in benchmark names:
	// "static", "dlopen", "wasm", "wasm-interp".
	Name() string
	// Load maps or compiles the artifact at path and checks its ABI version
	// and identity. Errors are *Error values.
	Load(ctx context.Context, path string) (Module, error)
	// Close releases the backend.
	Close(ctx context.Context) error
}

// Module is a loaded plugin artifact.
type Module interface {
	// Identity is what the artifact says of itself, read at load.
	Identity() Identity
	// Path is the artifact's path as given to Load.
	Path() string
	// Instantiate makes a new instance with its own state.
	Instantiate(ctx context.Context, opts ...Option) (Plugin, error)
	// Close unloads the module. Close every instance first: while one is
	// open, Close fails with an error matching ErrInstancesOpen and the
	// module stays loaded. Close twice is harmless.
	Close(ctx context.Context) error
}

// Plugin is one instance of a plugin: the calls of ABI version 1.
//
// Calls return an error only when the backend itself fails (a wasm trap, a
// guest out of memory); static and dlopen never do.
//
// # Notes
//
//   - A Plugin is not goroutine-safe: use one instance per goroutine.
//   - The slices passed to Sum and Upper are not retained after the call.
type Plugin interface {
	// Min returns the smaller of a and b: the cheapest possible crossing.
	Min(a, b int32) (int32, error)
	// Accumulate adds x to this instance's running total (wrapping on
	// overflow, as two's complement int64 does) and returns the new total.
	Accumulate(x int64) (int64, error)
	// Sum returns the sum of the bytes of p: data from host to plugin.
	Sum(p []byte) (uint64, error)
	// Upper upper-cases the ASCII letters a–z of p in place; every other byte
	// is left as it is. The host sees the result in p.
	Upper(p []byte) error
	// Close releases the instance.
	Close(ctx context.Context) error
}

// Identity is what an artifact says of itself through plugbench_identity:
// a line of space-separated key=value pairs such as
// "lang=c backend=dlopen toolchain=gcc-12.2.0".
type Identity struct {
	Lang      string // language the plugin is written in: c, go
	Backend   string // backend the artifact was built for: static, dlopen, wasm
	Toolchain string // compiler that built it
	Raw       string // the whole string as exported
}

// ParseIdentity parses an identity string. The keys lang, backend and
// toolchain are required; unknown keys are kept in Raw only.
func ParseIdentity(s string) (Identity, error) {
	id := Identity{Raw: s}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return id, fmt.Errorf("identity %q: field %q is not key=value", s, f)
		}
		switch k {
		case "lang":
			id.Lang = v
		case "backend":
			id.Backend = v
		case "toolchain":
			id.Toolchain = v
		}
	}
	if id.Lang == "" || id.Backend == "" || id.Toolchain == "" {
		return id, fmt.Errorf("identity %q: want lang=, backend= and toolchain=", s)
	}
	return id, nil
}

// String returns the identity as exported.
func (id Identity) String() string { return id.Raw }

// Sentinel errors, matched with errors.Is through an *Error.
var (
	// ErrFormat: the file is not an artifact of this backend (not a shared
	// object, not a wasm module).
	ErrFormat = errors.New("not a plugin artifact")
	// ErrMissingExport: a required symbol or export is absent or has the
	// wrong signature.
	ErrMissingExport = errors.New("missing export")
	// ErrABIVersion: the artifact speaks another ABI version.
	ErrABIVersion = errors.New("ABI version mismatch")
	// ErrIdentity: the artifact was built for another backend, or its
	// identity cannot be read.
	ErrIdentity = errors.New("wrong identity")
	// ErrClosed: a call on an instance that was closed, or that a
	// deadline stopped.
	ErrClosed = errors.New("plugin closed")
	// ErrNoInterrupt: the backend cannot stop a running call or start
	// function (native code in the host's own process, or a runtime made
	// without interruption): WithCallTimeout is refused with it, and a
	// Load or Instantiate abandoned at its deadline wraps it.
	ErrNoInterrupt = errors.New("cannot interrupt a running plugin")
	// ErrMemoryLimit: the guest asked for more memory than its limit.
	ErrMemoryLimit = errors.New("memory limit reached")
	// ErrInstancesOpen: Module.Close while instances of the module are
	// still open. The module stays loaded; close them first.
	ErrInstancesOpen = errors.New("instances still open")
	// ErrCrashed: loading the plugin killed the process that loaded it,
	// a child process the host ran for the purpose (a native backend's
	// probe), so that the host's own process was never touched.
	ErrCrashed = errors.New("plugin crashed its process")
)

// Error is the error of a backend operation on an artifact. It names the
// backend, the file and, where one is involved, the symbol. Missing files
// match fs.ErrNotExist.
type Error struct {
	Backend string // backend name
	Path    string // artifact path
	Symbol  string // symbol or export involved, if any
	Err     error  // what went wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Backend)
	b.WriteString(": ")
	if e.Symbol != "" {
		b.WriteString("symbol ")
		b.WriteString(e.Symbol)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	b.WriteString(e.Path)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// VersionError is the error of an artifact with another ABI version. It
// matches ErrABIVersion.
type VersionError struct {
	Got, Want int32
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("plugin ABI version %d, host expects %d", e.Got, e.Want)
}

func (e *VersionError) Is(target error) bool { return target == ErrABIVersion }

// CheckArtifact checks what an artifact exported at load: its ABI version,
// and that its identity parses and names a backend this loader accepts.
// Backends call it from Load and wrap its error in an *Error.
func CheckArtifact(version int32, identity string, accept ...string) (Identity, error) {
	if version != ABIVersion {
		return Identity{}, &VersionError{Got: version, Want: ABIVersion}
	}
	id, err := ParseIdentity(identity)
	if err != nil {
		return id, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	for _, a := range accept {
		if id.Backend == a {
			return id, nil
		}
	}
	return id, fmt.Errorf("%w: built for backend %q, this loader takes %q", ErrIdentity, id.Backend, strings.Join(accept, `", "`))
}

// Option configures an instance at Module.Instantiate.
type Option func(*InstanceConfig)

// InstanceConfig is what the options of Instantiate set. Backends read it
// with Config.
type InstanceConfig struct {
	// Emit is the host function the instance's plugin calls back (see
	// Caller). Nil: the plugin has no host to call.
	Emit func(v int64) int64
	// CallTimeout bounds every call of the instance (see WithCallTimeout).
	// Zero: calls are not bounded.
	CallTimeout time.Duration
}

// WithCallTimeout bounds every call of the instance to d: a call still
// running after d ends with an error wrapping context.DeadlineExceeded,
// soon after the deadline (the fault table measures how soon), and the
// instance is closed (its guest may have been stopped anywhere); make a
// new one. A backend that cannot stop a running call fails Instantiate
// with ErrNoInterrupt.
//
// # Notes
//
//   - Bounding a call has a price: wazero watches every call's context
//     from a goroutine of its own (RATIONALE.md has the figures).
func WithCallTimeout(d time.Duration) Option {
	return func(c *InstanceConfig) { c.CallTimeout = d }
}

// WithEmit gives the instance a host function to call back: the plugin's
// Callback calls it. Backends bind it once per instance (a wazero host
// function or a purego callback dispatching on the instance), not per call.
func WithEmit(fn func(v int64) int64) Option {
	return func(c *InstanceConfig) { c.Emit = fn }
}

// Config applies opts.
func Config(opts []Option) InstanceConfig {
	var c InstanceConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Caller is a Plugin that calls back into the host.
type Caller interface {
	// Callback has the plugin call the host's Emit function k times, with
	// v = 0, 1, ..., k-1, and returns the wrapping sum of what Emit
	// returned. Without WithEmit it fails with ErrNoHost.
	Callback(k int32) (int64, error)
}

// ErrNoHost: a Callback on an instance made without WithEmit.
var ErrNoHost = errors.New("no host function: instantiate with backends.WithEmit")

// EventPlugin is a Plugin that processes structured events (package event)
// through one or more transports.
type EventPlugin interface {
	Plugin
	// Transports lists the transports this instance offers.
	Transports() []event.Transport
	// Events returns a connection to the instance through transport t. A
	// connection owns the buffers of its round trips and reuses them; use
	// one connection at a time per instance.
	Events(t event.Transport) (EventConn, error)
}

// EventConn carries events to one instance and back through one transport.
// A round trip is Encode, Call and, when the event is kept, Decode; the
// three are separate so that a benchmark can time each. Process does all
// three.
type EventConn interface {
	// Encode puts in where the plugin reads it: encoded into the plugin's
	// buffer, or described in place. in must not change until Decode.
	Encode(in *event.Event) error
	// Call has the plugin process the encoded event. keep is false when the
	// plugin dropped it. Calling it again processes the input again; with a
	// transport the plugin patches in place (view), that input is the last
	// call's output.
	Call() (keep bool, err error)
	// Decode reads the plugin's output into out, reusing out's Tags and
	// Fields. out may share storage with the encoded input.
	Decode(out *event.Event) error
	// Moved is the number of bytes the last Encode and Call moved across
	// the boundary: the encoded input and output.
	Moved() int
}

// Process runs one round trip through c: in is processed into out, and
// keep reports whether the plugin kept the event.
func Process(c EventConn, in, out *event.Event) (keep bool, err error) {
	if err := c.Encode(in); err != nil {
		return false, err
	}
	if keep, err = c.Call(); err != nil || !keep {
		return false, err
	}
	return true, c.Decode(out)
}

// Closed returns the error of a call on a closed instance: it names the
// backend and the call, and matches ErrClosed.
func Closed(backend, call string) error {
	return fmt.Errorf("%s: %s: %w", backend, call, ErrClosed)
}

// InstancesOpen returns the error of Module.Close while n instances of the
// module at path are open: an *Error that matches ErrInstancesOpen.
func InstancesOpen(backend, path string, n int) error {
	return &Error{Backend: backend, Path: path, Err: fmt.Errorf("close: %w (%d)", ErrInstancesOpen, n)}
}

// NoInterrupt returns the error of a backend that cannot bound a call: it
// matches ErrNoInterrupt.
func NoInterrupt(backend, why string) error {
	return fmt.Errorf("%s: %w", backend, NoInterruptWhy(why))
}

// NoInterruptWhy is NoInterrupt without the backend's name, for an *Error,
// which names it ("wasm: wasm: WithCallTimeout: …" otherwise).
func NoInterruptWhy(why string) error {
	return fmt.Errorf("WithCallTimeout: %s: %w", why, ErrNoInterrupt)
}

// UnsupportedTransport is the error of Events for a transport a plugin does
// not offer.
func UnsupportedTransport(backend string, t event.Transport, have []event.Transport) error {
	return fmt.Errorf("%s: transport %q not offered (have %v): %w", backend, t, have, ErrMissingExport)
}
