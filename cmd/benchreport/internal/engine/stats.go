package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// statOpts configures how samples are summarized and compared.
type statOpts struct {
	confidence float64
	thresholds benchmath.Thresholds
	units      benchfmt.UnitMetadataMap
}

// A summary is the benchmath summary of one sample.
type summary struct {
	unit       string
	better     int // +1 higher is better, -1 lower is better
	assumption benchmath.Assumption
	sample     *benchmath.Sample
	benchmath.Summary
	warnings []string
}

func (o *statOpts) summarize(unit string, values []float64) *summary {
	vals := append([]float64(nil), values...)
	sort.Float64s(vals)
	a := o.units.GetAssumption(unit)
	s := benchmath.NewSample(vals, &o.thresholds)
	sum := a.Summary(s, o.confidence)
	out := &summary{
		unit:       unit,
		better:     o.units.GetBetter(unit),
		assumption: a,
		sample:     s,
		Summary:    sum,
	}
	for _, w := range s.Warnings {
		out.warnings = append(out.warnings, ourWords(w.Error()))
	}
	for _, w := range sum.Warnings {
		out.warnings = append(out.warnings, ourWords(w.Error()))
	}
	if IsCountUnit(unit) {
		// Allocation counts are usually constant; benchmath's
		// "all samples are equal" would be noise there.
		out.warnings = nil
	}
	return out
}

// n returns the sample size.
func (s *summary) n() int { return len(s.sample.Values) }

func IsCountUnit(unit string) bool { return unit == "B/op" || unit == "allocs/op" }

// compare runs the test benchmath chooses for the unit's assumption
// (Mann–Whitney U for assume=nothing) between a base and a new sample.
func compare(base, x *summary) benchmath.Comparison {
	c := x.assumption.Compare(base.sample, x.sample)
	if IsCountUnit(x.unit) {
		c.Warnings = nil
	}
	return c
}

// A ratio is x's center divided by a base center, with an interval.
//
// The interval is [x.Lo/base.Hi, x.Hi/base.Lo]: it contains the true
// ratio of medians whenever both medians' confidence intervals
// contain their true medians. The samples are independent, so its
// coverage is at least the product of the two intervals' actual
// confidence levels, which is recorded in Confidence. Each median's
// interval is first computed at √confidence so the product reaches
// the requested level; with too few samples for that, the intervals
// at the requested level are used and Confidence is lower (but
// reported).
type ratio struct {
	Value, Lo, Hi float64
	Confidence    float64
}

func (o *statOpts) ratio(base, x *summary) ratio {
	r := ratio{Value: x.Center / base.Center}
	lvl := math.Sqrt(o.confidence)
	bs := base.assumption.Summary(base.sample, lvl)
	xs := x.assumption.Summary(x.sample, lvl)
	if IsInf(bs.Lo, bs.Hi) || IsInf(xs.Lo, xs.Hi) {
		bs, xs = base.Summary, x.Summary
	}
	// Measurements are non-negative, so 0 and +Inf are always valid
	// (if useless) bounds.
	r.Lo, r.Hi = 0, math.Inf(1)
	if !IsInf(bs.Lo, bs.Hi, xs.Lo, xs.Hi) {
		if lo := xs.Lo / bs.Hi; !math.IsNaN(lo) && !math.IsInf(lo, 0) {
			r.Lo = lo
		}
		if hi := xs.Hi / bs.Lo; !math.IsNaN(hi) {
			r.Hi = hi
		}
	}
	if math.IsNaN(r.Value) {
		r.Value = 1 // 0/0: both centers are zero
	}
	r.Confidence = bs.Confidence * xs.Confidence
	return r
}

func IsInf(xs ...float64) bool {
	for _, x := range xs {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return true
		}
	}
	return false
}

// holm applies the Holm–Bonferroni step-down correction to p-values
// and returns adjusted p-values in the same order: reject hypothesis
// i at family-wise error rate α iff adjusted[i] < α.
func holm(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*ps[i])
		running = math.Max(running, v)
		adj[i] = running
	}
	return adj
}

func BetterString(b int) string {
	switch {
	case b > 0:
		return "higher"
	case b < 0:
		return "lower"
	}
	return "unknown"
}

func pctString(x float64) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", 100*x)
}

// ourWords puts a message of x/perf's in the report's words: "≥" for
// ">=", as the report's own messages say it.
func ourWords(s string) string { return strings.ReplaceAll(s, ">=", "≥") }
