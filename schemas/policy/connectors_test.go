package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/config"
)

func TestTheAllowListsLoadForEveryDeclaredKind(t *testing.T) {
	a, err := LoadConnectors()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.ConnectorKinds() {
		l, err := a.For(k.Name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Purpose != k.Purpose {
			t.Errorf("%s: purpose %s, declared %s", k.Name, l.Purpose, k.Purpose)
		}
		if k.Purpose == config.PurposeAccounting {
			// P6: an accounting package gets the invoice party and amounts,
			// never the delivery address, a phone or an email.
			for src := range l.Fields {
				if strings.HasPrefix(src, "shipping_address.") || strings.HasSuffix(src, ".phone") || strings.HasSuffix(src, ".email") {
					t.Errorf("%s: %s goes to an accounting package", k.Name, src)
				}
			}
			continue
		}
		// P5's minimum: what a label cannot do without is always sent.
		for _, src := range []string{"channel_order_id", "shipping_address.name", "shipping_address.line1", "shipping_address.postal_code", "shipping_address.country_code", "parcel.weight_grams"} {
			if l.Fields[src].When != Always {
				t.Errorf("%s: %s is not always sent", k.Name, src)
			}
		}
		none := l.Sources(Switches{})
		all := l.Sources(Switches{Notifications: true, Customs: true})
		for _, src := range all {
			sensitive := slices.Contains(notificationFields, src) || IsLineSource(src) || strings.HasPrefix(src, "totals.")
			if sensitive == slices.Contains(none, src) {
				t.Errorf("%s: %s is sent without notifications and customs: %v", k.Name, src, !sensitive)
			}
		}
	}
	if _, err := a.For("mailchimp"); err == nil {
		t.Error("an undeclared kind has an allow-list")
	}
}

// Each rule of the loader refuses a list that breaks it, naming the kind
// and the field.
func TestTheLoaderRefusesWhatMustNeverLeave(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// minimal are the lists of the kinds a case does not test.
	minimal := "  webhook:\n    purpose: delivery\n    fields:\n      channel_order_id: {when: always}\n" +
		"  quickbooks:\n    purpose: accounting\n    fields:\n      totals.total: {when: always}\n"
	// list returns a file whose clickanddrop list is a valid one plus extra
	// lines, and whose other lists are minimal.
	list := func(purpose string, extra ...string) string {
		return "version: 1\nconnectors:\n  clickanddrop:\n    purpose: " + purpose + "\n    fields:\n" +
			"      channel_order_id: {when: always}\n" + strings.Join(extra, "") + minimal +
			"  xero:\n    purpose: accounting\n    fields:\n      totals.total: {when: always}\n"
	}
	// accountingList is the same with the extra lines in xero's list.
	accountingList := func(extra ...string) string {
		return "version: 1\nconnectors:\n  clickanddrop:\n    purpose: delivery\n    fields:\n      channel_order_id: {when: always}\n" + minimal +
			"  xero:\n    purpose: accounting\n    fields:\n      totals.total: {when: always}\n" + strings.Join(extra, "")
	}
	field := func(src, when string) string { return "      " + src + ": {when: " + when + "}\n" }
	prefix := "policy: connectors.yaml: clickanddrop: "
	for _, c := range []struct {
		name, file, want string
	}{
		{"buyer id", list("delivery", field("buyer.user_id", "always")), prefix + "buyer.user_id: the field policy's treatment is token"},
		{"marketplace username", list("delivery", field("buyer.username", "always")), prefix + "buyer.username: the field policy's treatment is token"},
		{"buyer email token", list("delivery", field("buyer.email", "notifications")), prefix + "buyer.email: the field policy's treatment is token"},
		{"gift message", list("delivery", field("free_text.text", "always")), prefix + "free_text.text: free text"},
		{"note kind", list("delivery", field("free_text.kind", "customs")), prefix + "free_text.kind: free text"},
		{"dropped field", list("delivery", field("billing_address.email", "always")), prefix + "billing_address.email: the field policy's treatment is drop"},
		{"invoice party to a courier", list("delivery", field("buyer.company_name", "always")), prefix + "buyer.company_name: encrypted with retention financial"},
		{"phone always", list("delivery", field("shipping_address.phone", "always")), prefix + "shipping_address.phone: the recipient's phone and email"},
		{"email for customs", list("delivery", field("shipping_address.email", "customs")), prefix + "shipping_address.email: the recipient's phone and email"},
		{"item description always", list("delivery", field("lines.title", "always")), prefix + "lines.title: item descriptions, values and tariff codes"},
		{"order value always", list("delivery", field("totals.total", "notifications")), prefix + "totals.total: item descriptions, values and tariff codes"},
		{"tariff code always", list("delivery", field("parcel.lines.tariff_code", "always")), prefix + "parcel.lines.tariff_code: item descriptions, values and tariff codes"},
		{"unknown field", list("delivery", field("shipping_address.what3words", "always")), prefix + "shipping_address.what3words: neither a field"},
		{"unknown condition", list("delivery", field("shipping_address.line1", "sometimes")), prefix + `shipping_address.line1: when "sometimes"`},
		{"marketing", list("marketing"), prefix + `purpose "marketing", but worker/config/connectors.go declares delivery`},
		{"no purpose", list(""), prefix + `purpose "", but worker/config/connectors.go declares delivery`},
		{"undeclared kind", list("delivery") + "  mailchimp:\n    purpose: delivery\n    fields: {}\n", "policy: connectors.yaml: mailchimp is not a connector kind"},
		{"missing kind", "version: 1\nconnectors:\n" + minimal,
			"policy: connectors.yaml: connector kind clickanddrop (worker/config/connectors.go) has no allow-list"},
		{"misspelt key", list("delivery", "      shipping_address.line1: {wehn: always}\n"), "field wehn not found"},
		// P6: an accounting package gets the invoice party, never the
		// delivery address, a phone or an email, nor a buyer's tokens.
		{"delivery address to accounting", accountingList(field("shipping_address.line1", "always")),
			"policy: connectors.yaml: xero: shipping_address.line1: encrypted with retention label: an accounting package gets only the invoice party's fields"},
		{"phone to accounting", accountingList(field("billing_address.phone", "always")),
			"policy: connectors.yaml: xero: billing_address.phone: the field policy's treatment is drop"},
		{"buyer email token to accounting", accountingList(field("buyer.email", "always")),
			"policy: connectors.yaml: xero: buyer.email: the field policy's treatment is token"},
		{"accounting as marketing", strings.Replace(accountingList(), "xero:\n    purpose: accounting", "xero:\n    purpose: marketing", 1),
			`policy: connectors.yaml: xero: purpose "marketing", but worker/config/connectors.go declares accounting`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseConnectors([]byte(c.file), p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant one containing %s", err, c.want)
			}
		})
	}
	// The base file itself is accepted: the refusals are the extra lines'.
	if _, err := parseConnectors([]byte(list("delivery")), p); err != nil {
		t.Errorf("the minimal file is refused: %v", err)
	}
}

