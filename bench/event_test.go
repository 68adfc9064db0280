package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// The event suite: structured events through every transport a target
// offers (BenchmarkEvent), a stream of them through one instance
// (BenchmarkPipeline), and host callbacks (BenchmarkCallback).
const (
	// callbacksPerOp is k, the host calls a BenchmarkCallback op makes.
	callbacksPerOp = 100
	// pipelineBatch is the number of events a BenchmarkPipeline op streams.
	pipelineBatch = 256
)

// forEventTargets runs f under backend=NAME/fixture=NAME for every target
// that offers transport tr, in Targets' order, an in-host target's row in
// a child process of its own (isolate). A target that offers no
// events at all (Target.NoEvents) has its row too, skipped by design with
// the reason, so that it does not vanish from the table.
func forEventTargets[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, tr event.Transport, f func(T, Target)) {
	offers := func(t Target) bool {
		for _, x := range t.Transports {
			if x == tr {
				return true
			}
		}
		return false
	}
	for i, t := range Targets {
		if i > 0 && Targets[i-1].Backend == t.Backend {
			continue
		}
		var these []Target
		for _, u := range Targets[i:] {
			if u.Backend != t.Backend {
				break
			}
			if offers(u) || u.NoEvents != "" {
				these = append(these, u)
			}
		}
		if len(these) == 0 {
			continue
		}
		tb.Run("backend="+t.Backend, func(tb T) {
			for _, u := range these {
				tb.Run("fixture="+u.Fixture, func(tb T) {
					if u.NoEvents != "" {
						skipByDesign(tb, "%s/%s offers no events: %s", u.Backend, u.Fixture, u.NoEvents)
					}
					// An in-host plugin's events run in a child of their own,
					// as its calls do (forTargetsIn): a crash costs the row.
					if u.Isolated() {
						if path, err := u.Path(fx); path == "" {
							skip(tb, "%s/%s: unavailable: %v", u.Backend, u.Fixture, err)
						}
						if isolate(tb) {
							return
						}
					}
					f(tb, u)
				})
				rowDone(tb, u)
			}
		})
	}
}

// eventConn opens t, makes an instance and returns its connection through
// transport tr. A benchmark's is its row's (rowInstance).
func eventConn(tb testing.TB, t Target, tr event.Transport) backends.EventConn {
	tb.Helper()
	_, mod := open(tb, t)
	b, ok := tb.(*testing.B)
	if !ok {
		return connOf(tb, instance(tb, mod), tr)
	}
	p, fresh := rowInstance(b, mod)
	if !*sharedFlag {
		return connOf(b, p, tr)
	}
	if fresh || held.conn == nil {
		held.conn = connOf(b, p, tr)
	}
	return held.conn
}

