// Package shm is plugbench's backend for a plugin that is an executable
// of its own, reached through shared memory: the same executables as
// backends/subprocess (started with -shm), but requests, replies,
// payloads and events go through a region both processes map, a memfd
// passed to the child as fd 3 and closed by both once mapped (no file in
// /dev/shm or anywhere). Payloads are copied into the region and events
// encoded straight into it, and the plugin writes its output there: no
// byte goes through the kernel.
//
// # Doorbells
//
// A request or reply is announced by a sequence number in the region,
// one per direction. The waiting side spins on it for about 1 µs, then
// yields the CPU between looks (sched_yield) until 50 µs, then sleeps
// with FUTEX_WAIT on the word; the other side calls FUTEX_WAKE only when
// the waiter has announced it sleeps. So a round trip between two
// processes on two CPUs costs two cache-line transfers and no system
// call, and an idle plugin costs no CPU.
// backends/internal/ipc (shm.go) has the memory ordering.
//
// The spinning path needs the two processes on two CPUs. On a loaded
// machine the scheduler may put the host's thread and the plugin on one
// CPU; then each side runs only when the other yields, and a round trip
// costs two yields (µs, not ns). The yield phase is there for that case:
// a pure spin there would burn the other side's whole time slice. The
// benchmarks show both (sched=os, and sched=pinned: host thread and
// plugin pinned to two CPUs).
//
// # Lifecycle and faults
//
// As for backends/subprocess: one process (and one region) per instance;
// Load starts the first and checks the handshake; Close sends the close
// op, waits, kills, reaps and unmaps. A dead plugin is noticed while the
// host waits (the process's reaper wakes it) or at the next call;
// WithCallTimeout kills the process at the deadline; its memory is
// capped (RLIMIT_DATA) and a failed malloc is flagged in the region, so
// that the error wraps backends.ErrMemoryLimit.
//
// The executables' identity names the backend "subprocess", which this
// backend accepts: they are one artifact for both channels.
package shm

import (
	"context"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/internal/ipc"
)

// Name is the backend's name in benchmark names.
const Name = "shm"

// BuiltFor is the backend the executables' identity names: shm loads
// the subprocess backend's executables.
const BuiltFor = "subprocess"

// ErrExited matches the error of a call whose plugin process died.
var ErrExited = ipc.ErrExited

// Config configures an shm backend.
type Config struct {
	// MemoryLimit caps each plugin process's data (RLIMIT_DATA), in
	// bytes; 0 means 512 MiB. The shared region does not count.
	MemoryLimit uint64
}

// New returns an shm backend configured by cfg. It never fails.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	return ipc.NewBackend(Name, ipc.Shm, cfg.MemoryLimit, BuiltFor), nil
}
