// Package static is plugbench's baseline backend: the plugin's operations
// written in Go and compiled into the host, called through the same
// backends.Plugin contract as every other backend. Its only artifact is the
// built-in one, named by Path.
package static

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/cpu"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// Name is the backend's name in benchmark names.
const Name = "static"

// Path is the one artifact the static backend loads.
const Path = "builtin"

// FaultPath is the path of the built-in plugin whose Min misbehaves in the
// named way (one of Faults), for the suite's fault table: the static
// counterpart of the C guest's fault variants.
func FaultPath(fault string) string { return Path + ":fault=" + fault }

// Faults are the misbehaviours FaultPath takes. A static plugin is the
// host's own code: a panic or a runaway allocation is the host's.
//
//   - segv: a nil pointer dereference (a Go run-time panic)
//   - abort: a panic
//   - loop: an endless loop
//   - bomb: allocates 4 GiB, touching every page
//
// There is no "startloop": a static plugin's init runs before main, and a
// host whose init never returns never starts.
var Faults = []string{"segv", "abort", "loop", "bomb"}

// Config configures the static backend. It has no settings: it is here
// so that every backend is made the same way, New(ctx, Config).
type Config struct{}

// New returns the static backend. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string { return Name }

func (backend) Load(_ context.Context, path string) (backends.Module, error) {
	fault, ok := "", path == Path
	for _, f := range Faults {
		if path == FaultPath(f) {
			fault, ok = f, true
		}
	}
	if !ok {
		return nil, &backends.Error{Backend: Name, Path: path, Err: fmt.Errorf("the static backend only loads %q: %w", Path, fs.ErrNotExist)}
	}
	id := identity
	if fault != "" {
		id += " fault=" + fault
	}
	mid, err := backends.CheckArtifact(backends.ABIVersion, id, Name)
	if err != nil {
		return nil, &backends.Error{Backend: Name, Path: path, Err: err}
	}
	return &module{id: mid, path: path, fault: fault}, nil
}

func (backend) Close(context.Context) error { return nil }

var identity = "lang=go backend=" + Name + " toolchain=" + runtime.Version()

type module struct {
	id          backends.Identity
	path, fault string
	closed      bool
	instances   atomic.Int64
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

func (m *module) Instantiate(_ context.Context, opts ...backends.Option) (backends.Plugin, error) {
	if m.closed {
		return nil, &backends.Error{Backend: Name, Path: m.path, Err: errors.New("instantiate after close")}
	}
	cfg := backends.Config(opts)
	if cfg.CallTimeout > 0 {
		return nil, backends.NoInterrupt(Name, "a static plugin is the host's own code")
	}
	m.instances.Add(1)
	p := &Plugin{m: m, emit: cfg.Emit}
	if m.fault != "" {
		return &faulty{Plugin: p, fault: m.fault}, nil
	}
	return p, nil
}

// Close unloads the module. Like every backend's, it fails while instances
// are open.
func (m *module) Close(context.Context) error {
	if n := m.instances.Load(); n > 0 {
		return backends.InstancesOpen(Name, m.path, int(n))
	}
	m.closed = true
	return nil
}

// Plugin is the static plugin: the reference semantics of every call.
//
// Its state has cache lines of its own (as every backend's instance does):
// instances are used from different goroutines, and two totals sharing a
// line would make a parallel benchmark measure the allocator's luck.
type Plugin struct {
	_      cpu.CacheLinePad
	total  int64
	closed bool
	m      *module // nil for a Plugin made directly, as a reference
	emit   func(int64) int64
	_      cpu.CacheLinePad
}

// NewPlugin returns a static plugin outside any module, as a reference,
// calling emit back from Callback.
func NewPlugin(emit func(int64) int64) *Plugin { return &Plugin{emit: emit} }

// Min returns the smaller of a and b.
func (p *Plugin) Min(a, b int32) (int32, error) {
	if p.closed {
		return 0, backends.Closed(Name, "min")
	}
	return min(a, b), nil
}

// Accumulate adds x to the running total, wrapping on overflow.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	if p.closed {
		return 0, backends.Closed(Name, "accumulate")
	}
	p.total += x
	return p.total, nil
}

// Sum returns the sum of the bytes of b.
func (p *Plugin) Sum(b []byte) (uint64, error) {
	if p.closed {
		return 0, backends.Closed(Name, "sum")
	}
	var t uint64
	for _, c := range b {
		t += uint64(c)
	}
	return t, nil
}

// Upper upper-cases the ASCII letters of b in place.
func (p *Plugin) Upper(b []byte) error {
	if p.closed {
		return backends.Closed(Name, "upper")
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return nil
}

// Close releases the instance; the static plugin holds no outside resource.
// Later calls fail with backends.ErrClosed.
func (p *Plugin) Close(context.Context) error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.m != nil {
		p.m.instances.Add(-1)
		p.m = nil
	}
	return nil
}

// Callback calls the host's emit function k times: a Go closure call.
func (p *Plugin) Callback(k int32) (int64, error) {
	if p.closed {
		return 0, backends.Closed(Name, "callback")
	}
	if p.emit == nil {
		return 0, backends.ErrNoHost
	}
	var t int64
	for v := range int64(k) {
		t += p.emit(v)
	}
	return t, nil
}

// Transports returns the one transport of the static plugin: the Go value.
func (p *Plugin) Transports() []event.Transport { return []event.Transport{event.Value} }

// Events returns a connection through the value transport.
func (p *Plugin) Events(t event.Transport) (backends.EventConn, error) {
	if p.closed {
		return nil, backends.Closed(Name, "events")
	}
	if t != event.Value {
		return nil, backends.UnsupportedTransport(Name, t, p.Transports())
	}
	return &valueConn{p: p}, nil
}

// valueConn hands the plugin the Go value itself: Call is event.Process,
// and Decode copies the result (its fields, not their strings or lists)
// into the caller's event.
type valueConn struct {
	p   *Plugin
	in  *event.Event
	out event.Event
}

// Encode checks in against the limits, as every transport does, and
// keeps a pointer to it.
func (c *valueConn) Encode(in *event.Event) error {
	if c.p.closed {
		return backends.Closed(Name, "event")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	c.in = in
	return nil
}

func (c *valueConn) Call() (bool, error) {
	if c.p.closed {
		return false, backends.Closed(Name, "event")
	}
	if c.in == nil {
		return false, errors.New("static: call before encode")
	}
	return event.Process(c.in, &c.out)
}

func (c *valueConn) Decode(out *event.Event) error {
	if c.p.closed {
		return backends.Closed(Name, "event")
	}
	out.ID, out.Timestamp, out.Origin = c.out.ID, c.out.Timestamp, c.out.Origin
	out.Tags = append(out.Tags[:0], c.out.Tags...)
	out.Fields = append(out.Fields[:0], c.out.Fields...)
	return nil
}

func (c *valueConn) Moved() int { return 0 }

// faulty is an instance of a FaultPath module: its Min misbehaves.
type faulty struct {
	*Plugin
	fault string
}

// sink keeps the memory bomb's allocations reachable.
var sink [][]byte

func (f *faulty) Min(a, b int32) (int32, error) {
	switch f.fault {
	case "segv":
		var p *int32
		return *p, nil // a run-time panic: invalid memory address
	case "abort":
		panic("static plugin: abort")
	case "loop":
		for i := 0; ; i++ {
			runtime.KeepAlive(i)
		}
	case "bomb":
		for range 64 {
			b := make([]byte, 64<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	}
	return f.Plugin.Min(a, b)
}
