// Package bench is plugbench's benchmark suite: every phase of a plugin's
// life (load, instantiate, calls, payloads, teardown), measured through the
// backends.Plugin contract for every backend and fixture, each benchmark
// beside a twin test that checks the same setup answers correctly and is
// the plugin its name claims.
//
// The suite lives in the _test.go files; this file holds the matrix of what
// is measured, so that adding a backend is one entry in Targets.
package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/hashicorp/go-plugin"
	"github.com/tetratelabs/wazero"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/cgo"
	"github.com/plugbench/plugbench/backends/dlopen"
	"github.com/plugbench/plugbench/backends/event"
	"github.com/plugbench/plugbench/backends/extism"
	"github.com/plugbench/plugbench/backends/goja"
	"github.com/plugbench/plugbench/backends/goplugin"
	"github.com/plugbench/plugbench/backends/hashicorp"
	"github.com/plugbench/plugbench/backends/knqyf263"
	"github.com/plugbench/plugbench/backends/lua"
	"github.com/plugbench/plugbench/backends/shm"
	"github.com/plugbench/plugbench/backends/starlark"
	"github.com/plugbench/plugbench/backends/static"
	"github.com/plugbench/plugbench/backends/subprocess"
	"github.com/plugbench/plugbench/backends/wasm"
	"github.com/plugbench/plugbench/backends/wasmtime"
	"github.com/plugbench/plugbench/backends/yaegi"
	"github.com/plugbench/plugbench/fixtures"
)

// Fixture names in benchmark names.
const (
	FixtureBuiltin = "builtin" // the static backend's compiled-in plugin
	FixtureC       = "c"       // fixtures/c/plugbench.c
	FixtureGo      = "go"      // fixtures/go
	FixtureRust    = "rust"    // fixtures/rust/plugbench.rs
	// The scripted guests, each in its own language.
	FixtureStarlark = "starlark" // fixtures/starlark/plugbench.star
	FixtureLua      = "lua"      // fixtures/lua/plugbench.lua
	FixtureJS       = "js"       // fixtures/js/plugbench.js
)

// A Target is one backend loading one fixture: a column of every table.
type Target struct {
	Backend string // backend name, as in benchmark names
	Fixture string // fixture name
	// BuiltFor and Lang are what the artifact's identity must say: the suite
	// checks them so that no row silently measures another plugin.
	BuiltFor, Lang string
	// New makes the backend; cache is used by backends with a compilation
	// cache and ignored by the others.
	New func(ctx context.Context, cache Cache) (backends.Backend, error)
	// NewLimited, for backends that cap a guest's memory, makes the
	// backend with the cap at limit bytes, and cache as New takes it:
	// BenchmarkRecover's memory bomb meets a small cap, so that each
	// untimed fault takes milliseconds.
	NewLimited func(ctx context.Context, cache Cache, limit uint64) (backends.Backend, error)
	// Path returns the artifact's path in a fixtures set, or "" and the
	// reason it is unavailable.
	Path func(s *fixtures.Set) (string, error)
	// Caches lists the compilation-cache modes the load phase measures.
	Caches []CacheMode
	// Transports lists the event transports the target's instances must
	// offer: the event suite measures each and checks that no other is
	// offered, so that a row cannot silently disappear.
	Transports []event.Transport
	// NoEvents and NoCallbacks say why the target's plugins offer no
	// events (no backends.EventPlugin, and Transports is empty) or call no
	// host function back (no backends.Caller); "" when they do. Their rows
	// in the event and callback tables are skipped by design with the
	// reason, and TestCapabilities checks each claim against the plugin.
	NoEvents, NoCallbacks string
	// Bounded is set for targets that can stop a running call: they take
	// backends.WithCallTimeout, and honour the context of Load and
	// Instantiate inside a start function; the others refuse the option
	// with backends.ErrNoInterrupt.
	Bounded bool
	// Where is where the guest runs, and so what its faults can do to the
	// host: the fault table's expectations, the rows run isolated, and
	// whose memory counts child processes follow from it.
	Where Where
	// OncePerProcess is set for targets that can open a plugin only once
	// per process (Go's plugin package): their cold load is measured in a
	// new process per load (benchFreshLoad).
	OncePerProcess bool
	// IsMapped, for targets whose Close unmaps the plugin's file, reports
	// whether it is mapped: a load measured while it still is would only
	// bump a reference count (checkUnmapped).
	IsMapped func(path string) (bool, error)
	// StaysMapped, for targets that cannot unload a plugin, returns how
	// many bytes of its file stay mapped after Close:
	// BenchmarkSetup/phase=close reports it (mapped-B).
	StaysMapped func(path string) (int64, error)
	// NeedsCgo is set for targets whose backend works only in a host built
	// with cgo: the needs-cgo config line of every result file lists
	// them, and TestNeedsCgo checks the claim in both kinds of build.
	NeedsCgo bool
	// Verify, for targets whose plugin the host's own dynamic loader maps,
	// is what their Load does with the file before the loader sees it, so
	// that BenchmarkSetup times each step as a phase of its own
	// (phase=check, phase=probe) and phase=load the mechanism alone.
	Verify *Verify
	// Modules are the Go modules the backend loads plugins with: each
	// one's version is a config line of every result file.
	Modules []string
	// ExpectFault is what each fault of fixtures.Faults does to the
	// target's host: what the fault table must find in every trial, and
	// what BenchmarkRecover recovers by. One of the fault models below.
	ExpectFault func(fault string) FaultExpect
	// CompileFirst is set for targets whose compile alone outlasts the
	// fault table's deadline (the Go guest's second on wazero): the
	// startloop cell compiles the variant into the backend's wazero
	// cache first, so that the deadline meets the start function, not the
	// compiler; and BenchmarkRecover compiles each variant once a
	// process, not once a sample (its setup, untimed: 18 compiles made
	// a fifth of the quick run's recovery rows).
	CompileFirst bool
	// Faults is how the fault table makes the target's misbehaving
	// variant of its fixture (one of fixtures.Faults) in a scratch folder;
	// nil when the target has none. It returns "" and the reason when
	// there is none to load.
	Faults func(dir, fault string) (string, error)
}

