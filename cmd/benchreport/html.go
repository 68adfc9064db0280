package main

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

// The HTML report is a single self-contained page: inline CSS, charts
// as inline SVG, no scripts and no external resources.
var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"val":        func(v num, unit string) string { return fmtVal(float64(v), unit) },
	"eventCells": func(e EventRow) []string { return eventCells(e, func(s string) string { return s }) },
	"ci":         func(r *Row, unit string) string { return fmtCI(float64(r.Lo), float64(r.Hi), unit) },
	"ratio":      fmtVs,
	"ratioCI":    fmtRatioCI,
	"p":          func(r *Row) string { return fmtP(float64(r.P)) },
	"pct":        func(x float64) string { return strconv.FormatFloat(100*x, 'g', -1, 64) },
	"md":         mdInline,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
tr.base td { background: #f8f8ff; }
.better { color: #080; font-weight: bold; }
.worse { color: #b00; font-weight: bold; }
.warn { color: #a60; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
code { background: #f3f3f3; padding: 0 0.2em; }
.alert { border: 2px solid #b00; background: #fff4f4; padding: 0.5em 1em; font-weight: bold; }
td.fault { vertical-align: top; }
.detail { white-space: pre-wrap; word-break: break-word; }
.reason { white-space: pre-line; }
</style>
</head>
<body>
<h1>{{.R.Title}}</h1>
{{range .FailedRuns}}<p class="alert">⚠ {{.}}</p>
{{end}}<p>Medians with {{pct .R.Confidence}}% confidence intervals; ratios are relative to the <code>{{.R.Baseline}}</code> backend of the same group;
p is the Mann–Whitney U test against it (significant if p &lt; {{.R.Alpha}}; ~ means no significant difference).</p>
{{if .R.NotRun}}<h2>Rows that did not run</h2>
<p>These benchmarks printed a skip or a failure instead of results; they are not in the tables.</p>
{{range .DeadBackends}}<p class="warn">{{.}}</p>
{{end}}<ul>{{range .NotRun}}<li><strong>{{.Head}}</strong>: <span class="reason">{{.Reason}}</span><ul>{{range .Names}}<li><code>{{.}}</code></li>{{end}}</ul></li>
{{end}}</ul>{{end}}
{{if or .EnvKeys .EnvNote}}<h2>Environment</h2>
{{if .EnvKeys}}<table><tr><th>key</th>{{range .R.Environment}}<th>{{.File}}</th>{{end}}</tr>
{{range .EnvKeys}}<tr><td>{{.}}</td>{{range index $.EnvVals .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}{{if .EnvNote}}
<p>{{.EnvNote}}</p>{{end}}{{end}}
{{if .R.Findings}}<h2>Findings</h2>
<ul>{{range .R.Findings}}<li>{{md .}}</li>{{end}}</ul>{{end}}
{{if .R.Events}}<h2>Event round trips</h2>
<p>Per backend and transport: the round trip (median), its ratio to {{.R.Baseline}}, the bytes that crossed, allocations,
the three phases timed apart, and the share of encode and decode: the host's encoding and decoding (for view: building the view and reading it back; for value: checking the limits and copying the result).</p>
<table><tr><th>shape</th><th>backend</th><th>transport</th><th>round trip</th><th>vs {{.R.Baseline}}</th><th>moved</th><th>allocs/op</th><th>encode</th><th>call</th><th>decode</th><th>encode+decode</th></tr>
{{range .R.Events}}<tr><td>{{.Shape}}</td>{{range eventCells .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{with .Faults}}<h2>{{.Heading}}</h2>
<p>{{.Intro}}</p>
<table><tr><th>backend</th>{{range .Faults}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td class="fault">{{if .}}{{range $i, $p := .}}{{if $i}}<br>{{end}}{{$p}}{{end}}{{else}}—{{end}}</td>{{end}}</tr>
{{end}}</table>
<p>Details:</p>
<ul>{{range .Details}}<li><strong>{{.Title}}</strong>: {{.Outcome}}{{if .Detail}}: <code class="detail">{{.Detail}}</code>{{end}}{{if .Note}}. Recovery: {{.Note}}{{end}}{{if .Recover}} (<code>{{.Recover}}</code>){{end}}</li>
{{end}}</ul>
{{else}}<p>{{md .FaultsNotMeasured}}</p>
{{end}}{{if .Charts}}<h2>Charts</h2>
{{range .Charts}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>
{{end}}{{end}}
{{range .R.Tables}}{{$t := .}}<h2>{{if $.Multi}}{{.File}}: {{end}}{{.Benchmark}} <small>{{.Unit}} ({{.Better}} is better)</small></h2>
<table><tr><th>benchmark</th><th>backend</th><th>{{.Summary}}</th><th>{{pct $.R.Confidence}}% CI</th><th>vs {{$.R.Baseline}}</th><th>ratio CI</th><th>p</th><th>n</th></tr>
{{range .Rows}}<tr{{if .Baseline}} class="base"{{end}}><td>{{.Group}}</td><td>{{.Label}}</td><td class="n">{{val .Center $t.Unit}}</td><td class="n">{{ci . $t.Unit}}</td>
{{- if .Baseline}}<td>baseline</td><td></td><td></td>{{else if .HasBase}}<td class="n {{$.Verdict . $t.Better}}">{{if not .Significant}}~ {{end}}{{ratio . $t.Unit}}</td><td class="n">{{ratioCI .}}</td><td class="n">{{p .}}</td>{{else}}<td></td><td></td><td></td>{{end -}}
<td class="n">{{.N}}{{if .Warnings}} <span class="warn" title="{{range .Warnings}}{{.}}; {{end}}">⚠</span>{{end}}</td></tr>
{{end}}</table>
{{end}}
{{if .R.Warnings}}<h2>Warnings</h2>
<ul>{{range .R.Warnings}}<li class="warn">{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))

type htmlChart struct {
	Title string
	SVG   template.HTML
}

type htmlData struct {
	R            *Report
	FailedRuns   []string // warnings
	Multi        bool
	EnvKeys      []string
	EnvVals      map[string][]string
	EnvNote      string
	NotRun       []htmlNotRun
	DeadBackends []string
	Faults       *htmlFaults

	FaultsNotMeasured string
	Charts            []htmlChart
}

// htmlNotRun is a group of rows that did not run for one reason.
type htmlNotRun struct {
	Head, Reason string
	Names        []string
}

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

func (htmlData) Verdict(r *Row, better string) string { return verdictWord(r, better) }

func writeHTML(w io.Writer, rep *Report) error {
	d := htmlData{R: rep, FailedRuns: rep.failedRunWarnings(), Multi: len(distinctFiles(rep)) > 1}
	var hidden []string
	d.EnvKeys, d.EnvVals, hidden = envRows(rep)
	d.EnvNote = hiddenEnvNote(hidden)
	for _, g := range notRunGroups(rep) {
		d.NotRun = append(d.NotRun, htmlNotRun{g.heading(len(rep.Environment) > 1), nonEmpty(g.Reason, "(no reason given)"), g.Names})
	}
	d.DeadBackends = deadBackendLines(rep)
	d.FaultsNotMeasured = faultsNotMeasured
	if fr := rep.Faults; fr != nil {
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
			det := htmlFaultDetail{Title: c.Fault + ", " + c.label(), Outcome: c.outcomeText(), Detail: c.Detail, Note: c.RecoveryNote}
			if c.Recover != nil {
				det.Recover = c.Recover.Name
			}
			hf.Details = append(hf.Details, det)
		}
		d.Faults = hf
	}
	for _, c := range rep.charts {
		svg := c.svg
		// Drop the XML prolog; the <svg> element can be inlined.
		if i := bytes.Index(svg, []byte("<svg")); i > 0 {
			svg = svg[i:]
		}
		// The SVG comes from gonum/plot, not from input data: the
		// only input-derived strings in it are chart labels, which
		// vgsvg escapes.
		d.Charts = append(d.Charts, htmlChart{c.title, template.HTML(svg)})
	}
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("writing html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// mdInline renders the `code` spans of a finding as HTML.
func mdInline(s string) template.HTML {
	var b bytes.Buffer
	inCode := false
	for _, part := range bytes.Split([]byte(s), []byte("`")) {
		template.HTMLEscape(&b, part)
		inCode = !inCode
		if inCode {
			b.WriteString("<code>")
		} else {
			b.WriteString("</code>")
		}
	}
	out := b.String()
	// Remove the tag appended after the last part.
	if inCode {
		out = out[:len(out)-len("<code>")]
	} else {
		out = out[:len(out)-len("</code>")] + "</code>"
	}
	return template.HTML(out)
}
