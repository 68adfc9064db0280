package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// benchstatTestdata returns the directory of benchstat's example
// files in the module cache.
func benchstatTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/perf").Output()
	if err != nil {
		t.Skipf("locating golang.org/x/perf: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "cmd", "benchstat", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("benchstat testdata: %v", err)
	}
	return dir
}

func gateJSON(t *testing.T, args ...string) *engine.GateResult {
	t.Helper()
	stdout, stderr, code := runMain(append([]string{"gate", "-format", "json", "-allow-inconclusive"}, args...)...)
	if code != 0 && code != 1 {
		t.Fatalf("gate %v: exit %d\n%s", args, code, stderr)
	}
	var res engine.GateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("decoding gate JSON: %v", err)
	}
	return &res
}

// TestBenchstatGolden checks medians, intervals and p-values against
// the values in benchstat's own golden output for old.txt/new.txt.
func TestBenchstatGolden(t *testing.T) {
	dir := benchstatTestdata(t)
	golden, err := os.ReadFile(filepath.Join(dir, "csvOldNew.stdout"))
	if err != nil {
		t.Skip(err)
	}
	// The CSV part starts after the configuration lines.
	text := string(golden)
	text = text[strings.Index(text, ",old.txt"):]
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	res := gateJSON(t, "-min-samples", "2", filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt"))
	rows := map[string]*engine.GateRow{}
	for _, r := range res.Rows {
		if r.Unit == "sec/op" {
			rows[r.Name] = r
		}
	}
	checked := 0
	for _, rec := range recs[2:] {
		name := rec[0]
		if name == "geomean" {
			continue
		}
		r := rows[name]
		if r == nil {
			t.Errorf("%s: missing from gate output", name)
			continue
		}
		checked++
		for i, side := range []*engine.GateSide{r.Base, r.New} {
			wantCenter, wantCI := rec[1+2*i], rec[2+2*i]
			if got := fmt.Sprint(float64(side.Center)); got != wantCenter {
				t.Errorf("%s side %d: median %s, benchstat %s", name, i, got, wantCenter)
			}
			s := benchmath.Summary{Center: float64(side.Center), Lo: float64(side.Lo), Hi: float64(side.Hi)}
			if got := s.PctRangeString(); got != wantCI {
				t.Errorf("%s side %d: CI ±%s, benchstat ±%s", name, i, got, wantCI)
			}
		}
		// rec[6] is "p=0.446 n=10".
		wantP := strings.Fields(rec[6])[0]
		if got := fmt.Sprintf("p=%.3f", float64(*r.P)); got != wantP {
			t.Errorf("%s: %s, benchstat %s", name, got, wantP)
		}
	}
	if checked != 2 {
		t.Errorf("checked %d rows, want 2", checked)
	}
}

// TestBenchstatMath recomputes every row of the gate on benchstat's
// crc example files with benchmath, called the way benchstat calls it:
// benchmath.NewSample over the values in file order with
// DefaultThresholds, Summary at 0.95 and Compare(base, new) under the
// unit's assumption.
func TestBenchstatMath(t *testing.T) {
	dir := benchstatTestdata(t)
	for _, pair := range [][2]string{{"crc-old.txt", "crc-new.txt"}, {"old.txt", "new.txt"}} {
		oldPath, newPath := filepath.Join(dir, pair[0]), filepath.Join(dir, pair[1])
		res := gateJSON(t, "-min-samples", "2", oldPath, newPath)
		samples := [2]map[string][]float64{readSamples(t, oldPath), readSamples(t, newPath)}
		units := readUnits(t, oldPath, newPath)
		if len(res.Rows) == 0 {
			t.Fatalf("%v: no rows", pair)
		}
		for _, r := range res.Rows {
			key := r.Name + " " + r.Unit
			a := units.GetAssumption(r.Unit)
			var sums [2]benchmath.Summary
			var ss [2]*benchmath.Sample
			for i, side := range []*engine.GateSide{r.Base, r.New} {
				vals := samples[i][key]
				if side == nil || vals == nil {
					if (side == nil) != (vals == nil) {
						t.Errorf("%s: side %d presence differs", key, i)
					}
					continue
				}
				thr := benchmath.DefaultThresholds
				ss[i] = benchmath.NewSample(vals, &thr)
				sums[i] = a.Summary(ss[i], 0.95)
				if float64(side.Center) != sums[i].Center || float64(side.Lo) != sums[i].Lo || float64(side.Hi) != sums[i].Hi {
					t.Errorf("%s side %d: got %v [%v, %v], benchmath %v [%v, %v]", key, i,
						side.Center, side.Lo, side.Hi, sums[i].Center, sums[i].Lo, sums[i].Hi)
				}
			}
			if r.P != nil && ss[0] != nil && ss[1] != nil {
				c := a.Compare(ss[0], ss[1])
				if float64(*r.P) != c.P {
					t.Errorf("%s: p=%v, benchmath p=%v", key, *r.P, c.P)
				}
			}
		}
	}
}

// readSamples reads a file with benchfmt directly, keyed by full name
// and unit, values in file order.
func readSamples(t *testing.T, path string) map[string][]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float64{}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		if res, ok := r.Result().(*benchfmt.Result); ok {
			for _, v := range res.Values {
				k := res.Name.String() + " " + v.Unit
				out[k] = append(out[k], v.Value)
			}
		}
	}
	for _, vs := range out {
		sort.Float64s(vs) // NewSample sorts too; order must not matter
	}
	return out
}

func readUnits(t *testing.T, paths ...string) benchfmt.UnitMetadataMap {
	t.Helper()
	files := benchfmt.Files{Paths: paths}
	for files.Scan() {
	}
	if err := files.Err(); err != nil {
		t.Fatal(err)
	}
	return files.Units()
}
