package main

import (
	"testing"
	"time"
)

func TestParseAsOf(t *testing.T) {
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"":                          now,
		"+22d":                      time.Date(2026, 12, 20, 18, 0, 0, 0, time.UTC),
		"+6y":                       time.Date(2032, 11, 28, 18, 0, 0, 0, time.UTC),
		"-3w":                       time.Date(2026, 11, 7, 18, 0, 0, 0, time.UTC),
		"2030-01-02":                time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
		"2030-01-02T03:04:05+01:00": time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := parseAsOf(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseAsOf(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"tomorrow", "+22", "22d", "2030-13-01"} {
		if got, err := parseAsOf(in, now); err == nil {
			t.Errorf("parseAsOf(%q) = %s, want an error", in, got)
		}
	}
}
