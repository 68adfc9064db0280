package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/backendstest"
	"github.com/plugbench/plugbench/backends/dlopen"
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

// nativeMemoryLimit is the address space the harness lets a cell's child
// whose plugin runs in the host's process (static, dlopen, the
// interpreters) take beyond what it holds when the limit is set: the
// host's own memory has no other limit, and a 4 GiB bomb should not take
// the machine's. Beyond, not in all: go.starlark.net reserves 4 GiB of
// address space at its init, never touched (its small ints' addresses),
// and a limit in all would leave that host no room for anything. 1 GiB is
// far beyond what any healthy plugin here takes, and a bomb reaches it in
// half a second.
const nativeMemoryLimit = 1 << 30

var (
	faultsOut   = flag.String("faults", "", "TestFaultTable writes the fault table to this JSON `file` (make faults)")
	faultTrials = flag.Int("fault-trials", 1, "TestFaultTable runs each cell this many `times`, each in a new host process (make faults: 5)")
	faultPar    = flag.Int("fault-parallel", 8, "TestFaultTable runs this `many` cells at once, the longest first (longFirst; make faults: 4, for its detection times)")
)

// envFaultCell names the cell a child runs: "fault backend fixture".
const envFaultCell = "PLUGBENCH_FAULT_CELL"

// FaultCell is one cell of the fault table, as results/faults.json holds it
// (benchreport report -faults reads it): one fault of one target, met by
// a fresh host process in each of its trials. The cell's own fields are
// its worst trial's (the gravest consequence, the first such), so that a
// reader of one cell sees the worst that was seen; Trials has every one.
type FaultCell struct {
	Fault   string `json:"fault"`
	Backend string `json:"backend"`
	Fixture string `json:"fixture"`
	FaultTrial
	Trials []FaultTrial `json:"trials"`
}

