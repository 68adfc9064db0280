package starlark

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"
)

// RefImpl is the suite's reference row of this backend (BenchmarkRef):
// the engine's own call from Go, bare.
const RefImpl = "starlark-call"

// RefMin is the suite's reference row impl RefImpl: the guest's min
// from an instance that new made with no emit, called by starlark.Call
// on a thread of its own with nothing around it, the call the backend is
// built on. It checks the answer once. closeFn drops the thread.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	if impl != RefImpl {
		return nil, nil, fmt.Errorf("starlark: %s: no reference %q", m.path, impl)
	}
	th := newThread("ref")
	inst, err := starlark.Call(th, m.new, starlark.Tuple{starlark.None}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("starlark: ref: %s: %w", m.path, err)
	}
	d, ok := inst.(*starlark.Dict)
	if !ok {
		return nil, nil, fmt.Errorf("starlark: ref: %s: new returned a %s, want a dict", m.path, inst.Type())
	}
	fn, _, _ := d.Get(starlark.String("min"))
	call = func(a, b int32) (int32, error) {
		v, err := starlark.Call(th, fn, starlark.Tuple{starlark.MakeInt64(int64(a)), starlark.MakeInt64(int64(b))}, nil)
		if err != nil {
			return 0, err
		}
		n, _ := v.(starlark.Int).Int64()
		return int32(n), nil
	}
	if got, err := call(-3, 2); got != -3 || err != nil {
		return nil, nil, fmt.Errorf("starlark: ref: %s: min(-3, 2) = %d, %v; want -3", m.path, got, err)
	}
	return call, func() { th = nil }, nil
}
