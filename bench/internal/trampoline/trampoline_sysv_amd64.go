//go:build amd64 && (darwin || freebsd || linux || netbsd)

package trampoline

import (
	"unsafe"

	// purego sets up the cgo runtime that runtime.cgocall needs: runtime/cgo
	// with CGO_ENABLED=1, its fakecgo with CGO_ENABLED=0.
	_ "github.com/ebitengine/purego"
)

//go:linkname runtime_cgocall runtime.cgocall
//go:noescape
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

// runtime_iscgo is set (at link time, as static data) by runtime/cgo or
// purego's fakecgo; runtime.cgocall throws without it.
//
//go:linkname runtime_iscgo runtime.iscgo
var runtime_iscgo bool

// minABI0 is the address of callMin in trampoline_sysv_amd64.s: an
// assembly function with the C calling convention, taking *minArgs in DI.
var minABI0 uintptr

// minArgs is the block callMin reads and writes. Its offsets reach the
// assembly through go_asm.h (minArgs_fn, minArgs_a, …).
type minArgs struct {
	fn   uintptr
	a, b int32
	ret  int32
	_    int32
}

// Available reports whether Min can be called in this process.
var Available = runtime_iscgo

// Reason says why Available is false.
var Reason = "the trampoline needs the cgo runtime (runtime/cgo or purego's fakecgo), and runtime.iscgo is false"

// Min calls fn, a C function int32_t (*)(int32_t, int32_t), through
// runtime.cgocall and callMin. It panics, with Reason, when Available is
// false, and when fn is 0.
func Min(fn uintptr, a, b int32) int32 {
	if !Available {
		panic("trampoline: " + Reason)
	}
	if fn == 0 {
		panic("trampoline: nil function pointer")
	}
	// The block stays on this goroutine's stack: runtime.cgocall does not
	// retain it (hence go:noescape), and the stack cannot move while the
	// goroutine is in the call, as with the frame cgo passes.
	x := minArgs{fn: fn, a: a, b: b}
	runtime_cgocall(minABI0, unsafe.Pointer(&x))
	return x.ret
}
