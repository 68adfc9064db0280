//go:build cgo

package cgo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/cabi/cabitest"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/fixtures"
)

// fixtureDir holds the healthy fixture, built once per test binary.
var fixtureDir string

var fixtureSO = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "plugbench-cgo-")
	if err != nil {
		return "", err
	}
	fixtureDir = dir
	out := filepath.Join(dir, fixtures.SOName)
	return out, fixtures.BuildSO(context.Background(), out)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// fixture returns the healthy fixture's path, skipping without a C
// compiler.
func fixture(tb testing.TB) string {
	tb.Helper()
	so, err := fixtureSO()
	if errors.Is(err, fixtures.ErrNoCompiler) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return so
}

// open loads the fixture with be and instantiates it with opts; both are
// closed at the end of the test.
func open(tb testing.TB, be backends.Backend, opts ...backends.Option) backends.Plugin {
	tb.Helper()
	ctx := context.Background()
	mod, err := be.Load(ctx, fixture(tb))
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

func TestLoadErrors(t *testing.T) { cabitest.LoadErrors(t, Backend(), IsMapped) }

func TestIdentity(t *testing.T) {
	so := fixture(t)
	ctx := context.Background()
	mod, err := Backend().Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if id := mod.Identity(); id.Backend != "dlopen" || id.Lang != "c" || mod.Path() != so {
		t.Errorf("identity %+v, path %s", id, mod.Path())
	}
	// The artifact's own identity, as the dlopen backend reads it.
	dmod, err := dlopen.Backend().Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer dmod.Close(ctx)
	if mod.Identity() != dmod.Identity() {
		t.Errorf("identity %+v, dlopen reads %+v", mod.Identity(), dmod.Identity())
	}
}

func TestCloseUnmaps(t *testing.T) { cabitest.CloseUnmaps(t, Backend(), IsMapped) }

// TestCalls checks every call against the static backend, bit for bit,
// with empty and nil payloads among them.
func TestCalls(t *testing.T) {
	p := open(t, Backend())
	ref := static.NewPlugin(nil)
	for _, c := range [][2]int32{{3, 4}, {0, 0}, {-1, 1}, {1, -1}, {math.MinInt32, math.MaxInt32}, {math.MaxInt32, math.MinInt32}} {
		got, err := p.Min(c[0], c[1])
		want, _ := ref.Min(c[0], c[1])
		if err != nil || got != want {
			t.Errorf("min(%d, %d) = %d, %v; want %d", c[0], c[1], got, err, want)
		}
	}
	for _, x := range []int64{7, 0, -1, math.MaxInt64, 1, math.MinInt64, math.MinInt64, -1, 42} {
		got, err := p.Accumulate(x)
		want, _ := ref.Accumulate(x)
		if err != nil || got != want {
			t.Errorf("accumulate(%d) = %d, %v; want %d", x, got, err, want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("aZ{`\x80"), 1<<18)
	for _, b := range [][]byte{nil, {}, {0}, {'a'}, {'z' + 1}, {'a' - 1}, []byte("Hello, World!"), all, big, all[3:3]} {
		got, err := p.Sum(b)
		want, _ := ref.Sum(b)
		if err != nil || got != want {
			t.Errorf("sum(%d bytes) = %d, %v; want %d", len(b), got, err, want)
		}
		g, w := slices.Clone(b), slices.Clone(b)
		if err := p.Upper(g); err != nil {
			t.Fatal(err)
		}
		ref.Upper(w)
		if !bytes.Equal(g, w) {
			t.Errorf("upper(%.20q) = %.20q, want %.20q", b, g, w)
		}
	}
}

// TestCallsOnStack passes payloads that live on the caller's stack: cgo
// must keep them in place (no copy) for the call.
func TestCallsOnStack(t *testing.T) {
	p := open(t, Backend()).(*Plugin)
	var a [64]byte
	copy(a[:], "mixed Case 123")
	if err := p.Upper(a[:14]); err != nil {
		t.Fatal(err)
	}
	if got := string(a[:14]); got != "MIXED CASE 123" {
		t.Errorf("upper in place: %q", got)
	}
	if s, _ := p.Sum(a[:3]); s != 'M'+'I'+'X' {
		t.Errorf("sum = %d", s)
	}
}

func TestCallback(t *testing.T) {
	p := open(t, Backend(), backends.WithEmit(func(v int64) int64 { return 3*v + 1 }))
	q := open(t, Backend(), backends.WithEmit(func(v int64) int64 { return -v }))
	ref := static.NewPlugin(func(v int64) int64 { return 3*v + 1 })
	for _, k := range []int32{0, 1, 7, 1000} {
		got, err := p.(backends.Caller).Callback(k)
		want, _ := ref.Callback(k)
		if err != nil || got != want {
			t.Errorf("callback(%d) = %d, %v; want %d", k, got, err, want)
		}
		// Each instance calls its own function.
		if got, _ := q.(backends.Caller).Callback(k); got != -int64(k)*int64(k-1)/2 {
			t.Errorf("the second instance: callback(%d) = %d", k, got)
		}
	}
	none := open(t, Backend())
	if _, err := none.(backends.Caller).Callback(3); !errors.Is(err, backends.ErrNoHost) {
		t.Errorf("callback without a host: %v, want ErrNoHost", err)
	}
}

// TestEvents runs every shape, and the edge cases, through every
// transport, against event.Process and against the dlopen backend's
// connection (the same answers and the same Moved).
func TestEvents(t *testing.T) {
	p := open(t, Backend()).(*Plugin)
	d := open(t, dlopen.Backend()).(backends.EventPlugin)
	if got, want := p.Transports(), d.Transports(); !slices.Equal(got, want) {
		t.Fatalf("transports %v, dlopen offers %v", got, want)
	}
	var inputs []*event.Event
	for _, s := range event.Shapes {
		e, err := event.Shape(s)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, e)
	}
	inputs = append(inputs,
		&event.Event{}, // nothing at all
		&event.Event{Tags: []string{"a", "drop"}},                                // dropped by a tag
		&event.Event{Fields: []event.Field{event.StringField("level", "debug")}}, // dropped by level
		&event.Event{Origin: strings.Repeat("o", event.MaxString), Fields: []event.Field{event.ListField("l"), event.IntField("count", -1), event.BoolField("b", true)}},
	)
	for _, tr := range p.Transports() {
		t.Run("transport="+string(tr), func(t *testing.T) {
			c, err := p.Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := d.Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			for i, in := range inputs {
				var got, want, dgot event.Event
				keep, err := backends.Process(c, in, &got)
				if err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				wkeep, _ := event.Process(in, &want)
				if keep != wkeep || keep && !event.Equal(&got, &want) {
					t.Errorf("input %d: keep %v, %+v; want %v, %+v", i, keep, got, wkeep, want)
				}
				if _, err := backends.Process(dc, in, &dgot); err != nil {
					t.Fatal(err)
				}
				if c.Moved() != dc.Moved() {
					t.Errorf("input %d: moved %d bytes, dlopen %d", i, c.Moved(), dc.Moved())
				}
			}
			// Beyond a limit: refused by Encode or by the plugin, never a crash.
			bad := []*event.Event{
				{Origin: strings.Repeat("x", event.MaxString+1)},
				{Tags: make([]string, event.MaxTags+1)},
				{Fields: []event.Field{event.FloatField("nan", math.NaN())}},
				{Fields: []event.Field{event.ListField("l", make([]int64, event.MaxList+1)...)}},
			}
			for i, in := range bad {
				var out event.Event
				if _, err := backends.Process(c, in, &out); err == nil {
					t.Errorf("bad input %d: no error", i)
				}
			}
		})
	}
	if _, err := p.Events(event.Value); !errors.Is(err, backends.ErrMissingExport) {
		t.Errorf("Events(value): %v, want ErrMissingExport", err)
	}
}

// TestViewTwoConnections checks that two view connections of one instance
// share its arena in turn, as the contract allows ("one connection at a
// time"), and that growing it keeps later round trips right.
func TestViewTwoConnections(t *testing.T) {
	p := open(t, Backend()).(*Plugin)
	small, _ := event.Shape("small")
	large, _ := event.Shape("large")
	a, _ := p.Events(event.View)
	b, _ := p.Events(event.View)
	for _, step := range []struct {
		c  backends.EventConn
		in *event.Event
	}{{a, small}, {b, large}, {a, large}, {b, small}} {
		var got, want event.Event
		if _, err := backends.Process(step.c, step.in, &got); err != nil {
			t.Fatal(err)
		}
		event.Process(step.in, &want)
		if !event.Equal(&got, &want) {
			t.Fatalf("%+v, want %+v", got, want)
		}
	}
}

// TestAllocs checks that calls allocate nothing, and that an event round
// trip allocates no more than the dlopen backend's.
func TestAllocs(t *testing.T) {
	p := open(t, Backend(), backends.WithEmit(func(v int64) int64 { return v }))
	buf := make([]byte, 4096)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"min", func() { p.Min(1, 2) }},
		{"accumulate", func() { p.Accumulate(1) }},
		{"sum", func() { p.Sum(buf) }},
		{"upper", func() { p.Upper(buf) }},
		{"callback", func() { p.(backends.Caller).Callback(16) }},
	} {
		if n := testing.AllocsPerRun(100, c.f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", c.name, n)
		}
	}
	d := open(t, dlopen.Backend())
	in, _ := event.Shape("typical")
	for _, tr := range p.(backends.EventPlugin).Transports() {
		allocs := func(pl backends.Plugin) float64 {
			c, err := pl.(backends.EventPlugin).Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			var out event.Event
			backends.Process(c, in, &out) // grow the buffers
			return testing.AllocsPerRun(100, func() { backends.Process(c, in, &out) })
		}
		if got, want := allocs(p), allocs(d); got > want {
			t.Errorf("transport %s: %v allocs per round trip, dlopen %v", tr, got, want)
		} else {
			t.Logf("transport %s: %v allocs per round trip, dlopen %v", tr, got, want)
		}
	}
}

