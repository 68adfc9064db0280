// Package hashicorp is plugbench's backend for plugins served with
// HashiCorp's go-plugin (github.com/hashicorp/go-plugin), the mechanism of
// Terraform, Vault, Packer and Nomad: the plugin is an executable of its
// own that go-plugin starts, handshakes with over its stdout and talks to
// over a unix socket, with one of two RPC protocols, each a backend:
//
//   - [GRPC] ("hashicorp-grpc"): gRPC, the service of protocol/plugbench.proto
//     (generated code committed; `make proto` regenerates it, `make
//     proto-check` checks it). A call is a unary RPC; a callback is a
//     bidirectional stream on which the plugin sends an emit message per
//     host call, the host answers each, and the plugin's last message is
//     the sum.
//   - [NetRPC] ("hashicorp-netrpc"): go-plugin's net/rpc, gob over a yamux
//     stream of the same connection. For callbacks the host serves an
//     Emit RPC server on a second yamux stream, through go-plugin's
//     MuxBroker: at instantiation (WithEmit) the host waits for a stream
//     on a fresh broker id and gives the id to the plugin (SetHost), which
//     dials it; during a callback the plugin calls Host.Emit on it. The
//     emit function runs on net/rpc's goroutine for the request, not on
//     the caller's.
//
// The fixture is the Go guest's logic behind go-plugin's server
// (fixtures/go/hashicorp; fixtures.BuildHashicorp builds it at test
// time). One executable serves both protocols: go-plugin lets the plugin,
// not the host, choose, so the host asks for one with the executable's
// only argument and checks the answer with go-plugin's AllowedProtocols.
// Its identity names the backend [BuiltFor], "hashicorp".
//
// # Lifecycle
//
// As backends/subprocess: one instance is one process, with a go-plugin
// Client of its own. Load starts the executable (go-plugin's RunnerFunc:
// the backend starts it, so that it can cap and kill it), does go-plugin's
// handshake (its magic cookie, and its protocol version, which is the ABI
// version: an executable of another is refused with an error matching
// backends.ErrABIVersion), dispenses the plugin and calls Identity, whose
// ABI version and identity are checked with backends.CheckArtifact. That
// process is kept for the module's first instance; every further
// Instantiate starts a new one and checks it again.
//
// The executable gets go-plugin's environment only (its magic cookie, the
// protocol versions, the socket folder: go-plugin's SkipHostEnv). Its
// stdin is a lifeline, a pipe whose other end only the host holds: the
// fixture exits at EOF on it, so that Close is an exit of the plugin's own
// and a host that dies takes its plugins with it (go-plugin's plugins
// otherwise outlive a host that did not kill them). go-plugin makes a
// folder for the plugin's unix socket per process (in os.TempDir); Close
// removes it, socket and all, even after a SIGKILL.
//
// Instance.Close closes the connection, then the lifeline, and waits for
// the process to exit, at most [ShutdownWait] (1 s; go-plugin's own Kill
// waits 2 s): then SIGKILL (a plugin that ignores its stdin takes that
// long to close). go-plugin's Kill then releases the client.
// Close returns once the process is reaped and go-plugin's goroutines
// have ended; no pipe, socket or file is left. Not go-plugin's graceful
// close (a Quit call, then the plugin exits while the host closes the
// connection): over net/rpc, the host's yamux writes to the socket of a
// plugin that may have exited, and logs the failure on the host's stderr.
//
// # Faults
//
// The process is the fault boundary:
//
//   - A plugin that dies fails the call with an error matching
//     [ErrExited] that says how (the signal or the exit status, with the
//     first line of a Go panic or fatal error it printed), as soon as the
//     connection breaks and the process is reaped. The Go fixture's segv
//     exits with status 2 ("panic: runtime error: invalid memory address
//     or nil pointer dereference [signal SIGSEGV: segmentation
//     violation]"): Go's runtime turns the SIGSEGV into a panic; its
//     abort dies of SIGABRT. The instance is closed; later calls fail with
//     ErrClosed.
//   - WithCallTimeout is supported: at the deadline the process is killed
//     (SIGKILL at once, not go-plugin's graceful kill), the call fails with
//     an error wrapping context.DeadlineExceeded, and the instance is
//     closed.
//   - Load and Instantiate are bounded by their context (by [StartTimeout]
//     when it has no deadline; go-plugin's StartTimeout follows it): a
//     plugin that never answers the handshake (an init that never returns)
//     is killed at the context's end and the error wraps ctx.Err().
//   - Every process runs under a memory limit: RLIMIT_DATA, [DefaultMemoryLimit]
//     (512 MiB; Config.MemoryLimit), set with prlimit(2) right after it starts, before the
//     handshake. A Go plugin past it dies with "fatal error: out of
//     memory" on its stderr, exit status 2; the host reads the plugin's
//     stderr (go-plugin hands it over line by line; it is not shown) and
//     the error then also wraps backends.ErrMemoryLimit. A plugin in another language,
//     or one killed by the kernel's OOM killer, gets ErrExited only.
//   - A plugin that died while idle fails the next call at once.
//
// # Cost
//
// A call is a round trip over a unix socket through gRPC's (HTTP/2,
// protobuf) or net/rpc's (yamux, gob) framing and encoding, with a
// goroutine handoff and a netpoller wakeup on each end: many times the same
// guest over backends/subprocess's bare pipe. An instance costs a process
// start, go-plugin's handshake and a connection. The report and
// RATIONALE.md have the figures, with go-plugin's own client stub
// (BenchmarkRef) beside the backend.
package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/plugbench/plugbench/backends"
	"github.com/plugbench/plugbench/backends/hashicorp/protocol"
	"github.com/plugbench/plugbench/backends/internal/cabi"
	"github.com/plugbench/plugbench/backends/internal/modbook"
	"github.com/plugbench/plugbench/backends/internal/osproc"
)

