package backendstest_test

import (
	"context"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/static"
)

// bare hides the optional capabilities of static's plugins: the kit skips
// events and callbacks, saying why, and checks the rest.
type bare struct{ backends.Backend }

type bareModule struct{ backends.Module }

func (b bare) Load(ctx context.Context, path string) (backends.Module, error) {
	m, err := b.Backend.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	return bareModule{m}, nil
}

func (m bareModule) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	p, err := m.Module.Instantiate(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return struct{ backends.Plugin }{p}, nil
}

// TestKitWithoutCapabilities runs the kit on a backend whose plugins offer
// neither events nor callbacks (static's, hidden): it checks the rest of
// the contract and skips those, saying why.
func TestKitWithoutCapabilities(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: bare{static.Backend()}, Guests: map[string]string{"go": static.Path}})
}
