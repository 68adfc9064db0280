//go:build cgo

// Package cgoref calls a C function pointer through cgo: the reference the
// dlopen backend's purego calls are compared with. cgo cannot be used in
// _test.go files, so the reference lives here, behind the cgo build tag.
package cgoref

/*
#include <stdint.h>

static int32_t call_min(uintptr_t fn, int32_t a, int32_t b) {
	return ((int32_t (*)(int32_t, int32_t))fn)(a, b);
}
*/
import "C"

// Available reports whether this build has cgo.
const Available = true

// Min calls fn, a C function int32_t (*)(int32_t, int32_t), through cgo.
func Min(fn uintptr, a, b int32) int32 {
	// fn crosses as an integer: a pointer argument would have cgo check,
	// on every call, that it holds no Go pointer (runtime.cgoCheckPointer),
	// a cost of the reference, not of the crossing. fn points into a
	// mapped library, never the Go heap.
	return int32(C.call_min(C.uintptr_t(fn), C.int32_t(a), C.int32_t(b)))
}
