//go:build !cgo || !(linux || darwin || freebsd)

package goplugin

import (
	"errors"
	"fmt"
	"runtime"
)

// Available reports whether this build of the host can open Go plugins:
// Go's plugin package needs cgo, on Linux, macOS or FreeBSD. This build
// cannot: Load fails with an error wrapping errors.ErrUnsupported. The
// package does not import plugin at all, so the host is linked as any other
// program.
const Available = false

var errUnavailable = fmt.Errorf("Go plugins need a host built with cgo (CGO_ENABLED=1) on linux, darwin or freebsd, and this %s/%s host was not: %w",
	runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)

// open is never called: Load fails first.
func open(string) (lookupFunc, error) { return nil, errUnavailable }
