package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugbench/plugbench/backends/hashicorp/protocol"
)

// conn is the host's side of one plugin process's calls, over one of the
// two protocols. Its errors are the protocol's; the caller tells a dead
// process from them.
type conn interface {
	identity(ctx context.Context) (version int32, identity string, err error)
	min(a, b int32) (int32, error)
	accumulate(x int64) (int64, error)
	sum(p []byte) (uint64, error)
	// upper upper-cases p in place: the reply is copied back into p.
	upper(p []byte) error
	// event processes the encoded event in with capacity bytes of output
	// room: the export's result, and the output when it is > 0.
	event(t protocol.Transport, in []byte, capacity int64) (int64, []byte, error)
	// setHost makes emit the function of the instance's callbacks.
	setHost(emit func(int64) int64) error
	callback(k int32) (int64, error)
	// close closes the connection to the plugin.
	close()
	// wait waits (at most a second) for the goroutines of the conn's own
	// to end, once the connection is closed.
	wait()
}

// hostPlugin is the plugin as go-plugin's client dispenses it: a conn of
// either protocol.
type hostPlugin struct{}

func (hostPlugin) Server(*plugin.MuxBroker) (any, error) {
	return nil, errors.New("the host serves no plugin")
}

func (hostPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &netRPCConn{broker: b, c: c}, nil
}

func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host serves no plugin")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcConn{cc: c, c: protocol.NewPluginClient(c)}, nil
}

// grpcConn makes the calls over gRPC: a unary call each, a bidirectional
// stream per callback. Calls have no deadline of their own: a call's
// deadline kills the process, which ends the call.
type grpcConn struct {
	cc   *grpc.ClientConn
	c    protocol.PluginClient
	emit func(int64) int64
}

var bg = context.Background()

func (g *grpcConn) identity(ctx context.Context) (int32, string, error) {
	r, err := g.c.Identity(ctx, &protocol.IdentityRequest{})
	if err != nil {
		return 0, "", err
	}
	return r.AbiVersion, r.Identity, nil
}

func (g *grpcConn) min(a, b int32) (int32, error) {
	r, err := g.c.Min(bg, &protocol.MinRequest{A: a, B: b})
	if err != nil {
		return 0, err
	}
	return r.R, nil
}

func (g *grpcConn) accumulate(x int64) (int64, error) {
	r, err := g.c.Accumulate(bg, &protocol.AccumulateRequest{X: x})
	if err != nil {
		return 0, err
	}
	return r.Total, nil
}

func (g *grpcConn) sum(p []byte) (uint64, error) {
	r, err := g.c.Sum(bg, &protocol.SumRequest{Data: p})
	if err != nil {
		return 0, err
	}
	return r.Sum, nil
}

func (g *grpcConn) upper(p []byte) error {
	r, err := g.c.Upper(bg, &protocol.UpperRequest{Data: p})
	if err != nil {
		return err
	}
	if len(r.Data) != len(p) {
		return fmt.Errorf("%w: %d bytes back for %d", errProtocol, len(r.Data), len(p))
	}
	copy(p, r.Data)
	return nil
}

func (g *grpcConn) event(t protocol.Transport, in []byte, capacity int64) (int64, []byte, error) {
	r, err := g.c.Event(bg, &protocol.EventRequest{Transport: t, In: in, Capacity: capacity})
	if err != nil {
		return 0, nil, err
	}
	return r.Result, r.Out, nil
}

func (g *grpcConn) setHost(emit func(int64) int64) error {
	g.emit = emit
	return nil
}

// callback opens a stream, sends start, answers every emit and returns the
// sum; it reads the stream to its end, so that gRPC releases it.
func (g *grpcConn) callback(k int32) (int64, error) {
	st, err := g.c.Callback(bg)
	if err != nil {
		return 0, err
	}
	if err := st.Send(&protocol.CallbackRequest{Msg: &protocol.CallbackRequest_Start{Start: k}}); err != nil {
		return 0, recvError(st)
	}
	ret := &protocol.CallbackRequest_EmitResult{}
	req := &protocol.CallbackRequest{Msg: ret}
	for {
		m, err := st.Recv()
		if err != nil {
			return 0, err
		}
		switch m := m.Msg.(type) {
		case *protocol.CallbackReply_Emit:
			ret.EmitResult = g.emit(m.Emit)
			if err := st.Send(req); err != nil {
				return 0, recvError(st)
			}
		case *protocol.CallbackReply_Sum:
			if _, err := st.Recv(); err != io.EOF {
				if err == nil {
					err = fmt.Errorf("%w: a message after the sum", errProtocol)
				}
				return 0, err
			}
			return m.Sum, nil
		default:
			return 0, fmt.Errorf("%w: callback message %T", errProtocol, m)
		}
	}
}

