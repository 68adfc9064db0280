package engine

import (
	"math"
	"sort"
)

// A pairedResult compares two samples taken in pairs: sample i of NEW
// was measured right after sample i of BASE (one round of an
// interleaved run), so each pair shares the machine's state of that
// moment, and only the ratio within a pair says something about the
// builds.
type pairedResult struct {
	Delta float64 // exp(median of log(new_i/base_i)) - 1
	P     float64 // two-sided Wilcoxon signed-rank p of the log ratios
	N     int     // pairs with a non-zero difference
}

// pairedCompare compares base and x pair by pair. ok is false when a
// pair has a value ≤ 0 (no ratio).
func pairedCompare(base, x []float64) (r pairedResult, ok bool) {
	logs := make([]float64, len(base))
	for i := range base {
		if base[i] <= 0 || x[i] <= 0 {
			return r, false
		}
		logs[i] = math.Log(x[i] / base[i])
	}
	sorted := append([]float64(nil), logs...)
	sort.Float64s(sorted)
	n := len(sorted)
	med := sorted[n/2]
	if n%2 == 0 {
		med = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	r.Delta = math.Expm1(med)
	r.P, r.N = signedRankP(logs)
	return r, true
}

// signedRankP returns the two-sided p of the Wilcoxon signed-rank test
// of ds against a center of 0, and the number of non-zero ds it used
// (zeros are dropped, as Wilcoxon did). Without ties the p is exact,
// from the distribution of the rank sum (every sign equally likely);
// with ties it is the normal approximation with the tie correction and
// a continuity correction.
func signedRankP(ds []float64) (p float64, n int) {
	var xs []float64
	for _, d := range ds {
		if d != 0 {
			xs = append(xs, d)
		}
	}
	n = len(xs)
	if n == 0 {
		return 1, 0
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return math.Abs(xs[idx[a]]) < math.Abs(xs[idx[b]]) })
	ranks := make([]float64, n)
	ties := false
	tieTerm := 0.0 // Σ (t³ - t) over groups of tied |d|
	for i := 0; i < n; {
		j := i
		for j+1 < n && math.Abs(xs[idx[j+1]]) == math.Abs(xs[idx[i]]) {
			j++
		}
		for k := i; k <= j; k++ {
			ranks[idx[k]] = float64(i+j)/2 + 1
		}
		if t := float64(j - i + 1); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j + 1
	}
	wPlus := 0.0
	for i, x := range xs {
		if x > 0 {
			wPlus += ranks[i]
		}
	}
	total := float64(n) * float64(n+1) / 2
	if !ties {
		// dist[s] = P(W+ = s) under the null: each rank is in W+ with
		// probability 1/2, independently.
		maxSum := n * (n + 1) / 2
		dist := make([]float64, maxSum+1)
		dist[0] = 1
		for k := 1; k <= n; k++ {
			for s := maxSum; s >= 0; s-- {
				v := dist[s] / 2
				if s >= k {
					v += dist[s-k] / 2
				}
				dist[s] = v
			}
		}
		w := int(math.Round(math.Min(wPlus, total-wPlus)))
		tail := 0.0
		for s := 0; s <= w; s++ {
			tail += dist[s]
		}
		return math.Min(1, 2*tail), n
	}
	mean := total / 2
	sd := math.Sqrt(float64(n)*float64(n+1)*float64(2*n+1)/24 - tieTerm/48)
	if sd == 0 {
		return 1, n
	}
	z := math.Max(0, math.Abs(wPlus-mean)-0.5) / sd
	return math.Min(1, math.Erfc(z/math.Sqrt2)), n
}
