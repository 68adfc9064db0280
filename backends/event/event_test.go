package event

import (
	"errors"
	"math"
	"strings"
	"testing"
)

type codec struct {
	name   string
	enc    func([]byte, *Event) ([]byte, error)
	dec    func([]byte, *Event) error
	decode func(*Processor, []byte, []byte) (int, error)
}

var codecs = []codec{
	{"json", AppendJSON, DecodeJSON, (*Processor).JSON},
	{"binary", AppendBinary, DecodeBinary, (*Processor).Binary},
	{"flat", AppendFlat, DecodeFlat, (*Processor).Flat},
}

func shapes(t testing.TB) map[string]*Event {
	m := map[string]*Event{}
	for _, s := range Shapes {
		e, err := Shape(s)
		if err != nil {
			t.Fatal(err)
		}
		m[s] = e
	}
	return m
}

// checkCodecs round-trips e through every encoding, and checks that each
// Processor method agrees with Process.
func checkCodecs(t *testing.T, e *Event) {
	t.Helper()
	var want Event
	keep, perr := Process(e, &want)
	for _, c := range codecs {
		b, err := c.enc(nil, e)
		if err != nil {
			t.Fatalf("%s: encode: %v", c.name, err)
		}
		var got Event
		if err := c.dec(b, &got); err != nil {
			t.Fatalf("%s: decode: %v\n%q", c.name, err, b)
		}
		if d := Diff(e, &got); d != "" {
			t.Fatalf("%s: round trip: %s", c.name, d)
		}
		out := make([]byte, 2*len(b)+256)
		n, err := c.decode(new(Processor), b, out)
		if (err != nil) != (perr != nil) {
			t.Fatalf("%s: process: %v, Process: %v", c.name, err, perr)
		}
		if err != nil {
			continue
		}
		if (n > 0) != keep {
			t.Fatalf("%s: process kept %v, Process %v", c.name, n > 0, keep)
		}
		if !keep {
			continue
		}
		var res Event
		if err := c.dec(out[:n], &res); err != nil {
			t.Fatalf("%s: decode output: %v", c.name, err)
		}
		if d := Diff(&want, &res); d != "" {
			t.Fatalf("%s: process output: %s", c.name, d)
		}
		if c.name != "flat" {
			if again, _ := c.enc(nil, &want); string(again) != string(out[:n]) {
				t.Fatalf("%s: output is not canonical:\n%q\n%q", c.name, out[:n], again)
			}
		}
		if _, err := c.decode(new(Processor), b, out[:n-1]); !errors.Is(err, ErrSpace) {
			t.Fatalf("%s: one byte short: %v, want ErrSpace", c.name, err)
		}
	}
}

func TestShapes(t *testing.T) {
	for name, e := range shapes(t) {
		t.Run(name, func(t *testing.T) { checkCodecs(t, e) })
	}
	typ, _ := Shape("typical")
	b, _ := AppendJSON(nil, typ)
	if len(b) < 200 || len(b) > 600 {
		t.Errorf("typical event is %d bytes of JSON, want 200-600", len(b))
	}
	small, _ := Shape("small")
	large, _ := Shape("large")
	sb, _ := AppendJSON(nil, small)
	lb, _ := AppendJSON(nil, large)
	if !(len(sb) < len(b) && len(b) < len(lb)) {
		t.Errorf("JSON sizes small %d, typical %d, large %d: not increasing", len(sb), len(b), len(lb))
	}
}

