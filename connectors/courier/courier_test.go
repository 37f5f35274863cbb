package courier_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
)

// The one retry policy: what each answer calls for, and its label.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		status  int
		outcome courier.Outcome
		label   string
	}{
		{200, courier.Done, courier.LabelDone},
		{201, courier.Done, courier.LabelDone},
		{204, courier.Done, courier.LabelDone},
		{429, courier.Retry, courier.LabelRateLimited},
		{500, courier.Retry, courier.LabelServerError},
		{502, courier.Retry, courier.LabelServerError},
		{503, courier.Retry, courier.LabelServerError},
		{400, courier.Failed, courier.LabelRejected},
		{404, courier.Failed, courier.LabelRejected},
		{422, courier.Failed, courier.LabelRejected},
		{301, courier.Failed, courier.LabelRejected}, // redirects are never followed
	} {
		if o, l := courier.Classify(c.status); o != c.outcome || l != c.label {
			t.Errorf("Classify(%d) = %s, %s; want %s, %s", c.status, o, l, c.outcome, c.label)
		}
	}
	for status, want := range map[int]bool{401: true, 403: true, 400: false, 429: false, 500: false} {
		if courier.CredentialsRefused(status) != want {
			t.Errorf("CredentialsRefused(%d) != %v", status, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999999":                      24 * time.Hour, // capped
		"Thu, 03 Dec 2026 12:00:30 GMT": 30 * time.Second,
		"Thu, 03 Dec 2026 11:59:00 GMT": 0, // past
	} {
		if got := courier.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestTransportLabel(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: timeoutErr{}}
	for err, want := range map[error]string{
		context.DeadlineExceeded:                         courier.LabelTimeout,
		fmt.Errorf("post: %w", context.DeadlineExceeded): courier.LabelTimeout,
		timeout:                          courier.LabelTimeout,
		errors.New("connection refused"): courier.LabelConnection,
		&net.OpError{Op: "dial", Err: errors.New("no route to host")}: courier.LabelConnection,
	} {
		if got := courier.TransportLabel(err); got != want {
			t.Errorf("TransportLabel(%v) = %s, want %s", err, got, want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
