package engine

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"golang.org/x/perf/benchunit"
)

// FmtVal formats a value of unit with an SI or binary prefix.
func FmtVal(v float64, unit string) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		if v < 0 {
			return "-∞"
		}
		return "∞"
	}
	return benchunit.Scale(v, benchunit.ClassOf(unit))
}

// human formats a value with a readable unit, for prose.
func Human(v float64, unit string) string {
	s := FmtVal(v, unit)
	if IsCountUnit(unit) && v == math.Trunc(v) && v < 1000 {
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

func FmtRatio(x float64) string {
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

func FmtCI(lo, hi float64, unit string) string {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return "unbounded"
	}
	return FmtVal(lo, unit) + " – " + FmtVal(hi, unit)
}

// FmtVs formats a row's ratio to its baseline; against a zero
// baseline it gives the difference instead.
func FmtVs(r *Row, unit string) string {
	if r.BaseCenter == 0 && r.Center != 0 {
		return "+" + FmtVal(float64(r.Center), unit) + " (base 0)"
	}
	return FmtRatio(float64(r.Ratio))
}

func FmtRatioCI(r *Row) string {
	if r.BaseCenter == 0 {
		return ""
	}
	if math.IsInf(float64(r.RatioHi), 1) {
		return "unbounded"
	}
	return FmtRatio(float64(r.RatioLo)) + " – " + FmtRatio(float64(r.RatioHi))
}

func FmtP(p float64) string {
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

func MDEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;").Replace(s)
}

// writeMarkdown writes rep as GitHub-flavored Markdown. chartLink is
// the directory (relative to the report) holding the chart files, or
// "" for no charts.
func writeMarkdown(w io.Writer, rep *Report, chartLink, chartFormat string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", MDEscape(rep.Title))
	for _, w := range rep.FailedRunWarnings() {
		fmt.Fprintf(bw, "> **⚠ %s**\n\n", MDEscape(w))
	}
	for _, sec := range rep.Lead {
		sec.Markdown(bw)
	}
	fmt.Fprintf(bw, "%s\n\n", rep.intro())

	if len(rep.Findings) > 0 || len(rep.FindingSections) > 0 {
		fmt.Fprintf(bw, "## Findings\n\n")
		for _, f := range rep.Findings {
			fmt.Fprintf(bw, "- %s\n", f)
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintln(bw)
		}
		for _, fs := range rep.FindingSections {
			fmt.Fprintf(bw, "### %s\n\n", MDEscape(fs.Heading))
			for _, f := range fs.Findings {
				fmt.Fprintf(bw, "- %s\n", f)
			}
			fmt.Fprintln(bw)
		}
	}

	writeNotRunMarkdown(bw, rep)
	writeEnvMarkdown(bw, rep)

	for _, sec := range rep.Sections {
		sec.Markdown(bw)
	}

	if chartLink != "" && len(rep.Charts) > 0 {
		fmt.Fprintf(bw, "## Charts\n\n")
		for _, c := range rep.Charts {
			fmt.Fprintf(bw, "![%s](%s/%s.%s)\n\n", c.title, chartLink, c.name, chartFormat)
		}
	}

	multiFile := len(DistinctFiles(rep)) > 1
	last := ""
	for _, t := range rep.Tables {
		head := t.Benchmark
		if multiFile {
			head = t.File + ": " + head
		}
		if head != last {
			fmt.Fprintf(bw, "## %s\n\n", MDEscape(head))
			last = head
		}
		fmt.Fprintf(bw, "### %s (%s is better)\n\n", t.Unit, t.Better)
		fmt.Fprintf(bw, "| benchmark | %s | %s | %s | vs %s | ratio %s | p | n |\n", MDEscape(rep.labelHeader()), t.Summary,
			CILabel(t.Levels(false)), MDEscape(rep.Baseline), CILabel(t.Levels(true)))
		fmt.Fprintf(bw, "|---|---|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range t.Rows {
			vs, rci, p := "", "", ""
			switch {
			case r.Baseline:
				vs = "baseline"
			case r.HasBase:
				vs = FmtVs(r, t.Unit)
				if !r.Significant {
					vs = "~ " + vs
				} else {
					vs = "**" + vs + "**"
				}
				rci = FmtRatioCI(r)
				p = FmtP(float64(r.P))
			}
			n := strconv.Itoa(r.N)
			if len(r.Warnings) > 0 {
				n += " ⚠"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				MDEscape(r.Group), MDEscape(r.Label()), FmtVal(float64(r.Center), t.Unit),
				FmtCI(float64(r.Lo), float64(r.Hi), t.Unit), vs, rci, p, n)
		}
		fmt.Fprintln(bw)
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(bw, "## Warnings\n\n")
		for _, w := range rep.Warnings {
			fmt.Fprintf(bw, "- ⚠ %s\n", MDEscape(w))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// FailedRunWarnings are the warnings at the top of a report made with
// -allow-failed, one per file that shows a failed run.
func (rep *Report) FailedRunWarnings() []string {
	var out []string
	for _, fr := range rep.FailedRuns {
		s := fmt.Sprintf("%s:%d shows a failed run (%s): its results cannot be trusted. It was read with -allow-failed", fr.File, fr.Line, QuoteLine(fr.Text))
		for _, nr := range rep.NotRun {
			if nr.File == fr.File && nr.Status == NotRunFailed {
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
	ByDesign             bool
	Names                []string
}

// notRunGroups groups rep.NotRun by file, status and reason, in order
// of first appearance: a missing dependency often skips many rows
// for the same reason. byDesign picks the skips by design, or the rest.
func notRunGroups(rep *Report, byDesign bool) []*notRunGroup {
	var out []*notRunGroup
	index := map[[3]string]*notRunGroup{}
	for _, nr := range rep.NotRun {
		if nr.ByDesign != byDesign {
			continue
		}
		k := [3]string{nr.File, nr.Status, nr.Reason}
		g := index[k]
		if g == nil {
			g = &notRunGroup{File: nr.File, Status: nr.Status, Reason: nr.Reason, ByDesign: nr.ByDesign}
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
	if g.ByDesign {
		head = "by design"
	}
	if multiFile {
		head = g.File + ": " + head
	}
	if len(g.Names) > 1 {
		head += fmt.Sprintf(", %d rows", len(g.Names))
	}
	return head
}

// The two lists of rows that did not run: the ones to look into (a
// failure, or a skip for want of something), then the ones that cannot
// run by design, which say why.
const (
	notRunHeading   = "Rows that did not run"
	notRunIntro     = "These benchmarks printed a failure, or a skip for want of something, instead of results; they are not in the tables."
	byDesignHeading = "Rows skipped by design"
	byDesignIntro   = "These benchmarks cannot be measured as the others are, and said why (their skip began “by design”); they are not in the tables."
)

func writeNotRunMarkdown(w io.Writer, rep *Report) {
	multi := len(rep.Environment) > 1
	list := func(groups []*notRunGroup) {
		for _, g := range groups {
			head := g.heading(multi)
			// The reason's lines end in a hard line break ("\\").
			lines := strings.Split(NonEmpty(g.Reason, "(no reason given)"), "\n")
			for i := range lines {
				lines[i] = MDText(lines[i])
			}
			fmt.Fprintf(w, "- **%s**: %s\n", MDEscape(head), strings.Join(lines, "\\\n  "))
			for _, name := range g.Names {
				fmt.Fprintf(w, "  - %s\n", MDCode(name))
			}
		}
		fmt.Fprintln(w)
	}
	if groups := notRunGroups(rep, false); len(groups) > 0 || len(rep.NotRunNotes) > 0 {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", notRunHeading, notRunIntro)
		for _, s := range rep.NotRunNotes {
			fmt.Fprintf(w, "%s\n\n", MDEscape(s))
		}
		list(groups)
	}
	if groups := notRunGroups(rep, true); len(groups) > 0 {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", byDesignHeading, byDesignIntro)
		list(groups)
	}
}

// MDCode formats s as inline code, or escaped text if it holds a
// backtick.
func MDCode(s string) string {
	if strings.Contains(s, "`") {
		return MDEscape(s)
	}
	return "`" + s + "`"
}

// envRows returns the environment as rows of key and one value per
// file: every configuration key in order of first appearance, except
// those the report's HideEnv hides, which are returned apart.
func envRows(rep *Report) (keys []string, vals map[string][]string, hidden []string) {
	vals = map[string][]string{}
	seen := map[string]bool{}
	for i, ef := range rep.Environment {
		for _, e := range ef.Config {
			if !seen[e.Key] {
				seen[e.Key] = true
				if rep.HideEnv != nil && rep.HideEnv(e.Key) {
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

// hiddenEnvNote says which keys the environment block left out: the
// report's HiddenEnvNote, or a plain list of them.
func hiddenEnvNote(rep *Report, hidden []string) string {
	if len(hidden) == 0 {
		return ""
	}
	if rep.HiddenEnvNote != nil {
		return rep.HiddenEnvNote(hidden)
	}
	what, are := "configuration keys", "are"
	if len(hidden) == 1 {
		what, are = "configuration key", "is"
	}
	return fmt.Sprintf("%d %s (%s) %s in the JSON report (-format json).", len(hidden), what, strings.Join(hidden, ", "), are)
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
			fmt.Fprintf(w, " %s |", MDEscape(ef.File))
		}
		fmt.Fprintf(w, "\n|---|")
		for range rep.Environment {
			fmt.Fprintf(w, "---|")
		}
		fmt.Fprintln(w)
		for _, k := range keys {
			fmt.Fprintf(w, "| %s |", MDEscape(k))
			for _, v := range vals[k] {
				fmt.Fprintf(w, " %s |", MDEscape(v))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if note := hiddenEnvNote(rep, hidden); note != "" {
		fmt.Fprintf(w, "%s\n\n", MDEscape(note))
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

// csvColumn is the CSV header of the column of a projection's values.
func csvColumn(name, role string) string {
	switch name {
	case "":
		return role
	case "file", "benchmark", "group", "name", "unit", "better", "n", "center", "lo", "hi", "confidence", "baseline",
		"ratio", "ratio_lo", "ratio_hi", "ratio_confidence", "p", "significant", "warnings":
		return role + "_" + name
	}
	return name
}

// labelHeader is the table header of the rows' labels.
func (rep *Report) labelHeader() string {
	switch {
	case rep.ByName == "" && rep.IgnoreName == "":
		return "row"
	case rep.ByName == "":
		return rep.IgnoreName
	}
	return rep.ByName
}

// intro is the paragraph under a report's title: what its numbers
// are.
func (rep *Report) intro() string {
	ci := rep.intervalsNote()
	switch {
	case rep.ByFile && len(DistinctFiles(rep)) < 2:
		return "Medians with " + ci + "."
	case rep.ByFile:
		return fmt.Sprintf("Medians with %s. Each file is compared with the first, `%s`: "+
			"a ratio is a benchmark's median in the file over its median in `%s` (below 1× is less), "+
			"and p is the Mann–Whitney U test between the two samples (significant if p < %g; `~` means no significant difference).",
			ci, rep.Baseline, rep.Baseline, rep.Alpha)
	}
	return fmt.Sprintf("Medians with %s; ratios are relative to the `%s` %s of the same group; "+
		"p is the Mann–Whitney U test against it (significant if p < %g; `~` means no significant difference).",
		ci, rep.Baseline, rep.labelHeader(), rep.Alpha)
}

// intervalsNote says what the intervals are: "confidence intervals of at
// least 95%, which reach 96.9% with 6 samples and 97.9% with 10 (each
// table names its own)". An interval of a median from n samples is made
// of two of them, so its confidence moves in steps with n: the report
// names the one it reached, not the one asked for.
func (rep *Report) intervalsNote() string {
	sizes, levels := rep.levelsBySize()
	if len(sizes) == 0 {
		return fmt.Sprintf("confidence intervals of at least %s", FmtLevel(rep.Confidence))
	}
	var parts []string
	for _, n := range sizes {
		parts = append(parts, fmt.Sprintf("%s with %d samples", FmtLevel(levels[n]), n))
		if len(parts) == 4 && len(sizes) > 5 {
			parts = append(parts, "…")
			break
		}
	}
	return fmt.Sprintf("confidence intervals of at least %s, which reach %s (each table's CI column names its own)",
		FmtLevel(rep.Confidence), andList(parts))
}

// writeCSV writes one line per row with raw (unscaled) numbers.
// Unbounded interval ends are written as "Inf"/"-Inf"; comparison
// columns are empty for rows that were not compared.
func writeCSV(w io.Writer, rep *Report) error {
	if err := writeCSVComments(w, rep.FailedRunWarnings()); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	// The -by and -ignore columns are named after their projections;
	// a name that is already a column's ("file" for -by .file) gets
	// the prefix "by_" or "ignore_".
	byCol, ignCol := csvColumn(rep.ByName, "by"), csvColumn(rep.IgnoreName, "ignore")
	cw.Write([]string{"file", "benchmark", "group", byCol, ignCol, "name", "unit", "better", "n",
		"center", "lo", "hi", "confidence", "baseline", "ratio", "ratio_lo", "ratio_hi", "ratio_confidence",
		"p", "significant", "warnings"})
	g := func(x Num) string { return strconv.FormatFloat(float64(x), 'g', -1, 64) }
	for _, t := range rep.Tables {
		for _, r := range t.Rows {
			rec := []string{t.File, t.Benchmark, r.Group, r.By, r.Ignored, r.Name, t.Unit, t.Better,
				strconv.Itoa(r.N), g(r.Center), g(r.Lo), g(r.Hi), g(Num(r.Confidence)),
				strconv.FormatBool(r.Baseline), "", "", "", "", "", "", strings.Join(r.Warnings, "; ")}
			if r.HasBase {
				rec[14], rec[15], rec[16], rec[17] = g(r.Ratio), g(r.RatioLo), g(r.RatioHi), g(Num(r.RatioConfidence))
				rec[18], rec[19] = g(r.P), strconv.FormatBool(r.Significant)
			}
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}

// NonEmpty returns s, or def if s is empty.
func NonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// MDText escapes free text (a reason, a detail) for Markdown, on one
// line.
func MDText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer(`\`, `\\`, "&", "&amp;", "|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;",
		"`", "\\`", "[", `\[`, "]", `\]`).Replace(s)
}

// andList joins words as "a, b and c".
func andList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
