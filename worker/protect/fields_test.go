package protect

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// TestFieldTablesMatchTheTypes: the stage's tables name each canonical order
// field exactly once, and every kept field has a place of the same path in
// protected.Order, which is what lets the conformance test compare them by
// path.
func TestFieldTablesMatchTheTypes(t *testing.T) {
	canonical := LeafPaths(reflect.TypeFor[order.Order]())
	out := LeafPaths(reflect.TypeFor[protected.Order]())
	seen := map[string]string{}
	note := func(path, table string) {
		if other, dup := seen[path]; dup {
			t.Errorf("%s is in both %s and %s", path, other, table)
		}
		seen[path] = table
	}
	for _, p := range keptPaths {
		note(p, "keptPaths")
		if !slices.Contains(out, p) {
			t.Errorf("kept field %s has no field of that path in protected.Order", p)
		}
	}
	for _, p := range droppedPaths {
		note(p, "droppedPaths")
	}
	for p := range personalFields {
		note(p, "personalFields")
	}
	for _, p := range canonical {
		if _, ok := seen[p]; !ok {
			t.Errorf("canonical order field %s is in none of the stage's tables", p)
		}
	}
	for p := range seen {
		if !slices.Contains(canonical, p) {
			t.Errorf("the stage's tables name %s, which the canonical order does not have", p)
		}
	}
	for p := range tokenSlots {
		if personalFields[p] == nil || !slices.Contains(out, p) {
			t.Errorf("token slot %s is not a personal field with a place in protected.Order", p)
		}
	}
	for name, from := range derivedFields {
		if !slices.Contains(out, name) || personalFields[from] == nil {
			t.Errorf("derived %s: no place in protected.Order, or %s is not a personal field", name, from)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x1f\x7f",
		"Zoë Brontë — 🎂", "<b>&amp;</b>", "bad \xff utf-8 \xc3", "\u2028 separators \u2029",
	} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: not JSON: %v", s, got, err)
			continue
		}
		want := []rune(s) // invalid bytes come back as U+FFFD, as with encoding/json
		if string(want) != back {
			t.Errorf("appendJSONString(%q) round-trips to %q", s, back)
		}
	}
}
