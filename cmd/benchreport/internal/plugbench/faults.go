package plugbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// A FaultReport is the fault table: what a misbehaving plugin (a
// segfault, an abort, an endless loop, a memory bomb, a loop in its
// start function) did to the host, per backend and fixture. The suite
// writes it as JSON ("make faults"); -faults reads it. The JSON report carries it as read, in file order, with the
// matching BenchmarkRecover row added to each cell.
type FaultReport struct {
	File       string            `json:"file"`
	Config     []engine.EnvEntry `json:"config"` // in file order
	DeadlineNs int64             `json:"deadline_ns"`
	// Trials is how many times each cell was run, each time in a new
	// host process; 1 for a table from before trials.
	Trials int          `json:"trials"`
	Faults []string     `json:"faults"`
	Cells  []*FaultCell `json:"cells"`
}

// A FaultCell is one fault injected into one backend and fixture.
type FaultCell struct {
	Fault   string `json:"fault"`
	Backend string `json:"backend"`
	Fixture string `json:"fixture"`
	// Consequence is what the fault cost the host in the worst of the
	// cell's trials (one of faultConsequences), and the fields below are
	// that trial's.
	Consequence string `json:"consequence"`
	// Outcome is what the host saw: an error returned by the call,
	// the call stopped at the deadline, the isolated child process
	// killed by Signal, a call that hung and could not be interrupted,
	// or not applicable to this backend.
	Outcome      string `json:"outcome"`
	Signal       string `json:"signal"`
	Detail       string `json:"detail"`
	DetectNs     int64  `json:"detect_ns"` // from Since until the host knew
	Since        string `json:"since"`     // call, deadline or load
	Recovery     string `json:"recovery"`  // reinstantiate, reload, restart or none
	RecoveryNote string `json:"recovery_note"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"`

	// Trials is every trial of the cell, in the order they ran; one,
	// the cell itself, for a table from before trials.
	Trials []*FaultTrial `json:"trials"`

	// Recover is the BenchmarkRecover row of the same fault, backend
	// and fixture (the recovery's cost), when the results hold one.
	Recover *RecoverTime `json:"recover,omitempty"`
}