// FaultTrial is what one host process saw of the fault.
type FaultTrial struct {
	// Outcome is what the host saw: "error" (the call or load returned
	// one), "deadline" (a hang the deadline ended, with an error),
	// "killed" (the host process died), "hung" (the host's own timer
	// fired; the plugin still runs and cannot be stopped, or the host
	// never got control back), or "not-applicable".
	Outcome string `json:"outcome"`
	// Consequence is what the fault cost the host, one of consequences.
	Consequence string `json:"consequence"`
	Signal      string `json:"signal"` // for killed: SIGSEGV, SIGABRT… or "" for a Go fatal error
	Detail      string `json:"detail"` // the error, the crash report's first line, or why not applicable
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

// consequences are what a fault can cost the host, from the mildest to the
// gravest: the order a cell's worst trial is chosen by.
var consequences = []string{
	"not-applicable",
	"error",         // the call or load returned an error; the host is fine
	"stopped",       // a hang ended at the deadline; the host is fine
	"core-lost",     // the plugin runs on, on a core of its own; the host is fine
	"restart",       // the host runs, but only a new process gets a working plugin
	"loader-locked", // the dynamic loader stays locked: nothing loads again until a restart
	"host-frozen",   // the host stopped: its next garbage collection never ends
	"host-killed",   // the host process died
}

func gravity(consequence string) int { return slices.Index(consequences, consequence) }

// FaultTable is results/faults.json.
type FaultTable struct {
	Config     map[string]string `json:"config"`
	DeadlineNS int64             `json:"deadline_ns"`
	Trials     int               `json:"trials"` // per cell
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
	if *faultTrials < 1 {
		t.Fatalf("-fault-trials %d: want at least 1", *faultTrials)
	}
	table := FaultTable{Config: map[string]string{}, DeadlineNS: faultDeadline.Nanoseconds(), Trials: *faultTrials, Faults: fixtures.Faults}
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
	fx.MakeAll()
	// The cells run a few at a time: most of a cell's time is spent
	// waiting for a deadline, and each cell's host is its own process.
	var cells [][]FaultCell
	type slot struct {
		tg    Target
		fault string
		c     *FaultCell
	}
	var slots []slot
	for _, tg := range faultTargets() {
		row := make([]FaultCell, len(fixtures.Faults))
		cells = append(cells, row)
		for i, fault := range fixtures.Faults {
			slots = append(slots, slot{tg, fault, &row[i]})
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return longFirst(a.tg, a.fault) - longFirst(b.tg, b.fault) })
	if *faultPar < 1 {
		t.Fatalf("-fault-parallel=%d: want 1 or more cells at once", *faultPar)
	}
	// The cells are subtests run by -fault-parallel workers, each taking
	// the next cell in slots' order and running it to its end: t.Run may be
	// called from several goroutines at once, and a subtest that is not
	// parallel runs in its caller's, so neither go test's order nor its
	// -test.parallel decides which cells run together.
	t.Run("cells", func(t *testing.T) {
		var next atomic.Int32
		var wg sync.WaitGroup
		for range min(*faultPar, len(slots)) {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(slots); i = int(next.Add(1)) - 1 {
					sl := slots[i]
					tg, fault := sl.tg, sl.fault
					t.Run("fault="+fault+"/backend="+tg.Backend+"/fixture="+tg.Fixture, func(t *testing.T) {
						c := FaultCell{Fault: fault, Backend: tg.Backend, Fixture: tg.Fixture}
						for n := range *faultTrials {
							tr := runFaultTrial(t, tg, fault)
							checkFaultTrial(t, tg, fault, tr)
							t.Logf("trial %d: %s, %s: %s %s in %v (since %s), recovery %s: %s", n+1, tr.Consequence, tr.Outcome, tr.Signal, tr.Detail,
								time.Duration(tr.DetectNS), tr.Since, tr.Recovery, tr.RecoveryNote)
							if n == 0 || gravity(tr.Consequence) > gravity(c.Consequence) {
								c.FaultTrial = tr
							}
							c.Trials = append(c.Trials, tr)
						}
						*sl.c = c
					})
				}
			})
		}
		wg.Wait()
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

// longFirst is a cell's place in the order the fault table starts its
// cells: the targets that compile their variant in the host
// (Target.CompileFirst) first, then the memory bombs, which touch a
// gigabyte in the native hosts, then the rest. The table ends when its
// last cell does, and go test's own order for parallel subtests left the
// knqyf263 cells (a compile of the 3.3 MB guest in each host, and a
// startloop host that waits as long again to be called frozen) to run
// nearly alone at the end.
func longFirst(tg Target, fault string) int {
	switch {
	case tg.CompileFirst:
		return 0
	case fault == "bomb":
		return 1
	}
	return 2
}

// checkFaultTrial checks a trial against what the contract and the
// backends promise: the outcome, recovery and consequence of
// Target.ExpectFault, a wasm guest's fault an error naming it, a memory bomb meeting
// the limit with the host's peak RSS under 1 GiB, a native crash a dead
// host with its signal. How soon the host knew is measured, not checked
// here: on a busy machine any deadline is late by what the scheduler
// takes, and the table reports it.
func checkFaultTrial(t *testing.T, tg Target, fault string, c FaultTrial) {
	t.Helper()
	native := tg.Where != Sandboxed && tg.Where != OwnProcess
	e := tg.ExpectFault(fault)
	if (c.Outcome != e.Outcome && (e.Or == "" || c.Outcome != e.Or)) || c.Recovery != e.Recovery || c.Consequence != e.Consequence {
		t.Fatalf("outcome %q, recovery %q, consequence %q; want %+v: %+v", c.Outcome, c.Recovery, c.Consequence, e, c)
	}
	switch {
	case c.Outcome == "killed" && tg.Where == InHost && fault == "segv" && c.Signal != "SIGSEGV":
		t.Errorf("a segfaulting shared object: signal %q, want SIGSEGV", c.Signal)
	case c.Outcome == "killed" && tg.BuiltFor == dlopen.Name && fault == "abort" && c.Signal != "SIGABRT":
		t.Errorf("an aborting C-ABI shared object: signal %q, want SIGABRT", c.Signal)
	case c.Outcome == "killed" && tg.Lang == "go" && fault == "abort" && !strings.Contains(c.Detail, "panic: "):
		t.Errorf("a panicking Go plugin: %q, want the panic named", c.Detail)
	case tg.Where == OwnProcess && tg.Lang == "c" && fault == "segv" && !strings.Contains(c.Detail, "SIGSEGV"):
		t.Errorf("a segfaulting plugin process: %q, want its signal named", c.Detail)
	case tg.Where == OwnProcess && tg.Lang == "c" && fault == "abort" && !strings.Contains(c.Detail, "SIGABRT"):
		t.Errorf("an aborting plugin process: %q, want its signal named", c.Detail)
	case fault == "bomb" && !native:
		if !strings.Contains(c.Detail, backends.ErrMemoryLimit.Error()) {
			t.Errorf("a sandboxed memory bomb: %q, want an error naming the memory limit", c.Detail)
		}
		if c.PeakRSS <= 0 || c.PeakRSS >= 1<<30 {
			t.Errorf("a sandboxed memory bomb: host peak RSS %d MiB, want measured and under 1 GiB", c.PeakRSS>>20)
		}
	case fault == "segv" && tg.Where == Sandboxed && tg.Lang != "go" && !strings.Contains(c.Detail, "out of bounds memory access"):
		t.Errorf("a wasm out-of-bounds access: %q, want the trap named", c.Detail)
	case fault == "segv" && tg.Where == Sandboxed && tg.Lang == "go" && !strings.Contains(c.Detail, "runtime.sigpanic"):
		// Go's wasm port checks for nil itself: the panic aborts.
		t.Errorf("a Go guest's nil pointer: %q, want its panic (runtime.sigpanic) named", c.Detail)
	}
	if c.Outcome != "not-applicable" && c.Recovery == "" {
		t.Errorf("no recovery: %+v", c)
	}
}

// faultSetupLimit bounds a trial's child up to the fault: its start, the
// fixtures, the load. Far beyond what it takes on a busy machine; only a
// child that is stuck before the fault meets it.
const faultSetupLimit = 2 * time.Minute

// frozenAfter is how long a trial's host may go without a word, after it
// should have said something, before the harness calls it frozen: 1.5 s,
// or as long as the same child took to get from its start to the fault,
// whichever is longer. What it has left to do (a garbage collection, a new
// instance, a call) is far less than what it did to get there: a host
// that is only slow, on a busy machine, says its word within that time; a
// frozen one never does.
func frozenAfter(setup time.Duration) time.Duration { return max(1500*time.Millisecond, setup) }

// runFaultTrial runs one trial of a cell in a child and returns it.
func runFaultTrial(t *testing.T, tg Target, fault string) FaultTrial {
	t.Helper()
	if _, err := tg.Faults(faultDir, fault); err != nil {
		if errors.Is(err, fixtures.ErrNoCompiler) || errors.Is(err, fixtures.ErrNoRustc) || errors.Is(err, errors.ErrUnsupported) {
			// A toolchain this machine lacks, or a mechanism this host
			// cannot use (cgo's, without cgo): the reason is the row's.
			skip(t, "%s/%s: fault variant unavailable: %v", tg.Backend, tg.Fixture, err)
		}
		if tg.Where == Compiled {
			return FaultTrial{Outcome: "not-applicable", Consequence: "not-applicable", Detail: err.Error(), Recovery: "none",
				RecoveryNote: "nothing to recover: the host never starts"}
		}
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(scratch, "fault-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultTable$", "-test.v=false")
	cmd.Env = childEnv(envFaultCell+"="+fault+" "+tg.Backend+" "+tg.Fixture, "TMPDIR="+tmp, "PLUGBENCH_FAULT_DIR="+faultDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadBytes('\n')
			if bytes.HasPrefix(line, []byte("plugbench-fault: ")) {
				lines <- bytes.TrimSpace(bytes.TrimPrefix(line, []byte("plugbench-fault: ")))
			}
			if err != nil {
				return
			}
		}
	}()
	// The child says "calling" at the fault, "partial {…}" once it knows
	// what the host saw, then "{…}" once it has recovered. How long each
	// may take: until the fault, faultSetupLimit; from the fault to the
	// partial report, what the child itself waits for the fault (the
	// call's own deadline for a bounded backend, its timer for the
	// others) and frozenAfter more; from there to the report, frozenAfter.
	var calling time.Time
	var result, partial []byte
	wait := faultSetupLimit
	var why string // why the harness stopped waiting
	timer := time.NewTimer(wait)
	defer timer.Stop()
read:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			switch {
			case string(line) == "calling":
				calling = time.Now()
				wait = faultWait(tg, fault) + frozenAfter(calling.Sub(started))
			case bytes.HasPrefix(line, []byte("partial {")):
				partial = bytes.TrimPrefix(line, []byte("partial "))
				wait = frozenAfter(calling.Sub(started))
			case bytes.HasPrefix(line, []byte("{")):
				result = line
			}
			timer.Reset(wait)
		case <-timer.C:
			why = fmt.Sprintf("no word from the host for %v", wait.Round(time.Millisecond))
			cmd.Process.Kill()
			for range lines {
			}
			break read
		}
	}
	werr := cmd.Wait()
	died := time.Now()
	var tr FaultTrial
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		tr.PeakRSS = ru.Maxrss << 10
	}
	switch {
	case result != nil:
		if err := json.Unmarshal(result, &tr); err != nil {
			t.Fatalf("the trial's report %q: %v", result, err)
		}
		return tr
	case calling.IsZero() && why != "":
		t.Fatalf("the trial's child made no progress before the fault (%s):\n%s", why, excerpt(stderr.Bytes(), 30))
	case calling.IsZero():
		t.Fatalf("the trial's child failed before the fault (%v):\n%s", werr, excerpt(stderr.Bytes(), 30))
	case why != "" && partial != nil:
		// The host saw the fault, then froze trying to go on.
		peak := tr.PeakRSS
		if err := json.Unmarshal(partial, &tr); err != nil {
			t.Fatalf("the trial's report %q: %v", partial, err)
		}
		tr.PeakRSS = max(tr.PeakRSS, peak)
		tr.Consequence, tr.Recovery = "host-frozen", "restart"
		tr.RecoveryNote = fmt.Sprintf("the host froze after it: its next garbage collection never finished (%s: killed by the harness): "+
			"Go cannot preempt the guest still spinning in compiled code, and a collection stops every goroutine first", why)
		return tr
	case why != "":
		tr.Outcome, tr.Consequence, tr.Since = "hung", "host-frozen", "deadline"
		tr.Detail = fmt.Sprintf("the host never got control back (%s: killed by the harness)", why)
		tr.Recovery, tr.RecoveryNote = "restart", "a new process"
		return tr
	}
	how := crashed(cmd.ProcessState, stderr.Bytes())
	if how == "" {
		t.Fatalf("the trial's child exited (%v) without a report:\n%s", werr, excerpt(stderr.Bytes(), 30))
	}
	tr.Outcome, tr.Consequence, tr.Since, tr.DetectNS = "killed", "host-killed", "call", died.Sub(calling).Nanoseconds()
	tr.Detail = how
	if m := runtimeCrash.FindSubmatch(stderr.Bytes()); m != nil {
		tr.Detail = strings.TrimSpace(string(m[0]))
	}
	if i := strings.Index(how, "SIG"); i >= 0 {
		tr.Signal = strings.TrimRight(strings.Fields(how[i:])[0], ")")
	}
	tr.Recovery, tr.RecoveryNote = "restart", "the host process is gone: a new one loads the plugin again"
	return tr
}

