package lua

import (
	"context"
	"fmt"

	glua "github.com/yuin/gopher-lua"
)

// RefImpl is the suite's reference row of this backend (BenchmarkRef):
// the engine's own call from Go, bare.
const RefImpl = "gopher-lua-call"

// RefMin is the suite's reference row impl RefImpl: the guest's min from
// an instance that new made with no emit, in a state of its own, called
// by gopher-lua's CallByParam (protected) with nothing around it: the
// documented way to call Lua from Go. It checks the answer once. closeFn
// closes the state.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	if impl != RefImpl {
		return nil, nil, fmt.Errorf("lua: %s: no reference %q", m.path, impl)
	}
	L, err := m.state(ctx, "RefMin")
	if err != nil {
		return nil, nil, err
	}
	if err := L.CallByParam(glua.P{Fn: L.GetGlobal(SymNew), NRet: 1, Protect: true}, glua.LNil); err != nil {
		L.Close()
		return nil, nil, fmt.Errorf("lua: ref: %s: %w", m.path, err)
	}
	t, ok := L.Get(-1).(*glua.LTable)
	L.Pop(1)
	if !ok {
		L.Close()
		return nil, nil, fmt.Errorf("lua: ref: %s: new returned no table", m.path)
	}
	fn := t.RawGetString("min")
	call = func(a, b int32) (int32, error) {
		if err := L.CallByParam(glua.P{Fn: fn, NRet: 1, Protect: true}, glua.LNumber(a), glua.LNumber(b)); err != nil {
			return 0, err
		}
		n, _ := L.Get(-1).(glua.LNumber)
		L.Pop(1)
		return int32(n), nil
	}
	if got, err := call(-3, 2); got != -3 || err != nil {
		L.Close()
		return nil, nil, fmt.Errorf("lua: ref: %s: min(-3, 2) = %d, %v; want -3", m.path, got, err)
	}
	return call, L.Close, nil
}
