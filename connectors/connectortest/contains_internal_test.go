package connectortest

import "testing"

// A numeric personal value counts where it stands apart, not inside a longer
// run of digits such as a duration; any other value counts anywhere.
func TestContainsValue(t *testing.T) {
	for _, c := range []struct {
		text, v string
		want    bool
	}{
		{`"postcode":"10115"`, "10115", true},
		{`"rows":10115,`, "10115", true},
		{`"duration":1101154`, "10115", false},
		{`"elapsed":"3.101159ms"`, "10115", false},
		{`"at":"2026-12-04 10115x"`, "10115", true},
		{`ann example`, "ann example", true},
		{`joann examples`, "ann example", true},
		{`nothing here`, "10115", false},
	} {
		if got := containsValue(c.text, c.v); got != c.want {
			t.Errorf("containsValue(%q, %q) = %v, want %v", c.text, c.v, got, c.want)
		}
	}
}
