package cardnumber

import "unicode/utf8"

// The scanner reads a string once, rune by rune, and keeps no more than the
// last ringSize digits of the run it is in: it lives on the stack and
// allocates nothing until it has a match to return.
//
// Luhn in O(1) per window. Number the run's digits d0, d1, ... and let
// w_c(p) be d_p when p has parity c and double(d_p) otherwise (double(x) is 2x,
// less 9 when that exceeds 9). In a window d_i..d_j the Luhn check doubles
// every second digit from the right, leaving the check digit d_j as it is: the
// digits of j's parity are plain, the others doubled. So with the prefix sums
// Q_c[k] = w_c(0) + ... + w_c(k-1) (mod 10), the window's Luhn sum is
// Q_c[j+1] - Q_c[i] with c = j mod 2, and the window is valid exactly when
// Q_c[i] == Q_c[j+1]. Each new digit j adds one term to both sums and then
// compares Q_c[j+1] with the eight prefixes that start windows of 12 to 19
// digits ending at j: at most 8 comparisons per digit, O(8n) for the string.

const (
	minDigits = 12 // the shortest card number (ISO/IEC 7812: PANs of 12-19 digits)
	maxDigits = 19 // the longest
	ringSize  = 32 // > maxDigits + 1 prefixes, a power of two
	ringMask  = ringSize - 1
)

// doubled is the Luhn doubling of a digit.
var doubled = [10]uint8{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}

// scanner finds the regions of one string to redact.
type scanner struct {
	n int // digits in the current run so far
	// For digit k of the run (slot k & ringMask): its byte range in the string
	// and its value; q[c][k&ringMask] is the prefix sum Q_c[k].
	start, end [ringSize]int
	value      [ringSize]uint8
	q          [2][ringSize]uint8
	// regs are the merged matches of the current run not yet final, in order
	// and disjoint. Two at most stay open (see flush), plus one being merged.
	regs  [4]region
	nregs int
}

// region is one merged match: run digits first..last, bytes [start, end).
type region struct {
	first, last int
	start, end  int
	// The label: the scheme of the longest in-table window, the earliest of
	// the longest; schemeLen is its length (0 for Other), schemeAt its first digit.
	scheme              Scheme
	schemeLen, schemeAt int
}

// scan appends the matches in s to out.
func (sc *scanner) scan(s string, out []Match) []Match {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch e := &latin1[c]; e.class {
			case digit:
				out = sc.digit(e.value, i, i+1, out)
			case breaks:
				if sc.n > 0 {
					out = sc.endRun(out)
				}
				// Most text is ASCII letters: skip them in one tight loop.
				for i++; i < len(s) && asciiBreaks[s[i]]; i++ {
				}
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:]) // not UTF-8: U+FFFD, which joins
		switch cl, v := classify(r); cl {
		case digit:
			out = sc.digit(v, i, i+size, out)
		case breaks:
			if sc.n > 0 {
				out = sc.endRun(out)
			}
		}
		i += size
	}
	if sc.n > 0 {
		out = sc.endRun(out)
	}
	return out
}

// asciiBreaks marks the ASCII characters that end a run (the letters);
// bytes from 0x80 are not marked.
var asciiBreaks = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = latin1[c].class == breaks
	}
	return t
}()

