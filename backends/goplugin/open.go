//go:build cgo && (linux || darwin || freebsd)

package goplugin

import "plugin"

// Available reports whether this build of the host can open Go plugins:
// Go's plugin package needs cgo, on Linux, macOS or FreeBSD.
const Available = true

var errUnavailable error // nil: Load never reports it

// open opens the plugin at real (a real path) with plugin.Open.
func open(real string) (lookupFunc, error) {
	p, err := plugin.Open(real)
	if err != nil {
		return nil, err
	}
	return func(name string) (any, error) { return p.Lookup(name) }, nil
}