// TestFaults checks the # Faults contract of package backends.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	mod, err := Backend().Load(ctx, fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if _, err := mod.Instantiate(ctx, backends.WithCallTimeout(time.Second)); !errors.Is(err, backends.ErrNoInterrupt) {
		t.Errorf("WithCallTimeout: %v, want ErrNoInterrupt", err)
	}
	p, err := mod.Instantiate(ctx, backends.WithEmit(func(v int64) int64 { return v }))
	if err != nil {
		t.Fatal(err)
	}
	ep := p.(backends.EventPlugin)
	in, _ := event.Shape("typical")
	var conns []backends.EventConn
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
	if err := mod.Close(ctx); err == nil {
		t.Fatal("module closed with an instance open")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	check := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, backends.ErrClosed) || !strings.HasPrefix(err.Error(), Name+": ") {
			t.Errorf("%s after Close: %v, want a cgo error matching ErrClosed", call, err)
		}
	}
	_, err = p.Min(1, 2)
	check("Min", err)
	_, err = p.Accumulate(1)
	check("Accumulate", err)
	_, err = p.Sum([]byte("abc"))
	check("Sum", err)
	check("Upper", p.Upper([]byte("abc")))
	_, err = p.(backends.Caller).Callback(3)
	check("Callback", err)
	_, err = ep.Events(event.JSON)
	check("Events", err)
	for i, c := range conns {
		_, err := c.Call()
		check(fmt.Sprintf("connection %d: Call", i), err)
		check(fmt.Sprintf("connection %d: Encode or Decode", i), errors.Join(c.Encode(in), c.Decode(new(event.Event))))
	}
	if err := mod.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// helperEnv names the startloop fixture TestHelperStuck loads in a child
