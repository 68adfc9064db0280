package ipc

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/backends/internal/cabi"
)

// refMin starts the executable at path in its bare mode (serve.c's -ref)
// over a channel of kind k and returns its min call, and the function
// that ends the process: the reference rows of BenchmarkRef, which show
// what the channel costs with no protocol around it. Pipe: 8 bytes to the
// process and 4 back through the kernel, the floor of any request and
// reply over pipes. Shm: two words and a doorbell each way in the region,
// spinning and yielding as the backend does but never sleeping, the floor
// of the shm channel. The process's identity is checked first: it must
// name lang and backend as want does ("lang=c backend=subprocess ").
func refMin(ctx context.Context, k Kind, path, want string) (func(a, b int32) (int32, error), func(), error) {
	if k == Shm {
		return refShm(ctx, path, want)
	}
	return refPipe(ctx, path, want)
}

// RefMin is the suite's reference row impl (BenchmarkRef), "pipe" for
// the pipe channel, "shm-doorbell" for shm: refMin on the module's
// executable, whose bare mode only the C guest has.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (func(a, b int32) (int32, error), func(), error) {
	want := map[Kind]string{Pipe: "pipe", Shm: "shm-doorbell"}[m.b.kind]
	if impl != want {
		return nil, nil, fmt.Errorf("%s: %s: no reference %q: want %q", m.b.name, m.path, impl, want)
	}
	return refMin(ctx, m.b.kind, m.path, "lang=c backend="+m.b.accept[0]+" ")
}

// refIdentity checks a reference process's identity.
func refIdentity(id []byte, want string) error {
	if !strings.HasPrefix(string(id), want) {
		return fmt.Errorf("identity %q, want %q…", id, want)
	}
	return nil
}

func refPipe(ctx context.Context, path, want string) (func(a, b int32) (int32, error), func(), error) {
	c, err := startPipe(path, DefaultMemoryLimit, "-ref")
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, c.c.kill)
	defer stop()
	var h [4]byte
	if err := c.refRead(h[:]); err != nil {
		c.shutdown()
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	n := binary.LittleEndian.Uint32(h[:])
	if n > cabi.MaxIdentity {
		c.shutdown()
		return nil, nil, fmt.Errorf("a %d-byte identity", n)
	}
	id := make([]byte, n)
	if err := c.refRead(id); err != nil {
		c.shutdown()
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	if err := refIdentity(id, want); err != nil {
		c.shutdown()
		return nil, nil, err
	}
	var req [8]byte
	var rep [4]byte
	call := func(a, b int32) (int32, error) {
		binary.LittleEndian.PutUint32(req[:], uint32(a))
		binary.LittleEndian.PutUint32(req[4:], uint32(b))
		if err := writeAll(c.w, req[:]); err != nil {
			return 0, c.broken(err)
		}
		if err := c.refRead(rep[:]); err != nil {
			return 0, err
		}
		return int32(binary.LittleEndian.Uint32(rep[:])), nil
	}
	// Closing its stdin ends the process (its read sees EOF); shutdown
	// waits for it, and kills it after ShutdownWait.
	return call, func() { unix.Close(c.w); c.c.wait(ShutdownWait); unix.Close(c.r) }, nil
}

func refShm(ctx context.Context, path, want string) (func(a, b int32) (int32, error), func(), error) {
	s, err := startShm(path, DefaultMemoryLimit, "-ref")
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, s.c.kill)
	defer stop()
	if err := s.refWait(); err != nil {
		s.refClose()
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	n := uint64(s.get64(offRN))
	if n > cabi.MaxIdentity {
		s.refClose()
		return nil, nil, fmt.Errorf("a %d-byte identity", n)
	}
	if err := refIdentity(s.data[:n], want); err != nil {
		s.refClose()
		return nil, nil, err
	}
	call := func(a, b int32) (int32, error) {
		s.put64(offA, int64(a))
		s.put64(offB, int64(b))
		atomic.AddUint32(s.req, 1)
		if err := s.refWait(); err != nil {
			return 0, err
		}
		return int32(s.get64(offR)), nil
	}
	return call, s.refClose, nil
}

// refRead reads len(b) bytes of a reference process's output.
func (p *pipeChan) refRead(b []byte) error {
	if err := readAll(p.r, b); err != nil {
		return p.broken(err)
	}
	return nil
}

// refWait waits for the reference process's next ring: it spins, and
// yields after spinPure, but never sleeps (nor does the process).
func (s *shmChan) refWait() error {
	var start time.Time
	for i := 1; ; i++ {
		if v := atomic.LoadUint32(s.resp); v != s.seen {
			s.seen = v
			return nil
		}
		if s.c.dead.Load() {
			return s.c.exitError(false)
		}
		if i&63 != 0 {
			continue
		}
		switch now := time.Now(); {
		case start.IsZero():
			start = now
		case now.Sub(start) >= spinPure:
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// refClose ends the reference process: the close op, then the kill
// after ShutdownWait.
func (s *shmChan) refClose() {
	binary.LittleEndian.PutUint32(s.region[offOp:], opClose)
	atomic.AddUint32(s.req, 1)
	s.c.wait(ShutdownWait)
	unix.Munmap(s.region)
}
