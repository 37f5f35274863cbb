package facts

// Jurisdiction returns the ISO 3166-1 alpha-2 country of a marketplace, whose
// record-keeping rules apply to its financial records (retention is
// configurable per jurisdiction): Amazon marketplace ids as listed in
// developer-docs.amazon.com/sp-api/docs/marketplace-ids (where the United
// Kingdom's is written "UK"; ISO's GB is used here) and eBay marketplace ids
// (EBAY_GB). It returns "" for a marketplace it does not know, such as
// Amazon's non-Amazon (multi-channel fulfilment) ids.
func Jurisdiction(marketplace string) string { return jurisdictions[marketplace] }

var jurisdictions = map[string]string{
	// Amazon, Europe.
	"A1F83G8C2ARO7P": "GB",
	"A1PA6795UKMFR9": "DE",
	"A13V1IB3VIYZZH": "FR",
	"APJ6JRA9NG5V4":  "IT",
	"A1RKKUPIHCS9HS": "ES",
	"A1805IZSGTT6HS": "NL",
	"AMEN7PMS3EDWL":  "BE",
	"A2NODRKZP88ZB9": "SE",
	"A1C3SOZRARQ6R3": "PL",
	"A28R8C7NBKEWEA": "IE",
	"A2VIGQ35RCS4UG": "AE",
	"A17E79C6D8DWNP": "SA",
	"ARBP9OOSHTCHU":  "EG",
	"A33AVAJ2PDY3EV": "TR",
	"AE08WJ6YKNBMC":  "ZA",
	"A21TJRUUN4KGV":  "IN",
	// Amazon, North America.
	"ATVPDKIKX0DER":  "US",
	"A2EUQ1WTGCTBG2": "CA",
	"A1AM78C64UM0Y8": "MX",
	"A2Q3Y263D00KWC": "BR",
	// Amazon, Far East.
	"A1VC38T7YXB528": "JP",
	"A39IBJ37TRP1C6": "AU",
	"A19VAU5U5O7RUS": "SG",

	// eBay (the Sell APIs' MarketplaceIdEnum).
	"EBAY_GB":        "GB",
	"EBAY_DE":        "DE",
	"EBAY_MOTORS_US": "US",
	"EBAY_US":        "US",
	"EBAY_AT":        "AT",
	"EBAY_AU":        "AU",
	"EBAY_CA":        "CA",
	"EBAY_ENCA":      "CA",
	"EBAY_FRCA":      "CA",
	"EBAY_CH":        "CH",
	"EBAY_ES":        "ES",
	"EBAY_FR":        "FR",
	"EBAY_BEFR":      "BE",
	"EBAY_BENL":      "BE",
	"EBAY_IE":        "IE",
	"EBAY_IT":        "IT",
	"EBAY_NL":        "NL",
	"EBAY_PL":        "PL",
	"EBAY_HK":        "HK",
	"EBAY_SG":        "SG",
	"EBAY_MY":        "MY",
	"EBAY_PH":        "PH",
	"EBAY_IN":        "IN",
}
