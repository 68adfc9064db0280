package engine

import (
	"slices"
	"strings"
	"testing"

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
