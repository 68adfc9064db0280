package dlopen

import (
	"testing"

	"github.com/plugbench/plugbench/backends/internal/cabi/cabitest"
)

func TestLoadErrors(t *testing.T) { cabitest.LoadErrors(t, Backend(), IsMapped) }

func TestCloseUnmaps(t *testing.T) { cabitest.CloseUnmaps(t, Backend(), IsMapped) }
