// Package elfcheck is what plugbench's native backends, dlopen (through
// purego) and cgo, share about glibc's dynamic loader, so that both load a
// shared object the same way:
//
//  1. [Check] validates the file before dlopen(3) ever sees it: the loader
//     trusts the file, and a malformed one kills the host with a signal.
//  2. [Abandon] and [Stuck] remember, for the whole process, that a dlopen
//     was abandoned at its context's deadline: its constructor still runs
//     and holds the loader's lock, so no backend can load again.
//  3. [IsMapped] tells whether a file is mapped into the process, which
//     proves that a cold load really mapped the library.
package elfcheck

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"

	"github.com/plugbench/plugbench/backends"
)

// Check checks that the file at path is a shared object that glibc's
// dynamic loader can map, relocate and initialise without faulting, before
// dlopen(3) ever sees it. dlopen reports a malformed object as a signal, not
// an error: a .so cut short makes the loader touch pages mapped past the end
// of the file (SIGBUS), a bad pointer in its tables makes it read or write
// wild memory (SIGSEGV), and a few impossible values trip an assert (SIGABRT).
// Any of them kills the host. A missing file returns os.Open's error (it
// matches fs.ErrNotExist); every other refusal matches backends.ErrFormat and
// says what is wrong.
//
// It checks, in this order, what the loader (glibc's elf/dl-load.c:
// open_verify and _dl_map_object_from_fd, then the dynamic section, hash
// tables, versions and relocations it reads from the mapped image) relies on:
//
//  1. The ELF header: magic; the class, data encoding and machine of the
//     running binary (runtime.GOARCH); EV_CURRENT; OS ABI and zero padding as
//     open_verify wants them; type ET_DYN; the program header entry size,
//     and a program header table inside the file of at most maxPhnum entries
//     (the loader copies it onto its stack).
//  2. PT_LOAD segments: each one's file range [Off, Off+Filesz) inside the
//     file (the loader mmaps it; a page past the end of the file is SIGBUS
//     on first touch, and the loader touches the last one when it zeroes the
//     tail of the page after Filesz); Filesz ≤ Memsz; a power-of-two
//     alignment with Off ≡ Vaddr modulo it and modulo the page size (mmap
//     maps whole pages); readable or executable; ascending addresses with no
//     page of memory shared by two segments (each is mapped with MAP_FIXED,
//     over whatever was there); no address arithmetic that overflows.
//  3. The section header table inside the file, parsed by debug/elf; every
//     section inside the file; every allocated section loaded by a PT_LOAD
//     from its own file offset, executable and writable sections in
//     executable and writable segments. The loader ignores sections, but a
//     disagreement between the two tables means one of them is corrupt, and
//     it is how a damaged program header shows itself.
//  4. The other segments the loader reads from the mapped image rather than
//     from the file: exactly one PT_DYNAMIC, non-empty; PT_PHDR (the loader
//     re-reads the program headers through it); PT_NOTE and PT_GNU_PROPERTY
//     (parsed note by note); PT_TLS's initialisation image; PT_GNU_EH_FRAME:
//     each inside the file contents of one PT_LOAD, at its own file offset.
//     PT_GNU_RELRO inside the pages of one writable PT_LOAD (the loader
//     mprotects them read-only after relocation, whatever is there).
//  5. The dynamic section: a DT_NULL before the end of PT_DYNAMIC (the loader
//     stops at DT_NULL, nowhere else); DT_STRTAB, DT_STRSZ, DT_SYMTAB and a
//     hash table; every entry the loader dereferences on the strength of
//     another (DT_RELA → DT_RELASZ, DT_RELAENT; DT_JMPREL → DT_PLTREL,
//     DT_PLTRELSZ, DT_PLTGOT; DT_INIT_ARRAY → DT_INIT_ARRAYSZ; ...); the
//     values it asserts (DT_RELAENT, DT_PLTREL, DT_RELRENT, DT_SYMENT);
//     sizes that are whole entries; the string table inside the image and
//     ending in NUL, and every DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH
//     string inside it; every table the tags point to inside the image;
//     DT_INIT and DT_FINI in executable memory.
//  6. The hash tables dlsym walks: DT_GNU_HASH (a power-of-two bloom filter,
//     which glibc asserts; buckets and chains inside the image, chains that
//     end) and DT_HASH (buckets and chains inside the image, no chain that
//     loops). They give the number of dynamic symbols.
//  7. The dynamic symbols: each name inside the string table; none both
//     undefined and local (the loader would bind it to the load address);
//     each defined function (or IFUNC resolver) in executable memory, each
//     defined object inside a segment's memory.
//  8. Symbol versions: the DT_VERNEED and DT_VERDEF chains inside the image,
//     their names inside the string table, each DT_VERNEED file one of the
//     DT_NEEDED libraries (glibc asserts it), DT_VERSYM present if they are
//     (glibc reads it unchecked), and every DT_VERSYM index within the
//     versions defined (the loader indexes an array with it).
//  9. Relocations (DT_RELA, DT_JMPREL, DT_RELR): each writes inside a
//     writable segment (any segment with DT_TEXTREL) and names a symbol of
//     the table; GOT and PLT entries name a real symbol; the first
//     DT_RELACOUNT are RELATIVE (glibc asserts it, and an assertion in
//     ld.so ends the process); IRELATIVE resolvers are in executable memory.
//  10. The constructors and destructors the loader calls: every DT_INIT_ARRAY
//     and DT_FINI_ARRAY entry is relocated to executable memory.
//  11. debug/elf's own reading of the dynamic section agrees: the sections
//     of type SHT_DYNAMIC, SHT_DYNSYM (and its string table), SHT_GNU_HASH,
//     SHT_HASH, SHT_INIT_ARRAY, SHT_FINI_ARRAY and the GNU version types are
//     where PT_DYNAMIC and the matching dynamic entries say, and
//     File.DynamicSymbols and File.ImportedLibraries
//     (File.DynString(DT_NEEDED)) succeed.
//
// # What it cannot check
//
// Only the structure the loader trusts, not the code it runs. The loader
// calls the object's constructors (DT_INIT, DT_INIT_ARRAY) and IFUNC
// resolvers, and Load calls its exports: a corrupt instruction, or a corrupt
// byte of data the code uses, faults there, and no check short of running it
// finds that. The same holds for what relocations compute (an addend that
// points into the wrong function) as opposed to where they write, for the
// unwind tables (read only when something unwinds), for TLS block sizes (a
// huge PT_TLS makes the first access abort in __tls_get_addr), and for the
// libraries named by DT_NEEDED, which the loader maps in turn and this
// function never sees. It checks the file as it is when called: a file
// truncated between the check and dlopen still faults. It knows amd64 and
// arm64 (64-bit, little-endian, RELA relocations); on any other GOARCH it
// refuses with errors.ErrUnsupported rather than let an unchecked file
// through.
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
	if st.Size() > maxSnapshot {
		return CheckImage(f, st.Size())
	}
	// A plugin is small: read it in one go rather than in a few dozen
	// system calls, and check one snapshot of it.
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return CheckImage(bytes.NewReader(b), st.Size())
}

