package pipelinetest

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

// Fixture is one of the normaliser's fixture messages and what the shipped
// channels' normaliser makes of it.
type Fixture struct {
	Name  string      // folder and file name without ".json", such as "ebay/cancelled"
	File  string      // the path it was read from
	Value []byte      // the message, without its trailing newline (as a producer sends it)
	Order order.Order // the normalised order; zero when Err is set
	Err   error       // why the normaliser refused it (a bad fixture), or nil
}

// Fixtures reads and normalises the fixture messages that match the patterns
// (filepath.Glob patterns, such as "../normalize/testdata/ebay/*.json"), pattern
// by pattern, each in file name order, leaving out the expected outputs
// (normalizetest.Files). A message that does not normalise is returned with its
// error: which fixtures must be good is the caller's rule.
func Fixtures(t testing.TB, patterns ...string) []Fixture {
	t.Helper()
	normalizer, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out []Fixture
	for _, f := range normalizetest.Files(t, patterns...) {
		v := bytes.TrimRight(normalizetest.Read(t, f), "\n")
		o, err := normalizer.Normalize(v)
		name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, Fixture{Name: name, File: f, Value: v, Order: o, Err: err})
	}
	return out
}

// Orders returns the normalised fixtures of the dirs (the normaliser's testdata
// folders, such as ../normalize/testdata/ebay; not their bad/ subfolders),
// folder by folder in file name order. Every one must normalise: a fixture the
// normaliser refuses fails the test.
func Orders(t testing.TB, dirs ...string) []Fixture {
	t.Helper()
	var out []Fixture
	for _, dir := range dirs {
		for _, f := range Fixtures(t, filepath.Join(dir, "*.json")) {
			if f.Err != nil {
				t.Fatalf("%s: %v", f.File, f.Err)
			}
			out = append(out, f)
		}
	}
	return out
}

// Canonical returns the fixtures' canonical orders, in the same order.
func Canonical(fs []Fixture) []order.Order {
	out := make([]order.Order, len(fs))
	for i, f := range fs {
		out[i] = f.Order
	}
	return out
}

// GoodFixtures returns the first n messages of dir (one of the normaliser's
// testdata folders, such as ../normalize/testdata/ebay) that normalise
// without error, in file name order, or fails the test.
func GoodFixtures(t testing.TB, dir string, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range Fixtures(t, filepath.Join(dir, "*.json")) {
		if f.Err == nil {
			out = append(out, f.Value)
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("fewer than %d good fixtures in %s", n, dir)
	return nil
}
