// Package abandon runs work that nothing can stop (a dlopen constructor, a
// guest's start function in a runtime that cannot interrupt it) under a
// context: the caller gets control back when the context ends, and the
// work runs on, on a goroutine of its own.
package abandon

import (
	"context"
	"sync"
)

// Wait runs f and returns its result, or ctx's error as soon as ctx is
// done, whichever comes first. A context that can never be done runs f
// on the caller's goroutine, at no cost. When Wait gives up, f runs on,
// and drop disposes of its result should it ever come.
func Wait[T any](ctx context.Context, f func() (T, error), drop func(T)) (T, error) {
	return Tracked(nil, ctx, f, drop)
}

// Tracked is Wait for work that must finish before what it uses is
// released, such as a compile writing into a runtime's engine: wg counts
// it while it runs, abandoned or not, so that the owner's Close can wait
// for it (wg.Wait) before closing that runtime. Work that may never
// return (a start function) must not be tracked: Close would wait for
// ever. A nil wg tracks nothing.
func Tracked[T any](wg *sync.WaitGroup, ctx context.Context, f func() (T, error), drop func(T)) (T, error) {
	var zero T
	if ctx.Done() == nil {
		return f()
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	if wg != nil {
		wg.Add(1)
	}
	finish := func() {
		if wg != nil {
			wg.Done()
		}
	}
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		finish()
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			defer finish() // after drop, which may use what the owner closes
			if r := <-done; r.err == nil {
				drop(r.v)
			}
		}()
		return zero, ctx.Err()
	}
}
