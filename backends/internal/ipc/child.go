package ipc

import (
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/plugbench/plugbench/backends/internal/osproc"
)

// ErrExited matches the error of a call whose plugin process died (or
// exited) under it, and of a load whose executable exited before its
// handshake. The message says how: the exit status, or the signal.
var ErrExited = osproc.ErrExited

// DefaultMemoryLimit is the default data limit (RLIMIT_DATA) of every plugin
// process (Config.MemoryLimit sets another), set with prlimit(2) right
// after it starts (osproc.DefaultMemoryLimit says why RLIMIT_DATA); the shared
// region, a shared mapping, does not count.
const DefaultMemoryLimit = osproc.DefaultMemoryLimit

// ShutdownWait is how long Close waits for a plugin to exit after the
// close op before it kills it.
const ShutdownWait = time.Second

// child is one plugin process and its reaper: a goroutine that waits for
// it, so that it never lingers as a zombie, and that notes its end.
type child struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process is reaped
	state  *os.ProcessState
	dead   atomic.Bool // set before done is closed
	killed atomic.Bool // the host sent SIGKILL
	// onDeath runs on the reaper's goroutine once the process is reaped,
	// before done is closed (shm: wakes a host asleep on the doorbell).
	onDeath func()
}

// start starts the executable at path with args, stdin, stdout and the
// extra files (fd 3 on), stderr the host's, and caps its data at limit
// bytes.
// The caller closes its copies of the files it handed over.
func start(path string, limit uint64, args []string, stdin, stdout *os.File, extra []*os.File, onDeath func()) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, os.Stderr
	cmd.ExtraFiles = extra
	cmd.Env = []string{} // the plugin gets nothing of the host's environment
	if err := cmd.Start(); err != nil {
		return nil, osproc.StartError(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{}), onDeath: onDeath}
	if err := osproc.LimitData(cmd.Process.Pid, limit); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	go c.reap()
	return c, nil
}

func (c *child) reap() {
	c.cmd.Wait() // its error is in the state
	c.state = c.cmd.ProcessState
	c.dead.Store(true)
	if c.onDeath != nil {
		c.onDeath()
	}
	close(c.done)
}

// kill sends SIGKILL; the reaper does the rest.
func (c *child) kill() {
	if !c.dead.Load() {
		c.killed.Store(true)
		c.cmd.Process.Kill()
	}
}

// wait waits for the reaper, at most d, then kills the process and waits
// for good.
func (c *child) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return
	case <-t.C:
	}
	c.kill()
	<-c.done
}

// exitError returns the error of a process that died: how it ended, and
// ErrMemoryLimit when it ran out of memory (oom: its malloc failed and it
// said so). It waits for the reaper, killing the process if it has not
// ended within 100 ms (it closed its end of the channel but runs on).
func (c *child) exitError(oom bool) error {
	c.wait(100 * time.Millisecond)
	return osproc.Exited(c.state, "", oom)
}
