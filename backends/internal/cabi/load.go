package cabi

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/abandon"
	"github.com/plugbench/plugbench/backends/internal/dynload"
	"github.com/plugbench/plugbench/backends/internal/elfcheck"
)

// Verify is what Open does with a file before the host's dynamic loader
// sees it: the backends' Config fields of the same names.
type Verify struct {
	// NoCheck skips elfcheck.Check: the loader sees the file as it is.
	NoCheck bool
	// Probe loads the file in a child process first (see Probe), bounded
	// by ProbeTimeout, and refuses it unless it loads there and its
	// identity names one of Accept.
	Probe        bool
	ProbeTimeout time.Duration
	Accept       []string
}

// Open does what both backends' Load do up to the library's handle: it
// refuses at once while an abandoned dlopen holds the loader, checks the
// file's headers (package elfcheck: a missing file matches fs.ErrNotExist,
// a file that is not a shared object for this host, or is cut short,
// ErrFormat) and, with v.Probe, probes it, then calls dlopen with the
// absolute path, bounded by ctx: at ctx's end it gives dlopen up (a
// constructor runs on, holding the loader's lock, and package dynload
// remembers it) and returns an error wrapping ctx.Err() and
// backends.ErrNoInterrupt. dlclose closes a handle dlopen returns too late.
func Open[H any](ctx context.Context, path string, v Verify, dlopen func(abs string) (H, error), dlclose func(H)) (string, H, error) {
	var zero H
	if p, ok := dynload.Stuck(); ok {
		return "", zero, fmt.Errorf("the dynamic loader is locked: a constructor of %s never returned: %w", p, backends.ErrNoInterrupt)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", zero, err
	}
	if !v.NoCheck {
		if err := elfcheck.Check(abs); err != nil {
			return "", zero, err
		}
	}
	if v.Probe {
		if _, err := ProbeIdentity(ctx, abs, v.ProbeTimeout, v.Accept...); err != nil {
			return "", zero, err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", zero, fmt.Errorf("dlopen not started: %w", err)
	}
	h, err := abandon.Wait(ctx, func() (H, error) { return dlopen(abs) }, dlclose)
	if err != nil && err == ctx.Err() { // given up on: the loader is still busy
		dynload.Abandon(abs)
		return "", zero, fmt.Errorf("dlopen did not return (a constructor still runs): %w: %w", err, backends.ErrNoInterrupt)
	}
	return abs, h, err
}

// ProbeIdentity probes the file at path (Probe) and checks what it
// exported there: its ABI version, and an identity naming one of accept.
func ProbeIdentity(ctx context.Context, path string, timeout time.Duration, accept ...string) (backends.Identity, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return backends.Identity{}, err
	}
	version, identity, err := Probe(ctx, abs, timeout)
	if err != nil {
		return backends.Identity{}, err
	}
	id, err := backends.CheckArtifact(version, identity, accept...)
	if err != nil {
		return id, fmt.Errorf("probe: %w", err)
	}
	return id, nil
}

// CheckInstantiate checks an instantiation of the library at path, with
// the exports t, by backend, under cfg: a native call cannot be stopped,
// and a host function needs the callback exports. The error is a *backends.Error.
func (t *Table) CheckInstantiate(backend, path string, cfg backends.InstanceConfig) error {
	if cfg.CallTimeout > 0 {
		return &backends.Error{Backend: backend, Path: path,
			Err: backends.NoInterruptWhy("a native call runs on the host's own thread and cannot be stopped")}
	}
	if cfg.Emit != nil && (t.SetHost == 0 || t.Callback == 0) {
		return &backends.Error{Backend: backend, Path: path, Symbol: SymSetHost,
			Err: fmt.Errorf("%w: a host function was given, the library takes none", backends.ErrMissingExport)}
	}
	return nil
}

// Transports lists the event transports of t: the view when view is true
// (the backend can give it an arena), then the encoded ones exported.
func (t *Table) Transports(view bool) []event.Transport {
	var ts []event.Transport
	if view {
		ts = append(ts, event.View)
	}
	for _, e := range []struct {
		t  event.Transport
		fn uintptr
	}{{event.JSON, t.EventJSON}, {event.Binary, t.EventBinary}, {event.Flat, t.EventFlat}} {
		if e.fn != 0 {
			ts = append(ts, e.t)
		}
	}
	return ts
}

// Encoded returns the export of the encoded transport tr and its name; 0
// when the library lacks it or tr is not an encoded transport.
func (t *Table) Encoded(tr event.Transport) (uintptr, string) {
	switch tr {
	case event.JSON:
		return t.EventJSON, SymEventJSON
	case event.Binary:
		return t.EventBinary, SymEventBinary
	case event.Flat:
		return t.EventFlat, SymEventFlat
	}
	return 0, ""
}
