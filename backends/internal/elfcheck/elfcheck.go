// Package elfcheck is the check plugbench's native backends (dlopen through
// purego, cgo, and goplugin) run on a shared object before glibc's dynamic
// loader sees it.
//
// It promises little, and keeps it: [Check] refuses every file whose ELF
// header or program headers would make the loader fault or write outside
// the object's own pages whatever the file's other bytes say. It does not
// promise that a file it accepts loads safely: the loader trusts the rest
// of the file (the dynamic section, symbol and hash tables, relocations,
// versions) and runs the object's constructors, and a crafted or corrupt
// byte there can crash the host, as the plugin's own code can. No check
// short of the loader itself closes that gap; a host that loads files it
// does not trust probes them first, in a child process (the backends'
// Config.Probe).
package elfcheck

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"

	"github.com/plugbench/plugbench/backends"
)

// Check checks the ELF header and the program headers of the file at path:
// what glibc's loader (elf/dl-load.c: open_verify, _dl_map_object_from_fd,
// _dl_map_segments) reads before anything else, and maps, protects and
// reads from on their say-so. It refuses, with an error matching
// backends.ErrFormat that says what is wrong:
//
//  1. A file that is not ELF, or not a shared object for this host: the
//     magic, class (ELFCLASS64), data encoding (little-endian), versions,
//     OS ABI, machine (runtime.GOARCH) and type (ET_DYN); a program header
//     table of the wrong entry size, with no entry or more than maxPhnum
//     (the loader copies it onto its stack), or not inside the file.
//  2. A file cut short, or whose PT_LOAD segments reach past its end: the
//     loader maps each segment's file range, and the first touch of a page
//     past the end of the file is SIGBUS. Also a PT_LOAD with more file
//     than memory, a range that overflows, an alignment that is not a
//     power of two or that the address and offset disagree with, one
//     neither readable nor executable, none at all, and segments out of
//     address order or sharing a page (each is mapped with MAP_FIXED over
//     whatever is there: outside the object's reservation, that is the
//     host's memory).
//  3. Segments the loader reads or changes in place that are not inside
//     the object's pages: exactly one PT_DYNAMIC, PT_PHDR, PT_NOTE and
//     PT_GNU_PROPERTY (whose notes it walks by their sizes), PT_TLS's
//     initialisation image and PT_GNU_EH_FRAME each inside the file
//     contents of a PT_LOAD, from its own offset; PT_GNU_RELRO inside the
//     pages of a writable PT_LOAD (it is made read-only after relocation).
//
// These are the defects whose effect depends on where the loader put the
// object, and so could differ between a probe's child process and the
// host: with them refused, a header fault is the same fault in every
// process on a machine. A missing file returns os.Open's error (it
// matches fs.ErrNotExist). It knows amd64 and arm64 (64-bit,
// little-endian); on any other GOARCH it refuses with
// errors.ErrUnsupported rather than let an unchecked file through. It
// checks the file as it is when called: a file truncated between the
// check and dlopen still faults.
func Check(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return notSO("not a regular file (mode %v)", st.Mode())
	}
	// The headers sit at the start of the file: one read of its first
	// page usually holds them all, and CheckImage reads on where they
	// do not.
	head := make([]byte, min(st.Size(), headRead))
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return CheckImage(&prefixReader{head: head, rest: f}, st.Size())
}

// headRead is how much of a file Check reads at once.
const headRead = 4096

// prefixReader serves reads from the bytes already read, and the rest
// from the file.
type prefixReader struct {
	head []byte
	rest io.ReaderAt
}

func (p *prefixReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(b)) <= int64(len(p.head)) {
		return copy(b, p.head[off:]), nil
	}
	return p.rest.ReadAt(b, off)
}

