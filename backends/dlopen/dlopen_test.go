package dlopen

import (
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/internal/cabi/cabitest"
	"github.com/plugbench/plugbench/fixtures"
)

func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: Backend(), Guests: map[string]string{"c": cabitest.Build(t, fixtures.SOName)}})
}

func TestLoadErrors(t *testing.T) { cabitest.LoadErrors(t, Backend(), IsMapped) }

func TestCloseUnmaps(t *testing.T) { cabitest.CloseUnmaps(t, Backend(), IsMapped) }
