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
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/cgo"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/internal/dynload"
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
func natives(tb testing.TB) []backends.Backend {
	bs := []backends.Backend{backendstest.New(tb, dlopen.New, dlopen.Config{})}
	if cgo.Available {
		bs = append(bs, backendstest.New(tb, cgo.New, cgo.Config{}))
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
			for _, be := range natives(t) {
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
	// extent is the length the file needs for the program header table
	// and every PT_LOAD segment's file contents to fit: what the loader
	// reads or maps.
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
	}
	l.extent = l.headers
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
			// Everything the loader maps is still there: the cut only
			// dropped what it never reads (the section headers, which
			// linkers put last). Such a file passes, every time.
			if err != nil {
				t.Errorf("cut at %d bytes (%s), past everything the loader maps: Check = %v", n, lengths[n], err)
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
	t.Logf("%d cuts refused; the loader maps %d of the %d bytes", refused, l.extent, len(so))
}

// patch returns a copy of b with v written at off, little-endian, in
// len(v) bytes.
func patch(b []byte, off int, v ...byte) []byte {
	c := slices.Clone(b)
	copy(c[off:], v)
	return c
}

func u16(x uint16) []byte { return binary.LittleEndian.AppendUint16(nil, x) }
func u64(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }

// Offsets in an ELF64 header and program header.
const (
	eType, eMachine, ePhoff, ePhnum = 16, 18, 32, 56
	pFlags, pOffset, pVaddr         = 4, 8, 16
	pFilesz, pMemsz                 = 32, 40
)

// prog returns the file offset of the first program header of type typ
// after the first skip of them, and the header.
func (l layout) prog(t testing.TB, typ elf.ProgType, skip int) (int, *elf.Prog) {
	t.Helper()
	for i, p := range l.progs {
		if p.Type == typ {
			if skip == 0 {
				return l.phoff + i*elfcheck.PhdrSize, p
			}
			skip--
		}
	}
	t.Fatalf("the fixture has no %v segment to damage", typ)
	return 0, nil
}

// TestCheckRefuses checks what Check promises, defect by defect: each
// class it refuses, made deliberately in the fixture's headers (whatever
// the machine's compiler put in the rest of it), is ErrFormat and says
// what is wrong.
func TestCheckRefuses(t *testing.T) {
	so := fixtureBytes(t)
	l := fixtureLayout(t, so)
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	load0, _ := l.prog(t, elf.PT_LOAD, 0)
	load1, _ := l.prog(t, elf.PT_LOAD, 1)
	last := 0
	for i, p := range l.progs {
		if p.Type == elf.PT_LOAD {
			last = l.phoff + i*elfcheck.PhdrSize
		}
	}
	dyn, _ := l.prog(t, elf.PT_DYNAMIC, 0)
	relro, _ := l.prog(t, elf.PT_GNU_RELRO, 0)
	get := func(off int) uint64 { return binary.LittleEndian.Uint64(so[off:]) }
	for _, c := range []struct {
		class, name string
		b           []byte
		want        string
	}{
		{"not ELF", "text", []byte("#!/bin/sh\necho not a plugin\n"), "no ELF header"},
		{"not ELF", "empty", nil, "no ELF header"},
		{"not ELF", "magic only", []byte(elf.ELFMAG), "file too short for an ELF header"},
		{"wrong class", "32-bit", patch(so, elf.EI_CLASS, byte(elf.ELFCLASS32)), "class ELFCLASS32"},
		{"wrong class", "big-endian", patch(so, elf.EI_DATA, byte(elf.ELFDATA2MSB)), "data encoding ELFDATA2MSB"},
		{"wrong machine", other.String(), patch(so, eMachine, u16(uint16(other))...), "built for " + other.String()},
		{"wrong machine", "EM_386", patch(so, eMachine, u16(uint16(elf.EM_386))...), "built for EM_386"},
		{"wrong type", "executable", patch(so, eType, u16(uint16(elf.ET_EXEC))...), "type ET_EXEC"},
		{"wrong type", "relocatable", patch(so, eType, u16(uint16(elf.ET_REL))...), "type ET_REL"},
		{"wrong type", "core", patch(so, eType, u16(uint16(elf.ET_CORE))...), "type ET_CORE"},
		{"cut short", "program headers past the end", patch(so, ePhoff, u64(uint64(len(so)))...), "program header table"},
		{"cut short", "no program headers", patch(so, ePhnum, u16(0)...), "0 program headers"},
		{"cut short", "PT_LOAD past the end", patch(so, last+pOffset, u64(uint64(len(so)))...), "extends past the end of the file"},
		{"outside the image", "PT_LOAD with more file than memory", patch(so, load1+pMemsz, u64(get(load1+pFilesz)-1)...), "exceeds memory size"},
		{"outside the image", "PT_LOADs sharing memory",
			patch(patch(so, load1+pOffset, u64(get(load0+pOffset))...), load1+pVaddr, u64(get(load0+pVaddr))...), "share memory"},
		{"outside the image", "PT_DYNAMIC outside", patch(so, dyn+pVaddr, u64(1<<40)...), "is not inside the file contents of a PT_LOAD segment"},
		{"outside the image", "PT_GNU_RELRO over read-only memory", patch(so, relro+pVaddr, u64(get(load0+pVaddr))...), "which is not writable"},
	} {
		t.Run(c.class+"/"+c.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "bad.so"), c.b)
			err := elfcheck.Check(path)
			if !errors.Is(err, backends.ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want ErrFormat saying %q", err, c.want)
			}
		})
	}
	t.Run("not ELF/a folder", func(t *testing.T) {
		if err := elfcheck.Check(t.TempDir()); !errors.Is(err, backends.ErrFormat) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Check = %v, want ErrFormat: not a regular file", err)
		}
	})
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