// Verify is what a native backend's Load does before dlopen sees the file.
type Verify struct {
	// Check is the in-process check of the file's headers.
	Check func(path string) error
	// Probe loads the file in a child process first, and checks the
	// identity it exports there (Config.Probe).
	Probe func(ctx context.Context, path string) (backends.Identity, error)
	// Bare is the backend with neither: phase=load times it.
	Bare func(ctx context.Context) (backends.Backend, error)
}

// Where is where a target's guest runs.
type Where int

const (
	// Compiled: the guest is the host's own code (static). Its faults are
	// the host's own.
	Compiled Where = iota
	// InHost: loaded into the host's process with nothing between it and
	// the host's memory (cgo, dlopen, goplugin, and yaegi, whose guest can
	// overflow its stack or run the host out of memory): a crash takes
	// the host down, so each of its rows runs in a child process
	// (isolate_test.go), and a crash costs the row, not the run.
	InHost
	// Sandboxed: in the host's process, inside a runtime that bounds every
	// access the guest makes (the wasm runtimes).
	Sandboxed
	// OwnProcess: a process of its own: a plugin that crashes is an error
	// naming its signal, and the host goes on.
	OwnProcess
)

// FaultExpect is what a fault does to a target's host: the fault table's
// words for how it ended, what it cost the host, and what brings the host
// back.
type FaultExpect struct {
	// Outcome is how the call or load ended: "error", "deadline" (stopped
	// at its deadline), "hung", "killed" (the host died), or
	// "not-applicable".
	Outcome string
	// Or is the other outcome a trial may show, where a race the host
	// does not control decides between the two; "" if none.
	Or string
	// Recovery is what gets the host working again: "reinstantiate",
	// "reload", "restart" (a new host process) or "none".
	Recovery string
	// Consequence is what the fault cost the host, whatever the outcome's
	// timing: "error", "stopped", "core-lost", "loader-locked",
	// "host-frozen", "host-killed" or "not-applicable".
	Consequence string
}

