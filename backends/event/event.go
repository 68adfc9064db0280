// Package event is plugbench's structured event: the record an event
// processor moves (an id, a timestamp, an origin, tags and a dozen named
// fields of mixed types), the exact process rule every plugin reproduces, and
// the encodings that carry an event across a plugin boundary.
//
// The rules are those of fixtures/c/plugbench.h, the C ABI; this package is
// their Go reference. The suite checks every backend's output against
// [Process] on the same input, event by event.
//
// # Transports
//
// How an event reaches a plugin and comes back:
//
//   - [Value]: the Go value itself (the static backend).
//   - [View]: C structs describing the event, read in place by the plugin
//     with no decoding (dlopen only).
//   - [JSON]: a self-describing text encoding, parsed and re-encoded by the
//     plugin.
//   - [Binary]: a compact varint encoding, decoded and re-encoded.
//   - [Flat]: a zero-parse layout of fixed offsets, read in place; the plugin
//     copies it and appends a new field table.
//
// Encoders append to a caller's buffer and allocate nothing once it is large
// enough. Decoders make one string of the whole input (every string of the
// event is a substring of it) and one slice for the list elements, and reuse
// the Tags and Fields of the event they decode into.
package event

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Transport is how an event crosses a plugin boundary; the names are the
// benchmarks' transport= keys.
type Transport string

// The transports.
const (
	Value  Transport = "value"  // the Go value (static)
	View   Transport = "view"   // C structs read in place (dlopen)
	JSON   Transport = "json"   // text, parsed and re-encoded
	Binary Transport = "binary" // compact varints, decoded and re-encoded
	Flat   Transport = "flat"   // fixed offsets read in place, patched
)

// Transports lists every transport, in the order reports show them.
var Transports = []Transport{Value, View, JSON, Binary, Flat}

// Limits every encoding and every plugin enforces. An event processed by
// [Process] may have at most MaxFields-1 fields, since it gains one.
const (
	MaxTags   = 32
	MaxFields = 64
	MaxList   = 64
	MaxString = 4096
)

// Kind is the type of a field's value. The numbers are those of the ABI.
type Kind uint8

const (
	Int    Kind = 1 // Field.Int
	Float  Kind = 2 // Field.Float, finite
	String Kind = 3 // Field.Str
	Bool   Kind = 4 // Field.Bool
	List   Kind = 5 // Field.List
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "string"
	case Bool:
		return "bool"
	case List:
		return "list"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one record. Strings are byte strings (not necessarily UTF-8).
//
// An event handed to a transport or to Process is read, never written; the
// output of Process shares the input's strings and lists.
type Event struct {
	ID        uint64
	Timestamp int64 // unix nanoseconds
	Origin    string
	Tags      []string
	Fields    []Field // names may repeat; order is kept
}

// Field is a named value; only the member its Kind names is meaningful.
type Field struct {
	Name  string
	Kind  Kind
	Int   int64
	Float float64
	Str   string
	Bool  bool
	List  []int64
}

// Field constructors.
func IntField(name string, v int64) Field     { return Field{Name: name, Kind: Int, Int: v} }
func FloatField(name string, v float64) Field { return Field{Name: name, Kind: Float, Float: v} }
func StringField(name string, v string) Field { return Field{Name: name, Kind: String, Str: v} }
func BoolField(name string, v bool) Field     { return Field{Name: name, Kind: Bool, Bool: v} }
func ListField(name string, v ...int64) Field { return Field{Name: name, Kind: List, List: v} }

// Errors, matched with errors.Is.
var (
	// ErrMalformed: bytes that are not a valid encoding.
	ErrMalformed = errors.New("malformed event")
	// ErrLimit: an event beyond the limits (tags, fields, list length,
	// string length, a non-finite float).
	ErrLimit = errors.New("event beyond limits")
	// ErrSpace: a plugin's output did not fit the buffer it was given.
	ErrSpace = errors.New("output buffer too small")
)

// Validate reports whether e is within the limits every transport carries.
func (e *Event) Validate() error {
	if len(e.Tags) > MaxTags {
		return fmt.Errorf("%w: %d tags, at most %d", ErrLimit, len(e.Tags), MaxTags)
	}
	if len(e.Fields) > MaxFields {
		return fmt.Errorf("%w: %d fields, at most %d", ErrLimit, len(e.Fields), MaxFields)
	}
	if len(e.Origin) > MaxString {
		return tooLong("origin", len(e.Origin))
	}
	for i, t := range e.Tags {
		if len(t) > MaxString {
			return tooLong("tag "+strconv.Itoa(i), len(t))
		}
	}
	for i := range e.Fields {
		if err := e.Fields[i].validate(); err != nil {
			return fmt.Errorf("field %d: %w", i, err)
		}
	}
	return nil
}

func (f *Field) validate() error {
	if len(f.Name) > MaxString {
		return tooLong("name", len(f.Name))
	}
	switch f.Kind {
	case Int, Bool:
	case Float:
		if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
			return fmt.Errorf("%w: %q is %v: floats must be finite", ErrLimit, f.Name, f.Float)
		}
	case String:
		if len(f.Str) > MaxString {
			return tooLong(strconv.Quote(f.Name), len(f.Str))
		}
	case List:
		if len(f.List) > MaxList {
			return fmt.Errorf("%w: list %q has %d elements, at most %d", ErrLimit, f.Name, len(f.List), MaxList)
		}
	default:
		return fmt.Errorf("%w: %q has unknown %v", ErrLimit, f.Name, f.Kind)
	}
	return nil
}

