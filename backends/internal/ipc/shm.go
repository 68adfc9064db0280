package ipc

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The shared-memory channel.
//
// # Doorbells
//
// Each direction has a doorbell, a u32 sequence number in the region
// (offReq: host to plugin; offResp: plugin to host), and a sleep flag of
// its waiter (offCSleep, offHSleep). A side rings by writing the message
// (plain stores into the region), then adding 1 to the doorbell, then, if
// the other side's sleep flag is set, FUTEX_WAKE on the doorbell. A side
// waits by spinning on the doorbell for a while (spinPure, then yielding
// the CPU between looks until spinFor), then setting
// its sleep flag, checking the doorbell again and, if it has not moved,
// FUTEX_WAIT on it with the value it last saw (the kernel checks the word
// and sleeps in one step, so a ring between the check and the wait makes
// the wait return at once), and clearing the flag when it wakes.
//
// # Memory ordering
//
// The doorbell add and the sleep-flag accesses are sequentially
// consistent on both sides: sync/atomic on the Go side (LOCK XADD, XCHG
// and plain MOV loads on amd64), __atomic_* with __ATOMIC_SEQ_CST on the
// C side. So:
//
//   - a message is visible before its doorbell moves: the ringer's plain
//     stores come before its atomic add (release), and the waiter reads
//     the message only after an atomic load saw the new value (acquire);
//   - no wake is lost: the ringer does (add doorbell; load flag) and the
//     waiter (store flag; load doorbell). Under sequential consistency at
//     least one of them sees the other's store: either the ringer sees
//     the flag and wakes, or the waiter sees the new value and does not
//     sleep; and the futex's own compare covers the window between the
//     waiter's check and its sleep.
//
// The host also sleeps in slices of at most sleepSlice, and the reaper
// of the plugin process wakes it when the process dies, so a dead plugin
// is noticed at once while waiting, and at the next call while idle.
type shmChan struct {
	c      *child
	region []byte
	data   []byte // region[RegionHeader:]
	req    *uint32
	resp   *uint32
	csleep *uint32
	hsleep *uint32
	seen   uint32 // the last value of resp seen
	// waits counts the replies waited for, slow those the host had to
	// yield its CPU or sleep for: the plugin's reply did not come while
	// it spun, because the two sides did not each have a core.
	waits, slow uint64
	emit        func(int64) int64
	last        []byte
	closed      sync.Once
}

// Spin and sleep bounds of the host's wait: it spins on the doorbell for
// spinPure, then yields the CPU between looks until spinFor, then sleeps
// in slices of sleepSlice. The plugin does the same (serve.c's SPIN_NS,
// SPIN_PURE_NS).
const (
	spinPure   = 1 * time.Microsecond
	spinFor    = 50 * time.Microsecond
	sleepSlice = 50 * time.Millisecond
)

const (
	futexWait = 0 // FUTEX_WAIT, not _PRIVATE: the word is shared between processes
	futexWake = 1
)

// startShm makes a memfd region, maps it and starts the executable at
// path with the region as fd 3 and the argument -shm. The memfd is
// closed once both have it mapped (the child has its own fd, which it
// closes after mapping): no file is left anywhere, /dev/shm included.
func startShm(path string, limit uint64, args ...string) (*shmChan, error) {
	fd, err := unix.MemfdCreate("plugbench-shm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "plugbench-shm")
	defer f.Close()
	size := RegionHeader + DataCap
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("ftruncate: %w", err)
	}
	region, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	s := &shmChan{region: region, data: region[RegionHeader:]}
	s.req, s.resp = s.word(offReq), s.word(offResp)
	s.csleep, s.hsleep = s.word(offCSleep), s.word(offHSleep)
	// Stdin and stdout are /dev/null: the channel is the region.
	null, err := os.Open(os.DevNull)
	if err != nil {
		unix.Munmap(region)
		return nil, err
	}
	defer null.Close()
	s.c, err = start(path, limit, append([]string{"-shm"}, args...), null, nil, []*os.File{f}, func() { futex(s.resp, futexWake, 1<<30, 0) })
	if err != nil {
		unix.Munmap(region)
		return nil, err
	}
	return s, nil
}

func (s *shmChan) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&s.region[off])) }

func (s *shmChan) proc() *child                 { return s.c }
func (s *shmChan) setEmit(fn func(int64) int64) { s.emit = fn }
func (s *shmChan) reply() []byte                { return s.last }

