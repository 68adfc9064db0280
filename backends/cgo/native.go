//go:build cgo

package cgo

/*
#cgo CFLAGS: -I${SRCDIR}/../../fixtures/c
#cgo LDFLAGS: -ldl
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/modbook"
)

// Available reports whether this build has cgo, and so whether the backend
// can load anything.
const Available = true

// errBuf is the room for a dlerror message.
const errBuf = 512

// cerr returns the C message written into buf as an error.
func cerr(buf []byte) error {
	if i := indexNUL(buf); i >= 0 {
		buf = buf[:i]
	}
	return errors.New(string(buf))
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// Load checks the file (and probes it, with Config.Probe), then dlopens
// it and checks its exports, as the dlopen backend does.
//
// # Notes
//
//   - dlopen runs the library's constructors, which nothing can stop. When
//     ctx can be done, Load waits for dlopen on another goroutine and
//     returns at ctx's end with an error wrapping ctx.Err() and
//     backends.ErrNoInterrupt; that dlopen goes on holding the dynamic
//     loader's lock, so every later Load in this process fails at once,
//     the dlopen backend's too: only a new process can load again.
func (b backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(sym string, err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: sym, Err: err}
	}
	abs, h, err := cabi.Open(ctx, path, b.verify(), dlopenAbs, func(h C.uintptr_t) { dlclose(h) })
	if err != nil {
		return nil, fail("", err)
	}
	m := &module{path: path, abs: abs, handle: h, book: modbook.Book{Backend: Name, Path: path}}
	// The view's arena is the host's (events.go): no plugbench_buffer.
	if sym, err := m.fn.Resolve(func(name string) (uintptr, error) {
		p, err := dlsym(h, name)
		return uintptr(p), err
	}, false); err != nil {
		dlclose(h)
		return nil, fail(sym, err)
	}
	v := C.pbc_version(C.uintptr_t(m.fn.Version))
	id := make([]byte, cabi.MaxIdentity)
	n := C.pbc_identity(C.uintptr_t(m.fn.Identity), (*C.char)(unsafe.Pointer(&id[0])), C.size_t(len(id)))
	m.id, err = backends.CheckArtifact(int32(v), string(id[:n]), builtFor, Name)
	if err != nil {
		dlclose(h)
		return nil, fail("", err)
	}
	return m, nil
}

// dlopenAbs opens the library at abs (cabi.Open bounds it by Load's ctx).
func dlopenAbs(abs string) (C.uintptr_t, error) {
	cpath := C.CString(abs)
	defer C.free(unsafe.Pointer(cpath))
	msg := make([]byte, errBuf)
	h := C.pbc_dlopen(cpath, (*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)))
	if h == 0 {
		return 0, fmt.Errorf("dlopen: %w", cerr(msg))
	}
	return h, nil
}

// dlsym returns the address of the symbol name in the library h.
func dlsym(h C.uintptr_t, name string) (C.uintptr_t, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	msg := make([]byte, errBuf)
	p := C.pbc_dlsym(h, cname, (*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)))
	if p == 0 {
		return 0, cerr(msg)
	}
	return p, nil
}

// dlclose closes the library h.
func dlclose(h C.uintptr_t) error {
	msg := make([]byte, errBuf)
	if C.pbc_dlclose(h, (*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg))) != 0 {
		return cerr(msg)
	}
	return nil
}

type module struct {
	path, abs string
	id        backends.Identity

	book   modbook.Book
	handle C.uintptr_t // 0 once closed

	fn cabi.Table // the exports' addresses (no Buffer: never looked up)
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
	s := C.pbc_new(C.uintptr_t(m.fn.New))
	if s == 0 {
		m.book.Release()
		return nil, m.book.Fail(cabi.SymNew, errors.New("plugin returned no state"))
	}
	p := &Plugin{m: m, state: s, fnMin: C.uintptr_t(m.fn.Min)}
	if cfg.Emit != nil {
		p.host = hostfn.Register(cfg.Emit)
		C.pbc_set_host(C.uintptr_t(m.fn.SetHost), s, C.uint64_t(p.host))
	}
	return p, nil
}

// Close unloads the library. It fails while instances are open: their code
// would be unmapped under them.
func (m *module) Close(context.Context) error {
	return m.book.Close(func() error {
		err := dlclose(m.handle)
		m.handle = 0
		if err != nil {
			return fmt.Errorf("dlclose: %w", err)
		}
		return nil
	})
}

// Plugin is one instance of a shared-object plugin. What a call reads and
// writes has cache lines of its own: instances are used from different
// goroutines.
type Plugin struct {
	_     cpu.CacheLinePad
	m     *module
	state C.uintptr_t // the plugin's plugbench_state*, 0 once closed
	fnMin C.uintptr_t // m.fn.Min, here to save Min a load
	host  uint64      // hostfn handle of the emit function, 0 if none
	// arena is the view transport's C memory (C.malloc), nil until a view
	// connection needs it; cap is its size. Freed by Close.
	arena unsafe.Pointer
	cap   int
	_     cpu.CacheLinePad
}

// Min calls plugbench_min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymMin)
	}
	return int32(C.pbc_min(p.fnMin, C.int32_t(a), C.int32_t(b))), nil
}

// Accumulate calls plugbench_accumulate with this instance's state.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymAccumulate)
	}
	return int64(C.pbc_accumulate(C.uintptr_t(p.m.fn.Accumulate), p.state, C.int64_t(x))), nil
}

// Sum calls plugbench_sum on b in place: no copy.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, cabi.SymSum)
	}
	return uint64(C.pbc_sum(C.uintptr_t(p.m.fn.Sum), data(b), C.size_t(len(b)))), nil
}

// Upper calls plugbench_upper on b in place: the plugin writes the host's
// own bytes.
func (p *Plugin) Upper(b []byte) error {
	if p.state == 0 {
		return backends.Closed(Name, cabi.SymUpper)
	}
	C.pbc_upper(C.uintptr_t(p.m.fn.Upper), data(b), C.size_t(len(b)))
	return nil
}

// data returns the address of b's bytes for C, nil for an empty slice (a
// zero-length slice may point past its array's end). Passed as a pointer,
// cgo keeps b alive and where it is for the call, and checks (cgocheck=1)
// that it holds no Go pointers: bytes hold none.
func data(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// Close frees the plugin's state. Later calls fail with
// backends.ErrClosed; a second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if p.state == 0 {
		return nil
	}
	C.pbc_free(C.uintptr_t(p.m.fn.Free), p.state)
	p.state = 0
	if p.arena != nil {
		C.free(p.arena)
		p.arena, p.cap = nil, 0
	}
	if p.host != 0 {
		hostfn.Release(p.host)
		p.host = 0
	}
	p.m.book.Release()
	return nil
}

// Callback calls plugbench_callback: the plugin calls the host's emit
// function k times, each a C→Go call of pbHostEmit (export.go).
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, "callback")
	}
	if p.host == 0 {
		return 0, backends.ErrNoHost
	}
	return int64(C.pbc_callback(C.uintptr_t(p.m.fn.Callback), p.state, C.int32_t(k))), nil
}
