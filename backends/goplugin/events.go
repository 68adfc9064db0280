package goplugin

import (
	"errors"
	"fmt"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// transports are the transports of every instance: the Go value, and the
// three encodings.
var transports = []event.Transport{event.Value, event.JSON, event.Binary, event.Flat}

// Transports lists the instance's transports: value, json, binary, flat.
func (p *Plugin) Transports() []event.Transport { return transports }

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.g == nil {
		return nil, backends.Closed(Name, "Events")
	}
	switch t {
	case event.Value:
		return &valueConn{p: p}, nil
	case event.JSON:
		return &encConn{p: p, t: t, fn: p.g.EventJSON, sym: "EventJSON"}, nil
	case event.Binary:
		return &encConn{p: p, t: t, fn: p.g.EventBinary, sym: "EventBinary"}, nil
	case event.Flat:
		return &encConn{p: p, t: t, fn: p.g.EventFlat, sym: "EventFlat"}, nil
	}
	return nil, backends.UnsupportedTransport(Name, t, transports)
}

// valueConn hands the plugin the Go value itself, as the static backend
// hands it to event.Process: host and plugin share package event, so
// *event.Event means the same to both. Decode copies the result (its
// fields, not their strings or lists) into the caller's event.
type valueConn struct {
	p   *Plugin
	in  *event.Event
	out event.Event
}

// Encode checks in against the limits, as every transport does, and keeps
// a pointer to it.
func (c *valueConn) Encode(in *event.Event) error {
	if c.p.g == nil {
		return backends.Closed(Name, "Event")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	c.in = in
	return nil
}

func (c *valueConn) Call() (bool, error) {
	if c.p.g == nil {
		return false, backends.Closed(Name, "Event")
	}
	if c.in == nil {
		return false, &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: "Event", Err: errors.New("call before encode")}
	}
	return c.p.g.Event(c.in, &c.out)
}

func (c *valueConn) Decode(out *event.Event) error {
	if c.p.g == nil {
		return backends.Closed(Name, "Event")
	}
	out.ID, out.Timestamp, out.Origin = c.out.ID, c.out.Timestamp, c.out.Origin
	out.Tags = append(out.Tags[:0], c.out.Tags...)
	out.Fields = append(out.Fields[:0], c.out.Fields...)
	return nil
}

func (c *valueConn) Moved() int { return 0 }

// encConn carries encoded events: the plugin reads the host's input bytes
// and writes its output into the host's buffer, both in place (they are Go
// slices in one Go program).
type encConn struct {
	p       *Plugin
	t       event.Transport
	fn      func(in, out []byte) (int, error) // the instance's method
	sym     string
	in, out []byte
	n       int // output length of the last Call
}

func (c *encConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: c.sym, Err: err}
}

func (c *encConn) Encode(in *event.Event) error {
	if c.p.g == nil {
		return backends.Closed(Name, c.sym)
	}
	var err error
	c.in, err = event.Append(c.t, c.in[:0], in)
	c.n = 0
	return err
}

func (c *encConn) Call() (bool, error) {
	if c.p.g == nil {
		return false, backends.Closed(Name, c.sym)
	}
	if len(c.in) == 0 {
		return false, c.fail(errors.New("call before encode"))
	}
	if want := 2*len(c.in) + 256; len(c.out) < want {
		c.out = make([]byte, want)
	}
	for {
		n, err := c.fn(c.in, c.out)
		switch {
		case errors.Is(err, event.ErrSpace) && len(c.out) < 1<<24:
			c.out = make([]byte, 2*len(c.out))
		case err != nil:
			return false, c.fail(err)
		case n < 0 || n > len(c.out):
			return false, c.fail(fmt.Errorf("the plugin wrote %d bytes into a %d-byte buffer", n, len(c.out)))
		default:
			c.n = n
			return n > 0, nil
		}
	}
}

func (c *encConn) Decode(out *event.Event) error {
	if c.p.g == nil {
		return backends.Closed(Name, c.sym)
	}
	if c.n == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out[:c.n], out); err != nil {
		return c.fail(fmt.Errorf("decode the plugin's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.in) + c.n }
