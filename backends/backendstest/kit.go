package backendstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/static"
)

// Kit is what TestBackend needs to check a backend: the backend, and the
// artifacts of its guests.
type Kit struct {
	// Backend is the backend under test. TestBackend does not close it.
	Backend backends.Backend
	// Guests maps each guest's language ("c", "go", "rust") to the
	// artifact Backend loads. A guest whose artifact this machine cannot
	// build is left out by the caller, who says why with t.Log.
	Guests map[string]string
	// BuiltFor is the backend name the artifacts' identity must carry;
	// "" is Backend.Name().
	BuiltFor string
	// Transports, if not nil, is exactly what every guest's instances
	// must offer, in order.
	Transports []event.Transport
	// Payloads are more payloads for Sum and Upper, beyond BufferCases:
	// the sizes a backend handles in a way of its own (a 9 MiB payload
	// that an out-of-process backend sends in chunks).
	Payloads [][]byte
}

// The conformance table: edge inputs every backend must answer as the
// static plugin does.
var (
	MinCases = [][2]int32{
		{3, 4}, {0, 0}, {-1, 1}, {1, -1},
		{math.MinInt32, math.MaxInt32}, {math.MaxInt32, math.MinInt32},
		{math.MinInt32, math.MinInt32}, {math.MaxInt32, math.MaxInt32}, {math.MinInt32, 0},
	}
	// Accumulated in order on one instance: crosses int64's overflow both ways.
	AccumulateCases = []int64{7, 0, -1, math.MaxInt64, 1, math.MinInt64, math.MinInt64, -1, 42}
	// BufferCases are the payloads of Sum and Upper: empty ones, every
	// byte value, the bytes around a–z, and sizes across a page and a MiB.
	BufferCases = [][]byte{
		nil, {}, {0}, {'a'}, {'z' + 1}, {'a' - 1}, []byte("Hello, World!"),
		[]byte("odd"), []byte("\x80\xff\xc3\xa9abc\x00xyz"), allBytes(), Payload(4097), Payload(1<<20 + 1),
	}
	// CallbackCases are the counts of Callback.
	CallbackCases = []int32{0, 1, 7, 1000}
)

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// Payload returns n bytes that mix letters, their neighbours and
// non-ASCII bytes, the same for every caller.
func Payload(n int) []byte {
	return bytes.Repeat([]byte("aZ{`\x80q@[z\xff"), n/10+1)[:n]
}

// Answers checks that p answers every call on the given inputs exactly as
// the static plugin does; the accumulations run in order on p.
func Answers(t testing.TB, p backends.Plugin, mins [][2]int32, accs []int64, bufs [][]byte) {
	t.Helper()
	ref := static.NewPlugin(nil)
	for _, c := range mins {
		got, err := p.Min(c[0], c[1])
		want, _ := ref.Min(c[0], c[1])
		if err != nil || got != want {
			t.Errorf("min(%d, %d) = %d, %v; want %d", c[0], c[1], got, err, want)
		}
	}
	for _, x := range accs {
		got, err := p.Accumulate(x)
		want, _ := ref.Accumulate(x)
		if err != nil || got != want {
			t.Errorf("accumulate(%d) = %d, %v; want %d", x, got, err, want)
		}
	}
	for _, buf := range bufs {
		got, err := p.Sum(buf)
		want, _ := ref.Sum(buf)
		if err != nil || got != want {
			t.Errorf("sum of %d bytes = %d, %v; want %d", len(buf), got, err, want)
		}
		up, wantUp := bytes.Clone(buf), bytes.Clone(buf)
		ref.Upper(wantUp)
		if err := p.Upper(up); err != nil || !bytes.Equal(up, wantUp) {
			t.Errorf("upper of %d bytes (%.20q): err %v, equal to static's: %v", len(buf), buf, err, bytes.Equal(up, wantUp))
		}
	}
}

// TestBackend checks the whole contract of package backends on k's
// backend, each guest in turn, in subtests:
//
//   - identity: what Load reads of each artifact;
//   - answers: every call of the conformance table, against the static
//     plugin, bit for bit, and a new instance's state its own;
//   - callbacks: two instances calling back their own host functions, and
//     ErrNoHost without one;
//   - events: every shape, a batch, the edge cases and arbitrary events
//     through every transport, against event.Process; inputs beyond a
//     limit refused, never a crash; a transport not offered refused;
//   - closed: every call of a closed instance fails with ErrClosed, a
//     module with an instance open refuses to close with
//     ErrInstancesOpen, Close twice is harmless, and a closed module
//     makes no instance.
//
// Events and callbacks are capabilities a Plugin may lack
// (backends.EventPlugin, backends.Caller): their subtests then skip and
// say so. Load errors, faults and leaks depend on the mechanism: a
// backend's own tests check them (CheckLoadErrors helps).
func TestBackend(t *testing.T, k Kit) {
	t.Helper()
	if k.Backend == nil || len(k.Guests) == 0 {
		t.Fatal("backendstest: a Kit needs a Backend and at least one guest")
	}
	langs := make([]string, 0, len(k.Guests))
	for lang := range k.Guests {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		path := k.Guests[lang]
		t.Run("lang="+lang, func(t *testing.T) {
			t.Run("identity", func(t *testing.T) { checkIdentity(t, k, lang, path) })
			t.Run("answers", func(t *testing.T) {
				p := Open(t, k.Backend, path)
				Answers(t, p, MinCases, AccumulateCases, append(slices.Clip(BufferCases), k.Payloads...))
				q := Open(t, k.Backend, path)
				if got, err := q.Accumulate(3); err != nil || got != 3 {
					t.Errorf("a new instance's accumulate(3) = %d, %v; want 3: its own state", got, err)
				}
			})
			t.Run("callbacks", func(t *testing.T) { checkCallbacks(t, k.Backend, path) })
			t.Run("events", func(t *testing.T) { checkEvents(t, k, path) })
			t.Run("closed", func(t *testing.T) { Closed(t, k.Backend, path) })
		})
	}
}

