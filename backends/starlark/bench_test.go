package starlark

import (
	"os"
	"testing"

	"go.starlark.net/starlark"

	"github.com/plugbench/plugbench/backends/backendstest"
)

var sinkI32 int32

// minCall returns the guest's min called through the backend (impl
// "backend") or bare: starlark.Call on the guest's own min with nothing
// around it, the engine's call from Go that the backend is built on.
func minCall(tb testing.TB, impl string) func(a, b int32) (int32, error) {
	tb.Helper()
	path := guest(tb)
	if impl == "backend" {
		return backendstest.Open(tb, backendstest.New(tb, New, Config{}), path).Min
	}
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	th := newThread("bare")
	globals, err := starlark.ExecFileOptions(fileOptions, th, path, src, nil)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := starlark.Call(th, globals[SymNew], starlark.Tuple{starlark.None}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	fn, _, _ := inst.(*starlark.Dict).Get(starlark.String("min"))
	return func(a, b int32) (int32, error) {
		v, err := starlark.Call(th, fn, starlark.Tuple{starlark.MakeInt64(int64(a)), starlark.MakeInt64(int64(b))}, nil)
		if err != nil {
			return 0, err
		}
		n, _ := v.(starlark.Int).Int64()
		return int32(n), nil
	}
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
