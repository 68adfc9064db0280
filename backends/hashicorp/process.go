package hashicorp

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/backends/internal/osproc"
)

// ErrExited matches the error of a call whose plugin process died (or
// exited) under it, and of a load whose executable exited before its
// handshake. The message says how: the exit status or the signal, and the
// first line of a Go panic or fatal error the process printed.
var ErrExited = osproc.ErrExited

// DefaultMemoryLimit is the default data limit (RLIMIT_DATA) of every plugin
// process (Config.MemoryLimit sets another), set with prlimit(2) right
// after it starts, before go-plugin's handshake (osproc.DefaultMemoryLimit says why
// RLIMIT_DATA).
const DefaultMemoryLimit = osproc.DefaultMemoryLimit

// StartTimeout bounds a Load or Instantiate whose context has no deadline:
// an executable that never answers go-plugin's handshake must not hang it
// for ever.
const StartTimeout = 10 * time.Second

// ShutdownWait is how long Close waits for a plugin process to exit after
// go-plugin's graceful close before it sends SIGKILL.
const ShutdownWait = time.Second

// exitWait is how long a failed call gives the process to exit before it
// reports the call's own error instead: a process that has exited by then
// is waited for until it is reaped, however long the reaper takes
// (exitError).
const exitWait = 100 * time.Millisecond

// nullLogger is go-plugin's logger: level Off, so that it parses nothing
// and prints nothing.
var nullLogger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

// proc is one plugin process, started by go-plugin through its RunnerFunc
// (the runner below): the backend, not go-plugin, starts it, caps it, can
// kill it at any time (a context's end, a call's deadline) and knows how
// it ended.
type proc struct {
	path, arg string
	limit     uint64 // RLIMIT_DATA

	mu       sync.Mutex
	cmd      *exec.Cmd
	started  bool
	killWant bool // kill as soon as it starts
	sockDir  string
	stdin    *os.File // the child's end of the lifeline, until it starts
	lifeline *os.File // the host's end: closing it has the plugin exit

	killed atomic.Bool   // the host sent SIGKILL (or will, once it starts)
	eof    atomic.Bool   // its stdout ended: it exits, or closed it
	dead   atomic.Bool   // reaped; set before done is closed
	done   chan struct{} // closed once reaped
	state  *os.ProcessState
	stderr stderrTail
}

func newProc(path string, proto string, limit uint64) *proc {
	return &proc{path: path, arg: proto, limit: limit, done: make(chan struct{})}
}

// runner is go-plugin's RunnerFunc: cmd has go-plugin's environment (the
// magic cookie, the protocol versions, the socket folder), nothing of the
// host's (SkipHostEnv).
func (p *proc) runner(_ hclog.Logger, cmd *exec.Cmd, sockDir string) (runner.Runner, error) {
	c := exec.Command(p.path, p.arg)
	c.Env = cmd.Env
	// Stdin is the lifeline, not the host's stdin (go-plugin's default): a
	// pipe whose host end only the host holds (close-on-exec), so that the
	// plugin sees EOF when the host closes the instance, or dies.
	stdin, lifeline, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.Stdin = stdin
	stdout, err := c.StdoutPipe()
	if err != nil {
		stdin.Close()
		lifeline.Close()
		return nil, err
	}
	stderr, err := c.StderrPipe()
	if err != nil {
		stdin.Close()
		lifeline.Close()
		stdout.Close()
		return nil, err
	}
	p.mu.Lock()
	p.cmd, p.sockDir, p.stdin, p.lifeline = c, sockDir, stdin, lifeline
	p.mu.Unlock()
	return &procRunner{p: p, stdout: &eofReader{stdout, p}, stderr: stderr}, nil
}

// release closes the host's end of the lifeline (the plugin exits at EOF),
// and the child's if it never started.
func (p *proc) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range []**os.File{&p.stdin, &p.lifeline} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

// kill sends SIGKILL, now or as soon as the process starts; go-plugin's
// goroutine reaps it.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() {
		return
	}
	p.killed.Store(true)
	if !p.started {
		p.killWant = true
		return
	}
	p.cmd.Process.Kill()
}

// pid is the process id, 0 before it started.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// exitError returns the error of a process that died, once its end is
// known; nil if it still runs d after the call. A process that has exited
// but is not reaped yet (the reaper is a goroutine, and a busy machine can
// keep it waiting far longer than d) is waited for: how it ended is known,
// and is the error.
func (p *proc) exitError(d time.Duration) error {
	if !p.isStarted() {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		if !p.exited() {
			return nil
		}
		<-p.done
	}
	why, oom := p.stderr.result()
	return osproc.Exited(p.state, why, oom)
}

