package xero

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/worker/failure"
)

// HTTPError is a call Xero answered with an error status. It keeps Xero's
// error number and type, the rate limit a 429 names, and how many
// validation errors a 400 carried; never their messages (Xero's validation
// messages quote the document: a contact's name, an amount), only their
// total length.
type HTTPError struct {
	Op     string // "create invoice", "create credit note", "list accounts", "list tax rates"
	Status int
	// ErrorNumber and Type are Xero's (10, "ValidationException").
	ErrorNumber int
	Type        string
	// Problem is a 429's X-Rate-Limit-Problem ("minute", "day", ...).
	Problem string
	// Validation counts the validation errors of a 400.
	Validation int
	// MessageLen is the length of the messages withheld.
	MessageLen int
	// RetryAfter is the answer's Retry-After, if any.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("xero %s: HTTP %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Type != "" {
		s += fmt.Sprintf(", %s %d", e.Type, e.ErrorNumber)
	}
	if e.Problem != "" {
		s += ", rate limit " + e.Problem
	}
	if e.Validation > 0 {
		s += fmt.Sprintf(", %d validation errors", e.Validation)
	}
	if e.MessageLen > 0 {
		s += fmt.Sprintf(", messages of %d characters withheld", e.MessageLen)
	}
	return s
}

// FailureClass lets failure.Of classify an HTTPError: 401/403 stop the
// worker; 429 and 5xx are transient; any other status is the posting's
// fault.
func (e *HTTPError) FailureClass() failure.Class {
	return httpcall.FailureClass(e.Status, courier.CredentialsRefused(e.Status))
}

// Is makes refused credentials match courier.ErrCredentialsRefused: a 401
// that a fresh access token did not cure, or a 403 (the organisation
// disconnected the app, or the tenant id is not one it granted).
func (e *HTTPError) Is(target error) bool {
	return target == courier.ErrCredentialsRefused && courier.CredentialsRefused(e.Status)
}

// newHTTPError reads an error answer: Xero's Error ({ErrorNumber, Type,
// Message, Elements[].ValidationErrors[].Message}) or its auth problem
// ({Title, Status, Detail}).
func newHTTPError(op string, status int, hdr http.Header, data []byte, now time.Time) *HTTPError {
	he := &HTTPError{Op: op, Status: status, RetryAfter: courier.RetryAfter(hdr.Get("Retry-After"), now)}
	if status == http.StatusTooManyRequests {
		he.Problem = safeToken(strings.ToLower(hdr.Get("X-Rate-Limit-Problem")))
	}
	var e struct {
		ErrorNumber int    `json:"ErrorNumber"`
		Type        string `json:"Type"`
		Message     string `json:"Message"`
		Detail      string `json:"Detail"`
		Elements    []struct {
			ValidationErrors []struct {
				Message string `json:"Message"`
			} `json:"ValidationErrors"`
		} `json:"Elements"`
	}
	if json.Unmarshal(data, &e) == nil {
		he.ErrorNumber, he.Type = e.ErrorNumber, safeToken(e.Type)
		he.MessageLen = len([]rune(e.Message)) + len([]rune(e.Detail))
		for _, el := range e.Elements {
			for _, v := range el.ValidationErrors {
				he.Validation++
				he.MessageLen += len([]rune(v.Message))
			}
		}
	}
	return he
}

// token is what an identifier Xero sends back must look like to be quoted
// in an error: a code, a type or an id, never free text.
var token = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func safeToken(s string) string {
	if token.MatchString(s) {
		return s
	}
	return ""
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
