package cardnumber

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Property tests: random Luhn-valid numbers of every length and prefix,
// written in random scripts with random separators and groupings, in random
// surroundings, are always found and never leave 12 of their digits behind;
// and the O(1)-per-window scanner agrees with the rule applied naively.

// someSeparators are a sample of every separator class; zero-width and other
// invisible ones included.
var someSeparators = []string{
	" ", "  ", "-", " - ", ".", "/", "\t", "\n", "\u00a0", "\u202f", "\u2009", "\u3000", "–", "—", "‐", "_", ",", ":",
	"\u200b", "\u00ad", "\u2060", "\ufeff", "\u200e", "\u0301", "\ufe0f\u20e3", "+", "−", "·", "•", "*", "#", "'", "\"", "(", ")", "\x00",
	"|", "~", "^", "=", "$", "<", ">", "`", "£", "°", "⁄", "×", "★", "\ufffd", "\xff", "\x80", "ー", "ｰ", "ـ", "ʼ",
}

// someZeros are zeros of digit scripts; every script is tried in chars_test.go.
var someZeros = []rune{'0', '０', '٠', '۰', '०', '০', '๐', '𝟎', '𝟘', '᠐', '߀'}

// luhnNumber returns a random Luhn-valid number of n digits; about one in
// four starts with a prefix no scheme in the table uses.
func luhnNumber(rng *rand.Rand, n int) []byte {
	d := make([]byte, n)
	for i := range d[:n-1] {
		d[i] = byte('0' + rng.IntN(10))
	}
	prefixes := []string{"4", "51", "55", "2221", "34", "37", "36", "6011", "65", "62", "3530", "6759", "2200", "5019", "606282", "9792", "1", "0", "8"}
	p := prefixes[rng.IntN(len(prefixes))]
	if len(p) < n {
		copy(d, p)
	}
	// The check digit: the one that makes the sum a multiple of ten.
	sum := 0
	for i := n - 2; i >= 0; i-- {
		v := int(d[i] - '0')
		if (n-2-i)%2 == 0 {
			v = int(doubled[v])
		}
		sum += v
	}
	d[n-1] = byte('0' + (10-sum%10)%10)
	return d
}

// typed writes the digits d as someone might: random scripts per digit or per
// number, groups of random sizes, random separators. It returns the text and
// the byte offsets of each digit in it.
func typed(rng *rand.Rand, d []byte) (string, []int) {
	var b strings.Builder
	var at []int
	zero := someZeros[rng.IntN(len(someZeros))]
	mixed := rng.IntN(4) == 0
	sep := someSeparators[rng.IntN(len(someSeparators))]
	for i, c := range d {
		if i > 0 && rng.IntN(4) == 0 {
			if rng.IntN(3) == 0 {
				sep = someSeparators[rng.IntN(len(someSeparators))]
			}
			b.WriteString(sep)
		}
		if mixed {
			zero = someZeros[rng.IntN(len(someZeros))]
		}
		at = append(at, b.Len())
		b.WriteRune(zero + rune(c-'0'))
	}
	return b.String(), at
}

// surroundings are what comes before and after a card: letters, or up to 11
// digits (fewer than a card, so that the card's match is the only one).
func surroundings(rng *rand.Rand) (string, string) {
	texts := []string{"", "Card: ", "please use ", "Zoë's card — ", "カード ", "Flat 3, ", "+", "REF-2026-", "99 ", "tel 0207 ", "(", "№ "}
	after := []string{"", " thanks", " exp 09/28", " 123", ".", "!", ", Flat 2", " x", ")", " ٣٤"}
	return texts[rng.IntN(len(texts))], after[rng.IntN(len(after))]
}