// exited reports whether the process has exited, reaped or not: a zombie
// that its reaper has yet to collect counts. It peeks with waitid(2)'s
// WNOWAIT, which leaves the zombie to the reaper.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
	}
	var info unix.Siginfo // zeroed: with WNOHANG and no exit, it stays so
	err := unix.Waitid(unix.P_PID, p.pid(), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	if err != nil {
		return errors.Is(err, unix.ECHILD) // reaped since the select above
	}
	return info.Signo == int32(unix.SIGCHLD)
}

// procRunner is go-plugin's runner.Runner for a proc: go-plugin reads its
// stdout (the handshake) and stderr, and calls Wait once both are drained.
type procRunner struct {
	p              *proc
	stdout, stderr io.ReadCloser
}

// Start starts the process and caps its data at its limit.
func (r *procRunner) Start(context.Context) error {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.cmd.Start()
	p.stdin.Close() // the child has it
	p.stdin = nil
	if err != nil {
		r.stdout.Close()
		r.stderr.Close()
		return osproc.StartError(err)
	}
	p.started = true
	if err := osproc.LimitData(p.cmd.Process.Pid, p.limit); err != nil {
		// go-plugin starts no goroutine for a runner that failed to start:
		// reap it here.
		p.cmd.Process.Kill()
		r.stdout.Close()
		r.stderr.Close()
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		p.dead.Store(true)
		close(p.done)
		return err
	}
	if p.killWant {
		p.cmd.Process.Kill()
	}
	return nil
}

// Wait reaps the process.
func (r *procRunner) Wait(context.Context) error {
	p := r.p
	err := p.cmd.Wait()
	p.state = p.cmd.ProcessState
	p.dead.Store(true)
	close(p.done)
	return err
}

// Kill is go-plugin's: after a failed handshake and in its Client.Kill.
// It leaves alone a process whose stdout ended (it is exiting: a SIGKILL
// now would hide its exit status, and the backend's shutdown ends it if it
// does not).
func (r *procRunner) Kill(context.Context) error {
	if !r.p.eof.Load() {
		r.p.kill()
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.p.path }
func (r *procRunner) Diagnose(context.Context) string {
	return ""
}

// ID is the pid; never empty, so that go-plugin's Kill always cleans up
// (it does nothing for a runner with an empty ID).
func (r *procRunner) ID() string { return strconv.Itoa(r.p.pid()) }

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// eofReader notes the end of the process's stdout, which go-plugin reads.
type eofReader struct {
	io.ReadCloser
	p *proc
}

func (r *eofReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if err != nil {
		r.p.eof.Store(true)
	}
	return n, err
}

// stderrTail reads the plugin's stderr as go-plugin hands it over (each
// line, then its newline): it keeps the first line of a Go panic or fatal
// error, and notes a Go runtime out of memory ("fatal error: out of
// memory", "fatal error: runtime: out of memory", "fatal error: out of
// memory allocating heap arena metadata", and so on).
type stderrTail struct {
	mu   sync.Mutex
	line []byte // the line so far, at most maxLine bytes
	why  string
	sig  string
	oom  bool
}

const maxLine = 256

func (s *stderrTail) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range b {
		if c == '\n' {
			s.eol()
			continue
		}
		if len(s.line) < maxLine {
			s.line = append(s.line, c)
		}
	}
	return len(b), nil
}

func (s *stderrTail) eol() {
	l := string(s.line)
	s.line = s.line[:0]
	switch {
	case strings.HasPrefix(l, "fatal error: ") && strings.Contains(l, "out of memory"):
		s.oom = true
		fallthrough
	case strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: "):
		if s.why == "" {
			s.why = l
		}
	case strings.HasPrefix(l, "[signal ") && s.sig == "":
		l, _, _ = strings.Cut(l, " code=")
		s.sig = strings.TrimSuffix(l, "]") + "]"
	}
}

// result returns what the process printed: the first panic or fatal error
// line (and its signal line), and whether it ran out of memory.
func (s *stderrTail) result() (why string, oom bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	why = s.why
	if why != "" && s.sig != "" {
		why += " " + s.sig
	}
	return why, s.oom
}
