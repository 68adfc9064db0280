package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/fixtures"
)

// fx holds every fixture, built once per test binary by TestMain.
var fx *fixtures.Set

// compiled is the compilation cache, in directories, that every backend made
// by open shares: the call, payload and instantiate benchmarks measure what
// follows a load, and a Go guest's half-second compile in every round would
// only stretch the run. The load and close phases choose their own cache
// mode (loadSetup) and never use it.
var compiled Cache

// scratch is this process's temporary folder: the fixtures it built, the
// compilation cache, and every isolated child's own temporary folder, so
// that removing it at the end leaves nothing behind, even after a child
// died.
var scratch string

// faultDir is where fault variants are built (Target.Faults): scratch,
// or the folder PLUGBENCH_FAULT_BUILD names. `make report` gives its
// quick run and its fault table one fresh folder, so that each variant is
// built once, not once per process; a variant found there is used as it
// is, so the folder must not outlive the sources.
var faultDir string

const envFaultBuild = "PLUGBENCH_FAULT_BUILD"

// envBackends names the backends to run, comma-separated (PLUGBENCH_BACKENDS=
// wasm,wasmtime): every row and table of the others is left out. The
// static baseline always runs, since every ratio is to it. Children
// inherit it.
const envBackends = "PLUGBENCH_BACKENDS"

// selectBackends narrows Targets to the backends list names, and the
// static baseline.
func selectBackends(list string) error {
	if list == "" {
		return nil
	}
	want := map[string]bool{static.Name: true}
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		if !slices.ContainsFunc(Targets, func(t Target) bool { return t.Backend == b }) {
			var known []string
			for _, g := range backendGroups(Targets) {
				known = append(known, g[0].Backend)
			}
			return fmt.Errorf("%s=%s: no backend %q (have %s)", envBackends, list, b, strings.Join(known, ", "))
		}
		want[b] = true
	}
	Targets = slices.DeleteFunc(Targets, func(t Target) bool { return !want[t.Backend] })
	return nil
}

