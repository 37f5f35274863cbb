package onerule_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeLayoutListsEveryPackage: the README's table of worker/'s packages
// names every package of worker/ and nothing that is not one, so that a
// newcomer's map of the code stays true as packages come and go.
func TestReadmeLayoutListsEveryPackage(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "The packages of `worker/`")
	if !ok {
		t.Fatal("README.md has no table of worker/'s packages")
	}
	if i := strings.Index(table, "\n|"); i >= 0 {
		table = table[i+1:]
	}
	table, _, _ = strings.Cut(table, "\n\n")
	listed := map[string]bool{}
	cell := regexp.MustCompile("^\\| ([^|]+) \\|")
	name := regexp.MustCompile("`([a-z0-9/-]+)`")
	sub := regexp.MustCompile(`^[a-z][a-z0-9-]*(/[a-z0-9-]+)+$`)
	for _, line := range strings.Split(table, "\n") {
		m := cell.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			listed[n[1]] = true
		}
	}
	// A package's own folder, and any named in the job's text (sub-packages for tests).
	for _, line := range strings.Split(table, "\n") {
		for _, n := range name.FindAllStringSubmatch(line, -1) {
			if sub.MatchString(n[1]) {
				listed[n[1]] = true
			}
		}
	}
	cmd := exec.Command("go", "list", "./worker/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var packages []string
	for _, p := range strings.Fields(string(out)) {
		packages = append(packages, strings.TrimPrefix(p, "github.com/orderflow/orderflow/worker/"))
	}
	for _, p := range packages {
		if !listed[p] {
			t.Errorf("worker/%s is not in the README's table of packages", p)
		}
	}
	for p := range listed {
		if !slices.Contains(packages, p) && !strings.Contains(p, ".") {
			t.Errorf("the README's table of packages names %s, which is not a package of worker/", p)
		}
	}
}
