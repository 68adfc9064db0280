// Package engine is benchreport's general engine: it reads Go
// benchmark results files (golang.org/x/perf/benchfmt) with their
// checks (units, failed runs, rows that did not run), summarizes and
// compares samples with golang.org/x/perf/benchmath, groups them with
// benchproc projections into report tables, gates a new run against a
// base run, and writes reports (Markdown, HTML, CSV, JSON) and charts.
//
// It knows nothing of any particular benchmark suite. A report
// compares the rows of a group that differ in the -by projection
// (e.g. .file: each file against the first, like benchstat's
// columns) and names them after it. A layer on top of the engine, for
// one suite's results, adds what only it knows through the Report's
// extension points: findings, notes on rows that did not run, extra
// JSON fields, sections and charts.
//
// The layering is one way: main imports the layers and the engine,
// the layers import the engine, and the engine imports neither (see
// TestEngineKnowsNoLayer).
package engine
