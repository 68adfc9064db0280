package plugbench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The report's first words: a line per common need (the cheapest call,
// a plugin one does not trust, many instances, no cgo, unloading), each
// naming the mechanism and its figure, drawn from the choosing table's
// cells, so that a reader decides in ten seconds and reads the table
// for the rest.

const glanceHeading = "At a glance"

// A GlanceLine answers one need: the mechanism and its figure.
type GlanceLine struct {
	Need   string `json:"need"`
	Answer string `json:"answer"` // Markdown inline: code spans only
}

// glance returns the lines of ct: one per need the data can answer.
func glance(ct *ChoiceTable, baseline string) []GlanceLine {
	if ct == nil {
		return nil
	}
	col := func(key string) int {
		return slices.IndexFunc(ct.Columns, func(c ChoiceColumn) bool { return c.Key == key })
	}
	call, safety, memory, cgo, unload := col("call"), col("safety"), col("memory"), col("cgo"), col("unload")
	var rows []ChoiceRow // every mechanism but the baseline
	for _, r := range ct.Rows {
		if r.Backend != baseline {
			rows = append(rows, r)
		}
	}
	cell := func(r ChoiceRow, i int) ChoiceCell {
		c := r.Cells[i]
		c.Text = strings.Replace(c.Text, "×)", "× "+baseline+")", 1) // "20.6 ns (10× static)"
		return c
	}
	name := func(r ChoiceRow) string { return r.Cells[0].Text }
	// least returns the row with the least value in column i among rows
	// that keep says yes to.
	least := func(i int, keep func(ChoiceRow) bool) (ChoiceRow, bool) {
		var best ChoiceRow
		found := false
		for _, r := range rows {
			v := cell(r, i).Value
			if v == nil || (keep != nil && !keep(r)) {
				continue
			}
			if !found || *v < *cell(best, i).Value {
				best, found = r, true
			}
		}
		return best, found
	}
	contained := func(r ChoiceRow) bool { return safety >= 0 && cell(r, safety).Text == "contained" }
	var out []GlanceLine
	add := func(need, answer string) { out = append(out, GlanceLine{need, strings.TrimSpace(answer)}) }

	if r, ok := least(call, nil); ok {
		s := fmt.Sprintf("%s, %s a `min` call.", name(r), cell(r, call).Text)
		if rc, ok := least(call, func(r ChoiceRow) bool { return r.Fixture == "c" || r.Fixture == "rust" }); ok && rc.Backend != r.Backend {
			s = strings.TrimSuffix(s, ".") + fmt.Sprintf("; to a C or Rust plugin, %s, %s.", name(rc), cell(rc, call).Text)
		}
		add("The cheapest call", s)
	}

	if safety >= 0 && slices.ContainsFunc(rows, func(r ChoiceRow) bool { return cell(r, safety).Value != nil }) {
		var safe, freezes, dies []string
		for _, r := range rows {
			switch cell(r, safety).Text {
			case "contained":
				safe = append(safe, name(r))
			case "host freezes":
				freezes = append(freezes, name(r))
			case "host dies":
				dies = append(dies, name(r))
			}
		}
		s := ""
		if r, ok := least(call, contained); ok {
			s += fmt.Sprintf("every fault ends in an error or at its deadline, the host fine, with %d mechanisms (worst fault: contained), "+
				"the cheapest call among them %s, %s", len(safe), name(r), cell(r, call).Text)
		} else {
			s += "no mechanism contains every fault in this data"
		}
		if len(freezes) > 0 {
			s += "; a runaway guest freezes the host with " + strings.Join(freezes, ", ")
		}
		if len(dies) > 0 {
			s += "; a crash or a memory bomb kills it with " + strings.Join(dies, ", ")
		}
		s += "."
		add("A plugin you do not trust", s)
	}

	if memory >= 0 {
		if r, ok := least(memory, nil); ok {
			s := fmt.Sprintf("the least memory an instance, %s, %s.", name(r), cell(r, memory).Text)
			if rc, ok := least(memory, contained); ok && rc.Backend != r.Backend {
				s = strings.TrimSuffix(s, ".") + fmt.Sprintf("; with every fault contained, %s, %s.", name(rc), cell(rc, memory).Text)
			}
			add("Many instances", s)
		}
	}

	if cgo >= 0 {
		if r, ok := least(call, func(r ChoiceRow) bool { return cell(r, cgo).Text == "no" }); ok {
			add("No cgo", fmt.Sprintf("in a host built with `CGO_ENABLED=0`, the cheapest call is %s, %s.", name(r), cell(r, call).Text))
		}
	}

	if unload >= 0 {
		var stay []string
		for _, r := range rows {
			if t := cell(r, unload).Text; strings.HasPrefix(t, "no") {
				stay = append(stay, name(r)+": "+strings.Trim(strings.TrimPrefix(t, "no "), "()"))
			}
		}
		if len(stay) > 0 {
			add("Unloading", "every mechanism frees its plugin at `Close` but "+strings.Join(stay, ", ")+".")
		} else {
			add("Unloading", "every mechanism frees its plugin at `Close`.")
		}
	}
	return out
}

// WriteGlanceMarkdown writes ct's lines (glance) as a section whose
// heading has the given level ("##").
func WriteGlanceMarkdown(w io.Writer, ct *ChoiceTable, baseline, level string) {
	writeGlanceMarkdown(w, glance(ct, baseline), level)
}

// writeGlanceMarkdown writes the lines as a section whose heading has
// the given level ("##").
func writeGlanceMarkdown(w io.Writer, lines []GlanceLine, level string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "%s %s\n\n", level, glanceHeading)
	for _, l := range lines {
		fmt.Fprintf(w, "- **%s**: %s\n", engine.MDEscape(l.Need), l.Answer)
	}
	fmt.Fprintln(w)
}

var glanceTmpl = template.Must(template.New("glance").Funcs(template.FuncMap{"md": engine.MDInline}).Parse(
	`<h2 id="at-a-glance">{{.Heading}}</h2>
<style>ul.glance { margin: 0.3em 0; font-size: 0.9em; } ul.glance li { margin: 0; }</style>
<ul class="glance">{{range .Lines}}<li><strong>{{.Need}}</strong>: {{md .Answer}}</li>{{end}}</ul>
`))

func glanceHTML(lines []GlanceLine) (template.HTML, error) {
	if len(lines) == 0 {
		return "", nil
	}
	var b bytes.Buffer
	if err := glanceTmpl.Execute(&b, struct {
		Heading string
		Lines   []GlanceLine
	}{glanceHeading, lines}); err != nil {
		return "", fmt.Errorf("at a glance: %w", err)
	}
	return template.HTML(b.String()), nil
}