// hostEnv names the list of files TestHelperHost loads, one per line.
const hostEnv = "PLUGBENCH_ELF_HOST"

// probing returns the native backends with the probe on.
func probing(tb testing.TB) []backends.Backend {
	bs := []backends.Backend{backendstest.New(tb, dlopen.New, dlopen.Config{Probe: true})}
	if cgo.Available {
		bs = append(bs, backendstest.New(tb, cgo.New, cgo.Config{Probe: true}))
	}
	return bs
}

// TestHelperHost is not a test: TestProbeCorrupt runs it in a child
// process as the host that loads files it does not trust, with the probe
// on. It loads each file listed in $PLUGBENCH_ELF_HOST with every native
// backend, a few at a time, and prints a line for each load: "loaded
// BACKEND PATH" or "refused BACKEND PATH: ERROR". If it dies, its output
// says which loads it finished.
func TestHelperHost(t *testing.T) {
	list := os.Getenv(hostEnv)
	if list == "" {
		t.Skip("helper of TestProbeCorrupt, run in a child process with $" + hostEnv)
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sem = make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	)
	for _, path := range strings.Fields(string(b)) {
		for _, be := range probing(t) {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				mod, err := be.Load(ctx, path)
				if err == nil {
					err = mod.Close(ctx)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fmt.Printf("refused %s %s: %s\n", be.Name(), path, strings.ReplaceAll(err.Error(), "\n", " "))
					return
				}
				fmt.Printf("loaded %s %s\n", be.Name(), path)
			})
		}
	}
	wg.Wait()
}

