package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// TestJSONReaderStrings: strings decode as encoding/json decodes them, invalid UTF-8
// and unpaired surrogates included; malformed documents are malformed JSON.
func TestJSONReaderStrings(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `""`, `"Zoë Brontë 🙏"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u0141\u00f3d\u017a"`,
		`"\ud83d\ude4f"`, `"\ud83d"`, `"\ude4f x"`, `"\ud83d\u0041"`, "\"bad \xff utf8 \xc3\"", "\"trunc \xe2\x82\"",
		`"\u0000"`, "\"\xed\xa0\x80\"", `"\ud83d\ud83d\ude4f"`, "\"\xf0\x9f\x99\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		var r jsonReader
		r.reset([]byte(lit), "payload")
		sp := r.str("x")
		r.end()
		if r.err != nil {
			t.Fatalf("%s: %v", lit, r.err)
		}
		if got := sp.in(string(r.buf)); got != want {
			t.Errorf("%s: got %q, want %q", lit, got, want)
		}
	}
	for _, bad := range []string{`"abc`, `"a\x"`, `"\u12"`, "\"a\x01\"", `"\`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `01`, `-`, `1.`, `1e`, `tru`, `nul`, ``, ` `, `1 2`, `{"a":1}}`} {
		var r jsonReader
		r.reset([]byte(bad), "payload")
		r.skip()
		r.end()
		if ReasonOf(r.err) != ReasonMalformedJSON {
			t.Errorf("%s: error %v, want malformed JSON", bad, r.err)
		}
		if json.Valid([]byte(bad)) {
			t.Errorf("%s is valid JSON after all", bad)
		}
	}
}

// TestJSONReaderSyntaxErrors pins the words and byte positions of syntax errors. N in
// "at byte N" is the 1-based position of the first byte that cannot continue valid
// JSON, as encoding/json counted it (its SyntaxError.Offset) for every case here but
// bad escapes, where it is the escape's backslash.
func TestJSONReaderSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"orderId":"1"`, "malformed_json: payload: truncated JSON"},
		{`{"orderId":"1`, "malformed_json: payload: truncated JSON"},
		{`{"a":[{"b":nul`, "malformed_json: payload: truncated JSON"},
		{``, "malformed_json: payload: truncated JSON"},
		{"  \n", "malformed_json: payload: truncated JSON"},
		{`{"orderId":} `, "malformed_json: payload: invalid JSON (at byte 12)"},
		{`{"orderId":}`, "malformed_json: payload: invalid JSON (at byte 12)"}, // encoding/json: "truncated"
		{`{"orderId" "1"}`, "malformed_json: payload: invalid JSON (at byte 12)"},
		{`xx`, "malformed_json: payload: invalid JSON (at byte 1)"},
		{`{"a":[1,2} `, "malformed_json: payload: invalid JSON (at byte 10)"},
		{`{"a":tru} `, "malformed_json: payload: invalid JSON (at byte 9)"},
		{`{"a":1} x `, "malformed_json: payload: invalid JSON (at byte 9)"},
		{`{"a":1} {}`, "malformed_json: payload: invalid JSON (at byte 9)"},
		{`{"a":1,}`, "malformed_json: payload: invalid JSON (at byte 8)"},
		{"{\"a\":\"b\x01\"}", "malformed_json: payload: invalid JSON (at byte 8)"},
		{`{"a":"\x"}`, "malformed_json: payload: invalid JSON (at byte 7)"}, // encoding/json: 8, the x
		{`{"a":1,"a":2}`, "malformed_json: payload: duplicate object member name (at byte 8)"},
		{`{"a":{"b":1,"\u0062":2}}`, "malformed_json: payload: duplicate object member name (at byte 13)"},
	} {
		// Each document read two ways: as one value, as the envelope reads a payload
		// or skips a member, and token by token, as a normaliser reads it.
		for _, way := range []struct {
			name string
			read func(r *jsonReader)
		}{{"value", (*jsonReader).skip}, {"tokens", walk}} {
			var r jsonReader
			r.reset([]byte(c.doc), "payload")
			way.read(&r)
			r.end()
			if r.err == nil || r.err.Error() != c.want {
				t.Errorf("%q read as %s: got %v, want %s", c.doc, way.name, r.err, c.want)
			}
		}
	}
}

