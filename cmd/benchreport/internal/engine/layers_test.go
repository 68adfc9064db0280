package engine

import (
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/layercheck"
)

// TestEngineKnowsNoLayer checks the layering: the engine's source
// (not its tests) imports no package of this module, and no
// identifier, string or comment of it names a concept of plugbench.
func TestEngineKnowsNoLayer(t *testing.T) {
	layercheck.KnowsNoLayer(t, ".", "the engine")
}
