package dlopen

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
)

// trampoline returns the one C function pointer every instance's plugin
// calls back through: purego makes a bounded number of callbacks per process
// and never frees them, so instances share this one and it dispatches on
// the handle each was given (plugbench_set_host's ctx).
var trampoline = sync.OnceValue(func() uintptr {
	return purego.NewCallback(func(ctx, v uintptr) uintptr {
		return uintptr(hostfn.Call(uint64(ctx), int64(v)))
	})
})

// Callback calls plugbench_callback: the plugin calls the host's emit
// function k times through the trampoline.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.state == 0 {
		return 0, backends.Closed(Name, "callback")
	}
	if p.host == 0 {
		return 0, backends.ErrNoHost
	}
	p.args[0], p.args[1] = p.state, uintptr(k)
	r, _, _ := purego.SyscallN(p.m.fn.Callback, p.args[:2]...)
	return int64(r), nil
}

// Transports lists the event transports the library exports: the view
// needs plugbench_buffer too, for its arena.
func (p *Plugin) Transports() []event.Transport {
	return p.m.fn.Transports(p.m.fn.EventView != 0 && p.m.fn.Buffer != 0)
}

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.state == 0 {
		return nil, backends.Closed(Name, "events")
	}
	if t == event.View {
		if p.m.fn.EventView != 0 && p.m.fn.Buffer != 0 {
			return &viewConn{View: cabi.View{Site: cabi.Site{Backend: Name, Path: p.m.path, Symbol: cabi.SymEventView}}, p: p}, nil
		}
	} else if fn, sym := p.m.fn.Encoded(t); fn != 0 {
		return &encConn{Encoded: cabi.Encoded{Site: cabi.Site{Backend: Name, Path: p.m.path, Symbol: sym}, T: t}, p: p, fn: fn}, nil
	}
	return nil, backends.UnsupportedTransport(Name, t, p.Transports())
}

// encConn carries encoded events (cabi.Encoded). The plugin reads the
// host's input bytes and writes its output into the host's output buffer,
// both in place: Go memory holding no pointers may be passed to C for the
// call, and both buffers are fields of the connection, on the heap (which
// Go never moves) and alive while the plugin runs.
type encConn struct {
	cabi.Encoded
	p    *Plugin
	fn   uintptr
	args [5]uintptr
}

// Encode and Decode touch only the connection's own buffers, but refuse
// on a closed instance all the same: every call on one fails alike (the
// contract's # Faults).
func (c *encConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, c.Symbol)
	}
	return c.Encoded.Encode(in)
}

func (c *encConn) Decode(out *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, c.Symbol)
	}
	return c.Encoded.Decode(out)
}

func (c *encConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, c.Symbol)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	for {
		c.args = [5]uintptr{c.p.state, uintptr(unsafe.Pointer(&c.In[0])), uintptr(len(c.In)),
			uintptr(unsafe.Pointer(&c.Out[0])), uintptr(len(c.Out))}
		r, _, _ := purego.SyscallN(c.fn, c.args[:]...)
		if done, keep, err := c.Result(int64(r)); done {
			return keep, err
		}
	}
}

// viewConn hands the plugin the event as C structs it reads in place
// (cabi.View), written into C memory the plugin owns (plugbench_buffer),
// one arena per connection.
type viewConn struct {
	cabi.View
	p    *Plugin
	base uintptr // C memory
	cap  int
	args [3]uintptr
}

func (c *viewConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, cabi.SymEventView) // the arena was the plugin's
	}
	for {
		n, err := c.View.Encode(c.base, c.cap, in)
		if n == 0 {
			return err
		}
		// The arena is too small: grow it and write again.
		c.p.args[0], c.p.args[1] = c.p.state, uintptr(n)
		r, _, _ := purego.SyscallN(c.p.m.fn.Buffer, c.p.args[:2]...)
		if r == 0 {
			return c.Fail(fmt.Errorf("the plugin could not allocate %d bytes", n))
		}
		c.base, c.cap = r, n
	}
}

func (c *viewConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, cabi.SymEventView)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	c.args = [3]uintptr{c.p.state, c.base + cabi.EventOff, c.base + cabi.ScoreOff}
	r, _, _ := purego.SyscallN(c.p.m.fn.EventView, c.args[:]...)
	return c.Result(int64(r))
}

// Decode builds the output from the input and what the plugin wrote in
// the view.
func (c *viewConn) Decode(out *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, cabi.SymEventView)
	}
	return c.View.Decode(c.base, out)
}
