package protected

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
)

// Document is the plaintext inside a Ciphertext, for the roles that decrypt
// one (the courier and accounting connectors): a flat JSON object whose keys are
// canonical order field paths as the policy names them
// ("shipping_address.line1", "buyer.tax_id") and whose values are those
// fields' text after the card number scrub. Fields without a value are left
// out. Keyed by path, the document follows the policy: a field the policy
// starts or stops encrypting appears or disappears without a format change.
//
// A Document is personal data in plaintext, so it prints, formats, logs and
// marshals as "<redacted>"; Get is the way to a value.
type Document struct {
	// fields returns the map, rather than being it, so that fmt shows an
	// address where it cannot call Format (a Document in an unexported field):
	// it prints a map's contents, and a function's address.
	fields func() map[string]string
}

// ParseDocument reads a decrypted Document. Its errors never quote the text.
func ParseDocument(plaintext []byte) (Document, error) {
	var fields map[string]string
	if err := json.Unmarshal(plaintext, &fields); err != nil || fields == nil {
		return Document{}, fmt.Errorf("protected: a document of %d bytes is not a JSON object of strings", len(plaintext))
	}
	return Document{fields: func() map[string]string { return fields }}, nil
}

// Get returns the value of the field at path, or "" when the document has none.
func (d Document) Get(path string) string {
	if d.fields == nil {
		return ""
	}
	return d.fields()[path]
}

// Paths returns the paths of the fields the document holds, sorted.
func (d Document) Paths() []string {
	if d.fields == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(d.fields()))
}

func (d Document) String() string   { return redacted }
func (d Document) GoString() string { return "protected.Document(" + redacted + ")" }

// Format prints "<redacted>" for every verb, %#v and %x included.
func (d Document) Format(f fmt.State, verb rune) {
	format(f, verb, "protected.Document", new(string)) // non-nil: shown as "<redacted>"
}
func (d Document) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (d Document) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (d Document) LogValue() slog.Value         { return slog.StringValue(redacted) }
