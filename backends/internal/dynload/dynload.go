// Package dynload holds what is true of glibc's dynamic loader for the
// whole process, which every backend that calls dlopen(3) in it shares
// (dlopen through purego, cgo, goplugin through Go's plugin package):
//
//  1. The loader's lock is the process's: a dlopen given up on while a
//     constructor runs holds it for good. [Abandon] records it, and
//     [Stuck] lets every backend refuse to load at once, rather than wait
//     for that lock for ever.
//  2. A file stays mapped while any handle to it is open: [IsMapped]
//     tells whether a cold load really mapped it.
package dynload

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// stuck is the library whose dlopen was abandoned at its context's
// deadline, nil while none was.
var stuck atomic.Pointer[string]

// Abandon records that the dlopen of the library at path was given up on
// while its constructor ran: the dynamic loader's lock, which is the whole
// process's, stays held by the thread running it. Every backend that calls
// dlopen(3) in this process, through purego or through cgo, then refuses to
// load (see [Stuck]): its dlopen would wait for that lock forever. The first
// library abandoned is the one remembered.
func Abandon(path string) { stuck.CompareAndSwap(nil, &path) }

// Stuck returns the library recorded by [Abandon], and whether there is one.
func Stuck() (path string, ok bool) {
	if p := stuck.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// IsMapped reports whether a file is mapped into this process, from
// /proc/self/maps (Linux only). The suite uses it to prove that a cold
// load really maps the library: dlopen of an already-open library only
// bumps a reference count.
func IsMapped(path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false, fmt.Errorf("is %s mapped: %w", path, err)
	}
	for line := range bytes.Lines(maps) {
		if bytes.HasSuffix(bytes.TrimRight(line, "\n"), []byte(" "+abs)) {
			return true, nil
		}
	}
	return false, nil
}
