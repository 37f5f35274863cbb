package cardnumber

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The classes are tested as classes: every code point is classified once,
// against the rule in chars.go as Unicode's categories state it, and every
// separator and every digit of every script is tried in a card number.

func TestEveryCodePointHasTheRightClass(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates: not in UTF-8 text
		}
		cl, v := classify(r)
		if want := ruleClass(r); cl != want {
			t.Errorf("U+%04X %q: class %d, want %d", r, r, cl, want)
		}
		if cl == digit && v > 9 {
			t.Errorf("U+%04X %q: digit value %d", r, r, v)
		}
	}
}

// ruleClass is the rule of chars.go restated from Unicode's categories, the
// tests' oracle, independent of the tables that classify reads.
func ruleClass(r rune) class {
	switch {
	case unicode.Is(unicode.Nd, r):
		return digit
	case unicode.Is(unicode.No, r):
		if _, ok := digitFormValue(r); ok {
			return digit
		}
		return breaks
	case letterSeparators[r]:
		return joins
	case unicode.IsLetter(r), unicode.IsNumber(r):
		return breaks
	case unicode.IsSpace(r), unicode.IsPunct(r), unicode.IsSymbol(r), r == utf8.RuneError,
		unicode.In(r, unicode.Cf, unicode.Cc, unicode.Mn, unicode.Me):
		return joins
	}
	return breaks // Mc, private use, unassigned
}

// letterSeparators are the modifier letters that a reader takes for a dash or
// a punctuation mark, as chars.go lists them.
var letterSeparators = map[rune]bool{
	'ー': true, 'ｰ': true, 'ـ': true, // prolonged sound marks, tatweel
	'ʹ': true, 'ʺ': true, 'ʻ': true, 'ʼ': true, 'ʽ': true, 'ʾ': true, 'ˆ': true, 'ˈ': true, // confusable with ' " ^
	'ˊ': true, 'ˋ': true, 'ː': true, 'ˮ': true, '\u0374': true, 'ߴ': true, 'ߵ': true, 'ߺ': true, // ' : " _
	'〳': true, 'ꓸ': true, 'ꓹ': true, 'ꓺ': true, 'ꓻ': true, 'ꓽ': true, // / . , .. ., :
}

// TestSeparatorLettersAreModifierLetters: the only letters that join a run
// are modifier letters (Lm); a letter of a script's alphabet, however much it
// looks like a dash (ノ, 一, ㅡ), is a letter.
func TestSeparatorLettersAreModifierLetters(t *testing.T) {
	for r := range letterSeparators {
		if !unicode.Is(unicode.Lm, r) {
			t.Errorf("U+%04X %q is not a modifier letter", r, r)
		}
		if cl, _ := classify(r); cl != joins {
			t.Errorf("U+%04X %q: class %d, want joins", r, r, cl)
		}
	}
	for _, r := range []rune{'ノ', '一', 'ㅡ', 'ǃ', 'ꞌ', 'ʰ', '々'} {
		if cl, _ := classify(r); cl != breaks {
			t.Errorf("U+%04X %q: class %d, want breaks", r, r, cl)
		}
	}
}

// TestBytesThatAreNotUTF8JoinARun: the scanner reads a byte that is not
// UTF-8 as U+FFFD, which joins, wherever the byte stands: a lone byte, a
// truncated sequence, a surrogate or an overlong encoding between groups.
func TestBytesThatAreNotUTF8JoinARun(t *testing.T) {
	for _, sep := range []string{"\xff", "\x80", "\xc3", "\xe2\x82", "\xf0\x9f\x99", "\xed\xa0\x80", "\xc0\xaf", "\xff\xfe\xfd"} {
		in := "card " + strings.Join([]string{"4111", "1111", "1111", "1111"}, sep) + " x"
		ms := Find(in)
		if len(ms) != 1 || in[ms[0].Start:ms[0].End] != strings.TrimSuffix(strings.TrimPrefix(in, "card "), " x") {
			t.Errorf("separator %q: Find = %v, want the whole card", sep, ms)
		}
		if !MayContain(in) {
			t.Errorf("separator %q: MayContain = false", sep)
		}
	}
}

