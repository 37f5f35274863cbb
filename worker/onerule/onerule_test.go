// Package onerule_test keeps each rule that several packages apply written in
// one place: tenant ids and country codes, jurisdictions included
// (worker/order), ClickHouse database and table names (schemas/clickhouse). Everyone else
// calls the owner; a second copy would drift from it, as the tenant-id rule
// once did (four copies, only one of which refused card numbers).
//
// It reads every non-test Go file of the module and fails on a string literal
// that writes one of the rules again (a regular expression, a table name in
// SQL), on code that spells the tenant-id character check again, and on any
// function whose body is a rule function's body with other names.
package onerule_test

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// root is the module's root, from this package's folder.
const root = "../.."

// rule is one rule, the file that owns it, and what a copy elsewhere looks like.
type rule struct {
	name string
	home string // the one file that may write it, from the module's root
	// literal matches a string literal that writes the rule again.
	literal *regexp.Regexp
	// code, when set, matches the normalised tokens (normalise) of code that
	// writes the rule again.
	code *regexp.Regexp
	// funcs are the rule's functions in home: a function elsewhere with the
	// same normalised body is a copy.
	funcs []string
}

func rules() []rule {
	tables := strings.Join(slices.Sorted(func(yield func(string) bool) {
		for t := range schema.Tables() {
			if !yield(regexp.QuoteMeta(t)) {
				return
			}
		}
	}), "|")
	return []rule{{
		name:    "tenant ids (order.ValidTenantID)",
		home:    "worker/order/validate.go",
		literal: regexp.MustCompile(`\[(a-z0-9_-|a-z0-9-_|a-z_0-9|0-9a-z)`),
		code:    regexp.MustCompile(`== '-' \|\| _ == '_'|== '_' \|\| _ == '-'`),
		funcs:   []string{"CheckTenantID"},
	}, {
		name:    "country codes (order.ValidCountryCode)",
		home:    "worker/order/validate.go",
		literal: regexp.MustCompile(`\[A-Z\]\{2\}|\[A-Z\]\[A-Z\]`),
		funcs:   []string{"ValidCountryCode"},
	}, {
		name:    "database names (clickhouse.ValidDatabaseName)",
		home:    "schemas/clickhouse/tables.go",
		literal: regexp.MustCompile(`\[A-Za-z_\]\[A-Za-z0-9_\]\{0,63\}`),
		funcs:   []string{"ValidDatabaseName"},
	}, {
		// A table's name alone, qualified by a database ("db.order_facts")
		// or quoted in SQL ('schema_migrations'); prose may name a table.
		name:    "table names (clickhouse.Table*)",
		home:    "schemas/clickhouse/tables.go",
		literal: regexp.MustCompile(`^(` + tables + `)$|\.(` + tables + `)\b|'(` + tables + `)'`),
	}}
}

// file is one parsed non-test Go file.
type file struct {
	path  string // from the module's root
	src   []byte
	fset  *token.FileSet
	ast   *ast.File
	norm  string            // the whole file, normalised
	funcs map[string]string // function name -> normalised body
}

func TestEachRuleIsWrittenOnce(t *testing.T) {
	files := moduleFiles(t)
	if len(files) < 100 {
		t.Fatalf("read %d files: is root right?", len(files))
	}
	for _, r := range rules() {
		home := files[r.home]
		if home == nil {
			t.Errorf("%s: its home %s is gone", r.name, r.home)
			continue
		}
		bodies := map[string]string{}
		for _, name := range r.funcs {
			if home.funcs[name] == "" {
				t.Errorf("%s: %s has no function %s", r.name, r.home, name)
			}
			bodies[home.funcs[name]] = name
		}
		for _, path := range slices.Sorted(func(yield func(string) bool) {
			for p := range files {
				if !yield(p) {
					return
				}
			}
		}) {
			if path == r.home {
				continue
			}
			f := files[path]
			ast.Inspect(f.ast, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && r.literal.MatchString(s) {
					t.Errorf("%s: %s writes %s again; use %s", f.fset.Position(lit.Pos()), lit.Value, r.name, r.home)
				}
				return true
			})
			if r.code != nil {
				if m := r.code.FindString(f.norm); m != "" {
					t.Errorf("%s: %q writes %s again; use %s", path, m, r.name, r.home)
				}
			}
			for name, body := range f.funcs {
				if rf, ok := bodies[body]; ok {
					t.Errorf("%s: %s is a copy of %s's %s", path, name, r.home, rf)
				}
			}
		}
	}
}

// The checks find the copies this test was written against.
func TestTheChecksFindCopies(t *testing.T) {
	copies := map[string]string{
		"tenant ids":     "package p\nimport \"regexp\"\nvar tenantID = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)\n",
		"tenant ids ":    "package p\nfunc ok(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' }\n",
		"country codes":  "package p\nimport \"regexp\"\nvar code = regexp.MustCompile(`^[A-Z]{2}$`)\n",
		"database names": "package p\nimport \"regexp\"\nvar identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)\n",
		"table names":    "package p\nconst q = \"SELECT count() FROM \" + \"db\" + \".purge_log\"\n",
		"table names ":   "package p\nvar tables = []string{\"delivery_labels\"}\n",
		"country codes ": "package p\nfunc valid(s string) bool {\n\treturn len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'\n}\n",
	}
	home := moduleFiles(t)
	for what, src := range copies {
		f := parse(t, "copy.go", []byte(src))
		found := false
		for _, r := range rules() {
			if !strings.HasPrefix(r.name, strings.TrimSpace(what)) {
				continue
			}
			ast.Inspect(f.ast, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					found = found || r.literal.MatchString(s)
				}
				return true
			})
			found = found || r.code != nil && r.code.MatchString(f.norm)
			for _, name := range r.funcs {
				for _, body := range f.funcs {
					found = found || body == home[r.home].funcs[name]
				}
			}
		}
		if !found {
			t.Errorf("the %s check misses:\n%s", strings.TrimSpace(what), src)
		}
	}
}

func moduleFiles(t *testing.T) map[string]*file {
	t.Helper()
	out := map[string]*file{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		out[rel] = parse(t, rel, src)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t *testing.T, path string, src []byte) *file {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := &file{path: path, src: src, fset: fset, ast: f, norm: normalise(src), funcs: map[string]string{}}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
			from, to := fset.Position(fd.Body.Pos()).Offset, fset.Position(fd.Body.End()).Offset
			out.funcs[fd.Name.Name] = normalise(src[from:to])
		}
	}
	return out
}

// normalise is src's tokens without comments, separated by spaces, with every
// identifier written "_": code that differs only in names reads the same.
func normalise(src []byte) string {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), src, nil, 0)
	var b strings.Builder
	for {
		_, tok, lit := s.Scan()
		switch {
		case tok == token.EOF:
			return b.String()
		case tok == token.IDENT:
			b.WriteString("_")
		case tok == token.SEMICOLON && lit == "\n":
			continue
		case lit != "":
			b.WriteString(lit)
		default:
			b.WriteString(tok.String())
		}
		b.WriteByte(' ')
	}
}