func TestNeedsCustomsDeclaration(t *testing.T) {
	for _, c := range []struct {
		country, postcode string
		want              bool
	}{
		{"GB", "SW1A 1AA", false},
		{"gb", "sw1a 1aa", false},
		{"GB", "BT1 5GS", false}, // Northern Ireland: a consumer's parcel needs none
		{"GB", "", false},
		{"IM", "IM1 3LY", false}, // Isle of Man: UK customs and VAT territory
		{"GB", "IM1 3LY", false},
		{"GB", "JE2 3AB", true}, // Jersey filed under GB
		{"GB", "GY1 1AA", true}, // Guernsey
		{"GB", "GY9 3AA", true}, // Alderney
		{"JE", "JE2 3AB", true},
		{"GG", "GY1 1AA", true},
		{"IE", "D02 X285", true},
		{"DE", "10115", true},
		{"US", "10001", true},
		{"", "", true},
	} {
		if got := NeedsCustomsDeclaration(c.country, c.postcode); got != c.want {
			t.Errorf("NeedsCustomsDeclaration(%q, %q) = %v, want %v", c.country, c.postcode, got, c.want)
		}
	}
}

func ExampleAllowList_Sources() {
	a, err := LoadConnectors()
	if err != nil {
		panic(err)
	}
	l, _ := a.For("clickanddrop")
	fmt.Println(l.Sources(Switches{Notifications: true}))
	// Output:
	// [channel_order_id parcel.format parcel.service_code parcel.weight_grams purchased_at shipping_address.city shipping_address.company_name shipping_address.country_code shipping_address.county shipping_address.email shipping_address.line1 shipping_address.line2 shipping_address.line3 shipping_address.name shipping_address.phone shipping_address.postal_code shipping_address.state_or_region]
}
