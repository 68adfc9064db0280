package engine

import "testing"

func TestHolm(t *testing.T) {
	got := holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Errorf("holm[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, "exact": 0, "0": 0, "12.5%": 0.125} {
		got, err := parseTolerance(in)
		if err != nil || got-want > 1e-12 || want-got > 1e-12 {
			t.Errorf("parseTolerance(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5%", "five", "NaN", "%"} {
		if _, err := parseTolerance(in); err == nil {
			t.Errorf("parseTolerance(%q) succeeded", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{"0B": 0, "64B": 64, "4KiB": 4096, "64KiB": 65536, "1MiB": 1 << 20, "1kB": 1000} {
		if got, ok := ParseSize(in); !ok || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func TestParseNormRef(t *testing.T) {
	for _, in := range []string{"backend=static", "/backend:static", "backend=static,fixture=builtin", "BenchmarkRef/op=min/impl=cgo"} {
		if _, err := parseNormRef(in, "fixture"); err != nil {
			t.Errorf("parseNormRef(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "static", "backend", "a=b c"} {
		if _, err := parseNormRef(in, "fixture"); err == nil {
			t.Errorf("parseNormRef(%q) succeeded", in)
		}
	}
}