func TestRandomCardsAreAlwaysFound(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 10))
	for i := range 20000 {
		n := 12 + rng.IntN(8) // 12-19 digits
		d := luhnNumber(rng, n)
		card, at := typed(rng, d)
		before, after := surroundings(rng)
		in := before + card + after
		got, ms := Redact(in)
		if len(ms) != 1 {
			t.Fatalf("case %d: %d matches in %q (card %s), want 1", i, len(ms), in, d)
		}
		m := ms[0]
		for _, a := range at {
			if a += len(before); a < m.Start || a >= m.End {
				t.Fatalf("case %d: %q: match %v leaves the card's digit at byte %d", i, in, m, a)
			}
		}
		if left := digitsOf(got); longestCommonRun(left, string(d)) >= 12 {
			t.Fatalf("case %d: Redact(%q) = %q leaves 12 of the card's digits", i, in, got)
		}
	}
}

// longestCommonRun is the length of the longest substring common to a and b.
func longestCommonRun(a, b string) int {
	best := 0
	for i := range a {
		for j := range b {
			k := 0
			for i+k < len(a) && j+k < len(b) && a[i+k] == b[j+k] {
				k++
			}
			best = max(best, k)
		}
	}
	return best
}

// TestScannerAgreesWithTheRule compares Find with the rule applied the slow
// way (every window of every run, Luhn from scratch, intervals merged) on
// random strings of digits, separators and letters: long runs, many matches,
// overlapping and adjacent ones.
func TestScannerAgreesWithTheRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pieces := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "٣", "９", " ", "-", "\u200b", "|", "°", "\xff", "ー", "a", "é", "ノ"}
	weights := []int{12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1}
	total := 0
	for _, w := range weights {
		total += w
	}
	matches := 0
	for i := range 20000 {
		var b strings.Builder
		for range rng.IntN(120) {
			r := rng.IntN(total)
			for k, w := range weights {
				if r < w {
					b.WriteString(pieces[k])
					break
				}
				r -= w
			}
		}
		s := b.String()
		got, want := Find(s), naiveFind(s)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: Find(%q)\n = %v\nwant %v", i, s, got, want)
		}
		matches += len(got)
	}
	if matches < 10000 {
		t.Errorf("only %d matches in all: the strings test too little", matches)
	}
}

// naiveFind is the package's rule written the slow, obvious way.
func naiveFind(s string) []Match {
	type dig struct {
		start, end int
		v          byte
	}
	var out []Match
	var run []dig
	endRun := func() {
		d := make([]byte, len(run))
		for i, x := range run {
			d[i] = '0' + x.v
		}
		var ivs [][2]int
		for i := range d {
			for n := 12; n <= 19 && i+n <= len(d); n++ {
				if luhnValid(string(d[i : i+n])) {
					ivs = append(ivs, [2]int{i, i + n - 1})
				}
			}
		}
		slices.SortStableFunc(ivs, func(a, b [2]int) int { return a[0] - b[0] })
		var merged [][2]int
		var label []Scheme
		var labelLen []int
		// Sorted by start, so the first window of the longest length wins.
		for _, iv := range ivs {
			sch, n := naiveScheme(d[iv[0]:iv[1]+1]), iv[1]-iv[0]+1
			if sch == Other {
				n = 0
			}
			if k := len(merged) - 1; k >= 0 && iv[0] <= merged[k][1] {
				merged[k][1] = max(merged[k][1], iv[1])
				if n > labelLen[k] {
					label[k], labelLen[k] = sch, n
				}
				continue
			}
			merged, label, labelLen = append(merged, iv), append(label, sch), append(labelLen, n)
		}
		for k, iv := range merged {
			out = append(out, Match{Start: run[iv[0]].start, End: run[iv[1]].end, Scheme: label[k]})
		}
		run = run[:0]
	}
	for i, r := range s { // a byte that is not UTF-8 is U+FFFD here too
		switch ruleClass(r) {
		case breaks:
			endRun()
		case digit:
			_, v := classify(r)
			run = append(run, dig{i, i + len(string(r)), v})
		}
	}
	endRun()
	return out
}

func naiveScheme(d []byte) Scheme {
	var p4 int
	fmt.Sscan(string(d[:4]), &p4)
	return schemeOf(p4, len(d))
}
