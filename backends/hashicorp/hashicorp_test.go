package hashicorp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"

	"github.com/hashicorp/go-plugin"
)

// The executables, built once per test binary by TestMain into dir.
var (
	dir        string
	healthy    string            // fixtures.BuildHashicorp's
	faults     map[string]string // fault name → executable
	v2         string            // ABI version 2
	wrong      string            // identity naming the backend dlopen
	buildError error
)

func TestMain(m *testing.M) {
	var err error
	if dir, err = os.MkdirTemp("", "plugbench-hashicorp-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// go-plugin makes its socket folders in os.TempDir: a folder of this
	// process's own, so that TestLeaks counts only this process's (go test
	// ./... runs the bench package's go-plugin rows at the same time).
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", tmp)
	buildError = buildAll(context.Background())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds every executable at once.
func buildAll(ctx context.Context) error {
	healthy = filepath.Join(dir, fixtures.HashicorpName)
	v2 = filepath.Join(dir, "v2")
	wrong = filepath.Join(dir, "wrong")
	faults = map[string]string{}
	builds := []func() error{
		func() error { return fixtures.BuildHashicorp(ctx, healthy) },
		func() error { return buildWith(ctx, v2, "-X main.abi=2") },
		func() error { return buildWith(ctx, wrong, "-X main.backend=dlopen") },
	}
	for _, f := range fixtures.Faults {
		out := filepath.Join(dir, fixtures.HashicorpFaultName(f))
		faults[f] = out
		builds = append(builds, func() error { return fixtures.BuildHashicorpFault(ctx, out, f) })
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() { errs[i] = b() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// buildWith builds the executable with extra -ldflags (tests' wrong ones).
func buildWith(ctx context.Context, out, ldflags string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, fixtures.HashicorpPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	return nil
}

func built(tb testing.TB) {
	tb.Helper()
	if buildError != nil {
		tb.Fatal(buildError)
	}
}

// both runs f for each backend in a subtest.
func both(t *testing.T, f func(t *testing.T, be backends.Backend)) {
	built(t)
	for _, be := range []backends.Backend{backendstest.New(t, New, Config{Protocol: plugin.ProtocolGRPC}), backendstest.New(t, New, Config{Protocol: plugin.ProtocolNetRPC})} {
		t.Run(be.Name(), func(t *testing.T) { f(t, be) })
	}
}

func TestNames(t *testing.T) {
	if backendstest.New(t, New, Config{Protocol: plugin.ProtocolGRPC}).Name() != NameGRPC || backendstest.New(t, New, Config{Protocol: plugin.ProtocolNetRPC}).Name() != NameNetRPC {
		t.Errorf("names %q, %q", backendstest.New(t, New, Config{Protocol: plugin.ProtocolGRPC}).Name(), backendstest.New(t, New, Config{Protocol: plugin.ProtocolNetRPC}).Name())
	}
}

func TestLoadErrors(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		d := t.TempDir()
		text := filepath.Join(d, "text")
		os.WriteFile(text, []byte("not an executable"), 0o644)
		textX := filepath.Join(d, "textx")
		os.WriteFile(textX, []byte("\x00\x01not an executable"), 0o755)
		exits := filepath.Join(d, "exits")
		os.WriteFile(exits, []byte("#!/bin/sh\nexit 3\n"), 0o755)
		junk := filepath.Join(d, "junk")
		os.WriteFile(junk, []byte("#!/bin/sh\necho junk\nexec sleep 10\n"), 0o755)
		cases := []backendstest.LoadError{
			{Name: "missing file", Path: filepath.Join(d, "nope"), Is: fs.ErrNotExist, Text: "nope"},
			{Name: "directory", Path: d, Is: backends.ErrFormat, Text: "a directory"},
			{Name: "not executable", Path: text, Is: fs.ErrPermission, Text: "not executable"},
			{Name: "exec format", Path: textX, Is: backends.ErrFormat, Text: "exec format error"},
			{Name: "true", Path: "/bin/true", Is: ErrExited, Text: "ended before its handshake: plugin process exited: exit status 0"},
			{Name: "exits at once", Path: exits, Is: ErrExited, Text: "ended before its handshake: plugin process exited: exit status 3"},
			{Name: "prints junk", Path: junk, Is: backends.ErrFormat, Text: "wrong handshake: Unrecognized remote plugin message: junk"},
			{Name: "abi version", Path: v2, Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
			{Name: "wrong backend", Path: wrong, Is: backends.ErrIdentity, Text: `built for backend "dlopen"`},
		}
		r := snapshot(t)
		start := time.Now()
		backendstest.CheckLoadErrors(t, be, cases, nil)
		t.Logf("%d failed loads in %v", len(cases), time.Since(start).Round(time.Millisecond))
		r.check(t)
	})
}

// TestBackend checks the contract with backendstest's kit, on both
// protocols, with a 9 MiB payload beside the kit's own (gRPC's messages
// have a size limit of their own).
func TestBackend(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		backendstest.TestBackend(t, backendstest.Kit{
			Backend:    be,
			Guests:     map[string]string{"go": healthy},
			BuiltFor:   BuiltFor,
			Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
			Payloads:   [][]byte{bytes.Repeat([]byte("xY"), 9<<19)},
		})
	})
}

// TestToolchain checks that the plugin names the Go that built it.
func TestToolchain(t *testing.T) {
	built(t)
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{Protocol: plugin.ProtocolGRPC}).Load(ctx, healthy)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if id := mod.Identity(); id.Toolchain != runtime.Version() {
		t.Errorf("toolchain %q, want %q", id.Toolchain, runtime.Version())
	}
}

// TestMalformed sends malformed bytes, as the plugin gets them: it says
// EventMalformed, and the instance still answers.
func TestMalformed(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		p := backendstest.Open(t, be, healthy).(backends.EventPlugin)
		for _, tr := range p.Transports() {
			c, err := p.Events(tr)
			if err != nil {
				t.Fatal(err)
			}
			ec := c.(*eventConn)
			ec.In = append(ec.In[:0], "\xff\xfe not an event"...)
			if _, err := c.Call(); !errors.Is(err, event.ErrMalformed) {
				t.Errorf("%s: malformed input: %v, want ErrMalformed", tr, err)
			}
			if r, err := p.Min(1, 2); r != 1 || err != nil {
				t.Errorf("%s: min after malformed input: %d, %v", tr, r, err)
			}
		}
	})
}

