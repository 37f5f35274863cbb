package cardnumber

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestFalsePositiveRates measures how often realistic data that holds no card
// number is taken for one, per category, and fails if a category's rate rises
// above what the rule itself predicts for it.
//
// The prediction: a run of D digits has w(D) = sum over L = 12..min(D, 19) of
// (D - L + 1) windows, and a window that contains a random digit passes Luhn
// with probability exactly 1/10 (doubling permutes the digits), so a run is
// taken with probability about 1 - 0.9^w (the windows overlap, which makes
// them nearly, not exactly, independent). Runs are counted here the simple
// way, from the rule's Unicode categories (ruleClass), independently of the
// scanner's own tables. The bound is the category's mean prediction plus three standard
// errors of its sample and two percentage points for the independence
// approximation (check digits and fixed prefixes correlate overlapping
// windows a little: EAN-13 barcodes come out 2 points above it). A regression that finds more (windows shorter than 12 digits,
// letters joining runs, a wrong Luhn) exceeds it; so would a category whose
// data got longer runs, which is a finding too.
//
// Run with -v for the table; the README quotes it.
func TestFalsePositiveRates(t *testing.T) {
	const n = 5000
	t.Logf("%-26s %8s %9s %9s %9s  %s", "category", "samples", "taken", "predicted", "bound", "example")
	for _, c := range nonCardCategories {
		rng := rand.New(rand.NewPCG(2026, uint64(len(c.name))))
		taken := 0
		var predicted float64
		for range n {
			s := c.sample(rng)
			if Find(s) != nil {
				taken++
			}
			predicted += 1 - math.Pow(0.9, float64(windows(s)))
		}
		rate, p := float64(taken)/n, predicted/n
		bound := p + 3*math.Sqrt(p*(1-p)/n)
		if p > 0 {
			bound += 0.02
		}
		t.Logf("%-26s %8d %8.1f%% %8.1f%% %8.1f%%  %q", c.name, n, 100*rate, 100*p, 100*bound, c.sample(rand.New(rand.NewPCG(1, 1))))
		if rate > bound {
			t.Errorf("%s: %.1f%% taken for card numbers, above the %.1f%% bound (predicted %.1f%%)", c.name, 100*rate, 100*bound, 100*p)
		}
	}
}

// windows counts the 12-19 digit windows of s's runs, the runs split where
// the rule splits them (ruleClass, chars_test.go): at letters and numbers
// that are not digits, not at whitespace, punctuation or symbols.
func windows(s string) int {
	w, d := 0, 0
	flush := func() {
		for l := 12; l <= 19 && l <= d; l++ { // P3's numbers, not the package's
			w += d - l + 1
		}
		d = 0
	}
	for _, r := range s {
		switch ruleClass(r) {
		case digit:
			d++
		case breaks:
			flush()
		}
	}
	flush()
	return w
}

