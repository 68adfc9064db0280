package ipc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/modbook"
	"github.com/plugbench/plugbench/backends/internal/osproc"
)

// Kind is a channel kind.
type Kind int

// The channels.
const (
	Pipe Kind = iota // stdin and stdout (backends/subprocess)
	Shm              // a shared memory region (backends/shm)
)

// HandshakeTimeout bounds a handshake whose context has no deadline: an
// executable that never answers must not hang Load for ever.
const HandshakeTimeout = 10 * time.Second

// NewBackend returns the backend called name over channels of kind k,
// whose plugin processes get limit bytes of data (RLIMIT_DATA; 0:
// DefaultMemoryLimit). It loads executables whose identity names one of accept.
func NewBackend(name string, k Kind, limit uint64, accept ...string) backends.Backend {
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	return &backend{name: name, kind: k, limit: limit, accept: accept}
}

type backend struct {
	name   string
	kind   Kind
	limit  uint64
	accept []string
}

func (b *backend) Name() string                { return b.name }
func (b *backend) Close(context.Context) error { return nil }

// Load starts the executable and does the handshake; the process is kept
// for the module's first instance.
func (b *backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(err error) error { return &backends.Error{Backend: b.name, Path: path, Err: err} }
	abs, err := osproc.Executable(path)
	if err != nil {
		return nil, fail(err)
	}
	ch, id, err := b.spawn(ctx, abs)
	if err != nil {
		return nil, fail(err)
	}
	return &module{b: b, path: path, abs: abs, id: id, spare: ch, book: modbook.Book{Backend: b.name, Path: path}}, nil
}

func (b *backend) start(abs string) (channel, error) {
	if b.kind == Shm {
		return startShm(abs, b.limit)
	}
	return startPipe(abs, b.limit)
}

