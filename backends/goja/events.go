package goja

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// transports are what an instance offers: the value transport, the event
// as JavaScript's own values (an object of arrays and objects), built
// from the host's event and read back on every call: the price of
// scripting. The package's doc says why JSON.parse is not offered.
var transports = []event.Transport{event.Value}

// Transports lists the instance's transports: value.
func (p *Plugin) Transports() []event.Transport { return transports }

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if !p.open.Load() {
		return nil, backends.Closed(Name, "Events")
	}
	if t != event.Value {
		return nil, backends.UnsupportedTransport(Name, t, transports)
	}
	return &valueConn{p: p}, nil
}

// valueConn hands the guest the event as an object and reads the object
// it returns.
type valueConn struct {
	p   *Plugin
	in  goja.Value
	out *goja.Object
}

// Encode converts in into JavaScript values.
func (c *valueConn) Encode(in *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	c.in, c.out = toJS(c.p.vm, in), nil
	return nil
}

func (c *valueConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: err}
}

// Call has the guest process the encoded event.
func (c *valueConn) Call() (bool, error) {
	if c.in == nil {
		return false, c.fail(errors.New("call before encode"))
	}
	v, err := c.p.call(fnProcess, c.in)
	if err != nil {
		return false, err
	}
	switch {
	case goja.IsNull(v):
		c.out = nil
		return false, nil
	case goja.IsString(v):
		if s := v.String(); strings.HasPrefix(s, "limit: ") {
			return false, c.fail(fmt.Errorf("%w: %s", event.ErrLimit, strings.TrimPrefix(s, "limit: ")))
		}
	default:
		if o, ok := v.(*goja.Object); ok {
			c.out = o
			return true, nil
		}
	}
	return false, c.fail(fmt.Errorf("%w: process returned %s", event.ErrMalformed, v))
}

// Decode reads the guest's event into out, reusing out's Tags and Fields.
func (c *valueConn) Decode(out *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if c.out == nil {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := fromJS(c.out, out); err != nil {
		return c.fail(err)
	}
	return nil
}

// Moved is 0: nothing crosses as bytes; the conversions are the price.
func (c *valueConn) Moved() int { return 0 }

var kindNames = map[event.Kind]string{
	event.Int: "int", event.Float: "float", event.String: "string", event.Bool: "bool", event.List: "list",
}

// binary is s as a binary string: one UTF-16 unit per byte, so that any
// bytes cross unchanged. ASCII, the usual case, is s itself.
func binary(vm *goja.Runtime, s string) goja.Value {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			u := make([]uint16, len(s))
			for j := 0; j < len(s); j++ {
				u[j] = uint16(s[j])
			}
			return goja.StringFromUTF16(u)
		}
	}
	return vm.ToValue(s)
}

// fromBinary is binary's inverse: a unit above 255 is no byte.
func fromBinary(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("a %T, want a string", v)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			b := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xff {
					return "", fmt.Errorf("%q is no binary string: %U is above 255", s, r)
				}
				b = append(b, byte(r))
			}
			return string(b), nil
		}
	}
	return s, nil
}

// toJS converts e into the guest's object: int64s as BigInts, the ID's
// too, strings as binary strings.
func toJS(vm *goja.Runtime, e *event.Event) goja.Value {
	tags := make([]any, len(e.Tags))
	for i, t := range e.Tags {
		tags[i] = binary(vm, t)
	}
	fields := make([]any, len(e.Fields))
	for i := range e.Fields {
		f := &e.Fields[i]
		o := vm.NewObject()
		o.Set("name", binary(vm, f.Name))
		o.Set("kind", kindNames[f.Kind])
		switch f.Kind {
		case event.Int:
			o.Set("value", big.NewInt(f.Int))
		case event.Float:
			o.Set("value", f.Float)
		case event.String:
			o.Set("value", binary(vm, f.Str))
		case event.Bool:
			o.Set("value", f.Bool)
		case event.List:
			l := make([]any, len(f.List))
			for j, x := range f.List {
				l[j] = big.NewInt(x)
			}
			o.Set("value", vm.NewArray(l...))
		}
		fields[i] = o
	}
	o := vm.NewObject()
	o.Set("id", new(big.Int).SetUint64(e.ID))
	o.Set("timestamp", big.NewInt(e.Timestamp))
	o.Set("origin", binary(vm, e.Origin))
	o.Set("tags", vm.NewArray(tags...))
	o.Set("fields", vm.NewArray(fields...))
	return o
}

