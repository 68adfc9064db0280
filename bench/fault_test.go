package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/extism"
	"github.com/plugbench/plugbench/backends/goplugin"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/backends/wasm"
	"github.com/plugbench/plugbench/backends/yaegi"
	"github.com/plugbench/plugbench/fixtures"
)

// The fault table: for every target that has fault variants of its fixture
// (Target.Faults) and every fault (fixtures.Faults), what a host sees when
// the plugin misbehaves, how long until it knows, and how it gets a working
// instance again. Each cell runs in a child process of its own (the test
// binary re-executed, as isolated rows are), because some faults end the
// process; the parent watches it from outside.
//
// A cell's child loads the variant, makes an instance (bounded by
// WithCallTimeout where the backend can stop a call), says "calling", and
// calls min, which misbehaves; startloop misbehaves in Load instead,
// bounded by its context. Then it tries to recover in the same process:
// a new instance of the same module answers (reinstantiate), or another
// plugin loads (reload, after startloop). It reports the cell as one JSON
// line. A child that dies is reported by the parent from its exit status
// and its stderr; one that never returns is killed at the harness's own
// deadline.

// faultDeadline bounds a cell's faulty operation: the start function's
// context, the call's WithCallTimeout, and, for a backend that can bound
// neither, how long the host waits before calling the call hung.
const faultDeadline = 500 * time.Millisecond

// nativeMemoryLimit is the address space the harness gives a cell's child
// whose plugin runs natively (static, dlopen): the host's own memory has no
// other limit, and a 4 GiB bomb should not take the machine's.
const nativeMemoryLimit = 2 << 30

var faultsOut = flag.String("faults", "", "TestFaultTable writes the fault table to this JSON `file` (make faults)")

// envFaultCell names the cell a child runs: "fault backend fixture".
const envFaultCell = "PLUGBENCH_FAULT_CELL"

// FaultCell is one cell of the fault table, as results/faults.json holds it
// (benchreport report -faults reads it).
type FaultCell struct {
	Fault   string `json:"fault"`
	Backend string `json:"backend"`
	Fixture string `json:"fixture"`
	// Outcome is what the host saw: "error" (the call or load returned
	// one), "deadline" (a hang the deadline ended, with an error),
	// "killed" (the host process died), "hung" (the host's own timer
	// fired; the plugin still runs and cannot be stopped), or
	// "not-applicable".
	Outcome string `json:"outcome"`
	Signal  string `json:"signal"` // for killed: SIGSEGV, SIGABRT… or "" for a Go fatal error
	Detail  string `json:"detail"` // the error, the crash report's first line, or why not applicable
	// DetectNS is how long until the host knew, counted from Since:
	// "call" (the faulty call's start), "deadline", or "load".
	DetectNS int64  `json:"detect_ns"`
	Since    string `json:"since"`
	// Recovery is how the host gets a working instance again:
	// "reinstantiate", "reload", "restart" (a new process) or "none".
	Recovery     string `json:"recovery"`
	RecoveryNote string `json:"recovery_note"`
	PeakRSS      int64  `json:"peak_rss_bytes"`
}

// FaultTable is results/faults.json.
type FaultTable struct {
	Config     map[string]string `json:"config"`
	DeadlineNS int64             `json:"deadline_ns"`
	Faults     []string          `json:"faults"`
	Cells      []FaultCell       `json:"cells"`
}