// TestDecimalDigitsComeInBlocksOfTen: the value of a digit is its distance
// from its block's zero, which holds because Unicode encodes every script's
// decimal digits as ten contiguous code points from 0 to 9 (a stability
// policy). Go's table must agree, or ndValue would be wrong.
func TestDecimalDigitsComeInBlocksOfTen(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not whole blocks of ten", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d is not whole blocks of ten", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	if len(ndZeros) < 60 {
		t.Errorf("only %d scripts of decimal digits", len(ndZeros))
	}
	for _, c := range []struct {
		r rune
		v uint8
	}{{'7', 7}, {'０', 0}, {'９', 9}, {'٣', 3}, {'۸', 8}, {'५', 5}, {'৬', 6}, {'๒', 2}, {'𝟗', 9}, {'𝟘', 0}, {'𝟿', 9}, {'¹', 1}, {'⁷', 7}, {'₀', 0}, {'⑨', 9}, {'⓪', 0}, {'❶', 1}, {'➒', 9}, {'🄀', 0}, {'🄊', 9}} {
		if cl, v := classify(c.r); cl != digit || v != c.v {
			t.Errorf("%q: class %d value %d, want digit %d", c.r, cl, v, c.v)
		}
	}
	for _, f := range digitForms {
		for r := f.lo; r <= f.hi; r++ {
			if !unicode.Is(unicode.No, r) {
				t.Errorf("%U %q in digitForms is not of category No", r, r)
			}
		}
	}
}

// TestEverySeparatorJoinsACard puts each separator character, once and three
// times over, between the digit groups of a card number: each must be found
// whole.
func TestEverySeparatorJoinsACard(t *testing.T) {
	seps := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if cl, _ := classify(r); cl != joins {
			continue
		}
		seps++
		sep := string(r)
		for _, s := range []string{sep, sep + sep + sep} {
			in := "x" + strings.Join([]string{"4111", "1111", "1111", "1111"}, s) + "y"
			ms := Find(in)
			if len(ms) != 1 || ms[0].Start != 1 || ms[0].End != len(in)-1 {
				t.Errorf("separator U+%04X: Find = %v, want the whole card", r, ms)
				break
			}
		}
	}
	if seps < 10000 {
		t.Errorf("only %d separators", seps)
	}
}

// TestEveryDigitScriptMakesACard writes a card number in each script's
// digits, and with each script's digits mixed into ASCII ones.
func TestEveryDigitScriptMakesACard(t *testing.T) {
	const card = "5555555555554444"
	write := func(zero rune, every int) string {
		var b strings.Builder
		for i, c := range card {
			if i%every == 0 {
				b.WriteRune(zero + (c - '0'))
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	for _, zero := range ndZeros {
		for _, in := range []string{write(zero, 1), write(zero, 3)} {
			ms := Find("card " + in + ".")
			if len(ms) != 1 || ms[0].Scheme != Mastercard || ms[0].End-ms[0].Start != len(in) {
				t.Errorf("digits from %U: Find(%q) = %v, want the Mastercard", zero, in, ms)
			}
		}
	}
}

// TestEverythingElseEndsARun: a character of any other class between the
// groups splits the card into runs too short to be one.
func TestEverythingElseEndsARun(t *testing.T) {
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r += 7 { // a sample of every plane
		if r >= 0xD800 && r <= 0xDFFF || !utf8.ValidRune(r) {
			continue
		}
		if cl, _ := classify(r); cl != breaks {
			continue
		}
		n++
		if ms := Find("411111" + string(r) + "1111111111"); ms != nil {
			t.Errorf("U+%04X %q joined a run: %v", r, r, ms)
		}
	}
	if n < 100000 {
		t.Errorf("only %d breaking characters sampled", n)
	}
}
