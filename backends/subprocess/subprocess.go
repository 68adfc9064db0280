// Package subprocess is plugbench's backend for a plugin that is an
// executable of its own: the host starts it and talks to it over its
// stdin and stdout, in a compact framed binary protocol
// (backends/internal/ipc has the frames and ops). The fixtures are the
// C guest with a serving loop (fixtures/c/serve.c) and the Go guest with
// one (fixtures/go/serve); package fixtures builds them at test time.
//
// # Lifecycle
//
// One instance is one process. Load starts the executable, checks its
// handshake (ABI version and identity, which must name the backend
// "subprocess"), and keeps that process for the module's first instance;
// every further Instantiate starts a new process and checks its handshake
// again. A process per instance, and not a thread per instance in one
// process per module: the instances run in parallel with nothing shared
// (each has its own pipes), a fault or a timeout kills one instance and
// nothing else, and Close has one process to end. The price is a process
// start per instance, measured by the benchmarks.
//
// Instance.Close sends the close op, waits up to ipc.ShutdownWait for the
// process to exit, then sends SIGKILL; a reaper goroutine per process
// waits for it, so none is left a zombie, and every pipe is closed.
//
// # Faults
//
// The process is the fault boundary:
//
//   - A plugin that dies (SIGSEGV, SIGABRT, an exit) fails the call with
//     an error matching ipc.ErrExited ([ErrExited]) that names the signal
//     (from the wait status), at once: its end of the pipe closes with
//     it. The instance is closed; later calls fail with ErrClosed.
//   - WithCallTimeout is supported: at the deadline the process is
//     killed, the call fails with an error wrapping
//     context.DeadlineExceeded, and the instance is closed.
//   - Load and Instantiate are bounded by their context (by
//     ipc.HandshakeTimeout when it has no deadline): a plugin that never
//     answers its handshake (a constructor that never returns) is killed
//     and the error wraps ctx.Err().
//   - Every process runs under a memory limit (RLIMIT_DATA, 512 MiB by
//     default, Config.MemoryLimit, set with prlimit(2) right after it
//     starts). A
//     plugin whose malloc fails tells the host before it dies (the oom
//     status), and the error wraps backends.ErrMemoryLimit.
//   - A plugin that died while idle fails the next call at once.
package subprocess

import (
	"context"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/ipc"
)

// Name is the backend's name in benchmark names, and the backend the
// executables' identity names.
const Name = "subprocess"

// ErrExited matches the error of a call whose plugin process died.
var ErrExited = ipc.ErrExited

// Config configures a subprocess backend.
type Config struct {
	// MemoryLimit caps each plugin process's data (RLIMIT_DATA), in
	// bytes; 0 means 512 MiB (osproc.DefaultMemoryLimit).
	MemoryLimit uint64
}

// New returns a subprocess backend configured by cfg. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	return ipc.NewBackend(Name, ipc.Pipe, cfg.MemoryLimit, Name), nil
}