func connOf(tb testing.TB, p backends.Plugin, tr event.Transport) backends.EventConn {
	tb.Helper()
	ep, ok := p.(backends.EventPlugin)
	if !ok {
		tb.Fatalf("%T processes no events", p)
	}
	c, err := ep.Events(tr)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func shape(tb testing.TB, name string) *event.Event {
	tb.Helper()
	e, err := event.Shape(name)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// checkEvent runs one round trip of in through c and checks it against
// event.Process: the same keep decision and, when kept, the same event.
func checkEvent(tb testing.TB, c backends.EventConn, in *event.Event) {
	tb.Helper()
	var want, got event.Event
	wantKeep, wantErr := event.Process(in, &want)
	keep, err := backends.Process(c, in, &got)
	switch {
	case wantErr != nil:
		if err == nil {
			tb.Fatalf("processed an event static refuses (%v)", wantErr)
		}
	case err != nil:
		tb.Fatalf("process: %v", err)
	case keep != wantKeep:
		tb.Fatalf("keep = %v, static says %v", keep, wantKeep)
	case keep:
		if d := event.Diff(&want, &got); d != "" {
			tb.Fatalf("output differs from static's: %s", d)
		}
	}
}

// BenchmarkEvent measures one event's round trip through a plugin: encode
// (or describe) it, the plugin's process, decode the output. sec/op is the
// whole round trip; encode-ns/op, call-ns/op and decode-ns/op are the
// three phases timed apart after it, on the same instance and event;
// moved-B/op is what crossed the boundary (input and output).
func BenchmarkEvent(b *testing.B) {
	for _, tr := range event.Transports {
		b.Run("transport="+string(tr), func(b *testing.B) {
			for _, s := range event.Shapes {
				in := shape(b, s)
				b.Run("shape="+s, func(b *testing.B) {
					forEventTargets(b, tr, func(b *testing.B, t Target) { benchEvent(b, t, tr, in) })
				})
			}
		})
	}
}

func benchEvent(b *testing.B, t Target, tr event.Transport, in *event.Event) {
	c := eventConn(b, t, tr)
	checkEvent(b, c, in)
	var out event.Event
	b.ReportAllocs()
	for b.Loop() {
		if _, err := backends.Process(c, in, &out); err != nil {
			b.Fatal(err)
		}
	}
	// The phases, each in a loop of its own: timing them inside the loop
	// above would add two clock reads to every round trip.
	n := max(b.N/4, 1)
	start := time.Now()
	for range n {
		if err := c.Encode(in); err != nil {
			b.Fatal(err)
		}
	}
	encode := time.Since(start)
	start = time.Now()
	for range n {
		if _, err := c.Call(); err != nil {
			b.Fatal(err)
		}
	}
	call := time.Since(start)
	start = time.Now()
	for range n {
		if err := c.Decode(&out); err != nil {
			b.Fatal(err)
		}
	}
	decode := time.Since(start)
	b.ReportMetric(float64(encode.Nanoseconds())/float64(n), "encode-ns/op")
	b.ReportMetric(float64(call.Nanoseconds())/float64(n), "call-ns/op")
	b.ReportMetric(float64(decode.Nanoseconds())/float64(n), "decode-ns/op")
	b.ReportMetric(float64(c.Moved()), "moved-B/op")
}

// TestEvent is BenchmarkEvent's twin: every transport, shape and target,
// through the same setup, checked against static; the phases called apart
// and again give the same answer.
func TestEvent(t *testing.T) {
	for _, tr := range event.Transports {
		t.Run("transport="+string(tr), func(t *testing.T) {
			forEventTargets(t, tr, func(t *testing.T, tg Target) {
				c := eventConn(t, tg, tr)
				for _, s := range event.Shapes {
					in := shape(t, s)
					checkEvent(t, c, in)
					// As the phase loops run them: Call and Decode again (a
					// view is patched in place, so encode it again first).
					var want, got event.Event
					event.Process(in, &want)
					for range 3 {
						if tr == event.View {
							if err := c.Encode(in); err != nil {
								t.Fatal(err)
							}
						}
						if keep, err := c.Call(); !keep || err != nil {
							t.Fatalf("%s: call again: %v, %v", s, keep, err)
						}
					}
					if err := c.Decode(&got); err != nil {
						t.Fatal(err)
					}
					if d := event.Diff(&want, &got); d != "" {
						t.Fatalf("%s: after repeated calls: %s", s, d)
					}
					if tr != event.Value && c.Moved() == 0 {
						t.Errorf("%s: %s moved no bytes", s, tr)
					}
				}
			})
		})
	}
}

// TestEventTransports checks that each target offers exactly the
// transports it declares: a transport gone from a plugin fails here, not as
// a row silently missing from the report.
func TestEventTransports(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		_, mod := open(t, tg)
		ep, ok := instance(t, mod).(backends.EventPlugin)
		if tg.NoEvents != "" {
			if ok && len(ep.Transports()) > 0 {
				t.Fatalf("offers %v, yet the target says it offers no events (%s)", ep.Transports(), tg.NoEvents)
			}
			return
		}
		if !ok {
			t.Fatal("no events: the target lists transports, and says no NoEvents reason")
		}
		got := ep.Transports()
		if len(got) != len(tg.Transports) {
			t.Fatalf("offers %v, want %v", got, tg.Transports)
		}
		for i := range got {
			if got[i] != tg.Transports[i] {
				t.Fatalf("offers %v, want %v", got, tg.Transports)
			}
		}
		for _, tr := range event.Transports {
			if !contains(got, tr) {
				if _, err := ep.Events(tr); !errors.Is(err, backends.ErrMissingExport) {
					t.Errorf("Events(%s) on a plugin without it: %v", tr, err)
				}
			}
		}
	})
}

