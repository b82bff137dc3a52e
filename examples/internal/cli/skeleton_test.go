package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryExampleUsesTheSkeleton reads every example program and checks that its exit
// codes and device parsing come from here: it goes through Command or RunTool, calls
// os.Exit only as main's os.Exit(run(…)), handles no signals of its own (train's launcher
// forwards signals to its workers and is the exception), and parses no device strings
// ("cuda:") itself: torch.ParseDevice does, with the CUDA checks. Checkpoints open with
// prsmed.LoadBundle, never prsmed.Load (which skips a bundle's tokenizer and hash checks).
func TestEveryExampleUsesTheSkeleton(t *testing.T) {
	programs := map[string][]string{} // folder → its non-test files
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "internal" && filepath.Base(filepath.Dir(path)) == "examples" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			programs[filepath.Dir(path)] = append(programs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for dir, files := range programs {
		skeleton, isMain := false, false
		for _, path := range files {
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name.Name != "main" {
				continue
			}
			isMain = true
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncDecl:
					if n.Name.Name == "main" && n.Recv == nil {
						if exit, ok := onlyExit(n); ok && !exit {
							t.Errorf("%s: main calls os.Exit other than as os.Exit(run(…))", path)
						}
					}
				case *ast.SelectorExpr:
					pkg, _ := n.X.(*ast.Ident)
					if pkg == nil {
						return true
					}
					switch name := pkg.Name + "." + n.Sel.Name; name {
					case "cli.RunTool", "cli.RunParsed", "cli.NewCommand":
						skeleton = true
					case "prsmed.Load":
						t.Errorf("%s: opens a checkpoint with prsmed.Load; every command uses prsmed.LoadBundle (bundled tokenizer, hash checks)", fset.Position(n.Pos()))
					case "signal.NotifyContext", "signal.Notify":
						if filepath.Base(path) != "launch.go" {
							t.Errorf("%s: handles signals itself (%s) instead of through cli", path, name)
						}
					}
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && strings.HasPrefix(s, "cuda:") {
						t.Errorf("%s: parses %q itself; use torch.ParseDevice", fset.Position(n.Pos()), s)
					}
				}
				return true
			})
			for _, fd := range f.Decls {
				if fn, ok := fd.(*ast.FuncDecl); ok && fn.Name.Name != "main" && callsExit(fn) {
					t.Errorf("%s: %s calls os.Exit; exit codes come from cli", path, fn.Name.Name)
				}
			}
		}
		if !isMain {
			continue
		}
		checked++
		if !skeleton {
			t.Errorf("%s: does not run through cli.Command, cli.RunTool or cli.RunParsed", dir)
		}
	}
	if checked < 12 {
		t.Errorf("checked %d programs; the examples folder has at least 12", checked)
	}
}

// onlyExit reports whether main's body is one os.Exit(f(…)) (ok false: main has no
// os.Exit at all, as a Command-based main).
func onlyExit(fn *ast.FuncDecl) (exitRun, ok bool) {
	if !callsExit(fn) {
		return false, false
	}
	if len(fn.Body.List) != 1 {
		return false, true
	}
	es, isExpr := fn.Body.List[0].(*ast.ExprStmt)
	if !isExpr {
		return false, true
	}
	call, isCall := es.X.(*ast.CallExpr)
	if !isCall || len(call.Args) != 1 {
		return false, true
	}
	_, argIsCall := call.Args[0].(*ast.CallExpr)
	return argIsCall, true
}

func callsExit(fn *ast.FuncDecl) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && sel.Sel.Name == "Exit" {
				found = true
			}
		}
		return true
	})
	return found
}