// TestFaults checks each fault fixture: the call fails with an error
// naming how the plugin died, the instance is closed, and the module makes
// new instances; a loop is stopped at WithCallTimeout; a start that never
// returns is bounded by Load's context; a dead plugin is noticed at the
// next call. How late each returns is logged; only one that never returns
// (backendstest.StuckAfter late) fails.
func TestFaults(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		r := snapshot(t)
		backendstest.ProcessFaults(t, backendstest.Processes{
			Backend: be, Healthy: healthy, Exited: ErrExited, Reaped: true,
			Fault: func(_ testing.TB, fault string) string { return faults[fault] },
			Cases: []backendstest.ProcessFault{
				{Fault: "segv", Is: ErrExited, Text: []string{"exit status 2 (panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation])"}},
				{Fault: "abort", Is: ErrExited, Text: []string{"killed by SIGABRT (aborted)"}},
				// The Go runtime says "out of memory" or "runtime: out of
				// memory", as the allocation that fails is its own or the
				// system's: either.
				{Fault: "bomb", Is: backends.ErrMemoryLimit, Text: []string{"exit status 2 (fatal error: ", "out of memory"}},
				{Fault: "loop", Is: context.DeadlineExceeded, Text: []string{"ran past its 100ms timeout"}, Timeout: 100 * time.Millisecond},
			},
		})
		r.check(t)
	})
}

// TestParallel uses instances from several goroutines (run it with -race).
func TestParallel(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) { backendstest.Parallel(t, be, healthy, 4, 500) })
}

