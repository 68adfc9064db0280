package abandon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plugbench/plugbench/backends/backendstest"
)

func TestWait(t *testing.T) {
	v, err := Wait(context.Background(), func() (int, error) { return 7, nil }, nil)
	if v != 7 || err != nil {
		t.Fatalf("no deadline: %d, %v", v, err)
	}
	// A deadline that a result at once meets however busy the machine.
	ctx, cancel := context.WithTimeout(context.Background(), backendstest.StuckAfter)
	defer cancel()
	if v, err := Wait(ctx, func() (int, error) { return 8, nil }, nil); v != 8 || err != nil {
		t.Fatalf("in time: %d, %v", v, err)
	}
	release, dropped := make(chan struct{}), make(chan int, 1)
	const d = 20 * time.Millisecond
	ctx, cancel = context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	_, err = Wait(ctx, func() (int, error) { <-release; return 9, nil }, func(v int) { dropped <- v })
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v after %v", err, took)
	}
	backendstest.Ended(t, "Wait past the deadline", took, d)
	close(release)
	if v := <-dropped; v != 9 {
		t.Fatalf("dropped %d, want the late result 9", v)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Wait(done, func() (int, error) { t.Fatal("ran after its context ended"); return 0, nil }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended context: %v", err)
	}
}