// Backend names, as they appear in benchmark names.
const (
	NameGRPC   = "hashicorp-grpc"
	NameNetRPC = "hashicorp-netrpc"
)

// BuiltFor is the backend the executables' identity names: one executable
// serves both protocols.
const BuiltFor = "hashicorp"

// Config configures a backend.
type Config struct {
	// Protocol is go-plugin's: plugin.ProtocolGRPC (the default) or
	// plugin.ProtocolNetRPC.
	Protocol plugin.Protocol
	// MemoryLimit caps each plugin process's data (RLIMIT_DATA), in
	// bytes; 0 means DefaultMemoryLimit (512 MiB).
	MemoryLimit uint64
}

// New returns the backend configured by cfg: NameGRPC or NameNetRPC. It
// fails on a protocol go-plugin does not have.
func New(ctx context.Context, cfg Config) (backends.Backend, error) {
	b := &backend{name: NameGRPC, proto: plugin.ProtocolGRPC, limit: cfg.MemoryLimit}
	switch cfg.Protocol {
	case "", plugin.ProtocolGRPC:
	case plugin.ProtocolNetRPC:
		b.name, b.proto = NameNetRPC, plugin.ProtocolNetRPC
	default:
		return nil, fmt.Errorf("hashicorp: protocol %q: want %q or %q", cfg.Protocol, plugin.ProtocolGRPC, plugin.ProtocolNetRPC)
	}
	if b.limit == 0 {
		b.limit = DefaultMemoryLimit
	}
	return b, nil
}

var errProtocol = errors.New("protocol error")

type backend struct {
	name  string
	proto plugin.Protocol
	limit uint64
}

func (b *backend) Name() string                { return b.name }
func (b *backend) Close(context.Context) error { return nil }

// Load starts the executable and does the handshake; the process is kept
// for the module's first instance.
func (b *backend) Load(ctx context.Context, path string) (backends.Module, error) {
	fail := func(err error) error { return &backends.Error{Backend: b.name, Path: path, Err: err} }
	abs, err := osproc.Executable(path)
	if err != nil {
		return nil, fail(err)
	}
	c, id, err := b.spawn(ctx, abs)
	if err != nil {
		return nil, fail(err)
	}
	return &module{b: b, path: path, abs: abs, id: id, spare: c, book: modbook.Book{Backend: b.name, Path: path}}, nil
}

