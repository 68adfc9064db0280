//go:build cgo

package cgo

// A file with //export may only declare in its preamble: the C wrappers
// live in shim.h, included by the other files.

// #include <stdint.h>
import "C"

import "github.com/plugbench/plugbench/backends/internal/hostfn"

// pbHostEmit is the host function of every instance (plugbench_emit_fn):
// plugbench_set_host gives the plugin its address and the instance's hostfn
// handle as ctx, and it calls the instance's emit function. One exported
// function serves every instance, as purego's one trampoline does for the
// dlopen backend; a cgo callback allocates nothing and needs no registry
// of C function pointers.
//
//export pbHostEmit
func pbHostEmit(ctx C.uint64_t, v C.int64_t) C.int64_t {
	return C.int64_t(hostfn.Call(uint64(ctx), int64(v)))
}
