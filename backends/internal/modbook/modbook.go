// Package modbook is the bookkeeping a backend's Module keeps: whether it
// is closed, and how many of its instances are open. With it, Close
// refuses while instances are open (backends.ErrInstancesOpen), a closed
// module makes no instance, and Close twice is harmless, in every backend
// alike. (The static backend keeps the same rules with an atomic counter:
// its Instantiate is the baseline every other is divided by, and a lock
// would be most of it.)
package modbook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/plugbench/plugbench/backends"
)

// ErrClosedModule is the error of Reserve on a closed module.
var ErrClosedModule = errors.New("instantiate after close")

// Book is one module's bookkeeping. Its zero value, with Backend and Path
// set, is an open module with no instance.
type Book struct {
	Backend string // the backend's name, as errors give it
	Path    string // the artifact's path, as given to Load

	mu     sync.Mutex
	closed bool
	open   int
}

// Fail returns the module's error: an *backends.Error naming the backend,
// the file and sym ("" for none).
func (b *Book) Fail(sym string, err error) error {
	return &backends.Error{Backend: b.Backend, Path: b.Path, Symbol: sym, Err: err}
}

// Reserve counts an instance about to be made, so that Close waits for
// it; it fails once the module is closed. Release it if making it fails.
func (b *Book) Reserve() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.Fail("", ErrClosedModule)
	}
	b.open++
	return nil
}

// Release uncounts an instance: closed, or never made.
func (b *Book) Release() {
	b.mu.Lock()
	b.open--
	b.mu.Unlock()
}

// Close marks the module closed and runs unload (if not nil) once no
// instance is open; its error is the module's. While an instance is open
// it fails with backends.InstancesOpen and the module stays as it was. A
// second Close does nothing.
func (b *Book) Close(unload func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	if b.open > 0 {
		return backends.InstancesOpen(b.Backend, b.Path, b.open)
	}
	b.closed = true
	if unload != nil {
		if err := unload(); err != nil {
			return b.Fail("", err)
		}
	}
	return nil
}

// ReadSource reads the module's file whole, for a backend whose artifact is
// a source it compiles (the scripting engines): a missing file matches
// fs.ErrNotExist, a folder backends.ErrFormat, and a context already done
// is an error wrapping ctx.Err(); each is the module's error (Fail).
func (b *Book) ReadSource(ctx context.Context) ([]byte, error) {
	if fi, err := os.Stat(b.Path); err != nil {
		return nil, b.Fail("", err)
	} else if fi.IsDir() {
		return nil, b.Fail("", fmt.Errorf("%w: a directory", backends.ErrFormat))
	}
	src, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, b.Fail("", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.Fail("", fmt.Errorf("not loaded: %w", err))
	}
	return src, nil
}
