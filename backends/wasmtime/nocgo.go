//go:build !cgo

package wasmtime

import (
	"context"

	"github.com/plugbench/plugbench/backends"
)

// Available reports whether this build has cgo, and so whether the backend
// can load anything.
const Available = false

// New returns a backend whose Load fails with ErrNoCgo: this host was
// built without cgo.
func New(ctx context.Context, cfg Config) (backends.Backend, error) { return backend{}, nil }

type backend struct{}

func (backend) Name() string                { return Name }
func (backend) Close(context.Context) error { return nil }

// Load fails: this host was built without cgo. The error is a
// *backends.Error wrapping ErrNoCgo, which matches errors.ErrUnsupported.
func (backend) Load(_ context.Context, path string) (backends.Module, error) {
	return nil, &backends.Error{Backend: Name, Path: path, Err: ErrNoCgo}
}
