package modbook

import (
	"errors"
	"testing"

	"github.com/plugbench/plugbench/backends"
)

func TestBook(t *testing.T) {
	b := &Book{Backend: "x", Path: "p.so"}
	if err := b.Reserve(); err != nil {
		t.Fatal(err)
	}
	unloads := 0
	unload := func() error { unloads++; return nil }
	err := b.Close(unload)
	var e *backends.Error
	if !errors.Is(err, backends.ErrInstancesOpen) || !errors.As(err, &e) || e.Backend != "x" || e.Path != "p.so" || unloads != 0 {
		t.Fatalf("Close with an instance open: %v (unloaded %d times)", err, unloads)
	}
	b.Release()
	if err := b.Close(unload); err != nil || unloads != 1 {
		t.Fatalf("Close: %v, unloaded %d times", err, unloads)
	}
	if err := b.Close(unload); err != nil || unloads != 1 {
		t.Fatalf("a second Close: %v, unloaded %d times", err, unloads)
	}
	if err := b.Reserve(); !errors.Is(err, ErrClosedModule) || err.Error() != "x: instantiate after close: p.so" {
		t.Fatalf("Reserve on a closed module: %v", err)
	}
	failing := &Book{Backend: "x", Path: "p.so"}
	if err := failing.Close(func() error { return errors.New("dlclose: no") }); err == nil || err.Error() != "x: dlclose: no: p.so" {
		t.Fatalf("a failed unload: %v", err)
	}
}
