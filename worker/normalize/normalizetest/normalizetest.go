// Package normalizetest reads the normaliser's fixture messages (worker/normalize/
// testdata) for the tests of normalize and of the stages after it, so that which files
// are messages is decided in one place.
package normalizetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files returns the fixture messages that match the patterns (filepath.Glob patterns,
// such as "testdata/ebay/*.json"), pattern by pattern, each in file name order. The
// expected outputs beside them (*.golden.json) are not messages and are left out.
func Files(t testing.TB, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, ".golden.json") {
				out = append(out, f)
			}
		}
	}
	return out
}

// Read returns the file's bytes, or fails the test.
func Read(t testing.TB, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
