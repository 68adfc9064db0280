package elfcheck_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/cgo"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/internal/elfcheck"
	"github.com/plugbench/plugbench/fixtures"
)

// fixtureSO is the C fixture built once per test binary, as bytes: the tests
// below write damaged copies of it.
var fixtureSO = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "plugbench-elf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, fixtures.SOName)
	if err := fixtures.BuildSO(context.Background(), out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
})

// natives are the backends that dlopen what Check accepts: dlopen always,
// cgo when this test binary has cgo.
func natives() []backends.Backend {
	bs := []backends.Backend{dlopen.Backend()}
	if cgo.Available {
		bs = append(bs, cgo.Backend())
	}
	return bs
}

// fixtureBytes returns the fixture, skipping without a C compiler.
func fixtureBytes(t testing.TB) []byte {
	t.Helper()
	if !elfcheck.Described() {
		t.Skipf("Check does not describe GOARCH %s", runtime.GOARCH)
	}
	b, err := fixtureSO()
	if errors.Is(err, fixtures.ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckValid(t *testing.T) {
	so := writeFile(t, filepath.Join(t.TempDir(), "ok.so"), fixtureBytes(t))
	if err := elfcheck.Check(so); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLinkerVariants checks that Check refuses no real shared
// object: the fixture linked by other linkers and with other layouts.
func TestCheckLinkerVariants(t *testing.T) {
	fixtureBytes(t) // skips without a compiler
	for _, v := range []struct{ name, flags string }{
		{"gold", "-fuse-ld=gold"},
		{"lld", "-fuse-ld=lld"},
		{"relr", "-Wl,-z,pack-relative-relocs"},
		{"sysv-hash", "-Wl,--hash-style=sysv"},
		{"norelro-lazy", "-Wl,-z,norelro -Wl,-z,lazy"},
		{"noseparate-code", "-Wl,-z,noseparate-code"},
		{"stripped", "-s"},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			so := filepath.Join(t.TempDir(), v.name+".so")
			if err := fixtures.BuildSO(context.Background(), so, strings.Fields(v.flags)...); err != nil {
				t.Skipf("cannot link with %s: %.200v", v.flags, err)
			}
			if err := elfcheck.Check(so); err != nil {
				t.Fatal(err)
			}
			for _, be := range natives() {
				mod, err := be.Load(context.Background(), so)
				if err != nil {
					t.Fatal(err)
				}
				mod.Close(context.Background())
			}
		})
	}
}

// TestCheckMappedLibraries checks that Check accepts every shared
// object this process has mapped (libc, the loader itself): real libraries
// must never be refused.
func TestCheckMappedLibraries(t *testing.T) {
	fixtureBytes(t)
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.Contains(filepath.Base(fields[5]), ".so") || seen[fields[5]] {
			continue
		}
		seen[fields[5]] = true
		if err := elfcheck.Check(fields[5]); err != nil {
			t.Errorf("%s: %v", fields[5], err)
		}
	}
	if len(seen) == 0 {
		t.Skip("no shared object mapped")
	}
	t.Logf("checked %d mapped libraries", len(seen))
}

// layout is where the fixture keeps what the tests below damage.
type layout struct {
	progs   []*elf.Prog
	phoff   int // the program header table starts here...
	headers int // ...and ends here, after the ELF header
	// extent is the length the file needs for every PT_LOAD segment and
	// the section header table to fit.
	extent int
}

func fixtureLayout(t testing.TB, so []byte) layout {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(so))
	if err != nil {
		t.Fatal(err)
	}
	var hdr elf.Header64
	if _, err := binary.Decode(so, binary.LittleEndian, &hdr); err != nil {
		t.Fatal(err)
	}
	l := layout{
		progs:   f.Progs,
		phoff:   int(hdr.Phoff),
		headers: int(hdr.Phoff) + int(hdr.Phnum)*elfcheck.PhdrSize,
		extent:  int(hdr.Shoff) + int(hdr.Shnum)*int(hdr.Shentsize),
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			l.extent = max(l.extent, int(p.Off+p.Filesz))
		}
	}
	return l
}