// child is one plugin process and its go-plugin client.
type child struct {
	proc   *proc
	client *plugin.Client
	conn   conn
	once   sync.Once
}

// shutdown ends the process: it closes the connection, then the
// lifeline, on which the plugin exits; SIGKILL after ShutdownWait. Then
// go-plugin's Kill releases the client (its goroutines, the socket
// folder). It returns once the process is reaped.
//
// Not go-plugin's own graceful close (Kill's first step: a Quit or
// Shutdown call, after which the plugin exits while the host closes the
// connection): over net/rpc, the host's yamux then writes to a socket the
// plugin may have closed, and logs the failure on the host's stderr
// ("[ERR] yamux: Failed to write header"). Closing the connection first
// leaves nothing to write.
func (c *child) shutdown() {
	c.once.Do(func() {
		if c.conn != nil {
			c.conn.close()
		}
		c.proc.release()
		if c.proc.isStarted() {
			t := time.NewTimer(ShutdownWait)
			select {
			case <-c.proc.done:
			case <-t.C:
				c.proc.kill()
				<-c.proc.done
			}
			t.Stop()
		}
		c.client.Kill()
		if c.conn != nil {
			c.conn.wait()
		}
		c.proc.mu.Lock()
		dir := c.proc.sockDir
		c.proc.mu.Unlock()
		if dir != "" {
			os.RemoveAll(dir)
		}
	})
}

// spawn starts a process of the executable at abs, does go-plugin's
// handshake and reads the identity, bounded by ctx (by StartTimeout when
// ctx has no deadline): at ctx's end the process is killed.
func (b *backend) spawn(ctx context.Context, abs string) (*child, backends.Identity, error) {
	var id backends.Identity
	if err := ctx.Err(); err != nil {
		return nil, id, fmt.Errorf("not started: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	p := newProc(abs, string(b.proto), b.limit)
	c := &child{proc: p}
	c.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake(backends.ABIVersion),
		Plugins:          plugin.PluginSet{protocol.PluginName: hostPlugin{}},
		RunnerFunc:       p.runner,
		AllowedProtocols: []plugin.Protocol{b.proto},
		StartTimeout:     max(time.Until(deadline), time.Millisecond),
		Logger:           nullLogger,
		Stderr:           &p.stderr,
		SkipHostEnv:      true,
	})
	stop := context.AfterFunc(ctx, p.kill)
	version, identity, err := c.start(ctx)
	if !stop() {
		c.shutdown()
		return nil, id, fmt.Errorf("the plugin did not answer the handshake (killed): %w", ctx.Err())
	}
	if err != nil {
		c.shutdown()
		return nil, id, err
	}
	if len(identity) > cabi.MaxIdentity {
		c.shutdown()
		return nil, id, fmt.Errorf("%w: a %d-byte identity", backends.ErrIdentity, len(identity))
	}
	if id, err = backends.CheckArtifact(version, identity, BuiltFor); err != nil {
		c.shutdown()
		return nil, id, err
	}
	return c, id, nil
}

// start does go-plugin's handshake, dispenses the plugin and calls
// Identity.
func (c *child) start(ctx context.Context) (int32, string, error) {
	cp, err := c.client.Client()
	if err != nil {
		return 0, "", c.handshakeError(err)
	}
	raw, err := cp.Dispense(protocol.PluginName)
	if err != nil {
		return 0, "", c.failed(fmt.Errorf("%w: dispense: %w", backends.ErrFormat, err))
	}
	c.conn = raw.(conn)
	v, id, err := c.conn.identity(ctx)
	if err != nil {
		return 0, "", c.failed(fmt.Errorf("%w: identity: %w", backends.ErrFormat, err))
	}
	return v, id, nil
}

