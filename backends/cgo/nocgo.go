//go:build !cgo

package cgo

import (
	"context"

	"github.com/plugbench/plugbench/backends"
)

// Available reports whether this build has cgo, and so whether the backend
// can load anything.
const Available = false

// Load fails: this host was built without cgo. The error is a
// *backends.Error wrapping ErrNoCgo, which matches errors.ErrUnsupported.
func (backend) Load(_ context.Context, path string) (backends.Module, error) {
	return nil, &backends.Error{Backend: Name, Path: path, Err: ErrNoCgo}
}
