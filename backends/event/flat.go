package event

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// The flat layout: a zero-parse encoding a plugin reads in place by
// following offsets. Little-endian; offsets count from the buffer's start.
//
//	header (48 bytes)
//	   0 u32 magic "PBF1"       4 u32 size
//	   8 u64 id                16 i64 ts
//	  24 u32 origin_off        28 u32 origin_len
//	  32 u32 tags_off          36 u32 ntags    (records {u32 off, u32 len})
//	  40 u32 fields_off        44 u32 nfields  (records of 24 bytes)
//	field record (24 bytes)
//	   0 u32 name_off  4 u32 name_len  8 u32 kind  12 u32 n
//	  16 u64 value: int, float bits, bool 0/1, or the offset of a string's
//	            n bytes or of a list's n int64s
//
// The tag and field tables and lists start at multiples of 8. A writer puts
// things where it likes; AppendFlat writes the header, the tag table, the
// field table, the lists, then every string's bytes.
const (
	flatMagic  = 0x31464250 // "PBF1"
	flatHeader = 48
	flatTag    = 8
	flatField  = 24
)

// AppendFlat appends e's flat layout to dst, starting at a multiple of 8
// from the start of dst's backing array only if len(dst) is one: the layout
// is written for a buffer of its own, so pass dst[:0].
func AppendFlat(dst []byte, e *Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	lists := 0
	strs := len(e.Origin)
	for _, t := range e.Tags {
		strs += len(t)
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		strs += len(f.Name)
		switch f.Kind {
		case String:
			strs += len(f.Str)
		case List:
			lists += len(f.List)
		}
	}
	tagsOff := flatHeader
	fieldsOff := tagsOff + flatTag*len(e.Tags)
	listOff := fieldsOff + flatField*len(e.Fields)
	strOff := listOff + 8*lists
	size := strOff + strs

	base := len(dst)
	if cap(dst)-base < size {
		dst = append(dst[:cap(dst)], make([]byte, base+size-cap(dst))...)
	}
	dst = dst[:base+size]
	b := dst[base:]
	le := binary.LittleEndian
	str := func(at int, s string) {
		le.PutUint32(b[at:], uint32(strOff))
		le.PutUint32(b[at+4:], uint32(len(s)))
		strOff += copy(b[strOff:], s)
	}
	le.PutUint32(b[0:], flatMagic)
	le.PutUint32(b[4:], uint32(size))
	le.PutUint64(b[8:], e.ID)
	le.PutUint64(b[16:], uint64(e.Timestamp))
	str(24, e.Origin)
	le.PutUint32(b[32:], uint32(tagsOff))
	le.PutUint32(b[36:], uint32(len(e.Tags)))
	le.PutUint32(b[40:], uint32(fieldsOff))
	le.PutUint32(b[44:], uint32(len(e.Fields)))
	for i, t := range e.Tags {
		str(tagsOff+flatTag*i, t)
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		r := fieldsOff + flatField*i
		str(r, f.Name)
		le.PutUint32(b[r+8:], uint32(f.Kind))
		var n uint32
		var v uint64
		switch f.Kind {
		case Int:
			v = uint64(f.Int)
		case Float:
			v = math.Float64bits(f.Float)
		case Bool:
			v = uint64(b2u8(f.Bool))
		case String:
			n, v = uint32(len(f.Str)), uint64(strOff)
			strOff += copy(b[strOff:], f.Str)
		case List:
			n, v = uint32(len(f.List)), uint64(listOff)
			for _, x := range f.List {
				le.PutUint64(b[listOff:], uint64(x))
				listOff += 8
			}
		}
		le.PutUint32(b[r+12:], n)
		le.PutUint64(b[r+16:], v)
	}
	return dst, nil
}

// DecodeFlat decodes a flat layout into e, following its offsets and
// checking each against the buffer. Errors match ErrMalformed or ErrLimit.
func DecodeFlat(src []byte, e *Event) error {
	r, err := readFlatHeader(src)
	if err != nil {
		return err
	}
	s := string(src[:r.size])
	e.ID = le64(s[8:])
	e.Timestamp = int64(le64(s[16:]))
	e.Origin = s[r.origin.off : r.origin.off+r.origin.n]
	e.Tags = e.Tags[:0]
	for i := range r.ntags {
		t, err := r.span(r.tagsOff+flatTag*i, 1, "tag")
		if err != nil {
			return err
		}
		e.Tags = append(e.Tags, s[t.off:t.off+t.n])
	}
	e.Fields = slices.Grow(e.Fields[:0], r.nfields)[:r.nfields]
	var lists []int64
	for i := range r.nfields {
		rec, err := r.checkField(i)
		if err != nil {
			e.Fields = e.Fields[:0]
			return err
		}
		f := &e.Fields[i]
		f.Name, f.Kind = s[rec.name.off:rec.name.off+rec.name.n], rec.kind
		f.Int, f.Float, f.Str, f.Bool, f.List = 0, 0, "", false, nil
		switch rec.kind {
		case Int:
			f.Int = int64(rec.value)
		case Float:
			f.Float = math.Float64frombits(rec.value)
		case Bool:
			f.Bool = rec.value == 1
		case String:
			f.Str = s[rec.value : rec.value+uint64(rec.n)]
		case List:
			lists = growList(lists, int(rec.n))
			start := len(lists)
			for j := range uint64(rec.n) {
				lists = append(lists, int64(le64(s[rec.value+8*j:])))
			}
			f.List = lists[start:len(lists):len(lists)]
		}
	}
	return nil
}

