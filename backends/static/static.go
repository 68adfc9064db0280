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
)

// Name is the backend's name in benchmark names.
const Name = "static"

// Path is the one artifact the static backend loads.
const Path = "builtin"

// Backend returns the static backend.
func Backend() backends.Backend { return backend{} }

type backend struct{}

func (backend) Name() string { return Name }

func (backend) Load(_ context.Context, path string) (backends.Module, error) {
	if path != Path {
		return nil, &backends.Error{Backend: Name, Path: path, Err: fmt.Errorf("the static backend only loads %q: %w", Path, fs.ErrNotExist)}
	}
	id, err := backends.CheckArtifact(backends.ABIVersion, identity, Name)
	if err != nil {
		return nil, &backends.Error{Backend: Name, Path: path, Err: err}
	}
	return &module{id: id}, nil
}

func (backend) Close(context.Context) error { return nil }

var identity = "lang=go backend=" + Name + " toolchain=" + runtime.Version()

type module struct {
	id        backends.Identity
	closed    bool
	instances atomic.Int64
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return Path }

func (m *module) Instantiate(context.Context) (backends.Plugin, error) {
	if m.closed {
		return nil, &backends.Error{Backend: Name, Path: Path, Err: errors.New("instantiate after close")}
	}
	m.instances.Add(1)
	return &Plugin{m: m}, nil
}

// Close unloads the module. Like every backend's, it fails while instances
// are open.
func (m *module) Close(context.Context) error {
	if n := m.instances.Load(); n > 0 {
		return &backends.Error{Backend: Name, Path: Path, Err: fmt.Errorf("close with %d instances open", n)}
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
	_     cpu.CacheLinePad
	total int64
	m     *module // nil for a Plugin made directly, as a reference
	_     cpu.CacheLinePad
}

// Min returns the smaller of a and b.
func (*Plugin) Min(a, b int32) (int32, error) { return min(a, b), nil }

// Accumulate adds x to the running total, wrapping on overflow.
func (p *Plugin) Accumulate(x int64) (int64, error) {
	p.total += x
	return p.total, nil
}

// Sum returns the sum of the bytes of b.
func (*Plugin) Sum(b []byte) (uint64, error) {
	var t uint64
	for _, c := range b {
		t += uint64(c)
	}
	return t, nil
}

// Upper upper-cases the ASCII letters of b in place.
func (*Plugin) Upper(b []byte) error {
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return nil
}

// Close releases the instance; the static plugin holds no outside resource.
func (p *Plugin) Close(context.Context) error {
	if p.m != nil {
		p.m.instances.Add(-1)
		p.m = nil
	}
	return nil
}