// The fault models: what each kind of target promises (the package docs
// of backends and of each backend say why).
var (
	// compiledFaults: the guest is the host's own code. A crash is the
	// host's; a loop spins on in a call the host cannot stop; a start
	// that never returns is a host that never starts.
	compiledFaults = func(fault string) FaultExpect {
		switch fault {
		case "startloop":
			return FaultExpect{Outcome: "not-applicable", Recovery: "none", Consequence: "not-applicable"}
		case "loop":
			return FaultExpect{Outcome: "hung", Recovery: "reinstantiate", Consequence: "core-lost"}
		}
		return FaultExpect{Outcome: "killed", Recovery: "restart", Consequence: "host-killed"}
	}
	// nativeFaults: native code in the host's process. As compiled, and a
	// constructor that never returns leaves the dynamic loader locked:
	// Load returns at its deadline, and no later load can.
	nativeFaults = func(fault string) FaultExpect {
		if fault == "startloop" {
			return FaultExpect{Outcome: "deadline", Recovery: "restart", Consequence: "loader-locked"}
		}
		return compiledFaults(fault)
	}
	// boundedFaults: a guest the backend can stop (a sandbox with
	// interruption, a process of its own): a crash is an error, a hang
	// stops at its deadline.
	boundedFaults = func(fault string) FaultExpect {
		switch fault {
		case "startloop":
			return FaultExpect{Outcome: "deadline", Recovery: "reload", Consequence: "stopped"}
		case "loop":
			return FaultExpect{Outcome: "deadline", Recovery: "reinstantiate", Consequence: "stopped"}
		}
		return FaultExpect{Outcome: "error", Recovery: "reinstantiate", Consequence: "error"}
	}
	// unboundedFaults: a sandbox that cannot stop a running guest: a crash
	// is an error; Load returns at its deadline but the start function
	// runs on, and a looping call hangs, each holding a core.
	unboundedFaults = func(fault string) FaultExpect {
		switch fault {
		case "startloop":
			return FaultExpect{Outcome: "deadline", Recovery: "reload", Consequence: "core-lost"}
		case "loop":
			return FaultExpect{Outcome: "hung", Recovery: "reinstantiate", Consequence: "core-lost"}
		}
		return boundedFaults(fault)
	}
	// unpreemptedFaults: a sandbox whose abandoned guest spins in compiled
	// code that Go cannot preempt (wazero's compiler without
	// WithCloseOnContextDone): the next garbage collection waits for it
	// for ever, and the host freezes. Load returns at its deadline
	// ("deadline") unless that collection comes first ("hung").
	unpreemptedFaults = func(fault string) FaultExpect {
		switch fault {
		case "startloop":
			return FaultExpect{Outcome: "hung", Or: "deadline", Recovery: "restart", Consequence: "host-frozen"}
		case "loop":
			return FaultExpect{Outcome: "hung", Recovery: "restart", Consequence: "host-frozen"}
		}
		return boundedFaults(fault)
	}
	// interpretedFaults: an interpreter in the host's process (yaegi,
	// Starlark, Lua, goja) turns a guest's panic or error into an error of the call
	// and stops a loop or a top level at its deadline, but
	// allocates from the host's own heap, which has no limit but the
	// process's: past it, the Go runtime dies.
	interpretedFaults = func(fault string) FaultExpect {
		if fault == "bomb" {
			return FaultExpect{Outcome: "killed", Recovery: "restart", Consequence: "host-killed"}
		}
		return boundedFaults(fault)
	}
)

func (w Where) String() string {
	return [...]string{"compiled in", "in the host's process", "sandboxed in the host's process", "a process of its own"}[w]
}

// Isolated reports whether t's rows run in a child process of their own.
func (t Target) Isolated() bool { return t.Where == InHost }

// CacheMode is a compilation-cache setting of the load phase.
type CacheMode string

// Cache modes, as the cache= key of BenchmarkSetup/phase=load.
const (
	CacheNone   CacheMode = "none"   // compile from scratch
	CacheMemory CacheMode = "memory" // the module is already compiled in this process
	CacheDisk   CacheMode = "disk"   // compiled by an earlier process, read from a directory
)

// Cache is what a backend may reuse of earlier loads, handed to
// Target.New; the zero Cache reuses nothing. Each backend takes the part
// its runtime understands.
type Cache struct {
	// Wazero is a wazero compilation cache, in memory or backed by a
	// directory, shared by the runtimes of the backends built on wazero.
	Wazero wazero.CompilationCache
	// Dir is a directory for backends that keep serialized compilations
	// of their own (wasmtime's).
	Dir string
	// ModuleDir, set for the disk mode only, is a directory for backends
	// that back a cache of each module's own with one (knqyf263's
	// Config.CacheDir): a shared cache would keep the module compiled
	// after it is closed.
	ModuleDir string
}