func contains[T comparable](s []T, x T) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// edgeEvents is the event conformance table.
func edgeEvents() map[string]*event.Event {
	maxed := &event.Event{ID: math.MaxUint64, Timestamp: math.MinInt64, Origin: strings.Repeat("o", event.MaxString)}
	for i := range event.MaxTags {
		maxed.Tags = append(maxed.Tags, strings.Repeat("t", i))
	}
	for i := range event.MaxFields - 1 {
		switch i % 5 {
		case 0:
			maxed.Fields = append(maxed.Fields, event.IntField("count", math.MaxInt64-int64(i)))
		case 1:
			maxed.Fields = append(maxed.Fields, event.FloatField("f", math.MaxFloat64))
		case 2:
			maxed.Fields = append(maxed.Fields, event.StringField(strings.Repeat("n", event.MaxString), strings.Repeat("\"", 700)))
		case 3:
			maxed.Fields = append(maxed.Fields, event.BoolField("b", true))
		case 4:
			l := make([]int64, event.MaxList)
			for j := range l {
				l[j] = math.MinInt64 + int64(j)
			}
			maxed.Fields = append(maxed.Fields, event.ListField("l", l...))
		}
	}
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	return map[string]*event.Event{
		"empty":       {},
		"maxed":       maxed,
		"every byte":  {Origin: string(all), Tags: []string{string(all[:32]), "\\\"/"}, Fields: []event.Field{event.StringField(string(all), string(all))}},
		"drop tag":    {Tags: []string{"prod", "drop"}, Fields: []event.Field{event.IntField("count", 1)}},
		"debug level": {Fields: []event.Field{event.StringField("level", "debug"), event.IntField("count", 1)}},
		"near drop": {Tags: []string{"dro", "dropp", "DROP"}, Fields: []event.Field{
			event.StringField("level", "debu"), event.StringField("levels", "debug"), event.IntField("level", 0),
			event.StringField("level", "debug\x00"), event.BoolField("level", true)}},
		"count kinds": {Fields: []event.Field{
			event.IntField("count", math.MaxInt64), event.StringField("count", "1"), event.FloatField("count", 1),
			event.ListField("count", 1, 2), event.IntField("count", -1), event.IntField("Count", 5), event.IntField("score", 9)}},
		"floats": {Fields: []event.Field{
			event.FloatField("z", math.Copysign(0, -1)), event.FloatField("d", math.SmallestNonzeroFloat64),
			event.FloatField("m", -math.MaxFloat64), event.FloatField("t", 0.1), event.FloatField("i", 1e21), event.FloatField("e", 123456789)}},
		"score wraps": {Fields: []event.Field{event.IntField("a", math.MaxInt64), event.BoolField("b", true),
			event.ListField("l", math.MinInt64, -1, math.MaxInt64), event.BoolField("f", false)}},
		"empty parts": {Tags: []string{"", ""}, Fields: []event.Field{event.StringField("", ""), event.ListField("")}},
		"64 fields":   {Fields: make([]event.Field, event.MaxFields)},
	}
}

// TestEventConformance runs the edge events through every target and
// transport, each answered exactly as static answers (or refused where
// static refuses), on one instance that also crosses a payload in between.
func TestEventConformance(t *testing.T) {
	edges := edgeEvents()
	for i := range edges["64 fields"].Fields {
		edges["64 fields"].Fields[i] = event.IntField("x", int64(i))
	}
	for _, tr := range event.Transports {
		t.Run("transport="+string(tr), func(t *testing.T) {
			forEventTargets(t, tr, func(t *testing.T, tg Target) {
				_, mod := open(t, tg)
				p := instance(t, mod)
				c := connOf(t, p, tr)
				for name, e := range edges {
					t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { checkEvent(t, c, e) })
					// A payload through the same instance may move the guest
					// buffer the events use.
					if _, err := p.Sum(payload(70_000)); err != nil {
						t.Fatal(err)
					}
				}
				for _, s := range event.Shapes {
					checkEvent(t, c, shape(t, s))
				}
			})
		})
	}
}