// recvError is the error of a stream whose Send failed: Send returns
// io.EOF and the status is Recv's.
func recvError(st grpc.BidiStreamingClient[protocol.CallbackRequest, protocol.CallbackReply]) error {
	for {
		if _, err := st.Recv(); err != nil {
			return err
		}
	}
}

func (g *grpcConn) close() { g.cc.Close() }
func (g *grpcConn) wait()  {}

// netRPCConn makes the calls over go-plugin's net/rpc: gob over a yamux
// stream. With a host function, the host serves Host.Emit on a stream of
// go-plugin's MuxBroker that the plugin dialed (see setHost).
type netRPCConn struct {
	broker *plugin.MuxBroker
	c      *rpc.Client
	served chan struct{} // closed when the emit server ends; nil without one
}

// identity makes the call under ctx: net/rpc has no deadline, ctx's end
// kills the process (spawn), which ends the call.
func (n *netRPCConn) identity(context.Context) (int32, string, error) {
	var r protocol.RPCIdentity
	if err := n.c.Call(protocol.NetRPCIdentity, int32(0), &r); err != nil {
		return 0, "", err
	}
	return r.ABIVersion, r.Identity, nil
}

func (n *netRPCConn) min(a, b int32) (int32, error) {
	var r int32
	err := n.c.Call(protocol.NetRPCMin, [2]int32{a, b}, &r)
	return r, err
}

func (n *netRPCConn) accumulate(x int64) (int64, error) {
	var r int64
	err := n.c.Call(protocol.NetRPCAccumulate, x, &r)
	return r, err
}

func (n *netRPCConn) sum(p []byte) (uint64, error) {
	var r uint64
	err := n.c.Call(protocol.NetRPCSum, p, &r)
	return r, err
}

// upper decodes the reply into p itself: gob reuses a slice with room.
func (n *netRPCConn) upper(p []byte) error {
	r := p
	if err := n.c.Call(protocol.NetRPCUpper, p, &r); err != nil {
		return err
	}
	if len(r) != len(p) {
		return fmt.Errorf("%w: %d bytes back for %d", errProtocol, len(r), len(p))
	}
	if len(p) > 0 && &r[0] != &p[0] {
		copy(p, r)
	}
	return nil
}

func (n *netRPCConn) event(t protocol.Transport, in []byte, capacity int64) (int64, []byte, error) {
	var r protocol.RPCEventResult
	if err := n.c.Call(protocol.NetRPCEvent, protocol.RPCEventArgs{Transport: t, In: in, Capacity: capacity}, &r); err != nil {
		return 0, nil, err
	}
	return r.Result, r.Out, nil
}

// emitServer is the host's Host.Emit.
type emitServer struct{ fn func(int64) int64 }

// Emit calls the instance's emit function.
func (e *emitServer) Emit(v int64, r *int64) error {
	*r = e.fn(v)
	return nil
}

// setHost serves Host.Emit on a broker stream: the host waits for the
// stream on a new id, the plugin dials it during SetHost. The server ends
// when the stream does, with the process's connection.
func (n *netRPCConn) setHost(emit func(int64) int64) error {
	id := n.broker.NextId()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		// Accept gives up after 5 s (go-plugin's): a plugin that died
		// before it dialed leaves this goroutine that long.
		c, err := n.broker.Accept(id)
		ch <- accepted{c, err}
	}()
	var ok bool
	if err := n.c.Call(protocol.NetRPCSetHost, id, &ok); err != nil {
		return err
	}
	a := <-ch
	if a.err != nil {
		return fmt.Errorf("accept the plugin's stream: %w", a.err)
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Host", &emitServer{fn: emit}); err != nil {
		a.c.Close()
		return err
	}
	n.served = make(chan struct{})
	go func() {
		defer close(n.served)
		srv.ServeConn(a.c)
	}()
	return nil
}

func (n *netRPCConn) callback(k int32) (int64, error) {
	var r int64
	err := n.c.Call(protocol.NetRPCCallback, k, &r)
	return r, err
}

// close closes go-plugin's yamux session, and with it every stream: the
// broker's session is the connection's.
func (n *netRPCConn) close() { n.broker.Close() }

// wait waits for the emit server, whose stream is closed.
func (n *netRPCConn) wait() {
	if n.served == nil {
		return
	}
	select {
	case <-n.served:
	case <-time.After(time.Second):
	}
}