// spawn starts a process of the executable at abs and does the handshake,
// bounded by ctx (by HandshakeTimeout when ctx has no deadline): at ctx's
// end the process is killed.
func (b *backend) spawn(ctx context.Context, abs string) (channel, backends.Identity, error) {
	var id backends.Identity
	if err := ctx.Err(); err != nil {
		return nil, id, fmt.Errorf("not started: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, HandshakeTimeout)
		defer cancel()
	}
	ch, err := b.start(abs)
	if err != nil {
		return nil, id, err
	}
	stop := context.AfterFunc(ctx, ch.proc().kill)
	r, n, err := ch.roundTrip(opHello, backends.ABIVersion, 0, nil, nil)
	if !stop() {
		ch.shutdown()
		return nil, id, fmt.Errorf("the plugin did not answer the handshake (killed): %w", ctx.Err())
	}
	if err != nil {
		ch.shutdown()
		if errors.Is(err, ErrExited) {
			return nil, id, fmt.Errorf("%w: the executable ended before its handshake: %w", backends.ErrFormat, err)
		}
		return nil, id, fmt.Errorf("%w: wrong handshake: %w", backends.ErrFormat, err)
	}
	if n > cabi.MaxIdentity {
		ch.shutdown()
		return nil, id, fmt.Errorf("%w: a %d-byte identity", backends.ErrIdentity, n)
	}
	if id, err = backends.CheckArtifact(int32(r), string(ch.reply()), b.accept...); err != nil {
		ch.shutdown()
		return nil, id, err
	}
	return ch, id, nil
}

type module struct {
	b         *backend
	path, abs string
	id        backends.Identity

	book  modbook.Book
	mu    sync.Mutex
	spare channel // the process Load started, until an instance takes it
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes an instance: a process of its own (Load's, for the
// first), given a plugin state with the new op.
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if err := m.book.Reserve(); err != nil { // Close waits for this one
		return nil, err
	}
	m.mu.Lock()
	ch := m.spare
	m.spare = nil
	m.mu.Unlock()
	p, err := m.instantiate(ctx, ch, cfg)
	if err != nil {
		m.book.Release()
		return nil, err
	}
	return p, nil
}

func (m *module) instantiate(ctx context.Context, ch channel, cfg backends.InstanceConfig) (*Plugin, error) {
	if ch != nil && ch.proc().dead.Load() { // Load's process died since
		ch.shutdown()
		ch = nil
	}
	if ch == nil {
		var id backends.Identity
		var err error
		if ch, id, err = m.b.spawn(ctx, m.abs); err != nil {
			return nil, m.book.Fail("", err)
		}
		if id != m.id {
			ch.shutdown()
			return nil, m.book.Fail("", fmt.Errorf("%w: the executable changed since Load: %q, was %q", backends.ErrIdentity, id, m.id))
		}
	}
	ch.setEmit(cfg.Emit)
	host := int64(0)
	if cfg.Emit != nil {
		host = 1
	}
	stop := context.AfterFunc(ctx, ch.proc().kill)
	r, _, err := ch.roundTrip(opNew, host, 0, nil, nil)
	if !stop() {
		ch.shutdown()
		return nil, m.book.Fail(cabi.SymNew, fmt.Errorf("the plugin did not make its state (killed): %w", ctx.Err()))
	}
	if err != nil || r != 1 {
		ch.shutdown()
		if err == nil {
			err = errors.New("the plugin returned no state")
		}
		return nil, m.book.Fail(cabi.SymNew, err)
	}
	p := &Plugin{m: m, ch: ch, host: cfg.Emit != nil, timeout: cfg.CallTimeout}
	p.sh, _ = ch.(*shmChan)
	if cfg.CallTimeout > 0 {
		p.timer = time.AfterFunc(time.Hour, ch.proc().kill)
		p.timer.Stop()
	}
	return p, nil
}

// Close ends the process Load started, if no instance took it. It fails
// while instances are open, as every backend's module does.
func (m *module) Close(context.Context) error {
	return m.book.Close(func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.spare != nil {
			m.spare.shutdown()
			m.spare = nil
		}
		return nil
	})
}

// Plugin is one instance: one plugin process. What a call writes has
// cache lines of its own: instances are used from different goroutines.
type Plugin struct {
	_       cpu.CacheLinePad
	m       *module
	ch      channel  // nil once closed
	sh      *shmChan // ch, on the shm channel
	host    bool
	timeout time.Duration
	timer   *time.Timer // kills the process at the call's deadline
	_       cpu.CacheLinePad
}

// do makes one round trip for the export sym. A failed one (the process
// died, the deadline passed) closes the instance.
func (p *Plugin) do(sym string, op uint8, a, b int64, in, out []byte) (int64, int, error) {
	if p.ch == nil {
		return 0, 0, backends.Closed(p.m.b.name, sym)
	}
	if p.timer != nil {
		p.timer.Reset(p.timeout)
	}
	r, n, err := p.ch.roundTrip(op, a, b, in, out)
	if p.timer != nil && !p.timer.Stop() {
		p.Close(context.Background())
		return 0, 0, p.m.book.Fail(sym, fmt.Errorf("the call ran past its %v timeout and the plugin process was killed: %w", p.timeout, context.DeadlineExceeded))
	}
	if err != nil {
		p.Close(context.Background())
		return 0, 0, p.m.book.Fail(sym, err)
	}
	return r, n, nil
}

// Pid is the plugin process's id, 0 once closed (tests kill it).
func (p *Plugin) Pid() int {
	if p.ch == nil {
		return 0
	}
	return p.ch.proc().cmd.Process.Pid
}

// DoorbellWaits returns, for an instance on the shared-memory channel,
// how many replies it waited for and how many of them it had to yield
// its CPU or sleep for (the plugin's reply did not come while it spun:
// the two sides did not each have a core), and ok; ok is false on
// another channel.
func (p *Plugin) DoorbellWaits() (waits, slow uint64, ok bool) {
	if p.sh == nil {
		return 0, 0, false
	}
	return p.sh.waits, p.sh.slow, true
}

// Min sends the min op.
func (p *Plugin) Min(a, b int32) (int32, error) {
	r, _, err := p.do(cabi.SymMin, opMin, int64(a), int64(b), nil, nil)
	return int32(r), err
}

// Accumulate sends the accumulate op.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	r, _, err := p.do(cabi.SymAccumulate, opAcc, x, 0, nil, nil)
	return r, err
}

// Sum sends b in chunks of at most 8 MiB (one for anything smaller) and
// adds the sums up.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	var t uint64
	for {
		c := b[:min(len(b), chunk)]
		r, _, err := p.do(cabi.SymSum, opSum, 0, 0, c, nil)
		if err != nil {
			return 0, err
		}
		t += uint64(r)
		if b = b[len(c):]; len(b) == 0 {
			return t, nil
		}
	}
}

// Upper sends b in chunks and reads each back in place.
func (p *Plugin) Upper(b []byte) error {
	for {
		c := b[:min(len(b), chunk)]
		if _, n, err := p.do(cabi.SymUpper, opUpper, 0, 0, c, c); err != nil {
			return err
		} else if n != len(c) {
			p.Close(context.Background())
			return p.m.book.Fail(cabi.SymUpper, fmt.Errorf("%w: %d bytes back for %d", errProtocol, n, len(c)))
		}
		if b = b[len(c):]; len(b) == 0 {
			return nil
		}
	}
}

// Callback sends the callback op; the plugin's emit requests are answered
// with the instance's emit function on the calling goroutine.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.ch != nil && !p.host {
		return 0, backends.ErrNoHost
	}
	r, _, err := p.do(cabi.SymCallback, opCallback, int64(k), 0, nil, nil)
	return r, err
}

// Close ends the instance's process: the close op, a wait of at most
// ShutdownWait, then SIGKILL; the process is reaped and every file
// descriptor and mapping released. A second Close does nothing.
func (p *Plugin) Close(context.Context) error {
	if p.ch == nil {
		return nil
	}
	ch := p.ch
	p.ch, p.sh = nil, nil
	if p.timer != nil {
		p.timer.Stop()
	}
	ch.shutdown()
	p.m.book.Release()
	return nil
}