// FuzzEvents checks every target and transport against static on events
// built from random bytes (event.Arbitrary): any bytes in strings, any kind
// of field, the names and tags the process rule looks at, extreme values.
func FuzzEvents(f *testing.F) {
	for _, s := range []string{"", "\x03\x01\x02count\x00\x05", "\xff\xfe\x10drop\x01\x01\x03level\x03\x00"} {
		f.Add([]byte(s))
	}
	type conn struct {
		name string
		c    backends.EventConn
	}
	var conns []conn
	for _, tg := range Targets {
		if !fuzzingIsolated(f, tg) {
			continue
		}
		for _, tr := range tg.Transports {
			_, mod := open(f, tg)
			conns = append(conns, conn{tg.Backend + "/" + tg.Fixture + "/" + string(tr), connOf(f, instance(f, mod), tr)})
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := event.Arbitrary(data)
		for _, c := range conns {
			t.Run(c.name, func(t *testing.T) { checkEvent(t, c.c, e) })
		}
	})
}

// TestEventRandom is the fuzz target's deterministic cousin, run by every
// go test: 300 events from a seeded random source through every target and
// transport.
func TestEventRandom(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 30
	}
	r := rand.New(rand.NewPCG(1, 2))
	events := make([]*event.Event, n)
	for i := range events {
		data := make([]byte, r.IntN(1500))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		events[i] = event.Arbitrary(data)
	}
	for _, tr := range event.Transports {
		t.Run("transport="+string(tr), func(t *testing.T) {
			forEventTargets(t, tr, func(t *testing.T, tg Target) {
				c := eventConn(t, tg, tr)
				for _, e := range events {
					checkEvent(t, c, e)
				}
			})
		})
	}
}

// TestEventLimits checks that an event beyond the limits is refused, with
// an error, by every target and transport, and that the instance still
// answers afterwards.
func TestEventLimits(t *testing.T) {
	bad := map[string]*event.Event{
		"NaN":       {Fields: []event.Field{event.FloatField("x", math.NaN())}},
		"33 tags":   {Tags: make([]string, event.MaxTags+1)},
		"long name": {Fields: []event.Field{event.IntField(strings.Repeat("x", event.MaxString+1), 1)}},
		"long list": {Fields: []event.Field{event.ListField("l", make([]int64, event.MaxList+1)...)}},
		"kind 9":    {Fields: []event.Field{{Name: "k", Kind: 9}}},
		"65 fields": {Fields: make([]event.Field, event.MaxFields+1)},
	}
	for _, tr := range event.Transports {
		t.Run("transport="+string(tr), func(t *testing.T) {
			forEventTargets(t, tr, func(t *testing.T, tg Target) {
				c := eventConn(t, tg, tr)
				// First a good event, so that buffers are already there
				// when the bad ones come.
				checkEvent(t, c, shape(t, "large"))
				for name, e := range bad {
					if _, err := backends.Process(c, e, new(event.Event)); !errors.Is(err, event.ErrLimit) {
						t.Errorf("%s: %v, want an error matching event.ErrLimit", name, err)
					}
				}
				checkEvent(t, c, shape(t, "typical"))
			})
		})
	}
}

