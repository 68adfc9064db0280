package main

import (
	"strings"
	"testing"
)

// TestPrintWarnings: at most max warnings, then how many more the report
// has; all of them with a negative max.
func TestPrintWarnings(t *testing.T) {
	ws := []string{"a", "b", "c"}
	for _, c := range []struct {
		max  int
		want string
	}{
		{-1, "warning: a\nwarning: b\nwarning: c\n"},
		{3, "warning: a\nwarning: b\nwarning: c\n"},
		{1, "warning: a\nwarning: and 2 more, every one in the report (its Warnings section; -warnings -1 prints them all here)\n"},
		{0, ""},
	} {
		var b strings.Builder
		printWarnings(&b, ws, c.max)
		if b.String() != c.want {
			t.Errorf("max %d: %q, want %q", c.max, b.String(), c.want)
		}
	}
}
