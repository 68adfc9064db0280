package wasmtime

import (
	"errors"
	"time"
)

// Name is the backend's name in benchmark names.
const Name = "wasmtime"

// BuiltFor is the backend a wasm artifact's identity names: this backend
// loads the very artifacts the wazero backend (package wasm) loads.
const BuiltFor = "wasm"

// DefaultMemoryLimit is a guest's memory limit when Config.MemoryLimit is 0:
// the wazero backend's (wasm.DefaultMemoryLimit).
const DefaultMemoryLimit = 256 << 20

// DefaultEpochPeriod is how often the backend's ticker advances Wasmtime's
// epoch when Config.EpochPeriod is 0: the resolution of every deadline.
const DefaultEpochPeriod = 10 * time.Millisecond

// Config configures a backend.
type Config struct {
	// CacheDir, if set, is a directory of compiled modules shared between
	// processes (the benchmark's cache=disk): Load reuses the module this
	// backend compiled from the same bytes with the same Wasmtime and
	// engine settings, and writes the ones it compiles. Only files this
	// backend wrote are deserialized (see the package doc); anything else
	// there is ignored and overwritten.
	CacheDir string
	// MemoryLimit caps each instance's linear memory, in bytes (Wasmtime's
	// store limiter); 0 means DefaultMemoryLimit.
	MemoryLimit uint64
	// EpochPeriod is the period of the ticker that advances the engine's
	// epoch, and so the resolution of call timeouts and of the contexts of
	// Load and Instantiate; 0 means DefaultEpochPeriod. Shorter is more
	// precise and wakes the host more often.
	EpochPeriod time.Duration
}

// ErrNoCgo is why Load fails in a host built without cgo; it matches
// errors.ErrUnsupported.
var ErrNoCgo error = noCgo{}

type noCgo struct{}

func (noCgo) Error() string {
	return "this host was built with CGO_ENABLED=0; wasmtime-go links Wasmtime's C library through cgo (build with CGO_ENABLED=1 and a C compiler)"
}

func (noCgo) Unwrap() error { return errors.ErrUnsupported }

// refImpls names the call paths a module's RefMin offers, each the bare minimum to call
// plugbench_min that way, with no backend code (the suite's BenchmarkRef):
//
//   - wasmtime: wasmtime-go as its documentation shows it: a default
//     engine, Func.Call with the arguments as interface values.
//   - wasmtime-unchecked: the same engine, the export called through
//     Wasmtime's C API, wasmtime_func_call_unchecked, with a reused
//     argument array, in one cgo call.
//   - wasmtime-epoch: wasmtime-unchecked on an engine with epoch
//     interruption, the backend's configuration.
//   - wasmtime-fuel: wasmtime-unchecked on an engine that meters fuel,
//     the other way Wasmtime can stop a guest.
var refImpls = []string{"wasmtime", "wasmtime-unchecked", "wasmtime-epoch", "wasmtime-fuel"}
