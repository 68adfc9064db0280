package hashicorp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/hashicorp/protocol"
	"github.com/plugbench/plugbench/backends/internal/cabi"
)

// Plugin is one instance: one plugin process. What a call writes has
// cache lines of its own: instances are used from different goroutines.
type Plugin struct {
	_       cpu.CacheLinePad
	m       *module
	c       *child // nil once closed
	conn    conn
	host    bool
	timeout time.Duration
	timer   *time.Timer // kills the process at the call's deadline
	_       cpu.CacheLinePad
}

// begin starts a call of the export sym: it fails on a closed instance,
// and at once on a process that died since the last call.
func (p *Plugin) begin(sym string) error {
	if p.c == nil {
		return backends.Closed(p.m.b.name, sym)
	}
	if p.c.proc.dead.Load() {
		err := p.c.proc.exitError(exitWait)
		p.Close(context.Background())
		return p.m.book.Fail(sym, err)
	}
	if p.timer != nil {
		p.timer.Reset(p.timeout)
	}
	return nil
}

// end ends a call begun with begin. A failed call (the process died, the
// deadline passed, the protocol broke) closes the instance.
func (p *Plugin) end(sym string, err error) error {
	if p.timer != nil && !p.timer.Stop() {
		p.Close(context.Background())
		return p.m.book.Fail(sym, fmt.Errorf("the call ran past its %v timeout and the plugin process was killed: %w", p.timeout, context.DeadlineExceeded))
	}
	if err != nil {
		if e := p.c.proc.exitError(exitWait); e != nil {
			err = e
		}
		p.Close(context.Background())
		return p.m.book.Fail(sym, err)
	}
	return nil
}

// Pid is the plugin process's id, 0 once closed (tests kill it).
func (p *Plugin) Pid() int {
	if p.c == nil {
		return 0
	}
	return p.c.proc.pid()
}

// Min calls Min.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if err := p.begin(cabi.SymMin); err != nil {
		return 0, err
	}
	r, err := p.conn.min(a, b)
	return r, p.end(cabi.SymMin, err)
}

// Accumulate calls Accumulate.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if err := p.begin(cabi.SymAccumulate); err != nil {
		return 0, err
	}
	r, err := p.conn.accumulate(x)
	return r, p.end(cabi.SymAccumulate, err)
}

// Sum sends b in chunks of at most protocol.Chunk bytes (one for anything
// smaller) and adds the sums up.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	var t uint64
	for {
		c := b[:min(len(b), protocol.Chunk)]
		if err := p.begin(cabi.SymSum); err != nil {
			return 0, err
		}
		r, err := p.conn.sum(c)
		if err := p.end(cabi.SymSum, err); err != nil {
			return 0, err
		}
		t += r
		if b = b[len(c):]; len(b) == 0 {
			return t, nil
		}
	}
}

// Upper sends b in chunks and copies each reply back in place.
func (p *Plugin) Upper(b []byte) error {
	for {
		c := b[:min(len(b), protocol.Chunk)]
		if err := p.begin(cabi.SymUpper); err != nil {
			return err
		}
		if err := p.end(cabi.SymUpper, p.conn.upper(c)); err != nil {
			return err
		}
		if b = b[len(c):]; len(b) == 0 {
			return nil
		}
	}
}

// Callback has the plugin call the instance's emit function k times.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.c != nil && !p.host {
		return 0, backends.ErrNoHost
	}
	if err := p.begin(cabi.SymCallback); err != nil {
		return 0, err
	}
	r, err := p.conn.callback(k)
	return r, p.end(cabi.SymCallback, err)
}

// Close ends the instance's process: go-plugin's graceful close, SIGKILL
// after ShutdownWait; the process is reaped and go-plugin's goroutines,
// connection and socket folder released. A second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if p.c == nil {
		return nil
	}
	c := p.c
	p.c = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	c.shutdown()
	p.m.book.Release()
	return nil
}

var encodings = []struct {
	t   event.Transport
	pt  protocol.Transport
	sym string
}{
	{event.JSON, protocol.Transport_TRANSPORT_JSON, cabi.SymEventJSON},
	{event.Binary, protocol.Transport_TRANSPORT_BINARY, cabi.SymEventBinary},
	{event.Flat, protocol.Transport_TRANSPORT_FLAT, cabi.SymEventFlat},
}

// Transports lists the encoded transports: json, binary, flat.
func (p *Plugin) Transports() []event.Transport {
	return []event.Transport{event.JSON, event.Binary, event.Flat}
}

// Events returns a connection through transport t: the event is encoded
// on the host, sent in the call, and the plugin's output copied into a
// host buffer, as backends/subprocess does on its pipe (cabi.Encoded's
// protocol: an output that does not fit is asked for again with twice the
// room).
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.c == nil {
		return nil, backends.Closed(p.m.b.name, "events")
	}
	for _, e := range encodings {
		if e.t == t {
			return &eventConn{Encoded: cabi.Encoded{Site: cabi.Site{Backend: p.m.b.name, Path: p.m.path, Symbol: e.sym}, T: t}, p: p, pt: e.pt}, nil
		}
	}
	return nil, backends.UnsupportedTransport(p.m.b.name, t, p.Transports())
}

// eventConn carries encoded events in the calls.
type eventConn struct {
	cabi.Encoded
	p  *Plugin
	pt protocol.Transport
}

func (c *eventConn) Encode(in *event.Event) error {
	if c.p.c == nil {
		return backends.Closed(c.Backend, c.Symbol)
	}
	return c.Encoded.Encode(in)
}

func (c *eventConn) Decode(out *event.Event) error {
	if c.p.c == nil {
		return backends.Closed(c.Backend, c.Symbol)
	}
	return c.Encoded.Decode(out)
}

func (c *eventConn) Call() (bool, error) {
	if c.p.c == nil {
		return false, backends.Closed(c.Backend, c.Symbol)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	for {
		if err := c.p.begin(c.Symbol); err != nil {
			return false, err
		}
		r, out, err := c.p.conn.event(c.pt, c.In, int64(len(c.Out)))
		if err := c.p.end(c.Symbol, err); err != nil {
			return false, err
		}
		if r > 0 {
			if int64(len(out)) != r {
				return false, c.Fail(fmt.Errorf("%w: result %d with %d bytes", errProtocol, r, len(out)))
			}
			copy(c.Out, out) // Result refuses more than fits
		}
		if done, keep, err := c.Result(r); done {
			return keep, err
		}
	}
}

// RefMin is the suite's reference row impl (BenchmarkRef), "go-plugin-grpc"
// or "go-plugin-netrpc", as the module's protocol: an instance of the
// Go guest, and go-plugin's own client call of Min, as a plugin's user
// calls it (the generated gRPC stub, or net/rpc's Client.Call), without
// the instance's bookkeeping around it (the closed check, the deadline's
// timer). The function it returns closes the instance.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (func(a, b int32) (int32, error), func(), error) {
	if want := "go-plugin-" + strings.TrimPrefix(m.b.name, "hashicorp-"); impl != want {
		return nil, nil, fmt.Errorf("%s: %s: no reference %q: want %q", m.b.name, m.path, impl, want)
	}
	if m.id.Lang != "go" {
		return nil, nil, fmt.Errorf("%s: %s: identity %q, want the Go guest", m.b.name, m.path, m.id.Raw)
	}
	p, err := m.Instantiate(ctx)
	if err != nil {
		return nil, nil, err
	}
	return p.(*Plugin).conn.min, func() { p.Close(ctx) }, nil
}