func tooLong(what string, n int) error {
	return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrLimit, what, n, MaxString)
}

// Process is the reference of the one operation every plugin implements,
// exactly:
//
//  1. Drop the event (keep false, out untouched) if a tag is "drop" or a
//     field named "level" is the string "debug".
//  2. score = the wrapping sum, over the fields in order, of an int's value,
//     1 for a true bool, and every element of a list.
//  3. Every int field named "count" becomes count+1 (wrapping).
//  4. Append the int field "score".
//
// out receives the result; its Tags and Fields are reused. in must hold at
// most MaxFields-1 fields.
func Process(in, out *Event) (keep bool, err error) {
	if len(in.Fields) >= MaxFields {
		return false, fmt.Errorf("%w: %d fields, process adds one to at most %d", ErrLimit, len(in.Fields), MaxFields-1)
	}
	if Dropped(in) {
		return false, nil
	}
	out.ID, out.Timestamp, out.Origin = in.ID, in.Timestamp, in.Origin
	out.Tags = append(out.Tags[:0], in.Tags...)
	out.Fields = append(out.Fields[:0], in.Fields...)
	score := Score(in)
	for i := range out.Fields {
		if f := &out.Fields[i]; f.Kind == Int && f.Name == "count" {
			f.Int++
		}
	}
	out.Fields = append(out.Fields, IntField("score", score))
	return true, nil
}

// Dropped reports whether Process drops e.
func Dropped(e *Event) bool {
	for _, t := range e.Tags {
		if t == "drop" {
			return true
		}
	}
	for i := range e.Fields {
		if f := &e.Fields[i]; f.Kind == String && f.Name == "level" && f.Str == "debug" {
			return true
		}
	}
	return false
}

// Score is Process's score of e.
func Score(e *Event) int64 {
	var s uint64
	for i := range e.Fields {
		switch f := &e.Fields[i]; f.Kind {
		case Int:
			s += uint64(f.Int)
		case Bool:
			if f.Bool {
				s++
			}
		case List:
			for _, v := range f.List {
				s += uint64(v)
			}
		}
	}
	return int64(s)
}

// Equal reports whether a and b hold the same event: floats compare by
// their bits, and only the member a field's Kind names is compared.
func Equal(a, b *Event) bool { return Diff(a, b) == "" }

// Diff describes the first difference between a and b, or returns "".
func Diff(a, b *Event) string {
	switch {
	case a.ID != b.ID:
		return fmt.Sprintf("id %d != %d", a.ID, b.ID)
	case a.Timestamp != b.Timestamp:
		return fmt.Sprintf("ts %d != %d", a.Timestamp, b.Timestamp)
	case a.Origin != b.Origin:
		return fmt.Sprintf("origin %q != %q", a.Origin, b.Origin)
	case len(a.Tags) != len(b.Tags):
		return fmt.Sprintf("%d tags != %d", len(a.Tags), len(b.Tags))
	case len(a.Fields) != len(b.Fields):
		return fmt.Sprintf("%d fields != %d", len(a.Fields), len(b.Fields))
	}
	for i := range a.Tags {
		if a.Tags[i] != b.Tags[i] {
			return fmt.Sprintf("tag %d: %q != %q", i, a.Tags[i], b.Tags[i])
		}
	}
	for i := range a.Fields {
		if d := fieldDiff(&a.Fields[i], &b.Fields[i]); d != "" {
			return fmt.Sprintf("field %d: %s", i, d)
		}
	}
	return ""
}

func fieldDiff(a, b *Field) string {
	if a.Name != b.Name || a.Kind != b.Kind {
		return fmt.Sprintf("%q %v != %q %v", a.Name, a.Kind, b.Name, b.Kind)
	}
	var same bool
	switch a.Kind {
	case Int:
		same = a.Int == b.Int
	case Float:
		same = math.Float64bits(a.Float) == math.Float64bits(b.Float)
	case String:
		same = a.Str == b.Str
	case Bool:
		same = a.Bool == b.Bool
	case List:
		same = len(a.List) == len(b.List)
		for i := 0; same && i < len(a.List); i++ {
			same = a.List[i] == b.List[i]
		}
	}
	if !same {
		return fmt.Sprintf("%q: %v != %v", a.Name, a.value(), b.value())
	}
	return ""
}

func (f *Field) value() any {
	switch f.Kind {
	case Int:
		return f.Int
	case Float:
		return f.Float
	case String:
		return strconv.Quote(f.Str)
	case Bool:
		return f.Bool
	case List:
		return f.List
	}
	return nil
}

// Append appends e's encoding for transport t: JSON, Binary or Flat.
func Append(t Transport, dst []byte, e *Event) ([]byte, error) {
	switch t {
	case JSON:
		return AppendJSON(dst, e)
	case Binary:
		return AppendBinary(dst, e)
	case Flat:
		return AppendFlat(dst, e)
	}
	return dst, fmt.Errorf("transport %q has no encoding", t)
}

// Decode decodes src, encoded for transport t, into e.
func Decode(t Transport, src []byte, e *Event) error {
	switch t {
	case JSON:
		return DecodeJSON(src, e)
	case Binary:
		return DecodeBinary(src, e)
	case Flat:
		return DecodeFlat(src, e)
	}
	return fmt.Errorf("transport %q has no encoding", t)
}
