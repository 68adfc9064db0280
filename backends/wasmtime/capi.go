//go:build cgo

package wasmtime

// The part of Wasmtime's C API (wasmtime-go's build/include, v39) that the
// hot paths call directly, declared here as the headers declare it: this
// package cannot point cgo at the header folder inside the module cache,
// and the symbols are the ones wasmtime-go already links (libwasmtime.a).
// checkLayout, at New, checks what this file assumes of wasmtime-go's own
// types.

// #include "capi.h"
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	wt "github.com/bytecodealliance/wasmtime-go/v39"
)

// Indexes of pb_inst.fn: the exports an instance calls.
const (
	fnMin = iota
	fnAccumulate
	fnSum
	fnUpper
	fnNew
	fnFree
	fnBuffer
	fnSetHost
	fnCallback
	fnJSON
	fnBinary
	fnFlat
	fnVersion
	fnIdentity
	fnIdentityLen
	fnInit
	fnOther // CallExport's
	nFuncs
)

// epochNever is the epoch deadline of a call nothing bounds: 2^40 ticks,
// centuries of ticks, and far from overflowing the epoch counter.
const epochNever = 1 << 40

// rawArgs is pb_inst.args as Go sees it: each wasmtime_val_raw_t is 16
// bytes, an i32 or an i64 in the low 8 (little-endian).
type rawArgs = [C.PB_NARGS][2]uint64

// PB_NFUNCS is nFuncs: either array below has a negative length otherwise.
var (
	_ [C.PB_NFUNCS - nFuncs]struct{}
	_ [nFuncs - C.PB_NFUNCS]struct{}
)

// checkLayout checks what this package assumes of wasmtime-go's types to
// hand their C handles to the C API directly: Func and Memory hold nothing
// but the C value, and Store, Linker and FuncType begin with their C
// pointer. It runs once, at New; wasmtime-go is pinned (go.mod), and this
// turns a change there into an error instead of memory corruption.
func checkLayout() error {
	var bad []string
	value := func(v any, field string, size uintptr) {
		t := reflect.TypeOf(v)
		if t.NumField() != 1 || t.Field(0).Name != field || t.Size() != size {
			bad = append(bad, fmt.Sprintf("%v: want one field %s of %d bytes", t, field, size))
		}
	}
	value(wt.Func{}, "val", unsafe.Sizeof(C.wasmtime_func_t{}))
	value(wt.Memory{}, "val", unsafe.Sizeof(C.wasmtime_memory_t{}))
	first := func(v any) {
		t := reflect.TypeOf(v)
		if t.NumField() == 0 || t.Field(0).Name != "_ptr" || t.Field(0).Type.Kind() != reflect.Pointer || t.Field(0).Offset != 0 {
			bad = append(bad, fmt.Sprintf("%v: want its C pointer _ptr first", t))
		}
	}
	first(wt.Store{})
	first(wt.Linker{})
	first(wt.FuncType{})
	if len(bad) > 0 {
		return fmt.Errorf("%s: wasmtime-go's types are not what this package was written for: %s", Name, strings.Join(bad, "; "))
	}
	return nil
}

// cptr returns the C pointer a wasmtime-go Store, Linker or FuncType holds
// first (checkLayout).
func cptr[T wt.Store | wt.Linker | wt.FuncType](v *T) C.uintptr_t {
	return C.uintptr_t(uintptr(*(*unsafe.Pointer)(unsafe.Pointer(v))))
}

// newInst allocates an instance's C half for store s.
func newInst(s *wt.Store) *C.pb_inst {
	in := (*C.pb_inst)(C.calloc(1, C.size_t(unsafe.Sizeof(C.pb_inst{}))))
	in.cx = (*C.wasmtime_context_t)(unsafe.Pointer(s.Context()))
	return in
}

func setFunc(in *C.pb_inst, i int, f *wt.Func) {
	in.fn[i] = *(*C.wasmtime_func_t)(unsafe.Pointer(f))
}