// CheckImage runs Check's checks on the size bytes of r.
func CheckImage(r io.ReaderAt, size int64) error {
	host, ok := hostELFs[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("checking ELF: GOARCH %s is not described (amd64, arm64 are): %w", runtime.GOARCH, errors.ErrUnsupported)
	}
	c := &elfCheck{r: r, size: uint64(size), machine: host, page: uint64(os.Getpagesize())}
	for _, step := range []func() error{c.header, c.programHeaders, c.loadSegments, c.otherSegments} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// hostELFs are the machines of the GOARCHes Check knows. All are
// ELFCLASS64 and ELFDATA2LSB, which the fixed sizes below assume.
var hostELFs = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"arm64": elf.EM_AARCH64,
}

// Sizes of ELF64 structures.
const (
	ehdrSize = 64
	phdrSize = 56
)

// maxPhnum bounds the program header table: glibc copies it (and a load
// command per entry) onto the stack of the thread calling dlopen.
// Real objects have about ten entries.
const maxPhnum = 1024

var le = binary.LittleEndian

// notSO is the error of a file the loader must not see.
func notSO(format string, args ...any) error {
	return fmt.Errorf("%w: not a shared object: %s", backends.ErrFormat, fmt.Sprintf(format, args...))
}

// span formats the range [start, start+n) as "[0x3e10, +0x258)".
func span(start, n uint64) string { return fmt.Sprintf("[%#x, +%#x)", start, n) }

// contains reports whether [addr, addr+n) lies inside [base, base+length),
// without overflowing.
func contains(base, length, addr, n uint64) bool {
	return addr >= base && n <= length && addr-base <= length-n
}

func pow2(x uint64) bool { return x&(x-1) == 0 }

// segment is a program header and its index in the table, the number
// readelf gives it.
type segment struct {
	elf.ProgHeader
	index int
}

func (s segment) String() string { return fmt.Sprintf("%v segment %d", s.Type, s.index) }

// elfCheck is the state of one Check: what each step found that later
// steps use.
type elfCheck struct {
	r       io.ReaderAt
	size    uint64
	machine elf.Machine
	page    uint64

	hdr   elf.Header64
	progs []segment
	loads []segment // the PT_LOAD segments, in ascending address order
}

// fileBacked returns the PT_LOAD whose file contents hold the memory
// [addr, addr+n).
func (c *elfCheck) fileBacked(addr, n uint64) (segment, bool) {
	for _, l := range c.loads {
		if contains(l.Vaddr, l.Filesz, addr, n) {
			return l, true
		}
	}
	return segment{}, false
}

// inMemory returns the PT_LOAD whose memory, file contents or zero fill,
// holds [addr, addr+n).
func (c *elfCheck) inMemory(addr, n uint64) (segment, bool) {
	for _, l := range c.loads {
		if contains(l.Vaddr, l.Memsz, addr, n) {
			return l, true
		}
	}
	return segment{}, false
}

// read returns the n bytes the loader would find in memory at addr, which
// must come from the file. what names the table in the error; it is
// formatted only on failure.
func (c *elfCheck) read(what any, addr, n uint64) ([]byte, error) {
	l, ok := c.fileBacked(addr, n)
	if !ok {
		return nil, notSO("%v %s is not inside the file contents of a PT_LOAD segment", what, span(addr, n))
	}
	b := make([]byte, n)
	if err := c.readAt(b, l.Off+(addr-l.Vaddr)); err != nil {
		return nil, fmt.Errorf("reading %v: %w", what, err)
	}
	return b, nil
}

// readAt fills b from file offset off, which the caller has checked is
// inside the file.
func (c *elfCheck) readAt(b []byte, off uint64) error {
	n, err := c.r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF // the file shrank under us
	}
	return err
}

// loadedFrom checks that the memory [addr, addr+n) is file contents of a
// PT_LOAD, loaded from file offset off: what a segment or section says of
// itself agrees with what the loader maps. what is formatted only on
// failure.
func (c *elfCheck) loadedFrom(what any, addr, n, off uint64) (segment, error) {
	l, ok := c.fileBacked(addr, n)
	if !ok {
		return l, notSO("%v %s is not inside the file contents of a PT_LOAD segment", what, span(addr, n))
	}
	if got := l.Off + (addr - l.Vaddr); got != off {
		return l, notSO("%v at %#x is loaded by %v from file offset %#x, not from its own offset %#x", what, addr, l, got, off)
	}
	return l, nil
}

