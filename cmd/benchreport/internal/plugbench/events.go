package plugbench

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// The event suite's findings and charts: plugbench's BenchmarkEvent (a
// round trip per transport and shape, with its encode, call and decode
// phases as metrics), BenchmarkPipeline (events/s) and BenchmarkCallback
// (ns/callback). They answer the design study's question: what does a
// structured value cost across each boundary, and can serialization be
// avoided?

// noEncoding names the transports that hand the plugin the event without
// encoding it: the Go value itself, or C structs read in place.
var noEncoding = map[string]bool{"value": true, "view": true}

// evLabel is a row's backend, fixture and transport: "dlopen (c) view".
func evLabel(r *engine.Row) string {
	s := r.By
	if f := r.Key("fixture"); f != "" {
		s += " (" + f + ")"
	}
	if tr := r.Key("transport"); tr != "" {
		s += " " + tr
	}
	return s
}

// backendOf is a row's backend and fixture: "wasm (c)".
func backendOf(r *engine.Row) string {
	s := r.By
	if f := r.Key("fixture"); f != "" {
		s += " (" + f + ")"
	}
	return s
}

// phases are a BenchmarkEvent row's phase metrics, in seconds, if
// present. (benchfmt tidies the suite's encode-ns/op into encode-sec/op.)
type phases struct{ encode, call, decode float64 }

func (p phases) ok() bool { return p.encode+p.call+p.decode > 0 }

// codecShare is the part of the three phases spent on the host side:
// encoding the event and decoding the plugin's output.
func (p phases) codecShare() float64 { return (p.encode + p.decode) / (p.encode + p.call + p.decode) }

func phasesOf(rep *engine.Report, file string, r *engine.Row) phases {
	get := func(unit string) float64 {
		if x := matchRow(engine.FindTable(rep, file, "Event", unit), r); x != nil {
			return float64(x.Center)
		}
		return 0
	}
	return phases{get("encode-sec/op"), get("call-sec/op"), get("decode-sec/op")}
}

func baselineOf(rows []*engine.Row) *engine.Row {
	for _, r := range rows {
		if r.Baseline {
			return r
		}
	}
	return nil
}

// byBackend splits rows by backend and fixture, in order of appearance.
func byBackend(rows []*engine.Row) [][]*engine.Row {
	var out [][]*engine.Row
	idx := map[string]int{}
	for _, r := range rows {
		k := backendOf(r)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// fastestFirst sorts rows by center, lowest first.
func fastestFirst(rows []*engine.Row) []*engine.Row {
	out := append([]*engine.Row(nil), rows...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Center < out[j-1].Center; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// pct formats a fraction as a percentage, with two significant digits
// below 10%.
func pct(x float64) string {
	if x*100 >= 10 {
		return fmt.Sprintf("%.0f%%", 100*x)
	}
	return fmt.Sprintf("%.2g%%", 100*x)
}

// bytesPhrase formats a byte count for prose: "816 B", "1.4 KiB".
func bytesPhrase(v float64) string {
	if v < 1024 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.1f KiB", v/1024)
}

// EventRow is one line of the event summary: a BenchmarkEvent row with its
// phases, what it moved and what it allocated. Times are in seconds.
type EventRow struct {
	Shape      string  `json:"shape"`
	Backend    string  `json:"backend"`
	Fixture    string  `json:"fixture"`
	Transport  string  `json:"transport"`
	RoundTrip  float64 `json:"round_trip"`
	Ratio      float64 `json:"ratio,omitempty"` // to the baseline; 0 for the baseline itself
	Moved      float64 `json:"moved_bytes"`
	Allocs     float64 `json:"allocs"`
	Encode     float64 `json:"encode"`
	Call       float64 `json:"call"`
	Decode     float64 `json:"decode"`
	CodecShare float64 `json:"codec_share"` // (encode+decode) / (encode+call+decode)
}

// eventSummary gathers every BenchmarkEvent row of the first file into
// EventRows, shape by shape.
func eventSummary(rep *engine.Report) []EventRow {
	files := engine.DistinctFiles(rep)
	if len(files) != 1 {
		return nil // one table per file would need a file column; see the tables
	}
	file := files[0]
	t := engine.FindTable(rep, file, "Event", "sec/op")
	if t == nil {
		return nil
	}
	moved := engine.FindTable(rep, file, "Event", "moved-B/op")
	allocs := engine.FindTable(rep, file, "Event", "allocs/op")
	var out []EventRow
	for _, r := range t.Rows {
		e := EventRow{
			Shape: r.Key("shape"), Backend: r.By, Fixture: r.Key("fixture"),
			Transport: r.Key("transport"), RoundTrip: float64(r.Center),
		}
		if r.HasBase {
			e.Ratio = float64(r.Ratio)
		}
		if m := matchRow(moved, r); m != nil {
			e.Moved = float64(m.Center)
		}
		if a := matchRow(allocs, r); a != nil {
			e.Allocs = float64(a.Center)
		}
		if ph := phasesOf(rep, file, r); ph.ok() {
			e.Encode, e.Call, e.Decode, e.CodecShare = ph.encode, ph.call, ph.decode, ph.codecShare()
		}
		out = append(out, e)
	}
	return out
}

// writeEventMarkdown writes the event summary: one table per shape.
func writeEventMarkdown(w io.Writer, events []EventRow, baseline string) {
	if len(events) == 0 {
		return
	}
	fmt.Fprintf(w, "## Event round trips\n\n")
	fmt.Fprintf(w, "Per backend and transport: the round trip (median), its ratio to %s, the bytes that crossed, "+
		"allocations, the three phases timed apart, and the share of encode and decode: the host's encoding and "+
		"decoding (for view: building the view and reading it back; for value: checking the limits and copying the result).\n", baseline)
	shape := "\x00"
	for _, e := range events {
		if e.Shape != shape {
			shape = e.Shape
			fmt.Fprintf(w, "\n### shape %s\n\n", engine.NonEmpty(shape, "—"))
			fmt.Fprintf(w, "| backend | transport | round trip | vs %s | moved | allocs/op | encode | call | decode | encode+decode |\n", baseline)
			fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(eventCells(e, engine.MDEscape), " | "))
	}
	fmt.Fprintln(w)
}

// eventCells formats an EventRow for a table, escaping names with esc.
func eventCells(e EventRow, esc func(string) string) []string {
	name := e.Backend
	if e.Fixture != "" {
		name += " (" + e.Fixture + ")"
	}
	ratio := "baseline"
	if e.Ratio > 0 {
		ratio = engine.FmtRatio(e.Ratio)
	}
	share := ""
	if e.Encode+e.Call+e.Decode > 0 {
		share = pct(e.CodecShare)
	}
	sec := func(v float64) string { return engine.Human(v, "sec/op") }
	return []string{esc(name), esc(e.Transport), sec(e.RoundTrip), ratio, bytesPhrase(e.Moved),
		strconv.FormatFloat(e.Allocs, 'f', -1, 64), sec(e.Encode), sec(e.Call), sec(e.Decode), share}
}
