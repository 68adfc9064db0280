//go:build cgo

package cgo

import (
	"context"
	"errors"
	"fmt"
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
	return backendstest.Open(tb, be, fixture(tb), opts...)
}

func TestLoadErrors(t *testing.T) {
	cabitest.LoadErrors(t, backendstest.New(t, New, Config{}), IsMapped)
}

// TestIdentity checks that cgo reads the artifact's identity as the dlopen
// backend does.
func TestIdentity(t *testing.T) {
	so := fixture(t)
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	dmod, err := backendstest.New(t, dlopen.New, dlopen.Config{}).Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer dmod.Close(ctx)
	if mod.Identity() != dmod.Identity() {
		t.Errorf("identity %+v, dlopen reads %+v", mod.Identity(), dmod.Identity())
	}
}

func TestCloseUnmaps(t *testing.T) {
	cabitest.CloseUnmaps(t, backendstest.New(t, New, Config{}), IsMapped)
}

// TestBackend checks the contract with backendstest's kit.
func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{Backend: backendstest.New(t, New, Config{}), Guests: map[string]string{"c": fixture(t)}, BuiltFor: dlopen.Name})
}

// TestCallsOnStack passes payloads that live on the caller's stack: cgo
// must keep them in place (no copy) for the call.
func TestCallsOnStack(t *testing.T) {
	p := open(t, backendstest.New(t, New, Config{})).(*Plugin)
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

// TestEventsLikeDlopen checks that cgo's connections answer as the dlopen
// backend's, moving the same bytes (backendstest's kit checks the answers
// themselves).
func TestEventsLikeDlopen(t *testing.T) {
	p := open(t, backendstest.New(t, New, Config{})).(*Plugin)
	d := open(t, backendstest.New(t, dlopen.New, dlopen.Config{})).(backends.EventPlugin)
	if got, want := p.Transports(), d.Transports(); !slices.Equal(got, want) {
		t.Fatalf("transports %v, dlopen offers %v", got, want)
	}
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
			for i, in := range backendstest.Events(20) {
				var got, dgot event.Event
				keep, err := backends.Process(c, in, &got)
				dkeep, derr := backends.Process(dc, in, &dgot)
				if err != nil || derr != nil || keep != dkeep || keep && !event.Equal(&got, &dgot) {
					t.Errorf("input %d: keep %v, %v, %s; dlopen: keep %v, %v", i, keep, err, event.Diff(&got, &dgot), dkeep, derr)
				}
				if c.Moved() != dc.Moved() {
					t.Errorf("input %d: moved %d bytes, dlopen %d", i, c.Moved(), dc.Moved())
				}
			}
		})
	}
}

// TestViewTwoConnections checks that two view connections of one instance
// share its arena in turn, as the contract allows ("one connection at a
// time"), and that growing it keeps later round trips right.
func TestViewTwoConnections(t *testing.T) {
	p := open(t, backendstest.New(t, New, Config{})).(*Plugin)
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
	p := open(t, backendstest.New(t, New, Config{}), backends.WithEmit(func(v int64) int64 { return v }))
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
	d := open(t, backendstest.New(t, dlopen.New, dlopen.Config{}))
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

// TestFaults checks the # Faults contract of package backends that cgo
// keeps by refusing: a call in the host's own thread cannot be bounded.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if _, err := mod.Instantiate(ctx, backends.WithCallTimeout(time.Second)); !errors.Is(err, backends.ErrNoInterrupt) {
		t.Errorf("WithCallTimeout: %v, want ErrNoInterrupt", err)
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
	_, err := backendstest.New(t, New, Config{}).Load(ctx, path)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, backends.ErrNoInterrupt) || backendstest.Stuck(took, d) {
		fail("Load returned in %v: %v; want DeadlineExceeded and ErrNoInterrupt", took, err)
	}
	fmt.Printf("stuck load, returned in %v (%v past the deadline): %v\n", took.Round(time.Millisecond), (took - d).Round(time.Millisecond), err)
	// Every later load is refused, whichever backend makes it, rather
	// than waiting for the loader's lock: it has no deadline to end it.
	for _, be := range []backends.Backend{backendstest.New(t, New, Config{}), backendstest.New(t, dlopen.New, dlopen.Config{})} {
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
	stuck := filepath.Join(t.TempDir(), fixtures.SOFaultName("startloop"))
	if err := fixtures.BuildSOFault(context.Background(), stuck, "startloop"); err != nil {
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

func TestNewRefusesANegativeProbeTimeout(t *testing.T) {
	if be, err := New(context.Background(), Config{ProbeTimeout: -time.Second}); err == nil || be != nil {
		t.Errorf("New with ProbeTimeout -1s: %v, %v", be, err)
	}
}
