// Package backendstest holds the checks every plugbench backend's tests
// share, so that a new backend is held to the same contract as the others.
package backendstest

import (
	"context"
	"errors"
	"strings"
	"testing"

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
