// Package ipc is what plugbench's two out-of-process backends share
// (backends/subprocess and backends/shm): the plugin is an executable of
// its own, started by the host, which speaks one small request/reply
// protocol over one of two channels, and every instance is one process.
//
// # Protocol
//
// A request is an op, two signed 64-bit arguments a and b, and a payload;
// a reply is a status, one signed 64-bit value r, and a payload. The ops:
//
//	hello      a = host ABI          r = plugin ABI, payload = identity
//	new        a = 1 with a host fn  r = 1 (the instance's state made)
//	free                             r = 0
//	min        a, b                  r = plugbench_min(a, b)
//	accumulate a = x                 r = the running total
//	sum        payload               r = plugbench_sum(payload)
//	upper      payload               payload upper-cased (same length)
//	json, binary, flat
//	           a = output capacity, payload = the encoded event
//	                                 r = the export's result; payload = the
//	                                 output's r bytes when r > 0
//	callback   a = k                 r = the wrapping sum of emit's results
//	emitret    a = emit's result     (answers an emit reply, see below)
//	close                            the plugin exits
//
// A reply's status is ok, emit, error (a request the plugin cannot serve:
// no state, an unknown op) or, on the pipe only, oom (the plugin's malloc
// failed: the plugin dies next). During a callback the plugin replies emit
// with r = v for each host call; the host calls its emit function and
// sends emitret with its result; the last reply is ok with the sum.
// Statuses are ≥ 0x80 and ops < 0x80, so that an executable that echoes
// its input (cat) fails the handshake.
//
// # Channels
//
// Pipe (backends/subprocess): the child's stdin and stdout, in frames
// [u32 len][u8 op][i64 a][i64 b][payload] and [u32 len][u8 status][i64
// r][payload], little-endian, len counting the bytes after itself. The
// host's ends are blocking file descriptors read and written with raw
// system calls (no netpoller in the path); payloads go from and to the
// caller's slices, two copies through the kernel each way.
//
// Shared memory (backends/shm): a memfd region both processes map
// (RegionHeader bytes of control words, then DataCap bytes of data),
// passed to the child as fd 3 with the argument -shm. Requests and
// replies are words in the region; payloads and events are written into
// its data area directly (see shm.go for the doorbell and its memory
// ordering).
package ipc

// Ops, host to plugin.
const (
	opHello    = 1
	opNew      = 2
	opFree     = 3
	opMin      = 4
	opAcc      = 5
	opSum      = 6
	opUpper    = 7
	opJSON     = 8
	opBinary   = 9
	opFlat     = 10
	opCallback = 11
	opEmitRet  = 12
	opClose    = 13
)

// Statuses, plugin to host.
const (
	stOK   = 0x80
	stEmit = 0x81
	stErr  = 0x82
	stOOM  = 0x83
)

// Pipe frames: the header after the length word.
const (
	reqHeader   = 1 + 8 + 8 // op, a, b
	replyHeader = 1 + 8     // status, r
	// maxFrame bounds a reply the host accepts: a bigger length is not
	// the protocol (an executable writing text, say).
	maxFrame = 64 << 20
)

// chunk bounds the payload of one sum or upper request: a bigger
// payload goes in chunks of this size (the sum adds up, upper works in
// place), so that the child's buffer and the shared region stay bounded.
const chunk = 8 << 20

// The shared region: control words, each on a cache line of its own, then
// the data area.
const (
	offReq    = 0   // u32: host → plugin doorbell, a sequence number
	offResp   = 64  // u32: plugin → host doorbell
	offCSleep = 128 // u32: 1 while the plugin sleeps (or is about to) on offReq
	offHSleep = 192 // u32: 1 while the host sleeps (or is about to) on offResp
	// The request: u32 op, i64 a, i64 b, u64 payload length (at offset 0
	// of the data area).
	offOp, offA, offB, offN = 256, 264, 272, 280
	// The reply: u32 status, i64 r, u64 payload offset in the data area,
	// u64 payload length.
	offStatus, offR, offROff, offRN = 320, 328, 336, 344
	offOOM                          = 384 // u32: 1 when the plugin's malloc failed

	// RegionHeader is the size of the control part; the data area follows.
	RegionHeader = 4096
	// DataCap is the data area's size: a sum or upper chunk, or an event's
	// input and output. Pages are only allocated when touched.
	DataCap = 2 * chunk
)
