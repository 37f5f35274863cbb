package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// parseAsOf reads the instant a purge evaluates retention at: "" is now;
// "+22d" or "-1y" is a calendar period from now (config.ParsePeriod's units:
// d, w, mo, y); otherwise an RFC 3339 time or a date (midnight UTC).
func parseAsOf(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return now, nil
	case s[0] == '+' || s[0] == '-':
		p, err := config.ParsePeriod(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		if s[0] == '+' {
			return p.After(now), nil
		}
		return p.Before(now), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a date (2006-01-02) or a period from now (+22d, +6y)", s)
}
