// Package normalize turns a raw channel message (the envelope of DESIGN.md around an
// Amazon SP-API or eBay Sell Fulfillment order) into a canonical order.Order, or a
// *Error that says why it cannot, for the dead-letter topic.
//
// It is pure: no Kafka, ClickHouse, Vault or net/http (a test on its imports keeps it
// so). Errors never quote personal data: they name the field and the rule broken.
package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Reason classifies why a message could not be normalised. It is the DLQ's `reason`
// header and a metric label, so the set is small and fixed.
type Reason string

const (
	// ReasonMalformedJSON: the message is not valid JSON.
	ReasonMalformedJSON Reason = "malformed_json"
	// ReasonBadEnvelope: the envelope lacks tenant, channel, received_at or payload.
	ReasonBadEnvelope Reason = "bad_envelope"
	// ReasonUnknownChannel: the envelope names a channel this worker does not read.
	ReasonUnknownChannel Reason = "unknown_channel"
	// ReasonSchemaMismatch: a value has the wrong JSON type for the channel's schema.
	ReasonSchemaMismatch Reason = "schema_mismatch"
	// ReasonMissingField: a field the channel's schema requires is absent or empty.
	ReasonMissingField Reason = "missing_field"
	// ReasonBadAmount: a money amount or currency cannot be read exactly.
	ReasonBadAmount Reason = "bad_amount"
	// ReasonInvalidValue: a value is outside what the channel allows (unknown
	// status, negative quantity, unparsable timestamp).
	ReasonInvalidValue Reason = "invalid_value"
)

// Reasons lists every Reason.
var Reasons = []Reason{
	ReasonMalformedJSON, ReasonBadEnvelope, ReasonUnknownChannel, ReasonSchemaMismatch,
	ReasonMissingField, ReasonBadAmount, ReasonInvalidValue,
}

// Error is a normalisation failure. Its message names the reason and the field
// path, never a personal-data value.
type Error struct {
	Reason Reason
	// Field is the JSON path of the offending field in the message, such as
	// "payload.items[1].ItemPrice.Amount"; empty when the whole message is at fault.
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Reason, e.Field, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of a normalisation error, or "" for other errors.
func ReasonOf(err error) Reason {
	var ne *Error
	if errors.As(err, &ne) {
		return ne.Reason
	}
	return ""
}

func fail(reason Reason, field string, format string, args ...any) *Error {
	return &Error{Reason: reason, Field: field, Err: fmt.Errorf(format, args...)}
}

// envelope is the wrapper every input message has (DESIGN.md, external contract).
type envelope struct {
	TenantID   string          `json:"tenant_id"`
	Channel    string          `json:"channel"`
	ReceivedAt string          `json:"received_at"`
	Payload    json.RawMessage `json:"payload"`
}

// maxTenantIDLen bounds tenant ids, which become ClickHouse keys and Vault key names.
const maxTenantIDLen = 64

// Normalize decodes one message and returns its canonical order. Every failure is an
// *Error with a Reason.
func Normalize(msg []byte) (order.Order, error) {
	var env envelope
	if err := decodeJSON(msg, "", &env); err != nil {
		return order.Order{}, err
	}
	if env.TenantID == "" {
		return order.Order{}, fail(ReasonBadEnvelope, "tenant_id", "missing")
	}
	if !validTenantID(env.TenantID) {
		return order.Order{}, fail(ReasonBadEnvelope, "tenant_id", "must be 1-%d characters of a-z, 0-9, '-' and '_'", maxTenantIDLen)
	}
	if env.ReceivedAt == "" {
		return order.Order{}, fail(ReasonBadEnvelope, "received_at", "missing")
	}
	receivedAt, err := parseTime(env.ReceivedAt)
	if err != nil {
		return order.Order{}, &Error{Reason: ReasonBadEnvelope, Field: "received_at", Err: err}
	}
	if len(env.Payload) == 0 || bytes.Equal(env.Payload, []byte("null")) {
		return order.Order{}, fail(ReasonBadEnvelope, "payload", "missing")
	}
	var o order.Order
	switch order.Channel(env.Channel) {
	case order.ChannelAmazon:
		o, err = normalizeAmazon(env.Payload)
	case order.ChannelEbay:
		o, err = normalizeEbay(env.Payload)
	case "":
		return order.Order{}, fail(ReasonBadEnvelope, "channel", "missing")
	default:
		return order.Order{}, fail(ReasonUnknownChannel, "channel", "%q is not a channel this worker reads (amazon, ebay)", truncate(env.Channel, 32))
	}
	if err != nil {
		return order.Order{}, err
	}
	o.SchemaVersion = order.SchemaVersion
	o.TenantID = env.TenantID
	o.ReceivedAt = receivedAt
	return o, nil
}

func validTenantID(s string) bool {
	if len(s) == 0 || len(s) > maxTenantIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// decodeJSON unmarshals data into v and turns a failure into an *Error: syntax
// errors are malformed (or truncated) JSON, type errors are schema mismatches that
// name the field under prefix. Neither message contains the offending value.
func decodeJSON(data []byte, prefix string, v any) *Error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		if syntaxErr.Offset >= int64(len(data)) {
			return &Error{Reason: ReasonMalformedJSON, Field: prefix, Err: errors.New("truncated JSON")}
		}
		return &Error{Reason: ReasonMalformedJSON, Field: prefix, Err: fmt.Errorf("invalid JSON at byte %d", syntaxErr.Offset)}
	case errors.As(err, &typeErr):
		return &Error{Reason: ReasonSchemaMismatch, Field: joinPath(prefix, typeErr.Field),
			Err: fmt.Errorf("JSON %s where the schema has %s", typeErr.Value, typeErr.Type)}
	default:
		return &Error{Reason: ReasonSchemaMismatch, Field: prefix, Err: errors.New("cannot decode JSON")}
	}
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// parseTime reads an ISO 8601 / RFC 3339 timestamp, with or without fractional
// seconds, and returns it in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp is not RFC 3339")
	}
	return t.UTC(), nil
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
