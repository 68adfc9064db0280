package plugbench

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The HTML of plugbench's sections, as they go in the engine's page
// after the findings.
var sectionTmpl = template.Must(template.New("events").Funcs(template.FuncMap{
	"eventCells": func(e EventRow) []string { return eventCells(e, func(s string) string { return s }) },
	"md":         engine.MDInline,
}).Parse(`{{if .Events}}<h2>Event round trips</h2>
<p>Per backend and transport: the round trip (median), its ratio to {{.Baseline}}, the bytes that crossed, allocations,
the three phases timed apart, and the share of encode and decode: the host's encoding and decoding (for view: building the view and reading it back; for value: checking the limits and copying the result).</p>
<table><tr><th>shape</th><th>backend</th><th>transport</th><th>round trip</th><th>vs {{.Baseline}}</th><th>moved</th><th>allocs/op</th><th>encode</th><th>call</th><th>decode</th><th>encode+decode</th></tr>
{{range .Events}}<tr><td>{{.Shape}}</td>{{range eventCells .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{define "faults"}}{{with .Faults}}<h2>{{.Heading}}</h2>
<p>{{.Intro}}</p>
<table><tr><th>backend</th>{{range .Faults}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td class="fault">{{if .}}{{range $i, $p := .}}{{if $i}}<br>{{end}}{{$p}}{{end}}{{else}}—{{end}}</td>{{end}}</tr>
{{end}}</table>
<p>Details:</p>
<ul>{{range .Details}}<li><strong>{{.Title}}</strong>: {{.Outcome}}{{if .Detail}}: <code class="detail">{{.Detail}}</code>{{end}}{{if .Note}}. Recovery: {{.Note}}{{end}}{{if .Recover}} (<code>{{.Recover}}</code>){{end}}</li>
{{end}}</ul>
{{else}}<p>{{md .FaultsNotMeasured}}</p>
{{end}}{{end}}`))

// htmlFaults is the fault section laid out for the template.
type htmlFaults struct {
	Heading, Intro string
	Faults         []string
	Rows           []htmlFaultRow
	Details        []htmlFaultDetail
}

type htmlFaultRow struct {
	Label string
	Cells [][]string // per fault: the cell's lines; nil if not measured
}

type htmlFaultDetail struct {
	Title, Outcome, Detail, Note, Recover string
}

// eventsHTML is the event section, with the newline that follows it.
func eventsHTML(events []EventRow, baseline string) (template.HTML, error) {
	var buf bytes.Buffer
	d := struct {
		Events   []EventRow
		Baseline string
	}{events, baseline}
	if err := sectionTmpl.ExecuteTemplate(&buf, "events", d); err != nil {
		return "", fmt.Errorf("event section: %w", err)
	}
	return template.HTML(buf.String()), nil
}

// faultsHTML is the fault section, or the line that says the faults
// were not measured.
func faultsHTML(fr *FaultReport) (template.HTML, error) {
	d := struct {
		Faults            *htmlFaults
		FaultsNotMeasured string
	}{FaultsNotMeasured: faultsNotMeasured}
	if fr != nil {
		t := fr.table()
		hf := &htmlFaults{Heading: faultsHeading, Intro: fr.intro(), Faults: t.Faults}
		for _, r := range t.Rows {
			hr := htmlFaultRow{Label: r.Label}
			for _, c := range r.Cells {
				var parts []string
				if c != nil {
					parts = c.cellParts()
				}
				hr.Cells = append(hr.Cells, parts)
			}
			hf.Rows = append(hf.Rows, hr)
		}
		for _, c := range t.Cells {
			det := htmlFaultDetail{Title: c.Fault + ", " + c.label(), Outcome: consequenceLong(c.Consequence) + "; " + c.outcomeText(), Detail: c.Detail, Note: c.RecoveryNote}
			if c.Recover != nil {
				det.Recover = c.Recover.Name
			}
			hf.Details = append(hf.Details, det)
		}
		d.Faults = hf
	}
	var buf bytes.Buffer
	if err := sectionTmpl.ExecuteTemplate(&buf, "faults", d); err != nil {
		return "", fmt.Errorf("fault section: %w", err)
	}
	return template.HTML(buf.String()), nil
}
