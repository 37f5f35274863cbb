package pipelinetest

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
)

// GoodFixtures returns the first n messages of dir (one of the normaliser's
// testdata folders, such as ../normalize/testdata/ebay) that normalise
// without error, in file name order, or fails the test.
func GoodFixtures(t testing.TB, dir string, n int) [][]byte {
	t.Helper()
	normalizer, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range normalizetest.Files(t, filepath.Join(dir, "*.json")) {
		v := bytes.TrimRight(normalizetest.Read(t, f), "\n")
		if _, err := normalizer.Normalize(v); err == nil {
			out = append(out, v)
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("fewer than %d good fixtures in %s", n, dir)
	return nil
}
