package generate

import "math/rand/v2"

// Card numbers that buyers type where they should not: Luhn-valid numbers in
// ranges the schemes issue, written as people write them. The protect stage must
// find and remove every one (promise P3); the tally counts those planted.

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

// cardNumber returns a fresh card number, formatted as typed: Visa (4, 16 digits),
// Mastercard (51-55 or 2221-2720, 16 digits) or American Express (34/37, 15
// digits, 4-6-5), grouped with spaces or dashes, or not grouped.
func cardNumber(rng *rand.Rand) string {
	var d [16]byte
	var n int
	switch r := rng.IntN(100); {
	case r < 50: // Visa
		n = 16
		d[0] = '4'
		fillDigits(rng, d[1:n-1])
	case r < 70: // Mastercard 51-55
		n = 16
		d[0], d[1] = '5', byte('1'+rng.IntN(5))
		fillDigits(rng, d[2:n-1])
	case r < 85: // Mastercard 2221-2720
		n = 16
		p := 2221 + rng.IntN(500)
		d[0], d[1], d[2], d[3] = byte('0'+p/1000), byte('0'+p/100%10), byte('0'+p/10%10), byte('0'+p%10)
		fillDigits(rng, d[4:n-1])
	default: // American Express
		n = 15
		d[0] = '3'
		if rng.IntN(2) == 0 {
			d[1] = '4'
		} else {
			d[1] = '7'
		}
		fillDigits(rng, d[2:n-1])
	}
	d[n-1] = luhnCheckDigit(d[:n-1])

	var groups []int
	if n == 15 {
		groups = []int{4, 6, 5}
	} else {
		groups = []int{4, 4, 4, 4}
	}
	var sep byte
	switch rng.IntN(5) {
	case 0:
		sep = 0 // as one run of digits
	case 1, 2:
		sep = '-'
	default:
		sep = ' '
	}
	out := make([]byte, 0, n+3)
	at := 0
	for i, g := range groups {
		if i > 0 && sep != 0 {
			out = append(out, sep)
		}
		out = append(out, d[at:at+g]...)
		at += g
	}
	return string(out)
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
