package event

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// AppendJSON appends e's canonical JSON encoding to dst:
//
//	{"id":U,"ts":I,"origin":S,"tags":[S,...],"fields":{S:V,...}}
//
// with no whitespace. An int is decimal; a float is strconv's shortest 'g'
// form, with ".0" added when it would otherwise read as an int; a list is an
// array of ints. Strings keep their bytes, except that '"', '\' and bytes
// below 0x20 are escaped (\", \\, \u00xx).
func AppendJSON(dst []byte, e *Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, e.ID, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, e.Timestamp, 10)
	dst = append(dst, `,"origin":`...)
	dst = appendJSONString(dst, e.Origin)
	dst = append(dst, `,"tags":[`...)
	for i, t := range e.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, t)
	}
	dst = append(dst, `],"fields":{`...)
	for i := range e.Fields {
		f := &e.Fields[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		switch f.Kind {
		case Int:
			dst = strconv.AppendInt(dst, f.Int, 10)
		case Float:
			dst = appendJSONFloat(dst, f.Float)
		case String:
			dst = appendJSONString(dst, f.Str)
		case Bool:
			dst = strconv.AppendBool(dst, f.Bool)
		case List:
			dst = append(dst, '[')
			for j, v := range f.List {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendInt(dst, v, 10)
			}
			dst = append(dst, ']')
		}
	}
	return append(dst, "}}"...), nil
}

func appendJSONFloat(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DecodeJSON decodes src, a JSON encoding as AppendJSON writes it, into e.
// It also takes the escapes \/ \b \f \n \r \t and \uXXXX (code points below
// 0x80 as that byte, others as UTF-8, surrogates unpaired). Errors match
// ErrMalformed or ErrLimit and give the offset.
func DecodeJSON(src []byte, e *Event) error {
	d := jsonDecoder{s: string(src)}
	if err := d.event(e); err != nil {
		return err
	}
	return e.Validate()
}

type jsonDecoder struct {
	s     string
	i     int
	lists []int64 // one allocation for every list of the event
}

func (d *jsonDecoder) fail(what string) error {
	if d.i >= len(d.s) {
		return fmt.Errorf("%w: json: %s at end of input (offset %d)", ErrMalformed, what, d.i)
	}
	return fmt.Errorf("%w: json: %s at offset %d (%q)", ErrMalformed, what, d.i, d.s[d.i])
}

func (d *jsonDecoder) lit(l string) bool {
	if len(d.s)-d.i >= len(l) && d.s[d.i:d.i+len(l)] == l {
		d.i += len(l)
		return true
	}
	return false
}

func (d *jsonDecoder) event(e *Event) error {
	if !d.lit(`{"id":`) {
		return d.fail(`want {"id":`)
	}
	tok, isFloat := d.number()
	id, ok := parseDigits(tok)
	if isFloat || !ok {
		return d.fail("bad id " + strconv.Quote(tok))
	}
	if !d.lit(`,"ts":`) {
		return d.fail(`want ,"ts":`)
	}
	ts, err := d.integer()
	if err != nil {
		return err
	}
	if !d.lit(`,"origin":`) {
		return d.fail(`want ,"origin":`)
	}
	origin, err := d.str()
	if err != nil {
		return err
	}
	e.ID, e.Timestamp, e.Origin = id, ts, origin
	if !d.lit(`,"tags":[`) {
		return d.fail(`want ,"tags":[`)
	}
	e.Tags = e.Tags[:0]
	for !d.lit("]") {
		if len(e.Tags) > 0 && !d.lit(",") {
			return d.fail("want , or ] in tags")
		}
		if len(e.Tags) == MaxTags {
			return fmt.Errorf("%w: json: more than %d tags", ErrLimit, MaxTags)
		}
		t, err := d.str()
		if err != nil {
			return err
		}
		e.Tags = append(e.Tags, t)
	}
	if !d.lit(`,"fields":{`) {
		return d.fail(`want ,"fields":{`)
	}
	e.Fields = e.Fields[:0]
	for !d.lit("}") {
		if len(e.Fields) > 0 && !d.lit(",") {
			return d.fail("want , or } in fields")
		}
		if len(e.Fields) == MaxFields {
			return fmt.Errorf("%w: json: more than %d fields", ErrLimit, MaxFields)
		}
		e.Fields = slices.Grow(e.Fields, 1)[:len(e.Fields)+1]
		f := &e.Fields[len(e.Fields)-1]
		f.Int, f.Float, f.Str, f.Bool, f.List = 0, 0, "", false, nil
		if f.Name, err = d.str(); err != nil {
			return err
		}
		if !d.lit(":") {
			return d.fail("want :")
		}
		if err := d.value(f); err != nil {
			return err
		}
	}
	if !d.lit("}") {
		return d.fail("want }")
	}
	if d.i != len(d.s) {
		return d.fail("trailing bytes")
	}
	return nil
}

// value decodes a field's value into f, whose Name is set.
func (d *jsonDecoder) value(f *Field) error {
	if d.i >= len(d.s) {
		return d.fail("want a value")
	}
	var err error
	switch c := d.s[d.i]; {
	case c == '"':
		f.Kind = String
		f.Str, err = d.str()
		return err
	case d.lit("true"):
		f.Kind, f.Bool = Bool, true
		return nil
	case d.lit("false"):
		f.Kind = Bool
		return nil
	case c == '[':
		d.i++
		start := len(d.lists)
		for !d.lit("]") {
			if len(d.lists) > start && !d.lit(",") {
				return d.fail("want , or ] in list")
			}
			if len(d.lists)-start == MaxList {
				return fmt.Errorf("%w: json: list %q longer than %d", ErrLimit, f.Name, MaxList)
			}
			v, err := d.integer()
			if err != nil {
				return err
			}
			if len(d.lists) == cap(d.lists) { // a new array, this list moves over
				l := make([]int64, 0, max(2*cap(d.lists), 16))
				d.lists = append(l, d.lists[start:]...)
				start = 0
			}
			d.lists = append(d.lists, v)
		}
		f.Kind, f.List = List, d.lists[start:len(d.lists):len(d.lists)]
		return nil
	}
	at := d.i
	tok, isFloat := d.number()
	if isFloat {
		v, err := strconv.ParseFloat(tok, 64)
		if err != nil || math.IsInf(v, 0) {
			d.i = at
			return d.fail("bad float " + strconv.Quote(tok))
		}
		f.Kind, f.Float = Float, v
		return nil
	}
	d.i = at
	f.Kind = Int
	f.Int, err = d.integer()
	return err
}

func (d *jsonDecoder) integer() (int64, error) {
	at := d.i
	tok, isFloat := d.number()
	neg := len(tok) > 0 && tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	u, ok := parseDigits(digits)
	switch {
	case isFloat || !ok || neg && digits == "0":
	case !neg && u <= math.MaxInt64:
		return int64(u), nil
	case neg && u <= 1<<63:
		return -int64(u), nil
	}
	d.i = at
	return 0, d.fail("bad int " + strconv.Quote(tok))
}

// parseDigits parses a run of decimal digits into a uint64; it fails on
// anything else and on overflow. (number has refused leading zeros.)
func parseDigits(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := uint64(s[i] - '0')
		if c > 9 || u > (math.MaxUint64-c)/10 {
			return 0, false
		}
		u = u*10 + c
	}
	return u, true
}