// faultCallTimeout is a faulty call's WithCallTimeout, where the backend
// takes one: a memory bomb has to meet its limit first.
func faultCallTimeout(fault string) time.Duration {
	if fault == "bomb" {
		return 20 * time.Second
	}
	return faultDeadline
}

// faultWait is how long a trial's child itself waits for the fault once
// it has said "calling" (measureFault), before it reports what it saw: a
// start function's deadline; a call's timeout and 5 s more where the
// backend bounds the call and ends it itself; else the timeout, after
// which the host's own timer calls the call hung (a bomb touches
// gigabytes before it fails).
func faultWait(tg Target, fault string) time.Duration {
	if fault == "startloop" {
		return faultDeadline
	}
	if tg.Bounded {
		return faultCallTimeout(fault) + 5*time.Second
	}
	return faultCallTimeout(fault)
}

// faultCellChild is a trial's child: it meets the fault, prints what it
// saw as one JSON line, and exits, leaving behind whatever the plugin
// still runs.
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
	fx.MakeAll()
	tr, err := measureFault(f[0], f[1], f[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault cell:", err)
		os.Exit(2)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		tr.PeakRSS = ru.Maxrss << 10
	}
	b, _ := json.Marshal(tr)
	fmt.Printf("plugbench-fault: %s\n", b)
	os.Exit(0)
}

