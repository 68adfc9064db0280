package extism

import (
	"errors"
	"fmt"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

var encodings = []struct {
	t  event.Transport
	fn string
}{{event.JSON, fnEventJSON}, {event.Binary, fnEventBinary}, {event.Flat, fnEventFlat}}

// Transports lists the event transports the module exports.
func (p *Plugin) Transports() []event.Transport {
	var ts []event.Transport
	for _, e := range encodings {
		if p.m.has[e.fn] {
			ts = append(ts, e.t)
		}
	}
	return ts
}

// Events returns a connection through transport t: the encoded event is
// the Extism call's input, the processed event its output (none when the
// guest drops it).
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.closed {
		return nil, p.m.book.Fail("", backends.ErrClosed)
	}
	for _, e := range encodings {
		if e.t == t && p.m.has[e.fn] {
			return &conn{p: p, t: t, fn: e.fn}, nil
		}
	}
	return nil, backends.UnsupportedTransport(p.m.b.name, t, p.Transports())
}

// conn carries encoded events through Extism calls: Encode encodes on the
// host into a buffer it reuses, Call passes it as the input (the guest
// grows its own output area while the plugin says it needs more room),
// Decode decodes the output, a copy the SDK made.
type conn struct {
	p       *Plugin
	t       event.Transport
	fn      string
	enc     []byte // the host's encoding buffer, reused
	encoded bool
	out     []byte // the last kept output
}

func (c *conn) fail(err error) error { return c.p.m.book.Fail(c.fn, err) }

func (c *conn) Encode(in *event.Event) error {
	if c.p.closed {
		return c.fail(backends.ErrClosed)
	}
	var err error
	if c.enc, err = event.Append(c.t, c.enc[:0], in); err != nil {
		return err
	}
	c.encoded, c.out = true, nil
	return nil
}

func (c *conn) Call() (bool, error) {
	if !c.encoded {
		return false, c.fail(errors.New("call before encode"))
	}
	if c.p.closed {
		return false, c.fail(backends.ErrClosed)
	}
	rc, out, err := c.p.p.CallWithContext(c.p.ctx, c.fn, c.enc)
	switch {
	case err == nil && rc == 0:
		c.out = out
		return len(out) > 0, nil
	case rc == rcMalformed && !c.p.ml.Refused():
		return false, c.fail(fmt.Errorf("%w: the guest returned %d (%v)", event.ErrMalformed, rc, err))
	}
	return false, c.p.callError(c.fn, rc, err)
}

func (c *conn) Decode(out *event.Event) error {
	if c.p.closed {
		return c.fail(backends.ErrClosed)
	}
	if len(c.out) == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out, out); err != nil {
		return c.fail(fmt.Errorf("decode the guest's output: %w", err))
	}
	return nil
}

func (c *conn) Moved() int { return len(c.enc) + len(c.out) }
