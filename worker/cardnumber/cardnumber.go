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
		spans = r.appendCards(spans, s)
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
// digits, split into its groups. It lives on the stack: scanning allocates nothing.
type run struct {
	digits  [maxRunDigits]byte
	n       int
	groups  [maxRunGroups]group
	ngroups int
}

// group is one stretch of digits within a run.
type group struct {
	start, end int // byte offsets in the scanned string
	first, n   int // index of its first digit in run.digits, and how many
}

const (
	maxDigits    = 19 // the longest card number
	maxRunDigits = 256
	maxRunGroups = 64
)

// scan reads the run starting at s[i] (a digit) and returns its end. A run longer
// than the buffers is cut at a group boundary; the rest is scanned as a new run.
func (r *run) scan(s string, i int) int {
	r.n, r.ngroups = 0, 0
	g := group{start: i}
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c) && r.n < maxRunDigits:
			r.digits[r.n] = c
			r.n++
			g.n++
			i++
			continue
		case (c == ' ' || c == '-') && i+1 < len(s) && isDigit(s[i+1]) && r.ngroups < maxRunGroups-1 && r.n < maxRunDigits:
			g.end = i
			r.groups[r.ngroups] = g
			r.ngroups++
			g = group{start: i + 1, first: r.n}
			i++
			continue
		}
		break
	}
	g.end = i
	r.groups[r.ngroups] = g
	r.ngroups++
	return i
}

// appendCards appends the card numbers within the run: the longest card-like
// stretch of whole groups starting at each group, so that "Flat 3 4111 1111 1111
// 1111" yields the card without the flat number.
func (r *run) appendCards(spans []Span, s string) []Span {
	for i := 0; i < r.ngroups; i++ {
		for j := r.ngroups - 1; j >= i; j-- {
			if r.isCardNumber(s, i, j) {
				spans = append(spans, Span{Start: r.groups[i].start, End: r.groups[j].end})
				i = j
				break
			}
		}
	}
	return spans
}

// isCardNumber reports whether groups i..j form a card number.
func (r *run) isCardNumber(s string, i, j int) bool {
	first, last := r.groups[i], r.groups[j]
	n := last.first + last.n - first.first
	if n < 12 || n > maxDigits {
		return false
	}
	// "+44 7700 900123": an international phone number.
	if i == 0 && first.start > 0 && s[first.start-1] == '+' {
		return false
	}
	if j > i && !cardGrouping(r.groups[i:j+1]) {
		return false
	}
	d := r.digits[first.first : first.first+n]
	if !schemeAccepts(d) || !luhn(d) {
		return false
	}
	// 12 to 14 digits with a valid GTIN check digit: a UPC/EAN/GTIN-14 barcode.
	if n <= 14 && gtin(d) {
		return false
	}
	return true
}

// cardGrouping reports whether group sizes are how card numbers are printed or
// typed: fours with a shorter or equal tail (4-4-4-4, 4-4-4-4-3, 4-4-4-3), or the
// American Express and Diners Club layouts 4-6-5 and 4-6-4.
func cardGrouping(groups []group) bool {
	if len(groups) == 3 && groups[0].n == 4 && groups[1].n == 6 && (groups[2].n == 5 || groups[2].n == 4) {
		return true
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if !last && g.n != 4 || last && (g.n < 1 || g.n > 4) {
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
	case p2 == 36 || p4/10 >= 300 && p4/10 <= 305 || p4 == 3095: // Diners Club International
		return n >= 14 && n <= 19
	case p2 == 38 || p2 == 39: // Diners Club on the Discover network
		return n >= 16 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p4 == 6011 || p2 == 65 || p4/10 >= 644 && p4/10 <= 649: // Discover
		return n >= 16 && n <= 19
	case maestro(p4): // Maestro's issued ranges
		return n >= 12 && n <= 19
	}
	return false
}

// maestro reports the IIN prefixes Maestro issues under (UK and international).
// The scheme's nominal ranges (50, 56-69) are far wider than what it issues, and
// taking them whole would mistake marketplace line ids for cards.
func maestro(p4 int) bool {
	switch p4 {
	case 5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763, 6799:
		return true
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
