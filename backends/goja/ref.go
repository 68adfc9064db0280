package goja

import (
	"context"
	"fmt"

	"github.com/dop251/goja"
)

// RefImpl is the suite's reference row of this backend (BenchmarkRef):
// the engine's own call from Go, bare.
const RefImpl = "goja-callable"

// RefMin is the suite's reference row impl RefImpl: the guest's min from
// an instance that newInstance made with no emit, in a runtime of its
// own, called through its goja.Callable with nothing around it: the
// documented way to call JavaScript from Go. It checks the answer once.
// closeFn drops the runtime.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	if impl != RefImpl {
		return nil, nil, fmt.Errorf("goja: %s: no reference %q", m.path, impl)
	}
	vm, err := m.runtime(ctx, "RefMin")
	if err != nil {
		return nil, nil, err
	}
	newFn, _ := goja.AssertFunction(vm.Get(SymNew))
	inst, err := newFn(goja.Undefined(), goja.Null())
	if err != nil {
		return nil, nil, fmt.Errorf("goja: ref: %s: %w", m.path, err)
	}
	obj, ok := inst.(*goja.Object)
	if !ok {
		return nil, nil, fmt.Errorf("goja: ref: %s: newInstance returned %s", m.path, inst)
	}
	fn, ok := goja.AssertFunction(obj.Get("min"))
	if !ok {
		return nil, nil, fmt.Errorf("goja: ref: %s: no min", m.path)
	}
	call = func(a, b int32) (int32, error) {
		v, err := fn(goja.Undefined(), vm.ToValue(a), vm.ToValue(b))
		if err != nil {
			return 0, err
		}
		return int32(v.ToInteger()), nil
	}
	if got, err := call(-3, 2); got != -3 || err != nil {
		return nil, nil, fmt.Errorf("goja: ref: %s: min(-3, 2) = %d, %v; want -3", m.path, got, err)
	}
	return call, func() { vm = nil }, nil
}
