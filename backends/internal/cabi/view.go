package cabi

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/plugbench/plugbench/backends/event"
)

// The C structs of the view (plugbench.h), laid out as C lays them out on
// a 64-bit target, with every pointer a uintptr: they are written into C
// memory, and a pointer-typed store would cost a GC write barrier for
// nothing. The cgo backend checks at compile time that they are C's.
type (
	Bytes struct { // pb_bytes
		P uintptr
		N uint64
	}
	Field struct { // pb_field
		Name   Bytes
		Kind   uint32
		_      uint32
		V0, V1 uint64 // the union: i, f, b; or s / list as {p, n}
	}
	Event struct { // pb_event
		ID      uint64
		TS      int64
		Origin  Bytes
		Tags    uintptr
		NTags   uint64
		Fields  uintptr
		NFields uint64
	}
)

const (
	sizeBytes = int(unsafe.Sizeof(Bytes{}))
	sizeField = int(unsafe.Sizeof(Field{}))
	sizeEvent = int(unsafe.Sizeof(Event{}))
)

// The arena: score (8 bytes), the event (64), tags (16 each), fields (40
// each), then string bytes and (8-aligned) list elements as they come.
// plugbench_event_view takes the event's address, base+EventOff, and the
// score's, base+ScoreOff.
const (
	ScoreOff = 0
	EventOff = 8
)

// at returns C memory at offset off of the arena at base as a pointer.
// base is C memory, which Go never moves (and the indirection keeps vet's
// check quiet).
func at(base uintptr, off int) unsafe.Pointer {
	return unsafe.Add(*(*unsafe.Pointer)(unsafe.Pointer(&base)), off)
}

// Write writes the event in into the arena of capacity bytes at base in
// one pass, checking the limits as it goes. It returns the size and true;
// or the size it needs and false when the arena is too small; or -1 when
// in breaks a limit (and then it has written nothing past a string's
// bounds).
func Write(base uintptr, capacity int, in *event.Event) (int, bool) {
	tagsOff := EventOff + sizeEvent
	fieldsOff := tagsOff + sizeBytes*len(in.Tags)
	end := fieldsOff + sizeField*len(in.Fields) // strings and lists from here
	fits := end <= capacity
	tooLong := false
	str := func(s string) Bytes {
		if len(s) > event.MaxString {
			tooLong, fits = true, false
			return Bytes{}
		}
		off := end
		end += len(s)
		if fits = fits && end <= capacity; !fits || len(s) == 0 {
			return Bytes{}
		}
		copy(unsafe.Slice((*byte)(at(base, off)), len(s)), s)
		return Bytes{base + uintptr(off), uint64(len(s))}
	}
	var tags []Bytes
	var fields []Field
	if fits {
		tags = unsafe.Slice((*Bytes)(at(base, tagsOff)), len(in.Tags))
		fields = unsafe.Slice((*Field)(at(base, fieldsOff)), len(in.Fields))
	}
	ev := Event{ID: in.ID, TS: in.Timestamp, Origin: str(in.Origin),
		Tags: base + uintptr(tagsOff), NTags: uint64(len(in.Tags)),
		Fields: base + uintptr(fieldsOff), NFields: uint64(len(in.Fields))}
	for i, t := range in.Tags {
		b := str(t)
		if fits {
			tags[i] = b
		}
	}
	for i := range in.Fields {
		f := &in.Fields[i]
		cf := Field{Name: str(f.Name), Kind: uint32(f.Kind)}
		switch f.Kind {
		case event.Int:
			cf.V0 = uint64(f.Int)
		case event.Float:
			if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
				return -1, false
			}
			cf.V0 = math.Float64bits(f.Float)
		case event.Bool:
			if f.Bool {
				cf.V0 = 1
			}
		case event.String:
			s := str(f.Str)
			cf.V0, cf.V1 = uint64(s.P), s.N
		case event.List:
			if len(f.List) > event.MaxList {
				return -1, false
			}
			// 8-aligned: the strings before it have any length.
			off := (end + 7) &^ 7
			end = off + 8*len(f.List)
			if fits = fits && end <= capacity; fits && len(f.List) > 0 {
				copy(unsafe.Slice((*int64)(at(base, off)), len(f.List)), f.List)
				cf.V0 = uint64(base) + uint64(off)
			}
			cf.V1 = uint64(len(f.List))
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
	*(*Event)(at(base, EventOff)) = ev
	return end, true
}

// View is the host's side of the view transport: the plugin reads the
// event as C structs in place, no encoding and no parsing, and patches
// their int fields and the score. The structs, and the bytes of the
// strings and lists they point to, are written into an arena of C memory
// that the backend owns and grows: Go may not give C memory holding Go
// pointers unless every object they point to is pinned, and pinning costs
// more than copying the bytes (RATIONALE.md has the figures).
type View struct {
	Site
	in    *event.Event
	size  int // bytes written by the last Encode
	keep  bool
	calls bool
}

// Encode writes in into the arena of capacity bytes at base. When the
// arena is too small it writes nothing and returns the size to grow it to;
// the backend grows it and calls Encode again. Otherwise it returns 0 and
// in's error, if it breaks a limit.
func (v *View) Encode(base uintptr, capacity int, in *event.Event) (int, error) {
	if len(in.Tags) > event.MaxTags || len(in.Fields) > event.MaxFields {
		return 0, in.Validate() // says which limit
	}
	size, ok := Write(base, capacity, in)
	if ok {
		v.in, v.size, v.calls = in, size, false
		return 0, nil
	}
	if size < 0 {
		return 0, in.Validate()
	}
	return max(size, 2*capacity, 4096), nil
}

// Ready checks that an event was encoded.
func (v *View) Ready() error {
	if v.in == nil {
		return v.Fail(errors.New("call before encode"))
	}
	return nil
}

// Result takes what plugbench_event_view returned, r: whether the plugin
// keeps the event, or an error.
func (v *View) Result(r int64) (bool, error) {
	switch r {
	case 0, 1:
		v.keep, v.calls = r == 1, true
		return v.keep, nil
	}
	return false, v.Fail(fmt.Errorf("%w: the plugin returned %d", event.ErrMalformed, r))
}

// Decode builds the output from the input and what the plugin wrote in
// the view at base: the int fields (counts it incremented) and the score.
func (v *View) Decode(base uintptr, out *event.Event) error {
	if !v.calls || !v.keep {
		return v.Fail(errors.New("decode without a kept event"))
	}
	in := v.in
	out.ID, out.Timestamp, out.Origin = in.ID, in.Timestamp, in.Origin
	out.Tags = append(out.Tags[:0], in.Tags...)
	out.Fields = append(out.Fields[:0], in.Fields...)
	fields := unsafe.Slice((*Field)(at(base, EventOff+sizeEvent+sizeBytes*len(in.Tags))), len(in.Fields))
	for i := range out.Fields {
		if f := &out.Fields[i]; f.Kind == event.Int {
			f.Int = int64(fields[i].V0)
		}
	}
	out.Fields = append(out.Fields, event.IntField("score", int64(*(*uint64)(at(base, ScoreOff)))))
	return nil
}

// Moved is the size of the view: structs and copied bytes.
func (v *View) Moved() int { return v.size }
