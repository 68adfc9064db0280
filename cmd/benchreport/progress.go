package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugbench/plugbench/cmd/benchreport/internal/engine"
)

// cmdProgress copies go test -bench output from stdin to a file, whole,
// and shows on stdout where the run is instead of the output itself:
// the benchmark group, the rows done of the rows planned, the time taken
// and an estimate of what is left. On a terminal it is one line that
// updates; otherwise (a CI log) a line as each group starts and one at
// the end. A failure, a panic or a build error is shown with its context.
func cmdProgress(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("progress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: go test -bench ... | benchreport progress -o FILE [-plan FILE]

Progress copies go test -bench output from its standard input to FILE,
whole, and shows on its standard output where the run is instead: the
benchmark group, the rows done (a row is a benchmark name, whatever its
-count) of the rows planned, the time taken and what is left. The plan
is an earlier run's results (-plan; it may be FILE itself, read before it
is written): without one, progress shows the rows done and the time. On a
terminal it is one line that updates; otherwise a line as each group
starts, and one at the end. A failure, a panic or a build error is shown
with the lines that follow it, and ok or FAIL lines are passed through.

Flags:
`)
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "write the whole output to `file` (required)")
	appendOut := fs.Bool("append", false, "append to the -o file instead of replacing it")
	plan := fs.String("plan", "", "an earlier run's results `file`, whose rows the run is expected to repeat")
	groups := fs.String("groups", "", "count only the plan's groups (top-level benchmarks) that match `regexp`, as go test -bench")
	skipGroups := fs.String("skip", "", "leave out the plan's groups that match `regexp`, as go test -skip")
	tty := fs.String("tty", "auto", "`mode`: one updating line (yes), a line a group (no), or yes when stdout is a terminal (auto)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return engine.UsageError{Err: errors.New("progress: want -o FILE and no arguments (the output comes on standard input)")}
	}
	p := &progress{w: stdout, start: time.Now(), now: time.Now}
	switch *tty {
	case "yes":
		p.tty = true
	case "no":
	case "auto":
		p.tty = isTerminal(stdout)
	default:
		return engine.UsageError{Err: fmt.Errorf("progress: -tty %q: want yes, no or auto", *tty)}
	}
	for _, re := range []struct {
		flag, expr string
		dst        **regexp.Regexp
	}{{"groups", *groups, &p.keep}, {"skip", *skipGroups, &p.drop}} {
		if re.expr == "" {
			continue
		}
		r, err := regexp.Compile(re.expr)
		if err != nil {
			return engine.UsageError{Err: fmt.Errorf("progress: -%s: %w", re.flag, err)}
		}
		*re.dst = r
	}
	if *plan != "" {
		b, err := os.ReadFile(*plan)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("progress: -plan: %w", err)
		}
		p.plan(b)
	}
	mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if *appendOut {
		mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(*out, mode, 0o666)
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	if err := p.copy(f, os.Stdin); err != nil {
		f.Close()
		return fmt.Errorf("progress: %w", err)
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// terminalWidth is w's width in columns, 100 when it cannot say.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 20 {
			return int(ws.Col)
		}
	}
	return 100
}

// A result line ("BenchmarkX/a=b-2   123   4.5 ns/op"), a skip or a
// failure of a row, and the end of a package's run.
var (
	resultLine = regexp.MustCompile(`^(Benchmark[^\s]+?)(?:-\d+)?\s+\d+\s`)
	rowEnd     = regexp.MustCompile(`^\s*--- (SKIP|FAIL): (Benchmark\S+)`)
	runEnd     = regexp.MustCompile(`^(ok|FAIL)\s+\S+`)
)

// progress is the state of one run's display.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	now   func() time.Time

	keep, drop *regexp.Regexp // which of the plan's groups count

	planned    map[string]int // rows per group, from the plan
	groupOrder []string       // the plan's groups, in order
	total      int            // rows planned

	seen      map[string]bool // rows done
	done      int
	t         time.Time // now, read once a line
	group     string
	context   int       // lines of a failure's context still to show
	lastDraw  time.Time // the updating line's last drawing
	drawn     bool      // the updating line is on the screen
	failures  int
	lastGroup map[string]bool // groups that have started
}

// plan reads the rows of an earlier run's results.
func (p *progress) plan(b []byte) {
	p.planned = map[string]int{}
	seen := map[string]bool{}
	for line := range bytes.Lines(b) {
		name := rowName(string(line))
		if name == "" || seen[name] || !strings.Contains(name, "/") && bytes.Contains(line, []byte("--- FAIL")) {
			continue // a group's failure is its rows'
		}
		seen[name] = true
		g := groupOf(name)
		if (p.keep != nil && !p.keep.MatchString(g)) || (p.drop != nil && p.drop.MatchString(g)) {
			continue
		}
		if p.planned[g] == 0 {
			p.groupOrder = append(p.groupOrder, g)
		}
		p.planned[g]++
		p.total++
	}
}

// rowName is the benchmark a result line or a row's skip or failure is
// of, without its -GOMAXPROCS suffix; "" for another line. A failure of
// a group (a parent benchmark) names a row too; it is counted once.
func rowName(line string) string {
	if m := resultLine.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	if m := rowEnd.FindStringSubmatch(line); m != nil {
		return m[2]
	}
	return ""
}

func groupOf(name string) string {
	g, _, _ := strings.Cut(name, "/")
	return g
}

// copy copies r to out line by line, and shows the run's progress.
func (p *progress) copy(out io.Writer, r io.Reader) error {
	p.seen = map[string]bool{}
	p.lastGroup = map[string]bool{}
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriter(out)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if _, werr := bw.WriteString(line); werr != nil {
				return werr
			}
			p.line(strings.TrimRight(line, "\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	p.finish()
	return bw.Flush()
}

// line takes one line of the output.
func (p *progress) line(line string) {
	p.t = p.now()
	if name := rowName(line); name != "" && !strings.HasPrefix(strings.TrimSpace(line), "--- FAIL") {
		p.context = 0
		if !p.seen[name] {
			p.seen[name] = true
			p.done++
		}
		if g := groupOf(name); g != p.group {
			p.group = g
			if !p.lastGroup[g] {
				p.lastGroup[g] = true
				if !p.tty {
					p.say(p.status())
				}
			}
		}
		p.draw(false)
		return
	}
	trimmed := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(trimmed, "--- FAIL"):
		if name := rowName(line); name != "" && !p.seen[name] && strings.Count(name, "/") > 0 {
			p.seen[name] = true // a row that failed is done; its parents are not rows
			p.done++
		}
		p.failures++
		p.context = 40 // the row's report: its log lines, indented
		p.say(line)
	case strings.HasPrefix(line, "panic:"), strings.HasPrefix(line, "fatal error:"),
		strings.HasPrefix(line, "# "), strings.Contains(line, "[build failed]"), strings.HasPrefix(line, "SIG"):
		p.failures++
		p.context = 100
		p.say(line)
	case runEnd.MatchString(line):
		p.context = 0
		p.say(line)
	case p.context > 0:
		p.context--
		p.say(line)
	}
}

// status is where the run is, in one line.
func (p *progress) status() string {
	elapsed := p.t.Sub(p.start)
	var b strings.Builder
	b.WriteString("progress: ")
	if p.group != "" {
		b.WriteString(p.group)
		if n := len(p.groupOrder); n > 0 {
			// The groups in the order this run started them.
			fmt.Fprintf(&b, " (group %d of %d)", len(p.lastGroup), max(n, len(p.lastGroup)))
		}
		b.WriteString(": ")
	}
	if p.total > 0 {
		fmt.Fprintf(&b, "%d of about %d rows, %s", p.done, max(p.total, p.done), clock(elapsed))
		// No estimate from the first few rows: the first of a run pays
		// for the build and the fixtures.
		if p.done*20 >= p.total && p.total > p.done {
			left := time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))
			fmt.Fprintf(&b, ", about %s left", clock(left))
		}
	} else {
		fmt.Fprintf(&b, "%d rows, %s", p.done, clock(elapsed))
	}
	switch {
	case p.failures == 1:
		b.WriteString("; 1 failure (above)")
	case p.failures > 1:
		fmt.Fprintf(&b, "; %d failures (above)", p.failures)
	}
	return b.String()
}

// clock formats a duration as 1m05s, or 42s.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// draw redraws the updating line on a terminal, at most ten times a
// second unless forced.
func (p *progress) draw(force bool) {
	if !p.tty {
		return
	}
	if !force && p.t.Sub(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.lastDraw = p.t
	s := p.status()
	if w := terminalWidth(p.w); len([]rune(s)) >= w {
		s = string([]rune(s)[:w-2]) + "…"
	}
	fmt.Fprintf(p.w, "\r\033[K%s", s)
	p.drawn = true
}

// say prints a line of its own, above the updating line.
func (p *progress) say(s string) {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintln(p.w, s)
	p.draw(true)
}

// finish prints the last word.
func (p *progress) finish() {
	p.t = p.now()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	p.tty = false
	p.group = ""
	p.total = 0 // the rows done are the rows there were
	fmt.Fprintln(p.w, p.status())
}
