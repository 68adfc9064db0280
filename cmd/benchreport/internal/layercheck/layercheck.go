// Package layercheck holds the test that keeps benchreport's general
// packages general: their source imports no package of this module and
// names no concept of the suite that a layer on top of them knows.
package layercheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// suiteWords are the concepts of the suite that benchreport's layer on
// top of the general packages knows (its backend= key, its static
// baseline, its fixture hashes, its name): none of them may appear.
var suiteWords = regexp.MustCompile(`(?i)\b(backends?|static|fixtures?|plugbench)\b`)

// KnowsNoLayer checks the Go source files (not the tests) of the
// package in dir: it imports no package of this module, and no
// identifier, string or comment of it names a concept of the suite.
// what names the package in the messages ("the engine").
func KnowsNoLayer(t *testing.T, dir, what string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/plugbench/") {
				t.Errorf("%s imports %s: %s imports no layer (main → layers → %s)", fset.Position(imp.Pos()), path, what, what)
			}
		}
		report := func(pos token.Pos, kind, text string) {
			if m := suiteWords.FindString(text); m != "" {
				t.Errorf("%s: %s mentions %q: %s knows nothing of plugbench's suite", fset.Position(pos), kind, m, what)
			}
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				report(c.Pos(), "comment", c.Text)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				report(n.Pos(), "identifier", n.Name)
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					report(n.Pos(), "string", n.Value)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatalf("%s: no source files checked", dir)
	}
}
