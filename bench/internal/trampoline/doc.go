// Package trampoline calls a C function int32_t (*)(int32_t, int32_t)
// without cgo, the way purego does but specialised to that one signature:
// the floor a cgo-free call can reach, measured beside purego's general
// calls and a cgo call (BenchmarkRef/op=min/impl=trampoline).
//
// Min puts the function pointer and the two arguments in a small struct on
// the caller's stack and passes its address to runtime.cgocall (reached by
// go:linkname, as purego reaches it), which switches to the system stack and
// calls an assembly function with the C calling convention. That function
// loads the two arguments into the argument registers, aligns the stack,
// calls the C function and stores its result in the struct. Nothing else is
// copied: no argument arrays, no float registers, no pool.
//
// # Notes
//
//   - runtime.cgocall needs the runtime's cgo machinery (runtime.iscgo, the
//     C thread and TLS set-up); without it the runtime aborts the process.
//     With CGO_ENABLED=1 that is runtime/cgo; with CGO_ENABLED=0 it is
//     purego's fakecgo. This package imports purego for that side effect
//     alone (the bench binary links it anyway, through backends/dlopen), and
//     still checks at start-up: Available is false, with a Reason, when the
//     machinery is missing, and Min then panics with that reason instead of
//     letting the runtime throw.
//   - Only System V amd64 is implemented (darwin, freebsd, linux, netbsd:
//     the systems purego's fakecgo or cgo serve). Elsewhere the package
//     builds, Available is false and Reason names the platform.
//   - fn must point to a C function of exactly that signature; the C code
//     runs on the system stack and must not call back into Go.
package trampoline