// compileFirst returns a wazero cache holding the module at path,
// compiled (Target.CompileFirst).
func compileFirst(ctx context.Context, path string) (Cache, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return Cache{}, err
	}
	c := wazero.NewCompilationCache()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(c))
	defer r.Close(ctx) // the cache keeps the module: it is not closed
	if _, err := r.CompileModule(ctx, bin); err != nil {
		return Cache{}, fmt.Errorf("compile %s first: %w", path, err)
	}
	return Cache{Wazero: c}, nil
}

func say(what string) { fmt.Printf("plugbench-fault: %s\n", what) }

// measureFault is a trial, in its own process.
func measureFault(fault, backend, fixture string) (FaultTrial, error) {
	var tr FaultTrial
	i := slices.IndexFunc(Targets, func(t Target) bool { return t.Backend == backend && t.Fixture == fixture })
	if i < 0 {
		return tr, fmt.Errorf("no target %s/%s", backend, fixture)
	}
	tg := Targets[i]
	path, err := tg.Faults(os.Getenv("PLUGBENCH_FAULT_DIR"), fault)
	if err != nil {
		return tr, err
	}
	bg := context.Background()
	var cache Cache
	if fault == "startloop" && tg.CompileFirst {
		if cache, err = compileFirst(bg, path); err != nil {
			return tr, err
		}
	}
	be, err := tg.New(bg, cache)
	if err != nil {
		return tr, err
	}
	if tg.Where == InHost || tg.Where == Compiled {
		// The host's own memory has no limit but the machine's: give it one.
		held, err := procField("/proc/self/status", "VmSize:")
		if err != nil {
			return tr, fmt.Errorf("limit the address space: %w", err)
		}
		lim := syscall.Rlimit{Cur: held + nativeMemoryLimit, Max: held + nativeMemoryLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			return tr, fmt.Errorf("limit the address space: %w", err)
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
			return tr, fmt.Errorf("%s loaded: its start should never return", path)
		}
		tr.Outcome, tr.Consequence, tr.Detail, tr.Since, tr.DetectNS = "error", "error", err.Error(), "load", took.Nanoseconds()
		if errors.Is(err, context.DeadlineExceeded) {
			tr.Outcome, tr.Consequence, tr.Since, tr.DetectNS = "deadline", "stopped", "deadline", max(late, 0).Nanoseconds()
		}
		if errors.Is(err, backends.ErrNoInterrupt) {
			tr.Consequence = "core-lost" // the start function runs on
		}
		goOn(tr)
		var locked bool
		tr.Recovery, tr.RecoveryNote, locked = recoverByReload(tg, be, err)
		switch {
		case locked:
			tr.Consequence = "loader-locked"
		case tr.Recovery == "restart":
			tr.Consequence = "restart"
		}
		return tr, nil
	}
	mod, err := be.Load(bg, path)
	if err != nil {
		return tr, err
	}
	p, err := mod.Instantiate(bg, backends.WithCallTimeout(faultCallTimeout(fault)))
	var why error
	if err != nil {
		if !errors.Is(err, backends.ErrNoInterrupt) {
			return tr, err
		}
		why = err
		if p, err = mod.Instantiate(bg); err != nil {
			return tr, err
		}
	}
	done := make(chan error, 1)
	say("calling")
	start := time.Now()
	go func() {
		_, err := p.Min(minA, minB)
		done <- err
	}()
	select {
	case err := <-done:
		took := time.Since(start)
		if err == nil {
			tr.Outcome, tr.Consequence, tr.Detail, tr.Since, tr.DetectNS = "error", "error", "none: the call returned normally", "call", took.Nanoseconds()
			break
		}
		tr.Outcome, tr.Consequence, tr.Detail, tr.Since, tr.DetectNS = "error", "error", err.Error(), "call", took.Nanoseconds()
		if errors.Is(err, context.DeadlineExceeded) {
			// The call's deadline starts inside Min, after start: never
			// earlier than start+faultDeadline.
			tr.Outcome, tr.Consequence, tr.Since, tr.DetectNS = "deadline", "stopped", "deadline", max(took-faultDeadline, 0).Nanoseconds()
		}
		p.Close(bg)
	case <-time.After(faultWait(tg, fault)):
		tr.Outcome, tr.Consequence, tr.Since = "hung", "core-lost", "deadline"
		tr.Detail = fmt.Sprintf("still running after %v; the host's own timer fired, and nothing can stop the call: %v", faultWait(tg, fault), why)
	}
	goOn(tr)
	tr.Recovery, tr.RecoveryNote = recoverByReinstantiate(mod, tr.Outcome == "hung")
	if tr.Recovery == "restart" {
		tr.Consequence = "restart"
	}
	return tr, nil
}