func TestProcess(t *testing.T) {
	e := &Event{ID: 1, Origin: "o", Fields: []Field{
		IntField("count", math.MaxInt64), BoolField("b", true), BoolField("c", false),
		ListField("l", 1, -2, 3), IntField("count", 10), StringField("count", "x"), FloatField("f", 2.5),
	}}
	var out Event
	keep, err := Process(e, &out)
	if err != nil || !keep {
		t.Fatal(keep, err)
	}
	want := []Field{
		IntField("count", math.MinInt64), BoolField("b", true), BoolField("c", false),
		ListField("l", 1, -2, 3), IntField("count", 11), StringField("count", "x"), FloatField("f", 2.5),
		IntField("score", math.MinInt64+12), // wraps: MaxInt64 + 1 (bool) + 2 (list) + 10
	}
	if d := Diff(&Event{ID: 1, Origin: "o", Fields: want}, &out); d != "" {
		t.Error(d)
	}
	if e.Fields[0].Int != math.MaxInt64 {
		t.Error("Process changed its input")
	}
	for _, drop := range []*Event{
		{Tags: []string{"a", "drop"}},
		{Fields: []Field{StringField("level", "debug")}},
	} {
		if keep, err := Process(drop, &out); keep || err != nil {
			t.Errorf("%+v: keep %v, %v", drop, keep, err)
		}
	}
	for _, keepIt := range []*Event{
		{Tags: []string{"Drop"}},
		{Fields: []Field{IntField("level", 0), StringField("level", "debug ")}},
	} {
		if keep, err := Process(keepIt, &out); !keep || err != nil {
			t.Errorf("%+v: keep %v, %v", keepIt, keep, err)
		}
	}
	big := &Event{Fields: make([]Field, MaxFields)}
	for i := range big.Fields {
		big.Fields[i] = IntField("x", 1)
	}
	if _, err := Process(big, &out); !errors.Is(err, ErrLimit) {
		t.Errorf("64 fields: %v, want ErrLimit", err)
	}
}