// faultTargets are the targets with fault variants, in Targets' order.
func faultTargets() []Target {
	var ts []Target
	for _, t := range Targets {
		if t.Faults != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// TestFaultTable measures every cell and checks what the contract and the
// backends promise of it; with -faults FILE it also writes the table.
func TestFaultTable(t *testing.T) {
	if os.Getenv(envFaultCell) != "" {
		faultCellChild(t) // never returns
	}
	if inChild() {
		t.Skip("an isolated row's child runs no fault table")
	}
	if testing.Short() && *faultsOut == "" {
		t.Skip("every fault in a process of its own, some waiting for a deadline: skipped with -short")
	}
	table := FaultTable{Config: map[string]string{}, DeadlineNS: faultDeadline.Nanoseconds(), Faults: fixtures.Faults}
	table.Config["go"] = runtime.Version()
	table.Config["goos"], table.Config["goarch"] = runtime.GOOS, runtime.GOARCH
	table.Config["commit"] = commit()
	if mods, err := moduleVersions(context.Background()); err == nil {
		for _, m := range mods {
			table.Config[m[0]] = m[1]
		}
	}
	if c, err := cpuName(); err == nil {
		table.Config["cpu"] = c
	}
	// The variants first, all cores at once: a cell that built its own
	// would spend its slot compiling.
	prebuildFaults(faultDir)
	// And every artifact fixtures make at first use, here once: a cell's
	// process finds them in this process's folder (and is handed the Go
	// plugin) instead of building its own within its 2 s to the fault.
	makeAll()
	// The cells run a few at a time: most of a cell's time is spent
	// waiting for a deadline, and each cell's host is its own process.
	var cells [][]FaultCell
	t.Run("cells", func(t *testing.T) {
		for _, tg := range faultTargets() {
			row := make([]FaultCell, len(fixtures.Faults))
			cells = append(cells, row)
			for i, fault := range fixtures.Faults {
				t.Run("fault="+fault+"/backend="+tg.Backend+"/fixture="+tg.Fixture, func(t *testing.T) {
					t.Parallel()
					c := runFaultCell(t, tg, fault)
					row[i] = c
					checkFaultCell(t, tg, c)
					t.Logf("%s: %s %s in %v (since %s), recovery %s: %s", c.Outcome, c.Signal, c.Detail,
						time.Duration(c.DetectNS), c.Since, c.Recovery, c.RecoveryNote)
				})
			}
		}
	})
	for _, row := range cells {
		table.Cells = append(table.Cells, row...)
	}
	if *faultsOut != "" && !t.Failed() {
		b, err := json.MarshalIndent(table, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*faultsOut, append(b, '\n'), 0o644); err != nil {
			t.Fatalf("write the fault table: %v", err)
		}
	}
}

// checkFaultCell checks a cell against what the contract promises: a wasm
// guest's fault is an error naming it, a bounded hang ends within 100 ms
// of its deadline, a memory bomb meets the limit with the host's peak RSS
// under 1 GiB, a native crash is a dead host with its signal, and nothing
// else.
func checkFaultCell(t *testing.T, tg Target, c FaultCell) {
	t.Helper()
	native := tg.Isolate || tg.Backend == static.Name
	want, recovery := expectFault(tg, c.Fault)
	if c.Fault == "startloop" && spinsUnpreempted(tg) && c.Outcome == "deadline" {
		want = c.Outcome // see expectFault
	}
	if c.Outcome != want || c.Recovery != recovery {
		t.Fatalf("outcome %q, recovery %q; want %q, %q: %+v", c.Outcome, c.Recovery, want, recovery, c)
	}
	switch {
	case c.Outcome == "deadline" && c.DetectNS > (100*time.Millisecond).Nanoseconds():
		t.Errorf("returned %v after the deadline, want ≤ 100ms", time.Duration(c.DetectNS))
	case c.Outcome == "killed" && tg.Isolate && c.Fault == "segv" && c.Signal != "SIGSEGV":
		t.Errorf("a segfaulting shared object: signal %q, want SIGSEGV", c.Signal)
	case c.Outcome == "killed" && tg.BuiltFor == dlopen.Name && c.Fault == "abort" && c.Signal != "SIGABRT":
		t.Errorf("an aborting C-ABI shared object: signal %q, want SIGABRT", c.Signal)
	case c.Outcome == "killed" && tg.Backend == goplugin.Name && c.Fault == "abort" && !strings.Contains(c.Detail, "panic: "):
		t.Errorf("a panicking Go plugin: %q, want the panic named", c.Detail)
	case tg.OutOfProcess && c.Outcome == "error" && c.Fault != "bomb" && c.DetectNS > (100*time.Millisecond).Nanoseconds():
		t.Errorf("a plugin process that died: the host knew after %v, want ≤ 100ms", time.Duration(c.DetectNS))
	case tg.OutOfProcess && tg.Lang == "c" && c.Fault == "segv" && !strings.Contains(c.Detail, "SIGSEGV"):
		t.Errorf("a segfaulting plugin process: %q, want its signal named", c.Detail)
	case tg.OutOfProcess && tg.Lang == "c" && c.Fault == "abort" && !strings.Contains(c.Detail, "SIGABRT"):
		t.Errorf("an aborting plugin process: %q, want its signal named", c.Detail)
	case c.Fault == "bomb" && !native:
		if !strings.Contains(c.Detail, backends.ErrMemoryLimit.Error()) {
			t.Errorf("a sandboxed memory bomb: %q, want an error naming the memory limit", c.Detail)
		}
		if c.PeakRSS <= 0 || c.PeakRSS >= 1<<30 {
			t.Errorf("a sandboxed memory bomb: host peak RSS %d MiB, want measured and under 1 GiB", c.PeakRSS>>20)
		}
	case c.Fault == "segv" && !native && !tg.OutOfProcess && !strings.Contains(c.Detail, "out of bounds memory access"):
		t.Errorf("a wasm out-of-bounds access: %q, want the trap named", c.Detail)
	}
	if c.Outcome != "not-applicable" && c.Recovery == "" {
		t.Errorf("no recovery: %+v", c)
	}
}

// expectFault is what a cell must show: the outcome and the recovery the
// backends promise (the package docs of backends, dlopen and wasm).
func expectFault(tg Target, fault string) (outcome, recovery string) {
	native := tg.Isolate || tg.Backend == static.Name
	bounded := tg.Bounded
	switch {
	case tg.Backend == yaegi.Name && fault == "bomb":
		// Interpreted Go allocates from the host's own heap, which has no
		// limit but the process's: past it, the Go runtime dies.
		return "killed", "restart"
	case tg.Backend == yaegi.Name:
		// The interpreter recovers a guest's panic (segv, abort) into an
		// error, and stops a loop or an init at its deadline.
		return expectBounded(fault)
	case native && fault == "loop":
		return "hung", "reinstantiate" // the call spins on; a new instance works
	case tg.Backend == static.Name && fault == "startloop":
		return "not-applicable", "none"
	case native && fault == "startloop":
		return "deadline", "restart" // dlopen returns, the loader stays locked
	case native:
		return "killed", "restart"
	case fault == "startloop" && spinsUnpreempted(tg):
		// The abandoned start function spins in compiled code, which Go
		// cannot preempt: the next garbage collection waits for it for
		// ever. Load returns at the deadline ("deadline") unless that
		// collection comes first and freezes the host before ("hung").
		return "hung", "restart"
	case fault == "startloop":
		return "deadline", "reload"
	case fault == "loop" && spinsUnpreempted(tg):
		return "hung", "restart"
	case fault == "loop" && !bounded:
		return "hung", "reinstantiate"
	}
	return expectBounded(fault)
}

// expectBounded is what a sandboxed target that can stop its guest
// shows: an error for a crash, the deadline for a hang.
func expectBounded(fault string) (outcome, recovery string) {
	switch fault {
	case "startloop":
		return "deadline", "reload"
	case "loop":
		return "deadline", "reinstantiate"
	}
	return "error", "reinstantiate"
}

// spinsUnpreempted reports whether an abandoned guest of tg spins on in
// compiled code that Go cannot preempt: wazero's compiler, under the wasm
// backend and under Extism, without WithCloseOnContextDone.
func spinsUnpreempted(tg Target) bool {
	return tg.Backend == wasm.Name || tg.Backend == extism.Name
}

// runFaultCell runs one cell in a child and returns it.
func runFaultCell(t *testing.T, tg Target, fault string) FaultCell {
	t.Helper()
	cell := FaultCell{Fault: fault, Backend: tg.Backend, Fixture: tg.Fixture}
	if _, err := tg.Faults(faultDir, fault); err != nil {
		if errors.Is(err, fixtures.ErrNoCompiler) || errors.Is(err, fixtures.ErrNoRustc) || errors.Is(err, errors.ErrUnsupported) {
			// A toolchain this machine lacks, or a mechanism this host
			// cannot use (cgo's, without cgo): the reason is the row's.
			skip(t, "%s/%s: fault variant unavailable: %v", tg.Backend, tg.Fixture, err)
		}
		if tg.Backend == static.Name {
			cell.Outcome, cell.Detail, cell.Recovery = "not-applicable", err.Error(), "none"
			cell.RecoveryNote = "nothing to recover: the host never starts"
			return cell
		}
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(scratch, "fault-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	limit := faultDeadline + 1500*time.Millisecond
	if fault == "bomb" {
		limit = 30 * time.Second // a native bomb touches gigabytes first
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFaultTable$", "-test.v=false")
	cmd.Env = childEnv(envFaultCell+"="+fault+" "+tg.Backend+" "+tg.Fixture, "TMPDIR="+tmp, "PLUGBENCH_FAULT_DIR="+faultDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var calling time.Time
	var result, partial []byte
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadBytes('\n')
		switch {
		case bytes.HasPrefix(line, []byte("plugbench-fault: calling")):
			calling = time.Now()
		case bytes.HasPrefix(line, []byte("plugbench-fault: {")):
			result = bytes.TrimPrefix(bytes.TrimSpace(line), []byte("plugbench-fault: "))
		case bytes.HasPrefix(line, []byte("plugbench-fault: partial {")):
			partial = bytes.TrimPrefix(bytes.TrimSpace(line), []byte("plugbench-fault: partial "))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	werr := cmd.Wait()
	died := time.Now()
	if result != nil {
		if err := json.Unmarshal(result, &cell); err != nil {
			t.Fatalf("the cell's report %q: %v", result, err)
		}
		return cell
	}
	if calling.IsZero() {
		t.Fatalf("the cell's child failed before the fault (%v):\n%s", werr, excerpt(stderr.Bytes(), 30))
	}
	if ctx.Err() != nil && partial != nil {
		// The host saw the fault, then froze trying to go on.
		if err := json.Unmarshal(partial, &cell); err != nil {
			t.Fatalf("the cell's report %q: %v", partial, err)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cell.PeakRSS = ru.Maxrss << 10
		}
		cell.Recovery = "restart"
		cell.RecoveryNote = fmt.Sprintf("the host froze after it: its next garbage collection never finished (killed by the harness after %v): "+
			"Go cannot preempt the guest still spinning in compiled code, and a collection stops every goroutine first", limit)
		return cell
	}
	if ctx.Err() != nil {
		cell.Outcome, cell.Since = "hung", "deadline"
		cell.Detail = fmt.Sprintf("the host never got control back: killed by the harness after %v", limit)
		cell.Recovery, cell.RecoveryNote = "restart", "a new process"
		return cell
	}
	how := crashed(cmd.ProcessState, stderr.Bytes())
	if how == "" {
		t.Fatalf("the cell's child exited (%v) without a report:\n%s", werr, excerpt(stderr.Bytes(), 30))
	}
	cell.Outcome, cell.Since, cell.DetectNS = "killed", "call", died.Sub(calling).Nanoseconds()
	cell.Detail = how
	if m := runtimeCrash.FindSubmatch(stderr.Bytes()); m != nil {
		cell.Detail = strings.TrimSpace(string(m[0]))
	}
	if i := strings.Index(how, "SIG"); i >= 0 {
		cell.Signal = strings.TrimRight(strings.Fields(how[i:])[0], ")")
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cell.PeakRSS = ru.Maxrss << 10
	}
	cell.Recovery, cell.RecoveryNote = "restart", "the host process is gone: a new one loads the plugin again"
	return cell
}

// faultCellChild is a cell's child: it measures the cell, prints it as one
// JSON line, and exits, leaving behind whatever the plugin still runs.
func faultCellChild(t *testing.T) {
	f := strings.Fields(os.Getenv(envFaultCell))
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "%s=%q: want \"fault backend fixture\"\n", envFaultCell, os.Getenv(envFaultCell))
		os.Exit(2)
	}
	// Every artifact first, before any fault: fixtures make some at
	// their first use, and the healthy plugin's build would otherwise
	// come after the fault, inside the recovery's deadline (a cell whose
	// go build ran there read as a host that froze).
	makeAll()
	cell, err := measureFault(f[0], f[1], f[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault cell:", err)
		os.Exit(2)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cell.PeakRSS = ru.Maxrss << 10
	}
	b, _ := json.Marshal(cell)
	fmt.Printf("plugbench-fault: %s\n", b)
	os.Exit(0)
}

// makeAll makes the artifacts fixtures leave to their first use.
func makeAll() {
	fx.GoPlugin()
	fx.Yaegi()
	fx.ServeC()
	fx.ServeGo()
	fx.Hashicorp()
}

func say(what string) { fmt.Printf("plugbench-fault: %s\n", what) }

// measureFault is the cell, in its own process.
func measureFault(fault, backend, fixture string) (FaultCell, error) {
	cell := FaultCell{Fault: fault, Backend: backend, Fixture: fixture}
	i := slices.IndexFunc(Targets, func(t Target) bool { return t.Backend == backend && t.Fixture == fixture })
	if i < 0 {
		return cell, fmt.Errorf("no target %s/%s", backend, fixture)
	}
	tg := Targets[i]
	path, err := tg.Faults(os.Getenv("PLUGBENCH_FAULT_DIR"), fault)
	if err != nil {
		return cell, err
	}
	bg := context.Background()
	be, err := tg.New(bg, Cache{})
	if err != nil {
		return cell, err
	}
	if tg.Isolate || tg.Backend == static.Name {
		// The host's own memory has no limit but the machine's: give it one.
		lim := syscall.Rlimit{Cur: nativeMemoryLimit, Max: nativeMemoryLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			return cell, fmt.Errorf("limit the address space: %w", err)
		}
	}
	if fault == "startloop" {
		say("calling")
		start := time.Now()
		ctx, cancel := context.WithTimeout(bg, faultDeadline)
		defer cancel()
		mod, err := be.Load(ctx, path)
		took := time.Since(start)
		deadline, _ := ctx.Deadline()
		late := time.Since(deadline)
		if err == nil {
			mod.Close(bg)
			return cell, fmt.Errorf("%s loaded: its start should never return", path)
		}
		cell.Outcome, cell.Detail, cell.Since, cell.DetectNS = "error", err.Error(), "load", took.Nanoseconds()
		if errors.Is(err, context.DeadlineExceeded) {
			cell.Outcome, cell.Since, cell.DetectNS = "deadline", "deadline", max(late, 0).Nanoseconds()
		}
		goOn(cell)
		cell.Recovery, cell.RecoveryNote = recoverByReload(tg, be, err)
		return cell, nil
	}
	mod, err := be.Load(bg, path)
	if err != nil {
		return cell, err
	}
	timeout := faultDeadline
	if fault == "bomb" {
		timeout = 20 * time.Second // the cell is about the memory limit: meet it first
	}
	p, err := mod.Instantiate(bg, backends.WithCallTimeout(timeout))
	bounded := err == nil
	var why error
	if !bounded {
		if !errors.Is(err, backends.ErrNoInterrupt) {
			return cell, err
		}
		why = err
		if p, err = mod.Instantiate(bg); err != nil {
			return cell, err
		}
	}
	done := make(chan error, 1)
	say("calling")
	start := time.Now()
	go func() {
		_, err := p.Min(minA, minB)
		done <- err
	}()
	wait := faultDeadline
	switch {
	case bounded:
		wait = timeout + 5*time.Second // the backend ends the call itself
	case fault == "bomb":
		wait = 20 * time.Second // it touches gigabytes before it fails
	}
	select {
	case err := <-done:
		took := time.Since(start)
		if err == nil {
			cell.Outcome, cell.Detail, cell.Since, cell.DetectNS = "error", "none: the call returned normally", "call", took.Nanoseconds()
			break
		}
		cell.Outcome, cell.Detail, cell.Since, cell.DetectNS = "error", err.Error(), "call", took.Nanoseconds()
		if errors.Is(err, context.DeadlineExceeded) {
			// The call's deadline starts inside Min, after start: never
			// earlier than start+faultDeadline.
			cell.Outcome, cell.Since, cell.DetectNS = "deadline", "deadline", max(took-faultDeadline, 0).Nanoseconds()
		}
		p.Close(bg)
	case <-time.After(wait):
		cell.Outcome, cell.Since = "hung", "deadline"
		cell.Detail = fmt.Sprintf("still running after %v; the host's own timer fired, and nothing can stop the call: %v", wait, why)
	}
	goOn(cell)
	cell.Recovery, cell.RecoveryNote = recoverByReinstantiate(mod, cell.Outcome == "hung")
	return cell, nil
}

// goOn reports what the host saw so far, then has it go on as a host
// does: collect garbage. A plugin still running where Go cannot preempt
// it freezes the host here, and the parent reports the partial cell.
func goOn(cell FaultCell) {
	b, _ := json.Marshal(cell)
	fmt.Printf("plugbench-fault: partial %s\n", b)
	runtime.GC()
}

// recoverByReinstantiate checks that a new instance of the module answers.
func recoverByReinstantiate(mod backends.Module, hung bool) (string, string) {
	bg := context.Background()
	p, err := mod.Instantiate(bg)
	if err != nil {
		return "restart", "a new instance fails (" + err.Error() + "): only a new process"
	}
	defer p.Close(bg)
	if v, err := p.Accumulate(accX); err != nil || v != accX {
		return "restart", fmt.Sprintf("a new instance answers %d, %v: only a new process", v, err)
	}
	if hung {
		return "reinstantiate", "a new instance of the same module answers; the stuck call keeps its goroutine, its OS thread and a core for good"
	}
	return "reinstantiate", "a new instance of the same module answers"
}

// recoverByReload checks, after a start that never returned, that the
// healthy plugin still loads with the same backend in this process.
func recoverByReload(tg Target, be backends.Backend, loadErr error) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	path, err := tg.Path(fx)
	if path == "" {
		return "restart", fmt.Sprintf("no healthy plugin to load (%v)", err)
	}
	mod, err := be.Load(ctx, path)
	if err != nil {
		return "restart", "nothing loads in this process any more (" + err.Error() + "): only a new process"
	}
	defer mod.Close(context.Background())
	note := "another plugin loads and answers in the same process"
	if errors.Is(loadErr, backends.ErrNoInterrupt) {
		note += "; the start function runs on, on a goroutine and a core of its own"
	}
	return "reload", note
}

// cpuName is the processor's name, as go test prints it.
func cpuName() (string, error) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no model name in /proc/cpuinfo")
}
