//go:build cgo

package cgo

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// Transports lists the event transports the library exports.
func (p *Plugin) Transports() []event.Transport {
	var ts []event.Transport
	for _, t := range []struct {
		t  event.Transport
		fn C.uintptr_t
	}{{event.View, p.m.fnEventView}, {event.JSON, p.m.fnEventJSON}, {event.Binary, p.m.fnEventBinary}, {event.Flat, p.m.fnEventFlat}} {
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
	var fn C.uintptr_t
	sym := ""
	switch t {
	case event.View:
		if p.m.fnEventView != 0 {
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
// and writes its output into the host's output buffer, both in place: they
// hold no Go pointers, so cgo lets C have them for the call.
type encConn struct {
	p       *Plugin
	t       event.Transport
	fn      C.uintptr_t
	sym     string
	in, out []byte
	n       int // output length of the last Call
}

func (c *encConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: c.sym, Err: err}
}

// Encode and Decode touch only the connection's own buffers, but refuse
// on a closed instance all the same: every call on one fails alike.
func (c *encConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, c.sym)
	}
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
		r := C.pbc_event(c.fn, c.p.state, data(c.in), C.size_t(len(c.in)), data(c.out), C.size_t(len(c.out)))
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
	if c.p.state == 0 {
		return backends.Closed(Name, c.sym)
	}
	if c.n == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out[:c.n], out); err != nil {
		return c.fail(fmt.Errorf("decode the plugin's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.in) + c.n }

// The C structs of the view (plugbench.h), with every pointer a uintptr:
// they are written into C memory, and a pointer-typed store would cost a
// GC write barrier for nothing. The checks below hold them to C's layout.
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

// Compile-time checks that the Go structs are C's: each line fails to
// compile (a negative array length) if a size or an offset differs.
var (
	_ [unsafe.Sizeof(cBytes{}) - unsafe.Sizeof(C.pb_bytes{})]byte
	_ [unsafe.Sizeof(C.pb_bytes{}) - unsafe.Sizeof(cBytes{})]byte
	_ [unsafe.Sizeof(cField{}) - unsafe.Sizeof(C.pb_field{})]byte
	_ [unsafe.Sizeof(C.pb_field{}) - unsafe.Sizeof(cField{})]byte
	_ [unsafe.Sizeof(cEvent{}) - unsafe.Sizeof(C.pb_event{})]byte
	_ [unsafe.Sizeof(C.pb_event{}) - unsafe.Sizeof(cEvent{})]byte

	_ [unsafe.Offsetof(cField{}.kind) - unsafe.Offsetof(C.pb_field{}.kind)]byte
	_ [unsafe.Offsetof(C.pb_field{}.kind) - unsafe.Offsetof(cField{}.kind)]byte
	_ [unsafe.Offsetof(cField{}.v0) - unsafe.Offsetof(C.pb_field{}.v)]byte
	_ [unsafe.Offsetof(C.pb_field{}.v) - unsafe.Offsetof(cField{}.v0)]byte
	_ [unsafe.Offsetof(cEvent{}.origin) - unsafe.Offsetof(C.pb_event{}.origin)]byte
	_ [unsafe.Offsetof(C.pb_event{}.origin) - unsafe.Offsetof(cEvent{}.origin)]byte
	_ [unsafe.Offsetof(cEvent{}.tags) - unsafe.Offsetof(C.pb_event{}.tags)]byte
	_ [unsafe.Offsetof(C.pb_event{}.tags) - unsafe.Offsetof(cEvent{}.tags)]byte
	_ [unsafe.Offsetof(cEvent{}.fields) - unsafe.Offsetof(C.pb_event{}.fields)]byte
	_ [unsafe.Offsetof(C.pb_event{}.fields) - unsafe.Offsetof(cEvent{}.fields)]byte
	_ [unsafe.Offsetof(cEvent{}.nfields) - unsafe.Offsetof(C.pb_event{}.nfields)]byte
	_ [unsafe.Offsetof(C.pb_event{}.nfields) - unsafe.Offsetof(cEvent{}.nfields)]byte
)

const (
	sizeBytes = int(unsafe.Sizeof(cBytes{}))
	sizeField = int(unsafe.Sizeof(cField{}))
	sizeEvent = int(unsafe.Sizeof(cEvent{}))
)

// viewConn hands the plugin the event as C structs it reads in place: no
// encoding and no parsing.
//
// Where they live: cgo lets C have Go memory only if it holds no Go
// pointers, and the structs point at the event's strings, tags and fields,
// so they cannot be Go memory. They are written into the instance's arena,
// C memory from C.malloc, grown (never shrunk) and reused by every view
// connection of the instance, freed by Plugin.Close. The bytes they point
// to are copied there too, in the same pass, rather than pinned where they
// are: runtime.Pinner costs about 50 ns per object, 1.3 µs for the 25
// strings of a typical event, several times the whole round trip, while
// copying its ≈800 bytes costs a few tens of nanoseconds (RATIONALE.md, on
// the dlopen backend's view, which does the same in plugbench_buffer). The
// arena is host memory (plugbench.h: "in memory the host owns"), so the
// view needs no plugbench_buffer export.
//
// The arena: score (8 bytes), the event (64), tags (16 each), fields (40
// each), then string bytes and (8-aligned) list elements as they come.
type viewConn struct {
	p     *Plugin
	in    *event.Event
	size  int // bytes written by the last Encode
	keep  bool
	calls bool
}

func (c *viewConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: symEventView, Err: err}
}

// at returns the arena's memory at offset off.
func (c *viewConn) at(off int) unsafe.Pointer { return unsafe.Add(c.p.arena, off) }

// addr returns the C address of the arena at offset off.
func (c *viewConn) addr(off int) uintptr { return uintptr(c.p.arena) + uintptr(off) }

func (c *viewConn) Encode(in *event.Event) error {
	if c.p.state == 0 {
		return backends.Closed(Name, symEventView) // the arena was freed
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
		n := max(size, 2*c.p.cap, 4096)
		a := C.malloc(C.size_t(n))
		if a == nil {
			return c.fail(fmt.Errorf("could not allocate %d bytes of C memory", n))
		}
		if c.p.arena != nil {
			C.free(c.p.arena)
		}
		c.p.arena, c.p.cap = a, n
	}
}

// write writes the event in into the arena in one pass, checking the
// limits as it goes. It returns the size and true; or the size it needs and
// false when the arena is too small; or -1 when in breaks a limit (and then
// it has written nothing past a string's bounds).
func (c *viewConn) write(in *event.Event) (int, bool) {
	capacity := c.p.cap
	tagsOff := 8 + sizeEvent
	fieldsOff := tagsOff + sizeBytes*len(in.Tags)
	end := fieldsOff + sizeField*len(in.Fields) // strings and lists from here
	fits := end <= capacity
	tooLong := false
	str := func(s string) cBytes {
		if len(s) > event.MaxString {
			tooLong, fits = true, false
			return cBytes{}
		}
		at := end
		end += len(s)
		if fits = fits && end <= capacity; !fits || len(s) == 0 {
			return cBytes{}
		}
		copy(unsafe.Slice((*byte)(c.at(at)), len(s)), s)
		return cBytes{c.addr(at), uint64(len(s))}
	}
	var tags []cBytes
	var fields []cField
	if fits {
		tags = unsafe.Slice((*cBytes)(c.at(tagsOff)), len(in.Tags))
		fields = unsafe.Slice((*cField)(c.at(fieldsOff)), len(in.Fields))
	}
	ev := cEvent{id: in.ID, ts: in.Timestamp, origin: str(in.Origin),
		tags: c.addr(tagsOff), ntags: uint64(len(in.Tags)),
		fields: c.addr(fieldsOff), nfields: uint64(len(in.Fields))}
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
			if fits = fits && end <= capacity; fits && len(f.List) > 0 {
				copy(unsafe.Slice((*int64)(c.at(at)), len(f.List)), f.List)
				cf.v0 = uint64(c.addr(at))
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
	r := C.pbc_view(c.p.m.fnEventView, c.p.state, C.uintptr_t(c.addr(8)), C.uintptr_t(c.addr(0)))
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
