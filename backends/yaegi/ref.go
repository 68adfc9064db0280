package yaegi

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// refMin is bare yaegi, for the suite's reference row: an interpreter with
// the whole standard library, the guest's source at path (the folder
// fixtures.WriteYaegi writes), and the interpreted entry's Min
// evaluated and asserted to its Go type, called with nothing around it.
// It checks the answer once. closeFn drops the interpreter.
func refMin(ctx context.Context, path string) (call func(a, b int32) (int32, error), closeFn func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	in := interp.New(interp.Options{GoPath: abs})
	if err := in.Use(stdlib.Symbols); err != nil {
		return nil, nil, fmt.Errorf("yaegi: ref: %w", err)
	}
	if _, err := in.EvalWithContext(ctx, `import entry "`+EntryPackage+`"`); err != nil {
		return nil, nil, fmt.Errorf("yaegi: ref: %s: %w", path, err)
	}
	v, err := in.Eval("entry.Min")
	if err != nil {
		return nil, nil, fmt.Errorf("yaegi: ref: %s: %w", path, err)
	}
	fn, ok := v.Interface().(func(a, b int32) int32)
	if !ok {
		return nil, nil, fmt.Errorf("yaegi: ref: %s: Min is a %v", path, v.Type())
	}
	if got := fn(-3, 2); got != -3 {
		return nil, nil, fmt.Errorf("yaegi: ref: %s: Min(-3, 2) = %d, want -3", path, got)
	}
	call = func(a, b int32) (int32, error) { return fn(a, b), nil }
	return call, func() { in = nil }, nil
}

// RefMin is the suite's reference row impl (BenchmarkRef), "yaegi":
// refMin on the module's source.
// It is no part of the backend's API: the module's type is unexported,
// and the suite reaches the method through an interface of its own.
func (m *module) RefMin(ctx context.Context, impl string) (func(a, b int32) (int32, error), func(), error) {
	if impl != "yaegi" {
		return nil, nil, fmt.Errorf("yaegi: %s: no reference %q", m.path, impl)
	}
	return refMin(ctx, m.path)
}