// process.
const helperEnv = "PLUGBENCH_CGO_HELPER_STUCK"

// TestHelperStuck is not a test: TestLoadDeadline runs it in a child
// process, whose dynamic loader stays locked for good. It ends the process
// itself, with syscall.Exit: the exit handlers of os.Exit (the race
// detector's, under -race) may wait for the loader's lock forever.
func TestHelperStuck(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper of TestLoadDeadline, run in a child process with $" + helperEnv)
	}
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL: "+format+"\n", args...)
		syscall.Exit(1)
	}
	healthy := os.Getenv(helperEnv + "_OK")
	const d = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	_, err := Backend().Load(ctx, path)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, backends.ErrNoInterrupt) || backendstest.Stuck(took, d) {
		fail("Load returned in %v: %v; want DeadlineExceeded and ErrNoInterrupt", took, err)
	}
	fmt.Printf("stuck load, returned in %v (%v past the deadline): %v\n", took.Round(time.Millisecond), (took - d).Round(time.Millisecond), err)
	// Every later load is refused, whichever backend makes it, rather
	// than waiting for the loader's lock: it has no deadline to end it.
	for _, be := range []backends.Backend{Backend(), dlopen.Backend()} {
		start := time.Now()
		_, err := be.Load(context.Background(), healthy)
		took := time.Since(start)
		if !errors.Is(err, backends.ErrNoInterrupt) || backendstest.Stuck(took, 0) {
			fail("%s: later Load returned in %v: %v; want ErrNoInterrupt", be.Name(), took, err)
		}
		fmt.Printf("later %s load: %v (in %v)\n", be.Name(), err, took.Round(time.Microsecond))
	}
	syscall.Exit(0)
}

// TestLoadDeadline loads the startloop fault fixture, whose constructor
// never returns, in a child process: Load gives up at its deadline with
// ErrNoInterrupt, and refuses every later load (ErrNoInterrupt) rather
// than wait for the locked loader.
func TestLoadDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process that waits for a deadline")
	}
	stuck := filepath.Join(t.TempDir(), fixtures.FaultSOName("startloop"))
	if err := fixtures.BuildFaultSO(context.Background(), stuck, "startloop"); err != nil {
		if errors.Is(err, fixtures.ErrNoCompiler) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	// The child fails on its own a load backendstest.StuckAfter late; this
	// ends one whose load never returns at all.
	ctx, cancel := context.WithTimeout(context.Background(), 2*backendstest.StuckAfter)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStuck$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+stuck, helperEnv+"_OK="+fixture(t))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "later dlopen load: ") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}
