// Package dlopen is plugbench's backend for C-ABI shared objects, loaded with
// dlopen(3) through github.com/ebitengine/purego: no cgo is needed, so it
// works with CGO_ENABLED=0.
//
// Calls go through purego.SyscallN with an argument array that lives in each
// instance, the fastest correct path purego offers and the only one
// that makes no allocation per call (RATIONALE.md has the measurements).
// Payloads cross without a copy: the plugin reads and writes the host's own
// bytes.
//
// # Loading trusts the plugin
//
// dlopen maps the file into the host's process, relocates it and runs its
// constructors, and glibc's loader trusts the file: a crafted or corrupt
// shared object can crash the host there, as the plugin's own code can
// once it is called. Load first checks the file's ELF header and program
// headers ([Check]): it refuses what is not a shared object for this host,
// a file cut short (whose mapping would fault with SIGBUS), and headers
// that would have the loader map or change memory outside the object. It
// does not check the rest of the file. A host that loads files it does not
// trust sets [Config.Probe]: each Load then loads the file in a
// short-lived child process first ([Probe]), and a file that crashes the
// loader or its constructors there, or hangs, is an error, before the
// host's own loader sees it.
package dlopen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/dynload"
	"github.com/plugbench/plugbench/backends/internal/elfcheck"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Name is the backend's name in benchmark names.
const Name = "dlopen"

// Config configures the backend. The zero Config checks each file's
// headers before dlopen sees it, and probes nothing.
type Config struct {
	// Probe has every Load load the file in a child process first (see
	// [Probe]) and refuse it unless it loads there and says it is a
	// plugin built for this backend. It costs a process start per Load
	// (BenchmarkSetup's phase=probe).
	Probe bool
	// ProbeTimeout bounds a probe when Load's context has no earlier
	// deadline; 0 is DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// NoCheck skips [Check]: dlopen sees the file as it is, as a bare
	// dlopen(3) would. The suite sets it to time the mechanism alone.
	NoCheck bool
}

// DefaultProbeTimeout bounds a probe whose context has no earlier
// deadline.
const DefaultProbeTimeout = cabi.DefaultProbeTimeout

// New returns the dlopen backend with cfg. It fails only on a negative
// ProbeTimeout.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	if cfg.ProbeTimeout < 0 {
		return nil, fmt.Errorf("dlopen: negative ProbeTimeout %v", cfg.ProbeTimeout)
	}
	return backend{cfg}, nil
}

type backend struct{ cfg Config }

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Check is what Load checks of the file at path before dlopen sees it:
// its ELF header and program headers. A file that is not a shared object
// for this host, or is cut short, matches backends.ErrFormat. A file it
// accepts may still crash the loader: see the package doc.
func Check(path string) error { return elfcheck.Check(path) }

// Probe loads the file at path in a short-lived child process (this
// executable, run again), reads its ABI version and identity there, and
// unloads it, bounded by ctx and by timeout (DefaultProbeTimeout when 0).
// It returns the identity, checked as Load checks it. A file that kills
// the child (the loader, a constructor or a destructor faulting) is an
// error matching backends.ErrCrashed that names the signal; one still
// loading at the deadline is killed, and its error wraps
// context.DeadlineExceeded. The host's own process never loads the file.
//
// What it cannot promise: a plugin that behaves differently in the host
// (on its inputs, its timing or its addresses) passes the probe and may
// still crash the host.
func Probe(ctx context.Context, path string, timeout time.Duration) (backends.Identity, error) {
	id, err := cabi.ProbeIdentity(ctx, path, timeout, Name)
	if err != nil {
		return id, &backends.Error{Backend: Name, Path: path, Err: err}
	}
	return id, nil
}

// Load checks the file (and probes it, with Config.Probe), then dlopens
// it and checks its exports.
//
// # Notes
//
//   - dlopen runs the library's constructors, which nothing can stop. When
//     ctx can be done, Load waits for dlopen on another goroutine and
//     returns at ctx's end with an error wrapping ctx.Err() and
//     backends.ErrNoInterrupt; that dlopen goes on holding the dynamic
//     loader's lock, so every later Load in this process fails at once,
//     the cgo backend's too (package dynload remembers it): only a new
//     process can load again. A probe finds such a constructor in its
//     child, which is killed at the deadline, and the host's loader
//     stays free.
func (b backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: sym, Err: err}
	}
	v := cabi.Verify{NoCheck: b.cfg.NoCheck, Probe: b.cfg.Probe, ProbeTimeout: b.cfg.ProbeTimeout, Accept: []string{Name}}
	abs, h, err := cabi.Open(ctx, path, v, dlopen, func(h uintptr) { purego.Dlclose(h) })
	if err != nil {
		return nil, fail("", err)
	}
	m := &module{path: path, abs: abs, handle: h, book: modbook.Book{Backend: Name, Path: path}}
	if sym, err := m.fn.Resolve(func(name string) (uintptr, error) { return purego.Dlsym(h, name) }, true); err != nil {
		purego.Dlclose(h)
		return nil, fail(sym, err)
	}
	ver, _, _ := purego.SyscallN(m.fn.Version)
	idp, _, _ := purego.SyscallN(m.fn.Identity)
	m.id, err = backends.CheckArtifact(int32(ver), cabi.CString(idp), Name)
	if err != nil {
		purego.Dlclose(h)
		return nil, fail("", err)
	}
	return m, nil
}

