// Package wasmtime is plugbench's second WebAssembly backend, on Wasmtime
// through github.com/bytecodealliance/wasmtime-go/v39 (Cranelift, ahead of
// time compiled). It loads the very artifacts the wazero backend (package
// wasm) loads, with the same ABI, the same exports and signatures, and the
// same identity check (BuiltFor is "wasm").
//
// # What a guest gets
//
// A store of its own per instance (Wasmtime stores are not goroutine-safe;
// one instance per goroutine is the contract), instantiated through one
// linker per backend holding the host function "plugbench" "emit"
// (i64 ctx, i64 v) -> i64 and, for guests that import
// wasi_snapshot_preview1 (the Go guest), Wasmtime's WASI with no arguments,
// environment, preopened directories, network or inherited stdio (stdout
// and stderr go nowhere). Clocks and random are WASI's real ones. A
// reactor's _initialize runs at instantiation.
//
// # The call path, and why it is not wasmtime-go's
//
// wasmtime-go calls an export with Func.Call(store, args ...interface{}):
// each call looks up the function's type (a C allocation and Go objects
// with finalizers), boxes the arguments and the result, builds []Val
// slices and takes a process-wide mutex (to find the store's Go data): about
// 6 µs and 9 allocations for Min, a hundred times the call itself
// (BenchmarkMin/ref=wasmtime). This package calls the same Wasmtime
// library directly through its C API instead: each instance keeps a C
// struct (pb_inst, capi.h) holding its context, its exports' handles and a
// reused argument array; Go writes the arguments there and one cgo call,
// with two integer arguments that cgo does not check, runs
// wasmtime_func_call_unchecked. Min allocates nothing and costs a cgo
// crossing plus Wasmtime's entry and exit trampolines. The callback is
// the C API's too: an unchecked host function (wasmtime_linker_define_func_unchecked)
// calls an exported Go function, so a callback costs a C→Go cgo crossing
// and no allocation, where wasmtime-go's would build []Val slices and
// reflect on every call.
//
// To reach the C API the package declares the few functions and types it
// uses as Wasmtime's headers (v39) declare them (capi.h; the headers in the
// module cache cannot be named from here, the symbols are the ones
// wasmtime-go links), and reads the C handles inside wasmtime-go's Store,
// Linker, FuncType, Func and Memory. New checks those types' layout first
// (checkLayout) and fails rather than guess if wasmtime-go ever changes
// them. Everything else (engine, compile, serialization, linker, WASI,
// instantiation, export lookup) is plain wasmtime-go.
//
// # Faults
//
// Deadlines use Wasmtime's epoch interruption, always on: compiled code
// checks the engine's epoch at every function entry and loop back-edge
// against its store's deadline. A ticker goroutine per backend advances the
// epoch every Config.EpochPeriod (10 ms by default: a hundred wake-ups a
// second, nothing measurable); Backend.Close stops it. A store whose
// deadline comes asks a callback (wasmtime_store_epoch_deadline_callback)
// what to do:
//
//   - Load and Instantiate run the start (linker instantiation and
//     _initialize) with a deadline of one tick, and the callback lets the
//     guest run on, a tick at a time, until the context is done: it is
//     then stopped inside the guest, within one period, and the error
//     wraps ctx.Err() (deadline or cancellation alike). Nothing runs on
//     after the return.
//   - An instance made with backends.WithCallTimeout(d) has every call's
//     deadline set to ceil(d/period)+1 ticks in the same C call that runs
//     the export (no clock read, no goroutine): a call that runs past it is
//     stopped between d and d plus one period, with an error wrapping
//     context.DeadlineExceeded, and the instance is closed. Without a
//     timeout the deadline is 2^40 ticks away and nothing is set per call.
//
// Epoch checks against fuel metering, the other way Wasmtime stops a
// guest: fuel counts every instruction (and needs refuelling), epochs cost
// one load and compare per function entry and loop. On Min both are within
// the machine's noise of no interruption at all (the package's
// BenchmarkMin: ref=wasmtime-unchecked, -epoch and -fuel); the difference
// would show in loops, where the epoch check is the cheaper, and fuel has
// no notion of wall time. A compile of the module does not stop: Load
// abandons it at its context's end (package abandon) and says so with
// backends.ErrNoInterrupt.
//
// A guest's memory is capped by Wasmtime's store limiter
// (Config.MemoryLimit, 256 MiB by default): a memory.grow past it returns
// -1 inside the guest, which then traps or fails. Wasmtime's C API does not
// tell the host that its limiter refused, so the backend infers it: a call
// that failed while the guest's memory grew since the backend last looked,
// or a guest buffer that could not be had and would not fit under the
// limit, wraps backends.ErrMemoryLimit. A guest whose very first growth is
// refused and that then traps is reported as the trap alone.
//
// Traps and WASI exits are *Failure errors carrying Wasmtime's message
// ("out of bounds memory access", "wasm `unreachable` instruction
// executed"), trap code and exit status; a host function that panics fails
// the guest's call with the panic's text (a Go panic must not unwind
// through Wasmtime's frames).
//
// # Disk cache
//
// With Config.CacheDir, Load looks for a file named by the sha256 of the
// wasm bytes and of what the compiled code depends on (the wasmtime-go
// module version and sum from the build info, the engine settings, the
// target) and deserializes it; otherwise it compiles and writes the
// serialized module there under a temporary name, renamed into place. A
// file is deserialized only if it begins with this package's header and
// the sha256 of the rest (Wasmtime trusts serialized code: it is machine
// code): a corrupt, truncated or foreign file is recompiled and replaced,
// never loaded. The check does not stop a forger: the directory must be
// writable only by those the host trusts.
//
// # Figures
//
// Medians of six runs on a noisy 2-core amd64 machine (bench_test.go; the
// wazero backend, package wasm, in the same runs): Min 70–100 ns with no
// allocation (wazero 45–60 ns: a cgo crossing is the difference; with a
// call timeout the same, where bounded wazero takes 4–6 µs and 8
// allocations); wasmtime-go's Func.Call 6.8 µs and 9 allocations. A
// callback about 90 ns (wazero 55 ns). Compiling takes 56 ms for the C
// guest and 2 s for the Go guest; from the disk cache, deserializing takes
// 0.13 ms and 10 ms, a whole Load 0.6 ms and 25 ms. Instantiating takes
// 0.1 ms (C) and 0.9 ms (Go; wazero 0.18 ms and 12 ms). Sum of 1 MiB
// 0.7 ms; the typical event's flat round trip 3.5 µs (wazero 3.9 µs).
//
// Without cgo the package still builds: [Available] is false, Load fails
// with an error wrapping [ErrNoCgo] (errors.ErrUnsupported), and so does
// RefMin.
package wasmtime