// walk reads a value token by token with the reader's methods, as a normaliser does.
func walk(r *jsonReader) {
	switch r.peek() {
	case '{':
		r.beginObject("")
		for {
			if _, ok := r.nextKey(); !ok {
				return
			}
			walk(r)
		}
	case '[':
		r.beginArray("")
		for r.nextElem() {
			walk(r)
		}
	case '"':
		r.str("")
	case 't', 'f':
		r.boolean("")
	case '0':
		r.skip()
	default:
		r.token() // null, or the syntax error of a value that is none
	}
}

// TestJSONReaderEscapedNames: member names match after unescaping, as a reader of the
// JSON (not of its bytes) must.
func TestJSONReaderEscapedNames(t *testing.T) {
	var r jsonReader
	r.reset([]byte(`{"\u006frderId":"1","a\"b":2}`), "")
	var names []string
	if r.beginObject("") {
		for {
			name, ok := r.nextKey()
			if !ok {
				break
			}
			names = append(names, string(name))
			r.skip()
		}
	}
	r.end()
	if r.err != nil || strings.Join(names, ",") != `orderId,a"b` {
		t.Errorf("names %q, error %v", names, r.err)
	}
}

// TestJSONReaderIntegers: the schema's int32, nothing else.
func TestJSONReaderIntegers(t *testing.T) {
	for _, c := range []struct {
		doc     string
		want    int64
		present bool
		err     string
	}{
		{`0`, 0, true, ""},
		{`-0`, 0, true, ""},
		{`7`, 7, true, ""},
		{`-2147483648`, -2147483648, true, ""},
		{`2147483647`, 2147483647, true, ""},
		{`null`, 0, false, ""},
		{`2147483648`, 0, false, "schema_mismatch: payload.q: JSON number where the schema has integer"},
		{`12345678901`, 0, false, "schema_mismatch: payload.q: JSON number where the schema has integer"},
		{`1.0`, 0, false, "schema_mismatch: payload.q: JSON number where the schema has integer"},
		{`1e2`, 0, false, "schema_mismatch: payload.q: JSON number where the schema has integer"},
		{`"1"`, 0, false, "schema_mismatch: payload.q: JSON string where the schema has integer"},
		{`true`, 0, false, "schema_mismatch: payload.q: JSON bool where the schema has integer"},
	} {
		var r jsonReader
		r.reset([]byte(c.doc), "payload")
		n, present := r.integer("q")
		r.end()
		got := ""
		if r.err != nil {
			got = r.err.Error()
		}
		if n != c.want || present != c.present || got != c.err {
			t.Errorf("%s: got %d, %v, %q; want %d, %v, %q", c.doc, n, present, got, c.want, c.present, c.err)
		}
	}
}

// within reports whether sub is a part of whole's memory: whether changing a byte of
// whole changes sub.
func within(sub, whole []byte) bool {
	if len(sub) == 0 {
		return false
	}
	first := sub[0]
	for i := range whole {
		whole[i] ^= 0xff
		changed := sub[0] != first
		whole[i] ^= 0xff
		if changed {
			return true
		}
	}
	return false
}

// TestEnvelopePayload: a payload after the channel is read in place by the channel's
// decoder; one before it is kept as the message's own bytes, not a copy, for the
// channel's normaliser.
func TestEnvelopePayload(t *testing.T) {
	const payload = `{"orderId":"1","x":[1,{"y":"z"}]}`
	for _, c := range []struct {
		msg     string
		inPlace bool
	}{
		{`{"tenant_id":"acme","channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":` + payload + `}`, true},
		{`{"payload":` + payload + `,"tenant_id":"acme","received_at":"2026-11-02T10:00:00Z","channel":"ebay"}`, false},
		{` { "payload" : ` + payload + ` , "channel" : "ebay" } `, false},
		{`{"channel":"walmart","payload":` + payload + `}`, false},
	} {
		b := []byte(c.msg)
		var r jsonReader
		env := envelope{channels: testNormalizer.channels}
		if err := env.read(&r, b); err != nil {
			t.Fatalf("%s: %v", c.msg, err)
		}
		if c.inPlace {
			if env.decoder == nil || env.payload != nil || env.payloadErr != nil {
				t.Errorf("%s: payload not read in place (bytes %q, error %v)", c.msg, env.payload, env.payloadErr)
			}
		} else if string(env.payload) != payload || !within(env.payload, b) {
			t.Errorf("%s: payload %s is not the message's own bytes", c.msg, env.payload)
		}
		if env.decoder != nil {
			env.decoder.release()
		}
	}
	// What the reader relies on for speed: jsontext reads a bytes.Buffer in place, and
	// the values it returns are slices of the buffer's bytes.
	b := []byte(`{"payload":` + payload + `}`)
	dec := jsontext.NewDecoder(bytes.NewBuffer(b))
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	v, err := dec.ReadValue()
	if err != nil || !within(v, b) {
		t.Errorf("jsontext copied the value (error %v)", err)
	}
}

