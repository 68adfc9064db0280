package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
	"github.com/plugbench/plugbench/cmd/benchreport/internal/plugbench"
)

// The markers around the generated table in a README: "choose -readme"
// rewrites what lies between them.
const (
	chooseBegin = "<!-- choosing: generated from the results by `make readme` (benchreport choose -readme); do not edit -->"
	chooseEnd   = "<!-- end of choosing -->"
)

// cmdChoose writes plugbench's "Choosing a mechanism" table of the
// results (and -faults) as Markdown: to stdout, or into the part of
// -readme FILE between chooseBegin and chooseEnd.
func cmdChoose(stdout, stderr io.Writer, args []string) error {
	f := defaultReportFlags()
	fs := flag.NewFlagSet("choose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: benchreport choose [-faults FILE] [-readme FILE] [-level ###] file

Choose writes plugbench's "At a glance" lines and "Choosing a mechanism"
table of a results file (what heads the report) as Markdown: a line per
common need, then one row per backend and fixture, every cell from the
data. With -readme it rewrites the part of
FILE between the lines
	`+chooseBegin+`
	`+chooseEnd+`
instead (make readme does this to README.md from the committed results).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.faults, "faults", "", "add the fault table's outcomes from `file` (results/faults.json)")
	readme := fs.String("readme", "", "rewrite the generated part of `file` instead of writing to stdout")
	level := fs.String("level", "###", "Markdown `heading` of the table's section")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return engine.UsageError{Err: fmt.Errorf("choose: want one results file, have %d", fs.NArg())}
	}
	rep, err := buildReport(fs.Args(), f, map[string]bool{})
	if err != nil {
		return err
	}
	table, err := chooseMarkdown(rep, *level)
	if err != nil {
		return err
	}
	if *readme == "" {
		_, err := io.WriteString(stdout, table)
		return err
	}
	old, err := os.ReadFile(*readme)
	if err != nil {
		return fmt.Errorf("choose: %w", err)
	}
	out, err := spliceGenerated(old, table)
	if err != nil {
		return fmt.Errorf("choose: %s: %w", *readme, err)
	}
	if bytes.Equal(out, old) {
		return nil
	}
	if err := os.WriteFile(*readme, out, 0o666); err != nil {
		return fmt.Errorf("choose: %w", err)
	}
	return nil
}

// chooseMarkdown is the table's section of rep, with the heading level.
func chooseMarkdown(rep *engine.Report, level string) (string, error) {
	for _, e := range rep.Ext {
		if ct, ok := e.Value.(*plugbench.ChoiceTable); ok && e.Key == "choosing" {
			var b bytes.Buffer
			plugbench.WriteGlanceMarkdown(&b, ct, rep.Baseline, level)
			plugbench.WriteChoiceMarkdown(&b, ct, rep.Baseline, level)
			return b.String(), nil
		}
	}
	return "", errors.New("choose: no row of the results has a backend= key: nothing to choose from")
}

// generated returns the part of doc between the markers.
func generated(doc []byte) (before, inside, after []byte, err error) {
	i := bytes.Index(doc, []byte(chooseBegin+"\n"))
	j := bytes.Index(doc, []byte(chooseEnd))
	if i < 0 || j < i {
		return nil, nil, nil, fmt.Errorf("no %q line followed by a %q line", chooseBegin, chooseEnd)
	}
	i += len(chooseBegin) + 1
	return doc[:i], doc[i:j], doc[j:], nil
}

// spliceGenerated replaces the part of doc between the markers with
// table.
func spliceGenerated(doc []byte, table string) ([]byte, error) {
	before, _, after, err := generated(doc)
	if err != nil {
		return nil, err
	}
	out := append(append([]byte{}, before...), "\n"+table...)
	return append(out, after...), nil
}