func setMemory(in *C.pb_inst, m *wt.Memory) {
	in.mem = *(*C.wasmtime_memory_t)(unsafe.Pointer(m))
}

func freeInst(in *C.pb_inst) { C.free(unsafe.Pointer(in)) }

// Failure is a guest call that failed inside Wasmtime: a trap, a WASI exit
// or an error of the runtime.
type Failure struct {
	Message  string // Wasmtime's whole message, with its wasm backtrace
	TrapCode int    // Wasmtime's trap code (wasmtime_trap_code_t), or -1
	Exit     int    // the guest's WASI exit status, or -1
}

// Error is Wasmtime's cause on one line ("wasm trap: out of bounds memory
// access"): its message opens with a many-line backtrace, which Message
// keeps.
func (f *Failure) Error() string {
	if _, cause, ok := strings.Cut(f.Message, "Caused by:"); ok {
		cause, _, _ = strings.Cut(cause, "Stack backtrace:")
		var lines []string
		for l := range strings.Lines(cause) {
			t := strings.TrimSpace(l)
			if n, rest, ok := strings.Cut(t, ": "); ok && strings.Trim(n, "0123456789") == "" {
				t = rest // "0: memory fault at …", a numbered chain
			}
			if t != "" {
				lines = append(lines, t)
			}
		}
		if len(lines) > 0 {
			return strings.Join(lines, ": ")
		}
	}
	first, _, _ := strings.Cut(f.Message, "\n")
	return first
}

// Wasmtime's trap codes that this package tells apart.
const (
	trapUnreachable = 9  // WASMTIME_TRAP_CODE_UNREACHABLE_CODE_REACHED
	trapInterrupt   = 10 // WASMTIME_TRAP_CODE_INTERRUPT
	trapOutOfFuel   = 12 // WASMTIME_TRAP_CODE_OUT_OF_FUEL
)

// takeFailure returns the failure of in's last call, and frees it.
func takeFailure(in *C.pb_inst) *Failure {
	var msg *C.char
	var code, exit C.int
	C.pb_take_failure(C.uintptr_t(uintptr(unsafe.Pointer(in))), &msg, &code, &exit)
	f := &Failure{Message: C.GoString(msg), TrapCode: int(code), Exit: int(exit)}
	C.free(unsafe.Pointer(msg))
	return f
}

// errorText returns the message of a wasmtime_error_t and frees it.
func errorText(err *C.wasmtime_error_t) string {
	msg := C.pb_error_text(C.uintptr_t(uintptr(unsafe.Pointer(err))))
	defer C.free(unsafe.Pointer(msg))
	return C.GoString(msg)
}

// defineEmit defines "plugbench" "emit" in l, the host function of every
// instance: (i64 ctx, i64 v) -> i64.
func defineEmit(l *wt.Linker) error {
	ty := wt.NewFuncType([]*wt.ValType{wt.NewValType(wt.KindI64), wt.NewValType(wt.KindI64)},
		[]*wt.ValType{wt.NewValType(wt.KindI64)})
	defer ty.Close()
	if err := C.pb_define_emit(cptr(l), cptr(ty)); err != nil {
		return errors.New(errorText(err))
	}
	return nil
}

// setEpochCallback has s ask pbEpoch, with handle h, what to do when its
// epoch deadline comes.
func setEpochCallback(s *wt.Store, h uintptr) { C.pb_set_epoch_cb(cptr(s), C.uintptr_t(h)) }

// pbCall calls export fn of the instance at addr (pb_call): nonzero when it
// failed. The C helpers are static functions of this file's preamble,
// which the other files cannot name.
func pbCall(addr C.uintptr_t, fn C.size_t) C.int { return C.pb_call(addr, fn) }

// pbMem refreshes pb_inst.base and size.
func pbMem(addr C.uintptr_t) { C.pb_mem(addr) }

// setDeadline sets the epoch deadline of c's store, ticks from now.
func setDeadline(c *C.pb_inst, ticks uint64) {
	C.pb_deadline(C.uintptr_t(uintptr(unsafe.Pointer(c.cx))), C.uint64_t(ticks))
}