// digit adds the run's next digit, of value v at bytes [start, end), and
// records every window of 12-19 digits ending with it that passes Luhn.
func (sc *scanner) digit(v uint8, start, end int, out []Match) []Match {
	j := sc.n
	k := j & ringMask
	if j == 0 {
		sc.q[0][0], sc.q[1][0] = 0, 0
	}
	sc.start[k], sc.end[k], sc.value[k] = start, end, v
	next := (j + 1) & ringMask
	plain, dbl := v, doubled[v]
	if j&1 == 0 {
		sc.q[0][next] = (sc.q[0][k] + plain) % 10
		sc.q[1][next] = (sc.q[1][k] + dbl) % 10
	} else {
		sc.q[0][next] = (sc.q[0][k] + dbl) % 10
		sc.q[1][next] = (sc.q[1][k] + plain) % 10
	}
	sc.n++
	if sc.n < minDigits {
		return out
	}
	q := &sc.q[j&1]
	target := q[next]
	// Every valid window ending at j overlaps the others: they merge into
	// one, from the earliest start. Its label comes from the longest window
	// that a scheme issues, the first one found from the left.
	first, label, labelAt := -1, Other, 0
	// A window no longer than the label of the open region it overlaps
	// cannot become the label (that region's label window starts earlier):
	// its scheme is not worth working out.
	beaten, reach := 0, -1 // the open region's label length and last digit
	if sc.nregs > 0 {
		beaten, reach = sc.regs[sc.nregs-1].schemeLen, sc.regs[sc.nregs-1].last
	}
	for i := max(0, j+1-maxDigits); i <= j+1-minDigits; i++ {
		if q[i&ringMask] != target {
			continue
		}
		if first < 0 {
			first = i
		}
		if label == Other && (j-i+1 > beaten || reach < i) {
			label, labelAt = schemeOf(sc.prefix4(i), j-i+1), i
		}
	}
	if first >= 0 {
		sc.add(first, j, label, labelAt)
	}
	return sc.flush(j, out)
}

// add merges the match of run digits first..j, labelled by its window that
// starts at labelAt, into the open regions. Matches come in order of their
// last digit, so only the latest regions can overlap one; merging keeps the
// regions disjoint and in order. Regions are updated in place: in a long run
// of digits nearly every digit extends the last one.
func (sc *scanner) add(first, j int, label Scheme, labelAt int) {
	labelLen := 0
	if label != Other {
		labelLen = j - labelAt + 1
	}
	if sc.nregs == 0 || sc.regs[sc.nregs-1].last < first {
		sc.regs[sc.nregs] = region{first: first, last: j, start: sc.start[first&ringMask], end: sc.end[j&ringMask],
			scheme: label, schemeLen: labelLen, schemeAt: labelAt}
		sc.nregs++
		return
	}
	top := &sc.regs[sc.nregs-1]
	top.last, top.end = j, sc.end[j&ringMask] // no region ends after j
	if first < top.first {
		top.first, top.start = first, sc.start[first&ringMask]
	}
	top.relabel(label, labelLen, labelAt)
	// Reaching back, the match may overlap the region before too.
	for sc.nregs > 1 && sc.regs[sc.nregs-2].last >= top.first {
		below := &sc.regs[sc.nregs-2]
		below.last, below.end = top.last, top.end
		below.relabel(top.scheme, top.schemeLen, top.schemeAt)
		sc.nregs--
		top = below
	}
}

// relabel takes the label of a window of n digits starting at digit at, if it
// is longer than the region's, or as long and earlier.
func (r *region) relabel(s Scheme, n, at int) {
	if n > r.schemeLen || n == r.schemeLen && n > 0 && at < r.schemeAt {
		r.scheme, r.schemeLen, r.schemeAt = s, n, at
	}
}

// prefix4 is the number formed by run digits i..i+3.
func (sc *scanner) prefix4(i int) int {
	p := 0
	for k := i; k < i+4; k++ {
		p = p*10 + int(sc.value[k&ringMask])
	}
	return p
}

// flush appends the regions that no window ending after digit j can reach:
// such a window starts at j-17 or later. Two regions at most stay open: after
// the first one left, the next starts after j-18 and ends by j, so a third
// would have fewer than 12 digits.
func (sc *scanner) flush(j int, out []Match) []Match {
	done := 0
	for done < sc.nregs && sc.regs[done].last < j-(maxDigits-2) {
		out = append(out, sc.regs[done].match())
		done++
	}
	if done > 0 {
		copy(sc.regs[:], sc.regs[done:sc.nregs])
		sc.nregs -= done
	}
	return out
}

// endRun appends the run's open regions and starts afresh.
func (sc *scanner) endRun(out []Match) []Match {
	for _, r := range sc.regs[:sc.nregs] {
		out = append(out, r.match())
	}
	sc.n, sc.nregs = 0, 0
	return out
}

func (r *region) match() Match { return Match{Start: r.start, End: r.end, Scheme: r.scheme} }
