package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"golang.org/x/perf/benchunit"
)

func isFlagHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// fmtVal formats a value of unit with an SI or binary prefix.
func fmtVal(v float64, unit string) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		if v < 0 {
			return "-∞"
		}
		return "∞"
	}
	return benchunit.Scale(v, benchunit.ClassOf(unit))
}

// human formats a value with a readable unit, for prose.
func human(v float64, unit string) string {
	s := fmtVal(v, unit)
	if isCountUnit(unit) && v == math.Trunc(v) && v < 1000 {
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch unit {
	case "allocs/op":
		return s + " allocs/op"
	case "sec/op":
		return s + "s"
	case "B/op":
		return s + " B/op"
	case "B/s":
		return s + "B/s"
	}
	if per, ok := strings.CutPrefix(unit, "sec/"); ok { // sec/callback
		return s + "s/" + per
	}
	return s + " " + unit
}

func fmtRatio(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "∞"
	case math.IsNaN(x):
		return "?"
	case x >= 10000:
		return benchunit.Scale(x, benchunit.Decimal) + "×"
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	case x >= 1:
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("%.3g×", x)
}

func fmtCI(lo, hi float64, unit string) string {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return "unbounded"
	}
	return fmtVal(lo, unit) + " – " + fmtVal(hi, unit)
}

// fmtVs formats a row's ratio to its baseline; against a zero
// baseline it gives the difference instead.
func fmtVs(r *Row, unit string) string {
	if r.BaseCenter == 0 && r.Center != 0 {
		return "+" + fmtVal(float64(r.Center), unit) + " (base 0)"
	}
	return fmtRatio(float64(r.Ratio))
}

func fmtRatioCI(r *Row) string {
	if r.BaseCenter == 0 {
		return ""
	}
	if math.IsInf(float64(r.RatioHi), 1) {
		return "unbounded"
	}
	return fmtRatio(float64(r.RatioLo)) + " – " + fmtRatio(float64(r.RatioHi))
}

func fmtP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// verdictWord describes a compared row's difference from the baseline.
func verdictWord(r *Row, better string) string {
	if !r.Significant {
		return "~"
	}
	faster := float64(r.Ratio) < 1
	switch better {
	case "lower":
		if faster {
			return "better"
		}
		return "worse"
	case "higher":
		if faster {
			return "worse"
		}
		return "better"
	}
	return "differs"
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;").Replace(s)
}

