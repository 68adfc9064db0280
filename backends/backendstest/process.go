package backendstest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/event"
)

// FDs counts this process's open file descriptors, skipping where
// /proc/self/fd cannot be read.
func FDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// CheckChildren fails t if this process has a child, a zombie or a live
// one: every plugin process must have been reaped.
func CheckChildren(t testing.TB) {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == self {
			t.Errorf("process %s (%s) is still a child of the host, state %s", e.Name(), s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')], f[0])
		}
	}
}

// Bare returns be with every optional capability of its plugins hidden
// (backends.EventPlugin, backends.Caller): what a backend that offers
// neither looks like, to check that a suite skips what a backend lacks
// rather than fail it.
func Bare(be backends.Backend) backends.Backend { return bare{be} }

type bare struct{ backends.Backend }

type bareModule struct{ backends.Module }

func (b bare) Load(ctx context.Context, path string) (backends.Module, error) {
	m, err := b.Backend.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	return bareModule{m}, nil
}

func (m bareModule) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	p, err := m.Module.Instantiate(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return struct{ backends.Plugin }{p}, nil
}

// A ProcessFault is a fault of the guest's Min that a backend whose
// instances are processes promises to survive, and the error Min returns:
// one matching Is whose text holds each of Text.
type ProcessFault struct {
	Fault string
	Is    error
	Text  []string
	// Timeout, if not 0, is the instance's WithCallTimeout: the call
	// must end there (a loop).
	Timeout time.Duration
}

// Processes is what ProcessFaults needs: a backend whose instances are
// processes (its plugins have a method Pid() int) and its guests.
type Processes struct {
	Backend backends.Backend
	// Healthy is a healthy guest; Fault returns the guest built with a
	// fault of fixtures.Faults (a C or Go guest, as the backend loads).
	Healthy string
	Fault   func(tb testing.TB, fault string) string
	// Exited is what a call on a plugin whose process died matches.
	Exited error
	// Cases are the faults of Min.
	Cases []ProcessFault
	// Reaped says that a call a death ended returns only once the host
	// has reaped the process: none is left, not even a zombie.
	Reaped bool
}