// nonCardCategories generate realistic values of each kind, as people type
// them into names, address lines, notes and references.
var nonCardCategories = []struct {
	name   string
	sample func(*rand.Rand) string
}{
	{"UK phone, national", func(r *rand.Rand) string {
		return pick(r,
			"020 "+digits(r, 4)+" "+digits(r, 4),
			"0"+pick(r, "113", "114", "121", "131", "141", "161")+" "+digits(r, 3)+" "+digits(r, 4),
			"07"+digits(r, 3)+" "+digits(r, 6),
			"07"+digits(r, 9),
			"(01"+digits(r, 3)+") "+digits(r, 6),
			"0"+digits(r, 4)+"-"+digits(r, 6))
	}},
	{"UK phone, +44", func(r *rand.Rand) string {
		return pick(r,
			"+44 20 "+digits(r, 4)+" "+digits(r, 4),
			"+44 7"+digits(r, 3)+" "+digits(r, 6),
			"+447"+digits(r, 9),
			"+44 (0)20 "+digits(r, 4)+" "+digits(r, 4),
			"0044 7"+digits(r, 3)+" "+digits(r, 6),
			"+44 (0) 1"+digits(r, 3)+" "+digits(r, 6))
	}},
	{"international phone", func(r *rand.Rand) string {
		return pick(r,
			"+1 ("+digits(r, 3)+") "+digits(r, 3)+"-"+digits(r, 4),
			"+49 30 "+digits(r, 8),
			"+49 17"+digits(r, 1)+" "+digits(r, 7),
			"+33 6 "+digits(r, 2)+" "+digits(r, 2)+" "+digits(r, 2)+" "+digits(r, 2),
			"+353 8"+digits(r, 1)+" "+digits(r, 3)+" "+digits(r, 4),
			"+91 9"+digits(r, 4)+" "+digits(r, 5),
			"+86 13"+digits(r, 1)+" "+digits(r, 4)+" "+digits(r, 4),
			"+61 4"+digits(r, 2)+" "+digits(r, 3)+" "+digits(r, 3),
			"+81 90-"+digits(r, 4)+"-"+digits(r, 4),
			"+55 11 9"+digits(r, 4)+"-"+digits(r, 4))
	}},
	{"EAN-13 barcode", func(r *rand.Rand) string {
		return gtin(pick(r, "50", "40", "30", "76", "87", "54") + digits(r, 10))
	}},
	{"UPC-A barcode", func(r *rand.Rand) string { return gtin(digits(r, 11)) }},
	{"Amazon order id in a note", func(r *rand.Rand) string {
		return "Re order " + pick(r, "202", "203", "204", "026", "171") + "-" + digits(r, 7) + "-" + digits(r, 7)
	}},
	{"eBay order id in a note", func(r *rand.Rand) string {
		return "eBay order " + digits(r, 2) + "-" + digits(r, 5) + "-" + digits(r, 5)
	}},
	{"eBay item id in a note", func(r *rand.Rand) string { return "item " + pick(r, "1", "2", "3") + digits(r, 11) }},
	{"ASIN or SKU in a note", func(r *rand.Rand) string {
		return pick(r, "ASIN B0"+strings.ToUpper(fmt.Sprintf("%08x", r.Uint32())), "SKU AH-"+digits(r, 4)+"-BLUE-XL")
	}},
	{"dates", func(r *rand.Rand) string {
		d, m, y := 1+r.IntN(28), 1+r.IntN(12), 2020+r.IntN(10)
		return pick(r, fmt.Sprintf("%02d/%02d/%d", d, m, y), fmt.Sprintf("%d-%02d-%02d", y, m, d), fmt.Sprintf("%d.%d.%d", d, m, y))
	}},
	{"dates with times", func(r *rand.Rand) string {
		d, m, y := 1+r.IntN(28), 1+r.IntN(12), 2020+r.IntN(10)
		h, mi, s := r.IntN(24), r.IntN(60), r.IntN(60)
		return pick(r,
			fmt.Sprintf("%02d.%02d.%d %02d:%02d", d, m, y, h, mi),
			fmt.Sprintf("%d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, h, mi, s),
			fmt.Sprintf("%02d/%02d/%d %02d:%02d:%02d", d, m, y, h, mi, s),
			fmt.Sprintf("Tue %d Nov %d, %02d:%02d", d, y, h, mi))
	}},
	{"amounts", func(r *rand.Rand) string {
		p := r.IntN(1000000)
		return pick(r,
			fmt.Sprintf("£%d.%02d", p/100, p%100),
			fmt.Sprintf("€%d,%02d", p/100, p%100),
			fmt.Sprintf("$%d,%03d.%02d", p/100000, p/100%1000, p%100),
			fmt.Sprintf("%d x £%d.%02d = £%d.%02d", 1+p%5, p/1000, p%100, p/300, p%97),
			fmt.Sprintf("Total £%d.%02d incl. VAT £%d.%02d", p/100, p%100, p/600, p%100))
	}},
	{"sizes and dimensions", func(r *rand.Rand) string {
		return pick(r,
			fmt.Sprintf("%d×%d×%d cm", 10+r.IntN(190), 10+r.IntN(190), 10+r.IntN(190)),
			fmt.Sprintf("%d × %d × %d mm", 100+r.IntN(2400), 100+r.IntN(2400), 100+r.IntN(2400)),
			fmt.Sprintf("%dx%dcm", 10+r.IntN(190), 10+r.IntN(190)),
			fmt.Sprintf("A4 210×297 mm, %dg/m²", 60+r.IntN(240)),
			fmt.Sprintf("%d°C – %d°C, %d W", -r.IntN(40), 20+r.IntN(80), 100+r.IntN(2900)))
	}},
	{"postcodes", func(r *rand.Rand) string {
		return pick(r, "SW1A "+digits(r, 1)+"AA", digits(r, 5)+"-"+digits(r, 4), digits(r, 5)+" Berlin", "D02 X"+digits(r, 3), "1012 AB")
	}},
	{"address lines", func(r *rand.Rand) string {
		return pick(r,
			"Flat "+digits(r, 1)+", "+digits(r, 3)+"B Baker Street",
			digits(r, 2)+"-"+digits(r, 2)+" High Street",
			"Unit "+digits(r, 1)+", "+digits(r, 2)+" Mill Lane",
			"PO Box "+digits(r, 4))
	}},
	{"tracking, with letters", func(r *rand.Rand) string {
		return pick(r, "AB"+digits(r, 9)+"GB", "1Z999AA1"+digits(r, 10), "H"+digits(r, 2)+"HYA"+digits(r, 10))
	}},
	{"tracking, 12-14 digits", func(r *rand.Rand) string {
		return pick(r, digits(r, 12), digits(r, 14), "1550 "+digits(r, 4)+" "+digits(r, 4)+" "+digits(r, 2))
	}},
	{"tracking, 16-22 digits", func(r *rand.Rand) string {
		return pick(r, "JD"+digits(r, 16), "9400 "+digits(r, 4)+" "+digits(r, 4)+" "+digits(r, 4)+" "+digits(r, 4)+" "+digits(r, 2))
	}},
}

func pick(r *rand.Rand, options ...string) string { return options[r.IntN(len(options))] }

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// gtin appends the GS1 check digit (weights 3 and 1 from the right).
func gtin(payload string) string {
	sum := 0
	for i := len(payload) - 1; i >= 0; i-- {
		v := int(payload[i] - '0')
		if (len(payload)-1-i)%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return payload + string(rune('0'+(10-sum%10)%10))
}
