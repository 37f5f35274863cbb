package webhook

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/outbox"
)

// Request is one courier job as the dispatcher hands it over: its
// allow-listed projection, already decrypted, with what identifies the work.
type Request struct {
	Kind outbox.Kind
	// IdempotencyKey is the job's (outbox.IdempotencyKey): sent as webhook-id
	// and in the body, the same on every redelivery.
	IdempotencyKey string
	// OrderReference is what the courier files the shipment under; a cancel
	// names the order to cancel by it.
	OrderReference string
	// Fields are the allow-listed values by dotted path ("recipient.name",
	// "package.weight_grams", "service"), sent nested under "shipment".
	// Values are strings, booleans or numbers (int, int64, float64,
	// json.Number). Empty on a cancel.
	Fields map[string]any
}

// Outcome is what became of one request.
type Outcome string

const (
	// Done: the courier has the work (2xx), or had it already (409).
	Done Outcome = "done"
	// Retry: try again later, after Result.RetryAfter when the courier said.
	Retry Outcome = "retry"
	// Failed: the courier refused the request for good (4xx other than 409
	// and 429), or it cannot be sent; park it.
	Failed Outcome = "failed"
)

// Result says, for the request at the same index, what became of it.
type Result struct {
	Outcome Outcome
	// RetryAfter is the courier's Retry-After on a retry, 0 when it gave none.
	RetryAfter time.Duration
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Err says why on Retry and Failed: the status or the transport error,
	// never a field's value nor anything of the response body.
	Err error
}

// BodyVersion is the version of the body's format, its "v" member.
const BodyVersion = 1

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	segmentPattern = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// body is the JSON a request posts:
//
//	{"v":1,"kind":"create","idempotency_key":"…","order_reference":"…",
//	 "shipment":{"recipient":{"name":"…",…},"package":{…},"service":"…"}}
//
// Members come out sorted (encoding/json sorts map keys), so a redelivery's
// body is byte for byte the first one's.
func body(req Request) ([]byte, error) {
	switch req.Kind {
	case outbox.KindCreate, outbox.KindCancel:
	default:
		return nil, fmt.Errorf("kind: not create or cancel (%d characters)", len(req.Kind))
	}
	if !idPattern.MatchString(req.IdempotencyKey) {
		// Standard Webhooks: the id must not hold a '.', which delimits the
		// signed content.
		return nil, fmt.Errorf("idempotency key: want 1 to 128 of [A-Za-z0-9_-], got %d characters", len(req.IdempotencyKey))
	}
	if req.OrderReference == "" {
		return nil, fmt.Errorf("order reference: empty")
	}
	doc := map[string]any{
		"v":               BodyVersion,
		"kind":            req.Kind,
		"idempotency_key": req.IdempotencyKey,
		"order_reference": req.OrderReference,
	}
	if req.Kind == outbox.KindCancel && len(req.Fields) > 0 {
		return nil, fmt.Errorf("fields: a cancel sends none, got %d", len(req.Fields))
	}
	if req.Kind == outbox.KindCreate {
		shipment, err := nest(req.Fields)
		if err != nil {
			return nil, err
		}
		doc["shipment"] = shipment
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err) // nest let only encodable values through
	}
	return b, nil
}

// nest turns dotted paths into nested objects, refusing a path that is also
// another's parent, and a value of a type a courier cannot take. Errors name
// the path and the type, never the value.
func nest(fields map[string]any) (map[string]any, error) {
	root := map[string]any{}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	slices.Sort(paths) // a parent sorts before its children: found on the first clash
	for _, path := range paths {
		value := fields[path]
		switch value.(type) {
		case string, bool, int, int64, float64, json.Number:
		default:
			return nil, fmt.Errorf("field %s: unsupported type %T", path, value)
		}
		segments := strings.Split(path, ".")
		node := root
		for i, seg := range segments {
			if !segmentPattern.MatchString(seg) {
				return nil, fmt.Errorf("field path %q: segments are [a-z0-9_]+", path)
			}
			if i == len(segments)-1 {
				if _, taken := node[seg]; taken {
					return nil, fmt.Errorf("field %s: also a parent of other fields", path)
				}
				node[seg] = value
				break
			}
			child, ok := node[seg].(map[string]any)
			if !ok {
				if _, taken := node[seg]; taken {
					return nil, fmt.Errorf("field %s: under another field's value", path)
				}
				child = map[string]any{}
				node[seg] = child
			}
			node = child
		}
	}
	return root, nil
}
