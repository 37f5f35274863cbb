package clickanddrop

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/failure"
)

// Outcome is what became of one Request.
type Outcome uint8

const (
	// Done: the courier has the order (created now or before), or no longer
	// has it (cancelled now, or never had it).
	Done Outcome = iota + 1
	// Retry: try the request again later, after RetryAfter when the courier
	// said so, else after the dispatcher's backoff.
	Retry
	// Failed: the courier refused the request; sending it again cannot help.
	// The dispatcher parks it.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Failed:
		return "failed"
	}
	return "outcome " + strconv.Itoa(int(o))
}

// Result is the answer to one Request, at the same index.
type Result struct {
	Outcome Outcome
	// RetryAfter is the courier's Retry-After, when it gave one (Retry only).
	RetryAfter time.Duration
	// Err says why a request is not Done. It names fields, rules, HTTP
	// statuses and the provider's error codes, never a value of the order
	// nor any text the provider echoed back.
	Err error
	// OrderIdentifiers are Click & Drop's ids of the order (create, Done).
	OrderIdentifiers []int64
}

// ErrUnauthorized is matched (errors.Is) by the error Send returns when
// Click & Drop refuses the API key (401) or the feature (403): no job can
// succeed until an operator acts, so the dispatcher stops instead of parking
// every job.
var ErrUnauthorized = errors.New("clickanddrop: API key refused")

// HTTPError is a call Click & Drop answered with an error status. Code is
// the provider's error code when it is a plain token; its message is never
// kept (it may quote the order), only its length.
type HTTPError struct {
	Op         string // "create", "lookup", "delete"
	Status     int
	Code       string
	MessageLen int
	// RetryAfter is the answer's Retry-After, if any.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("clickanddrop %s: HTTP %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += ", code " + e.Code
	}
	if e.MessageLen > 0 {
		s += fmt.Sprintf(", message of %d characters withheld", e.MessageLen)
	}
	return s
}

// FailureClass lets failure.Of classify an HTTPError: 401/403 stop the
// worker; 429 and 5xx are transient; any other status is the order's fault.
func (e *HTTPError) FailureClass() failure.Class {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return failure.Worker
	case retryableStatus(e.Status):
		return failure.Transient
	}
	return failure.Order
}

func (e *HTTPError) Is(target error) bool {
	return target == ErrUnauthorized && e.FailureClass() == failure.Worker
}

// OrderError is Click & Drop's refusal of one order of a batch
// (failedOrders[].errors[]): its error codes and the names of the fields
// they are about. The echoed order, the messages and the fields' values are
// never kept.
type OrderError struct {
	Codes  []int
	Fields []string
}

func (e *OrderError) Error() string {
	s := "clickanddrop create: order refused"
	if len(e.Codes) > 0 {
		codes := make([]string, len(e.Codes))
		for i, c := range e.Codes {
			codes[i] = strconv.Itoa(c)
		}
		s += ", error codes " + strings.Join(codes, ",")
	}
	if len(e.Fields) > 0 {
		s += ", fields " + strings.Join(e.Fields, ",")
	}
	return s
}

// token is what an identifier the provider sends back must look like to be
// quoted in an error: a field name or a code, never free text.
var token = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.\[\]-]{0,63}$`)

func safeToken(s string) string {
	if token.MatchString(s) {
		return s
	}
	return ""
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
