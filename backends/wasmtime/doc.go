// Package wasmtime is plugbench's second WebAssembly backend, on Wasmtime
// through github.com/bytecodealliance/wasmtime-go/v39 (Cranelift, ahead of
// time compiled). It loads the very artifacts the wazero backend (package
// wasm) loads, with the same ABI, the same exports and signatures, and the
// same identity check (BuiltFor is "wasm").
//
// # What a guest gets
//
// A store of its own per instance (one instance per goroutine is the
// contract), instantiated through one linker per backend holding the host
// function "plugbench" "emit" (i64 ctx, i64 v) -> i64 and, for guests that
// import wasi_snapshot_preview1 (the Go guest), Wasmtime's WASI with no
// arguments, environment, preopened directories, network or inherited
// stdio. Clocks and random are WASI's real ones. A reactor's _initialize
// runs at instantiation.
//
// # The call path
//
// Calls go through Wasmtime's C API, not wasmtime-go's Func.Call: each
// instance keeps a C struct (pb_inst, capi.h) with its context, its
// exports' handles and a reused argument array, and one cgo call runs
// wasmtime_func_call_unchecked. The callback is an unchecked host function
// too. The package declares the few C functions and types it uses as
// Wasmtime's v39 headers do, and reads the C handles inside wasmtime-go's
// types; New checks their layout first (checkLayout) and fails rather than
// guess if wasmtime-go changes them. RATIONALE.md says why, with figures.
//
// # Faults
//
//   - Deadlines use epoch interruption, always on: a ticker goroutine per
//     backend advances the epoch every Config.EpochPeriod; Backend.Close
//     stops it. Load and Instantiate stop a start that runs past their
//     context's end within one period, with an error wrapping ctx.Err().
//     With backends.WithCallTimeout(d), a call that runs past d is stopped
//     within one period more, its error wraps context.DeadlineExceeded,
//     and the instance is closed. A compile does not stop: Load abandons
//     it at its context's end and wraps backends.ErrNoInterrupt.
//   - A guest's memory is capped by Wasmtime's store limiter
//     (Config.MemoryLimit). The C API does not say when the limiter
//     refused, so the backend infers it: a call that failed while the
//     guest's memory grew, or a buffer that would not fit under the limit,
//     wraps backends.ErrMemoryLimit. A guest whose very first growth is
//     refused and that then traps is reported as the trap alone.
//   - Traps and WASI exits are *Failure errors with Wasmtime's message,
//     trap code and exit status. A host function that panics fails the
//     guest's call with the panic's text.
//
// # Disk cache
//
// With Config.CacheDir, Load deserializes a module compiled before, from a
// file named by the sha256 of the wasm bytes and of everything the
// compiled code depends on; otherwise it compiles and writes one. A file is
// deserialized only if it begins with this package's header and the sha256
// of the rest (Wasmtime trusts serialized code: it is machine code): a
// corrupt, truncated or foreign file is recompiled and replaced. The check
// does not stop a forger: the directory must be writable only by those the
// host trusts.
//
// Without cgo the package still builds: [Available] is false, and Load
// fails with an error wrapping [ErrNoCgo] (errors.ErrUnsupported).
package wasmtime