// Targets is the matrix, in the fixed order of every benchmark: the
// baseline, the in-process native mechanisms (cgo, purego, Go's plugin
// package), the wasm runtimes (wazero's engines, Wasmtime, the Extism
// and knqyf263/go-plugin frameworks on wazero), the interpreters (yaegi for Go, Starlark, Lua, JavaScript on goja), then the plugins
// that are processes of their own (pipes, shared memory, and
// hashicorp/go-plugin's gRPC and net/rpc).
var Targets = []Target{
	{
		Backend: static.Name, Fixture: FixtureBuiltin, BuiltFor: static.Name, Lang: "go", Where: Compiled,
		New:         func(ctx context.Context, _ Cache) (backends.Backend, error) { return static.New(ctx, static.Config{}) },
		Path:        func(*fixtures.Set) (string, error) { return static.Path, nil },
		Transports:  []event.Transport{event.Value},
		ExpectFault: compiledFaults,
		Faults: func(_, fault string) (string, error) {
			if !slices.Contains(static.Faults, fault) {
				return "", errors.New("a static plugin is compiled into the host: its init runs before main, and a host whose init never returns never starts")
			}
			return static.FaultPath(fault), nil
		},
	},
	nativeTarget(cgo.Name, FixtureC), nativeTarget(cgo.Name, FixtureRust),
	nativeTarget(dlopen.Name, FixtureC), nativeTarget(dlopen.Name, FixtureRust),
	{
		Backend: goplugin.Name, Fixture: FixtureGo, BuiltFor: goplugin.Name, Lang: "go",
		New: func(ctx context.Context, _ Cache) (backends.Backend, error) {
			return goplugin.New(ctx, goplugin.Config{})
		},
		Path: func(s *fixtures.Set) (string, error) {
			return s.Artifact(fixtures.GoPluginName)
		},
		Transports:     []event.Transport{event.Value, event.JSON, event.Binary, event.Flat},
		Where:          InHost,
		OncePerProcess: true,
		NeedsCgo:       true,
		StaysMapped:    goplugin.Mapped,
		ExpectFault:    nativeFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.GoPluginFaultName(fault)), func(out string) error {
				return fixtures.BuildGoPluginFault(context.Background(), out, fault)
			})
		},
	},
	wasmTarget(wasm.Name, FixtureC), wasmTarget(wasm.Name, FixtureGo), wasmTarget(wasm.Name, FixtureRust),
	wasmTarget(wasm.NameInterp, FixtureC), wasmTarget(wasm.NameInterp, FixtureRust),
	wasmTarget(wasm.NameBounded, FixtureC),
	wasmtimeTarget(FixtureC), wasmtimeTarget(FixtureGo), wasmtimeTarget(FixtureRust),
	extismTarget(extism.Name), extismTarget(extism.NameBounded),
	{
		// The Go guest behind knqyf263/go-plugin's generated code, on the
		// framework's default runtime (wazero's compiler) with a
		// compilation cache: the wasm (go) row's guest and engine, with
		// the framework's protobuf crossing.
		Backend: knqyf263.Name, Fixture: FixtureGo, BuiltFor: knqyf263.Name, Lang: "go", Where: Sandboxed,
		New: func(ctx context.Context, cache Cache) (backends.Backend, error) {
			if cache.ModuleDir != "" {
				return knqyf263.New(ctx, knqyf263.Config{CacheDir: cache.ModuleDir})
			}
			return knqyf263.New(ctx, knqyf263.Config{Cache: cache.Wazero})
		},
		NewLimited: func(ctx context.Context, cache Cache, limit uint64) (backends.Backend, error) {
			return knqyf263.New(ctx, knqyf263.Config{Cache: cache.Wazero, MemoryLimit: limit})
		},
		Path: func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.KnqName) },
		// Its in-memory cached load is the one its instances pay; from
		// disk, each module's own cache reads the directory
		// (Config.CacheDir), so that its close row frees what it loaded.
		Caches: []CacheMode{CacheNone, CacheMemory, CacheDisk},
		// Events cross as the protobuf message of its service.
		Transports:   []event.Transport{event.Value},
		Modules:      []string{"github.com/knqyf263/go-plugin", "github.com/tetratelabs/wazero"},
		CompileFirst: true,
		ExpectFault:  unpreemptedFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.KnqFaultName(fault)), func(out string) error {
				return fixtures.BuildKnqFault(context.Background(), out, fault)
			})
		},
	},
	{
		Backend: yaegi.Name, Fixture: FixtureGo, BuiltFor: yaegi.Name, Lang: "go",
		New:  func(ctx context.Context, _ Cache) (backends.Backend, error) { return yaegi.New(ctx, yaegi.Config{}) },
		Path: func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.YaegiName) },
		// Interpreted Go runs in the host's process: a plugin that
		// overflows its stack or runs the host out of memory takes the
		// host down, as a native one does.
		Where: InHost,
		// yaegi checks before every statement whether its interpreter was
		// stopped (an instance with WithCallTimeout gets one of its own).
		Bounded: true,
		// The interpreted guest's event type is not the host's: no value
		// transport.
		Transports:  []event.Transport{event.JSON, event.Binary, event.Flat},
		Modules:     []string{"github.com/traefik/yaegi"},
		ExpectFault: interpretedFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.YaegiFaultName(fault)), func(string) error {
				_, err := fixtures.WriteYaegiFault(context.Background(), dir, fault)
				return err
			})
		},
	},
	{
		Backend: starlark.Name, Fixture: FixtureStarlark, BuiltFor: starlark.Name, Lang: "starlark",
		New: func(ctx context.Context, _ Cache) (backends.Backend, error) {
			return starlark.New(ctx, starlark.Config{})
		},
		Path: func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.StarlarkName) },
		// An interpreter in the host's process with no memory limit: a
		// guest that eats memory takes the host down.
		Where: InHost,
		// A Starlark thread checks at every step whether it was cancelled.
		Bounded: true,
		// Events cross as Starlark's own dicts and lists
		// (backends/starlark/events.go says why not as JSON).
		Transports:  []event.Transport{event.Value},
		Modules:     []string{"go.starlark.net"},
		ExpectFault: interpretedFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.StarlarkFaultName(fault)), func(string) error {
				_, err := fixtures.WriteStarlarkFault(dir, fault)
				return err
			})
		},
	},
	{
		Backend: lua.Name, Fixture: FixtureLua, BuiltFor: lua.Name, Lang: "lua",
		New:  func(ctx context.Context, _ Cache) (backends.Backend, error) { return lua.New(ctx, lua.Config{}) },
		Path: func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.LuaName) },
		// An interpreter in the host's process with no memory limit: a
		// guest that eats memory takes the host down.
		Where: InHost,
		// A state with a context checks it before every instruction.
		Bounded: true,
		// Events cross as Lua's own tables; Lua has no JSON of its own.
		Transports:  []event.Transport{event.Value},
		Modules:     []string{"github.com/yuin/gopher-lua"},
		ExpectFault: interpretedFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.LuaFaultName(fault)), func(string) error {
				_, err := fixtures.WriteLuaFault(dir, fault)
				return err
			})
		},
	},
	{
		Backend: goja.Name, Fixture: FixtureJS, BuiltFor: goja.Name, Lang: "js",
		New:  func(ctx context.Context, _ Cache) (backends.Backend, error) { return goja.New(ctx, goja.Config{}) },
		Path: func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.JSName) },
		// An interpreter in the host's process with no memory limit: a
		// guest that eats memory takes the host down.
		Where: InHost,
		// goja checks before every instruction whether it was interrupted.
		Bounded: true,
		// Events cross as JavaScript's own objects (backends/goja says
		// why not through JSON.parse).
		Transports:  []event.Transport{event.Value},
		Modules:     []string{"github.com/dop251/goja"},
		ExpectFault: interpretedFaults,
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.JSFaultName(fault)), func(string) error {
				_, err := fixtures.WriteJSFault(dir, fault)
				return err
			})
		},
	},
	processTarget(subprocess.Name, FixtureC), processTarget(subprocess.Name, FixtureGo),
	processTarget(shm.Name, FixtureC), processTarget(shm.Name, FixtureGo),
	hashicorpTarget(hashicorp.NameGRPC), hashicorpTarget(hashicorp.NameNetRPC),
}

