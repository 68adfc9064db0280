// Package ipctest holds the tests that the two out-of-process backends
// (subprocess and shm) share: they load the same executables and keep the
// same contract, faults and leaks included.
package ipctest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/internal/ipc"
	"github.com/plugbench/plugbench/fixtures"
)

// Cycles is the leak test's count of load/instantiate/close cycles.
var Cycles = flag.Int("ipc.cycles", 1000, "load/instantiate/close cycles of the leak test")

var (
	prebuilds sync.WaitGroup // Main's background builds
	dir       string
	dirOnce   sync.Once
	builds    sync.Map // name → *build
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests and removes the executables they built. It starts
// every build at once, in the background: the tests wait for those they
// need.
func Main(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		for _, f := range []func(testing.TB) string{C, Go, v2, wrongBackend} {
			prebuilds.Go(func() { f(nopTB{}) })
		}
		prebuilds.Go(func() { Fault(nopTB{}, "segv") })
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// get builds the executable name with f once per test binary, skipping
// without a C compiler.
func get(tb testing.TB, name string, f func(ctx context.Context, out string) error) string {
	tb.Helper()
	dirOnce.Do(func() {
		var err error
		if dir, err = os.MkdirTemp("", "plugbench-ipc-"); err != nil {
			panic(err)
		}
	})
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(dir, name)
		b.err = f(context.Background(), b.path)
	})
	if errors.Is(b.err, fixtures.ErrNoCompiler) {
		tb.Skip(b.err)
	}
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// C returns the C guest's executable.
func C(tb testing.TB) string {
	return get(tb, fixtures.ServeCName, func(ctx context.Context, out string) error { return fixtures.BuildServeC(ctx, out) })
}

// Go returns the Go guest's executable.
func Go(tb testing.TB) string { return get(tb, fixtures.ServeGoName, fixtures.BuildServeGo) }

// Fault returns the C fault fixture named fault as an executable. The
// first call builds them all at once.
func Fault(tb testing.TB, fault string) string {
	faultsOnce.Do(func() {
		var wg sync.WaitGroup
		for _, f := range fixtures.Faults {
			wg.Go(func() { buildFault(nopTB{tb}, f) })
		}
		wg.Wait()
	})
	return buildFault(tb, fault)
}

func buildFault(tb testing.TB, fault string) string {
	return get(tb, fixtures.ServeCFaultName(fault), func(ctx context.Context, out string) error {
		return fixtures.BuildServeCFault(ctx, out, fault)
	})
}

var faultsOnce sync.Once

// nopTB builds without failing or skipping: the caller's own get reports
// the error.
type nopTB struct{ testing.TB }

func (nopTB) Helper()               {}
func (nopTB) Skip(...any)           {}
func (nopTB) Fatal(...any)          {}
func (nopTB) Fatalf(string, ...any) {}
func (nopTB) Errorf(string, ...any) {}
func (nopTB) Error(...any)          {}

// v2 is the C guest's executable exporting ABI version 2.
func v2(tb testing.TB) string {
	return get(tb, "v2", func(ctx context.Context, out string) error {
		return fixtures.BuildServeC(ctx, out, "-DPLUGBENCH_ABI_OVERRIDE=2")
	})
}

// wrongBackend is the C guest's executable built for the dlopen backend.
func wrongBackend(tb testing.TB) string {
	return get(tb, "wrong", func(ctx context.Context, out string) error {
		return fixtures.BuildServeC(ctx, out, "-UPLUGBENCH_BACKEND", `-DPLUGBENCH_BACKEND="dlopen"`)
	})
}

// Guests lists the guests' executables by language.
func Guests(tb testing.TB) map[string]string { return map[string]string{"c": C(tb), "go": Go(tb)} }

// LoadErrors checks that be refuses a missing file, a directory, a file
// that is not executable, one the kernel cannot run, an executable that
// exits at once, one that echoes (a wrong handshake), one of another ABI
// version and one built for another backend.
func LoadErrors(t *testing.T, be backends.Backend) {
	d := t.TempDir()
	text := filepath.Join(d, "text")
	os.WriteFile(text, []byte("not an executable"), 0o644)
	textX := filepath.Join(d, "textx")
	os.WriteFile(textX, []byte("\x00\x01not an executable"), 0o755)
	exits := filepath.Join(d, "exits")
	os.WriteFile(exits, []byte("#!/bin/sh\nexit 3\n"), 0o755)
	echo := filepath.Join(d, "echo")
	os.WriteFile(echo, []byte("#!/bin/sh\nexec cat\n"), 0o755)
	v2, wrong := v2(t), wrongBackend(t)
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(d, "nope"), Is: fs.ErrNotExist, Text: "nope"},
		{Name: "directory", Path: d, Is: backends.ErrFormat, Text: "a directory"},
		{Name: "not executable", Path: text, Is: fs.ErrPermission, Text: "not executable"},
		{Name: "exec format", Path: textX, Is: backends.ErrFormat, Text: "exec format error"},
		{Name: "exits at once", Path: exits, Is: ipc.ErrExited, Text: "ended before its handshake: plugin process exited: exit status 3"},
		// On the pipe cat echoes the hello back: a wrong handshake. With -shm
		// it has nothing to echo and ends: not an artifact either.
		{Name: "echoes its input", Path: echo, Is: backends.ErrFormat, Text: "not a plugin artifact: "},
		{Name: "abi version", Path: v2, Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: wrong, Is: backends.ErrIdentity, Text: `built for backend "dlopen"`},
	}
	before := fds(t)
	backendstest.CheckLoadErrors(t, be, cases, nil)
	if after := fds(t); after != before {
		t.Errorf("%d file descriptors open after the failed loads, %d before", after, before)
	}
	checkChildren(t)
}

