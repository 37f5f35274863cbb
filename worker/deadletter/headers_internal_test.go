package deadletter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/stream"
)

type safeErr string

func (e safeErr) Error() string       { return string(e) }
func (e safeErr) SafeMessage() string { return string(e) }

// TestErrorHeaderNeverCarriesAValue: headers are stored in the clear, so the
// error header shows only what a SafeError declares safe; any other error's text,
// and any context wrapped around a SafeError, is left out, whatever value it
// quotes.
func TestErrorHeaderNeverCarriesAValue(t *testing.T) {
	safe := safeErr("invalid_value: payload.order.OrderStatus: is not an Amazon order status (19 characters: digits, spaces)")
	for _, v := range privacytest.Corpus {
		cases := map[string]struct {
			err  error
			want string
		}{
			"plain error quoting the value": {fmt.Errorf("status %q is unknown", v.Text), notShown},
			"safe error wrapped in a quote": {fmt.Errorf("order %s: %w", v.Text, safe), string(safe)},
			"safe error":                    {safe, string(safe)},
			"joined with a quote":           {errors.Join(safe, errors.New(v.Text)), string(safe)},
		}
		for name, c := range cases {
			var got string
			for _, h := range headers(Letter{Source: stream.Message{Topic: "orders.amazon"}, Reason: "invalid_value", Stage: "normalize", Err: c.err}, "now", sealedLetter{}) {
				if h.Key == HeaderError {
					got = string(h.Value)
				}
				if leaks := privacytest.Leaks(string(h.Value)); len(leaks) > 0 {
					t.Errorf("%s (%s): header %s = %q leaks %v", name, v.Kind, h.Key, h.Value, leaks)
				}
			}
			if got != c.want {
				t.Errorf("%s (%s): error header %q, want %q", name, v.Kind, got, c.want)
			}
		}
	}
	long := safeErr(strings.Repeat("x", 2*maxErrorHeader))
	if got := headerText(long); len(got) != maxErrorHeader {
		t.Errorf("a long safe message gives a header of %d bytes, want %d", len(got), maxErrorHeader)
	}
}