// backendGroups splits ts into runs of targets of one backend, in order:
// a benchmark names each backend once, with its fixtures below it.
func backendGroups(ts []Target) [][]Target {
	var out [][]Target
	for i, t := range ts {
		if i > 0 && ts[i-1].Backend == t.Backend {
			out[len(out)-1] = append(out[len(out)-1], t)
			continue
		}
		out = append(out, []Target{t})
	}
	return out
}

// nativeTarget is a C-ABI shared object (the C or the Rust guest) loaded
// in the host's own process, by cgo or by purego (dlopen): the same file,
// built for "dlopen", either way.
func nativeTarget(name, fixture string) Target {
	t := Target{
		Backend: name, Fixture: fixture, BuiltFor: dlopen.Name, Lang: fixture,
		NeedsCgo: name == cgo.Name,
		New: func(ctx context.Context, _ Cache) (backends.Backend, error) {
			if name == cgo.Name {
				return cgo.New(ctx, cgo.Config{})
			}
			return dlopen.New(ctx, dlopen.Config{})
		},
		Path: func(s *fixtures.Set) (string, error) {
			if name == cgo.Name && !cgo.Available {
				return "", cgo.ErrNoCgo
			}
			if fixture == FixtureRust {
				return s.RustSO, s.RustSOErr
			}
			return s.SO, s.SOErr
		},
		Transports:  []event.Transport{event.View, event.JSON, event.Binary, event.Flat},
		Where:       InHost,
		ExpectFault: nativeFaults,
		Faults: func(dir, fault string) (string, error) {
			if name == cgo.Name && !cgo.Available {
				return "", cgo.ErrNoCgo
			}
			if fixture == FixtureRust {
				return faultBuild(filepath.Join(dir, fixtures.RustSOFaultName(fault)), func(out string) error {
					return fixtures.BuildRustSOFault(context.Background(), out, fault)
				})
			}
			return faultBuild(filepath.Join(dir, fixtures.SOFaultName(fault)), func(out string) error {
				return fixtures.BuildSOFault(context.Background(), out, fault)
			})
		},
	}
	if name == dlopen.Name {
		t.IsMapped, t.Modules = dlopen.IsMapped, []string{"github.com/ebitengine/purego"}
		t.Verify = &Verify{
			Check: dlopen.Check,
			Probe: func(ctx context.Context, path string) (backends.Identity, error) { return dlopen.Probe(ctx, path, 0) },
			Bare: func(ctx context.Context) (backends.Backend, error) {
				return dlopen.New(ctx, dlopen.Config{NoCheck: true})
			},
		}
	} else {
		t.IsMapped = cgo.IsMapped
		t.Verify = &Verify{
			Check: cgo.Check,
			Probe: func(ctx context.Context, path string) (backends.Identity, error) { return cgo.Probe(ctx, path, 0) },
			Bare:  func(ctx context.Context) (backends.Backend, error) { return cgo.New(ctx, cgo.Config{NoCheck: true}) },
		}
	}
	return t
}

