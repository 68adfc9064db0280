package extism

import (
	"context"
	"encoding/binary"
	"fmt"

	extism "github.com/extism/go-sdk"
)

// refMin is the reference of the backend's Min: the bare Extism SDK, as its
// README would have it, with no backend code. It makes a plugin from a
// manifest naming the file at path (extism.NewPlugin), checks one answer,
// and returns call, which calls "min" with a and b as 8 little-endian bytes
// through plugin.Call, and closeFn, which closes the plugin. The guest
// imports "extism:host/user" "emit", so the plugin is given a stub of it.
func refMin(ctx context.Context, path string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	stub := extism.NewHostFunctionWithStack(hostEmit, func(context.Context, *extism.CurrentPlugin, []uint64) {},
		[]extism.ValueType{extism.ValueTypeI64, extism.ValueTypeI64}, []extism.ValueType{extism.ValueTypeI64})
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmFile{Path: path}}}
	p, err := extism.NewPlugin(ctx, manifest, extism.PluginConfig{}, []extism.HostFunction{stub})
	if err != nil {
		return nil, nil, fmt.Errorf("extism reference: %s: %w", path, err)
	}
	in := make([]byte, 8)
	call = func(a, b int32) (int32, error) {
		binary.LittleEndian.PutUint32(in, uint32(a))
		binary.LittleEndian.PutUint32(in[4:], uint32(b))
		_, out, err := p.Call("min", in)
		if err != nil {
			return 0, err
		}
		if len(out) != 4 {
			return 0, fmt.Errorf("extism reference: min: %d bytes of output, want 4", len(out))
		}
		return int32(binary.LittleEndian.Uint32(out)), nil
	}
	closeFn = func() { p.Close(context.Background()) }
	if got, err := call(-3, 2); err != nil || got != -3 {
		closeFn()
		return nil, nil, fmt.Errorf("extism reference: %s: min(-3, 2) = %d, %v; want -3", path, got, err)
	}
	return call, closeFn, nil
}

// RefMin is the suite's reference row impl (BenchmarkRef), "extism":
// refMin on the module's file.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (func(a, b int32) (int32, error), func(), error) {
	if impl != "extism" {
		return nil, nil, fmt.Errorf("extism: %s: no reference %q", m.path, impl)
	}
	return refMin(ctx, m.path)
}
