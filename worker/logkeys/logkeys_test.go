package logkeys_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/logkeys"
)

func TestKeysAreSortedAndDocumented(t *testing.T) {
	for i, k := range logkeys.Keys {
		if k.Meaning == "" {
			t.Errorf("key %q has no meaning", k.Name)
		}
		if i > 0 && logkeys.Keys[i-1].Name >= k.Name {
			t.Errorf("keys not sorted (or %q twice)", k.Name)
		}
	}
	for _, k := range []string{logkeys.Component, logkeys.Tenant, logkeys.Channel, logkeys.Batch, logkeys.Outcome,
		logkeys.Topic, logkeys.Partition, logkeys.Offset, logkeys.Err} {
		if !logkeys.Allowed(k) {
			t.Errorf("the stable key %q is not in Keys", k)
		}
	}
	if !slices.IsSorted(logkeys.Components) {
		t.Errorf("Components not sorted")
	}
}

// TestSourceLogsOnlyDocumentedKeys reads every non-test Go file of worker/ and
// connectors/ and checks each literal key given to a logger (log.Info("msg",
// "key", v), .With("key", v), slog.String("key", v), and the attrs slices
// built for them) against Keys, and each literal component against
// Components. It is syntactic: a receiver counts as a logger when its name
// says so (log, logger, Logger, own), which is how every logger in the tree
// is named; the count of keys checked keeps the walk honest.
func TestSourceLogsOnlyDocumentedKeys(t *testing.T) {
	checked := 0
	check := func(fset *token.FileSet, key ast.Expr, value ast.Expr) {
		lit, ok := key.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		name, _ := strconv.Unquote(lit.Value)
		checked++
		if !logkeys.Allowed(name) {
			t.Errorf("%s: log key %q is not in logkeys.Keys", fset.Position(lit.Pos()), name)
		}
		if name == logkeys.Component && value != nil {
			if v, ok := value.(*ast.BasicLit); ok {
				c, _ := strconv.Unquote(v.Value)
				if !logkeys.IsComponent(c) {
					t.Errorf("%s: component %q is not in logkeys.Components", fset.Position(v.Pos()), c)
				}
			}
		}
	}
	// pairs checks key-value arguments: literal pairs, and slog.Attr
	// constructors (slog.String("key", v)), until something else.
	pairs := func(fset *token.FileSet, args []ast.Expr) {
		for i := 0; i < len(args); {
			switch a := args[i].(type) {
			case *ast.BasicLit:
				var v ast.Expr
				if i+1 < len(args) {
					v = args[i+1]
				}
				check(fset, a, v)
				i += 2
			case *ast.CallExpr:
				if sel, ok := a.Fun.(*ast.SelectorExpr); ok && isIdent(sel.X, "slog") && len(a.Args) > 0 {
					check(fset, a.Args[0], nil)
				}
				i++
			default:
				return
			}
		}
	}
	for _, root := range []string{"../../worker", "../../connectors"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(path, "test/") || strings.Contains(filepath.Base(filepath.Dir(path)), "test") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "append" && len(n.Args) > 1 && isIdent(n.Args[0], "attrs") {
						pairs(fset, n.Args[1:])
						return true
					}
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || !isLogger(sel.X) {
						return true
					}
					switch sel.Sel.Name {
					case "Debug", "Info", "Warn", "Error":
						if len(n.Args) > 1 {
							pairs(fset, n.Args[1:])
						}
					case "Log", "LogAttrs":
						if len(n.Args) > 3 {
							pairs(fset, n.Args[3:])
						}
					case "With":
						pairs(fset, n.Args)
					}
				case *ast.AssignStmt:
					// attrs := []any{"key", v, ...}
					if len(n.Lhs) == 1 && len(n.Rhs) == 1 && isIdent(n.Lhs[0], "attrs") {
						if cl, ok := n.Rhs[0].(*ast.CompositeLit); ok {
							pairs(fset, cl.Elts)
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 150 {
		t.Errorf("only %d literal log keys found in the source: the walk is broken", checked)
	}
	t.Logf("%d literal log keys checked", checked)
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// isLogger reports whether e names a logger: log, logger, own, or a field
// log or Logger (c.log, cfg.Logger, p.cfg.Logger).
func isLogger(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "log" || e.Name == "logger" || e.Name == "own"
	case *ast.SelectorExpr:
		return e.Sel.Name == "log" || e.Sel.Name == "Logger"
	case *ast.CallExpr: // log.With(...).Error(...)
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "With" {
			return isLogger(sel.X)
		}
	}
	return false
}
