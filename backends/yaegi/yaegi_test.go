package yaegi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"
)

// scratchDir is the folder of the sources the tests write, removed by
// TestMain.
var scratchDir string

var scratch = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "plugbench-yaegi-")
	scratchDir = dir
	return dir, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if scratchDir != "" {
		os.RemoveAll(scratchDir)
	}
	os.Exit(code)
}

var writes sync.Map // fault ("" healthy) → func() (string, error)

// source writes the guest's source for fault ("": healthy), once.
func source(t testing.TB, fault string) string {
	t.Helper()
	f, _ := writes.LoadOrStore(fault, sync.OnceValues(func() (string, error) {
		dir, err := scratch()
		if err != nil {
			return "", err
		}
		if fault == "" {
			return fixtures.WriteYaegi(context.Background(), dir)
		}
		return fixtures.WriteYaegiFault(context.Background(), dir, fault)
	}))
	path, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func emit(v int64) int64 { return 3*v + 1 }

func load(t testing.TB) (backends.Module, *Plugin) {
	t.Helper()
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, source(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mod.Instantiate(ctx, backends.WithEmit(emit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close(ctx)
		mod.Close(ctx)
	})
	return mod, p.(*Plugin)
}

// TestBackend checks the contract with backendstest's kit.
func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{
		Backend:    backendstest.New(t, New, Config{}),
		Guests:     map[string]string{"go": source(t, "")},
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
	})
}

// TestEventsMalformed checks the guest's own errors on a connection: a
// malformed input, and an output buffer too small.
func TestEventsMalformed(t *testing.T) {
	_, p := load(t)
	// A malformed input is the guest's event.ErrMalformed, mapped to the
	// host's.
	for _, tr := range p.Transports() {
		c, _ := p.Events(tr)
		ec := c.(*encConn)
		ec.in = []byte(`{"id":`)
		if _, err := ec.Call(); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("malformed %s: %v, want event.ErrMalformed", tr, err)
		}
	}
	// A small output buffer is grown (the guest's ErrSpace, mapped).
	c, _ := p.Events(event.JSON)
	ec := c.(*encConn)
	ec.out = make([]byte, 8)
	in, _ := event.Shape("large")
	var got, want event.Event
	if _, err := backends.Process(c, in, &got); err != nil {
		t.Fatal(err)
	}
	event.Process(in, &want)
	if d := event.Diff(&got, &want); d != "" {
		t.Fatal(d)
	}
}

