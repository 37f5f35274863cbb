package privacytest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLeaksFindsEveryValueAndPiecesOfIt(t *testing.T) {
	for _, v := range Corpus {
		whole := "error: " + v.Text + " is not allowed"
		if got := Leaks(whole); len(got) == 0 {
			t.Errorf("Leaks missed %s %q written whole", v.Kind, v.Text)
		}
		r := []rune(v.Text)
		piece := string(r[len(r)-fragment:])
		if got := Leaks("value ends in " + piece); len(got) == 0 {
			t.Errorf("Leaks missed the last %d characters of %s %q", fragment, v.Kind, v.Text)
		}
		if d := Digits(v.Text); len(d) >= 12 {
			if got := Leaks("typed as " + strings.Join(strings.Split(d, ""), ".")); len(got) == 0 {
				t.Errorf("Leaks missed the digits of %s %q separated by dots", v.Kind, v.Text)
			}
		}
	}
}

// Digits are compared by value, whatever their script.
func TestLeaksReadsDigitsOfEveryScript(t *testing.T) {
	for _, text := range []string{
		"card ４１１１ １１１１ １１１１ １１１１ in full-width",
		"card ٤١١١-١١١١-١١١١-١١١١ in Arabic-Indic",
		"card ४१११ १११११११११११११ in Devanagari",
		"phone 07700 900461 typed with ASCII digits, planted with Arabic-Indic ones",
	} {
		if len(Leaks(text)) == 0 {
			t.Errorf("Leaks(%q) found nothing", text)
		}
	}
	// Digits, which the tests that look for card numbers use too, reads them
	// the same way and drops everything else.
	if got, want := Digits("４１１１-٤١١١ ४१११\u200b0009 x+1"), "41114111411100091"; got != want {
		t.Errorf("Digits = %q, want %q", got, want)
	}
}

// Leaving timestamps and addresses out does not hide a number typed beside or
// like one.
func TestLeaksFindsNumbersAmongTimestampsAndAddresses(t *testing.T) {
	for _, text := range []string{
		`time=2026-12-04T12:46:31.012Z note="3782 822463 10005"`,
		`2026-12-04T12:46:31Z378282246310005`,
		`ref 378.282.246.310005`,            // octets above 255: not an address
		`ref 3.7.8.2.8.2.2.4.6.3.1.0.0.0.5`, // no port: digits typed with dots
		`call 07700 900461 in 5s`,
		`at 127.0.0.1:4111 1111 1111 1111`,
	} {
		if len(Leaks(text)) == 0 {
			t.Errorf("Leaks(%q) = none, want the card", text)
		}
	}
}

func TestLeaksPassesWhatHoldsNoPersonalValue(t *testing.T) {
	clean := []string{
		`invalid_value: payload.order.OrderStatus: is not an Amazon order status (19 characters: digits, spaces)`,
		`malformed_json: payload: invalid JSON (at byte 104)`,
		`time=2026-12-03T06:24:13Z level=WARN msg="write failed; retrying" partition=1 offset=111 attempt=11`,
		`bad_amount: payload.items[0].ItemPrice.Amount: amount is not a decimal number (32 characters: letters, punctuation)`,
		// slog's timestamps and kafka-go's addresses: their digits run
		// together into pieces of the Amex number (124631012, 1270013782822).
		`time=2026-12-04T12:46:31.012Z level=INFO msg="kafka reader" detail="read tcp 127.0.0.1:37828->127.0.0.1:22463: i/o timeout"`,
		`time=2026-12-04T12:46:31.012+01:00 addr=10.24.63.100:5`,
		`dial tcp [::1]:9092, 192.168.1.1:9092: connection refused`,
		`msg="batch committed" duration=1.900461234s wait=1m7.70090046s took=378.282246ms`,
	}
	for _, c := range clean {
		if got := Leaks(c); len(got) > 0 {
			t.Errorf("Leaks(%q) = %v, want none", c, got)
		}
	}
}

func TestPlantReachesEveryLeaf(t *testing.T) {
	msg := []byte(`{"a":"x","b":{"c":1,"d":[true,{"e":null}]},"f":[],"g":{}}`)
	seq, err := Plant(msg)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]int{}
	for p := range seq {
		paths[p.Path]++
		var doc any
		if err := json.Unmarshal(p.Message(), &doc); err != nil {
			t.Fatalf("planted message is not JSON: %v", err)
		}
		if !strings.Contains(string(p.Message()), p.Value.Text) && len(Leaks(string(p.Message()))) == 0 {
			t.Errorf("%s: %s not planted: %s", p.Path, p.Value.Kind, p.Message())
		}
	}
	for _, want := range []string{"a", "b.c", "b.d[0]", "b.d[1].e", "f", "g"} {
		if paths[want] < len(Corpus) {
			t.Errorf("path %s planted %d times, want at least %d", want, paths[want], len(Corpus))
		}
	}
	if len(paths) != 6 {
		t.Errorf("planted into %d paths, want 6: %v", len(paths), paths)
	}
}
