package knqyf263

import (
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
)

// BenchmarkMin is the guest's min through the backend against the
// framework's bare generated call (RefImpl, the suite's reference row):
// what the backend adds.
func BenchmarkMin(b *testing.B) {
	built(b)
	backendstest.BenchmarkMin(b, backendstest.New(b, New, Config{}), healthy, RefImpl)
}

// TestMinCall is BenchmarkMin's twin: both calls answer as static does.
func TestMinCall(t *testing.T) {
	built(t)
	backendstest.TestMin(t, backendstest.New(t, New, Config{}), healthy, RefImpl)
}
