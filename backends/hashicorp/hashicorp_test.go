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
		ctx := context.Background()
		for _, f := range []struct {
			fault string
			is    error
			text  string
			opts  []backends.Option
		}{
			{"segv", ErrExited, "exit status 2 (panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation])", nil},
			{"abort", ErrExited, "killed by SIGABRT (aborted)", nil},
			// The Go runtime says "out of memory" or "runtime: out of
			// memory", as the allocation that fails is its own or the
			// system's: either.
			{"bomb", backends.ErrMemoryLimit, "exit status 2 (fatal error: ", nil},
			{"loop", context.DeadlineExceeded, "ran past its 100ms timeout", []backends.Option{backends.WithCallTimeout(100 * time.Millisecond)}},
		} {
			t.Run("fault="+f.fault, func(t *testing.T) {
				mod, err := be.Load(ctx, faults[f.fault])
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close(ctx)
				p, err := mod.Instantiate(ctx, f.opts...)
				if err != nil {
					t.Fatal(err)
				}
				// The instance answers before its fault; not the loop's, whose
				// 100 ms timeout a busy machine can make even a healthy call
				// miss (its module's next instance answers under a timeout).
				if f.opts == nil {
					if r, err := p.Accumulate(5); r != 5 || err != nil {
						t.Fatalf("accumulate: %d, %v", r, err)
					}
				}
				pid := p.(*Plugin).Pid()
				start := time.Now()
				_, err = p.Min(1, 2)
				took := time.Since(start)
				var e *backends.Error
				if !errors.Is(err, f.is) || !errors.As(err, &e) || e.Symbol != "plugbench_min" || !strings.Contains(err.Error(), f.text) ||
					f.fault == "bomb" && !strings.Contains(err.Error(), "out of memory") {
					t.Fatalf("min: %v; want %v, %q", err, f.is, f.text)
				}
				t.Logf("min: %v", err)
				// The call ends with the death (a bomb's once it touched
				// 512 MiB), or at the loop's WithCallTimeout.
				var deadline time.Duration
				if f.fault == "loop" {
					deadline = 100 * time.Millisecond
				}
				backendstest.Ended(t, "min", took, deadline)
				if syscall.Kill(pid, 0) == nil {
					t.Errorf("process %d still exists", pid)
				}
				if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrClosed) {
					t.Errorf("min after the fault: %v, want ErrClosed", err)
				}
				p.Close(ctx)
				// The module makes a new, healthy instance. A bounded one
				// after the loop: a healthy call answers under a timeout that
				// no busy machine makes it miss.
				var opts []backends.Option
				if f.opts != nil {
					opts = append(opts, backends.WithCallTimeout(backendstest.StuckAfter))
				}
				q, err := mod.Instantiate(ctx, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if r, err := q.Accumulate(7); r != 7 || err != nil {
					t.Errorf("a new instance: accumulate: %d, %v", r, err)
				}
				q.Close(ctx)
			})
		}
		t.Run("fault=startloop", func(t *testing.T) {
			const d = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			start := time.Now()
			_, err := be.Load(ctx, faults["startloop"])
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Load returned in %v: %v; want DeadlineExceeded", took, err)
			}
			backendstest.Ended(t, "Load", took, d)
			t.Logf("Load: %v", err)
		})
		t.Run("idle death", func(t *testing.T) {
			p := backendstest.Open(t, be, healthy)
			pid := p.(*Plugin).Pid()
			syscall.Kill(pid, syscall.SIGTERM)
			// Idle: the process is gone (the host reaped it) before the call.
			if !backendstest.Eventually(func() bool { return syscall.Kill(pid, 0) != nil }) {
				t.Fatalf("process %d still exists %v after SIGTERM", pid, backendstest.StuckAfter)
			}
			start := time.Now()
			_, err := p.Min(1, 2)
			took := time.Since(start)
			if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "SIGTERM") {
				t.Fatalf("min on a dead plugin: %v in %v; want ErrExited naming SIGTERM", err, took)
			}
			backendstest.Ended(t, "min on a dead plugin", took, 0)
			t.Logf("min: %v", err)
		})
		t.Run("death mid-call", func(t *testing.T) {
			p := backendstest.Open(t, be, faults["loop"])
			pid := p.(*Plugin).Pid()
			at := make(chan time.Time, 1)
			go func() {
				time.Sleep(50 * time.Millisecond)
				at <- time.Now()
				syscall.Kill(pid, syscall.SIGKILL)
			}()
			_, err := p.Min(1, 2)
			took := time.Since(<-at)
			if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "SIGKILL") {
				t.Fatalf("min: %v, %v after the kill; want ErrExited naming SIGKILL", err, took)
			}
			backendstest.Ended(t, "min, from the kill,", took, 0)
			t.Logf("min: %v", err)
		})
		r.check(t)
	})
}

// TestParallel uses instances from several goroutines (run it with -race).
func TestParallel(t *testing.T) {
	both(t, func(t *testing.T, be backends.Backend) {
		var wg sync.WaitGroup
		for g := range 4 {
			p := backendstest.Open(t, be, healthy, backends.WithEmit(func(v int64) int64 { return v + int64(g) }))
			wg.Go(func() {
				ep := p.(backends.EventPlugin)
				c, _ := ep.Events(event.Flat)
				in, _ := event.Shape("typical")
				var total int64
				for i := range 500 {
					if r, err := p.Accumulate(int64(g + 1)); err != nil || r != int64(i+1)*int64(g+1) {
						t.Errorf("goroutine %d: accumulate %d: %d, %v", g, i, r, err)
						return
					}
					var out event.Event
					if _, err := backends.Process(c, in, &out); err != nil {
						t.Error(err)
						return
					}
					r, _ := p.(backends.Caller).Callback(4)
					total += r
				}
				if want := int64(500 * (6 + 4*g)); total != want {
					t.Errorf("goroutine %d: callbacks summed %d, want %d", g, total, want)
				}
			})
		}
		wg.Wait()
	})
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
