package ab

import (
	"testing"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/layercheck"
)

// TestABKnowsNoLayer checks that the runner is general: its source
// imports no package of this module and names no concept of plugbench.
func TestABKnowsNoLayer(t *testing.T) {
	layercheck.KnowsNoLayer(t, ".", "package ab")
}
