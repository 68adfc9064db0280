// Package cgo is plugbench's backend for C-ABI shared objects loaded and
// called through cgo: what a Go host built with cgo does. It loads the same
// shared object as the dlopen backend (the C fixture, whose identity says
// backend=dlopen) with dlopen(3) and dlsym(3), and calls each export
// through its C function pointer.
//
// The mechanism, and what each part costs:
//
//  1. Load checks the file's headers as the dlopen backend does ([Check]),
//     probes it in a child process first with [Config.Probe], then calls
//     dlopen with RTLD_NOW|RTLD_LOCAL, bounded by the context as dlopen's
//     Load documents, and looks up every export with dlsym. Loading
//     trusts the plugin: package dlopen's doc says what the check and the
//     probe can and cannot keep from the host.
//  2. A call is one cgo crossing into a tiny static C function of the
//     preamble (shim.h) that casts the address dlsym gave to the export's
//     type and calls it. Its arguments are typed: no argument array, no
//     marshalling and no allocation, so Min costs what a bare cgo call
//     through a function pointer costs, less than the dlopen backend's
//     purego call (BenchmarkMin measures all of them). Every C address crosses as a
//     uintptr_t, which cgo does not check (a void * costs a check of
//     several ns per call); payloads cross as pointers to the caller's own
//     bytes, in place, with no copy.
//  3. Events: the encoded transports (json, binary, flat) pass the
//     connection's Go buffers in place. The view transport writes C
//     structs into a C.malloc'd arena of the instance (cgo forbids
//     passing Go memory that holds Go pointers), copying the event's
//     bytes there too, as the dlopen backend does.
//  4. Callbacks: the plugin calls pbHostEmit, an exported Go function,
//     which dispatches on the hostfn handle the instance gave it. A C→Go
//     call through cgo costs about a tenth of purego's reflect-built
//     callback (tens of nanoseconds against hundreds) and allocates
//     nothing, where purego allocates three times per callback
//     (BenchmarkCallback).
//
// The price is cgo itself: a C compiler to build the host, no
// cross-compilation without a C cross-toolchain, and a slower build. Built
// with CGO_ENABLED=0, the package still compiles and reports itself
// unavailable ([Available] is false; Load fails with an error wrapping
// errors.ErrUnsupported).
//
// # Notes
//
//   - A native call runs on the host's own thread: nothing can stop it.
//     WithCallTimeout is refused with backends.ErrNoInterrupt.
//   - A dlopen abandoned at Load's deadline locks the dynamic loader for
//     the whole process: every later Load fails at once, this backend's and
//     the dlopen backend's (they share one loader).
package cgo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/dynload"
	"github.com/plugbench/plugbench/backends/internal/elfcheck"
)

// Name is the backend's name in benchmark names.
const Name = "cgo"

// builtFor is the backend named by the identity of the artifacts this
// backend loads: the C fixture is one native shared object, built for
// dlopen, which this backend loads through cgo instead of purego.
const builtFor = "dlopen"

// Config configures the backend, as the dlopen backend's Config does.
// The zero Config checks each file's headers before dlopen sees it, and
// probes nothing.
type Config struct {
	// Probe has every Load load the file in a child process first (see
	// [Probe]) and refuse it unless it loads there and says it is a
	// C-ABI plugin.
	Probe bool
	// ProbeTimeout bounds a probe when Load's context has no earlier
	// deadline; 0 is DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// NoCheck skips [Check]: dlopen sees the file as it is. The suite
	// sets it to time the mechanism alone.
	NoCheck bool
}

// DefaultProbeTimeout bounds a probe whose context has no earlier
// deadline.
const DefaultProbeTimeout = cabi.DefaultProbeTimeout

// New returns the cgo backend with cfg. It fails only on a negative
// ProbeTimeout. Without cgo it still does, and
// its Load fails with ErrNoCgo.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	if cfg.ProbeTimeout < 0 {
		return nil, fmt.Errorf("cgo: negative ProbeTimeout %v", cfg.ProbeTimeout)
	}
	return backend{cfg}, nil
}

type backend struct{ cfg Config }

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// verify is what Load does with the file before dlopen sees it.
func (b backend) verify() cabi.Verify {
	return cabi.Verify{NoCheck: b.cfg.NoCheck, Probe: b.cfg.Probe, ProbeTimeout: b.cfg.ProbeTimeout, Accept: []string{builtFor, Name}}
}

// Check is what Load checks of the file at path before dlopen sees it,
// as the dlopen backend's Check.
func Check(path string) error { return elfcheck.Check(path) }

// Probe loads the file at path in a short-lived child process and checks
// the identity it exports there, as the dlopen backend's Probe does (the
// child loads it through purego: the loader is the same). It needs no cgo.
func Probe(ctx context.Context, path string, timeout time.Duration) (backends.Identity, error) {
	id, err := cabi.ProbeIdentity(ctx, path, timeout, builtFor, Name)
	if err != nil {
		return id, &backends.Error{Backend: Name, Path: path, Err: err}
	}
	return id, nil
}

// ErrNoCgo is why Load fails in a host built without cgo; it matches
// errors.ErrUnsupported.
var ErrNoCgo error = noCgo{}

type noCgo struct{}

func (noCgo) Error() string {
	return "this host was built with CGO_ENABLED=0; the cgo backend calls C through cgo (build with CGO_ENABLED=1 and a C compiler)"
}

func (noCgo) Unwrap() error { return errors.ErrUnsupported }

// IsMapped reports whether a file is mapped into this process, from
// /proc/self/maps (Linux only), as dlopen.IsMapped does: a cold load
// really maps the library.
func IsMapped(path string) (bool, error) { return dynload.IsMapped(path) }
