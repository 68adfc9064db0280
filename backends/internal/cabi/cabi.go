// Package cabi is the C ABI of plugbench.h (fixtures/c) as Go sees it,
// shared by the two backends that load the C-ABI shared object: dlopen
// (through purego) and cgo. It holds what does not depend on how a call
// crosses into C:
//
//   - the symbol table: the exports' names, which are required and which
//     optional, and the table of their addresses ([Table]);
//   - the view's struct layout (pb_bytes, pb_field, pb_event) and its
//     builder, which lays an event.Event out as those structs in an arena
//     of C memory and reads back what the plugin patched ([View]);
//   - the encoded transports' buffer protocol (json, binary, flat): the
//     input and output buffers, the output's growth on
//     PLUGBENCH_ESPACE, the checks of what the plugin returned, and the
//     decoding of its output ([Encoded]).
//
// Each backend keeps only its calling mechanism (purego.SyscallN, or a cgo
// call through shim.h), where the view's arena lives and how it grows, and
// its own checks of a closed instance.
package cabi

import (
	"fmt"

	"github.com/plugbench/plugbench/backends"
)

// The symbols of ABI version 1 (fixtures/c/plugbench.h).
const (
	SymVersion    = "plugbench_abi_version"
	SymIdentity   = "plugbench_identity"
	SymNew        = "plugbench_new"
	SymFree       = "plugbench_free"
	SymMin        = "plugbench_min"
	SymAccumulate = "plugbench_accumulate"
	SymSum        = "plugbench_sum"
	SymUpper      = "plugbench_upper"
)

// Optional symbols: events and callbacks (plugbench.h's second half). A
// library without them loads; its instances offer what it has.
const (
	SymBuffer      = "plugbench_buffer"
	SymEventJSON   = "plugbench_event_json"
	SymEventBinary = "plugbench_event_binary"
	SymEventFlat   = "plugbench_event_flat"
	SymEventView   = "plugbench_event_view"
	SymSetHost     = "plugbench_set_host"
	SymCallback    = "plugbench_callback"
)

// MaxIdentity bounds the identity string read from the plugin.
const MaxIdentity = 1024

// Table holds the addresses of a library's exports, as dlsym gave them.
type Table struct {
	Version, Identity, New, Free uintptr
	Min, Accumulate, Sum, Upper  uintptr

	// Optional: 0 when the library lacks them.
	Buffer, EventJSON, EventBinary, EventFlat, EventView uintptr
	SetHost, Callback                                    uintptr
}

// Resolve fills t with dlsym, which returns the address of a symbol or an
// error. A required symbol that is missing stops it: it returns the
// symbol's name and an error wrapping backends.ErrMissingExport and
// dlsym's. An optional one that is missing is left 0. plugbench_buffer is
// looked up only when buffer is true: only a view that lives in the
// plugin's memory needs it.
func (t *Table) Resolve(dlsym func(name string) (uintptr, error), buffer bool) (string, error) {
	for _, s := range []struct {
		name string
		p    *uintptr
	}{
		{SymVersion, &t.Version}, {SymIdentity, &t.Identity},
		{SymNew, &t.New}, {SymFree, &t.Free},
		{SymMin, &t.Min}, {SymAccumulate, &t.Accumulate},
		{SymSum, &t.Sum}, {SymUpper, &t.Upper},
	} {
		var err error
		if *s.p, err = dlsym(s.name); err != nil {
			return s.name, fmt.Errorf("%w: %w", backends.ErrMissingExport, err)
		}
	}
	if buffer {
		t.Buffer, _ = dlsym(SymBuffer) // 0 when absent
	}
	for _, s := range []struct {
		name string
		p    *uintptr
	}{
		{SymEventJSON, &t.EventJSON}, {SymEventBinary, &t.EventBinary},
		{SymEventFlat, &t.EventFlat}, {SymEventView, &t.EventView},
		{SymSetHost, &t.SetHost}, {SymCallback, &t.Callback},
	} {
		*s.p, _ = dlsym(s.name) // 0 when absent
	}
	return "", nil
}
