package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// channel is the host's side of one plugin process: a request, its reply.
type channel interface {
	// roundTrip sends op with a, b and the payload in, and waits for the
	// reply, answering the plugin's emit replies with emit meanwhile. The
	// reply's payload goes into out when it fits (then reply returns out's
	// first n bytes), else into the channel's own buffer. It returns the
	// reply's r and payload length. A failed round trip leaves the
	// channel unusable: close it.
	roundTrip(op uint8, a, b int64, in, out []byte) (r int64, n int, err error)
	// reply returns the payload of the last reply.
	reply() []byte
	// proc is the plugin process.
	proc() *child
	// setEmit sets the host function of callbacks.
	setEmit(fn func(int64) int64)
	// shutdown sends the close op, waits for the process to exit (at most
	// ShutdownWait, then kills it), reaps it and releases everything.
	shutdown()
}

// errProtocol is a reply that is not the protocol's.
var errProtocol = errors.New("protocol error")

// pipeChan is the pipe channel: frames over the child's stdin and stdout.
type pipeChan struct {
	c      *child
	w, r   int // the host's ends: the child's stdin and stdout
	emit   func(int64) int64
	hdr    [4 + reqHeader]byte
	rhdr   [4 + replyHeader]byte
	buf    []byte // reply payloads that do not fit out
	last   []byte
	closed sync.Once
}

// startPipe starts the executable at path with a pipe pair as its stdin
// and stdout. The pipes are blocking and close-on-exec (pipe2 makes them
// so atomically): no other child inherits them, so the child's death is
// an EOF at once.
func startPipe(path string, limit uint64, args ...string) (*pipeChan, error) {
	var in, out [2]int
	if err := unix.Pipe2(in[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		unix.Close(in[0])
		unix.Close(in[1])
		return nil, fmt.Errorf("pipe: %w", err)
	}
	stdin, stdout := os.NewFile(uintptr(in[0]), "stdin"), os.NewFile(uintptr(out[1]), "stdout")
	c, err := start(path, limit, args, stdin, stdout, nil, nil)
	stdin.Close()
	stdout.Close()
	if err != nil {
		unix.Close(in[1])
		unix.Close(out[0])
		return nil, err
	}
	return &pipeChan{c: c, w: in[1], r: out[0]}, nil
}

func (p *pipeChan) proc() *child                 { return p.c }
func (p *pipeChan) setEmit(fn func(int64) int64) { p.emit = fn }
func (p *pipeChan) reply() []byte                { return p.last }

func (p *pipeChan) send(op uint8, a, b int64, in []byte) error {
	h := p.hdr[:]
	binary.LittleEndian.PutUint32(h, uint32(reqHeader+len(in)))
	h[4] = op
	binary.LittleEndian.PutUint64(h[5:], uint64(a))
	binary.LittleEndian.PutUint64(h[13:], uint64(b))
	if len(in) == 0 {
		return writeAll(p.w, h)
	}
	if len(in) <= 4096 {
		// One write: small payloads are copied after the header.
		if cap(p.buf) < len(h)+len(in) {
			p.buf = make([]byte, 0, max(8192, len(h)+len(in)))
		}
		return writeAll(p.w, append(append(p.buf[:0], h...), in...))
	}
	if err := writeAll(p.w, h); err != nil {
		return err
	}
	return writeAll(p.w, in)
}

func (p *pipeChan) roundTrip(op uint8, a, b int64, in, out []byte) (int64, int, error) {
	if err := p.send(op, a, b, in); err != nil {
		return 0, 0, p.broken(err)
	}
	oom := false
	for {
		if err := readAll(p.r, p.rhdr[:]); err != nil {
			return 0, 0, p.brokenOOM(err, oom)
		}
		n := binary.LittleEndian.Uint32(p.rhdr[:])
		st := p.rhdr[4]
		r := int64(binary.LittleEndian.Uint64(p.rhdr[5:]))
		if n < replyHeader || n > maxFrame {
			return 0, 0, fmt.Errorf("%w: a reply frame of %d bytes", errProtocol, n)
		}
		n -= replyHeader
		switch st {
		case stOK:
			dst := out
			if int(n) > len(out) {
				if cap(p.buf) < int(n) {
					p.buf = make([]byte, n)
				}
				dst = p.buf
			}
			p.last = dst[:n]
			if err := readAll(p.r, p.last); err != nil {
				return 0, 0, p.broken(err)
			}
			return r, int(n), nil
		case stEmit:
			if op != opCallback || p.emit == nil || n != 0 {
				return 0, 0, fmt.Errorf("%w: emit reply to op %d", errProtocol, op)
			}
			if err := p.send(opEmitRet, p.emit(r), 0, nil); err != nil {
				return 0, 0, p.broken(err)
			}
		case stOOM:
			oom = true // the plugin dies next
		case stErr:
			return 0, 0, fmt.Errorf("%w: the plugin refused op %d (code %d)", errProtocol, op, r)
		default:
			return 0, 0, fmt.Errorf("%w: reply status %#x to op %d", errProtocol, st, op)
		}
	}
}

// broken turns a failed read or write into the error of the process's
// end: an EOF or EPIPE is the child's death (or exit).
func (p *pipeChan) broken(err error) error { return p.brokenOOM(err, false) }

func (p *pipeChan) brokenOOM(err error, oom bool) error {
	if errors.Is(err, errEOF) || errors.Is(err, unix.EPIPE) {
		return p.c.exitError(oom)
	}
	return err
}

func (p *pipeChan) shutdown() {
	p.closed.Do(func() {
		if !p.c.dead.Load() {
			p.send(opClose, 0, 0, nil)
		}
		unix.Close(p.w) // EOF for a plugin that missed the close op
		p.c.wait(ShutdownWait)
		unix.Close(p.r)
	})
}

var errEOF = errors.New("end of file")

// readAll reads exactly len(b) bytes from fd, blocking.
func readAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return errEOF
		}
		b = b[n:]
	}
	return nil
}

// writeAll writes b to fd, blocking.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
