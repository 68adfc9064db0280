package hashicorp

import (
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"

	"github.com/hashicorp/go-plugin"
)

// BenchmarkMin times the cheapest call, a round trip over each protocol.
func BenchmarkMin(b *testing.B) {
	built(b)
	for _, be := range []backends.Backend{backendstest.New(b, New, Config{Protocol: plugin.ProtocolGRPC}), backendstest.New(b, New, Config{Protocol: plugin.ProtocolNetRPC})} {
		b.Run("backend="+be.Name(), func(b *testing.B) {
			p := backendstest.Open(b, be, healthy)
			b.ReportAllocs()
			for b.Loop() {
				if r, err := p.Min(3, 4); r != 3 || err != nil {
					b.Fatal(r, err)
				}
			}
		})
	}
}
