package protect

import "strings"

// PostcodeArea coarsens a postcode to what analytics may keep (the policy's
// derived ship_postcode_area and billing_postcode_area), or returns "".
//
// United Kingdom (GB), and the Crown Dependencies that use its postcode system
// (Guernsey GG, Jersey JE, Isle of Man IM): the postcode area, the letters that
// start the outward code: "SW1A 1AA" -> "SW", "M1 1AE" -> "M", "ZE2 9XP" ->
// "ZE". There are about 120 of them, each a region of hundreds of thousands of
// people (the smallest, ZE and the islands, tens of thousands), which is as
// coarse as regional reporting needs. The postcode must have the UK format
// (outward code alone, or outward and inward, any case and spacing) and an area
// that exists; anything else gives "", so that a mistyped or unusual value
// cannot leak through as an "area". Non-geographic codes (BFPO, GIR 0AA, BX)
// give "".
//
// Every other country: "". A generic rule such as "the first two characters"
// is not safe everywhere (an Irish Eircode's routing key is a few streets;
// some countries' codes are one town), and the country code, which is kept,
// already gives reporting by country. A country is added by giving it a rule
// of its own here, with its tests.
func PostcodeArea(countryCode, postcode string) string {
	switch countryCode {
	case "GB", "GG", "JE", "IM":
		return ukPostcodeArea(postcode)
	}
	return ""
}

// ukPostcodeArea returns the area of a UK-format postcode. It allocates
// nothing: the area returned is the table's own string.
func ukPostcodeArea(postcode string) string {
	// The postcode without spaces, upper case: at most 7 characters.
	var buf [7]byte
	n := 0
	for i := 0; i < len(postcode); i++ {
		c := postcode[i]
		switch {
		case c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return ""
		}
		if n == len(buf) {
			return ""
		}
		buf[n] = c
		n++
	}
	pc := buf[:n]
	// A full postcode ends in an inward code: a digit and two letters.
	outward := pc
	if n >= 5 {
		in := pc[n-3:]
		if !isDigit(in[0]) || !isLetter(in[1]) || !isLetter(in[2]) {
			return ""
		}
		outward = pc[:n-3]
	}
	// Outward codes: A9, A99, AA9, AA99, A9A, AA9A.
	letters := 0
	for letters < len(outward) && letters < 2 && isLetter(outward[letters]) {
		letters++
	}
	rest := outward[letters:]
	switch {
	case letters == 0 || len(rest) == 0 || len(rest) > 2 || !isDigit(rest[0]):
		return ""
	case len(rest) == 2 && !isDigit(rest[1]) && !isLetter(rest[1]):
		return ""
	}
	return ukAreas[string(outward[:letters])] // no allocation: a map lookup by converted key
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

// ukAreas are the geographic postcode areas of the UK, Guernsey, Jersey and the
// Isle of Man (Royal Mail), each mapped to itself so that a lookup returns the
// table's string.
var ukAreas = func() map[string]string {
	const areas = "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW " +
		"DA DD DE DG DH DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX " +
		"IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW " +
		"OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY " +
		"TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE"
	m := make(map[string]string)
	for _, a := range strings.Fields(areas) {
		m[a] = a
	}
	return m
}()
