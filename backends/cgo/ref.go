//go:build cgo

package cgo

// #include "shim.h"
import "C"

import "unsafe"

// The references of BenchmarkMin. cgo cannot be used in _test.go files, so
// they live here; nothing else calls them.

// refMin is a bare cgo call of fn (int32_t (*)(int32_t, int32_t)) written
// as bench/internal/cgoref writes it: the function pointer crosses as a
// void *, which cgo checks for Go pointers on every call.
func refMin(fn uintptr, a, b int32) int32 {
	// fn points into a mapped library, not the Go heap.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&fn))
	return int32(C.pbc_ref_min(p, C.int32_t(a), C.int32_t(b)))
}

// refMinAddr is the bare call the backend's Min makes: the function
// pointer as a uintptr_t, which cgo does not check.
func refMinAddr(fn uintptr, a, b int32) int32 {
	return int32(C.pbc_min(C.uintptr_t(fn), C.int32_t(a), C.int32_t(b)))
}

// minAddr is the address of plugbench_min in p's library.
func (p *Plugin) minAddr() uintptr { return uintptr(p.fnMin) }
