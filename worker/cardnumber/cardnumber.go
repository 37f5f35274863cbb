// Package cardnumber finds payment card numbers (PANs) in anything a person can
// type, so that the protect stage removes them before anything is stored, logged
// or forwarded (promise P3). Pure: no I/O.
//
// The rule: every Luhn-valid window of 12 to 19 digits in a run of digits is a
// card number. A run is a sequence of digits of any script (ASCII, full-width,
// Arabic-Indic, Devanagari, ...; see chars.go for the exact classes) in which
// any number of separators may stand between two digits: whitespace of every
// kind, punctuation (dots, dashes, slashes, brackets), symbols of every
// category (| ~ ^ = $ < > ` + − ° ⁄ £ ×, emoji), U+FFFD and bytes that are not
// UTF-8 (what a JSON lone surrogate or a broken byte becomes), invisible format
// and control characters (zero-width space, soft hyphen, word joiner),
// combining marks, and the modifier letters drawn as a dash or an apostrophe
// (the katakana prolonged sound mark ー that Japanese input methods type for
// '-', the Arabic tatweel, ʼ). Letters of words and numbers that are not digits
// (fractions, Roman numerals) end a run. So "4111 1111 1111 1111",
// "4111.1111.1111.1111", "4111-1111 1111\t1111", "4111|1111|1111|1111",
// "4111ー1111ー1111ー1111", "４１１１１１１１１１１１１１１１", "+4111111111111111",
// "411111111111 1111" and "ref 99 4111111111111111 12/29" all hold the same
// card.
//
// Every window of every run is checked, whatever its grouping or the digits
// around it, and what is removed is the union of the valid windows: each set
// of overlapping windows becomes one match, from the first digit of its first
// window to the last digit of its last, mapped back to byte offsets of the
// original string (multibyte digits and separators included). A match is
// counted once, however many windows it merges.
//
// No issuer prefix, length, grouping or look-alike exclusion filters matches:
// the issuer table only labels a match with its Scheme for the metric, and a
// Luhn-valid number outside it (Mir, Dankort, Hipercard, ...) is Other. The
// price is false positives: a run of 12 or more digits holds a Luhn-valid
// window with probability about 1 - 0.9^w for its w windows (one in ten for 12
// digits, nine in ten for a 22-digit tracking number). Measured on 5,000
// realistic values of each kind that hold no card (falsepositive_test.go, which
// fails if a kind is taken more often than its windows predict): national UK
// phone numbers, amounts, postcodes, address lines, dates, ASINs and tracking
// numbers with letters 0%; sizes such as "2291 × 784 × 2341 mm" 0.6% (the
// sign joins their digits); eBay order and item ids, UPC-A barcodes and
// international phone numbers 10%; dates with times 14%; +44 phone numbers 19%;
// EAN-13 barcodes 29%; 12-14 digit tracking numbers 35%; an Amazon order id
// typed into a note 84%; 16-22 digit tracking numbers 89%. That is why the
// identifiers marketplaces assign (Amazon order and item ids, ASINs, eBay order,
// line item and item ids) are not scanned but held to their documented formats
// by the normaliser (schemas/policy/order-fields.yaml, card_scan).
//
// Scanning is O(n): each digit costs at most eight comparisons of prefix sums
// (scan.go), and a string without a card number allocates nothing.
package cardnumber

import (
	"strings"
	"unicode/utf8"
)

// Replacement stands where a card number was.
const Replacement = "[card number removed]"

// Match is one card number found: its byte range [Start, End) in the scanned
// string, from its first digit to its last, and the scheme its issuer prefix
// belongs to.
type Match struct {
	Start, End int
	Scheme     Scheme
}

// Find returns the card numbers in s, in order; nil, without allocating, when
// there are none. It asks MayContain first, which settles most strings.
func Find(s string) []Match {
	if !MayContain(s) {
		return nil
	}
	var sc scanner
	return sc.scan(s, nil)
}

// Redact returns s with every card number replaced by Replacement, and the
// matches it replaced. A string without one is returned as it is, without
// allocating. Like Find, it asks MayContain first.
func Redact(s string) (string, []Match) {
	if !MayContain(s) {
		return s, nil
	}
	return RedactCandidate(s)
}

// RedactCandidate is Redact for a string that MayContain has accepted: it
// scans s at once, without asking MayContain again. It is for a caller that
// decides something between the two, as the protect stage does (it looks a
// field up among those exempt from the scan only when its string may hold a
// card number). On any other string it gives Redact's answer, only more slowly.
func RedactCandidate(s string) (string, []Match) {
	var sc scanner
	ms := sc.scan(s, nil)
	if len(ms) == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + len(ms)*len(Replacement))
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(Replacement)
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String(), ms
}

// MayContain reports whether some run of s has 12 digits: a quick test that
// rules out most strings before a scan (Find and Redact make it first). A
// false answer is certain; a true one is not (no window of the run may pass
// Luhn).
func MayContain(s string) bool {
	// Most strings are ASCII with fewer than 12 digits in all: the quickest
	// count there is settles them.
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return hasLongRun(s)
		}
		n += int(asciiDigit[c])
	}
	return n >= minDigits && hasLongRun(s)
}

// hasLongRun reports whether some run of s has 12 digits.
func hasLongRun(s string) bool {
	n := 0 // digits in the current run
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			// A digit adds one; a character that ends a run resets to 0.
			n = (n + int(asciiDigit[c])) & int(asciiKeep[c])
			if n >= minDigits {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:]) // not UTF-8: U+FFFD, which joins
		switch cl, _ := classify(r); cl {
		case digit:
			if n++; n >= minDigits {
				return true
			}
		case breaks:
			n = 0
		}
		i += size
	}
	return false
}

// asciiDigit is 1 for the ASCII digits; asciiKeep is 0 for the ASCII
// characters that end a run and -1 (all bits) for the rest.
var asciiDigit, asciiKeep = func() (digits [256]uint8, keep [256]int8) {
	for c := range utf8.RuneSelf {
		if latin1[c].class == digit {
			digits[c] = 1
		}
		if latin1[c].class != breaks {
			keep[c] = -1
		}
	}
	return digits, keep
}()
