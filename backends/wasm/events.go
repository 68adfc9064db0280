package wasm

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/hostfn"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
)

// The host module guests import their callback from: "plugbench" "emit",
// (i64 ctx, i64 v) -> i64. One host function serves every instance of the
// runtime; it finds the instance's emit function by ctx, the handle the
// host gave the instance (plugbench_set_host).
const hostModule = "plugbench"

func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(hostModule).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) {
			stack[0] = uint64(hostfn.Call(stack[0], int64(stack[1])))
		}), []api.ValueType{i64, i64}, []api.ValueType{i64}).
		WithParameterNames("ctx", "v").
		Export("emit").
		Instantiate(ctx)
	return err
}

func (p *Plugin) setHost(ctx context.Context, emit func(int64) int64) error {
	p.host = hostfn.Register(emit)
	stack := [3]uint64{api.EncodeU32(p.state), 0, p.host}
	if err := p.call(p.mod.ExportedFunction(wasmabi.SetHost), wasmabi.SetHost, stack[:]); err != nil {
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
		return 0, p.m.book.Fail(wasmabi.Callback, backends.ErrClosed)
	}
	if p.host == 0 {
		return 0, backends.ErrNoHost
	}
	if p.callback == nil {
		p.callback = p.mod.ExportedFunction(wasmabi.Callback)
	}
	p.stack[0], p.stack[1] = api.EncodeU32(p.state), api.EncodeI32(k)
	if err := p.call(p.callback, wasmabi.Callback, p.stack[:]); err != nil {
		return 0, err
	}
	return int64(p.stack[0]), nil
}

var encodings = []struct {
	t   event.Transport
	exp string
}{{event.JSON, wasmabi.EventJSON}, {event.Binary, wasmabi.EventBinary}, {event.Flat, wasmabi.EventFlat}}

// Transports lists the event transports the module exports.
func (p *Plugin) Transports() []event.Transport {
	var ts []event.Transport
	for _, e := range encodings {
		if p.m.has[e.exp] {
			ts = append(ts, e.t)
		}
	}
	return ts
}

// Events returns a connection through transport t: the event encoded into
// the guest's memory, and its output decoded from there.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.closed {
		return nil, p.m.book.Fail("", backends.ErrClosed)
	}
	for _, e := range encodings {
		if e.t == t && p.m.has[e.exp] {
			return &encConn{p: p, t: t, exp: e.exp, fn: p.mod.ExportedFunction(e.exp)}, nil
		}
	}
	return nil, backends.UnsupportedTransport(p.m.b.name, t, p.Transports())
}

// encConn carries encoded events through the instance's guest buffer:
// Encode encodes on the host and copies the bytes into the buffer's first
// part; the guest writes its output into the rest; Decode decodes it
// straight from guest memory.
type encConn struct {
	p     *Plugin
	t     event.Transport
	exp   string
	fn    api.Function
	enc   []byte // the host's encoding buffer, reused
	in    uint32 // guest address of the input, valid after Encode
	out   uint32 // guest address of the output area
	outN  uint32 // its size
	n     uint32 // output length of the last Call
	stack [5]uint64
}

func (c *encConn) fail(err error) error { return c.p.m.book.Fail(c.exp, err) }

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
	view, ok := p.mem.Read(p.buf, p.cap)
	if !ok {
		return c.fail(fmt.Errorf("guest buffer [%d, +%d) is outside memory", p.buf, p.cap))
	}
	copy(view, c.enc)
	c.in, c.out, c.outN = p.buf, p.buf+uint32(inN), p.cap-uint32(inN)
	return nil
}

func (c *encConn) Call() (bool, error) {
	if c.outN == 0 {
		return false, c.fail(errors.New("call before encode"))
	}
	for {
		c.stack = [5]uint64{api.EncodeU32(c.p.state), api.EncodeU32(c.in), api.EncodeU32(uint32(len(c.enc))),
			api.EncodeU32(c.out), api.EncodeU32(c.outN)}
		if err := c.p.call(c.fn, c.exp, c.stack[:]); err != nil {
			return false, err
		}
		switch n := int64(c.stack[0]); {
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
	b, ok := c.p.mem.Read(c.out, c.n)
	if !ok {
		return c.fail(fmt.Errorf("guest output [%d, +%d) is outside memory", c.out, c.n))
	}
	if err := event.Decode(c.t, b, out); err != nil {
		return c.fail(fmt.Errorf("decode the guest's output: %w", err))
	}
	return nil
}

func (c *encConn) Moved() int { return len(c.enc) + int(c.n) }