func TestMain(m *testing.M) {
	flag.Parse()
	if spec := os.Getenv(envRestart); spec != "" {
		restartChild(spec) // a fresh host for BenchmarkRecover: nothing else
	}
	if os.Getenv(envProcMem) != "" {
		procMemChild() // a quiet process for TestProcMem's meters
	}
	if err := selectBackends(os.Getenv(envBackends)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// With RUST_BACKTRACE set (a Rust developer's shell often has it),
	// every Wasmtime trap captures and symbolizes the host's native stack:
	// 6 ms instead of 0.15 ms. The suite measures Wasmtime as a host
	// deploys it; children inherit the unset.
	os.Unsetenv("RUST_BACKTRACE")
	os.Unsetenv("RUST_LIB_BACKTRACE")
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "plugbench-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	scratch, faultDir = dir, dir
	// Everything this process makes in os.TempDir goes into scratch too:
	// go-plugin's socket folders, of instances still open when the
	// process ends (the shared modules' spare processes), left in /tmp
	// by hundreds otherwise. A child's TMPDIR is already a folder its
	// parent removes (an isolated row's, a fault cell's, a fuzzing
	// worker's: its coordinator's): nesting another would take a unix
	// socket's path past its 108 bytes, and go-plugin's plugins would
	// fail to start.
	if fw := flag.Lookup("test.fuzzworker"); !inChild() && os.Getenv(envFaultCell) == "" && (fw == nil || fw.Value.String() != "true") {
		if tmp := filepath.Join(dir, "tmp"); os.Mkdir(tmp, 0o700) == nil {
			os.Setenv("TMPDIR", tmp)
		}
	}
	if d := os.Getenv(envFaultBuild); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			fmt.Fprintf(os.Stderr, "bench: %s=%s: not a folder (%v)\n", envFaultBuild, d, err)
			os.RemoveAll(dir)
			os.Exit(2)
		}
		faultDir = d
	}
	fx, err = fixtures.Prepare(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	compiled.Dir = filepath.Join(dir, "compiled")
	if compiled.Wazero, err = wazero.NewCompilationCacheWithDir(filepath.Join(dir, "wazero")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" && !inChild() {
		if err := printConfig(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.RemoveAll(dir)
			os.Exit(2)
		}
	}
	code := m.Run()
	compiled.Wazero.Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// printConfig writes the config lines that make a result file
// self-describing (benchfmt reads "key: value" lines before the results).
func printConfig(w io.Writer) error {
	bw := bufio.NewWriter(w)
	kv := func(k, v string) { fmt.Fprintf(bw, "%s: %s\n", k, v) }
	kv("go", runtime.Version())
	mods, err := moduleVersions(context.Background())
	if err != nil {
		return err
	}
	for _, m := range mods {
		kv(m[0], m[1])
	}
	cgo := "0"
	if cgoEnabled {
		cgo = "1"
	}
	kv("cgo", cgo)
	kv("needs-cgo", strings.Join(needsCgo(), " "))
	kv("commit", commit())
	if cc, err := fixtures.CC(context.Background()); err == nil {
		if out, err := exec.Command(cc[0], "--version").Output(); err == nil {
			kv("cc", strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
		}
	}
	// The suite's own units: benchreport and benchstat read their
	// direction from these lines.
	for _, u := range units {
		fmt.Fprintf(bw, "Unit %s\n", u)
	}
	hashes, err := fx.Hashes()
	if err != nil {
		return err
	}
	for _, h := range hashes {
		kv(h[0], h[1])
	}
	return bw.Flush()
}

// needsCgo returns the backends that need a host built with cgo
// (Target.NeedsCgo), each once, in Targets' order.
func needsCgo() []string {
	var out []string
	for _, t := range Targets {
		if t.NeedsCgo && !slices.Contains(out, t.Backend) {
			out = append(out, t.Backend)
		}
	}
	return out
}

// moduleVersions returns a config line for each Go module a target loads
// plugins with (Target.Modules), keyed by the module path's last element
// ("wazero: v1.12.0"). A go test binary's build information lists no
// dependencies, so the versions come from the go command, which read
// go.mod to build this very binary: a replaced module says so.
func moduleVersions(ctx context.Context) ([][2]string, error) {
	var paths []string
	for _, t := range Targets {
		for _, m := range t.Modules {
			if !slices.Contains(paths, m) {
				paths = append(paths, m)
			}
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	args := append([]string{"list", "-m", "-f", "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}"}, paths...)
	out, err := exec.CommandContext(ctx, "go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("the versions of %s: go list -m: %w", strings.Join(paths, ", "), err)
	}
	var kvs [][2]string
	for line := range strings.Lines(string(out)) {
		path, version, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || version == "" {
			return nil, fmt.Errorf("the version of %s: go list -m printed %q", path, line)
		}
		kvs = append(kvs, [2]string{configKey(path), version})
	}
	return kvs, nil
}

// configKey is a module's key in the config lines: the last element of its
// path without a major-version suffix (github.com/bytecodealliance/
// wasmtime-go/v39: wasmtime-go), with the element before it when the last
// one names a language's SDK rather than the project (github.com/extism/
// go-sdk: extism-go-sdk).
func configKey(path string) string {
	elems := strings.Split(path, "/")
	if n := len(elems); n > 1 && len(elems[n-1]) > 1 && elems[n-1][0] == 'v' && strings.Trim(elems[n-1][1:], "0123456789") == "" {
		elems = elems[:n-1]
	}
	key := elems[len(elems)-1]
	if len(elems) > 1 && strings.HasPrefix(key, "go-sdk") {
		key = elems[len(elems)-2] + "-" + key
	}
	return key
}

// units are the metadata of the suite's custom units (b.ReportMetric).
// moved-B/op is exact: the same event moves the same bytes every time.
var units = []string{
	"encode-ns/op better=lower",
	"call-ns/op better=lower",
	"decode-ns/op better=lower",
	"moved-B/op better=lower assume=exact",
	"ns/callback better=lower",
	"events/s better=higher",
	"mapped-B better=lower assume=exact",
	"ns/instance better=lower",
	"heap-B/instance better=lower",
	"host-B/instance better=lower",
	"child-B/instance better=lower",
	"artifact-B better=lower assume=exact",
	"peak-B better=lower",
	// The share of a row's round trips whose reply the host had to yield
	// its CPU or sleep for (shm's doorbell): a row where the two sides did
	// not each have a core measured the fallback, not the spinning path.
	"slow-waits better=lower",
}

// commit names the source measured: git's HEAD, "-dirty" when the tree has
// changes, or "unknown" outside a checkout.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return c
}

// open makes t's backend and loads its fixture, skipping (with the reason
// and what to install) when the fixture cannot be had. Cleanup closes both.
// It checks the loaded plugin is the one t names. A test's backend uses the
// shared directory cache, compiled; a benchmark gets the process's shared
// module (openShared), which nothing closes.
func open(tb testing.TB, t Target) (backends.Backend, backends.Module) {
	tb.Helper()
	path, err := t.Path(fx)
	if path == "" {
		skip(tb, "%s/%s: unavailable: %v", t.Backend, t.Fixture, err)
	}
	if _, ok := tb.(*testing.B); ok {
		return openShared(tb, t, path)
	}
	ctx := setupContext()
	be, err := t.New(ctx, compiled)
	if err != nil {
		tb.Fatalf("%s: %v", t.Backend, err)
	}
	tb.Cleanup(func() {
		if err := be.Close(ctx); err != nil {
			tb.Errorf("close backend: %v", err)
		}
	})
	mod, err := be.Load(ctx, path)
	if err != nil {
		tb.Fatalf("load: %v", err)
	}
	tb.Cleanup(func() {
		if err := mod.Close(ctx); err != nil {
			tb.Errorf("close module: %v", err)
		}
	})
	checkIdentity(tb, t, mod)
	return be, mod
}

// openShared is open for benchmarks: one backend and module per target
// for the whole process, loaded once and never closed. A benchmark that
// opens measures what follows a load (instances, calls, events), and a
// load in every sample (a Go guest's takes a tenth of a second from the
// compilation cache, more in the interpreter) would only stretch the run.
// Tests open their own, and check that they close.
func openShared(tb testing.TB, t Target, path string) (backends.Backend, backends.Module) {
	tb.Helper()
	v, _ := sharedModules.LoadOrStore(t.Backend+"/"+t.Fixture, &sharedModule{})
	s := v.(*sharedModule)
	s.once.Do(func() {
		ctx := setupContext()
		if s.be, s.err = t.New(ctx, compiled); s.err != nil {
			return
		}
		if s.mod, s.err = s.be.Load(ctx, path); s.err != nil {
			s.err = fmt.Errorf("load: %w", s.err)
			return
		}
		s.err = checkTargetIdentity(t, s.mod.Identity())
	})
	if s.err != nil {
		tb.Fatalf("%s/%s: %v", t.Backend, t.Fixture, s.err)
	}
	return s.be, s.mod
}

type sharedModule struct {
	once sync.Once
	be   backends.Backend
	mod  backends.Module
	err  error
}

var sharedModules sync.Map // "backend/fixture" → *sharedModule

// skipByDesign skips a row that cannot be measured the way the others
// are, and says why: its reason begins "by design: ", and benchreport
// lists such rows apart from those that could not run for want of
// something.
func skipByDesign(tb testing.TB, format string, args ...any) {
	tb.Helper()
	skip(tb, "by design: "+format, args...)
}

// skip skips tb's row with a reason. A benchmark row that cannot run says
// why in the benchmark output itself, not only under -v, in go test's own
// form, which benchreport reads and lists:
//
//	--- SKIP: BenchmarkCall/op=min/backend=dlopen/fixture=c
//	    dlopen/c: unavailable: …
func skip(tb testing.TB, format string, args ...any) {
	tb.Helper()
	reason := fmt.Sprintf(format, args...)
	if _, ok := tb.(*testing.B); ok && !testing.Verbose() {
		fmt.Printf("--- SKIP: %s\n    %s\n", tb.Name(), strings.ReplaceAll(reason, "\n", "\n        "))
	}
	tb.Skip(reason)
}

// checkIdentity fails unless mod's identity export names t's language and
// the backend t's artifact is built for.
func checkIdentity(tb testing.TB, t Target, mod backends.Module) {
	tb.Helper()
	if err := checkTargetIdentity(t, mod.Identity()); err != nil {
		tb.Fatal(err)
	}
}

// checkTargetIdentity is checkIdentity's test, for a process that has no
// testing.TB (a fresh host's).
func checkTargetIdentity(t Target, id backends.Identity) error {
	if id.Backend != t.BuiltFor || id.Lang != t.Lang {
		return fmt.Errorf("%s/%s: loaded %q, want lang=%s backend=%s", t.Backend, t.Fixture, id.Raw, t.Lang, t.BuiltFor)
	}
	return nil
}

// sharedFlag is the quick run's: a row's samples share its instances.
var sharedFlag = flag.Bool("shared-instances", false,
	"a row's samples share one instance, made by its first (make report's quick run; RATIONALE.md, \"Why do the quick run's samples share an instance?\")")

// held are the instances of the row being measured, which the runs of its
// benchmark function share: RunParallel's rounds of one sample (the same
// *testing.B), and with -shared-instances every sample of the row (the
// same name). forTargetsIn closes them when the row is done.
var held struct {
	key    any // the sample's *testing.B, or the row's name
	mod    backends.Module
	ps     []backends.Plugin
	conn   backends.EventConn // eventConn's, on ps[0]
	totals []int64            // each instance's accumulate total (parallelCalls)
}

// rowInstances returns n instances of mod for b's row, and whether they
// are new: made for this call, not kept from an earlier run of the row.
// They are not closed by b's cleanup (a RunParallel round's), but by
// releaseRow once the row is done.
func rowInstances(b *testing.B, mod backends.Module, n int) ([]backends.Plugin, bool) {
	b.Helper()
	var key any = b
	if *sharedFlag {
		key = b.Name()
	}
	if held.key == key && held.mod == mod && len(held.ps) == n {
		return held.ps, false
	}
	if held.ps != nil {
		// The last sample's (or row's): closed, and its garbage collected,
		// before this sample is timed, as testing's cleanup and its
		// collection before every run did.
		if err := releaseRow(); err != nil {
			b.Fatalf("closing the last sample's instances: %v", err)
		}
		runtime.GC()
	}
	ps := make([]backends.Plugin, 0, n)
	for range n {
		p, err := mod.Instantiate(context.Background())
		if err != nil {
			for _, p := range ps {
				p.Close(context.Background())
			}
			b.Fatalf("instantiate: %v", err)
		}
		ps = append(ps, p)
	}
	held.key, held.mod, held.ps, held.totals = key, mod, ps, make([]int64, n)
	return ps, true
}

// rowInstance is the instance of a b.Loop row: with -shared-instances
// its row's (rowInstances), else one for the sample that the sample's
// cleanup closes, as instance makes. Closed at the next sample's start
// instead, an instance's teardown (extism-bounded's) was still
// allocating in that sample's timed loop: make gate's allocs/op of a
// 1 MiB upper, a few dozen calls a sample, went from 65 to 66 and 68.
func rowInstance(b *testing.B, mod backends.Module) (backends.Plugin, bool) {
	b.Helper()
	if !*sharedFlag {
		return instance(b, mod), true
	}
	ps, fresh := rowInstances(b, mod, 1)
	return ps[0], fresh
}

// releaseRow closes the held instances, if any.
func releaseRow() error {
	var errs []error
	for _, p := range held.ps {
		if err := p.Close(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("close instance: %w", err))
		}
	}
	held.key, held.mod, held.ps, held.conn, held.totals = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// setupContext is the context of the loads no row times (the modules the
// rows share, the warm caches, the recovery rows' variants): wazero
// compiles with a worker per core. A compile's code is the same with one
// worker or several (each function is compiled alone, and laid out in its
// index's order), and a Go guest's takes half the time: those compiles
// were a fifth of the quick run. The rows that time a compile
// (phase=load, cache=none) use wazero's default, one worker, as a host
// that does not opt in gets.
func setupContext() context.Context {
	return experimental.WithCompilationWorkers(context.Background(), runtime.NumCPU())
}

// instance makes a plugin instance that cleanup closes.
func instance(tb testing.TB, mod backends.Module, opts ...backends.Option) backends.Plugin {
	tb.Helper()
	p, err := mod.Instantiate(context.Background(), opts...)
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			tb.Errorf("close instance: %v", err)
		}
	})
	return p
}

// reference is the static plugin: the semantics every backend reproduces.
func reference() *static.Plugin { return &static.Plugin{} }

// TestConfigLines checks that a result file names the version of every Go
// module its rows load plugins with (Target.Modules), and the go version.
func TestConfigLines(t *testing.T) {
	var b strings.Builder
	if err := printConfig(&b); err != nil {
		t.Fatal(err)
	}
	config := b.String()
	want := []string{"go: " + runtime.Version()}
	for _, tg := range Targets {
		for _, m := range tg.Modules {
			want = append(want, configKey(m)+": v")
		}
	}
	for _, w := range want {
		if !strings.Contains(config, "\n"+w) && !strings.HasPrefix(config, w) {
			t.Errorf("no config line %q in:\n%s", w, config)
		}
	}
	for path, key := range map[string]string{
		"github.com/tetratelabs/wazero":               "wazero",
		"github.com/bytecodealliance/wasmtime-go/v39": "wasmtime-go",
		"github.com/extism/go-sdk":                    "extism-go-sdk",
		"gopkg.in/yaml.v3":                            "yaml.v3",
	} {
		if got := configKey(path); got != key {
			t.Errorf("configKey(%s) = %q, want %q", path, got, key)
		}
	}
}
