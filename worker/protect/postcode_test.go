package protect

import "testing"

func TestPostcodeArea(t *testing.T) {
	cases := []struct{ country, postcode, want string }{
		{"GB", "SW1A 1AA", "SW"}, // AA9A 9AA
		{"GB", "M1 1AE", "M"},    // A9 9AA
		{"GB", "B33 8TH", "B"},   // A99 9AA
		{"GB", "CR2 6XH", "CR"},  // AA9 9AA
		{"GB", "DN55 1PT", "DN"}, // AA99 9AA
		{"GB", "W1A 0AX", "W"},   // A9A 9AA
		{"GB", "EC1A 1BB", "EC"}, // AA9A 9AA
		{"GB", "sw1a1aa", "SW"},  // any case, no space
		{"GB", " IV51  9DH ", "IV"},
		{"GB", "ZE2 9XP", "ZE"}, // Shetland, the smallest area
		{"GB", "BT7 1NN", "BT"}, // Northern Ireland
		{"GB", "SW1A", "SW"},    // outward code alone
		{"GG", "GY1 1AA", "GY"}, // Guernsey
		{"JE", "JE2 3AB", "JE"}, // Jersey
		{"IM", "IM1 1AD", "IM"}, // Isle of Man
		{"GB", "GIR 0AA", ""},   // Girobank: not geographic
		{"GB", "BFPO 1234", ""}, // forces post
		{"GB", "BF1 3AD", ""},   // forces post, new format
		{"GB", "BX1 1LT", ""},   // non-geographic
		{"GB", "QQ1 1AA", ""},   // no such area
		{"GB", "SW1A 1A", ""},   // inward code cut short
		{"GB", "SW1A-1AA", ""},  // not the format
		{"GB", "SW123 1AA", ""}, // outward code too long
		{"GB", "1AA", ""},       // no outward code
		{"GB", "", ""},
		{"GB", "[card number removed]", ""},
		{"DE", "10115", ""}, // other countries: none
		{"US", "90210", ""},
		{"IE", "D02 X285", ""},
		{"", "SW1A 1AA", ""}, // no country, no rule
	}
	for _, c := range cases {
		if got := PostcodeArea(c.country, c.postcode); got != c.want {
			t.Errorf("PostcodeArea(%q, %q) = %q, want %q", c.country, c.postcode, got, c.want)
		}
	}
}

func TestUKAreas(t *testing.T) {
	// Royal Mail: 121 areas in Great Britain and Northern Ireland, and GY, JE, IM.
	if len(ukAreas) != 124 {
		t.Errorf("%d postcode areas, want 124", len(ukAreas))
	}
}

func TestPostcodeAreaAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = PostcodeArea("GB", "sw1a 1aa") }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
