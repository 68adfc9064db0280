// Package osproc holds what the backends whose plugins are processes of their
// own (backends/internal/ipc's subprocess and shm, and hashicorp) share
// about those processes: how one is capped, how a failed start is told
// apart, and how its end is said.
package osproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/backends"
)

// ErrExited matches the error of a call whose plugin process died (or
// exited) under it, and of a load whose executable exited before its
// handshake. The message says how: the exit status, or the signal.
var ErrExited = errors.New("plugin process exited")

// DefaultMemoryLimit is the default data limit (RLIMIT_DATA) of every plugin
// process, set with prlimit(2) right after it starts: a plugin that eats
// memory dies (its malloc fails) instead of taking the machine.
// RLIMIT_DATA and not RLIMIT_AS: it counts private writable mappings
// (heap, anonymous mmap, what malloc gets) but not address space merely
// reserved, and a Go guest reserves 1.2 GB at start (VmSize) for 40 MB of
// data; a shared mapping does not count either.
const DefaultMemoryLimit = 512 << 20

// LimitData caps the data of the process pid at limit bytes (RLIMIT_DATA).
// A process that has already exited is not an error.
func LimitData(pid int, limit uint64) error {
	lim := unix.Rlimit{Cur: limit, Max: limit}
	if err := unix.Prlimit(pid, unix.RLIMIT_DATA, &lim, nil); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("prlimit RLIMIT_DATA: %w", err)
	}
	return nil
}

// StartError says why exec failed: a missing file matches fs.ErrNotExist,
// a file that is not executable fs.ErrPermission, one the kernel cannot
// run backends.ErrFormat.
func StartError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOEXEC):
		return fmt.Errorf("%w: not an executable: %w", backends.ErrFormat, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("not executable: %w", err)
	}
	return fmt.Errorf("start: %w", err)
}

// Describe says how a process ended: "killed by SIGSEGV (segmentation
// fault)", "exit status 3"; "still running" for a nil state.
func Describe(s *os.ProcessState) string {
	if s == nil {
		return "still running"
	}
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		d := "killed by " + unix.SignalName(sig) + " (" + sig.String() + ")"
		if ws.CoreDump() {
			d += ", core dumped"
		}
		return d
	}
	return fmt.Sprintf("exit status %d", s.ExitCode())
}

// Exited returns the error of a process that ended as s says, with what
// it printed (why, "" if nothing), matching ErrExited, and
// backends.ErrMemoryLimit too when it ran out of memory.
func Exited(s *os.ProcessState, why string, oom bool) error {
	msg := Describe(s)
	if why != "" {
		msg += " (" + why + ")"
	}
	if oom {
		return fmt.Errorf("%w: %s: %w", ErrExited, msg, backends.ErrMemoryLimit)
	}
	return fmt.Errorf("%w: %s", ErrExited, msg)
}

// Executable checks that path names a file, not a folder (an error
// matching backends.ErrFormat), and returns its absolute path: what a
// process backend's Load starts, whatever the working directory later.
func Executable(path string) (abs string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%w: a directory", backends.ErrFormat)
	}
	return filepath.Abs(path)
}