// maxSnapshot is the largest file Check reads whole.
const maxSnapshot = 16 << 20

// CheckImage runs Check's checks on the size bytes of r.
func CheckImage(r io.ReaderAt, size int64) error {
	host, ok := hostELFs[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("checking ELF: GOARCH %s is not described (amd64, arm64 are): %w", runtime.GOARCH, errors.ErrUnsupported)
	}
	c := &elfCheck{r: r, size: uint64(size), host: host, page: uint64(os.Getpagesize())}
	for _, step := range []func() error{
		c.header,
		c.programHeaders,
		c.loadSegments,
		c.sectionHeaders,
		c.otherSegments,
		c.dynamicSection,
		c.hashTables,
		c.symbols,
		c.versions,
		c.relocations,
		c.constructors,
		c.debugELFAgrees,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// hostELF describes the shared objects a GOARCH's loader takes.
type hostELF struct {
	machine elf.Machine
	// Relocation types Check treats specially.
	relative, irelative, tlsdesc, globDat, jumpSlot uint32
}

// hostELFs are the GOARCHes Check knows. All are ELFCLASS64,
// ELFDATA2LSB and use RELA relocations only (glibc's ELF_MACHINE_NO_REL),
// which the fixed sizes below assume.
var hostELFs = map[string]hostELF{
	"amd64": {
		elf.EM_X86_64, uint32(elf.R_X86_64_RELATIVE), uint32(elf.R_X86_64_IRELATIVE),
		uint32(elf.R_X86_64_TLSDESC), uint32(elf.R_X86_64_GLOB_DAT), uint32(elf.R_X86_64_JMP_SLOT),
	},
	"arm64": {
		elf.EM_AARCH64, uint32(elf.R_AARCH64_RELATIVE), uint32(elf.R_AARCH64_IRELATIVE),
		uint32(elf.R_AARCH64_TLSDESC), uint32(elf.R_AARCH64_GLOB_DAT), uint32(elf.R_AARCH64_JUMP_SLOT),
	},
}

// Sizes of ELF64 structures.
const (
	ehdrSize    = 64
	phdrSize    = 56
	shdrSize    = 64
	dynSize     = 16
	symSize     = 24
	relaSize    = 24
	verneedSize = 16
	vernauxSize = 16
	verdefSize  = 20
	verdauxSize = 8
	wordSize    = 8
)

// maxPhnum bounds the program header table: glibc copies it (and a load
// command per entry) onto the stack of the thread calling dlopen.
// Real objects have about ten entries.
const maxPhnum = 1024

// maxVersionEntries bounds the version chains, which glibc follows to a
// zero link whatever DT_VERNEEDNUM and DT_VERDEFNUM say.
const maxVersionEntries = 1 << 16

// DT_RELR and friends (glibc 2.36), which debug/elf does not name.
const (
	dtRELRSZ  elf.DynTag = 35
	dtRELR    elf.DynTag = 36
	dtRELRENT elf.DynTag = 37
)

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
	r    io.ReaderAt
	size uint64
	host hostELF
	page uint64

	hdr   elf.Header64
	progs []segment
	loads []segment // the PT_LOAD segments, in ascending address order
	dyn   segment   // PT_DYNAMIC
	file  *elf.File // debug/elf's view, for the section headers

	tags    map[elf.DynTag][]uint64 // dynamic entries, in order, per tag
	strtab  []byte                  // the dynamic string table
	needed  []string                // DT_NEEDED
	textrel bool                    // relocations may write to read-only segments
	nsyms   uint64                  // dynamic symbols, from the hash tables
	syms    []elf.Sym64
	// slots are the DT_INIT_ARRAY and DT_FINI_ARRAY entries by address;
	// relocations fills in how each is relocated.
	slots map[uint64]*slot
}

// slot is an entry of DT_INIT_ARRAY or DT_FINI_ARRAY: a function pointer the
// loader calls once relocations have written it.
type slot struct {
	array string
	rela  *elf.Rela64 // the last RELA relocation writing it, if any
	relr  bool        // whether DT_RELR relocates it
}

// tag returns the last value of a dynamic tag (glibc keeps the last).
func (c *elfCheck) tag(t elf.DynTag) (uint64, bool) {
	v := c.tags[t]
	if len(v) == 0 {
		return 0, false
	}
	return v[len(v)-1], true
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

// sectionRef names a section in errors.
type sectionRef struct {
	index int
	name  string
}

func (s sectionRef) String() string { return fmt.Sprintf("section %d (%q)", s.index, s.name) }

// isCode reports whether addr is code the loader mapped from the file.
func (c *elfCheck) isCode(addr uint64) bool {
	l, ok := c.fileBacked(addr, 1)
	return ok && l.Flags&elf.PF_X != 0
}

// notCode is the error of a jump to addr, which is not code.
func notCode(what string, addr uint64) error {
	return notSO("%s at %#x is not in the file contents of an executable PT_LOAD segment", what, addr)
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
	if m := elf.Machine(h.Machine); m != c.host.machine {
		return notSO("built for %v, the host (%s) is %v", m, runtime.GOARCH, c.host.machine)
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

// sectionHeaders checks the section header table, parses it with
// debug/elf, and checks the sections against the segments.
func (c *elfCheck) sectionHeaders() error {
	h := &c.hdr
	if h.Shnum > 0 || h.Shoff != 0 {
		n := uint64(h.Shnum)
		if n == 0 {
			n = 1 // extended numbering: section 0 holds the count
		}
		if h.Shentsize != shdrSize {
			return notSO("section header entry size %d, want %d", h.Shentsize, shdrSize)
		}
		if !contains(0, c.size, h.Shoff, n*shdrSize) {
			return notSO("section header table %s extends past the end of the file (%d bytes)", span(h.Shoff, n*shdrSize), c.size)
		}
	}
	f, err := elf.NewFile(c.r)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: not a shared object: %w", backends.ErrFormat, err)
		}
		return fmt.Errorf("reading the section headers: %w", err)
	}
	c.file = f
	for i, s := range f.Sections {
		if s.Type == elf.SHT_NULL {
			continue
		}
		if s.Type != elf.SHT_NOBITS && !contains(0, c.size, s.Offset, s.FileSize) {
			return notSO("section %d (%q) %s extends past the end of the file (%d bytes)", i, s.Name, span(s.Offset, s.FileSize), c.size)
		}
		if s.Flags&elf.SHF_ALLOC == 0 || s.FileSize == 0 {
			continue
		}
		what := sectionRef{i, s.Name}
		var l segment
		switch {
		case s.Type == elf.SHT_NOBITS && s.Flags&elf.SHF_TLS != 0:
			continue // .tbss takes no memory of its own
		case s.Type == elf.SHT_NOBITS:
			var ok bool
			if l, ok = c.inMemory(s.Addr, s.FileSize); !ok {
				return notSO("%v %s is not inside a PT_LOAD segment", what, span(s.Addr, s.FileSize))
			}
		default:
			if l, err = c.loadedFrom(what, s.Addr, s.FileSize, s.Offset); err != nil {
				return err
			}
		}
		if s.Flags&elf.SHF_EXECINSTR != 0 && l.Flags&elf.PF_X == 0 {
			return notSO("%v holds code, but %v is not executable", what, l)
		}
		if s.Flags&elf.SHF_WRITE != 0 && l.Flags&elf.PF_W == 0 {
			return notSO("%v is writable, but %v is not", what, l)
		}
	}
	return nil
}

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
	c.dyn = dyns[0]
	if c.dyn.Filesz == 0 || c.dyn.Filesz > c.dyn.Memsz {
		return notSO("%v: file size %#x, memory size %#x", c.dyn, c.dyn.Filesz, c.dyn.Memsz)
	}
	_, err := c.loadedFrom(c.dyn, c.dyn.Vaddr, c.dyn.Filesz, c.dyn.Off)
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

// dynamicSection parses PT_DYNAMIC as the loader does (up to DT_NULL) and
// checks its entries.
func (c *elfCheck) dynamicSection() error {
	b, err := c.read(c.dyn, c.dyn.Vaddr, c.dyn.Filesz)
	if err != nil {
		return err
	}
	c.tags = map[elf.DynTag][]uint64{}
	terminated := false
	for off := 0; off+dynSize <= len(b); off += dynSize {
		t := elf.DynTag(int64(le.Uint64(b[off:])))
		if t == elf.DT_NULL {
			terminated = true
			break
		}
		c.tags[t] = append(c.tags[t], le.Uint64(b[off+8:]))
	}
	if !terminated {
		return notSO("no DT_NULL in the %d bytes of %v", c.dyn.Filesz, c.dyn)
	}
	for _, step := range []func() error{c.dynamicTags, c.dynamicStrings, c.dynamicTables} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// dynamicTags checks which entries are present and the values the loader
// asserts.
func (c *elfCheck) dynamicTags() error {
	for _, t := range []elf.DynTag{elf.DT_STRTAB, elf.DT_STRSZ, elf.DT_SYMTAB} {
		if _, ok := c.tag(t); !ok {
			return notSO("dynamic section has no %v", t)
		}
	}
	if _, ok := c.tag(elf.DT_GNU_HASH); !ok {
		if _, ok := c.tag(elf.DT_HASH); !ok {
			return notSO("dynamic section has neither %v nor %v: no symbol can be looked up", elf.DT_GNU_HASH, elf.DT_HASH)
		}
	}
	// Entries glibc dereferences because another one is present.
	for _, need := range []struct {
		tag   elf.DynTag
		needs []elf.DynTag
	}{
		{elf.DT_RELA, []elf.DynTag{elf.DT_RELASZ, elf.DT_RELAENT}},
		{elf.DT_PLTREL, []elf.DynTag{elf.DT_JMPREL, elf.DT_PLTRELSZ}},
		{elf.DT_JMPREL, []elf.DynTag{elf.DT_PLTREL, elf.DT_PLTRELSZ, elf.DT_PLTGOT}},
		{dtRELR, []elf.DynTag{dtRELRSZ, dtRELRENT}},
		{elf.DT_INIT_ARRAY, []elf.DynTag{elf.DT_INIT_ARRAYSZ}},
		{elf.DT_FINI_ARRAY, []elf.DynTag{elf.DT_FINI_ARRAYSZ}},
		{elf.DT_PREINIT_ARRAY, []elf.DynTag{elf.DT_PREINIT_ARRAYSZ}},
	} {
		if _, ok := c.tag(need.tag); !ok {
			continue
		}
		for _, n := range need.needs {
			if _, ok := c.tag(n); !ok {
				return notSO("dynamic section has %v but no %v", dynName(need.tag), dynName(n))
			}
		}
	}
	// Values glibc asserts (a failed assertion is SIGABRT) or relies on.
	for _, want := range []struct {
		tag elf.DynTag
		val uint64
	}{
		{elf.DT_RELAENT, relaSize}, {elf.DT_SYMENT, symSize},
		{elf.DT_PLTREL, uint64(elf.DT_RELA)}, {dtRELRENT, wordSize},
	} {
		if v, ok := c.tag(want.tag); ok && v != want.val {
			return notSO("%v is %d, want %d", dynName(want.tag), v, want.val)
		}
	}
	for _, size := range []struct {
		tag  elf.DynTag
		unit uint64
	}{
		{elf.DT_RELASZ, relaSize}, {elf.DT_PLTRELSZ, relaSize}, {dtRELRSZ, wordSize},
		{elf.DT_INIT_ARRAYSZ, wordSize}, {elf.DT_FINI_ARRAYSZ, wordSize}, {elf.DT_PREINIT_ARRAYSZ, wordSize},
	} {
		if v, ok := c.tag(size.tag); ok && v%size.unit != 0 {
			return notSO("%v %#x is not a multiple of %d", dynName(size.tag), v, size.unit)
		}
	}
	flags, _ := c.tag(elf.DT_FLAGS)
	_, textrel := c.tag(elf.DT_TEXTREL)
	c.textrel = textrel || elf.DynFlag(flags)&elf.DF_TEXTREL != 0
	return nil
}

// dynName names a dynamic tag, including those debug/elf does not know.
func dynName(t elf.DynTag) string {
	switch t {
	case dtRELRSZ:
		return "DT_RELRSZ"
	case dtRELR:
		return "DT_RELR"
	case dtRELRENT:
		return "DT_RELRENT"
	}
	return t.String()
}

// dynamicStrings checks the dynamic string table and the strings the loader
// reads from it before any symbol: library names and search paths.
func (c *elfCheck) dynamicStrings() error {
	addr, _ := c.tag(elf.DT_STRTAB)
	size, _ := c.tag(elf.DT_STRSZ)
	if size == 0 {
		return notSO("DT_STRSZ is 0")
	}
	b, err := c.read("DT_STRTAB", addr, size)
	if err != nil {
		return err
	}
	if b[len(b)-1] != 0 {
		return notSO("dynamic string table %s does not end with NUL", span(addr, size))
	}
	c.strtab = b
	for _, t := range []elf.DynTag{elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH, elf.DT_AUXILIARY, elf.DT_FILTER} {
		for _, off := range c.tags[t] {
			s, err := c.str(off)
			if err != nil {
				return notSO("%v: %v", t, err)
			}
			if t == elf.DT_NEEDED {
				c.needed = append(c.needed, s)
			}
		}
	}
	return nil
}

// str returns the dynamic string at offset off.
func (c *elfCheck) str(off uint64) (string, error) {
	if off >= uint64(len(c.strtab)) {
		return "", fmt.Errorf("string offset %#x is past DT_STRSZ %#x", off, len(c.strtab))
	}
	b := c.strtab[off:]
	return string(b[:bytes.IndexByte(b, 0)]), nil
}

// dynamicTables checks that the tables the dynamic entries point to are in
// the image, and that DT_INIT and DT_FINI are code.
func (c *elfCheck) dynamicTables() error {
	for _, t := range []struct{ addr, size elf.DynTag }{
		{elf.DT_RELA, elf.DT_RELASZ}, {elf.DT_JMPREL, elf.DT_PLTRELSZ}, {dtRELR, dtRELRSZ},
		{elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ}, {elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ},
		{elf.DT_PREINIT_ARRAY, elf.DT_PREINIT_ARRAYSZ},
	} {
		addr, ok := c.tag(t.addr)
		if !ok {
			continue
		}
		size, _ := c.tag(t.size)
		if _, ok := c.fileBacked(addr, size); !ok {
			return notSO("%v %s is not inside the file contents of a PT_LOAD segment", dynName(t.addr), span(addr, size))
		}
	}
	for _, t := range []elf.DynTag{elf.DT_INIT, elf.DT_FINI} {
		if addr, ok := c.tag(t); ok {
			if !c.isCode(addr) {
				return notCode(t.String(), addr)
			}
		}
	}
	// With lazy binding the loader writes GOT[1] and GOT[2].
	if _, ok := c.tag(elf.DT_JMPREL); ok {
		got, _ := c.tag(elf.DT_PLTGOT)
		if l, ok := c.inMemory(got, 3*wordSize); !ok || l.Flags&elf.PF_W == 0 {
			return notSO("DT_PLTGOT %#x is not in a writable PT_LOAD segment", got)
		}
	}
	c.slots = map[uint64]*slot{}
	for _, t := range []struct{ addr, size elf.DynTag }{
		{elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ}, {elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ},
	} {
		addr, ok := c.tag(t.addr)
		if !ok {
			continue
		}
		size, _ := c.tag(t.size)
		for off := uint64(0); off < size; off += wordSize {
			c.slots[addr+off] = &slot{array: t.addr.String()}
		}
	}
	return nil
}

// hashTables checks DT_GNU_HASH and DT_HASH, which dlsym walks, and counts
// the dynamic symbols from them.
func (c *elfCheck) hashTables() error {
	c.nsyms = 1 // the null symbol, which relocations may name
	if addr, ok := c.tag(elf.DT_GNU_HASH); ok {
		n, err := c.gnuHash(addr)
		if err != nil {
			return err
		}
		c.nsyms = max(c.nsyms, n)
	}
	if addr, ok := c.tag(elf.DT_HASH); ok {
		n, err := c.sysvHash(addr)
		if err != nil {
			return err
		}
		c.nsyms = max(c.nsyms, n)
	}
	return nil
}

// gnuHash checks a DT_GNU_HASH table and returns the number of symbols it
// covers.
func (c *elfCheck) gnuHash(addr uint64) (uint64, error) {
	hdr, err := c.read("DT_GNU_HASH header", addr, 16)
	if err != nil {
		return 0, err
	}
	nbuckets, symoffset := uint64(le.Uint32(hdr)), uint64(le.Uint32(hdr[4:]))
	bloom := uint64(le.Uint32(hdr[8:]))
	if bloom == 0 || !pow2(bloom) {
		return 0, notSO("DT_GNU_HASH bloom filter of %d words: not a power of two", bloom)
	}
	if _, ok := c.fileBacked(addr+16, bloom*wordSize); !ok {
		return 0, notSO("DT_GNU_HASH bloom filter %s is not inside the file contents of a PT_LOAD segment", span(addr+16, bloom*wordSize))
	}
	bucketsAt := addr + 16 + bloom*wordSize
	buckets, err := c.read("DT_GNU_HASH buckets", bucketsAt, nbuckets*4)
	if err != nil {
		return 0, err
	}
	top := uint64(0) // the highest symbol a bucket starts a chain at
	for i := range nbuckets {
		b := uint64(le.Uint32(buckets[i*4:]))
		if b != 0 && b < symoffset {
			return 0, notSO("DT_GNU_HASH bucket %d starts at symbol %d, below the first hashed symbol %d", i, b, symoffset)
		}
		top = max(top, b)
	}
	if top == 0 {
		return symoffset, nil
	}
	// Every chain ends at the first entry with bit 0 set at or after its
	// start, so the chain from the highest start ends last: the chains
	// run from the first hashed symbol to the end of that one.
	chains := bucketsAt + nbuckets*4
	l, ok := c.fileBacked(chains, (top-symoffset+1)*4)
	if !ok {
		return 0, notSO("DT_GNU_HASH chains %s are not inside the file contents of a PT_LOAD segment", span(chains, (top-symoffset+1)*4))
	}
	at := chains + (top-symoffset)*4
	rest, err := c.read("DT_GNU_HASH chains", at, l.Vaddr+l.Filesz-at)
	if err != nil {
		return 0, err
	}
	for j := uint64(0); j+4 <= uint64(len(rest)); j += 4 {
		if le.Uint32(rest[j:])&1 != 0 {
			return top + j/4 + 1, nil
		}
	}
	return 0, notSO("DT_GNU_HASH chain from symbol %d runs off the end of %v", top, l)
}

// sysvHash checks a DT_HASH table and returns its number of symbols.
func (c *elfCheck) sysvHash(addr uint64) (uint64, error) {
	hdr, err := c.read("DT_HASH header", addr, 8)
	if err != nil {
		return 0, err
	}
	nbucket, nchain := uint64(le.Uint32(hdr)), uint64(le.Uint32(hdr[4:]))
	t, err := c.read("DT_HASH table", addr+8, (nbucket+nchain)*4)
	if err != nil {
		return 0, err
	}
	chain := func(i uint64) uint64 { return uint64(le.Uint32(t[(nbucket+i)*4:])) }
	seen := make([]bool, nchain)
	for b := range nbucket {
		for i := uint64(le.Uint32(t[b*4:])); i != 0; i = chain(i) {
			if i >= nchain {
				return 0, notSO("DT_HASH bucket %d leads to symbol %d, the table has %d", b, i, nchain)
			}
			if seen[i] {
				return 0, notSO("DT_HASH bucket %d: symbol %d is reached twice (a loop)", b, i)
			}
			seen[i] = true
		}
	}
	return nchain, nil
}

// symbols checks the dynamic symbol table: its names, and that what the
// loader or Load would call is code.
func (c *elfCheck) symbols() error {
	addr, _ := c.tag(elf.DT_SYMTAB)
	b, err := c.read(elf.DT_SYMTAB, addr, c.nsyms*symSize)
	if err != nil {
		return err
	}
	c.syms = make([]elf.Sym64, c.nsyms)
	for i := range c.syms {
		e := b[i*symSize:]
		s := &c.syms[i]
		*s = elf.Sym64{ // its layout
			Name: le.Uint32(e), Info: e[4], Other: e[5], Shndx: le.Uint16(e[6:]),
			Value: le.Uint64(e[8:]), Size: le.Uint64(e[16:]),
		}
		name, err := c.str(uint64(s.Name))
		if err != nil {
			return notSO("dynamic symbol %d: %v", i, err)
		}
		sec := elf.SectionIndex(s.Shndx)
		if sec == elf.SHN_UNDEF && i > 0 && elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			// The loader binds a local symbol to this object: an undefined
			// one resolves to the load address itself.
			return notSO("dynamic symbol %d (%q) is undefined and local", i, name)
		}
		if sec == elf.SHN_UNDEF || sec >= elf.SHN_LORESERVE {
			continue // imported, absolute or common: not in this image
		}
		switch elf.ST_TYPE(s.Info) {
		case elf.STT_FUNC, elf.STT_GNU_IFUNC:
			if !c.isCode(s.Value) {
				return notCode(fmt.Sprintf("function %q", name), s.Value)
			}
		case elf.STT_OBJECT:
			if _, ok := c.inMemory(s.Value, s.Size); !ok {
				return notSO("object %q %s is not inside a PT_LOAD segment", name, span(s.Value, s.Size))
			}
		}
	}
	return nil
}

// versions checks DT_VERNEED, DT_VERDEF and DT_VERSYM as
// _dl_check_map_versions and the symbol lookup use them.
func (c *elfCheck) versions() error {
	high := uint64(0) // the highest version index defined, as glibc computes it
	if addr, ok := c.tag(elf.DT_VERNEED); ok {
		h, err := c.verneed(addr)
		if err != nil {
			return err
		}
		high = max(high, h)
	}
	if addr, ok := c.tag(elf.DT_VERDEF); ok {
		h, err := c.verdef(addr)
		if err != nil {
			return err
		}
		high = max(high, h)
	}
	addr, ok := c.tag(elf.DT_VERSYM)
	if !ok {
		if high > 0 { // _dl_check_map_versions reads it unchecked
			return notSO("dynamic section has %v or %v but no %v", elf.DT_VERNEED, elf.DT_VERDEF, elf.DT_VERSYM)
		}
		return nil
	}
	b, err := c.read("DT_VERSYM", addr, c.nsyms*2)
	if err != nil {
		return err
	}
	for i := range c.nsyms {
		if v := uint64(le.Uint16(b[i*2:]) & 0x7fff); v > high {
			return notSO("dynamic symbol %d has version index %d, the highest defined is %d", i, v, high)
		}
	}
	return nil
}

// verneed walks the DT_VERNEED chain as glibc does (to a zero vn_next,
// whatever DT_VERNEEDNUM says) and returns the highest version index it
// gives.
func (c *elfCheck) verneed(addr uint64) (uint64, error) {
	high, count := uint64(0), 0
	for {
		b, err := c.read("DT_VERNEED entry", addr, verneedSize)
		if err != nil {
			return 0, err
		}
		if v := le.Uint16(b); v != 1 {
			return 0, notSO("DT_VERNEED entry at %#x has version %d, want 1", addr, v)
		}
		file, err := c.str(uint64(le.Uint32(b[4:])))
		if err != nil {
			return 0, notSO("DT_VERNEED entry at %#x: %v", addr, err)
		}
		if !slices.Contains(c.needed, file) {
			return 0, notSO("DT_VERNEED names %q, which is not a DT_NEEDED library", file)
		}
		aux := addr + uint64(le.Uint32(b[8:]))
		for {
			if count++; count > maxVersionEntries {
				return 0, notSO("more than %d DT_VERNEED entries", maxVersionEntries)
			}
			a, err := c.read("DT_VERNEED auxiliary entry", aux, vernauxSize)
			if err != nil {
				return 0, err
			}
			if _, err := c.str(uint64(le.Uint32(a[8:]))); err != nil {
				return 0, notSO("DT_VERNEED auxiliary entry at %#x: %v", aux, err)
			}
			high = max(high, uint64(le.Uint16(a[6:])&0x7fff))
			next := uint64(le.Uint32(a[12:]))
			if next == 0 {
				break
			}
			aux += next
		}
		next := uint64(le.Uint32(b[12:]))
		if next == 0 {
			return high, nil
		}
		addr += next
	}
}

// verdef walks the DT_VERDEF chain and returns the highest version index it
// defines.
func (c *elfCheck) verdef(addr uint64) (uint64, error) {
	high := uint64(0)
	for count := 1; ; count++ {
		if count > maxVersionEntries {
			return 0, notSO("more than %d DT_VERDEF entries", maxVersionEntries)
		}
		b, err := c.read("DT_VERDEF entry", addr, verdefSize)
		if err != nil {
			return 0, err
		}
		if v := le.Uint16(b); v != 1 {
			return 0, notSO("DT_VERDEF entry at %#x has version %d, want 1", addr, v)
		}
		high = max(high, uint64(le.Uint16(b[4:])&0x7fff))
		aux := addr + uint64(le.Uint32(b[12:]))
		a, err := c.read("DT_VERDEF auxiliary entry", aux, verdauxSize)
		if err != nil {
			return 0, err
		}
		if _, err := c.str(uint64(le.Uint32(a))); err != nil {
			return 0, notSO("DT_VERDEF auxiliary entry at %#x: %v", aux, err)
		}
		next := uint64(le.Uint32(b[16:]))
		if next == 0 {
			return high, nil
		}
		addr += next
	}
}

// relocations checks where each relocation writes and what it names.
func (c *elfCheck) relocations() error {
	for _, t := range []struct{ addr, size elf.DynTag }{{elf.DT_RELA, elf.DT_RELASZ}, {elf.DT_JMPREL, elf.DT_PLTRELSZ}} {
		addr, ok := c.tag(t.addr)
		if !ok {
			continue
		}
		size, _ := c.tag(t.size)
		b, err := c.read(t.addr, addr, size)
		if err != nil {
			return err
		}
		// The loader applies the first DT_RELACOUNT relocations as
		// RELATIVE without looking, and asserts their type.
		relative := uint64(0)
		if t.addr == elf.DT_RELA {
			relative, _ = c.tag(elf.DT_RELACOUNT)
		}
		for i := 0; i+relaSize <= len(b); i += relaSize {
			r := elf.Rela64{Off: le.Uint64(b[i:]), Info: le.Uint64(b[i+8:]), Addend: int64(le.Uint64(b[i+16:]))}
			if uint64(i/relaSize) < relative && uint32(r.Info) != c.host.relative {
				return notSO("%v relocation %d has type %d, but DT_RELACOUNT says the first %d are RELATIVE", t.addr, i/relaSize, uint32(r.Info), relative)
			}
			if err := c.rela(r); err != nil {
				return notSO("%v relocation %d %v", t.addr, i/relaSize, err)
			}
		}
	}
	return c.relr()
}

// rela checks one RELA relocation. Its errors are the end of a sentence
// whose subject is the relocation.
func (c *elfCheck) rela(r elf.Rela64) error {
	typ, sym := uint32(r.Info), r.Info>>32
	if typ == 0 { // R_X86_64_NONE, R_AARCH64_NONE
		return nil
	}
	if sym >= c.nsyms {
		return fmt.Errorf("names symbol %d, the table has %d", sym, c.nsyms)
	}
	if sym == 0 && (typ == c.host.globDat || typ == c.host.jumpSlot) {
		// It would bind to the null symbol: the load address.
		return fmt.Errorf("(a GOT entry at %#x) names no symbol", r.Off)
	}
	width := uint64(wordSize)
	if typ == c.host.tlsdesc {
		width = 2 * wordSize
	}
	if err := c.writable(r.Off, width); err != nil {
		return err
	}
	if typ == c.host.irelative && !c.isCode(uint64(r.Addend)) {
		return fmt.Errorf("calls a resolver at %#x, which is not in the file contents of an executable PT_LOAD segment", r.Addend)
	}
	if s := c.slots[r.Off]; s != nil {
		s.rela = &r
	}
	return nil
}

// writable checks that a relocation may write [addr, addr+n). Its errors
// are the end of a sentence whose subject is the relocation.
func (c *elfCheck) writable(addr, n uint64) error {
	l, ok := c.inMemory(addr, n)
	if !ok {
		return fmt.Errorf("writes %s, outside every PT_LOAD segment", span(addr, n))
	}
	if l.Flags&elf.PF_W == 0 && !c.textrel {
		return fmt.Errorf("writes %s in %v, which is not writable (and there is no DT_TEXTREL)", span(addr, n), l)
	}
	return nil
}

// relr checks DT_RELR: addresses (even entries) and bitmaps of the next 63
// words (odd entries), each a word the loader adds the load address to.
func (c *elfCheck) relr() error {
	addr, ok := c.tag(dtRELR)
	if !ok {
		return nil
	}
	size, _ := c.tag(dtRELRSZ)
	b, err := c.read("DT_RELR", addr, size)
	if err != nil {
		return err
	}
	var next uint64 // the word the next bitmap starts at
	for i := 0; i+wordSize <= len(b); i += wordSize {
		e := le.Uint64(b[i:])
		if e&1 == 0 {
			if err := c.relrWord(i/wordSize, e); err != nil {
				return err
			}
			next = e + wordSize
			continue
		}
		for bit := range uint64(63) {
			if e>>(bit+1)&1 != 0 {
				if err := c.relrWord(i/wordSize, next+bit*wordSize); err != nil {
					return err
				}
			}
		}
		next += 63 * wordSize
	}
	return nil
}

func (c *elfCheck) relrWord(entry int, addr uint64) error {
	if err := c.writable(addr, wordSize); err != nil {
		return notSO("DT_RELR entry %d %v", entry, err)
	}
	if s := c.slots[addr]; s != nil {
		s.relr = true
	}
	return nil
}

// constructors checks that every DT_INIT_ARRAY and DT_FINI_ARRAY entry the
// loader will call is relocated to code of this object or to an imported
// symbol.
func (c *elfCheck) constructors() error {
	addrs := make([]uint64, 0, len(c.slots))
	for a := range c.slots {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, addr := range addrs {
		s := c.slots[addr]
		what := fmt.Sprintf("%s entry at %#x", s.array, addr)
		switch {
		case s.rela != nil:
			if err := c.slotRela(what, *s.rela); err != nil {
				return err
			}
		case s.relr:
			b, err := c.read(what, addr, wordSize)
			if err != nil {
				return err
			}
			if v := le.Uint64(b); !c.isCode(v) {
				return notCode(what+" relocated by DT_RELR", v)
			}
		default:
			return notSO("%s is not relocated: the loader would call it as it is in the file", what)
		}
	}
	return nil
}

// slotRela checks the value a RELA relocation writes into a constructor or
// destructor entry.
func (c *elfCheck) slotRela(what string, r elf.Rela64) error {
	typ, sym := uint32(r.Info), r.Info>>32
	switch {
	case typ == c.host.relative:
		if !c.isCode(uint64(r.Addend)) {
			return notCode(what+" relocated", uint64(r.Addend))
		}
		return nil
	case typ == c.host.irelative:
		return nil // the resolver, checked already, picks the function
	case sym == 0:
		return notSO("%s is relocated by type %d with no symbol", what, typ)
	}
	s := c.syms[sym]
	if elf.SectionIndex(s.Shndx) == elf.SHN_UNDEF {
		return nil // imported: the loader resolves it in another library
	}
	if v := s.Value + uint64(r.Addend); !c.isCode(v) {
		return notCode(what+" relocated", v)
	}
	return nil
}

// debugELFAgrees checks that debug/elf, which reads the dynamic section
// through the section headers, finds it and the tables it points to where
// the loader does, and can parse it.
func (c *elfCheck) debugELFAgrees() error {
	f := c.file
	if len(f.Sections) == 0 {
		return nil // no section headers: nothing to compare
	}
	if ds := f.SectionByType(elf.SHT_DYNAMIC); ds != nil && (ds.Addr != c.dyn.Vaddr || ds.Offset != c.dyn.Off) {
		return notSO("section %q at %#x (file offset %#x) and %v at %#x (file offset %#x) disagree", ds.Name, ds.Addr, ds.Offset, c.dyn, c.dyn.Vaddr, c.dyn.Off)
	}
	// Each table has a section of its own type; a linker makes them one.
	for _, t := range []struct {
		typ elf.SectionType
		tag elf.DynTag
	}{
		{elf.SHT_DYNSYM, elf.DT_SYMTAB}, {elf.SHT_GNU_HASH, elf.DT_GNU_HASH}, {elf.SHT_HASH, elf.DT_HASH},
		{elf.SHT_INIT_ARRAY, elf.DT_INIT_ARRAY}, {elf.SHT_FINI_ARRAY, elf.DT_FINI_ARRAY},
		{elf.SHT_GNU_VERSYM, elf.DT_VERSYM}, {elf.SHT_GNU_VERNEED, elf.DT_VERNEED}, {elf.SHT_GNU_VERDEF, elf.DT_VERDEF},
	} {
		s := f.SectionByType(t.typ)
		v, ok := c.tag(t.tag)
		if s != nil && ok && s.Addr != v {
			return notSO("section %q (%v) at %#x and %v %#x disagree", s.Name, t.typ, s.Addr, t.tag, v)
		}
	}
	ds := f.SectionByType(elf.SHT_DYNSYM)
	if ds == nil {
		return nil
	}
	if int(ds.Link) < len(f.Sections) {
		if strtab, _ := c.tag(elf.DT_STRTAB); f.Sections[ds.Link].Addr != strtab {
			return notSO("section %q at %#x and DT_STRTAB %#x disagree", f.Sections[ds.Link].Name, f.Sections[ds.Link].Addr, strtab)
		}
	}
	if _, err := f.DynamicSymbols(); err != nil {
		return fmt.Errorf("%w: not a shared object: dynamic symbols: %w", backends.ErrFormat, err)
	}
	// DynString parses the whole section whatever the tag: one call
	// checks it for every tag.
	if _, err := f.ImportedLibraries(); err != nil {
		return fmt.Errorf("%w: not a shared object: imported libraries: %w", backends.ErrFormat, err)
	}
	return nil
}