// Backend checks the contract with backendstest's kit, on both guests,
// with a 9 MiB payload (more than one chunk) beside the kit's own.
func Backend(t *testing.T, be backends.Backend) {
	backendstest.TestBackend(t, backendstest.Kit{
		Backend:    be,
		Guests:     Guests(t),
		BuiltFor:   "subprocess",
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
		Payloads:   [][]byte{bytes.Repeat([]byte("xY"), 9<<19)},
	})
}

// Faults checks each C fault fixture: the call fails with an error naming
// how the plugin died, the instance is closed, and the module makes new
// instances; a loop is stopped at WithCallTimeout; a start that never
// returns is bounded by Load's context; a dead plugin is noticed at the
// next call. How late each returns is logged; only one that never returns
// (backendstest.StuckAfter late) fails.
func Faults(t *testing.T, be backends.Backend) {
	backendstest.ProcessFaults(t, backendstest.Processes{
		Backend: be, Healthy: C(t), Fault: Fault, Exited: ipc.ErrExited,
		Cases: []backendstest.ProcessFault{
			{Fault: "segv", Is: ipc.ErrExited, Text: []string{"killed by SIGSEGV (segmentation fault)"}},
			{Fault: "abort", Is: ipc.ErrExited, Text: []string{"killed by SIGABRT (aborted)"}},
			{Fault: "bomb", Is: backends.ErrMemoryLimit, Text: []string{"killed by SIGABRT (aborted)"}},
			{Fault: "loop", Is: context.DeadlineExceeded, Text: []string{"ran past its 100ms timeout"}, Timeout: 100 * time.Millisecond},
		},
	})
	checkChildren(t)
}

// Parallel uses two instances from two goroutines (run it with -race).
func Parallel(t *testing.T, be backends.Backend) { backendstest.Parallel(t, be, C(t), 2, 2000) }

// Leaks runs Cycles load/instantiate/close cycles of each guest and
// checks that no process is left (zombie or not), no file descriptor, no
// file in /dev/shm.
func Leaks(t *testing.T, be backends.Backend) {
	c, g := C(t), Go(t)
	ctx := context.Background()
	cycle := func(path string) {
		mod, err := be.Load(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := p.Min(1, 2); r != 1 || err != nil {
			t.Fatalf("min: %d, %v", r, err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := mod.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cycle(c) // the first of everything (a reaper thread, the timer's goroutine) opens what it keeps
	fd0, shm0, g0 := fds(t), devShm(t), runtime.NumGoroutine()
	start := time.Now()
	n := *Cycles
	for i := range n {
		path := c
		if i%10 == 9 {
			path = g // one cycle in ten with the Go guest
		}
		cycle(path)
	}
	took := time.Since(start)
	t.Logf("%d cycles in %v: %v per load/instantiate/close", n, took.Round(time.Millisecond), (took / time.Duration(max(n, 1))).Round(time.Microsecond))
	if fd1 := fds(t); fd1 != fd0 {
		t.Errorf("%d file descriptors open after %d cycles, %d before", fd1, n, fd0)
	}
	if shm1 := devShm(t); !slices.Equal(shm0, shm1) {
		t.Errorf("/dev/shm: %v after, %v before", shm1, shm0)
	}
	checkChildren(t)
	checkGoroutines(t, g0)
	// Killed mid-call: the same.
	for range 20 {
		p := backendstest.Open(t, be, Fault(t, "loop"))
		pid := p.(interface{ Pid() int }).Pid()
		go func() {
			time.Sleep(2 * time.Millisecond)
			syscall.Kill(pid, syscall.SIGKILL)
		}()
		if _, err := p.Min(1, 2); err == nil {
			t.Fatal("min of a killed plugin: no error")
		}
		p.Close(ctx)
	}
	if fd1 := fds(t); fd1 != fd0 {
		t.Errorf("%d file descriptors open after killing plugins mid-call, %d before", fd1, fd0)
	}
	checkChildren(t)
	checkGoroutines(t, g0)
}

// checkGoroutines fails if more than want goroutines still run after
// backendstest.StuckAfter (it returns as soon as they are back to want):
// each process's reaper must have ended with it.
func checkGoroutines(t testing.TB, want int) {
	t.Helper()
	if !backendstest.Eventually(func() bool { return runtime.NumGoroutine() <= want }) {
		t.Errorf("%d goroutines run, %d before the cycles", runtime.NumGoroutine(), want)
	}
}

// fds counts this process's open file descriptors, once no build holds
// pipes.
func fds(t testing.TB) int {
	prebuilds.Wait() // a build at work holds pipes
	return backendstest.FDs(t)
}

// devShm lists /dev/shm.
func devShm(t testing.TB) []string {
	ents, _ := os.ReadDir("/dev/shm")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkChildren fails if this process has a child, once no compiler
// (a child too) is at work.
func checkChildren(t testing.TB) {
	t.Helper()
	prebuilds.Wait()
	backendstest.CheckChildren(t)
}