// wasmPath is the path of fixture's wasm module in s.
func wasmPath(s *fixtures.Set, fixture string) (string, error) {
	switch fixture {
	case FixtureGo:
		return s.GoWasm, s.GoWasmErr
	case FixtureRust:
		return s.RustWasm, s.RustWasmErr
	}
	return s.CWasm, nil
}

// wasmFaults is how a target running the committed wasm modules gets
// fixture's fault variants: the C and Rust guests have them, the Go guest
// none.
func wasmFaults(fixture string) func(dir, fault string) (string, error) {
	write := map[string]func(dir, fault string) (string, error){
		FixtureC: fixtures.WriteWasmFault, FixtureRust: fixtures.WriteRustWasmFault,
	}[fixture]
	if write == nil {
		return nil
	}
	return func(dir, fault string) (string, error) {
		faultMu.Lock()
		defer faultMu.Unlock()
		return write(dir, fault)
	}
}

func wasmTarget(name, fixture string) Target {
	interp := name == wasm.NameInterp || name == wasm.NameInterpBounded
	bounded := name == wasm.NameBounded || name == wasm.NameInterpBounded
	t := Target{
		Backend: name, Fixture: fixture, BuiltFor: wasm.BuiltFor, Lang: fixture, Where: Sandboxed,
		New: func(ctx context.Context, cache Cache) (backends.Backend, error) {
			return wasm.New(ctx, wasm.Config{Interpreter: interp, Interruptible: bounded, Cache: cache.Wazero})
		},
		NewLimited: func(ctx context.Context, cache Cache, limit uint64) (backends.Backend, error) {
			return wasm.New(ctx, wasm.Config{Interpreter: interp, Interruptible: bounded, Cache: cache.Wazero, MemoryLimit: limit})
		},
		Path:       func(s *fixtures.Set) (string, error) { return wasmPath(s, fixture) },
		Bounded:    bounded,
		Caches:     []CacheMode{CacheNone},
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
		Modules:    []string{"github.com/tetratelabs/wazero"},
		Faults:     wasmFaults(fixture),
	}
	switch {
	case bounded:
		t.ExpectFault = boundedFaults
	case interp:
		t.ExpectFault = unboundedFaults
	default:
		t.ExpectFault = unpreemptedFaults
	}
	if !interp && !bounded {
		// The interpreter keeps no compiled code to cache; a bounded
		// runtime's cached loads are the plain one's.
		t.Caches = []CacheMode{CacheNone, CacheMemory, CacheDisk}
	}
	return t
}

