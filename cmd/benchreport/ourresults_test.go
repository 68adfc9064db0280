package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

// baselinePath is plugbench's own committed full run.
const baselinePath = "../../results/baseline.txt"

// TestBenchstatOnOurResults runs the real benchstat (golang.org/x/perf/cmd/benchstat,
// a dependency of this module) on results/baseline.txt and checks that the
// report's medians, confidence intervals and p-values against static are
// the ones benchstat prints, row by row.
func TestBenchstatOnOurResults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchstat: skipped with -short")
	}
	if _, err := os.Stat(baselinePath); err != nil {
		t.Skipf("no committed full run: %v", err)
	}
	for _, name := range []string{"Call", "Payload", "Parallel"} {
		t.Run(name, func(t *testing.T) {
			filter := ".name:" + name
			out, err := exec.Command("go", "run", "golang.org/x/perf/cmd/benchstat",
				"-format", "csv", "-filter", filter, "-col", "/backend,/fixture", baselinePath).Output()
			if err != nil {
				t.Fatalf("benchstat: %v", err)
			}
			want := parseBenchstatCSV(t, string(out), "sec/op")

			stdout, stderr, code := runMain("report", "-format", "json", "-filter", filter, baselinePath)
			if code != 0 {
				t.Fatalf("report: exit %d\n%s", code, stderr)
			}
			var rep struct {
				Tables []struct {
					Unit string
					Rows []struct {
						Group, Backend, Fixture string
						Center, Lo, Hi          float64
						P                       *float64
					}
				}
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, tab := range rep.Tables {
				if tab.Unit != "sec/op" {
					continue
				}
				for _, r := range tab.Rows {
					key := r.Group + " " + r.Backend + " " + r.Fixture
					w, ok := want[key]
					if !ok {
						t.Errorf("%s: not in benchstat's output", key)
						continue
					}
					checked++
					if got := fmt.Sprint(r.Center); got != w.center {
						t.Errorf("%s: median %s, benchstat %s", key, got, w.center)
					}
					s := benchmath.Summary{Center: r.Center, Lo: r.Lo, Hi: r.Hi}
					if got := s.PctRangeString(); got != w.ci {
						t.Errorf("%s: CI ±%s, benchstat ±%s", key, got, w.ci)
					}
					if w.p != "" && r.P != nil {
						if got := fmt.Sprintf("p=%.3f", *r.P); got != w.p {
							t.Errorf("%s: %s, benchstat %s", key, got, w.p)
						}
					}
				}
			}
			if checked == 0 || checked != len(want) {
				t.Errorf("checked %d rows; benchstat has %d", checked, len(want))
			}
			t.Logf("%s: %d rows agree with benchstat (median, CI, p)", name, checked)
		})
	}
}

type benchstatCell struct{ center, ci, p string }

// parseBenchstatCSV reads the table of unit from benchstat's CSV: one header
// line per column key (here backend, then fixture), a line of units, then a
// line per row. The first column has a center and a CI; each other column
// also "vs base" and "P". Cells are keyed "ROW BACKEND FIXTURE".
func parseBenchstatCSV(t *testing.T, text, unit string) map[string]benchstatCell {
	t.Helper()
	var recs [][]string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, ",") {
			continue
		}
		r := csv.NewReader(strings.NewReader(l))
		r.FieldsPerRecord = -1
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("benchstat csv %q: %v", l, err)
		}
		recs = append(recs, rec)
	}
	out := map[string]benchstatCell{}
	for i := range recs {
		if recs[i][0] != "" || len(recs[i]) < 2 || recs[i][1] != unit {
			continue
		}
		var headers [][]string // the column-key lines above the unit line
		for j := i - 1; j >= 0 && recs[j][0] == ""; j-- {
			headers = append([][]string{recs[j]}, headers...)
		}
		for _, rec := range recs[i+1:] {
			if rec[0] == "" || rec[0] == "geomean" {
				break
			}
			for col := 1; col < len(rec); {
				var label []string
				for _, h := range headers {
					label = append(label, h[col])
				}
				c := benchstatCell{center: rec[col], ci: rec[col+1]}
				width := 2
				if col > 1 {
					c.p = strings.Fields(rec[col+3] + " ")[0]
					width = 4
				}
				if c.center != "" {
					out[rec[0]+" "+strings.Join(label, " ")] = c
				}
				col += width
			}
		}
		break
	}
	if len(out) == 0 {
		t.Fatalf("no %s table in benchstat's output:\n%s", unit, text)
	}
	return out
}

