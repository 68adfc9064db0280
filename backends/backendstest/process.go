package backendstest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
)

// FDs counts this process's open file descriptors, skipping where
// /proc/self/fd cannot be read.
func FDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// CheckChildren fails t if this process has a child, a zombie or a live
// one: every plugin process must have been reaped.
func CheckChildren(t testing.TB) {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == self {
			t.Errorf("process %s (%s) is still a child of the host, state %s", e.Name(), s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')], f[0])
		}
	}
}

// Bare returns be with every optional capability of its plugins hidden
// (backends.EventPlugin, backends.Caller): what a backend that offers
// neither looks like, to check that a suite skips what a backend lacks
// rather than fail it.
func Bare(be backends.Backend) backends.Backend { return bare{be} }

type bare struct{ backends.Backend }

type bareModule struct{ backends.Module }

func (b bare) Load(ctx context.Context, path string) (backends.Module, error) {
	m, err := b.Backend.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	return bareModule{m}, nil
}

func (m bareModule) Instantiate(ctx context.Context, opts ...backends.Option) (backends.Plugin, error) {
	p, err := m.Module.Instantiate(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return struct{ backends.Plugin }{p}, nil
}
