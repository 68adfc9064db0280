package knqyf263

import (
	"context"
	"fmt"

	"github.com/plugbench/plugbench/backends/knqyf263/protocol"
)

// RefImpl is the suite's reference row of this backend (BenchmarkRef):
// the framework's own call from Go, bare.
const RefImpl = "knqyf263-generated"

// RefMin is the suite's reference row impl RefImpl: the generated code's
// Min on an instance of the guest loaded by the generated Load, with
// nothing around it: the call as the framework's users write it. It
// checks the answer once. closeFn closes the instance.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	if impl != RefImpl {
		return nil, nil, fmt.Errorf("knqyf263: %s: no reference %q", m.path, impl)
	}
	g, _, err := m.load(ctx, "RefMin", host{})
	if err != nil {
		return nil, nil, err
	}
	call = func(a, b int32) (int32, error) {
		rep, err := g.Min(context.Background(), &protocol.MinRequest{A: a, B: b})
		if err != nil {
			return 0, err
		}
		return rep.R, nil
	}
	if got, err := call(-3, 2); got != -3 || err != nil {
		g.Close(context.Background())
		return nil, nil, fmt.Errorf("knqyf263: ref: %s: min(-3, 2) = %d, %v; want -3", m.path, got, err)
	}
	return call, func() { g.Close(context.Background()) }, nil
}