// header checks the ELF header as open_verify does, and the program header
// table's place in the file.
func (c *elfCheck) header() error {
	var b [ehdrSize]byte
	n, err := c.r.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading the ELF header: %w", err)
	}
	if n < len(elf.ELFMAG) || string(b[:len(elf.ELFMAG)]) != elf.ELFMAG {
		return notSO("no ELF header")
	}
	if n < ehdrSize {
		return notSO("file too short for an ELF header (%d bytes)", n)
	}
	id := b[:elf.EI_NIDENT]
	if cl := elf.Class(id[elf.EI_CLASS]); cl != elf.ELFCLASS64 {
		return notSO("class %v, the host (%s) takes %v", cl, runtime.GOARCH, elf.ELFCLASS64)
	}
	if d := elf.Data(id[elf.EI_DATA]); d != elf.ELFDATA2LSB {
		return notSO("data encoding %v, the host (%s) takes %v", d, runtime.GOARCH, elf.ELFDATA2LSB)
	}
	if v := elf.Version(id[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return notSO("ELF identification version %v", v)
	}
	switch abi := elf.OSABI(id[elf.EI_OSABI]); abi {
	case elf.ELFOSABI_NONE:
		if v := id[elf.EI_ABIVERSION]; v != 0 {
			return notSO("ABI version %d with %v", v, abi)
		}
	case elf.ELFOSABI_LINUX:
	default:
		return notSO("OS ABI %v (the loader takes %v or %v)", abi, elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX)
	}
	if !allZero(id[elf.EI_ABIVERSION+1:]) {
		return notSO("nonzero padding in e_ident")
	}
	if _, err := binary.Decode(b[:], le, &c.hdr); err != nil {
		return fmt.Errorf("decoding the ELF header: %w", err)
	}
	h := &c.hdr
	if h.Version != uint32(elf.EV_CURRENT) { // elf.Version is a byte: compare all 32 bits
		return notSO("ELF header version %d", h.Version)
	}
	if m := elf.Machine(h.Machine); m != c.machine {
		return notSO("built for %v, the host (%s) is %v", m, runtime.GOARCH, c.machine)
	}
	if t := elf.Type(h.Type); t != elf.ET_DYN {
		return notSO("type %v, want %v", t, elf.ET_DYN)
	}
	if h.Phentsize != phdrSize {
		return notSO("program header entry size %d, want %d", h.Phentsize, phdrSize)
	}
	if h.Phnum == 0 || h.Phnum > maxPhnum {
		return notSO("%d program headers (want 1 to %d)", h.Phnum, maxPhnum)
	}
	if n := uint64(h.Phnum) * phdrSize; !contains(0, c.size, h.Phoff, n) {
		return notSO("program header table %s extends past the end of the file (%d bytes)", span(h.Phoff, n), c.size)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// programHeaders reads the program header table.
func (c *elfCheck) programHeaders() error {
	b := make([]byte, uint64(c.hdr.Phnum)*phdrSize)
	if err := c.readAt(b, c.hdr.Phoff); err != nil {
		return fmt.Errorf("reading the program headers: %w", err)
	}
	for i := range int(c.hdr.Phnum) {
		p := b[i*phdrSize:]
		c.progs = append(c.progs, segment{elf.ProgHeader{ // elf.Prog64's layout
			Type: elf.ProgType(le.Uint32(p)), Flags: elf.ProgFlag(le.Uint32(p[4:])),
			Off: le.Uint64(p[8:]), Vaddr: le.Uint64(p[16:]), Paddr: le.Uint64(p[24:]),
			Filesz: le.Uint64(p[32:]), Memsz: le.Uint64(p[40:]), Align: le.Uint64(p[48:]),
		}, i})
	}
	return nil
}

// loadSegments checks the PT_LOAD segments: what the loader mmaps.
func (c *elfCheck) loadSegments() error {
	for _, s := range c.progs {
		if s.Type != elf.PT_LOAD {
			continue
		}
		if s.Filesz > s.Memsz {
			return notSO("%v: file size %#x exceeds memory size %#x", s, s.Filesz, s.Memsz)
		}
		// Even with Filesz 0 the loader maps the page holding Off when the
		// address is not page-aligned, and zeroes the rest of it.
		if !contains(0, c.size, s.Off, s.Filesz) {
			return notSO("%v %s extends past the end of the file (%d bytes)", s, span(s.Off, s.Filesz), c.size)
		}
		if s.Vaddr > math.MaxUint64-c.page || s.Memsz > math.MaxUint64-c.page-s.Vaddr {
			return notSO("%v: memory range %s overflows", s, span(s.Vaddr, s.Memsz))
		}
		if !pow2(s.Align) {
			return notSO("%v: alignment %#x is not a power of two", s, s.Align)
		}
		if s.Align > 1 && (s.Vaddr-s.Off)%s.Align != 0 {
			return notSO("%v: address %#x and file offset %#x differ modulo its alignment %#x", s, s.Vaddr, s.Off, s.Align)
		}
		if (s.Vaddr-s.Off)%c.page != 0 {
			return notSO("%v: address %#x and file offset %#x differ modulo the page size %#x", s, s.Vaddr, s.Off, c.page)
		}
		if s.Memsz > 0 && s.Flags&(elf.PF_R|elf.PF_X) == 0 {
			return notSO("%v is neither readable nor executable (%v)", s, s.Flags)
		}
		if len(c.loads) > 0 {
			prev := c.loads[len(c.loads)-1]
			if s.Vaddr < prev.Vaddr {
				return notSO("PT_LOAD segments out of address order: %v at %#x follows %v at %#x", s, s.Vaddr, prev, prev.Vaddr)
			}
			if end := alignUp(prev.Vaddr+prev.Memsz, c.page); end > s.Vaddr-s.Vaddr%c.page {
				return notSO("%v %s and %v %s share memory", prev, span(prev.Vaddr, prev.Memsz), s, span(s.Vaddr, s.Memsz))
			}
		}
		c.loads = append(c.loads, s)
	}
	if len(c.loads) == 0 {
		return notSO("no PT_LOAD segment")
	}
	return nil
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// otherSegments checks the segments the loader reads from the mapped
// image.
func (c *elfCheck) otherSegments() error {
	var dyns, tls []segment
	for _, s := range c.progs {
		var err error
		switch s.Type {
		case elf.PT_DYNAMIC:
			dyns = append(dyns, s)
		case elf.PT_PHDR:
			// glibc re-reads the program headers from here once mapped.
			_, err = c.loadedFrom(s, s.Vaddr, uint64(c.hdr.Phnum)*phdrSize, c.hdr.Phoff)
		case elf.PT_NOTE, elf.PT_GNU_PROPERTY:
			err = c.notes(s)
		case elf.PT_GNU_EH_FRAME:
			if s.Filesz != s.Memsz {
				return notSO("%v: memory size %#x differs from file size %#x", s, s.Memsz, s.Filesz)
			}
			if s.Filesz > 0 {
				_, err = c.loadedFrom(s, s.Vaddr, s.Filesz, s.Off)
			}
		case elf.PT_TLS:
			tls = append(tls, s)
			err = c.tlsSegment(s)
		case elf.PT_GNU_RELRO:
			err = c.relroSegment(s)
		}
		if err != nil {
			return err
		}
	}
	if len(tls) > 1 {
		return notSO("%d PT_TLS segments", len(tls))
	}
	switch {
	case len(dyns) == 0:
		return notSO("no PT_DYNAMIC segment")
	case len(dyns) > 1:
		return notSO("%d PT_DYNAMIC segments", len(dyns))
	}
	dyn := dyns[0]
	if dyn.Filesz == 0 || dyn.Filesz > dyn.Memsz {
		return notSO("%v: file size %#x, memory size %#x", dyn, dyn.Filesz, dyn.Memsz)
	}
	_, err := c.loadedFrom(dyn, dyn.Vaddr, dyn.Filesz, dyn.Off)
	return err
}

// notes checks a PT_NOTE or PT_GNU_PROPERTY segment: glibc parses the notes
// in place, trusting their sizes.
func (c *elfCheck) notes(s segment) error {
	if s.Memsz == 0 && s.Filesz == 0 {
		return nil
	}
	if s.Filesz != s.Memsz {
		return notSO("%v: memory size %#x differs from file size %#x", s, s.Memsz, s.Filesz)
	}
	align := s.Align
	switch align {
	case 0, 1, 4:
		align = 4
	case 8:
	default:
		return notSO("%v: alignment %d, notes are aligned to 4 or 8", s, s.Align)
	}
	if _, err := c.loadedFrom(s, s.Vaddr, s.Filesz, s.Off); err != nil {
		return err
	}
	b, err := c.read(s, s.Vaddr, s.Filesz)
	if err != nil {
		return err
	}
	for off := uint64(0); off < uint64(len(b)); {
		rest := uint64(len(b)) - off
		if rest < 12 {
			return notSO("%v: %d stray bytes after its last note", s, rest)
		}
		namesz, descsz := uint64(le.Uint32(b[off:])), uint64(le.Uint32(b[off+4:]))
		// glibc's ELF_NOTE_NEXT_OFFSET: the name pads the header to the
		// alignment, the descriptor pads itself.
		n := alignUp(alignUp(12+namesz, align)+descsz, align)
		if n > rest {
			return notSO("%v: note at %#x (%d bytes) overruns the segment", s, s.Vaddr+off, n)
		}
		off += n
	}
	return nil
}

// tlsSegment checks PT_TLS: the loader copies its initialisation image from
// the mapped segment into each thread's block.
func (c *elfCheck) tlsSegment(s segment) error {
	if s.Memsz == 0 {
		return nil
	}
	if s.Filesz > s.Memsz {
		return notSO("%v: file size %#x exceeds memory size %#x", s, s.Filesz, s.Memsz)
	}
	if !pow2(s.Align) {
		return notSO("%v: alignment %#x is not a power of two", s, s.Align)
	}
	if s.Filesz == 0 {
		return nil
	}
	_, err := c.loadedFrom(s, s.Vaddr, s.Filesz, s.Off)
	return err
}

// relroSegment checks PT_GNU_RELRO, whose pages the loader makes read-only
// after relocation, from the page holding its start to the page holding
// its end, exclusive: outside the object that would write-protect the
// host's memory, over code it would make the code unexecutable. lld pads
// the segment to the end of its last page, past the PT_LOAD's Memsz.
func (c *elfCheck) relroSegment(s segment) error {
	if s.Memsz == 0 {
		return nil
	}
	l, ok := c.inMemory(s.Vaddr, 1)
	if !ok {
		return notSO("%v %s does not start inside a PT_LOAD segment", s, span(s.Vaddr, s.Memsz))
	}
	if l.Flags&elf.PF_W == 0 {
		return notSO("%v %s lies in %v, which is not writable", s, span(s.Vaddr, s.Memsz), l)
	}
	if end := s.Vaddr + min(s.Memsz, math.MaxUint64-s.Vaddr); end&^(c.page-1) > alignUp(l.Vaddr+l.Memsz, c.page) {
		return notSO("%v %s extends past the pages of %v %s", s, span(s.Vaddr, s.Memsz), l, span(l.Vaddr, l.Memsz))
	}
	return nil
}
