package engine

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
// top of the engine knows (its backend= key, its static baseline, its
// name): the engine must know none of them.
var suiteWords = regexp.MustCompile(`(?i)\b(backends?|static|plugbench)\b`)

// TestEngineKnowsNoLayer checks the layering: the engine's source
// (not its tests) imports no package of this module, and no
// identifier, string or comment of it names a concept of plugbench.
func TestEngineKnowsNoLayer(t *testing.T) {
	files, err := filepath.Glob("*.go")
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
				t.Errorf("%s imports %s: the engine imports no layer (main → layers → engine)", fset.Position(imp.Pos()), path)
			}
		}
		report := func(pos token.Pos, what, text string) {
			if m := suiteWords.FindString(text); m != "" {
				t.Errorf("%s: %s mentions %q: the engine knows nothing of plugbench's suite", fset.Position(pos), what, m)
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
		t.Fatal("no source files checked")
	}
}
