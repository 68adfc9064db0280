package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

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

// TestLogTicksFit checks that a log axis labels as many ticks as fit: 1-2-5
// steps over a decade and a half in a wide axis, every decade or fewer over
// twelve decades in a narrow one, never more labels than fit side by side.
func TestLogTicksFit(t *testing.T) {
	sty := labelStyle()
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	wide := labels(logTicks{unit: "sec/op", space: vg.Points(400), sty: sty}.Ticks(1.5e-9, 40e-9))
	if want := []string{"2ns", "5ns", "10ns", "20ns"}; !slices.Equal(wide, want) {
		t.Errorf("1.5–40 ns in 400pt: labels %q, want %q", wide, want)
	}
	space := vg.Points(200)
	narrow := labels(logTicks{unit: "sec/op", space: space, sty: sty}.Ticks(1e-9, 1e3))
	if len(narrow) < 2 {
		t.Fatalf("1 ns–1000 s in 200pt: labels %q, want at least two", narrow)
	}
	if w := vg.Length(len(narrow)) * (maxWidth(sty, narrow) + vg.Points(12)); w > space {
		t.Errorf("1 ns–1000 s in 200pt: labels %q take %v", narrow, w)
	}
	bytes := labels(logTicks{unit: "B/instance", space: vg.Points(400), sty: sty}.Ticks(100, 50<<20))
	if !slices.Contains(bytes, "1KiB") || !slices.Contains(bytes, "1MiB") {
		t.Errorf("100 B–50 MiB: labels %q, want powers of two with 1KiB and 1MiB", bytes)
	}
}