// ProcessFaults checks what a misbehaving plugin process does to its
// host:
//   - each of Cases: the instance answers before (but for a loop, whose
//     short timeout a busy machine can make a healthy call miss), Min
//     fails as the case says and ends with the death or at the timeout,
//     the instance is closed, and the module makes a new, healthy one;
//   - startloop: a Load under a 300 ms deadline ends with
//     context.DeadlineExceeded;
//   - idle death: a plugin killed (SIGTERM) between calls fails the next
//     call at once, matching Exited and naming the signal;
//   - death mid-call: a plugin killed (SIGKILL) in a call that never
//     returns ends the call with the death.
//
// How late each ends is logged; only one that never ends
// (StuckAfter late) fails.
func ProcessFaults(t *testing.T, k Processes) {
	ctx := context.Background()
	be := k.Backend
	pid := func(p backends.Plugin) int { return p.(interface{ Pid() int }).Pid() }
	for _, f := range k.Cases {
		t.Run("fault="+f.Fault, func(t *testing.T) {
			mod, err := be.Load(ctx, k.Fault(t, f.Fault))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			var opts []backends.Option
			if f.Timeout != 0 {
				opts = append(opts, backends.WithCallTimeout(f.Timeout))
			}
			p, err := mod.Instantiate(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if f.Timeout == 0 {
				if r, err := p.Accumulate(5); r != 5 || err != nil {
					t.Fatalf("accumulate: %d, %v", r, err)
				}
			}
			id := pid(p)
			start := time.Now()
			_, err = p.Min(1, 2)
			took := time.Since(start)
			var e *backends.Error
			ok := errors.Is(err, f.Is) && errors.As(err, &e) && e.Symbol == "plugbench_min"
			for _, s := range f.Text {
				ok = ok && strings.Contains(err.Error(), s)
			}
			if !ok {
				t.Fatalf("min: %v; want %v, %q", err, f.Is, f.Text)
			}
			t.Logf("min: %v", err)
			// The call ends with the death (a bomb's once it reached its
			// limit), or at the timeout.
			Ended(t, "min", took, f.Timeout)
			if k.Reaped && syscall.Kill(id, 0) == nil {
				t.Errorf("process %d still exists", id)
			}
			if _, err := p.Min(1, 2); !errors.Is(err, backends.ErrClosed) {
				t.Errorf("min after the fault: %v, want ErrClosed", err)
			}
			p.Close(ctx)
			// A bounded instance after the loop: a healthy call answers
			// under a timeout that no busy machine makes it miss.
			opts = nil
			if f.Timeout != 0 {
				opts = append(opts, backends.WithCallTimeout(StuckAfter))
			}
			q, err := mod.Instantiate(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := q.Accumulate(7); r != 7 || err != nil {
				t.Errorf("a new instance: accumulate: %d, %v", r, err)
			}
			q.Close(ctx)
		})
	}
	t.Run("fault=startloop", func(t *testing.T) {
		path := k.Fault(t, "startloop")
		const d = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		_, err := be.Load(ctx, path)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load returned in %v: %v; want DeadlineExceeded", took, err)
		}
		Ended(t, "Load", took, d)
		t.Logf("Load: %v", err)
	})
	t.Run("idle death", func(t *testing.T) {
		p := Open(t, be, k.Healthy)
		id := pid(p)
		syscall.Kill(id, syscall.SIGTERM)
		// Idle: the process is gone (the host reaped it) before the call.
		if !Eventually(func() bool { return syscall.Kill(id, 0) != nil }) {
			t.Fatalf("process %d still exists %v after SIGTERM", id, StuckAfter)
		}
		start := time.Now()
		_, err := p.Min(1, 2)
		took := time.Since(start)
		if !errors.Is(err, k.Exited) || !strings.Contains(err.Error(), "SIGTERM") {
			t.Fatalf("min on a dead plugin: %v in %v; want %v naming SIGTERM", err, took, k.Exited)
		}
		Ended(t, "min on a dead plugin", took, 0)
		t.Logf("min: %v", err)
	})
	t.Run("death mid-call", func(t *testing.T) {
		p := Open(t, be, k.Fault(t, "loop"))
		id := pid(p)
		at := make(chan time.Time, 1)
		go func() {
			time.Sleep(50 * time.Millisecond)
			at <- time.Now()
			syscall.Kill(id, syscall.SIGKILL)
		}()
		_, err := p.Min(1, 2)
		took := time.Since(<-at)
		if !errors.Is(err, k.Exited) || !strings.Contains(err.Error(), "SIGKILL") {
			t.Fatalf("min: %v, %v after the kill; want %v naming SIGKILL", err, took, k.Exited)
		}
		Ended(t, "min, from the kill,", took, 0)
		t.Logf("min: %v", err)
	})
}

// Parallel calls n instances of the guest at path from n goroutines at
// once, each instance with a host function of its own, rounds times each:
// Accumulate, an event through the flat transport and a callback, every
// answer checked (run it with -race).
func Parallel(t *testing.T, be backends.Backend, path string, n, rounds int) {
	var wg sync.WaitGroup
	for g := range n {
		p := Open(t, be, path, backends.WithEmit(func(v int64) int64 { return v + int64(g) }))
		wg.Go(func() {
			ep, ok := p.(backends.EventPlugin)
			cl, ok2 := p.(backends.Caller)
			if !ok || !ok2 {
				t.Errorf("goroutine %d: a %T offers no events or no callbacks", g, p)
				return
			}
			c, err := ep.Events(event.Flat)
			if err != nil {
				t.Errorf("goroutine %d: %v", g, err)
				return
			}
			in, _ := event.Shape("typical")
			var total int64
			for i := range rounds {
				if r, err := p.Accumulate(int64(g + 1)); err != nil || r != int64(i+1)*int64(g+1) {
					t.Errorf("goroutine %d: accumulate %d: %d, %v", g, i, r, err)
					return
				}
				var out event.Event
				if _, err := backends.Process(c, in, &out); err != nil {
					t.Error(err)
					return
				}
				r, _ := cl.Callback(4)
				total += r
			}
			if want := int64(rounds * (6 + 4*g)); total != want {
				t.Errorf("goroutine %d: callbacks summed %d, want %d", g, total, want)
			}
		})
	}
	wg.Wait()
}
