package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// svgText is a text of an inline SVG chart: its content and position, y
// counted up from the chart's bottom (vgsvg draws in a flipped group).
type svgText struct {
	text string
	x, y float64
}

var svgTextElem = regexp.MustCompile(`(?s)<text x="([-\d.]+)" y="([-\d.]+)".*?>([^<]*)</text>`)

// chartTexts returns the texts of the chart whose title starts with
// title in an HTML report, or nil.
func chartTexts(t *testing.T, html, title string) []svgText {
	t.Helper()
	for _, svg := range svgElem.FindAllString(html, -1) {
		var out []svgText
		for _, m := range svgTextElem.FindAllStringSubmatch(svg, -1) {
			x, err1 := strconv.ParseFloat(m[1], 64)
			y, err2 := strconv.ParseFloat(m[2], 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("text %q: bad position %s, %s", m[3], m[1], m[2])
			}
			out = append(out, svgText{strings.ReplaceAll(m[3], "&#39;", "'"), x, -y})
		}
		if len(out) > 0 && strings.HasPrefix(out[0].text, title) {
			return out
		}
	}
	return nil
}

// TestMemoryCharts checks the memory suite's charts on synthetic rows
// (testdata/memory.txt: seven targets, the larger instance counts of four
// skipped): memory per instance shows each target once, at the most
// instances it ran, sorted with the largest at the top; the density chart
// has a line per target over the instance counts; the footprint chart (from
// the load rows' artifact-B and peak-B) a line per target with an artifact.
// Data without such rows has none.
func TestMemoryCharts(t *testing.T) {
	stdout, stderr, code := runMain("report", "-format", "html", filepath.Join("testdata", "memory.txt"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	mem := chartTexts(t, stdout, "Memory per instance")
	if mem == nil {
		t.Fatal("no memory chart")
	}
	// Rows, top to bottom: the largest memory per instance first.
	// Every target at 100, the most instances all of them ran (the
	// choosing table's count), though most ran more.
	want := []string{"wasm (go), 100 instances", "hashicorp-grpc (go), 100 instances", "subprocess (c), 100 instances",
		"wasmtime (c), 100 instances", "wasm (c), 100 instances", "dlopen (c), 100 instances", "static (builtin), 100 instances"}
	var rows []svgText
	for _, tx := range mem {
		if strings.Contains(tx.text, " instance") && !strings.Contains(tx.text, "per instance") {
			rows = append(rows, tx)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].y > rows[j].y })
	var got []string
	for _, r := range rows {
		got = append(got, r.text)
	}
	if !slices.Equal(got, want) {
		t.Errorf("memory chart rows, top to bottom:\n got %q\nwant %q", got, want)
	}
	for _, entry := range []string{"host + child processes", "of which the host's Go heap"} {
		if !slices.ContainsFunc(mem, func(tx svgText) bool { return tx.text == entry }) {
			t.Errorf("memory chart: no legend entry %q", entry)
		}
	}

	density := chartTexts(t, stdout, "Density")
	if density == nil {
		t.Fatal("no density chart")
	}
	for _, s := range []string{"static (builtin)", "dlopen (c)", "wasm (c)", "wasm (go)", "wasmtime (c)", "subprocess (c)", "hashicorp-grpc (go)",
		"1", "10", "100", "1000", "10000", "instances, log scale", "bytes per instance, log scale"} {
		if !slices.ContainsFunc(density, func(tx svgText) bool { return tx.text == s }) {
			t.Errorf("density chart: no text %q", s)
		}
	}

	foot := chartTexts(t, stdout, "Footprint")
	if foot == nil {
		t.Fatal("no footprint chart")
	}
	for _, s := range []string{"wasm (go)", "hashicorp-grpc (go)", "artifact on disk", "a load's peak", "a load's peak, disk cache"} {
		if !slices.ContainsFunc(foot, func(tx svgText) bool { return tx.text == s }) {
			t.Errorf("footprint chart: no text %q", s)
		}
	}
	if slices.ContainsFunc(foot, func(tx svgText) bool { return tx.text == "static (builtin)" }) {
		t.Error("footprint chart: a row for static, which has no artifact")
	}

	stdout, _, _ = runMain("report", "-format", "html", filepath.Join("testdata", "sample.txt"))
	for _, title := range []string{"Memory per instance", "Density", "Footprint"} {
		if chartTexts(t, stdout, title) != nil {
			t.Errorf("sample.txt has no memory rows, but its report has a chart %q", title)
		}
	}
}

// TestChartsSorted checks that plugbench's Callback chart on the committed
// full run puts its rows in order of cost, the dearest at the top.
func TestChartsSorted(t *testing.T) {
	stdout, stderr, code := runMain("report", "-format", "html", "-filter", ".name:Callback", baselinePath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	texts := chartTexts(t, stdout, "One host callback")
	if texts == nil {
		t.Fatal("no callback chart")
	}
	var rows []svgText
	for _, tx := range texts {
		if strings.HasSuffix(tx.text, ")") && !strings.Contains(tx.text, "CI") {
			rows = append(rows, tx)
		}
	}
	if len(rows) < 20 {
		t.Fatalf("%d rows in the callback chart, want a row per target (25)", len(rows))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].y > rows[j].y })
	if rows[0].text != "hashicorp-netrpc (go)" && rows[0].text != "hashicorp-grpc (go)" {
		t.Errorf("top row %q, want a hashicorp backend (≈110 µs a callback)", rows[0].text)
	}
	if last := rows[len(rows)-1].text; last != "static (builtin)" {
		t.Errorf("bottom row %q, want static (builtin) (≈2 ns)", last)
	}
}
