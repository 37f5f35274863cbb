package normalize

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
)

// FuzzNormalize feeds whole messages, seeded with every fixture of every channel and
// of the envelope, good and bad, each also with its payload moved before its channel.
// Beyond what the channels' fuzz targets check:
//   - malformed_json exactly when encoding/json finds the message invalid, or for a
//     repeated member name, which it lets through;
//   - the envelope's fields as encoding/json reads them;
//   - the same outcome whether the payload comes after the channel (read in place)
//     or before it (kept as bytes and read once the channel is known).
func FuzzNormalize(f *testing.F) {
	for _, file := range normalizetest.Files(f, "testdata/amazon/*.json", "testdata/amazon2026/*.json", "testdata/ebay/*.json",
		"testdata/amazon/bad/*.json", "testdata/ebay/bad/*.json", "testdata/envelope/*.json") {
		msg := normalizetest.Read(f, file)
		f.Add(msg)
		if first := payloadFirst(msg); first != nil {
			f.Add(first)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		o, err := Normalize(msg)
		valid := json.Valid(msg)
		if err != nil {
			checkFuzzError(t, err)
			malformed := ReasonOf(err) == ReasonMalformedJSON
			if malformed && valid && !strings.Contains(err.Error(), "duplicate object member name") {
				t.Fatalf("valid JSON, but %v", err)
			}
			if !malformed && !valid {
				t.Fatalf("invalid JSON, but %v", err)
			}
		} else {
			if !valid {
				t.Fatalf("invalid JSON normalised")
			}
			checkInvariants(t, o)
			checkUTF8(t, reflect.ValueOf(o))
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("canonical order does not marshal: %v", err)
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(msg, &env); err != nil {
				t.Fatal(err)
			}
			var tenant, receivedAt string
			if json.Unmarshal(env["tenant_id"], &tenant) != nil || json.Unmarshal(env["received_at"], &receivedAt) != nil {
				t.Fatalf("envelope fields unreadable by encoding/json")
			}
			if at, err := time.Parse(time.RFC3339Nano, receivedAt); err != nil || o.TenantID != tenant || !o.ReceivedAt.Equal(at) {
				t.Fatalf("tenant %q received %v; encoding/json reads %q %q", o.TenantID, o.ReceivedAt, tenant, receivedAt)
			}
		}
		first := payloadFirst(msg)
		if first == nil {
			return
		}
		o2, err2 := Normalize(first)
		switch {
		case (err == nil) != (err2 == nil):
			t.Fatalf("payload after the channel: %v; before it: %v", err, err2)
		case err == nil:
			if diff := cmp.Diff(o, o2); diff != "" {
				t.Fatalf("the payload's place changes the order (-after +before):\n%s", diff)
			}
		case ReasonOf(err) != ReasonMalformedJSON && err.Error() != err2.Error():
			// Malformed JSON is told by its byte, which moved; other faults must agree.
			t.Fatalf("payload after the channel: %v; before it: %v", err, err2)
		}
	})
}

// payloadFirst returns msg with its payload member moved to the front, or nil when
// msg is not a JSON object with a payload and no repeated names.
func payloadFirst(msg []byte) []byte {
	dec := jsontext.NewDecoder(bytes.NewReader(msg), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	var payload []byte
	rest := []byte{}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		name = bytes.Clone(name)
		value, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		member := append(append(append(name, ':'), value...), ',')
		if string(name) == `"payload"` {
			payload = member
		} else {
			rest = append(rest, member...)
		}
	}
	if _, err := dec.ReadToken(); err != nil || payload == nil {
		return nil
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil // more than one value, or not JSON after it
	}
	out := append(append([]byte{'{'}, payload...), rest...)
	out[len(out)-1] = '}'
	return out
}
