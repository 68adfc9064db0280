package goplugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/fixtures"
)

// TestChild is what the re-executed test binary runs: one load or fault in
// a process of its own, since a Go plugin can neither be unloaded nor
// loaded twice. It prints "key: value" lines for the parent.
func TestChild(t *testing.T) {
	spec := os.Getenv(envChild)
	if spec == "" {
		t.Skip("run in a child process by TestMismatch and TestFaults")
	}
	f := strings.Split(spec, "|")
	ctx := context.Background()
	switch f[0] {
	case "mismatch":
		_, err := backendstest.New(t, New, Config{}).Load(ctx, f[1])
		fmt.Printf("error: %v\n", err)
		fmt.Printf("mismatch: %v\n", errors.Is(err, ErrMismatch))
	case "fault":
		childFault(t, f[1], f[2], f[3])
	default:
		t.Fatalf("unknown child %q", spec)
	}
}

// TestMismatch shows what breaks when the plugin and the host do not
// agree on a shared package's version: a plugin built from a copy of this
// module whose backends/event differs by one line is refused by
// plugin.Open, and Load says how to fix it.
func TestMismatch(t *testing.T) {
	healthy(t) // skips where plugins cannot be built
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(cp, f))
	}
	for _, d := range []string{"backends/event", "fixtures/go/guest", "fixtures/go/plugin"} {
		files, _ := filepath.Glob(filepath.Join(root, d, "*.go"))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				copyFile(t, f, filepath.Join(cp, d, filepath.Base(f)))
			}
		}
	}
	ev := filepath.Join(cp, "backends/event/event.go")
	src, _ := os.ReadFile(ev)
	changed := strings.Replace(string(src), "MaxTags   = 32", "MaxTags   = 33", 1)
	if changed == string(src) {
		t.Fatal("backends/event/event.go has no line MaxTags   = 32 to change")
	}
	os.WriteFile(ev, []byte(changed), 0o644)

	so := filepath.Join(t.TempDir(), "mismatch.so")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, err := fixtures.GoPluginCommand(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = cp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	out, err := runChild(ctx, "mismatch|"+so)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	real, _ := realPath(so)
	open := fmt.Sprintf(`plugin.Open(%q): plugin was built with a different version of package github.com/plugbench/plugbench/backends/event`,
		strings.TrimSuffix(real, ".so"))
	want := "goplugin: plugin and host do not match: " + open +
		"; rebuild the plugin in the host's module, with the host's toolchain and flags (fixtures.BuildGoPlugin): " + so
	if got := result(out, "error"); got != want {
		t.Errorf("Load of a mismatched plugin:\n got %s\nwant %s", got, want)
	}
	if result(out, "mismatch") != "true" {
		t.Errorf("the error does not match ErrMismatch:\n%s", out)
	}
	t.Logf("plugin.Open: %s", open)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// faultDeadline bounds a fault's hang: startloop's Load context, and how
// long the parent watches a loop before calling it hung.
const faultDeadline = time.Second

// TestFaults loads each fault variant of the Go plugin in a child process
// and checks what the host sees: segv and abort are panics in the host's
// goroutine, which end the host unless it recovers them (it can, and then
// goes on); loop hangs the call for good;
// bomb kills the host with the runtime's fatal out-of-memory error;
// startloop's Load returns at its deadline, and every later Load is
// refused (ErrNoInterrupt) rather than left to wait for the loader.
func TestFaults(t *testing.T) {
	good := healthy(t)
	for _, fault := range fixtures.Faults {
		t.Run("fault="+fault, func(t *testing.T) {
			t.Parallel()
			so := buildOnce(t, fixtures.GoPluginFaultName(fault), func(ctx context.Context, out string) error {
				return fixtures.BuildGoPluginFault(ctx, out, fault)
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			spec := "fault|" + fault + "|" + so + "|" + good
			switch fault {
			case "segv", "abort":
				out, err := runChild(ctx, spec)
				panicked := map[string]string{
					"segv":  "runtime error: invalid memory address or nil pointer dereference",
					"abort": "go plugin: abort",
				}[fault]
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "\npanic: "+panicked) {
					t.Fatalf("child: %v, want exit status 2 and %q:\n%s", err, "panic: "+panicked, out)
				}
				if fault == "segv" && !strings.Contains(out, "[signal SIGSEGV: segmentation violation") {
					t.Errorf("a nil store: want the SIGSEGV named:\n%s", out)
				}
				if result(out, "recovered") != panicked || result(out, "after") != "accumulate 3" {
					t.Fatalf("a host that recovers: want %q recovered and a host that goes on:\n%s", panicked, out)
				}
				t.Logf("%v: %s", err, firstLine(out, "panic: "))
			case "loop":
				hung(t, ctx, spec)
			case "bomb":
				out, err := runChild(ctx, spec)
				var exit *exec.ExitError
				// "out of memory" or "runtime: out of memory", as the
				// allocation that fails is the runtime's or the system's.
				if !errors.As(err, &exit) || !regexp.MustCompile(`fatal error: (runtime: )?out of memory`).MatchString(out) {
					t.Fatalf("child: %v, want a host killed by the runtime's fatal out-of-memory error:\n%s", err, out)
				}
				t.Logf("%v: %s", err, firstLine(out, "fatal error"))
			case "startloop":
				out, err := runChild(ctx, spec)
				if err != nil || result(out, "ok") != "true" {
					t.Fatalf("child: %v\n%s", err, out)
				}
				t.Logf("load: %s; later: %s", result(out, "load"), result(out, "later"))
			}
		})
	}
}

// hung runs the loop child and checks that it is still in its call
// faultDeadline after it started it, then kills it.
func hung(t *testing.T, ctx context.Context, spec string) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+spec)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if sc.Text() == "calling" {
			break
		}
	}
	if len(seen) == 0 || seen[len(seen)-1] != "calling" {
		t.Fatalf("the child did not call Min:\n%s", strings.Join(seen, "\n"))
	}
	go io.Copy(io.Discard, stdout)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("a looping Min returned (child exit %v): %s", err, strings.Join(seen, "\n"))
	case <-time.After(faultDeadline):
	}
	if r := result(strings.Join(seen, "\n"), "timeout"); !strings.Contains(r, "cannot interrupt a running plugin") {
		t.Errorf("WithCallTimeout: %q, want ErrNoInterrupt", r)
	}
	t.Logf("Min still running after %v; killed", faultDeadline)
}