// writeMarkdown writes rep as GitHub-flavored Markdown. chartLink is
// the directory (relative to the report) holding the chart files, or
// "" for no charts.
func writeMarkdown(w io.Writer, rep *Report, chartLink, chartFormat string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", mdEscape(rep.Title))
	for _, w := range rep.failedRunWarnings() {
		fmt.Fprintf(bw, "> **⚠ %s**\n\n", mdEscape(w))
	}
	fmt.Fprintf(bw, "Medians with %g%% confidence intervals; ratios are relative to the `%s` backend of the same group; "+
		"p is the Mann–Whitney U test against it (significant if p < %g; `~` means no significant difference).\n\n",
		100*rep.Confidence, rep.Baseline, rep.Alpha)

	writeNotRunMarkdown(bw, rep)
	writeEnvMarkdown(bw, rep)

	if len(rep.Findings) > 0 {
		fmt.Fprintf(bw, "## Findings\n\n")
		for _, f := range rep.Findings {
			fmt.Fprintf(bw, "- %s\n", f)
		}
		fmt.Fprintln(bw)
	}

	writeEventMarkdown(bw, rep)
	writeFaultsMarkdown(bw, rep)

	if chartLink != "" && len(rep.charts) > 0 {
		fmt.Fprintf(bw, "## Charts\n\n")
		for _, c := range rep.charts {
			fmt.Fprintf(bw, "![%s](%s/%s.%s)\n\n", c.title, chartLink, c.name, chartFormat)
		}
	}

	multiFile := len(distinctFiles(rep)) > 1
	last := ""
	for _, t := range rep.Tables {
		head := t.Benchmark
		if multiFile {
			head = t.File + ": " + head
		}
		if head != last {
			fmt.Fprintf(bw, "## %s\n\n", mdEscape(head))
			last = head
		}
		fmt.Fprintf(bw, "### %s (%s is better)\n\n", t.Unit, t.Better)
		fmt.Fprintf(bw, "| benchmark | backend | %s | %g%% CI | vs %s | ratio CI | p | n |\n", t.Summary, 100*rep.Confidence, rep.Baseline)
		fmt.Fprintf(bw, "|---|---|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range t.Rows {
			vs, rci, p := "", "", ""
			switch {
			case r.Baseline:
				vs = "baseline"
			case r.HasBase:
				vs = fmtVs(r, t.Unit)
				if !r.Significant {
					vs = "~ " + vs
				} else {
					vs = "**" + vs + "**"
				}
				rci = fmtRatioCI(r)
				p = fmtP(float64(r.P))
			}
			n := strconv.Itoa(r.N)
			if len(r.Warnings) > 0 {
				n += " ⚠"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				mdEscape(r.Group), mdEscape(r.Label()), fmtVal(float64(r.Center), t.Unit),
				fmtCI(float64(r.Lo), float64(r.Hi), t.Unit), vs, rci, p, n)
		}
		fmt.Fprintln(bw)
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(bw, "## Warnings\n\n")
		for _, w := range rep.Warnings {
			fmt.Fprintf(bw, "- ⚠ %s\n", mdEscape(w))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// failedRunWarnings are the warnings at the top of a report made with
// -allow-failed, one per file that shows a failed run.
func (rep *Report) failedRunWarnings() []string {
	var out []string
	for _, fr := range rep.FailedRuns {
		s := fmt.Sprintf("%s:%d shows a failed run (%s): its results cannot be trusted. It was read with -allow-failed", fr.File, fr.Line, quoteLine(fr.Text))
		for _, nr := range rep.NotRun {
			if nr.File == fr.File && nr.Status == notRunFailed {
				s += "; the rows that failed are listed under “Rows that did not run”"
				break
			}
		}
		out = append(out, s+".")
	}
	return out
}

// A notRunGroup is the rows of one file that did not run for one
// reason.
type notRunGroup struct {
	File, Status, Reason string
	Names                []string
}

// notRunGroups groups rep.NotRun by file, status and reason, in order
// of first appearance: a backend without its fixture skips every row
// for the same reason.
func notRunGroups(rep *Report) []*notRunGroup {
	var out []*notRunGroup
	index := map[[3]string]*notRunGroup{}
	for _, nr := range rep.NotRun {
		k := [3]string{nr.File, nr.Status, nr.Reason}
		g := index[k]
		if g == nil {
			g = &notRunGroup{File: nr.File, Status: nr.Status, Reason: nr.Reason}
			index[k] = g
			out = append(out, g)
		}
		g.Names = append(g.Names, nr.Name)
	}
	return out
}

// heading describes a group: "skipped, 2 rows".
func (g *notRunGroup) heading(multiFile bool) string {
	head := g.Status
	if multiFile {
		head = g.File + ": " + head
	}
	if len(g.Names) > 1 {
		head += fmt.Sprintf(", %d rows", len(g.Names))
	}
	return head
}

// deadBackendLines names, per file, the backends none of whose rows
// ran.
func deadBackendLines(rep *Report) []string {
	var out []string
	for _, ef := range rep.Environment {
		bs := rep.deadBackends[ef.File]
		if len(bs) == 0 {
			continue
		}
		s, verb := "No row of backend "+orList(bs)+" ran", "it is"
		if len(bs) > 1 {
			s, verb = "No row of the backends "+orList(bs)+" ran", "they are"
		}
		if len(rep.Environment) > 1 {
			s += " in " + ef.File
		}
		out = append(out, s+": "+verb+" missing from every table and chart.")
	}
	return out
}

func writeNotRunMarkdown(w io.Writer, rep *Report) {
	if len(rep.NotRun) == 0 {
		return
	}
	fmt.Fprintf(w, "## Rows that did not run\n\n")
	fmt.Fprintf(w, "These benchmarks printed a skip or a failure instead of results; they are not in the tables.\n\n")
	for _, s := range deadBackendLines(rep) {
		fmt.Fprintf(w, "%s\n\n", mdEscape(s))
	}
	multi := len(rep.Environment) > 1
	for _, g := range notRunGroups(rep) {
		head := g.heading(multi)
		// The reason's lines end in a hard line break ("\\").
		lines := strings.Split(nonEmpty(g.Reason, "(no reason given)"), "\n")
		for i := range lines {
			lines[i] = mdText(lines[i])
		}
		fmt.Fprintf(w, "- **%s**: %s\n", mdEscape(head), strings.Join(lines, "\\\n  "))
		for _, name := range g.Names {
			fmt.Fprintf(w, "  - %s\n", mdCode(name))
		}
	}
	fmt.Fprintln(w)
}

// mdCode formats s as inline code, or escaped text if it holds a
// backtick.
func mdCode(s string) string {
	if strings.Contains(s, "`") {
		return mdEscape(s)
	}
	return "`" + s + "`"
}

// envRows returns the environment as rows of key and one value per
// file: every configuration key in order of first appearance, except
// those hidden by hiddenEnvKey, which are returned apart.
func envRows(rep *Report) (keys []string, vals map[string][]string, hidden []string) {
	vals = map[string][]string{}
	seen := map[string]bool{}
	for i, ef := range rep.Environment {
		for _, e := range ef.Config {
			if !seen[e.Key] {
				seen[e.Key] = true
				if hiddenEnvKey(e.Key) {
					hidden = append(hidden, e.Key)
				} else {
					keys = append(keys, e.Key)
				}
				vals[e.Key] = make([]string, len(rep.Environment))
			}
			v := e.Value
			if e.Varies {
				v += " (varies)"
			}
			vals[e.Key][i] = v
		}
	}
	return keys, vals, hidden
}

// hiddenEnvKey reports whether a configuration key is left out of the
// Markdown and HTML environment blocks: the fixture-* keys are
// content hashes, for machines (they stay in the JSON report).
func hiddenEnvKey(key string) bool { return strings.HasPrefix(key, "fixture-") }

// hiddenEnvNote says which keys the environment block left out.
func hiddenEnvNote(hidden []string) string {
	if len(hidden) == 0 {
		return ""
	}
	return fmt.Sprintf("%d fixture hashes (%s) are in the JSON report (-format json).", len(hidden), strings.Join(hidden, ", "))
}

func writeEnvMarkdown(w io.Writer, rep *Report) {
	keys, vals, hidden := envRows(rep)
	if len(keys) == 0 && len(hidden) == 0 {
		return
	}
	fmt.Fprintf(w, "## Environment\n\n")
	if len(keys) > 0 {
		fmt.Fprintf(w, "| key |")
		for _, ef := range rep.Environment {
			fmt.Fprintf(w, " %s |", mdEscape(ef.File))
		}
		fmt.Fprintf(w, "\n|---|")
		for range rep.Environment {
			fmt.Fprintf(w, "---|")
		}
		fmt.Fprintln(w)
		for _, k := range keys {
			fmt.Fprintf(w, "| %s |", mdEscape(k))
			for _, v := range vals[k] {
				fmt.Fprintf(w, " %s |", mdEscape(v))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if note := hiddenEnvNote(hidden); note != "" {
		fmt.Fprintf(w, "%s\n\n", mdEscape(note))
	}
}

// writeCSVComments writes warnings that concern a whole CSV file as
// "# " lines before its header. A reader must skip them (encoding/csv:
// Reader.Comment = '#'); they are only written when something is
// wrong, and then a reader that chokes on them is better than one that
// never notices.
func writeCSVComments(w io.Writer, warnings []string) error {
	for _, s := range warnings {
		if _, err := fmt.Fprintf(w, "# warning: %s\n", strings.ReplaceAll(s, "\n", " ")); err != nil {
			return err
		}
	}
	return nil
}

// writeCSV writes one line per row with raw (unscaled) numbers.
// Unbounded interval ends are written as "Inf"/"-Inf"; comparison
// columns are empty for rows that were not compared.
func writeCSV(w io.Writer, rep *Report) error {
	if err := writeCSVComments(w, rep.failedRunWarnings()); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"file", "benchmark", "group", "backend", "fixture", "name", "unit", "better", "n",
		"center", "lo", "hi", "confidence", "baseline", "ratio", "ratio_lo", "ratio_hi", "ratio_confidence",
		"p", "significant", "warnings"})
	g := func(x num) string { return strconv.FormatFloat(float64(x), 'g', -1, 64) }
	for _, t := range rep.Tables {
		for _, r := range t.Rows {
			rec := []string{t.File, t.Benchmark, r.Group, r.Backend, r.Fixture, r.Name, t.Unit, t.Better,
				strconv.Itoa(r.N), g(r.Center), g(r.Lo), g(r.Hi), g(num(r.Confidence)),
				strconv.FormatBool(r.Baseline), "", "", "", "", "", "", strings.Join(r.Warnings, "; ")}
			if r.HasBase {
				rec[14], rec[15], rec[16], rec[17] = g(r.Ratio), g(r.RatioLo), g(r.RatioHi), g(num(r.RatioConfidence))
				rec[18], rec[19] = g(r.P), strconv.FormatBool(r.Significant)
			}
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}
