//go:build !cgo

package wasmtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
)

// Without cgo the backend still builds, and says why it loads nothing.
func TestNoCgo(t *testing.T) {
	ctx := context.Background()
	be, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close(ctx)
	if Available || be.Name() != Name {
		t.Errorf("Available %v, Name %q", Available, be.Name())
	}
	_, err = be.Load(ctx, "x.wasm")
	var e *backends.Error
	if !errors.Is(err, ErrNoCgo) || !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &e) || e.Path != "x.wasm" ||
		!strings.Contains(err.Error(), "CGO_ENABLED=0; wasmtime-go links Wasmtime's C library through cgo") {
		t.Errorf("Load: %v", err)
	}
}
