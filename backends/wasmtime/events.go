//go:build cgo

package wasmtime

import (
	"errors"
	"fmt"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
)

// setHost registers emit and hands its handle to the guest
// (plugbench_set_host), as the wazero backend does: the engine's one
// "plugbench" "emit" finds it by that handle.
func (p *Plugin) setHost(emit func(int64) int64) error {
	p.host = hostfn.Register(emit)
	p.args[0][0], p.args[1][0], p.args[2][0] = uint64(p.state), 0, p.host
	if err := p.call(fnSetHost); err != nil {
		hostfn.Release(p.host)
		p.host = 0
		return err
	}
	return nil
}

// Callback calls plugbench_callback: the guest calls the host function
// "plugbench" "emit" k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.closed {
		return 0, p.closedError(wasmabi.Callback)
	}
	if p.host == 0 {
		return 0, backends.ErrNoHost
	}
	p.args[0][0], p.args[1][0] = uint64(p.state), uint64(uint32(k))
	if err := p.call(fnCallback); err != nil {
		return 0, err
	}
	return int64(p.args[0][0]), nil
}

var encodings = []struct {
	t  event.Transport
	fn int
}{{event.JSON, fnJSON}, {event.Binary, fnBinary}, {event.Flat, fnFlat}}

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

// Events returns a connection through transport t: the event encoded into
// the guest's memory, and its output decoded from there.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.closed {
		return nil, p.closedError("")
	}
	for _, e := range encodings {
		if e.t == t && p.m.has[e.fn] {
			return &encConn{p: p, t: t, fn: e.fn}, nil
		}
	}
	return nil, backends.UnsupportedTransport(Name, t, p.Transports())
}

// encConn carries encoded events through the instance's guest buffer, as
// the wazero backend's does: Encode encodes on the host and copies the
// bytes into the buffer's first part; the guest writes its output into the
// rest; Decode decodes it straight from guest memory.
type encConn struct {
	p    *Plugin
	t    event.Transport
	fn   int
	enc  []byte // the host's encoding buffer, reused
	in   uint32 // guest address of the input, valid after Encode
	out  uint32 // guest address of the output area
	outN uint32 // its size
	n    uint32 // output length of the last Call
}

func (c *encConn) fail(err error) error { return c.p.m.book.Fail(funcNames[c.fn], err) }

func (c *encConn) Encode(in *event.Event) error {
	if c.p.closed {
		return c.fail(backends.ErrClosed)
	}
	var err error
	if c.enc, err = event.Append(c.t, c.enc[:0], in); err != nil {
		return err
	}
	c.n = 0
	return c.place(2*len(c.enc) + 256)
}

// place copies the encoded input into the guest buffer, growing it to hold
// the input (8-aligned) and an output area of at least outN bytes.
func (c *encConn) place(outN int) error {
	p := c.p
	inN := (len(c.enc) + 7) &^ 7
	if need := inN + outN; need > int(p.cap) {
		if err := p.grow(max(need, 2*int(p.cap))); err != nil {
			return err
		}
	}
	view, ok := p.read(p.buf, p.cap)
	if !ok {
		return c.fail(fmt.Errorf("guest buffer [%d, +%d) is outside memory", p.buf, p.cap))
	}
	copy(view, c.enc)
	c.in, c.out, c.outN = p.buf, p.buf+uint32(inN), p.cap-uint32(inN)
	return nil
}

func (c *encConn) Call() (bool, error) {
	if c.p.closed {
		return false, c.fail(backends.ErrClosed)
	}
	if c.outN == 0 {
		return false, c.fail(errors.New("call before encode"))
	}
	for {
		a := c.p.args
		a[0][0], a[1][0], a[2][0], a[3][0], a[4][0] = uint64(c.p.state), uint64(c.in), uint64(len(c.enc)), uint64(c.out), uint64(c.outN)
		if err := c.p.call(c.fn); err != nil {
			return false, err
		}
		switch n := int64(c.p.args[0][0]); {
		case n == backends.EventNoSpace && c.outN < 1<<24:
			if err := c.place(2 * int(c.outN)); err != nil {
				return false, err
			}
		case n < 0:
			return false, c.fail(fmt.Errorf("%w: the guest returned %d", event.ErrMalformed, n))
		case n > int64(c.outN):
			return false, c.fail(fmt.Errorf("the guest wrote %d bytes into a %d-byte area", n, c.outN))
		default:
			c.n = uint32(n)
			return n > 0, nil
		}
	}
}

func (c *encConn) Decode(out *event.Event) error {
	if c.p.closed {
		return c.fail(backends.ErrClosed)
	}
	if c.n == 0 {
		return c.fail(errors.New("decode without a kept event"))
	}
	b, ok := c.p.read(c.out, c.n)
	if !ok {
		return c.fail(fmt.Errorf("guest output [%d, +%d) is outside memory", c.out, c.n))
	}
	if err := event.Decode(c.t, b, out); err != nil {
		return c.fail(fmt.Errorf("decode the guest's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.enc) + int(c.n) }