// kindOf maps a u32 kind to a Kind, with every value beyond a byte unknown.
func kindOf(k uint32) Kind {
	if k > 0xFF {
		return 0
	}
	return Kind(k)
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// flatReader is a checked flat layout: every offset and length it hands out
// lies within the buffer.
type flatReader struct {
	b                  []byte
	size               int
	origin             span
	tagsOff, ntags     int
	fieldsOff, nfields int
}

type span struct{ off, n uint64 }

type flatRecord struct {
	name  span
	kind  Kind
	n     uint32
	value uint64
}

func (r *flatReader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: flat: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// readFlat checks a whole flat layout: header, tables and every record.
func readFlat(b []byte) (flatReader, error) {
	r, err := readFlatHeader(b)
	if err != nil {
		return r, err
	}
	for i := range r.ntags {
		if _, err := r.span(r.tagsOff+flatTag*i, 1, "tag"); err != nil {
			return r, err
		}
	}
	for i := range r.nfields {
		if _, err := r.checkField(i); err != nil {
			return r, err
		}
	}
	return r, nil
}

// readFlatHeader checks the header and the place of the two tables.
func readFlatHeader(b []byte) (flatReader, error) {
	r := flatReader{b: b}
	le := binary.LittleEndian
	if len(b) < flatHeader {
		return r, r.fail("%d bytes, shorter than the %d-byte header", len(b), flatHeader)
	}
	if m := le.Uint32(b); m != flatMagic {
		return r, r.fail("magic %#x, want %#x", m, flatMagic)
	}
	size := le.Uint32(b[4:])
	if size < flatHeader || int64(size) > int64(len(b)) {
		return r, r.fail("size %d, buffer %d bytes", size, len(b))
	}
	r.size = int(size)
	r.b = b[:size]
	var err error
	if r.origin, err = r.span(24, 1, "origin"); err != nil {
		return r, err
	}
	if r.tagsOff, r.ntags, err = r.table(32, flatTag, MaxTags, "tags"); err != nil {
		return r, err
	}
	if r.fieldsOff, r.nfields, err = r.table(40, flatField, MaxFields, "fields"); err != nil {
		return r, err
	}
	return r, nil
}

// checkField reads field record i and checks it.
func (r *flatReader) checkField(i int) (flatRecord, error) {
	if _, err := r.span(r.fieldsOff+flatField*i, 1, "field name"); err != nil {
		return flatRecord{}, err
	}
	rec := r.field(i)
	switch rec.kind {
	case Int, Float:
	case Bool:
		if rec.value > 1 {
			return rec, r.fail("field %d: bool %d", i, rec.value)
		}
	case String:
		if err := r.check(rec.value, uint64(rec.n), 1, MaxString, "string"); err != nil {
			return rec, err
		}
	case List:
		if err := r.check(rec.value, uint64(rec.n), 8, MaxList, "list"); err != nil {
			return rec, err
		}
	default:
		return rec, r.fail("field %d: unknown kind %d", i, rec.kind)
	}
	return rec, nil
}

// span reads an {u32 off, u32 len} pair at at and checks it.
func (r *flatReader) span(at int, elem uint64, what string) (span, error) {
	le := binary.LittleEndian
	s := span{uint64(le.Uint32(r.b[at:])), uint64(le.Uint32(r.b[at+4:]))}
	return s, r.check(s.off, s.n, elem, MaxString, what)
}

// table reads an {u32 off, u32 count} pair for a table of records and
// checks its place and alignment.
func (r *flatReader) table(at, rec, max int, what string) (off, n int, err error) {
	le := binary.LittleEndian
	o, c := uint64(le.Uint32(r.b[at:])), uint64(le.Uint32(r.b[at+4:]))
	if c > uint64(max) {
		return 0, 0, fmt.Errorf("%w: flat: %d %s, at most %d", ErrLimit, c, what, max)
	}
	if o%8 != 0 || o+c*uint64(rec) > uint64(r.size) {
		return 0, 0, r.fail("%s table at %d (%d records) outside %d bytes or unaligned", what, o, c, r.size)
	}
	return int(o), int(c), nil
}

func (r *flatReader) check(off, n, elem uint64, max int, what string) error {
	if n > uint64(max) {
		return fmt.Errorf("%w: flat: %s of %d, at most %d", ErrLimit, what, n, max)
	}
	if off%elem != 0 || off+n*elem > uint64(r.size) {
		return r.fail("%s at %d (%d×%d bytes) outside %d bytes or unaligned", what, off, n, elem, r.size)
	}
	return nil
}

func (r *flatReader) tag(i int) span {
	at := r.tagsOff + flatTag*i
	le := binary.LittleEndian
	return span{uint64(le.Uint32(r.b[at:])), uint64(le.Uint32(r.b[at+4:]))}
}

func (r *flatReader) field(i int) flatRecord {
	at := r.fieldsOff + flatField*i
	le := binary.LittleEndian
	return flatRecord{
		name:  span{uint64(le.Uint32(r.b[at:])), uint64(le.Uint32(r.b[at+4:]))},
		kind:  kindOf(le.Uint32(r.b[at+8:])),
		n:     le.Uint32(r.b[at+12:]),
		value: le.Uint64(r.b[at+16:]),
	}
}
