package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The layers of dataeco import downwards only: the CLI (installer) over the stack model
// (installer/model) and the engine driver (installer/engine), over checks and embedded, with
// installer/hint at the bottom. These tests read the imports and the functions of the
// production code, so a change that climbs back up or grows a function past a screen fails
// here, not in review.

const module = "github.com/dataeco/dataeco/"

// skipDir leaves out what is not dataeco's production code: fixtures, test tiers, builds.
func skipDir(path, name string) bool {
	return path != "." && (name == "testdata" || name == "dist" || strings.HasPrefix(name, "."))
}

// productionFiles maps each package directory to its non-test Go files, parsed with fset.
func productionFiles(t *testing.T, fset *token.FileSet) map[string][]*ast.File {
	t.Helper()
	out := map[string][]*ast.File{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skipDir(path, d.Name()) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		out[dir] = append(out[dir], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayersImportDownwards(t *testing.T) {
	t.Parallel()
	cliLibs := []string{"github.com/urfave/cli", "github.com/AlecAivazis/survey"}
	dockerLibs := []string{"github.com/docker/", "github.com/moby/"}
	forbidden := map[string][]string{
		"installer/hint":   append(append([]string{module}, cliLibs...), dockerLibs...),
		"installer/model":  append(append([]string{module + "installer/engine", module + "checks", module + "installer\""}, cliLibs...), dockerLibs...),
		"installer/engine": append([]string{module + "installer/model", module + "installer\""}, cliLibs...),
		"checks":           append([]string{module + "installer"}, cliLibs...),
		"embedded":         append([]string{module + "installer", module + "checks"}, cliLibs...),
	}
	files := productionFiles(t, token.NewFileSet())
	for dir, rules := range forbidden {
		if len(files[dir]) == 0 {
			t.Errorf("no Go files in %s", dir)
		}
		for _, f := range files[dir] {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range rules {
					// A trailing quote in a rule means "this package exactly".
					if exact, ok := strings.CutSuffix(bad, "\""); ok && path == exact || !ok && strings.HasPrefix(path, bad) {
						t.Errorf("%s imports %s", dir, path)
					}
				}
			}
		}
	}
}

// TestFunctionsFitAScreen: no function of the production code is over 80 lines, unless
// most of it is one table (a composite literal), which reads as a list.
func TestFunctionsFitAScreen(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	for _, files := range productionFiles(t, fset) {
		for _, f := range files {
			for _, decl := range f.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				if lines <= 80 {
					continue
				}
				table := 0
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if cl, ok := n.(*ast.CompositeLit); ok {
						table = max(table, fset.Position(cl.End()).Line-fset.Position(cl.Pos()).Line+1)
						return false
					}
					return true
				})
				if table*10 < lines*6 {
					t.Errorf("%s: %s is %d lines; split it", fset.Position(fd.Pos()).Filename, fd.Name.Name, lines)
				}
			}
		}
	}
}