func firstLine(out, prefix string) string {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// childFault runs one fault in the child.
func childFault(t *testing.T, fault, so, good string) {
	ctx := context.Background()
	if fault == "startloop" {
		lctx, cancel := context.WithTimeout(ctx, faultDeadline)
		defer cancel()
		start := time.Now()
		_, err := backendstest.New(t, New, Config{}).Load(lctx, so)
		took := time.Since(start)
		fmt.Printf("load: %v (%v after the deadline)\n", err, took-faultDeadline)
		start = time.Now()
		_, err2 := backendstest.New(t, New, Config{}).Load(ctx, good)
		took2 := time.Since(start)
		fmt.Printf("later: %v (in %v)\n", err2, took2)
		// The later Load has no deadline: it is refused, not left to
		// wait for the loader's lock. Only one that effectively never
		// returned (backendstest.StuckAfter late) fails on time.
		ok := errors.Is(err, context.DeadlineExceeded) && errors.Is(err, backends.ErrNoInterrupt) && !backendstest.Stuck(took, faultDeadline) &&
			errors.Is(err2, backends.ErrNoInterrupt) && !backendstest.Stuck(took2, 0)
		fmt.Printf("ok: %v\n", ok)
		return
	}
	if fault == "bomb" {
		// The host's own memory has no other limit; a 4 GiB bomb should
		// not take the machine's (the suite's fault table does the same).
		lim := syscall.Rlimit{Cur: 2 << 30, Max: 2 << 30}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.Instantiate(ctx, backends.WithCallTimeout(faultDeadline))
	fmt.Printf("timeout: %v\n", err)
	p, err := mod.Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("calling")
	if fault == "segv" || fault == "abort" {
		// A host can recover the plugin's panic, as any Go panic.
		func() {
			defer func() { fmt.Printf("recovered: %v\n", recover()) }()
			p.Min(1, 2)
		}()
		p.Accumulate(1)
		total, err := p.Accumulate(2)
		if err != nil {
			fmt.Printf("after: %v\n", err)
		} else {
			fmt.Printf("after: accumulate %d\n", total)
		}
		// One that does not dies of it.
	}
	_, err = p.Min(1, 2)
	fmt.Printf("error: %v\n", err)
}
