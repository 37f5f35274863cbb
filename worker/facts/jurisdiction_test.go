package facts_test

import (
	"testing"

	"github.com/orderflow/orderflow/worker/facts"
)

func TestJurisdiction(t *testing.T) {
	for marketplace, want := range map[string]string{
		// Amazon (developer-docs.amazon.com/sp-api/docs/marketplace-ids).
		"A1F83G8C2ARO7P": "GB", "A1PA6795UKMFR9": "DE", "A13V1IB3VIYZZH": "FR", "APJ6JRA9NG5V4": "IT",
		"A1RKKUPIHCS9HS": "ES", "A1805IZSGTT6HS": "NL", "AMEN7PMS3EDWL": "BE", "A2NODRKZP88ZB9": "SE",
		"A1C3SOZRARQ6R3": "PL", "A28R8C7NBKEWEA": "IE", "ATVPDKIKX0DER": "US", "A2EUQ1WTGCTBG2": "CA",
		"A1AM78C64UM0Y8": "MX", "A2Q3Y263D00KWC": "BR", "A1VC38T7YXB528": "JP", "A39IBJ37TRP1C6": "AU",
		"A21TJRUUN4KGV": "IN", "A19VAU5U5O7RUS": "SG", "A2VIGQ35RCS4UG": "AE", "A17E79C6D8DWNP": "SA",
		"ARBP9OOSHTCHU": "EG", "A33AVAJ2PDY3EV": "TR", "AE08WJ6YKNBMC": "ZA",
		// eBay.
		"EBAY_GB": "GB", "EBAY_DE": "DE", "EBAY_MOTORS_US": "US", "EBAY_US": "US", "EBAY_AT": "AT",
		"EBAY_AU": "AU", "EBAY_CA": "CA", "EBAY_ENCA": "CA", "EBAY_FRCA": "CA", "EBAY_CH": "CH",
		"EBAY_ES": "ES", "EBAY_FR": "FR", "EBAY_BEFR": "BE", "EBAY_BENL": "BE", "EBAY_IE": "IE",
		"EBAY_IT": "IT", "EBAY_NL": "NL", "EBAY_PL": "PL", "EBAY_HK": "HK", "EBAY_SG": "SG",
		"EBAY_MY": "MY", "EBAY_PH": "PH", "EBAY_IN": "IN",
		// Unknown: no jurisdiction, so the default financial retention applies.
		"":               "",
		"A2ZV50J4W1RKNI": "", // Amazon US non-Amazon (multi-channel fulfilment)
		"EBAY_XX":        "",
		"ebay_gb":        "",
		"a1f83g8c2aro7p": "",
		"EBAY_UK":        "",
	} {
		if got := facts.Jurisdiction(marketplace); got != want {
			t.Errorf("Jurisdiction(%q) = %q, want %q", marketplace, got, want)
		}
	}
}
