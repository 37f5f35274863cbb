package transit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/failure"
)

// Error is a Vault request that failed, after any retries. Its message names
// the operation, the key and Vault's reason, never a value sent or received.
type Error struct {
	// Op is the operation: "hmac", "encrypt", "decrypt", "create_key", "login"...
	Op string
	// Key is the transit key, or "" for requests that are not about a key.
	Key string
	// Attempts is how many HTTP requests were made.
	Attempts int
	// Temporary says Vault was unavailable, overloaded or unreachable (5xx, 429,
	// connection errors) until the attempts or the context ran out: the same call
	// may succeed later. Other failures (permission denied, bad request) will not.
	Temporary bool
	// KeyMissing says the key does not exist in Vault (its 400 was checked by
	// reading the key): errors.Is(err, ErrKeyNotFound) is true. A key removed by
	// hand is created again by the next HMAC or Encrypt; Decrypt never creates
	// one, so its ciphertexts are lost (the purpose of crypto-shredding).
	KeyMissing bool
	// recreatable says the next call creates the missing key again.
	recreatable bool
	// Err is the last failure: an *api.ResponseError (with StatusCode), a network
	// error or a context error.
	Err error
}

// ErrKeyNotFound is matched (errors.Is) by an *Error whose key does not exist.
var ErrKeyNotFound = errors.New("transit: key not found")

// Is makes errors.Is(err, ErrKeyNotFound) true for an *Error with KeyMissing.
func (e *Error) Is(target error) bool { return target == ErrKeyNotFound && e.KeyMissing }

// KeyNotFound reports KeyMissing, for callers that declare
// interface{ KeyNotFound() bool } rather than import this package.
func (e *Error) KeyNotFound() bool { return e.KeyMissing }

func (e *Error) Error() string {
	what := "vault " + e.Op
	if e.Key != "" {
		what += " " + e.Key
	}
	tries := "1 attempt"
	if e.Attempts != 1 {
		tries = fmt.Sprintf("%d attempts", e.Attempts)
	}
	if e.KeyMissing {
		what += " (the key does not exist)"
	}
	return fmt.Sprintf("%s (%s): %s", what, tries, oneLine(e.Err))
}

func (e *Error) Unwrap() error { return e.Err }

// FailureClass says what the pipeline should do about e (worker/failure): a
// temporary failure, a canceled call or a missing key that the next call
// creates again is retried; any other is permanent for the worker, since it
// is about the worker's credentials, policy or configuration, never one
// order's data: Vault refused the token or its policy (401, 403, after one
// login more where there is a login to repeat), a key the client may not
// create is missing, or Vault refused a request as malformed.
func (e *Error) FailureClass() failure.Class {
	if e.Temporary || e.recreatable || errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) {
		return failure.Transient
	}
	return failure.Worker
}

// StatusCode is the HTTP status of Vault's answer, or 0 when there was none.
func StatusCode(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// BatchError reports the items of a call that Vault refused while it processed
// the others. The call returns no results when it reports one.
type BatchError struct {
	Op    string
	Key   string
	Total int         // items in the call
	Items []ItemError // the failed ones, by index
}

// ItemError is one failed item: its index in the call's input and Vault's
// reason, which is withheld if it would quote the item.
type ItemError struct {
	Index  int
	Reason string
}

// maxListedItems keeps a BatchError's message short when many items fail.
const maxListedItems = 5

func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vault %s %s: %d of %d items failed:", e.Op, e.Key, len(e.Items), e.Total)
	for i, it := range e.Items {
		if i == maxListedItems {
			fmt.Fprintf(&b, "; and %d more", len(e.Items)-maxListedItems)
			break
		}
		sep := " "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%sitem %d: %s", sep, it.Index, it.Reason)
	}
	return b.String()
}

// itemReason returns Vault's reason for a failed item unless it contains the
// item in any form we sent or could have been given: Vault's transit errors do
// not quote inputs, but this is the one place an error could carry one, so it
// is checked rather than trusted.
func itemReason(reason string, forms ...string) string {
	if reason == "" {
		return "failed without a reason"
	}
	for _, f := range forms {
		if f == "" {
			continue
		}
		if strings.Contains(reason, f) || strings.Contains(reason, base64.StdEncoding.EncodeToString([]byte(f))) {
			return "failed (Vault's reason is withheld: it quotes the item)"
		}
	}
	return reason
}

// sanitize drops what an error could carry from the wire beyond Vault's own
// messages: a non-JSON error body (from a proxy, say) could echo the request.
func sanitize(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) && re.RawError {
		clean := *re
		n := 0
		for _, s := range re.Errors {
			n += len(s)
		}
		clean.Errors = []string{fmt.Sprintf("(a non-JSON body of %d bytes, not shown)", n)}
		return &clean
	}
	return err
}

// oneLine flattens api.ResponseError's multi-line message for logs and wrapping.
func oneLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("%s %s: status %d: %s", re.HTTPMethod, re.URL, re.StatusCode, strings.Join(re.Errors, "; "))
	}
	return err.Error()
}
