//go:build cgo

package wasmtime

// #include <stdint.h>
// #include <stdlib.h>
import "C"

import (
	"fmt"
	"runtime/cgo"

	"github.com/plugbench/plugbench/backends/internal/hostfn"
)

// pbEmit is the Go half of "plugbench" "emit": it calls the emit function
// of handle h. A panic there becomes a trap of the guest's call (a Go panic
// must not unwind through Wasmtime's frames); its text is malloc'd for the
// C half to free.
//
//export pbEmit
func pbEmit(h C.uint64_t, v C.int64_t, panicked **C.char) (r C.int64_t) {
	defer func() {
		if e := recover(); e != nil {
			*panicked = C.CString(fmt.Sprintf("plugbench: the host function panicked: %v", e))
			r = 0
		}
	}()
	return C.int64_t(hostfn.Call(uint64(h), int64(v)))
}

// pbEpoch is called by Wasmtime when a store's epoch deadline comes: it
// returns 1 to let the guest run one more tick, 0 to stop it. h is the
// cgo.Handle of the store's *bound.
//
//export pbEpoch
func pbEpoch(h C.uintptr_t) C.int {
	b, ok := cgo.Handle(h).Value().(*bound)
	if !ok || b.tick() {
		return 1
	}
	return 0
}