// wasmtimeTarget runs fixture's wasm module, the one the wazero targets
// run, on Wasmtime (through cgo).
func wasmtimeTarget(fixture string) Target {
	return Target{
		Backend: wasmtime.Name, Fixture: fixture, BuiltFor: wasmtime.BuiltFor, Lang: fixture, Where: Sandboxed,
		NeedsCgo: true, // wasmtime-go links Wasmtime's C library
		New: func(ctx context.Context, cache Cache) (backends.Backend, error) {
			return wasmtime.New(ctx, wasmtime.Config{CacheDir: cache.Dir})
		},
		NewLimited: func(ctx context.Context, cache Cache, limit uint64) (backends.Backend, error) {
			return wasmtime.New(ctx, wasmtime.Config{CacheDir: cache.Dir, MemoryLimit: limit})
		},
		Path: func(s *fixtures.Set) (string, error) {
			if !wasmtime.Available {
				return "", wasmtime.ErrNoCgo
			}
			return wasmPath(s, fixture)
		},
		// Epoch interruption is always on: it costs a call nothing
		// measurable (backends/wasmtime's doc has the figures).
		Bounded: true,
		// Wasmtime keeps no compiled module in memory between loads; its
		// cache is the serialized module in a directory.
		Caches:      []CacheMode{CacheNone, CacheDisk},
		Transports:  []event.Transport{event.JSON, event.Binary, event.Flat},
		Modules:     []string{"github.com/bytecodealliance/wasmtime-go/v39"},
		ExpectFault: boundedFaults,
		Faults:      wasmtimeFaults(fixture),
	}
}

func wasmtimeFaults(fixture string) func(dir, fault string) (string, error) {
	f := wasmFaults(fixture)
	if f == nil {
		return nil
	}
	return func(dir, fault string) (string, error) {
		if !wasmtime.Available {
			return "", wasmtime.ErrNoCgo
		}
		return f(dir, fault)
	}
}

// extismTarget runs the C guest built with Extism's entry layer
// (fixtures/c/extism.c) through the Extism SDK, as name (extism, or
// extism-bounded whose calls can be stopped).
func extismTarget(name string) Target {
	bounded := name == extism.NameBounded
	t := Target{
		Backend: name, Fixture: FixtureC, BuiltFor: extism.BuiltFor, Lang: "c", Where: Sandboxed,
		New: func(ctx context.Context, cache Cache) (backends.Backend, error) {
			return extism.New(ctx, extism.Config{Cache: cache.Wazero, Interruptible: bounded})
		},
		NewLimited: func(ctx context.Context, cache Cache, limit uint64) (backends.Backend, error) {
			return extism.New(ctx, extism.Config{Cache: cache.Wazero, Interruptible: bounded, MemoryLimit: limit})
		},
		Path:       func(s *fixtures.Set) (string, error) { return s.ExtismWasm, s.ExtismWasmErr },
		Bounded:    bounded,
		Caches:     []CacheMode{CacheNone},
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
		Modules:    []string{"github.com/extism/go-sdk", "github.com/tetratelabs/wazero"},
		Faults: func(dir, fault string) (string, error) {
			faultMu.Lock()
			defer faultMu.Unlock()
			return fixtures.WriteExtismWasmFault(dir, fault)
		},
	}
	t.ExpectFault = unpreemptedFaults
	if bounded {
		t.ExpectFault = boundedFaults
	}
	if !bounded {
		t.Caches = []CacheMode{CacheNone, CacheMemory, CacheDisk}
	}
	return t
}