// dlopen opens the library at abs (cabi.Open bounds it by Load's ctx).
func dlopen(abs string) (uintptr, error) {
	h, err := purego.Dlopen(abs, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return 0, fmt.Errorf("dlopen: %w", err)
	}
	return h, nil
}

type module struct {
	path, abs string
	id        backends.Identity

	book   modbook.Book
	handle uintptr // 0 once closed

	fn cabi.Table // the exports' addresses
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

func (m *module) Instantiate(_ context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if err := m.fn.CheckInstantiate(Name, m.path, cfg); err != nil {
		return nil, err
	}
	if err := m.book.Reserve(); err != nil {
		return nil, err
	}
	s, _, _ := purego.SyscallN(m.fn.New)
	if s == 0 {
		m.book.Release()
		return nil, m.book.Fail(cabi.SymNew, errors.New("plugin returned no state"))
	}
	p := &Plugin{m: m, state: s}
	if cfg.Emit != nil {
		p.host = hostfn.Register(cfg.Emit)
		purego.SyscallN(m.fn.SetHost, s, trampoline(), uintptr(p.host))
	}
	return p, nil
}

// Close unloads the library. It fails while instances are open: their code
// would be unmapped under them.
func (m *module) Close(context.Context) error {
	return m.book.Close(func() error {
		err := purego.Dlclose(m.handle)
		m.handle = 0
		if err != nil {
			return fmt.Errorf("dlclose: %w", err)
		}
		return nil
	})
}

// Plugin is one instance of a shared-object plugin. What a call writes has
// cache lines of its own: instances are used from different goroutines.
type Plugin struct {
	_     cpu.CacheLinePad
	m     *module
	state uintptr // the plugin's plugbench_state*
	// args lives in the instance: purego.SyscallN's arguments escape
	// (go:uintptrescapes), so a fresh variadic slice would cost an
	// allocation on every call.
	args [3]uintptr
	// pin holds the payload's address during a call, as a real pointer, so
	// that escape analysis moves the caller's buffer to the heap, where Go
	// never moves it, and the GC keeps it alive while C reads it.
	pin  unsafe.Pointer
	host uint64 // hostfn handle of the emit function, 0 if none
	_    cpu.CacheLinePad
}

// Min calls plugbench_min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymMin)
	}
	p.args[0], p.args[1] = uintptr(a), uintptr(b)
	r, _, _ := purego.SyscallN(p.m.fn.Min, p.args[:2]...)
	return int32(r), nil
}

// Accumulate calls plugbench_accumulate with this instance's state.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymAccumulate)
	}
	p.args[0], p.args[1] = p.state, uintptr(x)
	r, _, _ := purego.SyscallN(p.m.fn.Accumulate, p.args[:2]...)
	return int64(r), nil
}

// Sum calls plugbench_sum on b in place: no copy.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymSum)
	}
	p.args[0], p.args[1] = p.addr(b), uintptr(len(b))
	r, _, _ := purego.SyscallN(p.m.fn.Sum, p.args[:2]...)
	p.pin = nil
	runtime.KeepAlive(b)
	return uint64(r), nil
}

// Upper calls plugbench_upper on b in place: the plugin writes the host's
// own bytes.
func (p *Plugin) Upper(b []byte) error {
	if p.state == 0 {
		return backends.Closed(Name, cabi.SymUpper)
	}
	p.args[0], p.args[1] = p.addr(b), uintptr(len(b))
	purego.SyscallN(p.m.fn.Upper, p.args[:2]...)
	p.pin = nil
	runtime.KeepAlive(b)
	return nil
}

func (p *Plugin) addr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	p.pin = unsafe.Pointer(unsafe.SliceData(b))
	return uintptr(p.pin)
}

// Close frees the plugin's state. Later calls fail with
// backends.ErrClosed; a second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if p.state == 0 {
		return nil
	}
	p.args[0] = p.state
	purego.SyscallN(p.m.fn.Free, p.args[:1]...)
	p.state = 0
	if p.host != 0 {
		hostfn.Release(p.host)
		p.host = 0
	}
	p.m.book.Release()
	return nil
}

// IsMapped reports whether a file is mapped into this process, from
// /proc/self/maps (Linux only). The suite uses it to prove that a cold
// load really maps the library: dlopen of an already-open library only
// bumps a reference count.
func IsMapped(path string) (bool, error) { return dynload.IsMapped(path) }
