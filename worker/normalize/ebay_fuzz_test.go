package normalize

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

// FuzzNormalizeEbay feeds the eBay normaliser anything: it must never panic, every
// failure must be a *Error with one of the Reasons, and every order it returns must
// keep the canonical invariants. Each input is tried as a whole message (Normalize)
// and as a bare payload (normalizeEbay), so that mutations reach the payload decoder
// even where they break the envelope. Seeds: every eBay fixture, good and bad, as a
// message and as its payload.
func FuzzNormalizeEbay(f *testing.F) {
	for _, file := range normalizetest.Files(f, "testdata/ebay/*.json", "testdata/ebay/bad/*.json") {
		msg := normalizetest.Read(f, file)
		f.Add(msg)
		var env struct{ Payload json.RawMessage }
		if json.Unmarshal(msg, &env) == nil && len(env.Payload) > 0 {
			f.Add([]byte(env.Payload))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Messages that the envelope sends to the Amazon normaliser are its own
		// fuzz target's business.
		var env struct{ Channel string }
		if json.Unmarshal(data, &env) != nil || env.Channel != string(order.ChannelAmazon) {
			o, err := Normalize(data)
			checkFuzzError(t, err)
			if err == nil {
				checkInvariants(t, o)
				checkUTF8(t, reflect.ValueOf(o))
			}
		}
		o, err := normalizeEbay(data, latestTime)
		checkFuzzError(t, err)
		if err == nil {
			checkUTF8(t, reflect.ValueOf(o))
		}
	})
}

// checkFuzzError holds for every error a normaliser returns, whatever its input.
func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ne *Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %q is a %T, not a *normalize.Error", err, err)
	}
	if ne.Reason == "" || !slices.Contains(Reasons, ne.Reason) {
		t.Fatalf("error %q has reason %q, not one of %v", err, ne.Reason, Reasons)
	}
	// Messages name a field and a rule; values are described only by their shape, so
	// a long message would mean a payload echoed into the DLQ headers.
	if len(err.Error()) > 400 {
		t.Fatalf("error message of %d bytes: %.200s...", len(err.Error()), err)
	}
}

// checkUTF8 fails if any string in v is not valid UTF-8.
func checkUTF8(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			t.Fatalf("string %q is not UTF-8", v.String())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkUTF8(t, v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkUTF8(t, v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			checkUTF8(t, v.Elem())
		}
	}
}
