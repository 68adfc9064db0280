// Package hostfn is the table of host functions that plugins call back:
// one trampoline per mechanism (a purego callback, a wazero host function)
// serves every instance, and finds the instance's function by the handle
// the plugin was given at instantiation.
//
// One trampoline rather than one per instance: purego can make only a
// bounded number of callbacks in a process and never frees them, and a
// wazero host module is bound when a guest is instantiated.
package hostfn

import (
	"sync"
	"sync/atomic"
)

var (
	mu    sync.Mutex
	table atomic.Pointer[[]func(int64) int64] // copied on write: Call takes no lock
	free  []uint64
)

// Register adds fn to the table and returns its handle, never 0.
func Register(fn func(int64) int64) uint64 {
	mu.Lock()
	defer mu.Unlock()
	var t []func(int64) int64
	if p := table.Load(); p != nil {
		t = *p
	}
	t = append([]func(int64) int64(nil), t...)
	var h uint64
	if n := len(free); n > 0 {
		h, free = free[n-1], free[:n-1]
		t[h-1] = fn
	} else {
		t = append(t, fn)
		h = uint64(len(t))
	}
	table.Store(&t)
	return h
}

// Release removes the function of handle h; h may be reused.
func Release(h uint64) {
	mu.Lock()
	defer mu.Unlock()
	p := table.Load()
	if p == nil || h == 0 || h > uint64(len(*p)) || (*p)[h-1] == nil {
		return
	}
	t := append([]func(int64) int64(nil), *p...)
	t[h-1] = nil
	table.Store(&t)
	free = append(free, h)
}

// Call calls the function of handle h with v. An unknown handle (a plugin
// calling back with a handle it was not given) returns 0 and counts in
// Misses: a callback from a plugin has no way to return an error.
func Call(h uint64, v int64) int64 {
	if p := table.Load(); p != nil && h-1 < uint64(len(*p)) {
		if fn := (*p)[h-1]; fn != nil {
			return fn(v)
		}
	}
	misses.Add(1)
	return 0
}

var misses atomic.Int64

// Misses is the number of calls with an unknown handle so far.
func Misses() int64 { return misses.Load() }
