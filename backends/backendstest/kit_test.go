package backendstest_test

import (
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/static"
)

// TestKitWithoutCapabilities runs the kit on a backend whose plugins offer
// neither events nor callbacks (static's, hidden by Bare): it checks the
// rest of the contract and skips those, saying why.
func TestKitWithoutCapabilities(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: backendstest.Bare(backendstest.New(t, static.New, static.Config{})), Guests: map[string]string{"go": static.Path}})
}
