//go:build !(amd64 && (darwin || freebsd || linux || netbsd))

package trampoline

import "runtime"

// Available reports whether Min can be called: never on this platform.
var Available = false

// Reason says why Available is false.
var Reason = "the trampoline is written for System V amd64 (darwin, freebsd, linux, netbsd), not " + runtime.GOOS + "/" + runtime.GOARCH

// Min is unavailable on this platform; callers check Available first.
func Min(fn uintptr, a, b int32) int32 {
	panic("trampoline: " + Reason)
}