// TestLeaks runs 1000 load/instantiate/close cycles (100 with -short), one
// in ten with a host function and a second instance, and checks that no
// process is left (zombie or not), no file descriptor, no socket folder,
// no goroutine; then the same for plugins killed mid-call.
func TestLeaks(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		ctx := context.Background()
		cycle := func(i int) {
			mod, err := be.Load(ctx, healthy)
			if err != nil {
				t.Fatal(err)
			}
			var opts []backends.Option
			if i%10 == 9 {
				opts = append(opts, backends.WithEmit(func(v int64) int64 { return v }))
			}
			p, err := mod.Instantiate(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := p.Min(1, 2); r != 1 || err != nil {
				t.Fatalf("min: %d, %v", r, err)
			}
			if i%10 == 9 {
				q, err := mod.Instantiate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if r, err := p.(backends.Caller).Callback(3); r != 3 || err != nil {
					t.Fatalf("callback: %d, %v", r, err)
				}
				q.Close(ctx)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := mod.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cycle(9) // the first of everything (gRPC's and go-plugin's globals) opens what it keeps
		r := snapshot(t)
		n := 1000
		if testing.Short() {
			n = 100
		}
		start := time.Now()
		for i := range n {
			cycle(i)
		}
		took := time.Since(start)
		t.Logf("%d cycles in %v: %v per load/instantiate/close", n, took.Round(time.Millisecond), (took / time.Duration(n)).Round(time.Microsecond))
		r.check(t)
		// Killed mid-call: the same.
		for range 20 {
			p := backendstest.Open(t, be, faults["loop"])
			pid := p.(*Plugin).Pid()
			go func() {
				time.Sleep(2 * time.Millisecond)
				syscall.Kill(pid, syscall.SIGKILL)
			}()
			if _, err := p.Min(1, 2); err == nil {
				t.Fatal("min of a killed plugin: no error")
			}
			p.Close(ctx)
		}
		r.check(t)
	})
}

// resources is what a process holds that a plugin's life may leak.
type resources struct {
	fds        int
	sockets    []string // go-plugin's socket folders in os.TempDir
	goroutines int
}

func snapshot(t testing.TB) resources {
	t.Helper()
	return resources{fds: backendstest.FDs(t), sockets: socketDirs(), goroutines: runtime.NumGoroutine()}
}

// check fails if r's counts grew, or if this process has a child: every
// plugin process must have been reaped. Goroutines may end a moment later
// (gRPC's end after their connection's): they are given
// backendstest.StuckAfter, and the check returns as soon as they have.
func (r resources) check(t testing.TB) {
	t.Helper()
	if n := backendstest.FDs(t); n != r.fds {
		t.Errorf("%d file descriptors open, %d before", n, r.fds)
	}
	if s := socketDirs(); !slices.Equal(s, r.sockets) {
		t.Errorf("socket folders in %s: %v, %v before", os.TempDir(), s, r.sockets)
	}
	var n int
	if !backendstest.Eventually(func() bool { n = runtime.NumGoroutine(); return n <= r.goroutines }) {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, %d before:\n%s", n, r.goroutines, buf[:runtime.Stack(buf, true)])
	}
	backendstest.CheckChildren(t)
}

// socketDirs lists go-plugin's socket folders (plugin-dir*) in os.TempDir.
func socketDirs() []string {
	ents, _ := os.ReadDir(os.TempDir())
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "plugin-dir") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestContext checks that Instantiate honours its context: done before
// it starts, or at its deadline during go-plugin's handshake.
func TestContext(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		ctx := context.Background()
		mod, err := be.Load(ctx, healthy)
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		p, err := mod.Instantiate(ctx) // takes Load's process
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := mod.Instantiate(done); !errors.Is(err, context.Canceled) {
			t.Errorf("instantiate with a done context: %v, want context.Canceled", err)
		}
		short, cancel := context.WithTimeout(ctx, time.Microsecond)
		defer cancel()
		time.Sleep(time.Millisecond)
		if _, err := mod.Instantiate(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("instantiate past its deadline: %v, want context.DeadlineExceeded", err)
		}
		if _, err := be.Load(done, healthy); !errors.Is(err, context.Canceled) {
			t.Errorf("load with a done context: %v, want context.Canceled", err)
		}
	})
}

func TestFaultNames(t *testing.T) {
	if got := fixtures.HashicorpFaultName("segv"); got != "plugbench-go-hashicorp-segv" {
		t.Errorf("HashicorpFaultName(segv) = %q", got)
	}
	if err := fixtures.BuildHashicorpFault(context.Background(), filepath.Join(t.TempDir(), "x"), "nope"); !errors.Is(err, fixtures.ErrUnknownFault) {
		t.Errorf("BuildHashicorpFault(nope): %v, want ErrUnknownFault", err)
	}
}

func TestNewRefusesAnUnknownProtocol(t *testing.T) {
	be, err := New(context.Background(), Config{Protocol: "carrier-pigeon"})
	if err == nil || be != nil || !strings.Contains(err.Error(), `protocol "carrier-pigeon"`) {
		t.Errorf("New with an unknown protocol: %v, %v", be, err)
	}
	for proto, name := range map[plugin.Protocol]string{"": NameGRPC, plugin.ProtocolGRPC: NameGRPC, plugin.ProtocolNetRPC: NameNetRPC} {
		if be := backendstest.New(t, New, Config{Protocol: proto}); be.Name() != name {
			t.Errorf("protocol %q: backend %q, want %q", proto, be.Name(), name)
		}
	}
}
