package starlark

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// transports are what an instance offers: the value transport, the event
// as Starlark's own values (a dict of lists and dicts), built from the
// host's event and read back on every call: the price of scripting.
//
// JSON through Starlark's own json module is not offered: plugbench's
// JSON keeps a field's name as an object key, repeated where the event
// repeats it, and strings as bytes, while json.decode keeps the last of
// repeated keys and reads strings as UTF-8.
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

// valueConn hands the guest the event as a Starlark dict and reads the
// dict it returns.
type valueConn struct {
	p   *Plugin
	in  *starlark.Dict
	out starlark.Value
}

// Encode converts in into Starlark values.
func (c *valueConn) Encode(in *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	c.in, c.out = toStarlark(in), nil
	return nil
}

// Call has the guest process the encoded event.
func (c *valueConn) Call() (bool, error) {
	if c.in == nil {
		return false, &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: errors.New("call before encode")}
	}
	v, err := c.p.call(fnProcess, starlark.Tuple{c.in})
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case starlark.NoneType:
		c.out = nil
		return false, nil
	case starlark.String:
		if strings.HasPrefix(string(v), "limit: ") {
			return false, &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: fmt.Errorf("%w: %s", event.ErrLimit, strings.TrimPrefix(string(v), "limit: "))}
		}
	case *starlark.Dict:
		c.out = v
		return true, nil
	}
	return false, &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: fmt.Errorf("%w: process returned %s", event.ErrMalformed, v)}
}

// Decode reads the guest's event into out, reusing out's Tags and Fields.
func (c *valueConn) Decode(out *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if c.out == nil {
		return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: errors.New("decode without a kept event")}
	}
	if err := fromStarlark(c.out, out); err != nil {
		return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "process", Err: err}
	}
	return nil
}

// Moved is 0: nothing crosses as bytes; the conversions are the price.
func (c *valueConn) Moved() int { return 0 }

var kindNames = map[event.Kind]starlark.String{
	event.Int: "int", event.Float: "float", event.String: "string", event.Bool: "bool", event.List: "list",
}

// toStarlark converts e into the guest's dict.
func toStarlark(e *event.Event) *starlark.Dict {
	tags := make([]starlark.Value, len(e.Tags))
	for i, t := range e.Tags {
		tags[i] = starlark.String(t)
	}
	fields := make([]starlark.Value, len(e.Fields))
	for i := range e.Fields {
		f := &e.Fields[i]
		var v starlark.Value
		switch f.Kind {
		case event.Int:
			v = starlark.MakeInt64(f.Int)
		case event.Float:
			v = starlark.Float(f.Float)
		case event.String:
			v = starlark.String(f.Str)
		case event.Bool:
			v = starlark.Bool(f.Bool)
		case event.List:
			l := make([]starlark.Value, len(f.List))
			for j, x := range f.List {
				l[j] = starlark.MakeInt64(x)
			}
			v = starlark.NewList(l)
		}
		d := starlark.NewDict(3)
		d.SetKey(starlark.String("name"), starlark.String(f.Name))
		d.SetKey(starlark.String("kind"), kindNames[f.Kind])
		d.SetKey(starlark.String("value"), v)
		fields[i] = d
	}
	d := starlark.NewDict(5)
	d.SetKey(starlark.String("id"), starlark.MakeUint64(e.ID))
	d.SetKey(starlark.String("timestamp"), starlark.MakeInt64(e.Timestamp))
	d.SetKey(starlark.String("origin"), starlark.String(e.Origin))
	d.SetKey(starlark.String("tags"), starlark.NewList(tags))
	d.SetKey(starlark.String("fields"), starlark.NewList(fields))
	return d
}

// fromStarlark reads the guest's dict v into out. Every value must have
// the type the rule gives it: anything else matches event.ErrMalformed.
func fromStarlark(v starlark.Value, out *event.Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", event.ErrMalformed, fmt.Sprintf(format, args...))
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return bad("an event is a %s, want a dict", v.Type())
	}
	get := func(d *starlark.Dict, key string) starlark.Value {
		x, _, _ := d.Get(starlark.String(key))
		return x
	}
	id, ok := get(d, "id").(starlark.Int)
	if !ok {
		return bad("id is not an int")
	}
	if out.ID, ok = id.Uint64(); !ok {
		return bad("id %s is not a uint64", id)
	}
	ts, err := toInt64(get(d, "timestamp"))
	if err != nil {
		return bad("timestamp: %v", err)
	}
	out.Timestamp = ts
	origin, ok := get(d, "origin").(starlark.String)
	if !ok {
		return bad("origin is not a string")
	}
	out.Origin = string(origin)
	tags, ok := get(d, "tags").(*starlark.List)
	if !ok {
		return bad("tags is not a list")
	}
	out.Tags = out.Tags[:0]
	for i := range tags.Len() {
		t, ok := tags.Index(i).(starlark.String)
		if !ok {
			return bad("tag %d is not a string", i)
		}
		out.Tags = append(out.Tags, string(t))
	}
	fields, ok := get(d, "fields").(*starlark.List)
	if !ok {
		return bad("fields is not a list")
	}
	out.Fields = out.Fields[:0]
	for i := range fields.Len() {
		fd, ok := fields.Index(i).(*starlark.Dict)
		if !ok {
			return bad("field %d is not a dict", i)
		}
		name, ok1 := get(fd, "name").(starlark.String)
		kind, ok2 := get(fd, "kind").(starlark.String)
		if !ok1 || !ok2 {
			return bad("field %d: name or kind is not a string", i)
		}
		f := event.Field{Name: string(name)}
		val := get(fd, "value")
		switch kind {
		case "int":
			f.Kind = event.Int
			if f.Int, err = toInt64(val); err != nil {
				return bad("field %d: %v", i, err)
			}
		case "float":
			x, ok := val.(starlark.Float)
			if !ok {
				return bad("field %d: a float field holds a %s", i, val.Type())
			}
			f.Kind, f.Float = event.Float, float64(x)
		case "string":
			x, ok := val.(starlark.String)
			if !ok {
				return bad("field %d: a string field holds a %s", i, val.Type())
			}
			f.Kind, f.Str = event.String, string(x)
		case "bool":
			x, ok := val.(starlark.Bool)
			if !ok {
				return bad("field %d: a bool field holds a %s", i, val.Type())
			}
			f.Kind, f.Bool = event.Bool, bool(x)
		case "list":
			l, ok := val.(*starlark.List)
			if !ok {
				return bad("field %d: a list field holds a %s", i, val.Type())
			}
			f.Kind = event.List
			f.List = make([]int64, l.Len())
			for j := range l.Len() {
				if f.List[j], err = toInt64(l.Index(j)); err != nil {
					return bad("field %d, item %d: %v", i, j, err)
				}
			}
		default:
			return bad("field %d: kind %s", i, kind)
		}
		out.Fields = append(out.Fields, f)
	}
	return nil
}
