//go:build cgo

package cgo

// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/cabi"
)

// Transports lists the event transports the library exports.
func (p *Plugin) Transports() []event.Transport {
	return p.m.fn.Transports(p.m.fn.EventView != 0)
}

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.state == 0 {
		return nil, backends.Closed(Name, "events")
	}
	if t == event.View {
		if p.m.fn.EventView != 0 {
			return &viewConn{View: cabi.View{Site: cabi.Site{Backend: Name, Path: p.m.path, Symbol: cabi.SymEventView}}, p: p}, nil
		}
	} else if fn, sym := p.m.fn.Encoded(t); fn != 0 {
		return &encConn{Encoded: cabi.Encoded{Site: cabi.Site{Backend: Name, Path: p.m.path, Symbol: sym}, T: t}, p: p, fn: C.uintptr_t(fn)}, nil
	}
	return nil, backends.UnsupportedTransport(Name, t, p.Transports())
}

// encConn carries encoded events (cabi.Encoded). The plugin reads the
// host's input bytes and writes its output into the host's output buffer,
// both in place: they hold no Go pointers, so cgo lets C have them for the
// call.
type encConn struct {
	cabi.Encoded
	p  *Plugin
	fn C.uintptr_t
}

// Encode and Decode touch only the connection's own buffers, but refuse
// on a closed instance all the same: every call on one fails alike.
func (c *encConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, c.Symbol)
	}
	return c.Encoded.Encode(in)
}

func (c *encConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, c.Symbol)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	for {
		r := C.pbc_event(c.fn, c.p.state, data(c.In), C.size_t(len(c.In)), data(c.Out), C.size_t(len(c.Out)))
		if done, keep, err := c.Result(int64(r)); done {
			return keep, err
		}
	}
}

func (c *encConn) Decode(out *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, c.Symbol)
	}
	return c.Encoded.Decode(out)
}

// Compile-time checks that the view's Go structs (package cabi) are C's:
// each line fails to compile (a negative array length) if a size or an
// offset differs.
var (
	_ [unsafe.Sizeof(cabi.Bytes{}) - unsafe.Sizeof(C.pb_bytes{})]byte
	_ [unsafe.Sizeof(C.pb_bytes{}) - unsafe.Sizeof(cabi.Bytes{})]byte
	_ [unsafe.Sizeof(cabi.Field{}) - unsafe.Sizeof(C.pb_field{})]byte
	_ [unsafe.Sizeof(C.pb_field{}) - unsafe.Sizeof(cabi.Field{})]byte
	_ [unsafe.Sizeof(cabi.Event{}) - unsafe.Sizeof(C.pb_event{})]byte
	_ [unsafe.Sizeof(C.pb_event{}) - unsafe.Sizeof(cabi.Event{})]byte

	_ [unsafe.Offsetof(cabi.Field{}.Kind) - unsafe.Offsetof(C.pb_field{}.kind)]byte
	_ [unsafe.Offsetof(C.pb_field{}.kind) - unsafe.Offsetof(cabi.Field{}.Kind)]byte
	_ [unsafe.Offsetof(cabi.Field{}.V0) - unsafe.Offsetof(C.pb_field{}.v)]byte
	_ [unsafe.Offsetof(C.pb_field{}.v) - unsafe.Offsetof(cabi.Field{}.V0)]byte
	_ [unsafe.Offsetof(cabi.Event{}.Origin) - unsafe.Offsetof(C.pb_event{}.origin)]byte
	_ [unsafe.Offsetof(C.pb_event{}.origin) - unsafe.Offsetof(cabi.Event{}.Origin)]byte
	_ [unsafe.Offsetof(cabi.Event{}.Tags) - unsafe.Offsetof(C.pb_event{}.tags)]byte
	_ [unsafe.Offsetof(C.pb_event{}.tags) - unsafe.Offsetof(cabi.Event{}.Tags)]byte
	_ [unsafe.Offsetof(cabi.Event{}.Fields) - unsafe.Offsetof(C.pb_event{}.fields)]byte
	_ [unsafe.Offsetof(C.pb_event{}.fields) - unsafe.Offsetof(cabi.Event{}.Fields)]byte
	_ [unsafe.Offsetof(cabi.Event{}.NFields) - unsafe.Offsetof(C.pb_event{}.nfields)]byte
	_ [unsafe.Offsetof(C.pb_event{}.nfields) - unsafe.Offsetof(cabi.Event{}.NFields)]byte
)

// viewConn hands the plugin the event as C structs it reads in place
// (cabi.View).
//
// Where they live: cgo lets C have Go memory only if it holds no Go
// pointers, and the structs point at the event's strings, tags and fields,
// so they cannot be Go memory. They are written into the instance's arena,
// C memory from C.malloc, grown (never shrunk) and reused by every view
// connection of the instance, freed by Plugin.Close. The bytes they point
// to are copied there too, in the same pass, rather than pinned where they
// are: pinning costs per object, and a typical event's strings would cost
// several times the whole round trip, where copying its bytes costs far
// less (RATIONALE.md has the figures, on the dlopen backend's view, which
// does the same in plugbench_buffer). The
// arena is host memory (plugbench.h: "in memory the host owns"), so the
// view needs no plugbench_buffer export.
type viewConn struct {
	cabi.View
	p *Plugin
}

// base is the C address of the instance's arena.
func (c *viewConn) base() uintptr { return uintptr(c.p.arena) }

func (c *viewConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, cabi.SymEventView) // the arena was freed
	}
	for {
		n, err := c.View.Encode(c.base(), c.p.cap, in)
		if n == 0 {
			return err
		}
		// The arena is too small: grow it and write again.
		a := C.malloc(C.size_t(n))
		if a == nil {
			return c.Fail(fmt.Errorf("could not allocate %d bytes of C memory", n))
		}
		if c.p.arena != nil {
			C.free(c.p.arena)
		}
		c.p.arena, c.p.cap = a, n
	}
}

func (c *viewConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, cabi.SymEventView)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	r := C.pbc_view(C.uintptr_t(c.p.m.fn.EventView), c.p.state, C.uintptr_t(c.base()+cabi.EventOff), C.uintptr_t(c.base()+cabi.ScoreOff))
	return c.Result(int64(r))
}

// Decode builds the output from the input and what the plugin wrote in
// the view.
func (c *viewConn) Decode(out *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, cabi.SymEventView)
	}
	return c.View.Decode(c.base(), out)
}
