package event

import (
	"encoding/binary"
	"fmt"
)

// Processor runs Process on encoded events, as a plugin does: JSON and
// Binary decode the whole input, process and re-encode; Flat reads the
// input in place, copies it and appends a new field table. It is what the Go
// wasm guest runs, and the model of the C guest's exports.
//
// Each method writes the output to out (never growing it) and returns its
// length; n is 0 when the event is dropped. An output that does not fit
// returns ErrSpace. A Processor keeps scratch events between calls and is not
// safe for concurrent use.
type Processor struct {
	in, out Event
}

// JSON processes a JSON event.
func (p *Processor) JSON(in, out []byte) (n int, err error) {
	if err := DecodeJSON(in, &p.in); err != nil {
		return 0, err
	}
	return p.encode(out, AppendJSON)
}

// Binary processes a binary event.
func (p *Processor) Binary(in, out []byte) (n int, err error) {
	if err := DecodeBinary(in, &p.in); err != nil {
		return 0, err
	}
	return p.encode(out, AppendBinary)
}

func (p *Processor) encode(out []byte, enc func([]byte, *Event) ([]byte, error)) (int, error) {
	keep, err := Process(&p.in, &p.out)
	if err != nil || !keep {
		return 0, err
	}
	b, err := enc(out[:0:len(out)], &p.out)
	if err != nil {
		return 0, err
	}
	if len(b) > len(out) || len(b) > 0 && &b[0] != &out[0] {
		return 0, fmt.Errorf("%w: %d bytes, have %d", ErrSpace, len(b), len(out))
	}
	return len(b), nil
}

// Flat processes a flat event in place: it reads the fields where they lie,
// copies the input to out and appends a field table of nfields+1 records
// (counts incremented, score added) and the name "score".
func (p *Processor) Flat(in, out []byte) (n int, err error) {
	r, err := readFlat(in)
	if err != nil {
		return 0, err
	}
	if r.nfields >= MaxFields {
		return 0, fmt.Errorf("%w: %d fields, process adds one to at most %d", ErrLimit, r.nfields, MaxFields-1)
	}
	b := r.b
	str := func(s span) []byte { return b[s.off : s.off+s.n] }
	for i := range r.ntags {
		if string(str(r.tag(i))) == "drop" {
			return 0, nil
		}
	}
	var score uint64
	for i := range r.nfields {
		f := r.field(i)
		switch f.kind {
		case String:
			if f.n == 5 && string(str(f.name)) == "level" && string(b[f.value:f.value+5]) == "debug" {
				return 0, nil
			}
		case Int:
			score += f.value
		case Bool:
			score += f.value
		case List:
			for j := range uint64(f.n) {
				score += binary.LittleEndian.Uint64(b[f.value+8*j:])
			}
		}
	}
	table := (r.size + 7) &^ 7
	name := table + flatField*(r.nfields+1)
	size := name + len("score")
	if size > len(out) {
		return 0, fmt.Errorf("%w: %d bytes, have %d", ErrSpace, size, len(out))
	}
	le := binary.LittleEndian
	o := out[:size]
	copy(o, b)
	clear(o[r.size:table])
	copy(o[table:], b[r.fieldsOff:r.fieldsOff+flatField*r.nfields])
	for i := range r.nfields {
		at := table + flatField*i
		if f := r.field(i); f.kind == Int && string(str(f.name)) == "count" {
			le.PutUint64(o[at+16:], f.value+1)
		}
	}
	at := table + flatField*r.nfields
	le.PutUint32(o[at:], uint32(name))
	le.PutUint32(o[at+4:], uint32(len("score")))
	le.PutUint32(o[at+8:], uint32(Int))
	le.PutUint32(o[at+12:], 0)
	le.PutUint64(o[at+16:], score)
	copy(o[name:], "score")
	le.PutUint32(o[4:], uint32(size))
	le.PutUint32(o[40:], uint32(table))
	le.PutUint32(o[44:], uint32(r.nfields+1))
	return size, nil
}
