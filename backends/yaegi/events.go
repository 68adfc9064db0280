package yaegi

import (
	"errors"
	"fmt"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// transports are the transports of every instance: the three encodings
// (the package doc says why not the value).
var transports = []event.Transport{event.JSON, event.Binary, event.Flat}

// Transports lists the instance's transports: json, binary, flat.
func (p *Plugin) Transports() []event.Transport { return transports }

// Events returns a connection through transport t.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if !p.open.Load() {
		return nil, backends.Closed(Name, "Events")
	}
	switch t {
	case event.JSON:
		return &encConn{p: p, t: t, fn: p.ex.eventJSON, sym: "EventJSON"}, nil
	case event.Binary:
		return &encConn{p: p, t: t, fn: p.ex.eventBinary, sym: "EventBinary"}, nil
	case event.Flat:
		return &encConn{p: p, t: t, fn: p.ex.eventFlat, sym: "EventFlat"}, nil
	}
	return nil, backends.UnsupportedTransport(Name, t, transports)
}

// guestError is an error of the interpreted package event, made to match
// the host's sentinel it stands for: the interpreted package's sentinels
// are other values.
type guestError struct {
	err  error // the guest's
	host error // event.ErrMalformed, event.ErrLimit or event.ErrSpace
}

func (e *guestError) Error() string        { return e.err.Error() }
func (e *guestError) Unwrap() []error      { return []error{e.err, e.host} }
func (e *guestError) Is(target error) bool { return target == e.host }

// hostError maps err, returned by the guest, to the host's event errors.
func (g *interpreter) hostError(err error) error {
	for i, host := range []error{event.ErrMalformed, event.ErrLimit, event.ErrSpace} {
		if errors.Is(err, g.sentinel[i]) {
			return &guestError{err: err, host: host}
		}
	}
	return err
}

// encConn carries encoded events: the guest reads the host's input bytes
// and writes its output into the host's buffer, both in place (Go slices
// passed to the interpreted function).
type encConn struct {
	p       *Plugin
	t       event.Transport
	fn      eventFunc // the instance's method
	sym     string
	in, out []byte
	n       int // output length of the last Call
}

func (c *encConn) fail(err error) error {
	return &backends.Error{Backend: Name, Path: c.p.m.path, Symbol: c.sym, Err: err}
}

func (c *encConn) Encode(in *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, c.sym)
	}
	var err error
	c.in, err = event.Append(c.t, c.in[:0], in)
	c.n = 0
	return err
}

// result is what the guest's event function returned.
type result struct {
	n   int
	err error
}

func (c *encConn) Call() (bool, error) {
	if !c.p.open.Load() {
		return false, backends.Closed(Name, c.sym)
	}
	if len(c.in) == 0 {
		return false, c.fail(errors.New("call before encode"))
	}
	if want := 2*len(c.in) + 256; len(c.out) < want {
		c.out = make([]byte, want)
	}
	for {
		r, err := call(c.p, c.sym, func() result {
			n, err := c.fn(c.in, c.out)
			return result{n, err}
		})
		if err != nil {
			return false, err
		}
		n, err := r.n, c.p.g.hostError(r.err)
		switch {
		case errors.Is(err, event.ErrSpace) && len(c.out) < 1<<24:
			c.out = make([]byte, 2*len(c.out))
		case err != nil:
			return false, c.fail(err)
		case n < 0 || n > len(c.out):
			return false, c.fail(fmt.Errorf("the guest wrote %d bytes into a %d-byte buffer", n, len(c.out)))
		default:
			c.n = n
			return n > 0, nil
		}
	}
}

func (c *encConn) Decode(out *event.Event) error {
	if !c.p.open.Load() {
		return backends.Closed(Name, c.sym)
	}
	if c.n == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out[:c.n], out); err != nil {
		return c.fail(fmt.Errorf("decode the guest's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.in) + c.n }
