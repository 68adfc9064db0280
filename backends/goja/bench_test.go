package goja

import (
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
)

// BenchmarkMin is the guest's min through the backend against the
// engine's bare call of it (RefImpl, the suite's reference row): what the
// backend adds.
func BenchmarkMin(b *testing.B) {
	backendstest.BenchmarkMin(b, backendstest.New(b, New, Config{}), guest(b), RefImpl)
}

// TestMinCall is BenchmarkMin's twin: both calls answer as static does.
func TestMinCall(t *testing.T) {
	backendstest.TestMin(t, backendstest.New(t, New, Config{}), guest(t), RefImpl)
}
