package cardnumber

import (
	"strings"
	"testing"
)

// The schemes' published test numbers, as buyers type them.
var cards = []string{
	"4111111111111111",    // Visa
	"4111 1111 1111 1111", // Visa, grouped
	"4012-8888-8888-1881", // Visa, dashes
	"4000056655665556",    // Visa debit
	"4222222222222",       // Visa, 13 digits
	"5555555555554444",    // Mastercard
	"5555 5555 5555 4444",
	"2223003122003222",  // Mastercard 2-series
	"378282246310005",   // American Express
	"3782 822463 10005", // American Express, 4-6-5
	"371449635398431",
	"6011111111111117",    // Discover
	"6011 0009 9013 9424", // Discover
	"30569309025904",      // Diners Club, 14 digits
	"3056 930902 5904",    // Diners Club, 4-6-4
	"3530111333300000",    // JCB
	"6759649826438453",    // Maestro (UK)
	"6200000000000005",    // UnionPay
	"6799990100000000019", // Maestro, 19 digits
}

func TestFindsCardNumbersInText(t *testing.T) {
	for _, card := range cards {
		for _, text := range []string{
			card,
			"please charge " + card + " thanks",
			"Flat 2, " + card + ", Rose Street",
			"card:" + card + ".",
			"(" + card + ")",
		} {
			got, n := Redact(text)
			if n != 1 || strings.Contains(got, card) || !strings.Contains(got, Replacement) {
				t.Errorf("Redact(%q) = %q, %d; want the card removed", text, got, n)
			}
		}
	}
}

// A card beside another number is still found, and the other number kept.
func TestFindsCardsBesideOtherNumbers(t *testing.T) {
	cases := map[string]string{
		"Flat 3 4111 1111 1111 1111":           "Flat 3 " + Replacement,
		"PO Box 12 6011 0009 9013 9424":        "PO Box 12 " + Replacement,
		"4111 1111 1111 1111 12":               Replacement + " 12",
		"Unit 7-5555 5555 5555 4444":           "Unit 7-" + Replacement,
		"tel 020 7946 0958 4111111111111111":   "tel 020 7946 0958 " + Replacement,
		"3782 822463 10005 and 30569309025904": Replacement + " and " + Replacement,
	}
	for in, want := range cases {
		if got, _ := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactKeepsTheRest(t *testing.T) {
	got, n := Redact("Gift for Zoë — card 4111 1111 1111 1111, exp 12/29, and 5555555555554444!")
	want := "Gift for Zoë — card " + Replacement + ", exp 12/29, and " + Replacement + "!"
	if got != want || n != 2 {
		t.Errorf("got %q, %d\nwant %q, 2", got, n, want)
	}
}

// Real-looking identifiers that must survive. Each numeric one here is chosen to be
// Luhn-valid, so the test fails if the other rules stop working.
func TestNoFalsePositives(t *testing.T) {
	keep := map[string]string{
		"Amazon order id (3-7-7)":             "202-8362759-3910736",
		"Amazon order id starting with 4":     "405-0000000-0000001",
		"eBay order id":                       "12-34567-89015",
		"eBay legacy order id":                "110234567890-2123456789006",
		"eBay item id":                        "123456789015",
		"UK mobile, international":            "+44 7700 900123",
		"UK mobile, international, compact":   "+447700900973",
		"UK mobile without plus":              "447700900122",
		"UK landline":                         "020 7946 0958",
		"US phone":                            "+1 415 555 0123",
		"UK EAN-13 barcode":                   "5012345671093",
		"German EAN-13 barcode":               "4006381330060",
		"UPC-A barcode":                       "036000290035",
		"GTIN-14":                             "15012345670093",
		"Royal Mail tracking":                 "AB123456789GB",
		"DPD parcel number (14 digits)":       "15501234567899",
		"FedEx tracking (12 digits)":          "794612345676",
		"USPS tracking (22 digits)":           "9400111899223197428497",
		"UPS tracking":                        "1Z999AA10123456784",
		"Yodel tracking":                      "JD0002212345678905",
		"SKU":                                 "SKU-4111-BLUE-XL",
		"date and amount":                     "2026-11-28 £1,299.99",
		"sort code and account":               "12-34-56 12345678",
		"IBAN":                                "GB33 BUKB 2020 1555 5555 55",
		"card-like but bad Luhn":              "4111111111111112",
		"Visa prefix, impossible length (14)": "41111111111114",
		"Mastercard prefix, 15 digits":        "555555555555442",
		"too long to be a card (20 digits)":   "41111111111111111115",
		"odd grouping 3-7-7 of a Visa":        "411-1111111-111111",
	}
	for name, s := range keep {
		if got, n := Redact(s); n != 0 || got != s {
			t.Errorf("%s: Redact(%q) = %q, %d; want it kept", name, s, got, n)
		}
	}
}

// TestLookAlikesAreLuhnValid: the numeric look-alikes above are only a test of the
// other rules if they pass the Luhn check (and the barcodes their GTIN check).
func TestLookAlikesAreLuhnValid(t *testing.T) {
	digitsOf := func(s string) []byte { return []byte(strings.NewReplacer("-", "", " ", "", "+", "").Replace(s)) }
	for _, s := range []string{
		"202-8362759-3910736", "405-0000000-0000001", "12-34567-89015", "110234567890-2123456789006",
		"123456789015", "+447700900973", "61822093417510", "50123456789014", "447700900122", "15501234567899", "794612345676",
		"9400111899223197428497", "41111111111114", "555555555555442", "41111111111111111115", "411-1111111-111111",
	} {
		if !luhn(digitsOf(s)) {
			t.Errorf("%s is not Luhn-valid: it proves nothing as a look-alike", s)
		}
	}
	for _, s := range []string{"5012345671093", "4006381330060", "036000290035", "15012345670093"} {
		if !luhn(digitsOf(s)) || !gtin(digitsOf(s)) {
			t.Errorf("barcode %s must pass both the Luhn and the GTIN check", s)
		}
	}
	for _, c := range cards {
		if !luhn(digitsOf(c)) {
			t.Errorf("test card %s is not Luhn-valid", c)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	inputs := map[string]string{
		"no-digits":  "Please leave the parcel with the neighbour at number twelve, thank you!",
		"address":    "Flat 3, 221B Baker Street, London NW1 6XE",
		"amazon-id":  "Order 202-8362759-3910733 arrived damaged",
		"with-card":  "My card is 4111 1111 1111 1111 please use it",
		"long-title": strings.Repeat("Organic cotton bath towel 600gsm 70x140cm ", 12),
	}
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Redact(in)
			}
		})
	}
}