// TestProbeCorrupt damages the ELF header and the program headers of the
// fixture, one byte or four at a time, with a fixed seed. Check must
// refuse each with ErrFormat or accept it. What it accepts is loaded by a
// host with the probe on (TestHelperHost, in a child process): each load
// must be refused with an error or succeed, and the host must live to
// report every one. Which corruptions crash the loader depends on the
// machine (its kernel and CPU: a segment made execute-only is unreadable
// only where the hardware can say so); that the host lives does not.
func TestProbeCorrupt(t *testing.T) {
	so := fixtureBytes(t)
	headers := fixtureLayout(t, so).headers
	const tries = 400
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
	if testing.Short() {
		accepted = accepted[:min(len(accepted), 20)]
	}
	var list strings.Builder
	byPath := map[string]corruption{}
	for _, c := range accepted {
		list.WriteString(c.path + "\n")
		byPath[c.path] = c
	}
	listFile := writeFile(t, filepath.Join(dir, "accepted.txt"), []byte(list.String()))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHost$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), hostEnv+"="+listFile)
	out, err := cmd.Output()
	if err != nil {
		tail := out[max(0, len(out)-2000):]
		t.Fatalf("the host died loading files the probe vouched for (%v); what it had done:\n%s", err, tail)
	}
	want := len(accepted) * len(probing(t))
	loaded, refused := 0, map[string]int{}
	var seen []string // each corruption the probe refused, once
	for line := range strings.Lines(string(out)) {
		switch {
		case strings.HasPrefix(line, "loaded "):
			loaded++
		case strings.HasPrefix(line, "refused "):
			f := strings.Fields(line)
			c := byPath[f[2][:len(f[2])-1]]
			kind := "error"
			switch {
			case strings.Contains(line, backends.ErrCrashed.Error()):
				kind = "crashed the probe"
				if m := regexp.MustCompile(`SIG[A-Z]+`).FindString(line); m != "" {
					kind += " with " + m
				}
			case strings.Contains(line, "probe: no answer"):
				kind = "hung in the probe"
			case strings.Contains(line, "probe: "):
				kind = "refused in the probe"
			}
			refused[kind]++
			if s := fmt.Sprintf("%v: %s", c, kind); !slices.Contains(seen, s) {
				seen = append(seen, s)
			}
		}
	}
	if got := loaded + sumValues(refused); got != want {
		t.Fatalf("the host reported %d loads of %d:\n%s", got, want, out)
	}
	t.Logf("%d corruptions: Check refused %d and accepted %d; with the probe, %d loads of those by %d backends: %d loaded, refused: %v",
		tries, tries-len(accepted), len(accepted), want, len(probing(t)), loaded, refused)
	slices.Sort(seen)
	for _, s := range seen {
		t.Logf("refused: %s", s)
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// strtabCrash returns the fixture with its DT_STRTAB pointing far outside
// any mapping (base + 2^62, not even a canonical address): Check accepts
// it (the dynamic section is not its to check), and glibc's loader
// faults reading the first DT_NEEDED name, on every machine.
func strtabCrash(t *testing.T, so []byte) []byte {
	t.Helper()
	l := fixtureLayout(t, so)
	_, dyn := l.prog(t, elf.PT_DYNAMIC, 0)
	for off := int(dyn.Off); off+16 <= int(dyn.Off+dyn.Filesz); off += 16 {
		switch elf.DynTag(binary.LittleEndian.Uint64(so[off:])) {
		case elf.DT_STRTAB:
			return patch(so, off+8, u64(1<<62)...)
		case elf.DT_NULL:
			t.Fatal("the fixture's dynamic section has no DT_STRTAB")
		}
	}
	t.Fatal("the fixture's dynamic section has no DT_NULL")
	return nil
}

// TestProbe checks what the probe promises, with each native backend: a
// healthy plugin loads; one that crashes the loader is an error naming
// the signal, and never reaches this process's loader; one whose
// constructor never returns is killed at the deadline and leaves this
// process's loader free; one built for another backend is refused.
func TestProbe(t *testing.T) {
	so := fixtureBytes(t)
	dir := t.TempDir()
	ok := writeFile(t, filepath.Join(dir, "ok.so"), so)
	crash := writeFile(t, filepath.Join(dir, "crash.so"), strtabCrash(t, so))
	if err := elfcheck.Check(crash); err != nil {
		t.Fatalf("Check refuses the file whose DT_STRTAB is wild (%v): the test needs one it accepts", err)
	}
	hang := filepath.Join(dir, fixtures.SOFaultName("startloop"))
	wrong := filepath.Join(dir, "wasm.so")
	ctx := context.Background()
	for out, extra := range map[string]string{hang: "-DPLUGBENCH_FAULT=startloop", wrong: `-DPLUGBENCH_BACKEND="wasm"`} {
		if err := fixtures.BuildSO(ctx, out, extra); err != nil {
			t.Fatal(err)
		}
	}
	for _, be := range probing(t) {
		t.Run(be.Name(), func(t *testing.T) {
			mod, err := be.Load(ctx, ok)
			if err != nil {
				t.Fatal(err)
			}
			p, err := mod.Instantiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := p.Min(7, -3); v != -3 || err != nil {
				t.Errorf("min(7, -3) = %d, %v", v, err)
			}
			p.Close(ctx)
			if err := mod.Close(ctx); err != nil {
				t.Fatal(err)
			}

			_, err = be.Load(ctx, crash)
			var e *backends.Error
			if !errors.Is(err, backends.ErrCrashed) || !errors.As(err, &e) || e.Path != crash || !strings.Contains(err.Error(), "SIGSEGV") {
				t.Fatalf("Load of a file that crashes the loader = %v, want ErrCrashed naming SIGSEGV and the file", err)
			}
			if mapped, _ := dynload.IsMapped(crash); mapped {
				t.Errorf("%s is mapped in the host after its probe failed", crash)
			}
			t.Logf("a file that crashes the loader: %v", err)

			hctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err = be.Load(hctx, hang)
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backends.ErrNoInterrupt) {
				t.Fatalf("Load of a constructor that never returns = %v, want the deadline, and not ErrNoInterrupt: the probe's child is killed", err)
			}
			if p, stuck := dynload.Stuck(); stuck {
				t.Fatalf("the loader is locked by %s after a probe that was killed", p)
			}
			_, err = be.Load(ctx, wrong)
			if !errors.Is(err, backends.ErrIdentity) || !strings.Contains(err.Error(), "probe: ") {
				t.Fatalf("Load of a plugin built for wasm = %v, want ErrIdentity from the probe", err)
			}
			mod, err = be.Load(ctx, ok)
			if err != nil {
				t.Fatalf("a healthy plugin after the others: %v", err)
			}
			mod.Close(ctx)
		})
	}
}

