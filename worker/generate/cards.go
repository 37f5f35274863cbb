package generate

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Card numbers that buyers type where they should not: Luhn-valid numbers,
// written as people write them and as someone hiding one from a scanner would.
// The protect stage must find and remove every one (promise P3); the tally
// counts those planted. Nothing else the generator writes into a field the
// stage scans holds a Luhn-valid run of 12-19 digits (a test checks), so the
// demo's "card numbers removed" equals the tally exactly.

// CardField names where a card number was planted.
type CardField int

const (
	// CardInGiftMessage: an Amazon gift message (free text).
	CardInGiftMessage CardField = iota
	// CardInCheckoutNote: an eBay buyer checkout note (free text).
	CardInCheckoutNote
	// CardInAddressLine2: the second line of the delivery address.
	CardInAddressLine2
	// NumCardFields is the number of CardField values.
	NumCardFields
)

// cardFieldNames are the tally's labels for CardField values.
var cardFieldNames = [NumCardFields]string{"gift_message", "checkout_note", "address_line2"}

func (f CardField) String() string { return cardFieldNames[f] }

// cardIssuers are the prefixes and lengths drawn, with weights: the schemes
// the scanner labels, and Luhn-valid numbers outside its issuer table (Mir,
// Dankort, Hipercard, Troy), which it must remove all the same.
var (
	cardIssuers = []struct {
		prefixes []string
		length   int
		groups   []int // how the scheme prints it
	}{
		{[]string{"4"}, 16, []int{4, 4, 4, 4}},                                    // Visa
		{[]string{"4"}, 19, []int{4, 4, 4, 4, 3}},                                 // Visa, 19 digits
		{[]string{"51", "52", "53", "54", "55"}, 16, []int{4, 4, 4, 4}},           // Mastercard
		{[]string{"2221", "2300", "2500", "2720"}, 16, []int{4, 4, 4, 4}},         // Mastercard 2-series
		{[]string{"34", "37"}, 15, []int{4, 6, 5}},                                // American Express
		{[]string{"6011", "65"}, 16, []int{4, 4, 4, 4}},                           // Discover
		{[]string{"2200", "2201", "2202", "2203", "2204"}, 16, []int{4, 4, 4, 4}}, // Mir
		{[]string{"5019"}, 16, []int{4, 4, 4, 4}},                                 // Dankort
		{[]string{"606282"}, 16, []int{4, 4, 4, 4}},                               // Hipercard
		{[]string{"9792"}, 16, []int{4, 4, 4, 4}},                                 // Troy
	}
	cardIssuerWeights = []int{30, 3, 15, 10, 12, 5, 10, 5, 5, 5}
)

// cardSeparators are what people put between digit groups; the zero-width
// space and the soft hyphen are invisible.
var (
	cardSeparators       = []string{" ", "-", ".", "  ", "\t", "\u00a0", "\u202f", "/", "–", "—", " - ", "\u200b", "\u00ad"}
	cardSeparatorWeights = []int{35, 20, 8, 5, 3, 5, 3, 4, 5, 3, 2, 4, 3}
)

// cardDigitZeros are the zeros of the digit scripts drawn: ASCII most of the
// time, full-width (CJK keyboards), Arabic-Indic and Devanagari.
var (
	cardDigitZeros       = []rune{'0', '０', '٠', '०'}
	cardDigitZeroWeights = []int{75, 10, 8, 7}
)

// cardNumber returns a fresh card number, as typed: a scheme's or another
// issuer's Luhn-valid number, in a digit script (now and then mixed), grouped
// the scheme's way, in other groups or not at all, with one kind of
// separator, sometimes behind a '+' or followed by its expiry date and code,
// digits that join its run (fewer than 12, so that the run holds this one
// card number and no other).
func (g *Generator) cardNumber() string {
	rng := g.rng
	iss := &cardIssuers[g.pick(cardIssuerWeights...)]
	n := iss.length
	var d [19]byte
	p := iss.prefixes[rng.IntN(len(iss.prefixes))]
	copy(d[:], p)
	fillDigits(rng, d[len(p):n-1])
	d[n-1] = luhnCheckDigit(d[:n-1])

	groups := iss.groups
	switch rng.IntN(20) {
	case 0, 1, 2: // one run
		groups = []int{n}
	case 3: // 4-12
		groups = []int{4, n - 4}
	case 4: // 8-8
		groups = []int{8, n - 8}
	case 5: // pairs
		groups = nil
		for left := n; left > 0; left -= 2 {
			groups = append(groups, min(2, left))
		}
	case 6, 7: // irregular
		groups = nil
		for left := n; left > 0; {
			g := min(left, 1+rng.IntN(6))
			groups = append(groups, g)
			left -= g
		}
	}
	sep := cardSeparators[g.pick(cardSeparatorWeights...)]
	pickZero := func() rune { return cardDigitZeros[g.pick(cardDigitZeroWeights...)] }
	zero, mixed := pickZero(), rng.IntN(20) == 0

	var b strings.Builder
	if rng.IntN(10) == 0 {
		b.WriteByte('+')
	}
	at := 0
	for i, g := range groups {
		if i > 0 {
			b.WriteString(sep)
		}
		for _, c := range d[at : at+g] {
			if mixed {
				zero = pickZero()
			}
			b.WriteRune(zero + rune(c-'0'))
		}
		at += g
	}
	if rng.IntN(8) == 0 { // the expiry date and the security code: up to seven more digits in the run
		fmt.Fprintf(&b, " %02d/%02d", 1+rng.IntN(12), 26+rng.IntN(6))
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, " %03d", rng.IntN(1000))
		}
	}
	return b.String()
}

func fillDigits(rng *rand.Rand, d []byte) {
	for i := range d {
		d[i] = byte('0' + rng.IntN(10))
	}
}

// luhnCheckDigit returns the digit that makes payload+digit pass the Luhn check.
func luhnCheckDigit(payload []byte) byte {
	sum := 0
	double := true // the check digit will be rightmost, so the payload's last digit doubles
	for i := len(payload) - 1; i >= 0; i-- {
		v := int(payload[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}
