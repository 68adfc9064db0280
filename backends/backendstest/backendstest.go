// Package backendstest holds the checks every plugbench backend's tests
// share, so that a new backend is held to the same contract as the others.
package backendstest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends"
)

// LoadError is a load that must fail, and how.
type LoadError struct {
	Name   string // subtest name
	Path   string // the artifact to load
	Is     error  // the error must match it (errors.Is)
	Symbol string // the symbol the error must name, or ""
	Text   string // text the message must contain
}

// CheckLoadErrors loads each case with be in a subtest and checks that the
// load fails with an error that matches c.Is, is a *backends.Error naming
// the backend, the file and the symbol, and reads
// "BACKEND: … TEXT …: PATH". After, if not nil, runs after each case's
// checks, for what only one backend can check.
func CheckLoadErrors(t *testing.T, be backends.Backend, cases []LoadError, after func(t *testing.T, c LoadError)) {
	t.Helper()
	name := be.Name()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := be.Load(context.Background(), c.Path)
			if !errors.Is(err, c.Is) {
				t.Fatalf("Load(%s) = %v, want %v", c.Path, err, c.Is)
			}
			var e *backends.Error
			if !errors.As(err, &e) || e.Backend != name || e.Path != c.Path || e.Symbol != c.Symbol {
				t.Fatalf("error %#v: want backend %s, path %s, symbol %q", e, name, c.Path, c.Symbol)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, name+": ") || !strings.HasSuffix(msg, c.Path) || !strings.Contains(msg, c.Text) {
				t.Errorf("message %q: want %q…%q…%q", msg, name+": ", c.Text, c.Path)
			}
			if after != nil {
				after(t, c)
			}
		})
	}
}

// StuckAfter is how long past a deadline a test waits before it calls a
// backend stuck: far beyond any scheduling delay of a busy machine, so that
// only a backend that never stops fails. How soon a backend stops is
// measured by the fault table (bench/fault_test.go), not checked by tests.
const StuckAfter = 30 * time.Second

// Stuck reports whether what returned after took, against a deadline (0
// for "at once"), returned more than StuckAfter past it: whether, in
// effect, it never stopped. It is for a test's child process, which has
// no testing.TB to report to; a test calls Ended.
func Stuck(took, deadline time.Duration) bool {
	return took > deadline+StuckAfter
}

// Ended fails t if what, which returned after took against a deadline (0
// for "at once"), was Stuck, and otherwise logs how late it returned: the
// figure stays visible, and only a backend that never stops fails.
func Ended(t testing.TB, what string, took, deadline time.Duration) {
	t.Helper()
	if Stuck(took, deadline) {
		t.Errorf("%s took %v, more than %v past its %v deadline: stuck", what, took, StuckAfter, deadline)
		return
	}
	if deadline == 0 {
		t.Logf("%s took %v", what, took.Round(time.Microsecond))
		return
	}
	t.Logf("%s took %v, %v past its %v deadline", what, took.Round(time.Microsecond), (took - deadline).Round(time.Microsecond), deadline)
}

// Eventually polls cond every 10 ms until it holds, for at most
// StuckAfter, and reports whether it held: for what ends a moment after
// the call that ends it (a goroutine, a process), however busy the
// machine.
func Eventually(cond func() bool) bool {
	for end := time.Now().Add(StuckAfter); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// New makes a backend with its package's constructor, which every backend
// has in one shape, New(ctx, Config) (backends.Backend, error), and fails
// tb on its error: backendstest.New(t, dlopen.New, dlopen.Config{}).
func New[C any](tb testing.TB, mk func(context.Context, C) (backends.Backend, error), cfg C) backends.Backend {
	tb.Helper()
	be, err := mk(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("new backend: %v", err)
	}
	return be
}