// BenchmarkPipeline streams a batch of events (event.Batch: the three
// shapes mixed, one in eight dropped) through one instance and reports
// events/s; sec/op is per batch.
func BenchmarkPipeline(b *testing.B) {
	batch := event.Batch(pipelineBatch)
	for _, tr := range event.Transports {
		b.Run("transport="+string(tr), func(b *testing.B) {
			forEventTargets(b, tr, func(b *testing.B, t Target) {
				c := eventConn(b, t, tr)
				// The whole batch is checked in the first sample of a row
				// (an interpreted guest's takes a tenth of a second or
				// more); later samples check their new instance with its
				// first events.
				if _, seen := batchChecked.LoadOrStore(b.Name(), true); seen {
					checkBatch(b, c, batch[:8])
				} else {
					checkBatch(b, c, batch)
				}
				var out event.Event
				b.ReportAllocs()
				for b.Loop() {
					for i := range batch {
						if _, err := backends.Process(c, &batch[i], &out); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}

// batchChecked holds the names of the pipeline rows whose whole batch
// was checked in this process.
var batchChecked sync.Map

func checkBatch(tb testing.TB, c backends.EventConn, batch []event.Event) {
	tb.Helper()
	for i := range batch {
		checkEvent(tb, c, &batch[i])
	}
}

// TestPipeline is BenchmarkPipeline's twin: the whole batch, event by
// event, against static, twice through the same connection.
func TestPipeline(t *testing.T) {
	batch := event.Batch(pipelineBatch)
	for _, tr := range event.Transports {
		t.Run("transport="+string(tr), func(t *testing.T) {
			forEventTargets(t, tr, func(t *testing.T, tg Target) {
				c := eventConn(t, tg, tr)
				checkBatch(t, c, batch)
				checkBatch(t, c, batch)
			})
		})
	}
}

// hostEmit is the host function of the callback op: it counts its calls
// and returns 3v+1, so the plugin's answer depends on every call's result.
type hostEmit struct{ calls int64 }

func (h *hostEmit) emit(v int64) int64 {
	h.calls++
	return 3*v + 1
}

// wantCallback is what Callback(k) returns with hostEmit.
func wantCallback(k int64) int64 { return 3*k*(k-1)/2 + k }

// callbackInstance makes an instance of t with a counting host function.
func callbackInstance(tb testing.TB, t Target) (backends.Caller, *hostEmit) {
	tb.Helper()
	if t.NoCallbacks != "" {
		skipByDesign(tb, "%s/%s calls no host function back: %s", t.Backend, t.Fixture, t.NoCallbacks)
	}
	_, mod := open(tb, t)
	h := new(hostEmit)
	c, ok := instance(tb, mod, backends.WithEmit(h.emit)).(backends.Caller)
	if !ok {
		tb.Fatalf("%s/%s: no callbacks", t.Backend, t.Fixture)
	}
	return c, h
}

// BenchmarkCallback measures a call in which the plugin calls the host back
// callbacksPerOp times; ns/callback is the time per callback (the one call
// into the plugin included, spread over them).
func BenchmarkCallback(b *testing.B) {
	forTargets(b, func(b *testing.B, t Target) {
		c, h := callbackInstance(b, t)
		if r, err := c.Callback(callbacksPerOp); err != nil || r != wantCallback(callbacksPerOp) || h.calls != callbacksPerOp {
			b.Fatalf("callback = %d, %v after %d host calls; want %d after %d", r, err, h.calls, wantCallback(callbacksPerOp), callbacksPerOp)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Callback(callbacksPerOp); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*callbacksPerOp), "ns/callback")
	})
}

// TestCallback is BenchmarkCallback's twin, and more: k = 0, 1 and 100;
// two instances of one module each reach their own host function; an
// instance made without one says so.
func TestCallback(t *testing.T) {
	forTargets(t, func(t *testing.T, tg Target) {
		c, h := callbackInstance(t, tg)
		for _, k := range []int32{0, 1, callbacksPerOp} {
			h.calls = 0
			if r, err := c.Callback(k); err != nil || r != wantCallback(int64(k)) || h.calls != int64(k) {
				t.Errorf("callback(%d) = %d, %v after %d host calls; want %d", k, r, err, h.calls, wantCallback(int64(k)))
			}
		}
		_, mod := open(t, tg)
		var n1, n2 int64
		p1 := instance(t, mod, backends.WithEmit(func(v int64) int64 { n1++; return v }))
		p2 := instance(t, mod, backends.WithEmit(func(v int64) int64 { n2++; return -v }))
		r1, err1 := p1.(backends.Caller).Callback(10)
		r2, err2 := p2.(backends.Caller).Callback(5)
		if err1 != nil || err2 != nil || r1 != 45 || r2 != -10 || n1 != 10 || n2 != 5 {
			t.Errorf("two instances: %d, %d (%v, %v) after %d, %d calls; want 45, -10 after 10, 5", r1, r2, err1, err2, n1, n2)
		}
		if _, err := instance(t, mod).(backends.Caller).Callback(1); !errors.Is(err, backends.ErrNoHost) {
			t.Errorf("without a host function: %v, want ErrNoHost", err)
		}
	})
}