// TestCheckTruncated cuts the fixture short: at 8 KiB (issue 12 item 3),
// at the end of each program header and of each segment's file contents, at
// 64 evenly spaced lengths and one byte short.
func TestCheckTruncated(t *testing.T) {
	so := fixtureBytes(t)
	l := fixtureLayout(t, so)
	lengths := map[int]string{8192: "8 KiB", len(so) - 1: "len-1"}
	for i, p := range l.progs {
		lengths[l.phoff+(i+1)*elfcheck.PhdrSize] = fmt.Sprintf("end of program header %d", i)
		if p.Filesz > 0 {
			lengths[int(p.Off+p.Filesz)] = fmt.Sprintf("end of %v segment %d", p.Type, i)
		}
	}
	for i := range 64 {
		lengths[i*len(so)/64] = fmt.Sprintf("%d/64", i)
	}
	dir := t.TempDir()
	refused := 0
	for _, n := range slices.Sorted(maps.Keys(lengths)) {
		if n >= len(so) {
			continue
		}
		path := writeFile(t, filepath.Join(dir, fmt.Sprintf("cut%06d.so", n)), so[:n])
		err := elfcheck.Check(path)
		if n >= l.extent {
			// Everything the loader maps and everything debug/elf reads is
			// still there: the cut only dropped trailing bytes nothing
			// refers to. Such a file may pass, but must do so every time.
			// (Linkers put the section header table last, so with the
			// fixture this does not happen.)
			if again := elfcheck.Check(path); (err == nil) != (again == nil) {
				t.Errorf("cut at %d bytes (%s): Check said %v, then %v", n, lengths[n], err, again)
			}
			continue
		}
		if !errors.Is(err, backends.ErrFormat) {
			t.Errorf("cut at %d bytes (%s): Check = %v, want ErrFormat", n, lengths[n], err)
			continue
		}
		refused++
		if n == 8192 || n == len(so)-1 {
			t.Logf("cut at %d bytes: %v", n, err)
		}
	}
	t.Logf("%d cuts refused; %d of %d bytes are needed", refused, l.extent, len(so))
}

// helperEnv names the library TestHelperLoad loads in a child process.
const helperEnv = "PLUGBENCH_ELF_HELPER_LOAD"

// TestHelperLoad is not a test: TestCheckCorrupt runs it in a child
// process to dlopen a file Check accepted, where a signal kills only
// the child. It loads the file with every native backend in turn (the
// same loader, reached through purego and through cgo).
func TestHelperLoad(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper of TestCheckCorrupt, run in a child process with $" + helperEnv)
	}
	ctx := context.Background()
	for _, be := range natives() {
		mod, err := be.Load(ctx, path)
		if err != nil {
			// dlopen refusing with an error is fine: only a signal is not.
			fmt.Printf("load refused: %v\n", err)
			continue
		}
		if err := mod.Close(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("loaded by %s\n", be.Name())
	}
}

// signalLine is how the Go runtime reports a fault in C code (it exits
// with status 2 rather than dying by the signal), or in Go code.
var signalLine = regexp.MustCompile(`(?m)^(\[signal )?SIG[A-Z]+: .*$`)

// loadInChild runs TestHelperLoad on path in a child process, bounded by
// 10 s, and returns its output, or an error if the child died from a
// signal, hung or failed.
func loadInChild(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperLoad$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("child hung for 10 s: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return string(out), fmt.Errorf("child killed by %v", ws.Signal())
		}
	}
	if m := signalLine.Find(out); m != nil {
		return string(out), fmt.Errorf("child died from a signal: %s", m)
	}
	if err != nil {
		return string(out), fmt.Errorf("child failed: %w", err)
	}
	return string(out), nil
}

// corruption is a damaged copy of the fixture.
type corruption struct {
	off      int
	old, new []byte
	path     string
}

func (c corruption) String() string {
	return fmt.Sprintf("offset %#x: % x → % x", c.off, c.old, c.new)
}

