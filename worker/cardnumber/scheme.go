package cardnumber

// Scheme names the card scheme whose issuer ranges (IIN) a match falls in. It
// is a label for the metric, never a filter: a Luhn-valid run outside every
// range below (Mir 2200-2204, Dankort 5019, Hipercard 606282, Troy 9792,
// RuPay, Verve, a scheme not yet born) is removed all the same, as Other.
type Scheme uint8

const (
	Other Scheme = iota
	Visa
	Mastercard
	Amex
	Diners
	Discover
	JCB
	UnionPay
	Maestro
	numSchemes
)

var schemeNames = [numSchemes]string{"other", "visa", "mastercard", "amex", "diners", "discover", "jcb", "unionpay", "maestro"}

// String is the metric label value: "visa", "mastercard", ..., "other".
func (s Scheme) String() string {
	if s < numSchemes {
		return schemeNames[s]
	}
	return "other"
}

// Schemes lists every Scheme, Other first: the label's whole value set.
func Schemes() []Scheme {
	out := make([]Scheme, numSchemes)
	for i := range out {
		out[i] = Scheme(i)
	}
	return out
}

// schemeOf labels a Luhn-valid number of n digits whose first four digits are
// p4 (its first two p2, its first three p3): the scheme that issues numbers of
// that prefix and length (ISO/IEC 7812 issuer ranges as the schemes publish
// them), or Other.
func schemeOf(p4, n int) Scheme {
	p2, p3 := p4/100, p4/10
	switch {
	case p4/1000 == 4:
		if n == 13 || n == 16 || n == 19 {
			return Visa
		}
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		if n == 16 {
			return Mastercard
		}
	case p2 == 34 || p2 == 37:
		if n == 15 {
			return Amex
		}
	case p2 == 36 || p3 >= 300 && p3 <= 305 || p4 == 3095:
		if n >= 14 {
			return Diners
		}
	case p2 == 38 || p2 == 39: // Diners Club on the Discover network
		if n >= 16 {
			return Diners
		}
	case p4 >= 3528 && p4 <= 3589:
		if n >= 16 {
			return JCB
		}
	case p2 == 62:
		if n >= 16 {
			return UnionPay
		}
	case p4 == 6011 || p2 == 65 || p3 >= 644 && p3 <= 649:
		if n >= 16 {
			return Discover
		}
	case maestro(p4):
		return Maestro
	}
	return Other
}

// maestro reports the IIN prefixes Maestro issues under (UK and international).
func maestro(p4 int) bool {
	switch p4 {
	case 5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763, 6799:
		return true
	}
	return false
}
