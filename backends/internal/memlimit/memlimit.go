// Package memlimit caps a wasm guest's memory, for the backends on wazero
// (wasm, extism, knqyf263): a wazero memory allocator whose memories are
// Go slices, grown as wazero grows its own by default, that refuse to
// grow past a limit and remember they did, so that the call that failed
// can say why (backends.ErrMemoryLimit). A refused growth fails inside the
// guest, which traps or gives up in a way of its own.
package memlimit

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/plugbench/plugbench/backends"
)

// Limit is the allocator of one instance's memories (a guest's, and an
// Extism kernel's beside it): each may grow to Max bytes. Give it to
// wazero with experimental.WithMemoryAllocator on the context of the
// instantiation. It is for one instance, used from one goroutine at a
// time, as an instance is.
type Limit struct {
	Max     uint64 // bytes
	refused uint64 // size of the last growth refused, 0 if none
	size    uint64 // what the memories hold now
	// first is the instance's first memory, in place: a guest's one
	// memory costs no allocation of its own (the gate counts an
	// instantiation's allocations exactly).
	first memory
}

// Size is the bytes the instance's memories hold now.
func (l *Limit) Size() uint64 { return l.size }

// Allocate implements experimental.MemoryAllocator.
func (l *Limit) Allocate(_, _ uint64) experimental.LinearMemory {
	if l.first.l == nil {
		l.first.l = l
		return &l.first
	}
	return &memory{l: l}
}

// Refused reports whether a memory was refused a growth since the last
// Explain.
func (l *Limit) Refused() bool { return l.refused != 0 }

// Explain returns err wrapped with backends.ErrMemoryLimit, naming the
// growth refused and the limit, if a memory was refused a growth since the
// last Explain; else err. It forgets the refusal.
func (l *Limit) Explain(err error) error {
	if l.refused == 0 {
		return err
	}
	err = fmt.Errorf("%w: the guest asked for %d MiB of memory, its limit is %d MiB: %w",
		backends.ErrMemoryLimit, l.refused>>20, l.Max>>20, err)
	l.refused = 0
	return err
}

type memory struct {
	l   *Limit
	buf []byte
}

func (m *memory) Reallocate(size uint64) []byte {
	if size > m.l.Max {
		m.l.refused = size
		return nil
	}
	if n := int(size) - len(m.buf); n > 0 {
		m.buf = slices.Grow(m.buf, n)
	}
	m.l.size += size - uint64(len(m.buf))
	m.buf = m.buf[:size]
	return m.buf
}

func (m *memory) Free() {
	m.l.size -= uint64(len(m.buf))
	m.buf = nil
}
