package clickanddrop

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/worker/failure"
)

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
	return httpcall.FailureClass(e.Status, courier.CredentialsRefused(e.Status))
}

// Is makes a refused API key match courier.ErrCredentialsRefused.
func (e *HTTPError) Is(target error) bool {
	return target == courier.ErrCredentialsRefused && courier.CredentialsRefused(e.Status)
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