var encodings = []struct {
	t   event.Transport
	op  uint8
	sym string
}{{event.JSON, opJSON, cabi.SymEventJSON}, {event.Binary, opBinary, cabi.SymEventBinary}, {event.Flat, opFlat, cabi.SymEventFlat}}

// Transports lists the encoded transports: json, binary, flat.
func (p *Plugin) Transports() []event.Transport {
	return []event.Transport{event.JSON, event.Binary, event.Flat}
}

// Events returns a connection through transport t. On the pipe, the
// event is encoded on the host and written through the pipe, and the
// output read back into a host buffer (cabi.Encoded's protocol). On
// shared memory, it is encoded straight into the region, the plugin
// writes its output after it, and Decode reads it there.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.ch == nil {
		return nil, backends.Closed(p.m.b.name, "events")
	}
	for _, e := range encodings {
		if e.t != t {
			continue
		}
		if p.sh != nil {
			return &shmConn{p: p, t: t, op: e.op, site: cabi.Site{Backend: p.m.b.name, Path: p.m.path, Symbol: e.sym}}, nil
		}
		return &pipeConn{Encoded: cabi.Encoded{Site: cabi.Site{Backend: p.m.b.name, Path: p.m.path, Symbol: e.sym}, T: t}, p: p, op: e.op}, nil
	}
	return nil, backends.UnsupportedTransport(p.m.b.name, t, p.Transports())
}

// pipeConn carries encoded events through the pipe.
type pipeConn struct {
	cabi.Encoded
	p  *Plugin
	op uint8
}

func (c *pipeConn) Encode(in *event.Event) error {
	if c.p.ch == nil {
		return backends.Closed(c.Backend, c.Symbol)
	}
	return c.Encoded.Encode(in)
}

func (c *pipeConn) Decode(out *event.Event) error {
	if c.p.ch == nil {
		return backends.Closed(c.Backend, c.Symbol)
	}
	return c.Encoded.Decode(out)
}

func (c *pipeConn) Call() (bool, error) {
	if c.p.ch == nil {
		return false, backends.Closed(c.Backend, c.Symbol)
	}
	if err := c.Ready(); err != nil {
		return false, err
	}
	for {
		r, _, err := c.p.do(c.Symbol, c.op, int64(len(c.Out)), 0, c.In, c.Out)
		if err != nil {
			return false, err
		}
		if done, keep, err := c.Result(r); done {
			return keep, err
		}
	}
}

// shmConn carries encoded events through the region: the input is
// encoded into the data area's first half, the plugin writes its output
// after it (8-aligned), and Decode reads it where it is. The data area is
// the instance's: a Sum or Upper between Encode and Call or Decode
// overwrites the event (the contract's "one connection at a time" extends
// to the instance's other calls).
type shmConn struct {
	p    *Plugin
	t    event.Transport
	op   uint8
	site cabi.Site
	n    int    // the input's length, 0 before Encode
	out  []byte // the output of the last Call, in the region
}

func (c *shmConn) Encode(in *event.Event) error {
	if c.p.ch == nil {
		return backends.Closed(c.site.Backend, c.site.Symbol)
	}
	data := c.p.sh.Data()
	c.n, c.out = 0, nil
	b, err := event.Append(c.t, data[:0:len(data)/2], in)
	if err != nil {
		return err
	}
	if len(b) > 0 && &b[0] != &data[0] {
		return c.site.Fail(fmt.Errorf("a %d-byte event does not fit half the %d-byte region", len(b), len(data)))
	}
	c.n = len(b)
	return nil
}

func (c *shmConn) Call() (bool, error) {
	if c.p.ch == nil {
		return false, backends.Closed(c.site.Backend, c.site.Symbol)
	}
	if c.n == 0 {
		return false, c.site.Fail(errors.New("call before encode"))
	}
	data := c.p.sh.Data()
	outOff := (c.n + 7) &^ 7
	r, n, err := c.p.do(c.site.Symbol, c.op, int64(len(data)-outOff), 0, data[:c.n], nil)
	if err != nil {
		return false, err
	}
	switch {
	case r < 0:
		return false, c.site.Fail(fmt.Errorf("%w: the plugin returned %d", event.ErrMalformed, r))
	case r != int64(n):
		return false, c.site.Fail(fmt.Errorf("%w: result %d with %d bytes", errProtocol, r, n))
	}
	c.out = c.p.sh.reply()
	return r > 0, nil
}

func (c *shmConn) Decode(out *event.Event) error {
	if c.p.ch == nil {
		return backends.Closed(c.site.Backend, c.site.Symbol)
	}
	if len(c.out) == 0 {
		return c.site.Fail(errors.New("decode without a kept event"))
	}
	if err := event.Decode(c.t, c.out, out); err != nil {
		return c.site.Fail(fmt.Errorf("decode the plugin's output: %w", err))
	}
	return nil
}

func (c *shmConn) Moved() int { return c.n + len(c.out) }