// TestProbeFunc checks the backends' Probe functions, which a host calls
// to vet a file without loading it.
func TestProbeFunc(t *testing.T) {
	so := writeFile(t, filepath.Join(t.TempDir(), "ok.so"), fixtureBytes(t))
	for name, probe := range map[string]func(context.Context, string, time.Duration) (backends.Identity, error){
		dlopen.Name: dlopen.Probe, cgo.Name: cgo.Probe,
	} {
		id, err := probe(context.Background(), so, 0)
		if err != nil || id.Backend != dlopen.Name || id.Lang != "c" {
			t.Errorf("%s.Probe = %+v, %v; want the C fixture built for dlopen", name, id, err)
		}
		if mapped, _ := dynload.IsMapped(so); mapped {
			t.Errorf("%s.Probe mapped %s in this process", name, so)
		}
	}
	_, err := dlopen.Probe(context.Background(), filepath.Join(t.TempDir(), "missing.so"), 0)
	if err == nil || !strings.Contains(err.Error(), "dlopen") {
		t.Errorf("Probe of a missing file = %v, want dlopen's error", err)
	}
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
	for _, be := range natives(t) {
		backendstest.CheckLoadErrors(t, be, []backendstest.LoadError{{
			Name: be.Name() + "/truncated to 8 KiB", Path: path, Is: backends.ErrFormat, Text: want,
		}}, func(t *testing.T, c backendstest.LoadError) {
			if mapped, _ := dynload.IsMapped(c.Path); mapped {
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
