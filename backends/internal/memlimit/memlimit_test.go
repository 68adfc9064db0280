package memlimit

import (
	"errors"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
)

func TestLimit(t *testing.T) {
	l := &Limit{Max: 2 << 20}
	m := l.Allocate(0, 0)
	if b := m.Reallocate(1 << 20); len(b) != 1<<20 {
		t.Fatalf("grow to 1 MiB: %d bytes", len(b))
	}
	b := m.Reallocate(2 << 20)
	if len(b) != 2<<20 {
		t.Fatalf("grow to the limit: %d bytes", len(b))
	}
	b[len(b)-1] = 7
	if n := l.Size(); n != 2<<20 {
		t.Fatalf("Size = %d, want 2 MiB", n)
	}
	trap := errors.New("trap")
	if err := l.Explain(trap); err != trap {
		t.Fatalf("no refusal: Explain = %v, want the error as it is", err)
	}
	if b := m.Reallocate(3 << 20); b != nil {
		t.Fatalf("grow past the limit: %d bytes, want nil", len(b))
	}
	if !l.Refused() {
		t.Fatal("Refused after a refusal: false")
	}
	err := l.Explain(trap)
	if !errors.Is(err, backends.ErrMemoryLimit) || !errors.Is(err, trap) || !strings.Contains(err.Error(), "asked for 3 MiB of memory, its limit is 2 MiB") {
		t.Fatalf("after a refusal: Explain = %v", err)
	}
	if err := l.Explain(trap); err != trap || l.Refused() {
		t.Fatalf("a second Explain = %v, want the refusal forgotten", err)
	}
	if b := m.Reallocate(2 << 20); len(b) != 2<<20 || b[len(b)-1] != 7 {
		t.Fatal("the memory lost its bytes after a refused growth")
	}
	m2 := l.Allocate(0, 0)
	m2.Reallocate(1 << 20)
	if n := l.Size(); n != 3<<20 {
		t.Fatalf("Size of two memories = %d, want 3 MiB", n)
	}
	m.Free()
	if n := l.Size(); n != 1<<20 {
		t.Fatalf("Size after a Free = %d, want 1 MiB", n)
	}
}
