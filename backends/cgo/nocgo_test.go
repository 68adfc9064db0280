//go:build !cgo

package cgo

import (
	"context"
	"errors"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
)

// TestUnavailable checks that a host without cgo still has the backend,
// and that its Load says why it cannot load.
func TestUnavailable(t *testing.T) {
	if Available {
		t.Fatal("Available in a build without cgo")
	}
	be := backendstest.New(t, New, Config{})
	if be.Name() != Name {
		t.Errorf("name %q", be.Name())
	}
	_, err := be.Load(context.Background(), "plugin.so")
	var e *backends.Error
	if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &e) || e.Backend != Name || e.Path != "plugin.so" {
		t.Fatalf("Load = %v, want a *backends.Error matching errors.ErrUnsupported", err)
	}
	const want = "cgo: this host was built with CGO_ENABLED=0; the cgo backend calls C through cgo (build with CGO_ENABLED=1 and a C compiler): plugin.so"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}