// Data is the region's data area: a request's payload may be written
// there in place (roundTrip then copies nothing).
func (s *shmChan) Data() []byte { return s.data }

func (s *shmChan) put64(off int, v int64) {
	binary.LittleEndian.PutUint64(s.region[off:], uint64(v))
}

func (s *shmChan) get64(off int) int64 { return int64(binary.LittleEndian.Uint64(s.region[off:])) }

// ring tells the plugin a request is in the region.
func (s *shmChan) ring(op uint8, a, b int64, n int) {
	binary.LittleEndian.PutUint32(s.region[offOp:], uint32(op))
	s.put64(offA, a)
	s.put64(offB, b)
	s.put64(offN, int64(n))
	atomic.AddUint32(s.req, 1)
	if atomic.LoadUint32(s.csleep) != 0 {
		futex(s.req, futexWake, 1, 0)
	}
}

// wait waits for the plugin's next reply, or its death.
func (s *shmChan) wait() error {
	var start time.Time // of the spin; zero until the first look at the clock
	s.waits++
	slow := false
	for i := 1; ; i++ {
		if v := atomic.LoadUint32(s.resp); v != s.seen {
			s.seen = v
			if slow {
				s.slow++
			}
			return nil
		}
		if s.c.dead.Load() {
			return s.c.exitError(atomic.LoadUint32(s.word(offOOM)) != 0)
		}
		if i&63 != 0 {
			continue
		}
		now := time.Now()
		switch d := now.Sub(start); {
		case start.IsZero():
			start = now
			continue
		case d < spinPure:
			continue
		case d < spinFor:
			// The plugin may be waiting for this very CPU (a loaded
			// machine): let it run.
			slow = true
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		slow = true
		atomic.StoreUint32(s.hsleep, 1)
		if atomic.LoadUint32(s.resp) == s.seen && !s.c.dead.Load() {
			futex(s.resp, futexWait, s.seen, sleepSlice)
		}
		atomic.StoreUint32(s.hsleep, 0)
		start = time.Time{}
	}
}

func (s *shmChan) roundTrip(op uint8, a, b int64, in, out []byte) (int64, int, error) {
	if s.c.dead.Load() {
		return 0, 0, s.c.exitError(atomic.LoadUint32(s.word(offOOM)) != 0)
	}
	if len(in) > len(s.data) {
		return 0, 0, fmt.Errorf("a %d-byte payload does not fit the %d-byte region", len(in), len(s.data))
	}
	if len(in) > 0 && &in[0] != &s.data[0] {
		copy(s.data, in)
	}
	s.ring(op, a, b, len(in))
	for {
		if err := s.wait(); err != nil {
			return 0, 0, err
		}
		st := s.region[offStatus]
		r := s.get64(offR)
		switch st {
		case stOK:
			off, n := uint64(s.get64(offROff)), uint64(s.get64(offRN))
			if off > uint64(len(s.data)) || n > uint64(len(s.data))-off {
				return 0, 0, fmt.Errorf("%w: reply payload [%d, +%d) outside the region", errProtocol, off, n)
			}
			s.last = s.data[off : off+n]
			if len(out) > 0 && &out[0] != &s.last[0] {
				copy(out, s.last)
			}
			return r, int(n), nil
		case stEmit:
			if op != opCallback || s.emit == nil {
				return 0, 0, fmt.Errorf("%w: emit reply to op %d", errProtocol, op)
			}
			s.ring(opEmitRet, s.emit(r), 0, 0)
		case stErr:
			return 0, 0, fmt.Errorf("%w: the plugin refused op %d (code %d)", errProtocol, op, r)
		default:
			return 0, 0, fmt.Errorf("%w: reply status %#x to op %d", errProtocol, st, op)
		}
	}
}

func (s *shmChan) shutdown() {
	s.closed.Do(func() {
		if !s.c.dead.Load() {
			s.ring(opClose, 0, 0, 0)
		}
		s.c.wait(ShutdownWait)
		unix.Munmap(s.region) // the reaper is done with the region too
		s.region, s.data = nil, nil
	})
}

// futex calls futex(2) on addr; d > 0 bounds a wait.
func futex(addr *uint32, op int, val uint32, d time.Duration) {
	var ts *unix.Timespec
	if d > 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}