// processTarget is fixture's serving executable (fixtures/c/serve.c,
// fixtures/go/serve) started as a process per instance, reached over
// its stdin and stdout (subprocess) or a shared region (shm): one
// executable for both.
func processTarget(name, fixture string) Target {
	mk := func(ctx context.Context, limit uint64) (backends.Backend, error) {
		if name == shm.Name {
			return shm.New(ctx, shm.Config{MemoryLimit: limit})
		}
		return subprocess.New(ctx, subprocess.Config{MemoryLimit: limit})
	}
	t := Target{
		Backend: name, Fixture: fixture, BuiltFor: subprocess.Name, Lang: fixture,
		New:        func(ctx context.Context, _ Cache) (backends.Backend, error) { return mk(ctx, 0) },
		NewLimited: func(ctx context.Context, _ Cache, limit uint64) (backends.Backend, error) { return mk(ctx, limit) },
		Path: func(s *fixtures.Set) (string, error) {
			if fixture == FixtureGo {
				return s.Artifact(fixtures.ServeGoName)
			}
			return s.Artifact(fixtures.ServeCName)
		},
		// At its deadline the plugin process is killed.
		Bounded:     true,
		Where:       OwnProcess,
		ExpectFault: boundedFaults,
		// Events cross as bytes: the pipe's frames copy them through
		// the kernel; shm encodes them in the shared region in place.
		Transports: []event.Transport{event.JSON, event.Binary, event.Flat},
	}
	if fixture == FixtureC {
		t.Faults = func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.ServeCFaultName(fault)), func(out string) error {
				return fixtures.BuildServeCFault(context.Background(), out, fault)
			})
		}
	}
	return t
}

// hashicorpTarget is the Go guest as a hashicorp/go-plugin executable, a
// process per instance, over gRPC or net/rpc (name).
func hashicorpTarget(name string) Target {
	proto := plugin.ProtocolGRPC
	if name == hashicorp.NameNetRPC {
		proto = plugin.ProtocolNetRPC
	}
	mk := func(ctx context.Context, limit uint64) (backends.Backend, error) {
		return hashicorp.New(ctx, hashicorp.Config{Protocol: proto, MemoryLimit: limit})
	}
	return Target{
		Backend: name, Fixture: FixtureGo, BuiltFor: hashicorp.BuiltFor, Lang: "go",
		New: func(ctx context.Context, _ Cache) (backends.Backend, error) { return mk(ctx, 0) },
		// A Go executable does not start under 16 or 64 MiB of data
		// (its runtime's heap arena map fails): 128 MiB at least.
		NewLimited: func(ctx context.Context, _ Cache, limit uint64) (backends.Backend, error) {
			return mk(ctx, max(limit, 128<<20))
		},
		Path:        func(s *fixtures.Set) (string, error) { return s.Artifact(fixtures.HashicorpName) },
		Bounded:     true,
		Where:       OwnProcess,
		ExpectFault: boundedFaults,
		Transports:  []event.Transport{event.JSON, event.Binary, event.Flat},
		Modules:     []string{"github.com/hashicorp/go-plugin", "google.golang.org/grpc"},
		Faults: func(dir, fault string) (string, error) {
			return faultBuild(filepath.Join(dir, fixtures.HashicorpFaultName(fault)), func(out string) error {
				return fixtures.BuildHashicorpFault(context.Background(), out, fault)
			})
		},
	}
}

// faultBuild builds a fault variant at out with build, once per run: the
// fault table's cells share it, and a cell's child process finds the one
// its parent built (out is in the parent's own new scratch folder, so a
// file there is never stale). Different variants build at the same time.
func faultBuild(out string, build func(out string) error) (string, error) {
	v, _ := faultBuilds.LoadOrStore(out, &faultEntry{})
	e := v.(*faultEntry)
	e.once.Do(func() {
		if _, err := os.Stat(out); err == nil {
			return
		}
		e.err = build(out)
	})
	if e.err != nil {
		return "", e.err
	}
	return out, nil
}

type faultEntry struct {
	once sync.Once
	err  error
}

var (
	faultMu     sync.Mutex // writes of the committed wasm variants
	faultBuilds sync.Map   // path → *faultEntry
)

// prebuildFaults builds every target's fault variants in dir. The Go
// guests' (go build, one at a time: fixtures.run) go in a lane of their
// own, while the others (gcc, rustc, copies) take as many at a time as
// there are cores: compiled one after the other (a Rust shared object
// takes 1.6 s) they were a tenth of the quick run, and with the Go builds
// queued behind them the last few seconds ran on one core. Errors are
// left for the rows that use the variants to report.
func prebuildFaults(dir string) {
	prebuilt.Do(func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.NumCPU())
		var goLane []Target
		for _, tg := range Targets {
			if tg.Faults == nil {
				continue
			}
			if tg.Lang == "go" {
				goLane = append(goLane, tg)
				continue
			}
			for _, f := range fixtures.Faults {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					tg.Faults(dir, f)
				})
			}
		}
		wg.Go(func() {
			for _, tg := range goLane {
				for _, f := range fixtures.Faults {
					tg.Faults(dir, f)
				}
			}
		})
		wg.Wait()
	})
}

var prebuilt sync.Once
