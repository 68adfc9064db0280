package bench

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"
)

// Crash isolation. A row whose plugin runs inside the host's own process
// (Target.Where InHost: dlopen) can kill that process, and with it every row
// after it. Such a row runs in a child process instead: the test binary
// re-executed with -test.run or -test.bench anchored to the row's name
// and nothing else, given this process's fixtures. The child's result
// lines are printed as they come, so the row reads exactly as if it ran
// here; a child that dies marks its row failed, with the signal, and
// every other row still runs. The run then exits non-zero.
//
// The child measures the row with the same testing package and the same
// flags: isolation changes where a row runs, not what it measures
// (BenchmarkIsolation shows it, isolated and not in one run).
const (
	// envIsolated is set in a child: the name of the row it runs.
	envIsolated = "PLUGBENCH_ISOLATED"
	// envIsolate=off runs every row in this process.
	envIsolate = "PLUGBENCH_ISOLATE"
)

// inChild reports whether this process is an isolated row's child.
func inChild() bool { return os.Getenv(envIsolated) != "" }

// isolate runs tb's row in a child process and reports true, after which
// the caller returns at once; or reports false when the row is to run
// here: in a child already, or with PLUGBENCH_ISOLATE=off.
func isolate(tb testing.TB) bool {
	tb.Helper()
	if inChild() || os.Getenv(envIsolate) == "off" {
		return false
	}
	runIsolated(tb, tb.Name())
	return true
}

// runIsolated runs the row named name (tb's own, or, for
// BenchmarkIsolation, another) in a child and reports its outcome on tb.
func runIsolated(tb testing.TB, name string) {
	tb.Helper()
	_, bench := tb.(*testing.B)
	pattern := anchored(name)
	args := []string{"-test.run=" + pattern}
	if bench {
		args = []string{"-test.run=^$", "-test.bench=" + pattern}
	}
	for _, f := range []string{"test.benchtime", "test.count", "test.cpu", "test.benchmem", "test.short", "test.timeout", "test.v", "instances", "shared-instances"} {
		if !bench && (f == "test.benchtime" || f == "test.cpu" || f == "test.benchmem" || f == "test.count") {
			continue // a test runs once per call here; -count is this process's loop
		}
		if fl := flag.Lookup(f); fl != nil && fl.Value.String() != fl.DefValue {
			args = append(args, "-"+f+"="+fl.Value.String())
		}
	}
	out, err := child(tb, name, args, func(line []byte) bool {
		// Benchmark results and go test's own row reports pass through:
		// they are the row's output. The header (goos, pkg, cpu…) and
		// the summary (PASS, ok) are this process's to print.
		return bench && (bytes.HasPrefix(line, []byte("Benchmark")) || bytes.HasPrefix(line, []byte("--- ")) ||
			bytes.HasPrefix(line, []byte("    ")) || bytes.HasPrefix(line, []byte("=== ")))
	})
	if err != nil {
		tb.Errorf("%s", err)
		return
	}
	if bench {
		// The child printed the results; this process has none of its own
		// (under -v, go test prints this reason beside them).
		tb.Skip("isolated: the results above are this row's, measured in a child process")
	}
	if m := regexp.MustCompile(`(?m)^\s*--- SKIP: ` + regexp.QuoteMeta(name) + `\b.*\n((?:\s{4,}.*\n)*)`).FindSubmatch(out); m != nil {
		tb.Skipf("isolated: %s", strings.TrimSpace(string(m[1])))
	}
	if testing.Verbose() {
		tb.Logf("isolated child's output:\n%s", out)
	}
}

