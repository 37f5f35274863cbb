package quickbooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/worker/failure"
)

// HTTPError is a call QuickBooks (or its token endpoint) answered with an
// error status. It keeps the fault's type and error codes (and the
// elements they name) when they are plain tokens; messages and details are
// never kept (they may quote what was sent), only their length.
type HTTPError struct {
	Op        string // "create", "query", "token"
	Status    int
	FaultType string   // ValidationFault, AuthenticationFault, ...
	Code      string   // the first error's code, or the OAuth error
	Codes     []string // every error's code
	Elements  []string // the elements the errors name
	// MessageLen is the length of the messages and details withheld.
	MessageLen int
	// RetryAfter is the wait the answer asks for: its Retry-After, or
	// Throttled for a 429 without one.
	RetryAfter time.Duration
	// GrantRefused is a token call's invalid_grant or invalid_client: the
	// credentials are refused though the status is a 400.
	GrantRefused bool
}

func (e *HTTPError) credentialsRefused() bool {
	return e.GrantRefused || courier.CredentialsRefused(e.Status)
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("quickbooks %s: HTTP %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.FaultType != "" {
		s += ", " + e.FaultType
	}
	if len(e.Codes) > 0 {
		s += ", codes " + strings.Join(e.Codes, " ")
	} else if e.Code != "" {
		s += ", error " + e.Code
	}
	if len(e.Elements) > 0 {
		s += ", elements " + strings.Join(e.Elements, " ")
	}
	if e.MessageLen > 0 {
		s += fmt.Sprintf(", message of %d characters withheld", e.MessageLen)
	}
	return s
}

// FailureClass lets failure.Of classify an HTTPError: refused credentials
// stop the worker; 429 and 5xx are transient; any other status is the
// posting's fault.
func (e *HTTPError) FailureClass() failure.Class {
	return httpcall.FailureClass(e.Status, e.credentialsRefused())
}

// Is makes refused credentials match courier.ErrCredentialsRefused.
func (e *HTTPError) Is(target error) bool {
	return target == courier.ErrCredentialsRefused && e.credentialsRefused()
}

// newHTTPError reads QuickBooks' fault ({"Fault":{"Error":[{"Message",
// "Detail","code","element"}],"type"}}) or an OAuth error ({"error",
// "error_description"}).
func newHTTPError(op string, status int, data []byte, hdr http.Header, now time.Time) *HTTPError {
	he := &HTTPError{Op: op, Status: status, RetryAfter: courier.RetryAfter(hdr.Get("Retry-After"), now)}
	if status == http.StatusTooManyRequests && he.RetryAfter == 0 {
		he.RetryAfter = Throttled
	}
	var f struct {
		Fault struct {
			Error []struct {
				Message string `json:"Message"`
				Detail  string `json:"Detail"`
				Code    string `json:"code"`
				Element string `json:"element"`
			} `json:"Error"`
			Type string `json:"type"`
		} `json:"Fault"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(data, &f) != nil {
		return he
	}
	he.FaultType = safeToken(f.Fault.Type)
	for _, e := range f.Fault.Error {
		if c := safeToken(e.Code); c != "" {
			he.Codes = append(he.Codes, c)
		}
		if el := safeToken(e.Element); el != "" {
			he.Elements = append(he.Elements, el)
		}
		he.MessageLen += len([]rune(e.Message)) + len([]rune(e.Detail))
	}
	if len(he.Codes) > 0 {
		he.Code = he.Codes[0]
	} else {
		he.Code = safeToken(f.Error)
	}
	he.MessageLen += len([]rune(f.ErrorDescription))
	return he
}

// tokenPattern is what a code or an element name looks like: short, no
// spaces. Anything else may be a quoted value and is dropped.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,40}$`)

func safeToken(s string) string {
	if tokenPattern.MatchString(s) {
		return s
	}
	return ""
}