// TestConcurrent uses two instances of one module (one interpreter) from
// two goroutines at once; run it with -race.
func TestConcurrent(t *testing.T) {
	mod, _ := load(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		p, err := mod.Instantiate(ctx, backends.WithEmit(emit))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		wg.Go(func() {
			c, _ := p.(backends.EventPlugin).Events(event.Binary)
			in, _ := event.Shape("typical")
			var total int64
			for i := range 200 {
				x := int64(g*1000 + i)
				total += x
				got, err := p.Accumulate(x)
				if err == nil && got != total {
					err = fmt.Errorf("instance %d: Accumulate total %d, want %d", g, got, total)
				}
				if m, _ := p.Min(int32(i), int32(g)); err == nil && m != min(int32(i), int32(g)) {
					err = fmt.Errorf("instance %d: Min = %d", g, m)
				}
				var out event.Event
				if _, perr := backends.Process(c, in, &out); err == nil {
					err = perr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoadErrors(t *testing.T) {
	good := source(t, "")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("package x"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	// variant copies the healthy source and rewrites the entry's main.go.
	variant := func(name string, edit func(string) string) string {
		root := filepath.Join(dir, name)
		if err := os.CopyFS(root, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		main := filepath.Join(root, "src", filepath.FromSlash(EntryPackage), "main.go")
		b, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(main, []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("no %q in main.go", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	cases := []backendstest.LoadError{
		{Name: "missing folder", Path: filepath.Join(dir, "nope"), Is: fs.ErrNotExist, Text: "nope"},
		{Name: "a file", Path: file, Is: backends.ErrFormat, Text: "not a folder"},
		{Name: "no source", Path: empty, Is: backends.ErrFormat, Text: "no Go source in src/" + EntryPackage},
		{Name: "syntax error", Path: variant("syntax", replace("func ABIVersion() int32 {", "func ABIVersion() int32 {{")), Is: backends.ErrFormat, Text: "yaegi: "},
		{Name: "missing symbol", Path: variant("nonew", replace("func New(", "func NotNew(")), Is: backends.ErrMissingExport, Symbol: SymNew, Text: "symbol New: missing export: "},
		{Name: "wrong type", Path: variant("type", replace("func ABIVersion() int32 { return guest.ABIVersion }", "var ABIVersion = int32(1)")), Is: backends.ErrMissingExport, Symbol: SymABIVersion, Text: "is a int32, want a func() int32"},
		{Name: "abi version", Path: variant("v2", replace("func ABIVersion() int32 { return guest.ABIVersion }", "func ABIVersion() int32 { return 2 }")), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: variant("wasm", replace(`guest.Identity("yaegi")`, `guest.Identity("wasm")`)), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "missing method", Path: variant("method", replace("		Free:        i.Free,\n", "")), Is: backends.ErrMissingExport, Symbol: SymNew, Text: "New's Free is nil"},
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// TestLoadContext: an init that never returns (startloop) is stopped at
// Load's deadline.
func TestLoadContext(t *testing.T) {
	path := source(t, "startloop")
	const d = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	_, err := backendstest.New(t, New, Config{}).Load(ctx, path)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backends.ErrNoInterrupt) {
		t.Fatalf("Load = %v, want DeadlineExceeded and not ErrNoInterrupt", err)
	}
	backendstest.Ended(t, "Load", took, d)
	checkNothingRuns(t)
	t.Log(err)
	// A deadline that ends before the init even started: yaegi's stop
	// misses frames that start after it, so Load stops them again.
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if _, err := backendstest.New(t, New, Config{}).Load(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load = %v, want DeadlineExceeded", err)
		}
		cancel()
	}
	checkNothingRuns(t) // once the abandoned imports have compiled and been stopped
}

// checkNothingRuns fails if the process keeps a core busy after a guest
// was stopped: a stopped loop that spins on in the interpreter. What ends
// a moment later (a stopped frame at its next statement, an abandoned
// import's compile, slower on a busy machine) may keep it busy a while:
// it watches 300 ms windows until one is quiet, for up to
// backendstest.StuckAfter, so that only a guest that runs on fails.
func checkNothingRuns(t *testing.T) {
	t.Helper()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var used, wall time.Duration
	start := time.Now()
	quiet := backendstest.Eventually(func() bool {
		c0, w0 := cpu(), time.Now()
		time.Sleep(300 * time.Millisecond)
		used, wall = cpu()-c0, time.Since(w0)
		return used <= wall/2
	})
	if !quiet {
		buf := make([]byte, 1<<20)
		t.Errorf("after the stop, the process used %v of CPU in %v: the guest runs on:\n%s", used, wall, buf[:runtime.Stack(buf, true)])
		return
	}
	t.Logf("a quiet window ended %v into the check", time.Since(start).Round(time.Millisecond))
}

// TestFaults loads each fault variant but bomb (which would eat the test
// process's memory) and checks what the host sees.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, fault := range []string{"segv", "abort", "loop"} {
		t.Run(fault, func(t *testing.T) {
			mod, err := backendstest.New(t, New, Config{}).Load(ctx, source(t, fault))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			if !strings.HasSuffix(mod.Identity().Raw, " fault="+fault) {
				t.Errorf("identity %q", mod.Identity().Raw)
			}
			if fault == "loop" {
				const d = 50 * time.Millisecond
				p, err := mod.Instantiate(ctx, backends.WithCallTimeout(d))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				_, err = p.Min(1, 2)
				took := time.Since(start)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Min = %v, want DeadlineExceeded", err)
				}
				backendstest.Ended(t, "Min", took, d)
				if _, err := p.Accumulate(1); !errors.Is(err, backends.ErrClosed) {
					t.Errorf("after the timeout: %v, want ErrClosed", err)
				}
				checkNothingRuns(t)
				t.Log(err)
				// A healthy instance of the module is not stopped.
				q, err := mod.Instantiate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close(ctx)
				if got, err := q.Accumulate(5); got != 5 || err != nil {
					t.Errorf("another instance: Accumulate = %d, %v", got, err)
				}
				return
			}
			p, err := mod.Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			_, err = p.Min(1, 2)
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Min = %v, want a *PanicError", err)
			}
			// yaegi stores through reflect: a nil pointer's store is
			// reflect's panic, not the run time's nil dereference.
			if fault == "segv" && !strings.Contains(err.Error(), "reflect: call of reflect.Value.Set on zero Value") {
				t.Errorf("segv: %v", err)
			}
			if got, err := p.Accumulate(2); got != 2 || err != nil {
				t.Errorf("after the panic: Accumulate = %d, %v", got, err)
			}
			t.Log(err)
		})
	}
}

// TestCallTimeoutHealthy: a bounded instance answers as any other (under
// a timeout that no busy machine makes a healthy call miss).
func TestCallTimeoutHealthy(t *testing.T) {
	mod, _ := load(t)
	ctx := context.Background()
	p, err := mod.Instantiate(ctx, backends.WithCallTimeout(backendstest.StuckAfter), backends.WithEmit(emit))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if got, err := p.Min(4, -4); got != -4 || err != nil {
		t.Fatalf("Min = %d, %v", got, err)
	}
	if got, err := p.(backends.Caller).Callback(3); got != emit(0)+emit(1)+emit(2) || err != nil {
		t.Fatalf("Callback = %d, %v", got, err)
	}
}

func TestRefMin(t *testing.T) {
	call, closeFn, err := refMin(context.Background(), source(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if got, err := call(9, -9); got != -9 || err != nil {
		t.Fatalf("refMin(9, -9) = %d, %v", got, err)
	}
}
