package goplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/fixtures"
)

// scratchDir is the folder of the plugins the tests build, made by the
// first build and removed by TestMain.
var scratchDir string

var scratch = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "plugbench-goplugin-")
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

// builds memoizes plugin builds by file name: each is built once per test
// binary.
var builds sync.Map // name → func() (string, error)

// buildOnce builds the plugin named name with build, once, and returns its
// path; it skips where Go plugins cannot be built or opened.
func buildOnce(t testing.TB, name string, build func(ctx context.Context, out string) error) string {
	t.Helper()
	if !Available {
		t.Skip("this host cannot open Go plugins (Available is false)")
	}
	f, _ := builds.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		dir, err := scratch()
		if err != nil {
			return "", err
		}
		out := filepath.Join(dir, name)
		return out, build(context.Background(), out)
	}))
	path, err := f.(func() (string, error))()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// healthy builds the Go plugin fixture.
func healthy(t testing.TB) string {
	return buildOnce(t, fixtures.GoPluginName, func(ctx context.Context, out string) error {
		return fixtures.BuildGoPlugin(ctx, out)
	})
}

func load(t testing.TB) (backends.Module, *Plugin) {
	t.Helper()
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, healthy(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mod.Instantiate(ctx, backends.WithEmit(func(v int64) int64 { return 3*v + 1 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close(ctx)
		mod.Close(ctx)
	})
	return mod, p.(*Plugin)
}

func TestUnavailable(t *testing.T) {
	if Available {
		t.Skip("Go plugins are available")
	}
	_, err := backendstest.New(t, New, Config{}).Load(context.Background(), "plugbench-go.so")
	var e *backends.Error
	if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &e) || e.Backend != Name {
		t.Fatalf("Load = %v, want a *backends.Error wrapping errors.ErrUnsupported", err)
	}
	t.Log(err)
}

// TestBackend checks the contract with backendstest's kit.
func TestBackend(t *testing.T) {
	backendstest.TestBackend(t, backendstest.Kit{
		Backend:    backendstest.New(t, New, Config{}),
		Guests:     map[string]string{"go": healthy(t)},
		Transports: []event.Transport{event.Value, event.JSON, event.Binary, event.Flat},
	})
}

// TestMalformed checks that a malformed input is the plugin's
// event.ErrMalformed: host and plugin share package event, and so its
// sentinel errors.
func TestMalformed(t *testing.T) {
	_, p := load(t)
	c, _ := p.Events(event.JSON)
	ec := c.(*encConn)
	ec.in = []byte(`{"id":`)
	if _, err := ec.Call(); !errors.Is(err, event.ErrMalformed) {
		t.Errorf("malformed JSON: %v, want event.ErrMalformed", err)
	}
}

// TestNoInterrupt checks that a Go plugin, running in the host's own
// goroutine, refuses WithCallTimeout.
func TestNoInterrupt(t *testing.T) {
	ctx := context.Background()
	mod, err := backendstest.New(t, New, Config{}).Load(ctx, healthy(t))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	if _, err := mod.Instantiate(ctx, backends.WithCallTimeout(1)); !errors.Is(err, backends.ErrNoInterrupt) {
		t.Errorf("WithCallTimeout: %v, want ErrNoInterrupt", err)
	}
}

// TestReopen: a plugin is opened once per process; a later Load gives a
// fresh Module of the same plugin, and nothing is ever unmapped.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := healthy(t)
	a, err := backendstest.New(t, New, Config{}).Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !Opened(path) {
		t.Fatal("not Opened after a Load")
	}
	mapped, err := Mapped(path)
	if err != nil || mapped == 0 {
		t.Fatalf("Mapped = %d, %v after Load", mapped, err)
	}
	pa, _ := a.Instantiate(ctx)
	pa.Accumulate(5)
	b, err := backendstest.New(t, New, Config{}).Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !b.(*module).Reopened() {
		t.Error("the second Load of a path is not Reopened")
	}
	pb, _ := b.Instantiate(ctx)
	if got, _ := pb.Accumulate(1); got != 1 {
		t.Errorf("a new module's instance shares state: total %d", got)
	}
	pa.Close(ctx)
	pb.Close(ctx)
	a.Close(ctx)
	b.Close(ctx)
	after, err := Mapped(path)
	if err != nil || after != mapped {
		t.Fatalf("after Close: %d bytes mapped, %v; want %d (a Go plugin is never unmapped)", after, err, mapped)
	}
	t.Logf("%d bytes of %s stay mapped after Close", after, filepath.Base(path))
}

