package yaegi

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/static"
)

var (
	sink32 int32
	sink64 uint64
)

// minNoRecover is Plugin.Min without the deferred recover: what the guard
// costs.
func (p *Plugin) minNoRecover(a, b int32) (int32, error) {
	if !p.open.Load() {
		return 0, backends.Closed(Name, "Min")
	}
	return p.ex.min(a, b), nil
}

// BenchmarkCrossing compares the ways a host can call the interpreted
// guest's min: the bare reference (refMin), the entry's func Min asserted
// to its Go type, the same through reflect.Value.Call, the instance's
// bound method (a field of what New returned), the backend's Plugin.Min
// with and without its deferred recover, and the static backend's.
func BenchmarkCrossing(b *testing.B) {
	mod, p := load(b)
	g := mod.(*module).g
	fn := g.min
	rv := reflect.ValueOf(fn)
	ref, closeRef, err := refMin(context.Background(), source(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer closeRef()
	st := static.NewPlugin(nil)
	for _, via := range []string{"static", "ref", "func", "reflect", "method", "plugin-norecover", "plugin"} {
		b.Run("via="+via, func(b *testing.B) {
			var r int32
			switch via {
			case "static":
				for i := 0; b.Loop(); i++ {
					v, _ := st.Min(int32(i), 7)
					r += v
				}
			case "ref":
				for i := 0; b.Loop(); i++ {
					v, _ := ref(int32(i), 7)
					r += v
				}
			case "func":
				for i := 0; b.Loop(); i++ {
					r += fn(int32(i), 7)
				}
			case "reflect":
				args := make([]reflect.Value, 2)
				for i := 0; b.Loop(); i++ {
					args[0], args[1] = reflect.ValueOf(int32(i)), reflect.ValueOf(int32(7))
					r += int32(rv.Call(args)[0].Int())
				}
			case "method":
				m := p.ex.min
				for i := 0; b.Loop(); i++ {
					r += m(int32(i), 7)
				}
			case "plugin-norecover":
				for i := 0; b.Loop(); i++ {
					v, _ := p.minNoRecover(int32(i), 7)
					r += v
				}
			case "plugin":
				for i := 0; b.Loop(); i++ {
					v, _ := p.Min(int32(i), 7)
					r += v
				}
			}
			sink32 = r
		})
	}
}

// BenchmarkCall: sum of 1 MiB and a callback of 1, static against yaegi,
// and a bounded instance's min (WithCallTimeout: a timer per call).
func BenchmarkCall(b *testing.B) {
	mod, p := load(b)
	bounded, err := mod.Instantiate(context.Background(), backends.WithCallTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer bounded.Close(context.Background())
	mib := make([]byte, 1<<20)
	for i := range mib {
		mib[i] = byte(i)
	}
	for _, c := range []struct {
		backend string
		p       backends.Plugin
	}{{static.Name, static.NewPlugin(emit)}, {Name, p}} {
		b.Run("op=sum-1MiB/backend="+c.backend, func(b *testing.B) {
			b.SetBytes(1 << 20)
			for b.Loop() {
				v, err := c.p.Sum(mib)
				if err != nil {
					b.Fatal(err)
				}
				sink64 += v
			}
		})
		b.Run("op=callback-1/backend="+c.backend, func(b *testing.B) {
			cl := c.p.(backends.Caller)
			for b.Loop() {
				v, err := cl.Callback(1)
				if err != nil {
					b.Fatal(err)
				}
				sink64 += uint64(v)
			}
		})
	}
	b.Run("op=min-bounded/backend="+Name, func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			v, err := bounded.Min(int32(i), 7)
			if err != nil {
				b.Fatal(err)
			}
			sink32 += v
		}
	})
}

// BenchmarkEvent is one round trip of the typical event (Encode, Call,
// Decode) through each transport, beside the static backend's value
// transport.
func BenchmarkEvent(b *testing.B) {
	_, p := load(b)
	in, err := event.Shape("typical")
	if err != nil {
		b.Fatal(err)
	}
	type row struct {
		backend string
		t       event.Transport
		p       backends.EventPlugin
	}
	rows := []row{{static.Name, event.Value, static.NewPlugin(nil)}}
	for _, t := range p.Transports() {
		rows = append(rows, row{Name, t, p})
	}
	for _, r := range rows {
		b.Run("transport="+string(r.t)+"/backend="+r.backend, func(b *testing.B) {
			c, err := r.p.Events(r.t)
			if err != nil {
				b.Fatal(err)
			}
			var out event.Event
			for b.Loop() {
				if keep, err := backends.Process(c, in, &out); err != nil || !keep {
					b.Fatal(keep, err)
				}
			}
		})
	}
}

// BenchmarkLoad times Load (interpreting the guest and package event, and
// the warm-up) and Instantiate.
func BenchmarkLoad(b *testing.B) {
	path := source(b, "")
	ctx := context.Background()
	b.Run("op=load", func(b *testing.B) {
		for b.Loop() {
			m, err := backendstest.New(b, New, Config{}).Load(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
		}
	})
	b.Run("op=instantiate", func(b *testing.B) {
		m, err := backendstest.New(b, New, Config{}).Load(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			p, err := m.Instantiate(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
}
