package cardnumber

import (
	"sort"
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
//     separators there are. It is anything a reader takes for a gap, a mark or
//     a sign between digit groups rather than for a word:
//     White_Space (space, tab, line breaks, no-break spaces U+00A0 and U+202F,
//     the U+2000-U+200A spaces, the ideographic space); punctuation (category
//     P: . , - / \ : ; _ # * ( ) quotes, the dashes U+2010-U+2015, U+2E3A and
//     the full-width and small hyphen-minus, middle dot); symbols (category S,
//     all four: Sm + = < > | ~ × ÷ − ⁄, Sc $ £ € ¥, Sk ^ ` ¨ ˗, So ° © ★ and
//     emoji), so that every character POSIX calls punctuation joins, as P3's
//     "any run of whitespace or punctuation" means; U+FFFD, a symbol, which
//     is what a JSON lone surrogate (\ud800) or a byte that is not UTF-8
//     becomes, and what the scanner reads each such byte as; format characters
//     (category Cf: zero-width space U+200B, zero-width (non-)joiners, word
//     joiner U+2060, soft hyphen U+00AD, byte order mark, direction marks);
//     control characters (Cc); combining marks (Mn, Me: variation selectors,
//     the combining keycap of 4️⃣); and the few modifier letters (Lm) that are
//     drawn as a dash or a punctuation mark (separatorLetters below: the
//     katakana prolonged sound mark ー, which Japanese input methods type for
//     '-'; the Arabic tatweel; the modifier apostrophes and primes). Invisible
//     characters are separators because a reader does not see them:
//     "4111\u200b1111..." looks like a card.
//   - Anything else ends the run: letters of any script (so "ABC123" and a
//     VAT number's "GB" split digits), even those shaped like a dash (ノ, 一,
//     ㅡ: they are letters of words); other numbers (fractions, Roman
//     numerals); spacing marks (Mc); unassigned and private-use code points.
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

// joiners are the characters that join digits into a run, as tables: the
// rule above, read both by classifyRune and by newBMP.
var joiners = []*unicode.RangeTable{
	unicode.White_Space, unicode.P, unicode.S, unicode.Cf, unicode.Cc, unicode.Mn, unicode.Me,
	separatorLetters,
}

// separatorLetters are the modifier letters (Lm) that join a run, because a
// reader sees a dash or a punctuation mark where they stand:
//   - the dashes: U+30FC ー, the katakana-hiragana prolonged sound mark, which
//     a Japanese input method types for the '-' key in kana mode (phone
//     numbers and addresses are written 090ー1234ー5678), and U+FF70 ｰ, its
//     half-width form; U+0640 ـ, the Arabic tatweel, a stroke with no sound
//     that stretches a line of text, a dash between digits;
//   - those that Unicode's confusables (UTS #39, confusables.txt) map to a
//     punctuation mark or symbol: the apostrophes, primes and accents
//     U+02B9-U+02BE, U+02C8, U+02CA, U+02CB and U+0374 (as '), U+02BA and
//     U+02EE (as "), U+02C6 (as ^), U+02D0 (as :), N'Ko's U+07F4 and U+07F5 (as
//     ') and lajanyalan U+07FA (its tatweel, as _), U+3033 (as /), and the
//     Lisu tone letters U+A4F8-U+A4FB and U+A4FD (as . , .. ., and :).
//
// Other modifier letters (superscript letters ʰ, iteration marks 々) are
// letters to a reader, and end a run.
var separatorLetters = &unicode.RangeTable{R16: []unicode.Range16{
	{Lo: 0x02B9, Hi: 0x02BE, Stride: 1},
	{Lo: 0x02C6, Hi: 0x02C8, Stride: 2},
	{Lo: 0x02CA, Hi: 0x02CB, Stride: 1},
	{Lo: 0x02D0, Hi: 0x02D0, Stride: 1},
	{Lo: 0x02EE, Hi: 0x02EE, Stride: 1},
	{Lo: 0x0374, Hi: 0x0374, Stride: 1},
	{Lo: 0x0640, Hi: 0x0640, Stride: 1},
	{Lo: 0x07F4, Hi: 0x07F5, Stride: 1},
	{Lo: 0x07FA, Hi: 0x07FA, Stride: 1},
	{Lo: 0x3033, Hi: 0x3033, Stride: 1},
	{Lo: 0x30FC, Hi: 0x30FC, Stride: 1},
	{Lo: 0xA4F8, Hi: 0xA4FB, Stride: 1},
	{Lo: 0xA4FD, Hi: 0xA4FD, Stride: 1},
	{Lo: 0xFF70, Hi: 0xFF70, Stride: 1},
}}

// classify returns r's class and, for a digit, its value (0-9).
func classify(r rune) (class, uint8) {
	if uint32(r) < uint32(len(bmp)) {
		e := bmp[r]
		return class(e >> 4), e & 0xf
	}
	return classifyRune(r)
}

// bmp holds the class (high nibble) and value (low nibble) of every
// character of the Basic Multilingual Plane: classifyRune's searches of
// Unicode's tables cost tens of nanoseconds a character, a table lookup one.
// It is built when the package is initialised, from the ranges of the same
// tables (about 10 microseconds, BenchmarkNewBMP; classifying each character
// took 3 ms), rather than on the first character beyond Latin-1 that the
// protect stage meets: no batch pays for it, and no lookup waits on a
// sync.Once.
var bmp = newBMP()

func newBMP() *[0x10000]uint8 {
	t := new([0x10000]uint8) // zero: breaks
	set := func(tab *unicode.RangeTable, e func(r int) uint8) {
		for _, rg := range tab.R16 {
			for r := int(rg.Lo); r <= int(rg.Hi); r += int(rg.Stride) {
				t[r] = e(r)
			}
		}
	}
	for _, tab := range joiners {
		set(tab, func(int) uint8 { return uint8(joins) << 4 })
	}
	for _, rg := range unicode.Nd.R16 { // blocks of ten from each zero (ndZeros)
		for r := int(rg.Lo); r <= int(rg.Hi); r++ {
			t[r] = uint8(digit)<<4 | uint8((r-int(rg.Lo))%10)
		}
	}
	for _, f := range digitForms {
		for r := f.lo; r <= f.hi && r < 0x10000; r++ {
			t[r] = uint8(digit)<<4 | (f.first + uint8(r-f.lo))
		}
	}
	return t
}

// latin1 holds the class of U+0000-U+00FF, the characters most text is made
// of, so that the scanner reads ASCII with one table lookup per byte.
var latin1 = func() (t [256]struct {
	class class
	value uint8
}) {
	for r := range t {
		t[r].class, t[r].value = classify(rune(r))
	}
	return t
}()

// classifyRune is the rule above, for any rune: Unicode's general categories
// are disjoint, so a digit is never a joiner.
func classifyRune(r rune) (class, uint8) {
	switch {
	case unicode.Is(unicode.Nd, r):
		return digit, ndValue(r)
	case unicode.IsOneOf(joiners, r):
		return joins, 0
	}
	if v, ok := digitFormValue(r); ok {
		return digit, v
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
