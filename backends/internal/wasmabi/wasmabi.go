// Package wasmabi is plugbench's ABI as a wasm module exports it
// (fixtures/c/plugbench.h, version 1), which the wazero and the Wasmtime
// backends both load: the exports' names and signatures, in the binary
// format's value types, and an assembler of modules that export it with
// constant answers, for the backends' load-error tests.
package wasmabi

// The binary format's value types: pointers and sizes are I32.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
)

// The exports' names.
const (
	Version     = "plugbench_abi_version"
	Identity    = "plugbench_identity"
	IdentityLen = "plugbench_identity_len"
	New         = "plugbench_new"
	Free        = "plugbench_free"
	Buffer      = "plugbench_buffer"
	Min         = "plugbench_min"
	Accumulate  = "plugbench_accumulate"
	Sum         = "plugbench_sum"
	Upper       = "plugbench_upper"
	Memory      = "memory"
	// Init is a reactor's start function (Go's wasip1 c-shared build).
	Init = "_initialize"

	EventJSON   = "plugbench_event_json"
	EventBinary = "plugbench_event_binary"
	EventFlat   = "plugbench_event_flat"
	SetHost     = "plugbench_set_host"
	Callback    = "plugbench_callback"
)

// Func is an exported function and its signature.
type Func struct {
	Name            string
	Params, Results []byte
}

// Required are the functions every module exports (besides its Memory).
var Required = []Func{
	{Version, nil, []byte{I32}},
	{Identity, nil, []byte{I32}},
	{IdentityLen, nil, []byte{I32}},
	{New, nil, []byte{I32}},
	{Free, []byte{I32}, nil},
	{Buffer, []byte{I32, I32}, []byte{I32}},
	{Min, []byte{I32, I32}, []byte{I32}},
	{Accumulate, []byte{I32, I64}, []byte{I64}},
	{Sum, []byte{I32, I32}, []byte{I64}},
	{Upper, []byte{I32, I32}, nil},
}

// Optional are the functions a module may lack: events, and calls back
// into the host. One present must have its signature.
var Optional = []Func{
	{EventJSON, []byte{I32, I32, I32, I32, I32}, []byte{I64}},
	{EventBinary, []byte{I32, I32, I32, I32, I32}, []byte{I64}},
	{EventFlat, []byte{I32, I32, I32, I32, I32}, []byte{I64}},
	{SetHost, []byte{I32, I32, I64}, nil},
	{Callback, []byte{I32, I32}, []byte{I64}},
}

// Assemble returns a module that exports Required with constant answers:
// version and identity as given, every other function a non-zero value.
// omit, if not "", is left out, and sigs overrides the params of the
// functions it names. It keeps the error tests free of any toolchain.
func Assemble(version int32, identity, omit string, sigs map[string][]byte) []byte {
	const idAddr = 16
	var types, funcs, exports, code []byte
	n := 0
	for _, f := range Required {
		if f.Name == omit {
			continue
		}
		params := f.Params
		if p, ok := sigs[f.Name]; ok {
			params = p
		}
		types = append(types, 0x60)
		types = append(types, vec(len(params), params)...)
		types = append(types, vec(len(f.Results), f.Results)...)
		funcs = append(funcs, uleb(uint64(n))...)
		exports = append(exports, name(f.Name)...)
		exports = append(exports, 0x00)
		exports = append(exports, uleb(uint64(n))...)
		var body []byte
		for _, r := range f.Results {
			v := int64(1024) // a non-zero state or buffer address
			switch f.Name {
			case Version:
				v = int64(version)
			case Identity:
				v = idAddr
			case IdentityLen:
				v = int64(len(identity))
			}
			if r == I64 {
				body = append(body, 0x42) // i64.const
			} else {
				body = append(body, 0x41) // i32.const
			}
			body = append(body, sleb(v)...)
		}
		body = append([]byte{0x00}, append(body, 0x0b)...) // no locals … end
		code = append(code, uleb(uint64(len(body)))...)
		code = append(code, body...)
		n++
	}
	exports = append(exports, name(Memory)...)
	exports = append(exports, 0x02, 0x00)
	data := append([]byte{0x00, 0x41}, sleb(idAddr)...)
	data = append(data, 0x0b)
	data = append(data, uleb(uint64(len(identity)))...)
	data = append(data, identity...)

	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, n, types)...)
	out = append(out, section(3, n, funcs)...)
	out = append(out, section(5, 1, []byte{0x00, 0x01})...) // one memory, min 1 page
	out = append(out, section(7, n+1, exports)...)
	out = append(out, section(10, n, code)...)
	out = append(out, section(11, 1, data)...)
	return out
}

func section(id byte, count int, body []byte) []byte {
	content := append(uleb(uint64(count)), body...)
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

func vec(n int, b []byte) []byte { return append(uleb(uint64(n)), b...) }
func name(s string) []byte       { return append(uleb(uint64(len(s))), s...) }

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