func TestJSONForms(t *testing.T) {
	e := &Event{ID: math.MaxUint64, Timestamp: math.MinInt64, Origin: "a\"b\\c\x00\x1f\xff/é",
		Fields: []Field{FloatField("f", 1), FloatField("g", math.Copysign(0, -1)), FloatField("h", 1e21), FloatField("i", 5e-324), ListField("l")}}
	b, err := AppendJSON(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":18446744073709551615,"ts":-9223372036854775808,"origin":"a\"b\\c\u0000\u001f` + "\xff/é" +
		`","tags":[],"fields":{"f":1.0,"g":-0.0,"h":1e+21,"i":5e-324,"l":[]}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var got Event
	in := `{"id":0,"ts":0,"origin":"\/\b\f\n\r\t\u0041\u00e9\u20ac\ud800","tags":[],"fields":{"x":-1E2,"y":0.5e1}}`
	if err := DecodeJSON([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	if want := "/\b\f\n\r\tA\u00e9\u20ac\xed\xa0\x80"; got.Origin != want {
		t.Errorf("origin %q, want %q", got.Origin, want)
	}
	if got.Fields[0].Kind != Float || got.Fields[0].Float != -100 || got.Fields[1].Float != 5 {
		t.Errorf("floats: %+v", got.Fields)
	}
}

func TestMalformed(t *testing.T) {
	typ, _ := Shape("typical")
	for _, c := range codecs {
		good, _ := c.enc(nil, typ)
		var e Event
		for n := range len(good) {
			if err := c.dec(good[:n], &e); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) {
				t.Fatalf("%s: truncated to %d bytes: %v", c.name, n, err)
			}
			if _, err := c.decode(new(Processor), good[:n], make([]byte, 4096)); err == nil {
				t.Fatalf("%s: processed an input truncated to %d bytes", c.name, n)
			}
		}
	}
	for _, in := range []string{
		`{"id":-1,"ts":0,"origin":"","tags":[],"fields":{}}`,
		`{"id":1.5,"ts":0,"origin":"","tags":[],"fields":{}}`,
		`{"id":18446744073709551616,"ts":0,"origin":"","tags":[],"fields":{}}`,
		`{"id":0,"ts":9223372036854775808,"origin":"","tags":[],"fields":{}}`,
		`{"id":01,"ts":0,"origin":"","tags":[],"fields":{}}`,
		`{"id":0,"ts":-0,"origin":"","tags":[],"fields":{}}`,
		`{"id":0,"ts":0,"origin":"` + "\n" + `","tags":[],"fields":{}}`,
		`{"id":0,"ts":0,"origin":"\x","tags":[],"fields":{}}`,
		`{"id":0,"ts":0,"origin":"\u12","tags":[],"fields":{}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{"a":1.}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{"a":1e999}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{"a":[1.5]}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{"a":tru}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{"a":null}}`,
		`{"id":0,"ts":0,"origin":"","tags":[,],"fields":{}}`,
		`{"id":0,"ts":0,"origin":"","tags":[],"fields":{}} `,
		`{"id":0, "ts":0,"origin":"","tags":[],"fields":{}}`,
	} {
		var e Event
		if err := DecodeJSON([]byte(in), &e); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", in, err)
		}
	}
	long := `{"id":0,"ts":0,"origin":"` + strings.Repeat("x", MaxString+1) + `","tags":[],"fields":{}}`
	if err := DecodeJSON([]byte(long), new(Event)); !errors.Is(err, ErrLimit) {
		t.Errorf("long origin: %v, want ErrLimit", err)
	}
	for _, in := range [][]byte{
		{0, 0, 0, 0, 1, 0, 1, 4, 2}, // bool 2
		{0, 0, 0, 0, 1, 0, 9},       // kind 9
		{0, 0, 0, 0, 0, 0},          // trailing byte
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0}, // 65-bit id
	} {
		if err := DecodeBinary(in, new(Event)); !errors.Is(err, ErrMalformed) {
			t.Errorf("binary %x: %v, want ErrMalformed", in, err)
		}
	}
	if err := DecodeBinary([]byte{0, 0, 0, 33}, new(Event)); !errors.Is(err, ErrLimit) {
		t.Errorf("binary with 33 tags: %v, want ErrLimit", err)
	}
	flat, _ := AppendFlat(nil, typ)
	for _, bad := range []func(b []byte){
		func(b []byte) { b[0] = 'X' },                 // magic
		func(b []byte) { b[4] = 0xff; b[5] = 0xff },   // size past the end
		func(b []byte) { b[40]++ },                    // fields table unaligned
		func(b []byte) { b[28] = 0xff; b[29] = 0x7f }, // origin past the end
		func(b []byte) { b[48+8*3+8] = 7 },            // first field's kind
	} {
		b := append([]byte(nil), flat...)
		bad(b)
		if err := DecodeFlat(b, new(Event)); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) {
			t.Errorf("bad flat: %v", err)
		}
	}
	if _, err := AppendJSON(nil, &Event{Fields: []Field{FloatField("x", math.NaN())}}); !errors.Is(err, ErrLimit) {
		t.Errorf("NaN: %v, want ErrLimit", err)
	}
}

func TestBatch(t *testing.T) {
	b := Batch(64)
	dropped := 0
	for i := range b {
		if Dropped(&b[i]) {
			dropped++
		}
		checkCodecs(t, &b[i])
	}
	if dropped != 8 {
		t.Errorf("%d of 64 dropped, want 8", dropped)
	}
	if b[0].Fields[4].Int == b[2].Fields[4].Int {
		t.Error("events of a batch share their counts")
	}
}

func TestNoAllocs(t *testing.T) {
	typ, _ := Shape("typical")
	buf := make([]byte, 0, 4096)
	for _, c := range codecs {
		if n := testing.AllocsPerRun(100, func() { c.enc(buf[:0], typ) }); n != 0 {
			t.Errorf("%s: encode: %v allocs", c.name, n)
		}
		b, _ := c.enc(nil, typ)
		var e Event
		c.dec(b, &e)
		// One string, one array of list elements, and for JSON one string
		// for the one string with escapes (the user agent's quotes).
		want := 2.0
		if c.name == "json" {
			want = 3
		}
		if n := testing.AllocsPerRun(100, func() { c.dec(b, &e) }); n > want {
			t.Errorf("%s: decode: %v allocs, want at most %v", c.name, n, want)
		}
	}
}

func FuzzCodecs(f *testing.F) {
	f.Add([]byte("\x01\x02\x03hello\x05\x00\x01\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCodecs(t, Arbitrary(data))
		for _, c := range codecs { // random bytes never crash a decoder
			var e Event
			c.dec(data, &e)
			c.decode(new(Processor), data, make([]byte, 512))
		}
	})
}
