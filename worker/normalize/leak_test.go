package normalize

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// TestNoPersonalValueInAnyError plants each personal value of the corpus (card
// numbers, emails, phone numbers, names, addresses) into every field of every good
// fixture of every channel and format, the envelope's included (enums, amounts,
// currencies, dates and ids too, as strings and as numbers), and checks that no
// error Normalize returns holds any of it: errors go into DLQ headers and logs in
// the clear.
func TestNoPersonalValueInAnyError(t *testing.T) {
	fixtures := normalizetest.Files(t, "testdata/amazon/*.json", "testdata/amazon2026/*.json", "testdata/ebay/*.json")
	if testing.Short() {
		fixtures = []string{
			"testdata/amazon/uk-two-lines-typical.json",
			"testdata/amazon2026/uk-two-lines-typical.json",
			"testdata/ebay/typical-two-line.json",
		}
	}
	n := mustNormalizer(t)
	planted, failed := 0, 0
	// Every field once per format: lineItems[0].title and lineItems[3].title of
	// another fixture are one field.
	seen := map[string]bool{}
	for _, f := range fixtures {
		seq, err := privacytest.Plant(normalizetest.Read(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for p := range seq {
			field := filepath.Base(filepath.Dir(f)) + " " + indices.ReplaceAllString(p.Path, "[]") + " " + p.Value.Text + " " + strconv.FormatBool(p.AsNumber)
			if seen[field] {
				continue
			}
			seen[field] = true
			planted++
			_, err := n.Normalize(p.Message())
			if err == nil {
				continue
			}
			failed++
			if leaks := privacytest.Leaks(err.Error()); len(leaks) > 0 {
				t.Errorf("%s: %s planted in %s: the error quotes it: %v\n  %s", f, p.Value.Kind, p.Path, leaks, err)
			}
		}
	}
	// The test means something only if many plantings fail.
	if failed < planted/4 {
		t.Errorf("only %d of %d planted messages failed to normalise: the planting does not reach the checks", failed, planted)
	}
	t.Logf("%d fixtures, %d planted messages, %d errors checked", len(fixtures), planted, failed)
}

var indices = regexp.MustCompile(`\[\d+\]`)

// testNow is the clock of the tests that need one: after every fixture's dates.
var testNow = time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)

func mustNormalizer(t testing.TB) *Normalizer {
	t.Helper()
	n, err := New(Config{Now: func() time.Time { return testNow }, Decoders: testDecoders})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestErrorRulesAreConstants reads the package's source: every Error made, by
// fail, failValue or a literal, has a Rule that is a constant (a string literal,
// a named constant or kindMismatch's fixed words) and a Detail made only by the
// helpers that describe a value without revealing it. A rule built with
// fmt.Sprintf or from a variable could carry a value from the message.
func TestErrorRulesAreConstants(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		consts := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
				for _, s := range d.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						consts[id.Name] = true
					}
				}
			}
			return true
		})
		constant := func(e ast.Expr) bool { return isConstantRule(e, consts) }
		// fail and failValue pass their rule parameter on: their callers are checked.
		isMaker := func(fd *ast.FuncDecl) bool { return fd.Name.Name == "fail" || fd.Name.Name == "failValue" }
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				return !isMaker(n)
			case *ast.CallExpr:
				id, ok := n.Fun.(*ast.Ident)
				if !ok || (id.Name != "fail" && id.Name != "failValue") || len(n.Args) < 3 {
					return true
				}
				checked++
				if !constant(n.Args[2]) && !isCall(n.Args[2], "kindMismatch") {
					t.Errorf("%s: %s's rule is not a constant", fset.Position(n.Pos()), id.Name)
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); !ok || id.Name != "Error" {
					return true
				}
				checked++
				for _, elt := range n.Elts {
					kv, ok := elt.(*ast.KeyValueExpr)
					if !ok {
						t.Errorf("%s: an Error literal without field names", fset.Position(n.Pos()))
						continue
					}
					switch kv.Key.(*ast.Ident).Name {
					case "Rule":
						if !constant(kv.Value) && !isCall(kv.Value, "kindMismatch") {
							t.Errorf("%s: an Error's Rule is not a constant", fset.Position(kv.Pos()))
						}
					case "Detail":
						if !isCall(kv.Value, "shapeOf", "atByte") && !isIndexDetail(kv.Value) {
							t.Errorf("%s: an Error's Detail is not made by shapeOf or atByte", fset.Position(kv.Pos()))
						}
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					sel, ok := lhs.(*ast.SelectorExpr)
					if !ok || (sel.Sel.Name != "Rule" && sel.Sel.Name != "Detail") || i >= len(n.Rhs) {
						continue
					}
					checked++
					rhs := n.Rhs[i]
					ok = constant(rhs) || isCall(rhs, "shapeOf", "atByte") ||
						isSelector(rhs, "Rule") // another error's rule, itself checked where it is made
					if !ok {
						t.Errorf("%s: %s assigned something that is not a constant or a shape", fset.Position(n.Pos()), sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
	if checked < 50 {
		t.Errorf("checked only %d places that make errors: is the test still reading the right code?", checked)
	}
}

func isConstantRule(e ast.Expr, consts map[string]bool) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.Ident:
		return consts[e.Name]
	case *ast.BinaryExpr:
		return e.Op == token.ADD && isConstantRule(e.X, consts) && isConstantRule(e.Y, consts)
	case *ast.ParenExpr:
		return isConstantRule(e.X, consts)
	}
	return false
}

func isCall(e ast.Expr, names ...string) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := c.Fun.(*ast.Ident)
	if !ok {
		return false
	}
	for _, n := range names {
		if id.Name == n {
			return true
		}
	}
	return false
}

