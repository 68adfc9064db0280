package dlopen

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
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
	r, _, _ := purego.SyscallN(p.m.fnCallback, p.args[:2]...)
	return int64(r), nil
}

// Transports lists the event transports the library exports.
func (p *Plugin) Transports() []event.Transport {
	var ts []event.Transport
	if p.m.fnEventView != 0 && p.m.fnBuffer != 0 {
		ts = append(ts, event.View)
	}
	for _, t := range []struct {
		t  event.Transport
		fn uintptr
	}{{event.JSON, p.m.fnEventJSON}, {event.Binary, p.m.fnEventBinary}, {event.Flat, p.m.fnEventFlat}} {
		if t.fn != 0 {
			ts = append(ts, t.t)
		}
	}
	return ts
}

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.state == 0 {
		return nil, backends.Closed(Name, "events")
	}
	var fn uintptr
	sym := ""
	switch t {
	case event.View:
		if p.m.fnEventView != 0 && p.m.fnBuffer != 0 {
			return &viewConn{p: p}, nil
		}
	case event.JSON:
		fn, sym = p.m.fnEventJSON, symEventJSON
	case event.Binary:
		fn, sym = p.m.fnEventBinary, symEventBinary
	case event.Flat:
		fn, sym = p.m.fnEventFlat, symEventFlat
	}
	if fn == 0 {
		return nil, backends.UnsupportedTransport(Name, t, p.Transports())
	}
	return &encConn{p: p, t: t, fn: fn, sym: sym}, nil
}

// encConn carries encoded events. The plugin reads the host's input bytes
// and writes its output into the host's output buffer, both in place: Go
// memory holding no pointers may be passed to C for the call, and both
// buffers are fields of the connection, on the heap (which Go never moves)
// and alive while the plugin runs.
type encConn struct {
	p       *Plugin
	t       event.Transport
	fn      uintptr
	sym     string
	in, out []byte
	n       int // output length of the last Call
	args    [5]uintptr
}

func (c *encConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: c.sym, Err: err}
}

func (c *encConn) Encode(in *event.Event) error {
	var err error
	c.in, err = event.Append(c.t, c.in[:0], in)
	c.n = 0
	return err
}

func (c *encConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, c.sym)
	}
	if len(c.in) == 0 {
		return false, c.fail(errors.New("call before encode"))
	}
	if want := 2*len(c.in) + 256; len(c.out) < want {
		c.out = make([]byte, want)
	}
	for {
		c.args = [5]uintptr{c.p.state, uintptr(unsafe.Pointer(&c.in[0])), uintptr(len(c.in)),
			uintptr(unsafe.Pointer(&c.out[0])), uintptr(len(c.out))}
		r, _, _ := purego.SyscallN(c.fn, c.args[:]...)
		switch n := int64(r); {
		case n == backends.EventNoSpace && len(c.out) < 1<<24:
			c.out = make([]byte, 2*len(c.out))
		case n < 0:
			return false, c.fail(fmt.Errorf("%w: the plugin returned %d", event.ErrMalformed, n))
		case n > int64(len(c.out)):
			return false, c.fail(fmt.Errorf("the plugin wrote %d bytes into a %d-byte buffer", n, len(c.out)))
		default:
			c.n = int(n)
			return n > 0, nil
		}
	}
}

func (c *encConn) Decode(out *event.Event) error {
	if c.n == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out[:c.n], out); err != nil {
		return c.fail(fmt.Errorf("decode the plugin's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.in) + c.n }

// The C structs of the view (plugbench.h), laid out as C lays them out on
// a 64-bit target.
type (
	cBytes struct {
		p uintptr
		n uint64
	}
	cField struct {
		name   cBytes
		kind   uint32
		_      uint32
		v0, v1 uint64 // the union: i, f, b; or s / list as {p, n}
	}
	cEvent struct {
		id      uint64
		ts      int64
		origin  cBytes
		tags    uintptr
		ntags   uint64
		fields  uintptr
		nfields uint64
	}
)

const (
	sizeBytes = int(unsafe.Sizeof(cBytes{}))
	sizeField = int(unsafe.Sizeof(cField{}))
	sizeEvent = int(unsafe.Sizeof(cEvent{}))
)

// viewConn hands the plugin the event as C structs it reads in place: no
// encoding and no parsing. The structs, and the bytes of the strings and
// lists they point to, are written into C memory the plugin owns
// (plugbench_buffer): Go may not give C memory holding Go pointers unless
// every object they point to is pinned, and runtime.Pinner costs about
// 50 ns per object, more than copying the bytes (RATIONALE.md).
//
// The arena: score (8 bytes), the event (64), tags (16 each), fields (40
// each), then string bytes and (8-aligned) list elements as they come.
type viewConn struct {
	p     *Plugin
	base  uintptr // C memory
	cap   int
	in    *event.Event
	size  int // bytes written by the last Encode
	keep  bool
	calls bool
	args  [3]uintptr
}

func (c *viewConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: symEventView, Err: err}
}

// at returns C memory at offset off of the arena as a pointer.
func (c *viewConn) at(off int) unsafe.Pointer {
	base := c.base
	return unsafe.Add(*(*unsafe.Pointer)(unsafe.Pointer(&base)), off)
}

func (c *viewConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, symEventView) // the arena was the plugin's
	}
	if len(in.Tags) > event.MaxTags || len(in.Fields) > event.MaxFields {
		return in.Validate() // says which limit
	}
	for {
		size, ok := c.write(in)
		if ok {
			c.in, c.size, c.calls = in, size, false
			return nil
		}
		if size < 0 {
			return in.Validate()
		}
		// The arena is too small: grow it and write again.
		n := max(size, 2*c.cap, 4096)
		c.p.args[0], c.p.args[1] = c.p.state, uintptr(n)
		r, _, _ := purego.SyscallN(c.p.m.fnBuffer, c.p.args[:2]...)
		if r == 0 {
			return c.fail(fmt.Errorf("the plugin could not allocate %d bytes", n))
		}
		c.base, c.cap = r, n
	}
}

