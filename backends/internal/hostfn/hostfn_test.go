package hostfn

import "testing"

func TestTable(t *testing.T) {
	a := Register(func(v int64) int64 { return v + 1 })
	b := Register(func(v int64) int64 { return v * 2 })
	if a == 0 || b == 0 || a == b {
		t.Fatalf("handles %d, %d", a, b)
	}
	if Call(a, 5) != 6 || Call(b, 5) != 10 {
		t.Fatal("wrong function called")
	}
	before := Misses()
	Release(a)
	if Call(a, 5) != 0 || Call(0, 1) != 0 || Call(1<<40, 1) != 0 || Misses() != before+3 {
		t.Error("released or unknown handle answered")
	}
	c := Register(func(v int64) int64 { return -v })
	if c != a || Call(c, 5) != -5 || Call(b, 5) != 10 {
		t.Errorf("handle %d not reused, or table broken", c)
	}
	Release(b)
	Release(c)
}
