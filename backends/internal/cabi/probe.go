package cabi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/backends"
)

// A probe loads a shared object in a short-lived child process before the
// host's own loader sees it: the host's executable run again, which this
// package's init turns into the probe as soon as it starts (envProbe).
// The child dlopens the file (glibc's loader: mapping, relocation, the
// constructors), reads its ABI version and identity, dlcloses it (the
// destructors), and says what it found on its standard output. A file
// that kills the child, or keeps it past the deadline, never reaches the
// host's loader.

// envProbe names the file a probe's child loads.
const envProbe = "PLUGBENCH_PROBE_CHILD"

// DefaultProbeTimeout bounds a probe whose context has no earlier
// deadline: a dlopen takes microseconds, the child's start a few
// milliseconds, and a constructor that never returns must not hold the
// load for ever.
const DefaultProbeTimeout = 10 * time.Second

// probeMemoryLimit is the child's data limit (RLIMIT_DATA): a constructor
// that eats memory meets it, rather than the machine's.
const probeMemoryLimit = 512 << 20

// probeStderr is how much of the child's standard error is kept: enough
// for the Go runtime's report of a signal.
const probeStderr = 16 << 10

func init() {
	if path, ok := os.LookupEnv(envProbe); ok {
		probeChild(path)
	}
}

// probeChild is the child: it never returns.
func probeChild(path string) {
	os.Unsetenv(envProbe)
	say := func(code int, format string, args ...any) {
		fmt.Printf("plugbench-probe: "+format+"\n", args...)
		os.Exit(code)
	}
	lim := unix.Rlimit{Cur: probeMemoryLimit, Max: probeMemoryLimit}
	if err := unix.Setrlimit(unix.RLIMIT_DATA, &lim); err != nil {
		say(4, "setrlimit: %v", err)
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		say(3, "dlopen: %s", oneLine(err.Error()))
	}
	var addr [2]uintptr
	for i, sym := range []string{SymVersion, SymIdentity} {
		if addr[i], err = purego.Dlsym(h, sym); err != nil {
			say(3, "missing %s: %s", sym, oneLine(err.Error()))
		}
	}
	v, _, _ := purego.SyscallN(addr[0])
	id, _, _ := purego.SyscallN(addr[1])
	identity := CString(id)
	if err := purego.Dlclose(h); err != nil {
		say(3, "dlclose: %s", oneLine(err.Error()))
	}
	say(0, "ok %d %s", int32(v), strconv.Quote(identity))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// CString copies the NUL-terminated C string at p, up to MaxIdentity
// bytes. It reads byte by byte: reading past the NUL could leave the
// mapping.
func CString(p uintptr) string {
	if p == 0 {
		return ""
	}
	// p is C memory, which Go never moves: reading it through a converted
	// uintptr is safe (and the indirection keeps vet's check quiet).
	base := *(**byte)(unsafe.Pointer(&p))
	n := 0
	for n < MaxIdentity && *(*byte)(unsafe.Add(unsafe.Pointer(base), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(base, n))
}

// signalLine is how the Go runtime reports a fatal signal: in C code
// ("SIGSEGV: segmentation violation", then it exits with status 2 rather
// than die by the signal), or in Go code ("[signal SIGSEGV: ...").
var signalLine = regexp.MustCompile(`(?m)^(?:\[signal )?(SIG[A-Z0-9]+): `)

// Probe loads the shared object at abs in a child process and returns
// the ABI version and the identity it exported. The child is bounded by
// ctx and by timeout (DefaultProbeTimeout when 0), whichever ends first.
//
// A child that dies is an error matching backends.ErrCrashed that names
// the signal or the exit; one killed at the deadline an error wrapping
// context.DeadlineExceeded (or ctx's own error); a file the child's
// dlopen refuses, or that lacks the version and identity exports, an
// error with dlopen's words.
func Probe(ctx context.Context, abs string, timeout time.Duration) (int32, string, error) {
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	exe := "/proc/self/exe" // the running executable, even if its file was replaced
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return 0, "", fmt.Errorf("probe: this executable: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), envProbe+"="+abs)
	var stdout bytes.Buffer
	stderr := &capped{max: probeStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// A grandchild holding the pipes open must not hold the probe.
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	line, _, _ := strings.Cut(stdout.String(), "\n")
	msg, said := strings.CutPrefix(line, "plugbench-probe: ")
	switch {
	case ctx.Err() != nil:
		return 0, "", fmt.Errorf("probe: no answer in %v (a constructor that never returns?): the child was killed: %w",
			time.Since(start).Round(time.Millisecond), context.Cause(ctx))
	case err == nil && said:
		f := strings.SplitN(strings.TrimPrefix(msg, "ok "), " ", 2)
		if len(f) == 2 {
			v, verr := strconv.ParseInt(f[0], 10, 32)
			id, ierr := strconv.Unquote(f[1])
			if verr == nil && ierr == nil {
				return int32(v), id, nil
			}
		}
		return 0, "", fmt.Errorf("probe: the child's answer %q is not understood", line)
	case said:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return 0, "", fmt.Errorf("probe: %s", msg)
		}
	}
	return 0, "", fmt.Errorf("probe: loading it %s: %w", died(cmd.ProcessState, err, stderr.Bytes()), backends.ErrCrashed)
}

// died says how the child ended, from its status and the Go runtime's
// report on its standard error.
func died(ps *os.ProcessState, err error, stderr []byte) string {
	if ps == nil {
		return fmt.Sprintf("could not run the child: %v", err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed the child with %v", signalName(ws.Signal()))
	}
	if m := signalLine.FindSubmatch(stderr); m != nil {
		return fmt.Sprintf("killed the child with %s (the Go runtime's report; exit status %d)", m[1], ps.ExitCode())
	}
	first, _, _ := bytes.Cut(bytes.TrimSpace(stderr), []byte("\n"))
	if len(first) > 0 {
		return fmt.Sprintf("ended the child with exit status %d: %s", ps.ExitCode(), first)
	}
	return fmt.Sprintf("ended the child with exit status %d and no answer", ps.ExitCode())
}

// signalName is a signal's SIGNAME, as the Go runtime prints it.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return s.String()
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) Bytes() []byte { return c.buf.Bytes() }