// TestEnvelopeReading covers what the envelope reader decides beyond the bad fixtures.
func TestEnvelopeReading(t *testing.T) {
	const tail = `"received_at":"2026-11-02T10:00:00Z","payload":{}}`
	for _, c := range []struct{ msg, want string }{
		// A syntax error anywhere outranks a member of the wrong type, as it did with
		// encoding/json; of two wrong types, the first is reported.
		{`{"tenant_id":42,"channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":{"a":}}`, "malformed_json: invalid JSON (at byte 86)"},
		{`{"channel":7,"tenant_id":42,` + tail, "schema_mismatch: channel: JSON number where the schema has string"},
		{`{"tenant_id":"acme","channel":["ebay"],` + tail, "schema_mismatch: channel: JSON array where the schema has string"},
		{`{"tenant_id":"acme","channel":"ebay","tenant_id":"evil",` + tail, "malformed_json: duplicate object member name (at byte 38)"},
		// Names are the schema's, exactly.
		{`{"Tenant_ID":"acme","channel":"ebay",` + tail, "bad_envelope: tenant_id: missing"},
		{`[]`, "schema_mismatch: JSON array where the schema has object"},
		{`null`, "bad_envelope: tenant_id: missing"},
		{`{"tenant_id":"acme","channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":null}`, "bad_envelope: payload: missing"},
		{`{"tenant_id":"acme","channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":"x"}`, "schema_mismatch: payload: JSON string where the schema has object"},
		{`{"tenant_id":"acme","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":[]}`, "schema_mismatch: payload: JSON array where the schema has object"},
		{`{"tenant_id":null,"channel":"ebay",` + tail, "bad_envelope: tenant_id: missing"},
		// Repeated names in the payload, read in place or kept as bytes.
		{`{"tenant_id":"acme","channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":{"orderId":"1","orderId":"2"}}`, "malformed_json: duplicate object member name (at byte 100)"},
		{`{"tenant_id":"acme","payload":{"orderId":"1","orderId":"2"},"channel":"ebay","received_at":"2026-11-02T10:00:00Z"}`, "malformed_json: duplicate object member name (at byte 46)"},
		// A fault in the payload read in place ranks below the envelope's own faults
		// and below malformed JSON after it.
		{`{"tenant_id":"ACME","channel":"ebay","received_at":"2026-11-02T10:00:00Z","payload":{"orderId":7}}`, `bad_envelope: tenant_id: must be 1-64 characters of a-z, 0-9, '-' and '_' (4 characters: letters)`},
		{`{"tenant_id":"acme","channel":"ebay","payload":{"orderId":7,"x":[1,{"y":2}]},"received_at":"2026-11-02T10:00:00Z"}`, "schema_mismatch: payload.orderId: JSON number where the schema has string"},
		{`{"tenant_id":"acme","channel":"ebay","payload":{"orderId":7,"x":[1,{"y":2}]},"received_at":"2026-11-02T10:00:00Z",}`, "malformed_json: invalid JSON (at byte 115)"},
		{`{"tenant_id":"acme","channel":"amazon","payload":{"order":{"AmazonOrderId":["x"]},"items":[{]},"received_at":"2026-11-02T10:00:00Z"}`, "malformed_json: invalid JSON (at byte 93)"},
		{`{"tenant_id":"acme","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"items":[]},"x":}`, "malformed_json: invalid JSON (at byte 104)"},
		{`{"tenant_id":"acme","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"items":[]},"x":1}`, "missing_field: payload.order: missing"},
		{`{"tenant_id":"acme","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"order":{"orderId":1}},"x":1}`, "schema_mismatch: payload.order.orderId: JSON number where the schema has string"},
	} {
		_, err := Normalize([]byte(c.msg))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.msg, err, c.want)
		}
	}
}

// TestPlainText checks the eight-bytes-at-a-time test against the plain one, with
// the byte in question at every place.
func TestPlainText(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for at := 0; at < n; at++ {
			for _, c := range []byte{'\\', 0x80, 0xff, 0xc3, '"' + 0x80, '\\' + 0x80, 'a', 0x7f, 0x5b, 0x5d, 0x1c} {
				b := bytes.Repeat([]byte{'x'}, n)
				b[at] = c
				want := c != '\\' && c < 0x80
				if got := plainText(b); got != want {
					t.Errorf("plainText(%q) = %v", b, got)
				}
			}
		}
	}
}
