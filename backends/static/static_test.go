package static

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

func TestLoad(t *testing.T) {
	ctx := context.Background()
	if _, err := Backend().Load(ctx, "plugin.so"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(plugin.so) = %v, want fs.ErrNotExist", err)
	}
	mod, err := Backend().Load(ctx, Path)
	if err != nil {
		t.Fatal(err)
	}
	if id := mod.Identity(); id.Backend != Name || id.Lang != "go" {
		t.Errorf("identity %+v", id)
	}
}