func isSelector(e ast.Expr, field string) bool {
	s, ok := e.(*ast.SelectorExpr)
	return ok && s.Sel.Name == field
}

// isIndexDetail accepts "lineItems[" + strconv.Itoa(j) + "]": a position in the
// message, not a value.
func isIndexDetail(e ast.Expr) bool {
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != token.ADD {
		return isCall(e, "Itoa") || isStrconvItoa(e)
	}
	return (isIndexDetail(b.X) || isLit(b.X)) && (isIndexDetail(b.Y) || isLit(b.Y))
}

func isStrconvItoa(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	s, ok := c.Fun.(*ast.SelectorExpr)
	return ok && s.Sel.Name == "Itoa"
}

func isLit(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}

// TestTenantIDThatLooksLikeACardIsRefused: tenant ids are stored in the clear
// everywhere (ClickHouse keys, Vault key names, DLQ headers), so one that holds a
// Luhn-valid run of 12-19 digits is refused, and not carried to the dead letter
// either; other digits are fine.
func TestTenantIDThatLooksLikeACardIsRefused(t *testing.T) {
	n := mustNormalizer(t)
	for _, tenant := range []string{"4111111111111111", "acme-4111-1111-1111-1111", "shop_4012888888881881_uk"} {
		msg := setJSON(t, "ebay/typical-two-line.json", []any{"tenant_id"}, tenant)
		_, err := n.Normalize(msg)
		want := "bad_envelope: tenant_id: holds a run of digits that could be a card number"
		if err == nil || err.Error() != want {
			t.Errorf("tenant %q: error %v, want %s", tenant, err, want)
		}
		if got := TenantOf(err); got != "" {
			t.Errorf("tenant %q: the error carries it for the dead letter's headers", tenant)
		}
	}
	for _, tenant := range []string{"acme-uk", "seller-2026-11", "shop-123456789012"} {
		msg := setJSON(t, "ebay/typical-two-line.json", []any{"tenant_id"}, tenant)
		o, err := n.Normalize(msg)
		if err != nil {
			t.Errorf("tenant %q refused: %v", tenant, err)
		} else if o.TenantID != tenant {
			t.Errorf("tenant %q normalised as %q", tenant, o.TenantID)
		}
	}
}