// goOn reports what the host saw so far, then has it go on as a host
// does: collect garbage. A plugin still running where Go cannot preempt
// it freezes the host here, and the parent reports the partial cell.
func goOn(tr FaultTrial) {
	b, _ := json.Marshal(tr)
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
// healthy plugin still loads with the same backend in this process;
// locked reports that it does not because the loader is held.
func recoverByReload(tg Target, be backends.Backend, loadErr error) (recovery, note string, locked bool) {
	// A healthy load must not meet a deadline a busy machine's compile or
	// process start could: a locked loader refuses at once anyway.
	ctx, cancel := context.WithTimeout(context.Background(), backendstest.StuckAfter)
	defer cancel()
	path, err := tg.Path(fx)
	if path == "" {
		return "restart", fmt.Sprintf("no healthy plugin to load (%v)", err), false
	}
	mod, err := be.Load(ctx, path)
	if err != nil {
		// A loader that stays locked refuses at once, with ErrNoInterrupt:
		// the start function of the first plugin still holds it.
		return "restart", "nothing loads in this process any more (" + err.Error() + "): only a new process",
			errors.Is(err, backends.ErrNoInterrupt)
	}
	defer mod.Close(context.Background())
	note = "another plugin loads and answers in the same process"
	if errors.Is(loadErr, backends.ErrNoInterrupt) {
		note += "; the start function runs on, on a goroutine and a core of its own"
	}
	return "reload", note, false
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
