package knqyf263

import (
	"errors"
	"fmt"
	"strings"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/knqyf263/protocol"
)

// transports are what an instance offers: the value transport, the event
// as the protobuf message protocol.Event, as the framework's users pass
// their data. The encoded transports (json, binary, flat) as bytes fields
// are not offered: they would be the wasm backend's rows with the
// framework's envelope around them, which the call rows already measure.
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

// valueConn hands the guest the event as a protobuf message and reads
// the message it returns.
type valueConn struct {
	p       *Plugin
	req     protocol.Event
	encoded bool
	rep     *protocol.ProcessReply
}

// Encode converts in into the message (sharing its strings and lists).
func (c *valueConn) Encode(in *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	protocol.ToProto(in, &c.req)
	c.encoded, c.rep = true, nil
	return nil
}

// Call has the guest process the message: the generated code marshals
// it into the guest's memory, and unmarshals the reply.
func (c *valueConn) Call() (bool, error) {
	if !c.encoded {
		return false, &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: SymProcess, Err: errors.New("call before encode")}
	}
	if !c.p.open.Load() {
		return false, backends.Closed(Name, "process")
	}
	rep, err := c.p.g.Process(c.p.ctx, &c.req)
	if err != nil {
		// The guest's errors cross as their text: an event beyond the
		// limits is the one it returns.
		if msg := err.Error(); strings.HasPrefix(msg, event.ErrLimit.Error()) {
			err = fmt.Errorf("%w%s", event.ErrLimit, strings.TrimPrefix(msg, event.ErrLimit.Error()))
		}
		return false, c.p.fail(SymProcess, err)
	}
	c.rep = rep
	if !rep.Keep {
		return false, nil
	}
	if rep.Event == nil {
		return false, c.p.fail(SymProcess, fmt.Errorf("%w: a kept event's reply has no event", event.ErrMalformed))
	}
	return true, nil
}

// Decode converts the reply's event into out.
func (c *valueConn) Decode(out *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, "process")
	}
	if c.rep == nil || !c.rep.Keep || c.rep.Event == nil {
		return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: SymProcess, Err: errors.New("decode without a kept event")}
	}
	protocol.FromProto(c.rep.Event, out)
	return out.Validate()
}

// Moved is the size of the last round trip's messages: the request and,
// after a call, the reply.
func (c *valueConn) Moved() int {
	n := c.req.SizeVT()
	if c.rep != nil {
		n += c.rep.SizeVT()
	}
	return n
}
