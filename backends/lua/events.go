package lua

import (
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// transports are what an instance offers: the value transport, the event
// as Lua's own values (a table of arrays and tables), built from the
// host's event and read back on every call: the price of scripting. Lua
// has no JSON of its own: none is offered.
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

// valueConn hands the guest the event as a Lua table and reads the table
// it returns.
type valueConn struct {
	p   *Plugin
	in  *glua.LTable
	out *glua.LTable
}

// Encode converts in into Lua values.
func (c *valueConn) Encode(in *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	c.in, c.out = toLua(c.p.L, in), nil
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
	if err := c.p.push(fnProcess); err != nil {
		return false, err
	}
	c.p.L.Push(c.in)
	if err := c.p.call(fnProcess, 1, 1); err != nil {
		return false, err
	}
	v := c.p.L.Get(-1)
	c.p.L.Pop(1)
	switch v := v.(type) {
	case *glua.LNilType:
		c.out = nil
		return false, nil
	case glua.LString:
		if strings.HasPrefix(string(v), "limit: ") {
			return false, c.fail(fmt.Errorf("%w: %s", event.ErrLimit, strings.TrimPrefix(string(v), "limit: ")))
		}
	case *glua.LTable:
		c.out = v
		return true, nil
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
	if err := fromLua(c.out, out); err != nil {
		return c.fail(err)
	}
	return nil
}

// Moved is 0: nothing crosses as bytes; the conversions are the price.
func (c *valueConn) Moved() int { return 0 }

var kindNames = map[event.Kind]glua.LString{
	event.Int: "int", event.Float: "float", event.String: "string", event.Bool: "bool", event.List: "list",
}

// toLua converts e into the guest's table: int64s as pairs of numbers
// (split), the ID's bits as an int64's.
func toLua(L *glua.LState, e *event.Event) *glua.LTable {
	tags := L.CreateTable(len(e.Tags), 0)
	for _, t := range e.Tags {
		tags.Append(glua.LString(t))
	}
	fields := L.CreateTable(len(e.Fields), 0)
	for i := range e.Fields {
		f := &e.Fields[i]
		ft := L.CreateTable(0, 4)
		ft.RawSetString("name", glua.LString(f.Name))
		ft.RawSetString("kind", kindNames[f.Kind])
		switch f.Kind {
		case event.Int:
			hi, lo := split(f.Int)
			ft.RawSetString("hi", hi)
			ft.RawSetString("lo", lo)
		case event.Float:
			ft.RawSetString("value", glua.LNumber(f.Float))
		case event.String:
			ft.RawSetString("value", glua.LString(f.Str))
		case event.Bool:
			ft.RawSetString("value", glua.LBool(f.Bool))
		case event.List:
			l := L.CreateTable(2*len(f.List), 0)
			for _, x := range f.List {
				hi, lo := split(x)
				l.Append(hi)
				l.Append(lo)
			}
			ft.RawSetString("value", l)
		}
		fields.Append(ft)
	}
	t := L.CreateTable(0, 7)
	hi, lo := split(int64(e.ID))
	t.RawSetString("id_hi", hi)
	t.RawSetString("id_lo", lo)
	hi, lo = split(e.Timestamp)
	t.RawSetString("ts_hi", hi)
	t.RawSetString("ts_lo", lo)
	t.RawSetString("origin", glua.LString(e.Origin))
	t.RawSetString("tags", tags)
	t.RawSetString("fields", fields)
	return t
}

// fromLua reads the guest's table t into out. Every value must have the
// type the rule gives it: anything else matches event.ErrMalformed.
func fromLua(t *glua.LTable, out *event.Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", event.ErrMalformed, fmt.Sprintf(format, args...))
	}
	id, err := join(t.RawGetString("id_hi"), t.RawGetString("id_lo"))
	if err != nil {
		return bad("id: %v", err)
	}
	out.ID = uint64(id)
	if out.Timestamp, err = join(t.RawGetString("ts_hi"), t.RawGetString("ts_lo")); err != nil {
		return bad("timestamp: %v", err)
	}
	origin, ok := t.RawGetString("origin").(glua.LString)
	if !ok {
		return bad("origin is not a string")
	}
	out.Origin = string(origin)
	tags, ok := t.RawGetString("tags").(*glua.LTable)
	if !ok {
		return bad("tags is not a table")
	}
	out.Tags = out.Tags[:0]
	for i := 1; i <= tags.Len(); i++ {
		s, ok := tags.RawGetInt(i).(glua.LString)
		if !ok {
			return bad("tag %d is not a string", i)
		}
		out.Tags = append(out.Tags, string(s))
	}
	fields, ok := t.RawGetString("fields").(*glua.LTable)
	if !ok {
		return bad("fields is not a table")
	}
	out.Fields = out.Fields[:0]
	for i := 1; i <= fields.Len(); i++ {
		ft, ok := fields.RawGetInt(i).(*glua.LTable)
		if !ok {
			return bad("field %d is not a table", i)
		}
		name, ok1 := ft.RawGetString("name").(glua.LString)
		kind, ok2 := ft.RawGetString("kind").(glua.LString)
		if !ok1 || !ok2 {
			return bad("field %d: name or kind is not a string", i)
		}
		f := event.Field{Name: string(name)}
		val := ft.RawGetString("value")
		switch kind {
		case "int":
			f.Kind = event.Int
			if f.Int, err = join(ft.RawGetString("hi"), ft.RawGetString("lo")); err != nil {
				return bad("field %d: %v", i, err)
			}
		case "float":
			x, ok := val.(glua.LNumber)
			if !ok {
				return bad("field %d: a float field holds a %s", i, val.Type())
			}
			f.Kind, f.Float = event.Float, float64(x)
		case "string":
			x, ok := val.(glua.LString)
			if !ok {
				return bad("field %d: a string field holds a %s", i, val.Type())
			}
			f.Kind, f.Str = event.String, string(x)
		case "bool":
			x, ok := val.(glua.LBool)
			if !ok {
				return bad("field %d: a bool field holds a %s", i, val.Type())
			}
			f.Kind, f.Bool = event.Bool, bool(x)
		case "list":
			l, ok := val.(*glua.LTable)
			if !ok || l.Len()%2 != 0 {
				return bad("field %d: a list field holds a %s, want a table of pairs", i, val.Type())
			}
			f.Kind = event.List
			f.List = make([]int64, l.Len()/2)
			for j := range f.List {
				if f.List[j], err = join(l.RawGetInt(2*j+1), l.RawGetInt(2*j+2)); err != nil {
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