// TestCheckCorrupt damages the ELF header and the program headers of the
// fixture, one byte or four at a time, with a fixed seed. Check must
// refuse each with ErrFormat or accept it; what it accepts must not kill
// the process that dlopens it (a sample of them is loaded in child
// processes).
func TestCheckCorrupt(t *testing.T) {
	so := fixtureBytes(t)
	headers := fixtureLayout(t, so).headers
	const tries = 400
	maxChildren := 50 // a child takes a few ms (about 1 s under -race)
	if testing.Short() {
		maxChildren = 10
	}
	rng := rand.New(rand.NewPCG(12, 3)) // issue 12 item 3
	dir := t.TempDir()
	var accepted []corruption
	for i := range tries {
		width := 1 + 3*(i%2) // one byte, then four
		c := corruption{off: rng.IntN(headers - width + 1), new: make([]byte, width)}
		c.old = so[c.off : c.off+width]
		for {
			for j := range c.new {
				c.new[j] = byte(rng.Uint32())
			}
			if !bytes.Equal(c.new, c.old) {
				break
			}
		}
		b := slices.Clone(so)
		copy(b[c.off:], c.new)
		c.path = writeFile(t, filepath.Join(dir, fmt.Sprintf("corrupt%03d.so", i)), b)
		if err := elfcheck.Check(c.path); err != nil {
			if !errors.Is(err, backends.ErrFormat) {
				t.Errorf("%v: Check = %v, want ErrFormat", c, err)
			}
			continue
		}
		accepted = append(accepted, c)
	}
	t.Logf("%d corruptions: %d refused, %d accepted", tries, tries-len(accepted), len(accepted))

	// dlopen an evenly spaced sample of the accepted ones, each in a child.
	sample := accepted
	if len(sample) > maxChildren {
		sample = make([]corruption, maxChildren)
		for i := range sample {
			sample[i] = accepted[i*len(accepted)/maxChildren]
		}
	}
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		loaded, refused int
		sem             = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for _, c := range sample {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := loadInChild(c.path)
			if err != nil {
				t.Errorf("%v, accepted by Check: %v\n%s", c, err, out)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(out, "load refused: ") {
				refused++
			} else {
				loaded++
			}
		})
	}
	wg.Wait()
	t.Logf("dlopened %d accepted corruptions in child processes: %d loaded, %d refused with an error", len(sample), loaded, refused)
}

func FuzzCheck(f *testing.F) {
	if !elfcheck.Described() {
		f.Skipf("Check does not describe GOARCH %s", runtime.GOARCH)
	}
	so, err := fixtureSO()
	switch {
	case err == nil:
		f.Add(so)
		f.Add(so[:8192])
		f.Add(so[:len(so)-1])
	case !errors.Is(err, fixtures.ErrNoCompiler):
		f.Fatal(err)
	}
	f.Add([]byte("not an ELF file"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(bytes.Repeat([]byte{0xff}, 128))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Never dlopen here: only Check's own robustness is fuzzed.
		if err := elfcheck.CheckImage(bytes.NewReader(b), int64(len(b))); err != nil && !errors.Is(err, backends.ErrFormat) {
			t.Fatalf("Check = %v, want nil or ErrFormat", err)
		}
	})
}

// TestLoadTruncatedError checks the error Load returns for the .so of
// issue 12 item 3, cut to 8 KiB, which used to kill the host with SIGBUS.
func TestLoadTruncatedError(t *testing.T) {
	so := fixtureBytes(t)
	const cut = 8192
	path := writeFile(t, filepath.Join(t.TempDir(), "truncated.so"), so[:cut])
	// The first PT_LOAD segment the cut leaves short is what the loader
	// would have faulted on.
	want := ""
	for i, p := range fixtureLayout(t, so).progs {
		if p.Type == elf.PT_LOAD && p.Off+p.Filesz > cut {
			want = fmt.Sprintf("not a shared object: PT_LOAD segment %d %s extends past the end of the file (%d bytes)", i, elfcheck.Span(p.Off, p.Filesz), cut)
			break
		}
	}
	if want == "" {
		t.Fatalf("every PT_LOAD segment of the fixture fits in %d bytes", cut)
	}
	for _, be := range natives() {
		backendstest.CheckLoadErrors(t, be, []backendstest.LoadError{{
			Name: be.Name() + "/truncated to 8 KiB", Path: path, Is: backends.ErrFormat, Text: want,
		}}, func(t *testing.T, c backendstest.LoadError) {
			if mapped, _ := elfcheck.IsMapped(c.Path); mapped {
				t.Errorf("%s mapped after a refused load", c.Path)
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	so := writeFile(b, filepath.Join(b.TempDir(), "ok.so"), fixtureBytes(b))
	for b.Loop() {
		if err := elfcheck.Check(so); err != nil {
			b.Fatal(err)
		}
	}
}
