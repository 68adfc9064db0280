//go:build cgo

package wasmtime

// #include "capi.h"
import "C"

import (
	"context"
	"fmt"
	"os"
	"slices"
	"unsafe"

	wt "github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/wasmabi"
)

// refMin loads the guest at path (the C, Rust or Go guest: WASI when it
// imports it, _initialize when it exports it) with the bare call path impl,
// one of refImpls, and returns a function calling its plugbench_min, after
// checking one answer. closeFn frees everything. No backend code is
// involved beyond the shared C call (pb_call) of the unchecked variants.
func refMin(ctx context.Context, impl, path string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	fail := func(err error) error {
		return &backends.Error{Backend: Name, Path: path, Symbol: wasmabi.Min, Err: err}
	}
	if !slices.Contains(refImpls, impl) {
		return nil, nil, fail(fmt.Errorf("reference %q: want one of %v", impl, refImpls))
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fail(err)
	}
	wc := wt.NewConfig()
	switch impl {
	case "wasmtime-epoch":
		wc.SetEpochInterruption(true)
	case "wasmtime-fuel":
		wc.SetConsumeFuel(true)
	}
	engine := wt.NewEngineWithConfig(wc)
	module, err := wt.NewModule(engine, bin)
	if err != nil {
		return nil, nil, fail(err)
	}
	store := wt.NewStore(engine)
	linker := wt.NewLinker(engine)
	closeFn = func() {
		store.Close()
		linker.Close()
		module.Close()
		engine.Close()
	}
	fail2 := func(err error) (func(a, b int32) (int32, error), func(), error) {
		closeFn()
		return nil, nil, fail(err)
	}
	switch impl {
	case "wasmtime-epoch":
		store.SetEpochDeadline(epochNever)
	case "wasmtime-fuel":
		if err := store.SetFuel(1 << 62); err != nil {
			return fail2(err)
		}
	}
	for _, imp := range module.Imports() {
		if imp.Module() == "wasi_snapshot_preview1" {
			if err := linker.DefineWasi(); err != nil {
				return fail2(err)
			}
			store.SetWasi(wt.NewWasiConfig())
			break
		}
	}
	if err := linker.FuncWrap(hostModule, "emit", func(_, v int64) int64 { return v }); err != nil {
		return fail2(err)
	}
	inst, err := linker.Instantiate(store, module)
	if err != nil {
		return fail2(err)
	}
	if f := inst.GetFunc(store, wasmabi.Init); f != nil {
		if _, err := f.Call(store); err != nil {
			return fail2(err)
		}
	}
	f := inst.GetFunc(store, wasmabi.Min)
	if f == nil {
		return fail2(backends.ErrMissingExport)
	}
	if impl == "wasmtime" {
		call = func(a, b int32) (int32, error) {
			r, err := f.Call(store, a, b)
			if err != nil {
				return 0, err
			}
			v, _ := r.(int32)
			return v, nil
		}
	} else {
		in := newInst(store)
		setFunc(in, fnMin, f)
		addr := C.uintptr_t(uintptr(unsafe.Pointer(in)))
		args := (*rawArgs)(unsafe.Pointer(&in.args))
		inner := closeFn
		closeFn = func() { inner(); freeInst(in) }
		call = func(a, b int32) (int32, error) {
			args[0][0], args[1][0] = uint64(uint32(a)), uint64(uint32(b))
			if pbCall(addr, fnMin) != 0 {
				return 0, takeFailure(in)
			}
			return int32(uint32(args[0][0])), nil
		}
	}
	if r, err := call(3, -4); err != nil || r != -4 {
		return fail2(fmt.Errorf("min(3, -4) = %d, %v; want -4", r, err))
	}
	return call, closeFn, nil
}

// RefMin is the suite's reference row impl (BenchmarkRef), one of
// refImpls: refMin on the module's file, in an engine of its own.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (func(a, b int32) (int32, error), func(), error) {
	return refMin(ctx, impl, m.path)
}
