package protected

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	module      = "github.com/orderflow/orderflow"
	thisPackage = module + "/worker/protected"
	stage       = module + "/worker/protect"
)

// sealers are the functions that make Tokens and Ciphertexts.
var sealers = map[string]bool{"SealTokens": true, "SealCiphertexts": true}

// TestOnlyProtectSeals keeps the promise of Token and Ciphertext: only the
// protect stage makes them. It reads every Go file of every package of the
// module (those a build tag leaves out included; test files excepted, which
// may build fixtures) and fails on any reference to a sealing function, call
// or function value, outside worker/protect.
func TestOnlyProtectSeals(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,GoFiles,CgoFiles,IgnoredGoFiles,Error", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	packages, stageSeals := 0, 0
	for dec := json.NewDecoder(bytes.NewReader(out)); ; packages++ {
		var p struct {
			ImportPath, Dir                   string
			GoFiles, CgoFiles, IgnoredGoFiles []string
			Error                             *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		if p.ImportPath == thisPackage {
			continue
		}
		for _, name := range slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles) {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			uses, err := sealUses(filepath.Join(p.Dir, name))
			if err != nil {
				t.Error(err)
			}
			if p.ImportPath == stage {
				stageSeals += len(uses)
				continue
			}
			for _, u := range uses {
				t.Errorf("%s refers to protected.%s: only worker/protect may make tokens and ciphertexts", u.pos, u.name)
			}
		}
	}
	// Not vacuous: the module was read, and the stage's own sealing was seen.
	if packages < 10 || stageSeals == 0 {
		t.Errorf("read %d packages and found %d uses in worker/protect: the check is not reading the module", packages, stageSeals)
	}
}

// TestSealUsesFindsEveryWay runs the check on testdata/misuse, whose files
// mark each use it must find with a "// want" comment: through a named, an
// aliased and a dot import, as calls and as function values; and nothing for
// other functions of this package or another SealTokens.
func TestSealUsesFindsEveryWay(t *testing.T) {
	files, err := filepath.Glob("testdata/misuse/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	wantComment := regexp.MustCompile(`// want (\w+)`)
	var got, want []string
	for _, file := range files {
		uses, err := sealUses(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range uses {
			got = append(got, fmt.Sprintf("%s:%d %s", file, u.pos.Line, u.name))
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := wantComment.FindStringSubmatch(line); m != nil {
				want = append(want, fmt.Sprintf("%s:%d %s", file, i+1, m[1]))
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("found\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

type sealUse struct {
	pos  token.Position
	name string
}

// sealUses returns the references to a sealing function in the Go file at
// path. It reads syntax, not types: an import of this package under any name
// is followed, and a dot import makes every identifier of a sealer's name a
// use, which can only err on the strict side.
func sealUses(path string) ([]sealUse, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var name string // what the file calls this package; "." for a dot import
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p != thisPackage {
			continue
		}
		name = "protected"
		if imp.Name != nil {
			name = imp.Name.Name
		}
	}
	if name == "" || name == "_" {
		return nil, nil
	}
	var uses []sealUse
	add := func(id *ast.Ident) { uses = append(uses, sealUse{fset.Position(id.Pos()), id.Name}) }
	var visit func(ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == name && sealers[n.Sel.Name] {
				add(n.Sel)
			}
			ast.Inspect(n.X, visit) // not n.Sel: x.SealTokens of another x is not ours
			return false
		case *ast.Ident:
			if name == "." && sealers[n.Name] {
				add(n)
			}
		}
		return true
	}
	for _, d := range f.Decls {
		ast.Inspect(d, visit)
	}
	return uses, nil
}
