package cardnumber

import (
	"strings"
	"testing"
)

// benchInputs are what the protect stage meets, most of it without a card:
// prose, addresses, ids and phone numbers, and the worst cases (long digit
// runs, non-ASCII text). Each case reports its throughput in MB/s.
var benchInputs = []struct{ name, in string }{
	{"no-digits", "Please leave the parcel with the neighbour at number twelve, thank you!"},
	{"address", "Flat 3, 221B Baker Street, London NW1 6XE"},
	{"amazon-id", "Order 202-8362759-3910733 arrived damaged"},
	{"phone", "+44 20 7946 0958"},
	{"with-card", "My card is 4111 1111 1111 1111 please use it"},
	{"unicode-card", "カード番号は４１１１ １１１１ １１１１ １１１１です"},
	{"long-title", strings.Repeat("Organic cotton bath towel 600gsm 70x140cm ", 12)},
	{"welsh-prose", strings.Repeat("Diolch yn fawr am yr anrheg hyfryd — Nadolig Llawen i chi gyd! ", 8)},
	{"digits-1k", strings.Repeat("0123456789", 100)},
}

func BenchmarkRedact(b *testing.B) {
	for _, c := range benchInputs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				Redact(c.in)
			}
		})
	}
}

// BenchmarkNewBMP is what building the table of the Basic Multilingual Plane
// costs every process that imports the package, once, at initialisation.
func BenchmarkNewBMP(b *testing.B) {
	for b.Loop() {
		newBMP()
	}
}
