// Package cardnumber finds payment card numbers (PANs) that buyers type into free
// text, names and address lines, so that they are removed before anything is
// stored, logged or forwarded (promise P3). Pure: no I/O.
//
// A match is a run of 12 to 19 digits, contiguous or grouped the way cards are
// printed (4-4-4-4, 4-6-5, ...), separated by single spaces or dashes, that is
// Luhn-valid and has a length and issuer prefix (IIN) that a card scheme uses. The
// extra conditions keep look-alikes out: Amazon order ids (3-7-7), phone numbers
// (a leading +, or lengths and prefixes no scheme issues), GTIN/EAN barcodes (their
// own check digit), tracking numbers and SKUs.
package cardnumber

import "strings"

// Replacement stands where a card number was.
const Replacement = "[card number removed]"

// Span is a match's byte range [Start, End) in the scanned string.
type Span struct{ Start, End int }

// Find returns the card numbers in s, in order.
func Find(s string) []Span {
	var spans []Span
	var r run
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		end := r.scan(s, i)
		if r.isCardNumber(s, i) {
			spans = append(spans, Span{Start: i, End: end})
		}
		i = end
	}
	return spans
}

// Redact returns s with every card number replaced by Replacement, and how many
// there were. A string without one is returned as it is, without allocating.
func Redact(s string) (string, int) {
	if !hasDigitRun(s) {
		return s, 0
	}
	spans := Find(s)
	if len(spans) == 0 {
		return s, 0
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.Start])
		b.WriteString(Replacement)
		last = sp.End
	}
	b.WriteString(s[last:])
	return b.String(), len(spans)
}

// hasDigitRun is a fast pre-check: at least 12 digits in the string at all.
func hasDigitRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
			if n >= 12 {
				return true
			}
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// run is one maximal run of digits, where a single space or dash may separate two
// digits. It lives on the stack: scanning allocates nothing.
type run struct {
	digits  [maxDigits + 1]byte
	n       int // digits in the run (may exceed maxDigits; only the first are kept)
	groups  [maxDigits + 1]int
	ngroups int
}

const maxDigits = 19

// scan reads the run starting at s[i] (a digit) and returns its end.
func (r *run) scan(s string, i int) int {
	r.n, r.ngroups = 0, 0
	group := 0
	endGroup := func() {
		if r.ngroups < len(r.groups) {
			r.groups[r.ngroups] = group
		}
		r.ngroups++
	}
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			if r.n < len(r.digits) {
				r.digits[r.n] = c
			}
			r.n++
			group++
			i++
		case (c == ' ' || c == '-') && i+1 < len(s) && isDigit(s[i+1]):
			endGroup()
			group = 0
			i++
		default:
			endGroup()
			return i
		}
	}
	endGroup()
	return i
}

func (r *run) isCardNumber(s string, start int) bool {
	if r.n < 12 || r.n > maxDigits {
		return false
	}
	// "+44 7700 900123": an international phone number.
	if start > 0 && s[start-1] == '+' {
		return false
	}
	if r.ngroups > 1 && !cardGrouping(r.groups[:r.ngroups]) {
		return false
	}
	d := r.digits[:r.n]
	if !schemeAccepts(d) || !luhn(d) {
		return false
	}
	// 12 to 14 digits with a valid GTIN check digit: a UPC/EAN/GTIN-14 barcode.
	if r.n <= 14 && gtin(d) {
		return false
	}
	return true
}

// cardGrouping reports whether group sizes are how card numbers are printed or
// typed: fours with a shorter or equal tail (4-4-4-4, 4-4-4-4-3, 4-4-4-3), or the
// American Express and Diners Club layouts 4-6-5 and 4-6-4.
func cardGrouping(groups []int) bool {
	if len(groups) == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4) {
		return true
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if !last && g != 4 || last && (g < 1 || g > 4) {
			return false
		}
	}
	return true
}

// schemeAccepts reports whether some card scheme issues numbers with this prefix
// and length (ISO/IEC 7812 issuer ranges as the schemes publish them).
func schemeAccepts(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p2 == 36 || p2 == 38 || p2 == 39 || p4/10 >= 300 && p4/10 <= 305: // Diners Club
		return n >= 14 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p4 == 6011 || p2 == 65 || p4/10 >= 644 && p4/10 <= 649: // Discover
		return n >= 16 && n <= 19
	case p2 == 50 || p2 >= 56 && p2 <= 69: // Maestro
		return n >= 12 && n <= 19
	}
	return false
}

// luhn is the card check digit (ISO/IEC 7812-1 Annex B).
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// gtin is the GS1 check digit of UPC-A, EAN-13 and GTIN-14: weights 3 and 1
// alternating from the right, the check digit excluded.
func gtin(d []byte) bool {
	sum := 0
	for i := len(d) - 2; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-2-i)%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return (10-sum%10)%10 == int(d[len(d)-1]-'0')
}