// fromJS reads the guest's object o into out. Every value must have the
// type the rule gives it: anything else matches event.ErrMalformed.
func fromJS(o *goja.Object, out *event.Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", event.ErrMalformed, fmt.Sprintf(format, args...))
	}
	m, ok := o.Export().(map[string]any)
	if !ok {
		return bad("an event is a %s, want an object", o.ClassName())
	}
	id, ok := m["id"].(*big.Int)
	if !ok || !id.IsUint64() {
		return bad("id %v is not a BigInt in uint64's range", m["id"])
	}
	out.ID = id.Uint64()
	ts, ok := m["timestamp"].(*big.Int)
	if !ok || !ts.IsInt64() {
		return bad("timestamp %v is not a BigInt in int64's range", m["timestamp"])
	}
	out.Timestamp = ts.Int64()
	var err error
	if out.Origin, err = fromBinary(m["origin"]); err != nil {
		return bad("origin: %v", err)
	}
	tags, ok := m["tags"].([]any)
	if !ok {
		return bad("tags is not an array")
	}
	out.Tags = out.Tags[:0]
	for i, t := range tags {
		s, err := fromBinary(t)
		if err != nil {
			return bad("tag %d: %v", i, err)
		}
		out.Tags = append(out.Tags, s)
	}
	fields, ok := m["fields"].([]any)
	if !ok {
		return bad("fields is not an array")
	}
	out.Fields = out.Fields[:0]
	for i, x := range fields {
		fm, ok := x.(map[string]any)
		if !ok {
			return bad("field %d is not an object", i)
		}
		name, err := fromBinary(fm["name"])
		if err != nil {
			return bad("field %d: name: %v", i, err)
		}
		f := event.Field{Name: name}
		val := fm["value"]
		switch fm["kind"] {
		case "int":
			b, ok := val.(*big.Int)
			if !ok || !b.IsInt64() {
				return bad("field %d: an int field holds %v, want a BigInt in int64's range", i, val)
			}
			f.Kind, f.Int = event.Int, b.Int64()
		case "float":
			// goja keeps an integral number below 2^53 as an integer.
			switch x := val.(type) {
			case float64:
				f.Float = x
			case int64:
				f.Float = float64(x)
			default:
				return bad("field %d: a float field holds a %T", i, val)
			}
			f.Kind = event.Float
		case "string":
			if f.Str, err = fromBinary(val); err != nil {
				return bad("field %d: %v", i, err)
			}
			f.Kind = event.String
		case "bool":
			b, ok := val.(bool)
			if !ok {
				return bad("field %d: a bool field holds a %T", i, val)
			}
			f.Kind, f.Bool = event.Bool, b
		case "list":
			l, ok := val.([]any)
			if !ok {
				return bad("field %d: a list field holds a %T, want an array", i, val)
			}
			f.Kind = event.List
			f.List = make([]int64, len(l))
			for j, y := range l {
				b, ok := y.(*big.Int)
				if !ok || !b.IsInt64() {
					return bad("field %d, item %d: %v is not a BigInt in int64's range", i, j, y)
				}
				f.List[j] = b.Int64()
			}
		default:
			return bad("field %d: kind %v", i, fm["kind"])
		}
		out.Fields = append(out.Fields, f)
	}
	return nil
}