// anchored is the -test.run/-test.bench pattern that matches name and
// what is below it, and nothing else.
func anchored(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// child runs the test binary with args for the row named name, copies the
// lines pass accepts to stdout as they come, and returns the whole
// output. A child that fails or dies is an error saying how; its
// temporary files, kept inside this process's scratch folder, are
// removed whatever happened.
func child(tb testing.TB, name string, args []string, pass func([]byte) bool) ([]byte, error) {
	tb.Helper()
	tmp, err := os.MkdirTemp(scratch, "child-")
	if err != nil {
		return nil, fmt.Errorf("isolate %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = childEnv(envIsolated+"="+name, "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("isolate %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("isolate %s: start %s: %w", name, os.Args[0], err)
	}
	var out bytes.Buffer
	r := bufio.NewReader(stdout)
	for {
		line, rerr := r.ReadBytes('\n')
		out.Write(line)
		if len(line) > 0 && pass(line) {
			os.Stdout.Write(line)
		}
		if rerr != nil {
			if rerr != io.EOF {
				return nil, fmt.Errorf("isolate %s: read: %w", name, rerr)
			}
			break
		}
	}
	werr := cmd.Wait()
	out.Write(stderr.Bytes())
	if werr == nil {
		return out.Bytes(), nil
	}
	if how := crashed(cmd.ProcessState, stderr.Bytes()); how != "" {
		return nil, fmt.Errorf("crashed: %s in the row's isolated child process (%s)\n%s", how, cmd.ProcessState, excerpt(stderr.Bytes(), 12))
	}
	return nil, fmt.Errorf("the row's isolated child process failed (%s): its output is above\n%s", cmd.ProcessState, excerpt(out.Bytes(), 40))
}

// childEnv is this process's environment for a child: the same fixtures
// (no rebuild), plus kv.
func childEnv(kv ...string) []string {
	env := os.Environ()
	if fx != nil {
		env = append(env, fx.ChildEnv()...)
	}
	if p := goPluginBuilt(); p != "" {
		// Built for this binary, which the child is: no second build.
		env = append(env, fixtures.EnvGoPlugin+"="+p)
	}
	return append(env, kv...)
}

// goPluginBuilt is the Go plugin if this process has built it (rows ask
// for it before they isolate, so a child that needs it gets it), else "".
func goPluginBuilt() string {
	if fx == nil {
		return ""
	}
	return fx.Built(fixtures.GoPluginName)
}

var runtimeCrash = regexp.MustCompile(`(?m)^(SIG[A-Z]+): (.*)$|^\[signal (SIG[A-Z]+)|^(fatal error: .*)$|^(panic: .*)$`)

// crashed says how a child died, or "" if it exited on its own: killed by
// a signal, or, as a Go process dies of a signal it catches (SIGSEGV,
// SIGABRT in C code), by the runtime's report on stderr.
func crashed(ps *os.ProcessState, stderr []byte) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + signalName(ws.Signal())
	}
	m := runtimeCrash.FindSubmatch(stderr)
	switch {
	case m == nil:
		return ""
	case m[1] != nil:
		return "signal " + string(m[1]) + " (" + string(m[2]) + ")"
	case m[3] != nil:
		return "signal " + string(m[3])
	case m[4] != nil:
		return "the Go runtime: " + string(m[4])
	}
	if s := runtimeCrash.FindSubmatch(stderr[bytes.Index(stderr, m[5])+len(m[5]):]); s != nil && s[3] != nil {
		return "a Go " + string(m[5]) + " (signal " + string(s[3]) + ")"
	}
	return "a Go " + string(m[5])
}

// signalName names a signal as the runtime prints it: SIGSEGV, SIGABRT…
func signalName(s syscall.Signal) string {
	for _, n := range []struct {
		s    syscall.Signal
		name string
	}{{syscall.SIGSEGV, "SIGSEGV"}, {syscall.SIGABRT, "SIGABRT"}, {syscall.SIGBUS, "SIGBUS"},
		{syscall.SIGKILL, "SIGKILL"}, {syscall.SIGILL, "SIGILL"}, {syscall.SIGFPE, "SIGFPE"}, {syscall.SIGTERM, "SIGTERM"}} {
		if n.s == s {
			return n.name
		}
	}
	return s.String()
}

// excerpt is the first n lines of b, indented.
func excerpt(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// BenchmarkIsolation measures one row in this process and isolated in a
// child, in the same run: what isolation costs a measurement (nothing, it
// should: the child runs the same code with the same flags).
func BenchmarkIsolation(b *testing.B) {
	for _, where := range []string{"no", "yes"} {
		b.Run("isolated="+where, func(b *testing.B) {
			b.Run("op=min", func(b *testing.B) {
				isolated := slices.DeleteFunc(slices.Clone(Targets), func(t Target) bool { return !t.Isolated() })
				for _, g := range backendGroups(isolated) {
					b.Run("backend="+g[0].Backend, func(b *testing.B) {
						for _, t := range g {
							b.Run("fixture="+t.Fixture, func(b *testing.B) {
								if path, err := t.Path(fx); path == "" {
									skip(b, "%s/%s: unavailable: %v", t.Backend, t.Fixture, err)
								}
								if where == "yes" && isolate(b) {
									return
								}
								_, mod := open(b, t)
								benchCall(b, "min", instance(b, mod))
							})
						}
					})
				}
			})
		})
	}
}

// TestIsolation is BenchmarkIsolation's twin: a row run in a child
// answers as it does here, and a child that dies is reported with its
// signal, without taking this process down.
func TestIsolation(t *testing.T) {
	if inChild() && os.Getenv("PLUGBENCH_TEST_CRASH") != "" {
		var p *int
		runtime.KeepAlive(*p) // a nil dereference: the child dies of SIGSEGV
	}
	t.Run("answers", func(t *testing.T) {
		forTargets(t, func(t *testing.T, u Target) {
			if !u.Isolated() {
				return
			}
			if !inChild() && os.Getenv(envIsolate) != "off" {
				t.Fatal("an isolated target's row ran in the parent process")
			}
			_, mod := open(t, u)
			backendstest.Answers(t, instance(t, mod), minCases, accumulateCases, bufferCases[:8])
		})
	})
	// The event rows of an in-host target run in a child too: a plugin
	// that crashes while processing events costs its row, not the run.
	t.Run("events", func(t *testing.T) {
		forEventTargets(t, event.JSON, func(t *testing.T, u Target) {
			if !u.Isolated() {
				return
			}
			if !inChild() && os.Getenv(envIsolate) != "off" {
				t.Fatal("an isolated target's event row ran in the parent process")
			}
			checkEvent(t, eventConn(t, u, event.JSON), shape(t, "small"))
		})
	})
	t.Run("crash", func(t *testing.T) {
		t.Setenv("PLUGBENCH_TEST_CRASH", "1")
		start := time.Now()
		_, err := child(t, "TestIsolation", []string{"-test.run=^TestIsolation$"}, func([]byte) bool { return false })
		if err == nil || !strings.Contains(err.Error(), "crashed:") || !strings.Contains(err.Error(), "SIGSEGV") {
			t.Fatalf("a child dying of a nil dereference: %v; want crashed with SIGSEGV", err)
		}
		t.Logf("reported in %v: %v", time.Since(start), err)
	})
}

// fuzzingIsolated reports whether a fuzz target takes tg in this process.
// An isolated target's plugin could end the process: under -fuzz, the
// fuzzing engine's workers are child processes and a crash is reported as
// a failing input; run as a test (the seed corpus), the target leaves it
// out and says so, and the isolated twin tests cover the seeds' values.
func fuzzingIsolated(f *testing.F, tg Target) bool {
	if !tg.Isolated() || inChild() || os.Getenv(envIsolate) == "off" {
		return true
	}
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		return true
	}
	f.Logf("%s/%s: left out of the seed run (isolated rows run in a child; -fuzz takes it)", tg.Backend, tg.Fixture)
	return false
}
