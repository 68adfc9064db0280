package engine

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

// The HTML report is a single self-contained page: inline CSS, charts
// as inline SVG, no external resources; the engine writes no script
// (a layer's section may carry an inline one).
var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"val":     func(v Num, unit string) string { return FmtVal(float64(v), unit) },
	"ci":      func(r *Row, unit string) string { return FmtCI(float64(r.Lo), float64(r.Hi), unit) },
	"ratio":   FmtVs,
	"ratioCI": FmtRatioCI,
	"p":       func(r *Row) string { return FmtP(float64(r.P)) },
	"pct":     func(x float64) string { return strconv.FormatFloat(100*x, 'g', -1, 64) },
	"md":      MDInline,
	"cilabel": CILabel,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em auto 2em; max-width: 80em; padding: 0 1em; color: #222; }
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
.scroll { overflow-x: auto; }
table.compact { font-size: 0.8em; }
table.compact th, table.compact td { padding: 0.05em 0.4em; }
table.compact td { white-space: nowrap; }
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0; cursor: pointer; text-align: left; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
</style>
</head>
<body>
<h1>{{.R.Title}}</h1>
{{range .FailedRuns}}<p class="alert">⚠ {{.}}</p>
{{end}}{{range .Lead}}{{.}}{{end}}<p>{{md .Intro}}</p>
{{if or .EnvKeys .EnvNote}}<h2>Environment</h2>
{{if .EnvKeys}}<table><tr><th>key</th>{{range .R.Environment}}<th>{{.File}}</th>{{end}}</tr>
{{range .EnvKeys}}<tr><td>{{.}}</td>{{range index $.EnvVals .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}{{if .EnvNote}}
<p>{{.EnvNote}}</p>{{end}}{{end}}
{{if or .R.Findings .R.FindingSections}}<h2>Findings</h2>
{{if .R.Findings}}<ul>{{range .R.Findings}}<li>{{md .}}</li>{{end}}</ul>
{{end}}{{range .R.FindingSections}}<h3>{{.Heading}}</h3>
<ul>{{range .Findings}}<li>{{md .}}</li>{{end}}</ul>
{{end}}{{end}}
{{if or .NotRun .R.NotRunNotes}}<h2>{{.NotRunHeading}}</h2>
<p>{{.NotRunIntro}}</p>
{{range .R.NotRunNotes}}<p class="warn">{{.}}</p>
{{end}}<ul>{{range .NotRun}}<li><strong>{{.Head}}</strong>: <span class="reason">{{.Reason}}</span><ul>{{range .Names}}<li><code>{{.}}</code></li>{{end}}</ul></li>
{{end}}</ul>{{end}}
{{if .ByDesign}}<h2>{{.ByDesignHeading}}</h2>
<p>{{.ByDesignIntro}}</p>
<ul>{{range .ByDesign}}<li><strong>{{.Head}}</strong>: <span class="reason">{{.Reason}}</span><ul>{{range .Names}}<li><code>{{.}}</code></li>{{end}}</ul></li>
{{end}}</ul>{{end}}
{{range .Sections}}{{.}}{{end}}{{if .Charts}}<h2>Charts</h2>
{{range .Charts}}<figure>{{.SVG}}</figure>
{{end}}{{end}}
{{range .R.Tables}}{{$t := .}}<h2>{{if $.Multi}}{{.File}}: {{end}}{{.Benchmark}} <small>{{.Unit}} ({{.Better}} is better)</small></h2>
<table><tr><th>benchmark</th><th>{{$.LabelHeader}}</th><th>{{.Summary}}</th><th>{{cilabel (.Levels false)}}</th><th>vs {{$.R.Baseline}}</th><th>ratio {{cilabel (.Levels true)}}</th><th>p</th><th>n</th></tr>
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

// htmlChart is a chart inlined in the page. Its title is drawn in the
// SVG (as in the Markdown report's chart files): no caption repeats it.
type htmlChart struct {
	SVG template.HTML
}

type htmlData struct {
	R           *Report
	FailedRuns  []string // warnings
	Multi       bool
	LabelHeader string
	Intro       string // Markdown inline
	EnvKeys     []string
	EnvVals     map[string][]string
	EnvNote     string
	NotRun      []htmlNotRun // the rows to look into
	ByDesign    []htmlNotRun // the rows that cannot run, by design
	Lead        []template.HTML
	Sections    []template.HTML
	Charts      []htmlChart
}

// htmlNotRun is a group of rows that did not run for one reason.
type htmlNotRun struct {
	Head, Reason string
	Names        []string
}

func (htmlData) Verdict(r *Row, better string) string { return verdictWord(r, better) }

func (htmlData) NotRunHeading() string   { return notRunHeading }
func (htmlData) NotRunIntro() string     { return notRunIntro }
func (htmlData) ByDesignHeading() string { return byDesignHeading }
func (htmlData) ByDesignIntro() string   { return byDesignIntro }

func writeHTML(w io.Writer, rep *Report) error {
	d := htmlData{R: rep, FailedRuns: rep.FailedRunWarnings(), Multi: len(DistinctFiles(rep)) > 1, LabelHeader: rep.labelHeader(), Intro: rep.intro()}
	var hidden []string
	d.EnvKeys, d.EnvVals, hidden = envRows(rep)
	d.EnvNote = hiddenEnvNote(rep, hidden)
	for _, g := range notRunGroups(rep, false) {
		d.NotRun = append(d.NotRun, htmlNotRun{g.heading(len(rep.Environment) > 1), NonEmpty(g.Reason, "(no reason given)"), g.Names})
	}
	for _, g := range notRunGroups(rep, true) {
		d.ByDesign = append(d.ByDesign, htmlNotRun{g.heading(len(rep.Environment) > 1), NonEmpty(g.Reason, "(no reason given)"), g.Names})
	}
	for _, sec := range rep.Lead {
		h, err := sec.HTML()
		if err != nil {
			return fmt.Errorf("writing html: %w", err)
		}
		d.Lead = append(d.Lead, h)
	}
	for _, sec := range rep.Sections {
		h, err := sec.HTML()
		if err != nil {
			return fmt.Errorf("writing html: %w", err)
		}
		d.Sections = append(d.Sections, h)
	}
	for _, c := range rep.Charts {
		svg := c.svg
		// Drop the XML prolog; the <svg> element can be inlined.
		if i := bytes.Index(svg, []byte("<svg")); i > 0 {
			svg = svg[i:]
		}
		// The SVG comes from gonum/plot, not from input data: the
		// only input-derived strings in it are chart labels, which
		// vgsvg escapes.
		d.Charts = append(d.Charts, htmlChart{template.HTML(svg)})
	}
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("writing html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// MDInline renders the `code` spans of a finding as HTML.
func MDInline(s string) template.HTML {
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
