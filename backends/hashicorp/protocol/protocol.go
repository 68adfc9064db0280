// Package protocol is what both ends of backends/hashicorp share: the
// host (package hashicorp) and the plugin executable (fixtures/go/hashicorp).
// It holds go-plugin's handshake, the gRPC service (plugbench.proto and the
// code generated from it by `make proto`) and the net/rpc calls' types.
//
// # The two protocols
//
// One executable serves both. go-plugin lets the plugin, not the host, pick
// the protocol (a plugin set served with a gRPC server is served over
// gRPC), so the host asks for one with the executable's only argument,
// "grpc" or "netrpc" ([plugin.ProtocolGRPC], [plugin.ProtocolNetRPC]), and
// checks the answer with go-plugin's AllowedProtocols.
//
// gRPC: the service Plugin of plugbench.proto, one unary call per Plugin
// call and a bidirectional stream per Callback.
//
// net/rpc: go-plugin's, over yamux streams of the one connection; the
// dispensed object is served as "Plugin", its methods named by the NetRPC
// constants. A host with an emit function serves "Host.Emit" on a stream
// of go-plugin's MuxBroker, whose id it gives the plugin with
// Plugin.SetHost; the plugin dials it then, once, and calls it during
// Callback.
//
// # The lifeline
//
// The host gives the plugin a pipe as its stdin and keeps the other end:
// the plugin exits at EOF on it (the host closed the instance, or died).
// A plugin that does not is killed ShutdownWait (1 s) after the host's
// Close.
package protocol

import (
	"github.com/hashicorp/go-plugin"
)

// The magic cookie: go-plugin's check that the executable was started by
// a host that means it (a plugin started by hand says so and exits).
const (
	MagicCookieKey   = "PLUGBENCH_HASHICORP_PLUGIN"
	MagicCookieValue = "b9e3d3c1-plugbench-hashicorp"
)

// PluginName is the name the plugin is dispensed by.
const PluginName = "plugbench"

// Handshake is go-plugin's handshake for a plugin of ABI version abi: the
// ABI version is go-plugin's protocol version, so that go-plugin refuses an
// executable of another.
func Handshake(abi int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(abi),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// MaxMessage bounds a gRPC message both ends accept (gRPC's default is 4
// MiB): a chunk of sum or upper, or an event's input or output.
const MaxMessage = 64 << 20

// Chunk bounds the payload of one sum or upper call: a bigger payload goes
// in chunks of this size (sums add up, upper works in place).
const Chunk = 8 << 20

// The net/rpc calls: the service "Plugin" (go-plugin's name for what it
// dispenses) with these methods, and the host's "Host.Emit".
const (
	NetRPCIdentity   = "Plugin.Identity"   // args int32 (unused), reply *RPCIdentity
	NetRPCMin        = "Plugin.Min"        // args [2]int32, reply *int32
	NetRPCAccumulate = "Plugin.Accumulate" // args int64, reply *int64
	NetRPCSum        = "Plugin.Sum"        // args []byte, reply *uint64
	NetRPCUpper      = "Plugin.Upper"      // args []byte, reply *[]byte
	NetRPCEvent      = "Plugin.Event"      // args RPCEventArgs, reply *RPCEventResult
	NetRPCSetHost    = "Plugin.SetHost"    // args uint32 (a MuxBroker id), reply *bool
	NetRPCCallback   = "Plugin.Callback"   // args int32 (k), reply *int64
	NetRPCEmit       = "Host.Emit"         // args int64 (v), reply *int64
)

// RPCIdentity is the reply of Plugin.Identity.
type RPCIdentity struct {
	ABIVersion int32
	Identity   string
}

// RPCEventArgs is the argument of Plugin.Event: the event encoded with
// Transport, and the room for the output.
type RPCEventArgs struct {
	Transport Transport
	In        []byte
	Capacity  int64
}

// RPCEventResult is the reply of Plugin.Event: the result as the gRPC call's
// (a length, 0, -1 or -2), and the output's Result bytes when Result > 0.
type RPCEventResult struct {
	Result int64
	Out    []byte
}
