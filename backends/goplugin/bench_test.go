package goplugin

import (
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/static"
)

var sink32 int32

// BenchmarkCall compares the cheapest call, min, through the contract
// (backends.Plugin) with the static backend's.
func BenchmarkCall(b *testing.B) {
	_, gp := load(b)
	for _, c := range []struct {
		backend string
		p       backends.Plugin
	}{{static.Name, static.NewPlugin(nil)}, {Name, gp}} {
		b.Run("op=min/backend="+c.backend, func(b *testing.B) {
			p := c.p
			var r int32
			for i := 0; b.Loop(); i++ {
				v, err := p.Min(int32(i), 7)
				if err != nil {
					b.Fatal(err)
				}
				r += v
			}
			sink32 = r
		})
	}
}

// minRecover is Plugin.Min with a deferred recover, turning a panic into
// an error: what the backend would pay on every call to keep the host alive
// through a plugin's panic (the package doc says why it does not).
func (p *Plugin) minRecover(a, b int32) (_ int32, err error) {
	if p.g == nil {
		return 0, backends.Closed(Name, "Min")
	}
	defer recoverPanic(&err)
	return p.g.Min(a, b), nil
}

// BenchmarkCrossing compares the ways a host can call a plugin's min: the
// exported function through its func value, the instance's method through
// the host's Guest interface, and the backend's Plugin.Min (a closed check
// around the method) without and with a deferred recover.
func BenchmarkCrossing(b *testing.B) {
	mod, p := load(b)
	fn, g := mod.(*module).minFn, p.g
	for _, via := range []string{"func", "method", "plugin", "plugin-recover"} {
		b.Run("via="+via, func(b *testing.B) {
			var r int32
			switch via {
			case "func":
				for i := 0; b.Loop(); i++ {
					r += fn(int32(i), 7)
				}
			case "method":
				for i := 0; b.Loop(); i++ {
					r += g.Min(int32(i), 7)
				}
			case "plugin-recover":
				for i := 0; b.Loop(); i++ {
					v, _ := p.minRecover(int32(i), 7)
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

// BenchmarkEvent is one round trip of the typical event (Encode, Call,
// Decode) through each transport, beside the static backend's value
// transport.
func BenchmarkEvent(b *testing.B) {
	_, gp := load(b)
	in, err := event.Shape("typical")
	if err != nil {
		b.Fatal(err)
	}
	rows := []struct {
		backend string
		t       event.Transport
		p       backends.EventPlugin
	}{{static.Name, event.Value, static.NewPlugin(nil)}}
	for _, t := range gp.Transports() {
		rows = append(rows, struct {
			backend string
			t       event.Transport
			p       backends.EventPlugin
		}{Name, t, gp})
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
