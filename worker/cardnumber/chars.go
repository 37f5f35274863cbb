package cardnumber

import (
	"sort"
	"sync"
	"unicode"
)

// What each character is to the scanner. The rule is written for what a person
// can type or paste, on any keyboard, and for what an attacker can paste to
// hide a card number from a scanner that looks only for ASCII:
//
//   - A digit is a decimal digit of any script (Unicode general category Nd:
//     ASCII, full-width ０-９, Arabic-Indic ٠-٩, Extended Arabic-Indic,
//     Devanagari ०-९, Bengali, Thai, mathematical bold 𝟎-𝟗, ...), or one of
//     the single-digit compatibility forms of category No (superscript ¹²³,
//     subscript ₁₂₃, circled ①, parenthesised ⑴, ⒈ with a full stop, the
//     dingbat circled digits ➀ ❶ ➊, 🄁 with a comma), which NFKC would
//     turn into digits. Each counts as the digit it stands for.
//   - A separator joins the digits on either side into one run, however many
//     separators there are: White_Space (space, tab, line breaks, no-break
//     spaces U+00A0 and U+202F, the U+2000-U+200A spaces, the ideographic
//     space), punctuation (category P: . , - / \ : ; _ # * ( ) quotes, the
//     dashes U+2010-U+2015 en and em dash included, middle dot), format
//     characters (category Cf: zero-width space U+200B, zero-width (non-)
//     joiners, word joiner U+2060, soft hyphen U+00AD, byte order mark,
//     direction marks), control characters (Cc), combining marks (Mn, Me:
//     variation selectors, the combining keycap of 4️⃣), and the three
//     symbols people put between digit groups: '+', full-width '＋' and the
//     minus sign '−' (U+2212). Invisible characters are separators because a
//     reader does not see them: "4111\u200b1111..." looks like a card.
//   - Anything else ends the run: letters of any script (so "ABC123" and a
//     VAT number's "GB" split digits), other numbers (fractions, Roman
//     numerals), every other symbol (currency signs, '=', '×', emoji),
//     unassigned and private-use code points, and bytes that are not UTF-8.
//
// Letters that look like digits (O for 0, l for 1) are letters: a card number
// written with them is no longer a number anyone can charge.

// class is a character's role in a run of digits.
type class uint8

const (
	// breaks ends a run.
	breaks class = iota
	// digit is a decimal digit; its value goes with it.
	digit
	// joins separates digit groups within a run.
	joins
)

// classify returns r's class and, for a digit, its value (0-9).
func classify(r rune) (class, uint8) {
	switch {
	case r >= 0 && r < rune(len(latin1)):
		e := latin1[r]
		return e.class, e.value
	case r < 0x10000:
		bmpOnce.Do(fillBMP)
		e := bmp[r]
		return class(e >> 4), e & 0xf
	}
	return classifyRune(r)
}

// bmp caches the class (high nibble) and value (low nibble) of every
// character of the Basic Multilingual Plane, filled on first use (a few
// milliseconds): classifyRune's searches of Unicode's tables cost tens of
// nanoseconds a character, a table lookup one.
var (
	bmpOnce sync.Once
	bmp     *[0x10000]uint8
)

func fillBMP() {
	t := new([0x10000]uint8)
	for r := range t {
		cl, v := classifyRune(rune(r))
		t[r] = uint8(cl)<<4 | v
	}
	bmp = t
}

// latin1 holds the class of U+0000-U+00FF, the characters most text is made
// of, so that the scanner reads ASCII with one table lookup per byte.
var latin1 = func() (t [256]struct {
	class class
	value uint8
}) {
	for r := range t {
		t[r].class, t[r].value = classifyRune(rune(r))
	}
	return t
}()

// classifyRune is the rule above, for any rune.
func classifyRune(r rune) (class, uint8) {
	switch {
	case unicode.IsLetter(r):
		return breaks, 0
	case unicode.Is(unicode.Nd, r):
		return digit, ndValue(r)
	case unicode.Is(unicode.No, r):
		if v, ok := digitFormValue(r); ok {
			return digit, v
		}
		return breaks, 0
	case unicode.IsSpace(r), unicode.IsPunct(r), unicode.In(r, unicode.Cf, unicode.Cc, unicode.Mn, unicode.Me),
		r == '+', r == '＋', r == '−':
		return joins, 0
	}
	return breaks, 0
}

// ndZeros are the code points of the zeros of every run of decimal digits,
// in order. Unicode encodes each script's decimal digits 0-9 in ascending,
// contiguous blocks of ten (a stability guarantee of the standard, checked by
// a test against Go's tables), so a digit's value is its distance from the
// block's zero.
var ndZeros = func() []rune {
	var zeros []rune
	for _, rg := range unicode.Nd.R16 {
		for z := rune(rg.Lo); z <= rune(rg.Hi); z += 10 {
			zeros = append(zeros, z)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		for z := rune(rg.Lo); z <= rune(rg.Hi); z += 10 {
			zeros = append(zeros, z)
		}
	}
	return zeros
}()

// ndValue is the value of r, a rune of category Nd.
func ndValue(r rune) uint8 {
	i := sort.Search(len(ndZeros), func(i int) bool { return ndZeros[i] > r }) - 1
	return uint8(r - ndZeros[i])
}

// digitForms are the single-digit characters of category No whose
// compatibility decomposition (NFKC) is one digit, or one digit with a full
// stop, comma or parentheses: lo..hi stand for first, first+1, ...
var digitForms = []struct {
	lo, hi rune
	first  uint8
}{
	{0x00B2, 0x00B3, 2},   // ² ³
	{0x00B9, 0x00B9, 1},   // ¹
	{0x2070, 0x2070, 0},   // ⁰
	{0x2074, 0x2079, 4},   // ⁴-⁹
	{0x2080, 0x2089, 0},   // ₀-₉
	{0x2460, 0x2468, 1},   // ①-⑨
	{0x2474, 0x247C, 1},   // ⑴-⑼
	{0x2488, 0x2490, 1},   // ⒈-⒐
	{0x24EA, 0x24EA, 0},   // ⓪
	{0x24F5, 0x24FD, 1},   // ⓵-⓽
	{0x24FF, 0x24FF, 0},   // ⓿
	{0x2776, 0x277E, 1},   // ❶-❾
	{0x2780, 0x2788, 1},   // ➀-➈
	{0x278A, 0x2792, 1},   // ➊-➒
	{0x1F100, 0x1F100, 0}, // 🄀 (0.)
	{0x1F101, 0x1F10A, 0}, // 🄁-🄊 (0, to 9,)
}

func digitFormValue(r rune) (uint8, bool) {
	for _, f := range digitForms {
		if r >= f.lo && r <= f.hi {
			return f.first + uint8(r-f.lo), true
		}
	}
	return 0, false
}
