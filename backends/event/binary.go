package event

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// AppendBinary appends e's compact binary encoding to dst. Varints are
// protobuf's (LEB128, minimal); signed values are zigzag-encoded:
//
//	uvarint id, zigzag ts, str origin, uvarint ntags, str...,
//	uvarint nfields, field...
//	str   = uvarint len, bytes
//	field = str name, byte kind, value
//	value = int: zigzag; float: 8 bytes little-endian; string: str;
//	        bool: byte 0 or 1; list: uvarint n, zigzag...
func AppendBinary(dst []byte, e *Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	dst = binary.AppendUvarint(dst, e.ID)
	dst = binary.AppendVarint(dst, e.Timestamp)
	dst = appendStr(dst, e.Origin)
	dst = binary.AppendUvarint(dst, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		dst = appendStr(dst, t)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	for i := range e.Fields {
		f := &e.Fields[i]
		dst = appendStr(dst, f.Name)
		dst = append(dst, byte(f.Kind))
		switch f.Kind {
		case Int:
			dst = binary.AppendVarint(dst, f.Int)
		case Float:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Float))
		case String:
			dst = appendStr(dst, f.Str)
		case Bool:
			dst = append(dst, b2u8(f.Bool))
		case List:
			dst = binary.AppendUvarint(dst, uint64(len(f.List)))
			for _, v := range f.List {
				dst = binary.AppendVarint(dst, v)
			}
		}
	}
	return dst, nil
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// DecodeBinary decodes src, as AppendBinary writes it, into e. Errors match
// ErrMalformed or ErrLimit and give the offset.
func DecodeBinary(src []byte, e *Event) error {
	d := binDecoder{s: string(src)}
	if err := d.event(e); err != nil {
		return err
	}
	return e.Validate()
}

type binDecoder struct {
	s     string
	i     int
	err   error
	lists []int64
}

func (d *binDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: binary: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), d.i)
		d.i = len(d.s)
	}
}

func (d *binDecoder) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		if d.i >= len(d.s) {
			d.fail("truncated varint")
			return 0
		}
		c := d.s[d.i]
		d.i++
		if shift == 63 && c > 1 {
			d.fail("varint overflows 64 bits")
			return 0
		}
		v |= uint64(c&0x7F) << shift
		if c < 0x80 {
			return v
		}
	}
	d.fail("varint longer than 10 bytes")
	return 0
}

func (d *binDecoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a count and checks it against max.
func (d *binDecoder) count(what string, max int) int {
	n := d.uvarint()
	if n > uint64(max) && d.err == nil {
		d.err = fmt.Errorf("%w: binary: %d %s, at most %d", ErrLimit, n, what, max)
		d.i = len(d.s)
	}
	return int(min(n, uint64(max)))
}

func (d *binDecoder) str() string {
	n := d.count("string bytes", MaxString)
	if n > len(d.s)-d.i {
		d.fail("string of %d bytes past the end", n)
		return ""
	}
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *binDecoder) byte() byte {
	if d.i >= len(d.s) {
		d.fail("truncated")
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

func (d *binDecoder) event(e *Event) error {
	e.ID = d.uvarint()
	e.Timestamp = d.varint()
	e.Origin = d.str()
	e.Tags = e.Tags[:0]
	for n := d.count("tags", MaxTags); n > 0 && d.err == nil; n-- {
		e.Tags = append(e.Tags, d.str())
	}
	n := d.count("fields", MaxFields)
	e.Fields = slices.Grow(e.Fields[:0], n)
	for ; n > 0 && d.err == nil; n-- {
		// In place: appending a Field value would copy it again.
		e.Fields = e.Fields[:len(e.Fields)+1]
		f := &e.Fields[len(e.Fields)-1]
		f.Name, f.Kind = d.str(), Kind(d.byte())
		f.Int, f.Float, f.Str, f.Bool, f.List = 0, 0, "", false, nil
		switch f.Kind {
		case Int:
			f.Int = d.varint()
		case Float:
			if len(d.s)-d.i < 8 {
				d.fail("truncated float")
				break
			}
			f.Float = math.Float64frombits(le64(d.s[d.i:]))
			d.i += 8
		case String:
			f.Str = d.str()
		case Bool:
			switch d.byte() {
			case 0:
			case 1:
				f.Bool = true
			default:
				d.i--
				d.fail("bool byte not 0 or 1")
			}
		case List:
			n := d.count("list elements", MaxList)
			d.lists = growList(d.lists, n)
			start := len(d.lists)
			for ; n > 0 && d.err == nil; n-- {
				d.lists = append(d.lists, d.varint())
			}
			f.List = d.lists[start:len(d.lists):len(d.lists)]
		default:
			d.i--
			d.fail("unknown kind %d", f.Kind)
		}
	}
	if d.err == nil && d.i != len(d.s) {
		d.fail("%d trailing bytes", len(d.s)-d.i)
	}
	return d.err
}

// growList makes room for n more list elements. Decoded lists are
// subslices of one array; when it is full a new one starts (the lists
// already decoded keep the old one).
func growList(l []int64, n int) []int64 {
	if cap(l)-len(l) >= n {
		return l
	}
	return make([]int64, 0, max(n, 2*cap(l), 16))
}