// failed returns the error of a failed start: the process's end when it
// ended before its handshake, else err.
func (c *child) failed(err error) error {
	if e := c.proc.exitError(exitWait); e != nil && !c.proc.killed.Load() {
		return fmt.Errorf("%w: the executable ended before its handshake: %w", backends.ErrFormat, e)
	}
	return err
}

// handshakeError says why go-plugin's start failed: an exec error (a file
// the kernel cannot run, or not executable), another ABI version (go-plugin's
// protocol version), an executable that ended or printed something else
// than the handshake.
func (c *child) handshakeError(err error) error {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	var got int32
	if _, e := fmt.Sscanf(afterString(msg, "Plugin version: "), "%d", &got); e == nil && strings.Contains(msg, "incompatible API version") {
		return &backends.VersionError{Got: got, Want: backends.ABIVersion}
	}
	if !c.proc.isStarted() {
		return err // startError's
	}
	if rest, ok := strings.CutPrefix(msg, "Unrecognized remote plugin message: "); ok && !strings.HasPrefix(rest, ";") && rest != "" {
		return fmt.Errorf("%w: wrong handshake: %s", backends.ErrFormat, msg)
	}
	return c.failed(fmt.Errorf("%w: wrong handshake: %s", backends.ErrFormat, msg))
}

// afterString returns what follows the first sep in s, or "".
func afterString(s, sep string) string {
	_, after, _ := strings.Cut(s, sep)
	return after
}

type module struct {
	b         *backend
	path, abs string
	id        backends.Identity

	book  modbook.Book
	mu    sync.Mutex
	spare *child // the process Load started, until an instance takes it
}

func (m *module) Identity() backends.Identity { return m.id }
func (m *module) Path() string                { return m.path }

// Instantiate makes an instance: a process of its own (Load's, for the
// first).
func (m *module) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	cfg := backends.Config(opts)
	if err := m.book.Reserve(); err != nil { // Close waits for this one
		return nil, err
	}
	m.mu.Lock()
	c := m.spare
	m.spare = nil
	m.mu.Unlock()
	p, err := m.instantiate(ctx, c, cfg)
	if err != nil {
		m.book.Release()
		return nil, err
	}
	return p, nil
}

func (m *module) instantiate(ctx context.Context, c *child, cfg backends.InstanceConfig) (*Plugin, error) {
	if c != nil && c.proc.dead.Load() { // Load's process died since
		c.shutdown()
		c = nil
	}
	if c == nil {
		var id backends.Identity
		var err error
		if c, id, err = m.b.spawn(ctx, m.abs); err != nil {
			return nil, m.book.Fail("", err)
		}
		if id != m.id {
			c.shutdown()
			return nil, m.book.Fail("", fmt.Errorf("%w: the executable changed since Load: %q, was %q", backends.ErrIdentity, id, m.id))
		}
	}
	if cfg.Emit != nil {
		stop := context.AfterFunc(ctx, c.proc.kill)
		err := c.conn.setHost(cfg.Emit)
		if !stop() {
			c.shutdown()
			return nil, m.book.Fail(cabi.SymSetHost, fmt.Errorf("the plugin did not take its host function (killed): %w", ctx.Err()))
		}
		if err != nil {
			if e := c.proc.exitError(exitWait); e != nil {
				err = e
			}
			c.shutdown()
			return nil, m.book.Fail(cabi.SymSetHost, err)
		}
	}
	p := &Plugin{m: m, c: c, conn: c.conn, host: cfg.Emit != nil, timeout: cfg.CallTimeout}
	if cfg.CallTimeout > 0 {
		p.timer = time.AfterFunc(time.Hour, c.proc.kill)
		p.timer.Stop()
	}
	return p, nil
}

// Close ends the process Load started, if no instance took it. It fails
// while instances are open, as every backend's module does.
func (m *module) Close(context.Context) error {
	return m.book.Close(func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.spare != nil {
			m.spare.shutdown()
			m.spare = nil
		}
		return nil
	})
}
