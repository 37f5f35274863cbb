package protected

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secretToken = "vault:v1:SECRET-TOKEN-abc123"

// sample is a protected order with every token and ciphertext set, made as
// the protect stage makes them.
func sample() Order {
	tok := SealTokens([]string{secretToken})[0]
	ct := SealCiphertexts([]string{"vault:v1:SECRET-CIPHERTEXT-xyz"})[0]
	return Order{
		TenantID:       "acme",
		ChannelOrderID: "202-1234567-1234567",
		Buyer:          BuyerTokens{Name: tok, Email: tok, Phone: tok, Username: tok, UserID: tok},
		DeliveryLabel:  ct,
		InvoiceParty:   ct,
	}
}

// TestTokensAndCiphertextsNeverPrintThemselves tries every way a value leaves
// a program by accident: fmt verbs and flags, JSON, XML, text and JSON logs,
// and printing from inside an unexported field, where fmt cannot call methods.
func TestTokensAndCiphertextsNeverPrintThemselves(t *testing.T) {
	o := sample()
	type wrapper struct{ o Order } // unexported: fmt sees the fields without their methods
	type tokenWrapper struct{ t Token }
	var outputs []string
	for _, v := range []any{o, &o, o.Buyer, o.Buyer.Email, o.DeliveryLabel, wrapper{o}, tokenWrapper{o.Buyer.Email}, []Token{o.Buyer.Name}} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
			outputs = append(outputs, fmt.Sprintf(format, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outputs = append(outputs, string(j))
		if x, err := xml.Marshal(v); err == nil {
			outputs = append(outputs, string(x))
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "v", v)
		outputs = append(outputs, logs.String())
	}
	for _, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("a token or ciphertext printed itself: %s", out)
		}
	}
	if got := fmt.Sprintf("%v|%#v|%q", o.Buyer.Email, o.Buyer.Email, o.Buyer.Email); got != `<redacted>|protected.Token(<redacted>)|"<redacted>"` {
		t.Errorf("formats = %s", got)
	}
	if got := fmt.Sprintf("%v %v", Token{}, Ciphertext{}); got != "<none> <none>" {
		t.Errorf("zero values print %q", got)
	}
	j, _ := json.Marshal(o.Buyer)
	var fields map[string]string
	if err := json.Unmarshal(j, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": redacted, "email": redacted, "phone": redacted, "username": redacted, "user_id": redacted}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("buyer JSON (-want +got):\n%s", diff)
	}
	j, _ = json.Marshal(BuyerTokens{})
	if string(j) != `{}` {
		t.Errorf("empty buyer JSON = %s", j)
	}
}

func TestValueIsTheWayOut(t *testing.T) {
	o := sample()
	if o.Buyer.Email.Value() != secretToken || o.DeliveryLabel.Value() != "vault:v1:SECRET-CIPHERTEXT-xyz" {
		t.Errorf("Value does not return the value")
	}
	if (Token{}).Value() != "" || !(Token{}).IsZero() || o.Buyer.Email.IsZero() {
		t.Errorf("zero Token misbehaves")
	}
	// go-cmp compares by value through Equal, despite the unexported field.
	other := Token{p: ptr(secretToken)}
	if diff := cmp.Diff(o.Buyer.Email, other); diff != "" {
		t.Errorf("equal tokens differ: %s", diff)
	}
	if cmp.Equal(o.Buyer.Email, Token{}) {
		t.Errorf("a token equals the zero token")
	}
}

func TestDocumentNeverPrintsItself(t *testing.T) {
	d, err := ParseDocument([]byte(`{"shipping_address.line1":"SECRET street"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Get("shipping_address.line1") != "SECRET street" || !cmp.Equal(d.Paths(), []string{"shipping_address.line1"}) {
		t.Errorf("Get/Paths do not return the fields")
	}
	j, _ := json.Marshal(d)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "d", d)
	type wrapper struct{ d Document } // unexported: fmt sees the fields without their methods
	outputs := []string{string(j), logs.String()}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} { // bad verbs too
		outputs = append(outputs, fmt.Sprintf(format, d), fmt.Sprintf(format, wrapper{d}))
	}
	if got := fmt.Sprintf("%v|%#v|%q", d, d, d); got != `<redacted>|protected.Document(<redacted>)|"<redacted>"` {
		t.Errorf("formats = %s", got)
	}
	for _, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("a document printed itself: %s", out)
		}
	}
	for _, bad := range []string{`SECRET`, `["SECRET"]`, `{"a":1}`, `null`, ``} {
		_, err := ParseDocument([]byte(bad))
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseDocument(%q) error = %v", bad, err)
		}
	}
}

// TestSealPointsIntoTheAnswers: sealing a batch's answers copies no value;
// orders that share an answer share its token.
func TestSealPointsIntoTheAnswers(t *testing.T) {
	answers := []string{"vault:v1:a", "vault:v1:b"}
	tokens, cts := SealTokens(answers), SealCiphertexts(answers)
	if len(tokens) != 2 || tokens[1].Value() != "vault:v1:b" || cts[0].Value() != "vault:v1:a" || tokens[0].IsZero() {
		t.Fatalf("sealed %v %v", tokens, cts)
	}
	if tokens[0].p != &answers[0] || cts[1].p != &answers[1] {
		t.Errorf("a sealed value was copied")
	}
	if len(SealTokens(nil)) != 0 {
		t.Errorf("sealing nothing made tokens")
	}
}

func ptr(s string) *string { return &s }
