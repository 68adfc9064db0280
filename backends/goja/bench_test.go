package goja

import (
	"context"
	"testing"

	"github.com/plugbench/plugbench/backends/backendstest"
)

var sinkI32 int32

// minCall returns the guest's min called through the backend (impl
// "backend") or bare (impl "bare"): the suite's reference row RefImpl,
// goja's Callable of the guest's own min with nothing around it.
func minCall(tb testing.TB, impl string) func(a, b int32) (int32, error) {
	tb.Helper()
	be := backendstest.New(tb, New, Config{})
	if impl == "backend" {
		return backendstest.Open(tb, be, guest(tb)).Min
	}
	ctx := context.Background()
	mod, err := be.Load(ctx, guest(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	call, closeFn, err := mod.(*module).RefMin(ctx, RefImpl)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeFn)
	return call
}

// BenchmarkMin is the guest's min through the backend against the bare
// engine call: what the backend adds.
func BenchmarkMin(b *testing.B) {
	for _, impl := range []string{"backend", "bare"} {
		b.Run("impl="+impl, func(b *testing.B) {
			call := minCall(b, impl)
			b.ReportAllocs()
			var r int32
			for b.Loop() {
				r, _ = call(5, -9)
			}
			sinkI32 = r
		})
	}
}

// TestMinCall is BenchmarkMin's twin: both calls answer as static does.
func TestMinCall(t *testing.T) {
	for _, impl := range []string{"backend", "bare"} {
		if r, err := minCall(t, impl)(5, -9); r != -9 || err != nil {
			t.Errorf("%s: min(5, -9) = %d, %v", impl, r, err)
		}
	}
}