// Open loads path with be and instantiates it with opts; both are closed
// at the end of the test, and the module's Close must succeed.
func Open(tb testing.TB, be backends.Backend, path string, opts ...backends.Option) backends.Plugin {
	tb.Helper()
	ctx := context.Background()
	mod, err := be.Load(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := mod.Instantiate(ctx, opts...)
	if err != nil {
		mod.Close(ctx)
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.Close(ctx)
		if err := mod.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return p
}

func checkIdentity(t *testing.T, k Kit, lang, path string) {
	ctx := context.Background()
	mod, err := k.Backend.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	builtFor := k.BuiltFor
	if builtFor == "" {
		builtFor = k.Backend.Name()
	}
	id := mod.Identity()
	if id.Lang != lang || id.Backend != builtFor || id.Toolchain == "" || mod.Path() != path {
		t.Errorf("identity %+v, path %s: want lang %s, backend %s, a toolchain, path %s", id, mod.Path(), lang, builtFor, path)
	}
	t.Log(id)
}

func checkCallbacks(t *testing.T, be backends.Backend, path string) {
	if _, ok := Open(t, be, path).(backends.Caller); !ok {
		t.Skipf("%s does not call back into the host: its Plugin does not implement backends.Caller", be.Name())
	}
	emit := func(v int64) int64 { return v*v - 1<<62 }
	p := Open(t, be, path, backends.WithEmit(emit)).(backends.Caller)
	q := Open(t, be, path, backends.WithEmit(func(v int64) int64 { return -v })).(backends.Caller)
	ref := static.NewPlugin(emit)
	for _, k := range CallbackCases {
		got, err := p.Callback(k)
		want, _ := ref.Callback(k)
		if err != nil || got != want {
			t.Errorf("callback(%d) = %d, %v; want %d", k, got, err, want)
		}
		if got, err := q.Callback(k); err != nil || got != -int64(k)*int64(k-1)/2 {
			t.Errorf("the second instance, with its own host function: callback(%d) = %d, %v; want %d", k, got, err, -int64(k)*int64(k-1)/2)
		}
	}
	none := Open(t, be, path).(backends.Caller)
	if _, err := none.Callback(3); !errors.Is(err, backends.ErrNoHost) {
		t.Errorf("callback without WithEmit: %v, want ErrNoHost", err)
	}
}

// Events returns the inputs the kit sends through every transport:
// every shape, a batch, events the rule drops, events at the limits, and
// n arbitrary events from a fixed seed.
func Events(n int) []*event.Event {
	var in []*event.Event
	for _, s := range event.Shapes {
		e, err := event.Shape(s)
		if err != nil {
			panic(err) // the package's own shapes
		}
		in = append(in, e)
	}
	batch := event.Batch(16)
	for i := range batch {
		in = append(in, &batch[i])
	}
	in = append(in,
		&event.Event{}, // nothing at all
		&event.Event{Tags: []string{"a", "drop"}},                                // dropped by a tag
		&event.Event{Fields: []event.Field{event.StringField("level", "debug")}}, // dropped by level
		&event.Event{Origin: strings.Repeat("\x01", event.MaxString), Fields: []event.Field{event.ListField("l"), event.IntField("count", -1), event.BoolField("b", true)}},
		&event.Event{ID: 3, Origin: "o", Fields: []event.Field{event.IntField("count", math.MaxInt64), event.BoolField("b", true), event.ListField("l", 1, -2, 3)}},
	)
	// Many short count fields: each output field outgrows its input, and
	// the output the first area a guest gives it.
	grow := &event.Event{ID: 1, Origin: "o"}
	for range 63 {
		grow.Fields = append(grow.Fields, event.IntField("count", 99))
	}
	in = append(in, grow)
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		data := make([]byte, rng.IntN(1500))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		in = append(in, event.Arbitrary(data))
	}
	return in
}

// overLimits are events beyond a limit of package event: Encode or the
// plugin refuses each.
func overLimits() []*event.Event {
	return []*event.Event{
		{Origin: strings.Repeat("x", event.MaxString+1)},
		{Tags: make([]string, event.MaxTags+1)},
		{Fields: []event.Field{event.FloatField("nan", math.NaN())}},
		{Fields: []event.Field{event.ListField("l", make([]int64, event.MaxList+1)...)}},
	}
}

func checkEvents(t *testing.T, k Kit, path string) {
	ep, ok := Open(t, k.Backend, path).(backends.EventPlugin)
	if !ok {
		t.Skipf("%s offers no events: its Plugin does not implement backends.EventPlugin", k.Backend.Name())
	}
	ts := ep.Transports()
	if len(ts) == 0 {
		t.Fatal("an EventPlugin offers no transport")
	}
	if k.Transports != nil && !slices.Equal(ts, k.Transports) {
		t.Errorf("transports %v, want %v", ts, k.Transports)
	}
	inputs := Events(100)
	for _, tr := range ts {
		t.Run("transport="+string(tr), func(t *testing.T) {
			c, err := ep.Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, in := range inputs {
				var got, want event.Event
				wkeep, werr := event.Process(in, &want)
				if werr != nil {
					continue // an arbitrary event the rule itself refuses
				}
				keep, err := backends.Process(c, in, &got)
				if err != nil || keep != wkeep || keep && !event.Equal(&got, &want) {
					if bad++; bad <= 3 {
						t.Errorf("input %d: keep %v, %v, %s; want keep %v", i, keep, err, event.Diff(&got, &want), wkeep)
					}
				}
				if err == nil && keep && tr != event.Value && c.Moved() <= 0 {
					t.Errorf("input %d: Moved() = %d across the boundary", i, c.Moved())
				}
			}
			for i, in := range overLimits() {
				var out event.Event
				if _, err := backends.Process(c, in, &out); err == nil {
					t.Errorf("input %d beyond a limit: no error", i)
				}
			}
			// The instance still answers.
			if r, err := ep.Min(1, 2); r != 1 || err != nil {
				t.Errorf("min after inputs beyond a limit: %d, %v", r, err)
			}
		})
	}
	for _, tr := range []event.Transport{event.Value, event.View, event.JSON, event.Binary, event.Flat} {
		if slices.Contains(ts, tr) {
			continue
		}
		if _, err := ep.Events(tr); !errors.Is(err, backends.ErrMissingExport) {
			t.Errorf("Events(%s), a transport not offered: %v, want ErrMissingExport", tr, err)
		}
	}
}

// Closed checks, on a new module of path loaded by be, that every call of
// a closed instance, and of its event connections, fails with an error
// that names the backend and matches backends.ErrClosed; that the module
// refuses to close while the instance is open (backends.ErrInstancesOpen);
// that Close twice is harmless; and that a closed module makes no
// instance.
func Closed(t *testing.T, be backends.Backend, path string) {
	t.Helper()
	ctx := context.Background()
	mod, err := be.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mod.Instantiate(ctx, backends.WithEmit(func(v int64) int64 { return v }))
	if err != nil {
		mod.Close(ctx)
		t.Fatal(err)
	}
	ep, events := p.(backends.EventPlugin)
	in, _ := event.Shape("typical")
	var conns []backends.EventConn // one per transport: each must refuse
	if events {
		for _, tr := range ep.Transports() {
			c, err := ep.Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Encode(in); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	if err := mod.Close(ctx); !errors.Is(err, backends.ErrInstancesOpen) {
		t.Errorf("module Close with an instance open: %v, want an error matching ErrInstancesOpen", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	check := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, backends.ErrClosed) || !strings.HasPrefix(err.Error(), be.Name()+": ") {
			t.Errorf("%s after Close: %v, want a %s error matching ErrClosed", call, err, be.Name())
		}
	}
	_, err = p.Min(1, 2)
	check("Min", err)
	_, err = p.Accumulate(1)
	check("Accumulate", err)
	_, err = p.Sum([]byte("abc"))
	check("Sum", err)
	check("Upper", p.Upper([]byte("abc")))
	if c, ok := p.(backends.Caller); ok {
		_, err = c.Callback(3)
		check("Callback", err)
	}
	if events {
		_, err = ep.Events(ep.Transports()[0])
		check("Events", err)
	}
	for i, c := range conns {
		_, err := c.Call()
		check(fmt.Sprintf("connection %d: Call", i), err)
		check(fmt.Sprintf("connection %d: Encode", i), c.Encode(in))
		check(fmt.Sprintf("connection %d: Decode", i), c.Decode(new(event.Event)))
	}
	if err := mod.Close(ctx); err != nil {
		t.Fatalf("module Close after its instance's: %v", err)
	}
	if err := mod.Close(ctx); err != nil {
		t.Fatalf("a second module Close: %v", err)
	}
	if p, err := mod.Instantiate(ctx); err == nil {
		p.Close(ctx)
		t.Error("Instantiate on a closed module succeeded")
	}
}