// TestCopy: a copy of a loaded plugin at another path has the same plugin
// path inside, and fails.
func TestCopy(t *testing.T) {
	path := healthy(t)
	if _, err := backendstest.New(t, New, Config{}).Load(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.so")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = backendstest.New(t, New, Config{}).Load(context.Background(), cp)
	real, _ := realPath(cp)
	want := fmt.Sprintf("goplugin: plugin.Open(%q): plugin already loaded: a Go plugin's package can be loaded once per process", strings.TrimSuffix(real, ".so"))
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), cp) {
		t.Fatalf("Load of a copy: %v\nwant %s…: %s", err, want, cp)
	}
	t.Log(err)
}

// bad builds the plugin testdata/bad/NAME, with the flags of the Go plugin
// fixture.
func bad(t *testing.T, tag string) string {
	return buildOnce(t, "bad-"+tag+".so", func(ctx context.Context, out string) error {
		cmd, err := fixtures.GoPluginCommand(ctx, out)
		if err != nil {
			return err
		}
		cmd.Args[len(cmd.Args)-1] = "./testdata/bad/" + tag // the package, in place of the fixture's
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
		}
		return nil
	})
}

func TestLoadErrors(t *testing.T) {
	healthy(t) // skips where plugins cannot be built
	dir := t.TempDir()
	text := filepath.Join(dir, "text.so")
	os.WriteFile(text, []byte("not an ELF file"), 0o644)
	cases := []backendstest.LoadError{
		{Name: "missing file", Path: filepath.Join(dir, "nope.so"), Is: fs.ErrNotExist, Text: "nope.so"},
		{Name: "not a shared object", Path: text, Is: backends.ErrFormat, Text: "not"},
		{Name: "missing symbol", Path: bad(t, "nonew"), Is: backends.ErrMissingExport, Symbol: SymNew, Text: "symbol New: missing export: plugin: symbol New not found"},
		{Name: "wrong type", Path: bad(t, "type"), Is: backends.ErrMissingExport, Symbol: SymABIVersion, Text: "is a *int32, want a func() int32"},
		{Name: "abi version", Path: bad(t, "v2"), Is: backends.ErrABIVersion, Text: "plugin ABI version 2, host expects 1: "},
		{Name: "wrong backend", Path: bad(t, "wasm"), Is: backends.ErrIdentity, Text: `built for backend "wasm"`},
		{Name: "missing method", Path: bad(t, "method"), Is: backends.ErrMissingExport, Symbol: SymNew, Text: "main.instance, which lacks Accumulate"},
	}
	if cso := filepath.Join(dir, "c.so"); fixtures.BuildSO(context.Background(), cso) == nil {
		cases = append(cases, backendstest.LoadError{Name: "a C library", Path: cso, Is: backends.ErrFormat, Text: "not a Go binary"})
	}
	backendstest.CheckLoadErrors(t, backendstest.New(t, New, Config{}), cases, nil)
}

// envChild tells a re-executed test binary what to do in TestChild.
const envChild = "PLUGBENCH_GOPLUGIN_CHILD"

// runChild runs TestChild in a new process with spec, and returns its
// output and error.
func runChild(ctx context.Context, spec string) (string, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+spec)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// result is the child's answer, on a line of its own.
func result(out, key string) string {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+": "); ok {
			return v
		}
	}
	return ""
}