// TestREADMEChoosing fails when README.md's "Choosing a mechanism" table
// differs from the one the committed results/baseline.txt and
// results/faults.json give, so that no cell of it is typed by hand:
// make readme regenerates it.
func TestREADMEChoosing(t *testing.T) {
	const readme, faults = "../../README.md", "../../results/faults.json"
	if _, err := os.Stat(baselinePath); err != nil {
		t.Skipf("no committed full run: %v", err)
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, inside, _, err := generated(doc)
	if err != nil {
		t.Fatalf("%s: %v", readme, err)
	}
	stdout, stderr, code := runMain("choose", "-faults", faults, baselinePath)
	if code != 0 {
		t.Fatalf("choose: exit %d\n%s", code, stderr)
	}
	if want := "\n" + stdout; string(inside) != want {
		t.Errorf("README.md's generated table differs from what %s and %s give (run make readme):\n%s",
			baselinePath, faults, diffLines(want, string(inside)))
	}
	if !strings.Contains(stdout, "| wasm (c) |") {
		t.Errorf("the generated table has no wasm (c) row:\n%s", stdout)
	}
}

// TestChooseReadme checks that choose -readme replaces what lies between
// the markers, and only that, and refuses a file without them.
func TestChooseReadme(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	doc := "# x\n\nbefore\n" + chooseBegin + "\nhand-typed | cells\n" + chooseEnd + "\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o666); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join("testdata", "sample.txt")
	if _, stderr, code := runMain("choose", "-readme", path, sample); code != 0 {
		t.Fatalf("choose -readme: exit %d\n%s", code, stderr)
	}
	table, _, _ := runMain("choose", sample)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# x\n\nbefore\n" + chooseBegin + "\n\n" + table + chooseEnd + "\nafter\n"; string(got) != want {
		t.Errorf("README after choose -readme:\n%s\nwant:\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("# no markers\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runMain("choose", "-readme", path, sample); code != exitBad || !strings.Contains(stderr, "no \"<!-- choosing") {
		t.Errorf("choose -readme on a file without markers: exit %d, stderr %q; want 2 and the markers named", code, stderr)
	}
}

// TestREADMETargets fails when README.md's table of targets misses a
// target the Makefile documents (a "## target:" comment, which make help
// lists), or names one the Makefile lacks.
func TestREADMETargets(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Skipf("no Makefile: %v", err)
	}
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## ([a-z][a-z-]*):`).FindAllSubmatch(mk, -1) {
		documented[string(m[1])] = true
	}
	if len(documented) < 10 {
		t.Fatalf("%d targets with a ## comment in the Makefile: the pattern is off", len(documented))
	}
	// The table's first cells: `make X` (or several, "`make a` / `make b`").
	listed := map[string]bool{}
	for _, row := range regexp.MustCompile("(?m)^\\| (`make [^|]*)\\|").FindAllSubmatch(doc, -1) {
		for _, m := range regexp.MustCompile("`make ([a-z][a-z-]*)`").FindAllSubmatch(row[1], -1) {
			listed[string(m[1])] = true
		}
	}
	for tgt := range documented {
		if !listed[tgt] {
			t.Errorf("README.md's table of targets has no row for make %s", tgt)
		}
	}
	for tgt := range listed {
		if !documented[tgt] {
			t.Errorf("README.md's table of targets lists make %s, which the Makefile does not document (## %s:)", tgt, tgt)
		}
	}
}

// measuredFigure is a figure of a measurement: a number with a unit of
// time, size or ratio ("2.0 ns", "112 KiB", "2.6×").
var measuredFigure = regexp.MustCompile(`\d[\d.,]*\s?(ns|µs|us|ms|B|KiB|MiB|GiB|KB|MB|GB|×)(\W|$)`)

// TestREADMEProse fails when README.md's "What it found" holds a figure
// outside its generated part: the figures there come from the committed
// results (make readme), and prose that quotes one goes stale at the next
// run, as it did (static's call "2.0 ns" beside a table of 2.73 ns).
func TestREADMEProse(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, inside, after, err := generated(doc)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(doc, []byte("\n## What it found"))
	if start < 0 || len(inside) == 0 {
		t.Fatal(`README.md has no "What it found" section with a generated part`)
	}
	before := doc[start : len(doc)-len(after)-len(inside)]
	end := bytes.Index(after[1:], []byte("\n## "))
	if end < 0 {
		end = len(after) - 1
	}
	line := bytes.Count(doc[:len(doc)-len(after)], []byte("\n")) + 1
	for _, part := range []struct {
		text  []byte
		first int
	}{{before, bytes.Count(doc[:start], []byte("\n")) + 1}, {after[:end+1], line}} {
		for i, l := range bytes.Split(part.text, []byte("\n")) {
			if m := measuredFigure.Find(l); m != nil {
				t.Errorf("README.md:%d: %q quotes a measured figure outside the generated part: let make readme give it, or say it without one", part.first+i, m)
			}
		}
	}
}