// A FaultTrial is one host process meeting a cell's fault.
type FaultTrial struct {
	Outcome      string `json:"outcome"`
	Consequence  string `json:"consequence"`
	Signal       string `json:"signal"`
	Detail       string `json:"detail"`
	DetectNs     int64  `json:"detect_ns"`
	Since        string `json:"since"`
	Recovery     string `json:"recovery"`
	RecoveryNote string `json:"recovery_note"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
}

// faultConsequences are what a fault can cost the host, from the
// mildest to the gravest, with the words the fault table and the
// choosing table give each.
var faultConsequences = []struct {
	name string
	long string // the fault table's
	word string // the choosing table's, and the worst-fault column's
}{
	{"not-applicable", "n/a", "n/a"},
	{"error", "an error, host fine", "error"},
	{"stopped", "stopped at the deadline, host fine", "stopped"},
	{"core-lost", "runs on, a core lost, host fine", "core lost"},
	{"restart", "host fine, the plugin lost: restart", "restart"},
	{"loader-locked", "loader locked, no further loads: restart", "loader locked"},
	{"host-frozen", "host frozen (its next GC never ends): restart", "host freezes"},
	{"host-killed", "host killed", "host dies"},
}

// gravity ranks a consequence: higher is graver, -1 if unknown.
func gravity(consequence string) int {
	for i, c := range faultConsequences {
		if c.name == consequence {
			return i
		}
	}
	return -1
}

func consequenceNames() []string {
	var out []string
	for _, c := range faultConsequences {
		out = append(out, c.name)
	}
	return out
}

// consequenceLong and consequenceWord are a consequence's words.
func consequenceLong(c string) string {
	if g := gravity(c); g >= 0 {
		return faultConsequences[g].long
	}
	return c
}

func consequenceWord(c string) string {
	if g := gravity(c); g >= 0 {
		return faultConsequences[g].word
	}
	return c
}

// deriveConsequence is the consequence of a cell from a table from
// before consequences were recorded, from what it did record: a host
// killed; one that froze (its recovery note says so) or never got
// control back; a loader that stayed locked (nothing loads after a
// start function that never returned); a call or start function that
// runs on; a hang ended at the deadline; an error.
func deriveConsequence(t *FaultTrial) string {
	switch {
	case t.Outcome == "not-applicable":
		return "not-applicable"
	case t.Outcome == "killed":
		return "host-killed"
	case t.Recovery == "restart" && (strings.Contains(t.RecoveryNote, "froze") || t.Outcome == "hung"):
		return "host-frozen"
	case t.Recovery == "restart" && strings.Contains(t.RecoveryNote, "nothing loads"):
		return "loader-locked"
	case t.Recovery == "restart":
		return "restart"
	case t.Outcome == "hung", strings.Contains(t.RecoveryNote, "runs on"):
		return "core-lost"
	case t.Outcome == "deadline":
		return "stopped"
	}
	return "error"
}

// A RecoverTime is a BenchmarkRecover row's sec/op summary.
type RecoverTime struct {
	File       string     `json:"file"`
	Name       string     `json:"name"`
	N          int        `json:"n"`
	Center     engine.Num `json:"center"`
	Lo         engine.Num `json:"lo"`
	Hi         engine.Num `json:"hi"`
	Confidence float64    `json:"confidence"`
}

// The values a fault cell's fields may take.
var (
	faultOutcomes   = []string{"error", "deadline", "killed", "hung", "not-applicable"}
	faultSinces     = []string{"call", "deadline", "load"}
	faultRecoveries = []string{"reinstantiate", "reload", "restart", "none"}
)

// rawFaultCell is a cell as decoded: pointers tell a missing field
// from a zero one.
type rawFaultCell struct {
	Fault   *string `json:"fault"`
	Backend *string `json:"backend"`
	Fixture *string `json:"fixture"`
	rawFaultTrial
	Trials []rawFaultTrial `json:"trials"`
}

// rawFaultTrial is a trial as decoded, and the fields of a cell that
// are its worst trial's.
type rawFaultTrial struct {
	Consequence  *string `json:"consequence"`
	Outcome      *string `json:"outcome"`
	Signal       *string `json:"signal"`
	Detail       *string `json:"detail"`
	DetectNs     *int64  `json:"detect_ns"`
	Since        *string `json:"since"`
	Recovery     *string `json:"recovery"`
	RecoveryNote *string `json:"recovery_note"`
	PeakRSSBytes *int64  `json:"peak_rss_bytes"`
}

// ReadFaults reads and validates a fault table. Every problem is an
// input error: "file:line: message", exit status 2.
func ReadFaults(path string) (*FaultReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, engine.InputErrors{fmt.Errorf("-faults %s: %w", path, err)}
	}
	return parseFaults(path, b)
}

// parseFaults decodes b, the content of path: its JSON syntax first,
// then its fields one by one, which keeps config's order and each
// cell's line for the errors, then what must hold across fields. Every
// error names its line.
func parseFaults(path string, b []byte) (*FaultReport, error) {
	d := &faultsDecoder{path: path, b: b, seen: map[string]bool{}}
	// Syntax errors first, from a decoder whose offsets count from the
	// start of the file (json.Decoder.Decode counts from the start of
	// the value it decodes).
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, engine.InputErrors{fmt.Errorf("%s:%d: %w", path, d.lineAt(se.Offset-1), err)}
		}
		return nil, engine.InputErrors{fmt.Errorf("%s: %w", path, err)}
	}
	d.dec = json.NewDecoder(bytes.NewReader(b))
	d.dec.DisallowUnknownFields()
	d.dec.UseNumber()
	fr := &FaultReport{File: path, Config: []engine.EnvEntry{}, Faults: []string{}, Cells: []*FaultCell{}}
	if err := d.object(fr); err != nil {
		return nil, err
	}
	d.crossCheck(fr)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].line < d.errs[j].line })
		var ie engine.InputErrors
		for _, e := range d.errs[:min(len(d.errs), engine.MaxInputErrors)] {
			ie = append(ie, e.err)
		}
		return nil, ie
	}
	return fr, nil
}

// faultsDecoder walks a fault table's JSON token by token. A decoding
// error ends the walk; a wrong value is noted (errs) and the walk goes
// on, so that one run lists them all.
type faultsDecoder struct {
	path      string
	b         []byte
	dec       *json.Decoder
	errs      []faultsLineErr
	seen      map[string]bool // the top-level fields present
	cellLines []int           // the line of each cell
}

// A faultsLineErr is a wrong value noted during the walk, with its line
// to sort the errors by.
type faultsLineErr struct {
	line int
	err  error
}

// addErr notes a wrong value at line; the walk goes on.
func (d *faultsDecoder) addErr(line int, format string, args ...any) {
	d.errs = append(d.errs, faultsLineErr{line, fmt.Errorf("%s:%d: %s", d.path, line, fmt.Sprintf(format, args...))})
}

// skip returns the offset of the first byte of the value at or after
// off (past white space, a comma or a colon).
func (d *faultsDecoder) skip(off int64) int64 {
	o := min(off, int64(len(d.b)))
	for o < int64(len(d.b)) && strings.IndexByte(" \t\r\n,:", d.b[o]) >= 0 {
		o++
	}
	return o
}

// lineAt is the line of the value at or after offset off.
func (d *faultsDecoder) lineAt(off int64) int {
	return 1 + bytes.Count(d.b[:d.skip(off)], []byte("\n"))
}

// jsonErr turns a decoding error of the value at offset at into an
// input error at its line.
func (d *faultsDecoder) jsonErr(err error, at int64) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		at = d.skip(at) + te.Offset - 1
	}
	return engine.InputErrors{fmt.Errorf("%s:%d: %w", d.path, d.lineAt(at), err)}
}

// expect reads the delimiter want.
func (d *faultsDecoder) expect(want json.Delim) error {
	at := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err != nil {
		return d.jsonErr(err, at)
	}
	if dl, ok := tok.(json.Delim); !ok || dl != want {
		return engine.InputErrors{fmt.Errorf("%s:%d: want %q, have %v", d.path, d.lineAt(at), string(want), tok)}
	}
	return nil
}

// object reads the table's object, field by field, and nothing after it.
func (d *faultsDecoder) object(fr *FaultReport) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	for d.dec.More() {
		at := d.dec.InputOffset()
		tok, err := d.dec.Token()
		if err != nil {
			return d.jsonErr(err, at)
		}
		key, _ := tok.(string)
		if d.seen[key] {
			return engine.InputErrors{fmt.Errorf("%s:%d: %q is set twice", d.path, d.lineAt(at), key)}
		}
		d.seen[key] = true
		if err := d.field(fr, key, d.dec.InputOffset()); err != nil {
			return err
		}
	}
	if err := d.expect('}'); err != nil {
		return err
	}
	end := d.dec.InputOffset()
	if _, err := d.dec.Token(); err != io.EOF {
		return engine.InputErrors{fmt.Errorf("%s:%d: data after the JSON object", d.path, d.lineAt(end))}
	}
	return nil
}

// field reads the value of the top-level field key, at offset at.
func (d *faultsDecoder) field(fr *FaultReport, key string, at int64) error {
	switch key {
	case "config":
		return d.config(fr)
	case "deadline_ns":
		if err := d.dec.Decode(&fr.DeadlineNs); err != nil {
			return d.jsonErr(err, at)
		}
		if fr.DeadlineNs <= 0 {
			d.addErr(d.lineAt(at), "deadline_ns %d: must be positive", fr.DeadlineNs)
		}
	case "trials":
		if err := d.dec.Decode(&fr.Trials); err != nil {
			return d.jsonErr(err, at)
		}
		if fr.Trials < 1 {
			d.addErr(d.lineAt(at), "trials %d: want at least 1", fr.Trials)
		}
	case "faults":
		if err := d.dec.Decode(&fr.Faults); err != nil {
			return d.jsonErr(err, at)
		}
		dup := map[string]bool{}
		for _, f := range fr.Faults {
			if f == "" || dup[f] {
				d.addErr(d.lineAt(at), "faults: %q is empty or listed twice", f)
			}
			dup[f] = true
		}
	case "cells":
		return d.cells(fr)
	default:
		return engine.InputErrors{fmt.Errorf("%s:%d: unknown field %q (want config, deadline_ns, trials, faults and cells)", d.path, d.lineAt(at), key)}
	}
	return nil
}

// config reads the config object, keeping its keys' order.
func (d *faultsDecoder) config(fr *FaultReport) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	for d.dec.More() {
		at := d.dec.InputOffset()
		k, err := d.dec.Token()
		if err != nil {
			return d.jsonErr(err, at)
		}
		var v string
		if err := d.dec.Decode(&v); err != nil {
			return d.jsonErr(err, at)
		}
		fr.Config = append(fr.Config, engine.EnvEntry{Key: k.(string), Value: v})
	}
	return d.expect('}')
}

// cells reads the cells, each checked and with its line kept.
func (d *faultsDecoder) cells(fr *FaultReport) error {
	if err := d.expect('['); err != nil {
		return err
	}
	for d.dec.More() {
		at := d.dec.InputOffset()
		var raw rawFaultCell
		if err := d.dec.Decode(&raw); err != nil {
			return d.jsonErr(err, at)
		}
		line := d.lineAt(at)
		c, msgs := checkFaultCell(&raw)
		for _, m := range msgs {
			d.addErr(line, "cells[%d]: %s", len(d.cellLines), m)
		}
		d.cellLines = append(d.cellLines, line)
		fr.Cells = append(fr.Cells, c)
	}
	return d.expect(']')
}

// crossCheck checks what holds across fields: the required ones are
// there, every cell's fault is listed, no cell is there twice, and each
// has the table's number of trials.
func (d *faultsDecoder) crossCheck(fr *FaultReport) {
	for _, k := range []string{"config", "deadline_ns", "faults", "cells"} {
		if !d.seen[k] {
			d.addErr(1, "missing %q", k)
		}
	}
	if d.seen["faults"] && len(fr.Faults) == 0 {
		d.addErr(1, "faults is empty: want the faults injected, in table order")
	}
	known := map[string]bool{}
	for _, f := range fr.Faults {
		known[f] = true
	}
	type cellKey struct{ fault, backend, fixture string }
	first := map[cellKey]int{}
	for i, c := range fr.Cells {
		if c.Fault != "" && d.seen["faults"] && !known[c.Fault] {
			d.addErr(d.cellLines[i], "cells[%d]: fault %q is not in faults (%s)", i, c.Fault, strings.Join(fr.Faults, ", "))
		}
		k := cellKey{c.Fault, c.Backend, c.Fixture}
		if j, ok := first[k]; ok {
			d.addErr(d.cellLines[i], "cells[%d]: fault %s, backend %s, fixture %s again (first at line %d)", i, c.Fault, c.Backend, c.Fixture, d.cellLines[j])
			continue
		}
		first[k] = i
	}
	if !d.seen["trials"] {
		fr.Trials = 1 // a table from before trials: each cell is one
	}
	for i, c := range fr.Cells {
		if d.seen["trials"] && fr.Trials >= 1 && len(c.Trials) > 0 && len(c.Trials) != fr.Trials && c.Outcome != "not-applicable" {
			d.addErr(d.cellLines[i], "cells[%d]: %d trials, the table says %d a cell", i, len(c.Trials), fr.Trials)
		}
	}
}

// checkFaultCell converts a decoded cell and lists what is wrong with
// it. A cell without trials is a table from before trials: it is its
// own one trial, and its consequence, if missing, is derived.
func checkFaultCell(raw *rawFaultCell) (*FaultCell, []string) {
	var msgs []string
	str := func(name string, p *string) string {
		if p == nil {
			msgs = append(msgs, fmt.Sprintf("missing %q", name))
			return ""
		}
		return *p
	}
	c := &FaultCell{
		Fault:   str("fault", raw.Fault),
		Backend: str("backend", raw.Backend),
		Fixture: str("fixture", raw.Fixture),
	}
	for _, f := range []struct{ name, val string }{{"fault", c.Fault}, {"backend", c.Backend}, {"fixture", c.Fixture}} {
		if f.val == "" && len(msgs) == 0 {
			msgs = append(msgs, fmt.Sprintf("%s is empty", f.name))
		}
	}
	old := raw.Trials == nil
	worst, m := checkFaultTrial(&raw.rawFaultTrial, !old)
	msgs = append(msgs, m...)
	c.Consequence, c.Outcome, c.Signal, c.Detail = worst.Consequence, worst.Outcome, worst.Signal, worst.Detail
	c.DetectNs, c.Since, c.Recovery, c.RecoveryNote, c.PeakRSSBytes = worst.DetectNs, worst.Since, worst.Recovery, worst.RecoveryNote, worst.PeakRSSBytes
	if old {
		c.Trials = []*FaultTrial{worst}
		return c, msgs
	}
	if len(raw.Trials) == 0 {
		return c, append(msgs, "trials is empty: want every trial of the cell")
	}
	gravest := ""
	for i := range raw.Trials {
		t, m := checkFaultTrial(&raw.Trials[i], true)
		for _, x := range m {
			msgs = append(msgs, fmt.Sprintf("trials[%d]: %s", i, x))
		}
		if gravity(t.Consequence) > gravity(gravest) {
			gravest = t.Consequence
		}
		c.Trials = append(c.Trials, t)
	}
	if len(msgs) == 0 && c.Consequence != gravest {
		msgs = append(msgs, fmt.Sprintf("consequence %q is not its gravest trial's, %q", c.Consequence, gravest))
	}
	return c, msgs
}

// checkFaultTrial converts a decoded trial (or a cell's own fields) and
// lists what is wrong with it; consequence says whether it must have a
// consequence (else it is derived).
func checkFaultTrial(raw *rawFaultTrial, consequence bool) (*FaultTrial, []string) {
	var msgs []string
	str := func(name string, p *string, required bool) string {
		if p == nil {
			if required {
				msgs = append(msgs, fmt.Sprintf("missing %q", name))
			}
			return ""
		}
		return *p
	}
	t := &FaultTrial{
		Consequence:  str("consequence", raw.Consequence, consequence),
		Outcome:      str("outcome", raw.Outcome, true),
		Signal:       str("signal", raw.Signal, false),
		Detail:       str("detail", raw.Detail, false),
		Since:        str("since", raw.Since, true),
		Recovery:     str("recovery", raw.Recovery, true),
		RecoveryNote: str("recovery_note", raw.RecoveryNote, false),
	}
	if raw.DetectNs == nil {
		msgs = append(msgs, `missing "detect_ns"`)
	} else {
		t.DetectNs = *raw.DetectNs
	}
	if raw.PeakRSSBytes != nil {
		t.PeakRSSBytes = *raw.PeakRSSBytes
	}
	na := t.Outcome == "not-applicable"
	oneOf := func(name, val string, allowed []string, emptyOK bool) {
		if val == "" && emptyOK {
			return
		}
		for _, a := range allowed {
			if val == a {
				return
			}
		}
		msgs = append(msgs, fmt.Sprintf("%s %q: want %s", name, val, engine.OrList(allowed)))
	}
	if raw.Outcome != nil {
		oneOf("outcome", t.Outcome, faultOutcomes, false)
	}
	if raw.Since != nil {
		oneOf("since", t.Since, faultSinces, na)
	}
	if raw.Recovery != nil {
		oneOf("recovery", t.Recovery, faultRecoveries, na)
	}
	if raw.Consequence != nil {
		oneOf("consequence", t.Consequence, consequenceNames(), false)
	} else if len(msgs) == 0 {
		t.Consequence = deriveConsequence(t)
	}
	if t.DetectNs < 0 {
		msgs = append(msgs, fmt.Sprintf("detect_ns %d: must not be negative", t.DetectNs))
	}
	if t.PeakRSSBytes < 0 {
		msgs = append(msgs, fmt.Sprintf("peak_rss_bytes %d: must not be negative", t.PeakRSSBytes))
	}
	return t, msgs
}

// joinRecover adds to each fault cell the BenchmarkRecover row of its
// fault, backend and fixture (sec/op), from the first table that has
// one.
func joinRecover(rep *engine.Report, fr *FaultReport) {
	for _, c := range fr.Cells {
		for _, t := range rep.Tables {
			if t.Benchmark != "Recover" || t.Unit != "sec/op" || c.Recover != nil {
				continue
			}
			for _, r := range t.Rows {
				if r.Key("fault") == c.Fault && r.Key("backend") == c.Backend && r.Key("fixture") == c.Fixture {
					c.Recover = &RecoverTime{File: t.File, Name: "Benchmark" + r.Name, N: r.N,
						Center: r.Center, Lo: r.Lo, Hi: r.Hi, Confidence: r.Confidence}
					break
				}
			}
		}
	}
}

// faultMachineWarnings compares the fault table's machine with each
// results file's.
func faultMachineWarnings(rep *engine.Report, fr *FaultReport) []string {
	var out []string
	fc := envKV(fr.Config)
	for _, ef := range rep.Environment {
		for _, d := range engine.MachineDiffs(fr.File, fc, ef.File, envKV(ef.Config)) {
			out = append(out, "the fault table and the results come from different machines: "+d)
		}
	}
	return out
}

func envKV(es []engine.EnvEntry) []engine.KV {
	out := make([]engine.KV, len(es))
	for i, e := range es {
		out[i] = engine.KV{Key: e.Key, Val: e.Value}
	}
	return out
}

// A scaleUnit is a unit of a prefix scale, e.g. "ms" = 1e6 ns.
type scaleUnit struct {
	name  string
	scale float64
}

var (
	timeUnits  = []scaleUnit{{"ns", 1}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}}
	bytesUnits = []scaleUnit{{"B", 1}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}}
)

// scaled returns v in the largest unit it reaches, rounded to two
// significant digits below 10 and to an integer above: 48211 ns is
// 48 µs, 2.1e6 ns is 2.1 ms.
func scaled(v float64, units []scaleUnit) (float64, string) {
	u := 0
	for u+1 < len(units) && math.Abs(v) >= units[u+1].scale {
		u++
	}
	round := func(x float64) float64 {
		if math.Abs(x) >= 10 {
			return math.Round(x)
		}
		return math.Round(x*10) / 10
	}
	x := round(v / units[u].scale)
	if u+1 < len(units) && math.Abs(x)*units[u].scale >= units[u+1].scale {
		u++
		x = round(v / units[u].scale)
	}
	return x, units[u].name
}

// fmtDuration formats nanoseconds: "48 µs", "2.1 ms", "1 s".
func fmtDuration(ns float64) string {
	if math.IsNaN(ns) || math.IsInf(ns, 0) {
		return "?"
	}
	x, u := scaled(ns, timeUnits)
	return strconv.FormatFloat(x, 'f', -1, 64) + " " + u
}

// fmtDurationRange formats an interval, the unit once if both ends
// share it: "30–33 µs", "980 µs – 1.1 ms".
func fmtDurationRange(lo, hi float64) string {
	a, ua := scaled(lo, timeUnits)
	b, ub := scaled(hi, timeUnits)
	if ua == ub {
		return strconv.FormatFloat(a, 'f', -1, 64) + "–" + strconv.FormatFloat(b, 'f', -1, 64) + " " + ua
	}
	return fmtDuration(lo) + " – " + fmtDuration(hi)
}

// fmtBytes formats a byte count: "70 MiB", "1 GiB".
func fmtBytes(n float64) string {
	x, u := scaled(n, bytesUnits)
	return strconv.FormatFloat(x, 'f', -1, 64) + " " + u
}

// outcomeText describes what the host saw: "error in 48 µs", "killed
// by SIGSEGV, 2.1 ms", "stopped at the deadline +3 ms".
func (c *FaultCell) outcomeText() string {
	d := fmtDuration(float64(c.DetectNs))
	switch c.Outcome {
	case "hung":
		return "hung (cannot be interrupted)"
	case "not-applicable":
		return "n/a"
	}
	var what string
	switch c.Outcome {
	case "error":
		what = "error"
	case "deadline":
		what = "stopped"
	case "killed":
		what = "killed"
		if c.Signal != "" {
			what += " by " + c.Signal
		}
	}
	switch c.Since {
	case "deadline":
		return what + " at the deadline +" + d
	case "load":
		return what + " at load, " + d
	}
	switch c.Outcome {
	case "error":
		return "error in " + d
	case "deadline":
		return "stopped after " + d
	}
	return what + ", " + d
}

// recoveryText describes the recovery and, from a BenchmarkRecover
// row, its cost: "re-instantiate: 31 µs (95% CI 29 µs – 33 µs)".
func (c *FaultCell) recoveryText() string {
	var s string
	switch c.Recovery {
	case "":
		return ""
	case "reinstantiate":
		s = "re-instantiate"
	case "none":
		s = "no recovery"
	default:
		s = c.Recovery
	}
	if r := c.Recover; r != nil {
		s += ": " + fmtDuration(1e9*float64(r.Center))
		if r.N >= 6 && !engine.IsInf(float64(r.Lo), float64(r.Hi)) {
			s += fmt.Sprintf(" (%s CI %s)", ciPct(r.Confidence), fmtDurationRange(1e9*float64(r.Lo), 1e9*float64(r.Hi)))
		} else {
			s += fmt.Sprintf(" (n=%d)", r.N)
		}
	}
	return s
}

// cellParts are the lines of a table cell: what the fault cost the
// host, what the host saw, the recovery, memory, and the trials.
func (c *FaultCell) cellParts() []string {
	if c.Consequence == "not-applicable" {
		return []string{"n/a"}
	}
	// An error or a stop at the deadline is its own consequence: the
	// host is fine.
	parts := []string{consequenceLong(c.Consequence), c.outcomeText()}
	if c.Consequence == "error" || c.Consequence == "stopped" {
		parts = []string{c.outcomeText() + ", host fine"}
	}
	if r := c.recoveryText(); r != "" {
		parts = append(parts, r)
	}
	if c.PeakRSSBytes > 0 {
		parts = append(parts, "peak RSS "+fmtBytes(float64(c.PeakRSSBytes)))
	}
	if t := c.trialsText(); t != "" {
		parts = append(parts, t)
	}
	return parts
}

// trialsWith counts the trials whose consequence is consequence.
func (c *FaultCell) trialsWith(consequence string) int {
	n := 0
	for _, t := range c.Trials {
		if t.Consequence == consequence {
			n++
		}
	}
	return n
}

// trialsText says what the trials of a cell of several had in common:
// "5 trials alike"; "5 trials, all host frozen; outcomes: 3 deadline, 2
// hung"; "varied over 5 trials: 2 host frozen, 3 stopped". A single
// trial says nothing (the table's intro gives the count).
func (c *FaultCell) trialsText() string {
	n := len(c.Trials)
	if n <= 1 {
		return ""
	}
	counts := func(key func(*FaultTrial) string, word func(string) string) (string, int) {
		var order []string
		seen := map[string]int{}
		for _, t := range c.Trials {
			k := key(t)
			if seen[k] == 0 {
				order = append(order, k)
			}
			seen[k]++
		}
		slices.SortStableFunc(order, func(a, b string) int { return gravity(b) - gravity(a) })
		var parts []string
		for _, k := range order {
			parts = append(parts, fmt.Sprintf("%d %s", seen[k], word(k)))
		}
		return strings.Join(parts, ", "), len(order)
	}
	if s, kinds := counts(func(t *FaultTrial) string { return t.Consequence }, consequenceWord); kinds > 1 {
		return fmt.Sprintf("varied over %d trials: %s", n, s)
	}
	if s, kinds := counts(func(t *FaultTrial) string { return t.Outcome }, func(o string) string { return o }); kinds > 1 {
		return fmt.Sprintf("%d trials, all %s; outcomes: %s", n, consequenceWord(c.Consequence), s)
	}
	return fmt.Sprintf("%d trials alike", n)
}

// A faultTable is the fault report laid out: one row per backend and
// fixture, one column per fault.
type faultTable struct {
	Faults []string
	Rows   []faultTableRow
	Cells  []*FaultCell // in file order, for the details
}

type faultTableRow struct {
	Label string
	Cells []*FaultCell // per fault; nil if not measured
}

func (fr *FaultReport) table() *faultTable {
	t := &faultTable{Faults: fr.Faults, Cells: fr.Cells}
	index := map[string]int{}
	col := map[string]int{}
	for i, f := range fr.Faults {
		col[f] = i
	}
	for _, c := range fr.Cells {
		label := c.label()
		i, ok := index[label]
		if !ok {
			i = len(t.Rows)
			index[label] = i
			t.Rows = append(t.Rows, faultTableRow{Label: label, Cells: make([]*FaultCell, len(fr.Faults))})
		}
		if j, ok := col[c.Fault]; ok {
			t.Rows[i].Cells[j] = c
		}
	}
	return t
}

func (c *FaultCell) label() string { return c.Backend + " (" + c.Fixture + ")" }

// intro is the paragraph under the fault section's heading.
func (fr *FaultReport) intro() string {
	trials := "once, in a host process of its own"
	if fr.Trials > 1 {
		trials = fmt.Sprintf("%d times, each in a new host process", fr.Trials)
	}
	s := fmt.Sprintf("From %s: each fault injected into each backend's plugin %s. A cell says first what the fault cost the host "+
		"(in the worst trial, if they differed), then what the host saw, "+
		"how long until it knew (from the faulty call's start, or past the deadline of %s), how it recovered and, "+
		"from the BenchmarkRecover rows when the results have them, what the recovery costs; then whether the trials agreed.",
		fr.File, trials, fmtDuration(float64(fr.DeadlineNs)))
	var cfg []string
	for _, e := range fr.Config {
		if !hiddenEnvKey(e.Key) {
			cfg = append(cfg, e.Key+": "+e.Value)
		}
	}
	if len(cfg) > 0 {
		s += " Its configuration: " + strings.Join(cfg, ", ") + "."
	}
	return s
}

// faultsNotMeasured is the line a report without -faults carries.
const faultsNotMeasured = "The fault table (what a misbehaving plugin does to the host) was not measured: " +
	"`make faults` measures it; pass its JSON file with -faults."

const faultsHeading = "Faults: what a misbehaving plugin does to the host"

func writeFaultsMarkdown(w io.Writer, fr *FaultReport) {
	if fr == nil {
		fmt.Fprintf(w, "%s\n\n", faultsNotMeasured)
		return
	}
	t := fr.table()
	fmt.Fprintf(w, "## %s\n\n%s\n\n", faultsHeading, engine.MDText(fr.intro()))
	fmt.Fprintf(w, "| backend |")
	for _, f := range t.Faults {
		fmt.Fprintf(w, " %s |", engine.MDEscape(f))
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(t.Faults)))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |", engine.MDEscape(r.Label))
		for _, c := range r.Cells {
			if c == nil {
				fmt.Fprintf(w, " — |")
				continue
			}
			parts := c.cellParts()
			for i := range parts {
				parts[i] = engine.MDText(parts[i])
			}
			fmt.Fprintf(w, " %s |", strings.Join(parts, "; "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nDetails:\n\n")
	for _, c := range t.Cells {
		fmt.Fprintf(w, "- **%s, %s**: %s; %s", engine.MDEscape(c.Fault), engine.MDEscape(c.label()), engine.MDText(consequenceLong(c.Consequence)), engine.MDText(c.outcomeText()))
		if c.Detail != "" {
			fmt.Fprintf(w, ": %s", engine.MDText(c.Detail))
		}
		if c.RecoveryNote != "" {
			fmt.Fprintf(w, ". Recovery: %s", engine.MDText(c.RecoveryNote))
		}
		if c.Recover != nil {
			fmt.Fprintf(w, " (%s)", engine.MDCode(c.Recover.Name))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}
