package bench

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMatrix checks that every target says all the matrix needs of it, so
// that a backend added as one entry in Targets cannot miss a table: how to
// make and load it, what its identity says, where its guest runs, what its
// faults do (ExpectFault; Faults, how to make the variants, may be nil
// where a guest has none), and which events it offers or why none.
func TestMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, tg := range Targets {
		name := tg.Backend + "/" + tg.Fixture
		if seen[name] {
			t.Errorf("%s: twice in Targets", name)
		}
		seen[name] = true
		for what, missing := range map[string]bool{
			"New":              tg.New == nil,
			"Path":             tg.Path == nil,
			"BuiltFor":         tg.BuiltFor == "",
			"Lang":             tg.Lang == "",
			"ExpectFault":      tg.ExpectFault == nil,
			"Transports":       len(tg.Transports) == 0 && tg.NoEvents == "",
			"a Where it knows": tg.Where < Compiled || tg.Where > OwnProcess,
		} {
			if missing {
				t.Errorf("%s: no %s", name, what)
			}
		}
		if tg.NoEvents != "" && len(tg.Transports) > 0 {
			t.Errorf("%s: NoEvents (%s) beside Transports %v", name, tg.NoEvents, tg.Transports)
		}
		if tg.ExpectFault != nil {
			if e := tg.ExpectFault("loop"); e.Outcome == "" || e.Recovery == "" || e.Consequence == "" {
				t.Errorf("%s: ExpectFault(loop) = %+v: every field but Or is required", name, e)
			}
		}
	}
}

// TestRefFindings checks that every reference implementation of
// BenchmarkRef is one the report's findings relate to a backend
// (refBackends in cmd/benchreport's findings), so that no reference row is
// measured and then left unread.
func TestRefFindings(t *testing.T) {
	const findings = "../cmd/benchreport/internal/plugbench/findings.go"
	b, err := os.ReadFile(findings)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refImpls {
		if !strings.Contains(string(b), strconv.Quote(r.impl)) {
			t.Errorf("reference %s (BenchmarkRef/impl=%s) is named nowhere in %s: give it a finding", r.impl, r.impl, findings)
		}
	}
}

// TestGateMemFlags checks the Makefile's memory gate against the matrix:
// it leaves out host-B/instance for exactly the backends whose guest lives
// in the host's own process, unsandboxed (Where Compiled or InHost), whose
// instance's resident growth reads 0 or one page.
func TestGateMemFlags(t *testing.T) {
	if os.Getenv(envBackends) != "" {
		t.Skipf("%s narrows the matrix: the Makefile's flags are for the whole", envBackends)
	}
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`GATE_MEM_FLAGS :=[^\n]*\n[^\n]*/backend:/\^\(([^)]*)\)\$\$/`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no GATE_MEM_FLAGS with a /backend:/^(…)$$/ filter in the Makefile")
	}
	got := strings.Split(string(m[1]), "|")
	var want []string
	for _, g := range backendGroups(Targets) {
		if w := g[0].Where; w == Compiled || w == InHost {
			want = append(want, g[0].Backend)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the Makefile's GATE_MEM_FLAGS leaves out host-B/instance of %v; the matrix's in-host backends are %v", got, want)
	}
}

// TestOneConstructor checks that every backend package (each folder of
// backends/ but the contract's helpers) is made one way, New(ctx
// context.Context, cfg Config) (backends.Backend, error), and exports no
// other function returning a backends.Backend, so that a sixteenth
// backend cannot bring a fifth shape back.
func TestOneConstructor(t *testing.T) {
	ents, err := os.ReadDir("../backends")
	if err != nil {
		t.Fatal(err)
	}
	const want = "func(ctx context.Context, cfg Config) (backends.Backend, error)"
	n := 0
	for _, e := range ents {
		if !e.IsDir() || slices.Contains([]string{"internal", "backendstest", "event"}, e.Name()) {
			continue
		}
		dir := filepath.Join("../backends", e.Name())
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		var news []string
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				for _, d := range f.Decls {
					fn, ok := d.(*ast.FuncDecl)
					if !ok || fn.Recv != nil || !fn.Name.IsExported() {
						continue
					}
					var b strings.Builder
					printer.Fprint(&b, fset, fn.Type)
					sig := b.String()
					switch {
					case fn.Name.Name == "New":
						news = append(news, sig)
					case strings.Contains(sig, ") backends.Backend") || strings.Contains(sig, "(backends.Backend, error)"):
						t.Errorf("%s: %s%s makes a backend too: New is the one constructor", dir, fn.Name.Name, strings.TrimPrefix(sig, "func"))
					}
				}
			}
		}
		// A package built for both cgo settings has a New in each file.
		if len(news) == 0 {
			t.Errorf("%s: no New; want %s", dir, want)
		}
		for _, sig := range news {
			if sig != want {
				t.Errorf("%s: New is %s; want %s", dir, sig, want)
			}
		}
		n++
	}
	if n < 11 {
		t.Errorf("checked %d backend packages, want the 11 at least", n)
	}
}