// write writes the event in into the arena in one pass, checking the
// limits as it goes. It returns the size and true; or the size it needs and
// false when the arena is too small; or -1 when in breaks a limit (and then
// it has written nothing past a string's bounds).
func (c *viewConn) write(in *event.Event) (int, bool) {
	tagsOff := 8 + sizeEvent
	fieldsOff := tagsOff + sizeBytes*len(in.Tags)
	end := fieldsOff + sizeField*len(in.Fields) // strings and lists from here
	fits := end <= c.cap
	tooLong := false
	str := func(s string) cBytes {
		if len(s) > event.MaxString {
			tooLong, fits = true, false
			return cBytes{}
		}
		at := end
		end += len(s)
		if fits = fits && end <= c.cap; !fits || len(s) == 0 {
			return cBytes{}
		}
		copy(unsafe.Slice((*byte)(c.at(at)), len(s)), s)
		return cBytes{c.base + uintptr(at), uint64(len(s))}
	}
	var ev cEvent
	var tags []cBytes
	var fields []cField
	if fits {
		tags = unsafe.Slice((*cBytes)(c.at(tagsOff)), len(in.Tags))
		fields = unsafe.Slice((*cField)(c.at(fieldsOff)), len(in.Fields))
	}
	ev = cEvent{id: in.ID, ts: in.Timestamp, origin: str(in.Origin),
		tags: c.base + uintptr(tagsOff), ntags: uint64(len(in.Tags)),
		fields: c.base + uintptr(fieldsOff), nfields: uint64(len(in.Fields))}
	for i, t := range in.Tags {
		b := str(t)
		if fits {
			tags[i] = b
		}
	}
	for i := range in.Fields {
		f := &in.Fields[i]
		cf := cField{name: str(f.Name), kind: uint32(f.Kind)}
		switch f.Kind {
		case event.Int:
			cf.v0 = uint64(f.Int)
		case event.Float:
			if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
				return -1, false
			}
			cf.v0 = math.Float64bits(f.Float)
		case event.Bool:
			if f.Bool {
				cf.v0 = 1
			}
		case event.String:
			s := str(f.Str)
			cf.v0, cf.v1 = uint64(s.p), s.n
		case event.List:
			if len(f.List) > event.MaxList {
				return -1, false
			}
			// 8-aligned: the strings before it have any length.
			at := (end + 7) &^ 7
			end = at + 8*len(f.List)
			if fits = fits && end <= c.cap; fits && len(f.List) > 0 {
				copy(unsafe.Slice((*int64)(c.at(at)), len(f.List)), f.List)
				cf.v0 = uint64(c.base) + uint64(at)
			}
			cf.v1 = uint64(len(f.List))
		default:
			return -1, false
		}
		if fits {
			fields[i] = cf
		}
	}
	if tooLong {
		return -1, false
	}
	if !fits {
		return end + 8*event.MaxList, false // room for list alignment too
	}
	*(*cEvent)(c.at(8)) = ev
	return end, true
}

func (c *viewConn) Call() (bool, error) {
	if c.p.state == 0 {
		return false, backends.Closed(Name, symEventView)
	}
	if c.in == nil {
		return false, c.fail(errors.New("call before encode"))
	}
	c.args = [3]uintptr{c.p.state, c.base + 8, c.base}
	r, _, _ := purego.SyscallN(c.p.m.fnEventView, c.args[:]...)
	switch int64(r) {
	case 0, 1:
		c.keep, c.calls = r == 1, true
		return c.keep, nil
	}
	return false, c.fail(fmt.Errorf("%w: the plugin returned %d", event.ErrMalformed, int64(r)))
}

// Decode builds the output from the input and what the plugin wrote in
// the view: the int fields (counts it incremented) and the score.
func (c *viewConn) Decode(out *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, symEventView)
	}
	if !c.calls || !c.keep {
		return c.fail(errors.New("decode without a kept event"))
	}
	in := c.in
	out.ID, out.Timestamp, out.Origin = in.ID, in.Timestamp, in.Origin
	out.Tags = append(out.Tags[:0], in.Tags...)
	out.Fields = append(out.Fields[:0], in.Fields...)
	fields := unsafe.Slice((*cField)(c.at(8+sizeEvent+sizeBytes*len(in.Tags))), len(in.Fields))
	for i := range out.Fields {
		if f := &out.Fields[i]; f.Kind == event.Int {
			f.Int = int64(fields[i].v0)
		}
	}
	out.Fields = append(out.Fields, event.IntField("score", int64(*(*uint64)(c.at(0)))))
	return nil
}

// Moved is the size of the view: structs and copied bytes.
func (c *viewConn) Moved() int { return c.size }