func TestTickLabel(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		unit string
		want string
	}{
		{1e-7, "sec/op", "100ns"}, {2e-6, "sec/callback", "2µs"}, {1000, "sec/op", "1000s"},
		{1, "ratio", "1×"}, {0.5, "ratio", "0.5×"}, {10000, "ratio", "10k×"},
		{1 << 20, "B/instance", "1MiB"}, {512, "B", "512B"}, {2e6, "events/s", "2M"},
	} {
		if got := tickLabel(tt.v, tt.unit); got != tt.want {
			t.Errorf("tickLabel(%g, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

// TestEnvHidden: the engine shows every configuration key unless a
// layer's HideEnv hides it, and then says so with the layer's note.
func TestEnvHidden(t *testing.T) {
	rep := &Report{Environment: []EnvFile{{File: "a.txt", Config: []EnvEntry{
		{Key: "goos", Value: "linux"}, {Key: "hash-a", Value: "123"}}}}}
	var b strings.Builder
	writeEnvMarkdown(&b, rep)
	if md := b.String(); !strings.Contains(md, "| hash-a | 123 |") || strings.Contains(md, "JSON report") {
		t.Errorf("no HideEnv: want every key shown and no note:\n%s", md)
	}
	rep.HideEnv = func(k string) bool { return strings.HasPrefix(k, "hash-") }
	b.Reset()
	writeEnvMarkdown(&b, rep)
	want := "1 configuration key (hash-a) is in the JSON report (-format json)."
	if md := b.String(); strings.Contains(md, "| hash-a |") || !strings.Contains(md, "| goos | linux |") || !strings.Contains(md, want) {
		t.Errorf("HideEnv hiding hash-*: want goos shown, hash-a hidden and %q:\n%s", want, md)
	}
	rep.HiddenEnvNote = func(keys []string) string { return "hashes: " + strings.Join(keys, " ") }
	b.Reset()
	writeEnvMarkdown(&b, rep)
	if md := b.String(); !strings.Contains(md, "hashes: hash-a") {
		t.Errorf("HiddenEnvNote: want its note:\n%s", md)
	}
}

// TestSignedRankExact checks the signed-rank test's exact p against
// every assignment of signs, for samples without ties.
func TestSignedRankExact(t *testing.T) {
	for _, ds := range [][]float64{
		{1, 2, 3, 4, 5, 6},
		{1, -2, 3, 4, 5, 6},
		{0.5, -1.5, 2.5, -3.5, 4.5, 5.5, -6.5, 7.5, 8.5},
		{-1, -2, -3, 4, 5, 6, 7, 8, 9, 10, 11, -12},
		{3, 0, -1, 2}, // a zero is dropped
	} {
		var xs []float64
		for _, d := range ds {
			if d != 0 {
				xs = append(xs, d)
			}
		}
		n := len(xs)
		// W+ of ds, and of every sign assignment of |ds| (ranks are the
		// order of |d|, all distinct here).
		abs := make([]float64, n)
		for i, x := range xs {
			abs[i] = math.Abs(x)
		}
		rank := func(i int) float64 {
			r := 1.0
			for _, a := range abs {
				if a < abs[i] {
					r++
				}
			}
			return r
		}
		w := 0.0
		for i, x := range xs {
			if x > 0 {
				w += rank(i)
			}
		}
		total := float64(n*(n+1)) / 2
		obs := math.Min(w, total-w)
		extreme := 0
		for mask := 0; mask < 1<<n; mask++ {
			s := 0.0
			for i := range n {
				if mask&(1<<i) != 0 {
					s += rank(i)
				}
			}
			if math.Min(s, total-s) <= obs {
				extreme++
			}
		}
		want := math.Min(1, float64(extreme)/float64(int(1)<<n))
		got, used := signedRankP(ds)
		if used != n || math.Abs(got-want) > 1e-12 {
			t.Errorf("signedRankP(%v) = %g (n=%d), want %g (n=%d)", ds, got, used, want, n)
		}
	}
	// Ties: the normal approximation, symmetric in the signs.
	p1, _ := signedRankP([]float64{1, 1, 2, 2, 3, 3, 4, 4})
	p2, _ := signedRankP([]float64{-1, -1, -2, -2, -3, -3, -4, -4})
	if p1 != p2 || p1 <= 0 || p1 > 0.05 {
		t.Errorf("all positive with ties: p %g, all negative %g; want equal and below 0.05", p1, p2)
	}
}

// TestPairedCompare: the pairs' ratios, not the medians' ratio.
func TestPairedCompare(t *testing.T) {
	// Each pair shares its round's state (2 or 3.8 ns a call); NEW is
	// 5% slower in every pair.
	var base, x []float64
	for i := range 12 {
		m := 2.0
		if i%3 == 0 {
			m = 3.8
		}
		base = append(base, m)
		x = append(x, m*1.05)
	}
	r, ok := pairedCompare(base, x)
	if !ok || math.Abs(r.Delta-0.05) > 1e-9 || r.P > 0.001 || r.N != 12 {
		t.Errorf("pairedCompare: %+v, %v; want +5%%, p < 0.001, 12 pairs", r, ok)
	}
	if _, ok := pairedCompare([]float64{1, 0}, []float64{1, 1}); ok {
		t.Error("pairedCompare with a zero: ok, want no ratio")
	}
}

// TestRunFactorsDeterministic checks that the run scope's factor is the
// same to the last bit on every call: a sum in a map's order is not, and
// then every normalized figure of the gate changes run to run.
func TestRunFactorsDeterministic(t *testing.T) {
	var refs [2]map[string]*summary
	for side := range 2 {
		refs[side] = map[string]*summary{}
		for i := range 200 {
			// Ratios whose logs sum differently in different orders.
			c := 1 + float64(i)*0.0123456789
			if side == 1 {
				c *= 1 + float64(i%7)*0.031
			}
			refs[side][fmt.Sprintf("ref%d\x00sec/op", i)] = &summary{Summary: benchmath.Summary{Center: c}}
		}
	}
	want := runFactors(refs)["sec/op"]
	for range 50 {
		if got := runFactors(refs)["sec/op"]; got != want {
			t.Fatalf("runFactors: %v, then %v", want, got)
		}
	}
}