// number scans a JSON number token and says whether it is a float (holds
// '.', 'e' or 'E'). It checks the grammar; the caller parses the value.
func (d *jsonDecoder) number() (tok string, isFloat bool) {
	start, s := d.i, d.s
	i := d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	ok := digits()
	if ok && i < len(s) && s[i] == '.' {
		i++
		isFloat = true
		ok = digits()
	}
	if ok && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		isFloat = true
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ok = digits()
	}
	if !ok {
		return "", false // an empty token fails every parse
	}
	if j := start; s[j] == '-' {
		j++
		if s[j] == '0' && j+1 < i && '0' <= s[j+1] && s[j+1] <= '9' {
			return "", false
		}
	} else if s[j] == '0' && j+1 < i && '0' <= s[j+1] && s[j+1] <= '9' {
		return "", false
	}
	d.i = i
	return s[start:i], isFloat
}

// plain marks the bytes a string holds as they are: not '"', '\\' or a
// control byte.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// str decodes a string token: a substring of the input when it holds no
// escape, a new string otherwise.
func (d *jsonDecoder) str() (string, error) {
	if !d.lit(`"`) {
		return "", d.fail(`want "`)
	}
	start := d.i
	for i := start; i < len(d.s); i++ {
		c := d.s[i]
		if plain[c] {
			continue
		}
		switch {
		case c == '"':
			d.i = i + 1
			return d.checked(d.s[start:i])
		case c == '\\':
			return d.unescape(start, i)
		case c < 0x20:
			d.i = i
			return "", d.fail("control byte in string")
		}
	}
	d.i = len(d.s)
	return "", d.fail("unterminated string")
}

func (d *jsonDecoder) checked(s string) (string, error) {
	if len(s) > MaxString {
		return "", fmt.Errorf("%w: json: string of %d bytes, at most %d", ErrLimit, len(s), MaxString)
	}
	return s, nil
}

func (d *jsonDecoder) unescape(start, i int) (string, error) {
	// The unescaped string is no longer than the escaped one: one
	// allocation, the size of everything up to the closing quote.
	end := i
	for end < len(d.s) && d.s[end] != '"' {
		if d.s[end] == '\\' {
			end++
		}
		end++
	}
	var b strings.Builder
	b.Grow(min(end, len(d.s)) - start)
	b.WriteString(d.s[start:i])
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.checked(b.String())
		case c < 0x20:
			d.i = i
			return "", d.fail("control byte in string")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(d.s) {
			break
		}
		switch e := d.s[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+6 > len(d.s) {
				d.i = i
				return "", d.fail("short \\u escape")
			}
			r, err := strconv.ParseUint(d.s[i+2:i+6], 16, 32)
			if err != nil {
				d.i = i
				return "", d.fail("bad \\u escape")
			}
			switch {
			case r < 0x80:
				b.WriteByte(byte(r))
			case r < 0x800:
				b.Write([]byte{0xC0 | byte(r>>6), 0x80 | byte(r)&0x3F})
			default: // surrogates too, unpaired, as the C guest writes them
				b.Write([]byte{0xE0 | byte(r>>12), 0x80 | byte(r>>6)&0x3F, 0x80 | byte(r)&0x3F})
			}
			i += 6
			continue
		default:
			d.i = i
			return "", d.fail("bad escape")
		}
		i += 2
	}
	d.i = len(d.s)
	return "", d.fail("unterminated string")
}
