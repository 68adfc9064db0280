package extism

import (
	"context"
	"fmt"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/wasm"
)

// The benchmarks compare, in one run, the Extism backend with the raw
// wazero backend (backends/wasm) on the same C code: the ratio of their
// times is what the framework costs. extism-bounded is the Extism backend
// with Config.Interruptible, the price of WithCallTimeout; refMin is the
// bare SDK.

type target struct {
	name string
	new  func(ctx context.Context) (backends.Backend, error)
	path string
}

func targets(b *testing.B) []target {
	return []target{
		{"wasm", func(ctx context.Context) (backends.Backend, error) { return wasm.New(ctx, wasm.Config{}) }, plainWasm},
		{Name, func(ctx context.Context) (backends.Backend, error) { return New(ctx, Config{}) }, guest(b)},
		{NameBounded, func(ctx context.Context) (backends.Backend, error) { return New(ctx, Config{Interruptible: true}) }, guest(b)},
	}
}

func benchPlugin(b *testing.B, tg target) backends.Plugin {
	b.Helper()
	be, err := tg.new(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close(context.Background()) })
	p, err := load(b, be, tg.path).Instantiate(context.Background(), backends.WithEmit(func(v int64) int64 { return v }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func BenchmarkCall(b *testing.B) {
	mib := make([]byte, 1<<20)
	for i := range mib {
		mib[i] = byte(i)
	}
	ev, err := event.Shape("typical")
	if err != nil {
		b.Fatal(err)
	}
	for _, tg := range targets(b) {
		p := benchPlugin(b, tg)
		b.Run("op=min/backend="+tg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Min(1, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op=sum-1MiB/backend="+tg.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(mib)))
			for b.Loop() {
				if _, err := p.Sum(mib); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, k := range []int32{1, 16} {
			b.Run(fmt.Sprintf("op=callback-%d/backend=%s", k, tg.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.(backends.Caller).Callback(k); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		ep := p.(backends.EventPlugin)
		for _, tr := range []event.Transport{event.JSON, event.Binary, event.Flat} {
			c, err := ep.Events(tr)
			if err != nil {
				b.Fatal(err)
			}
			var out event.Event
			b.Run("op=event-typical/transport="+string(tr)+"/backend="+tg.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if keep, err := backends.Process(c, ev, &out); err != nil || !keep {
						b.Fatal(keep, err)
					}
				}
			})
		}
	}
	b.Run("op=min/backend=RefExtism", func(b *testing.B) {
		call, closeFn, err := refMin(context.Background(), guest(b))
		if err != nil {
			b.Fatal(err)
		}
		defer closeFn()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := call(1, 2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad times a Load with nothing cached (a new backend each time,
// so a new compilation cache), and Instantiate with its first call (min),
// the guest's state included.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	for _, tg := range targets(b)[:2] {
		b.Run("op=load/backend="+tg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be, err := tg.new(ctx)
				if err != nil {
					b.Fatal(err)
				}
				mod, err := be.Load(ctx, tg.path)
				if err != nil {
					b.Fatal(err)
				}
				mod.Close(ctx)
				be.Close(ctx)
			}
		})
		b.Run("op=instantiate/backend="+tg.name, func(b *testing.B) {
			be, err := tg.new(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close(ctx)
			mod := load(b, be, tg.path)
			b.ReportAllocs()
			for b.Loop() {
				p, err := mod.Instantiate(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Min(1, 2); err != nil {
					b.Fatal(err)
				}
				p.Close(ctx)
			}
		})
	}
}
