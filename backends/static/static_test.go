package static_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/static"
)

func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: backendstest.New(t, static.New, static.Config{}), Guests: map[string]string{"go": static.Path}})
}

func TestLoadErrors(t *testing.T) {
	if _, err := backendstest.New(t, static.New, static.Config{}).Load(context.Background(), "plugin.so"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(plugin.so) = %v, want fs.ErrNotExist", err)
	}
}
