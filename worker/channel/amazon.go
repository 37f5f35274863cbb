package channel

import (
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
)

// amazon is Amazon's Selling Partner API: Orders v0 and v2026-01-01 payloads.
var amazon = Spec{
	Name:          order.ChannelAmazon,
	Enum:          1,
	Topic:         "orders.amazon",
	Decoder:       normalize.Amazon,
	SourceFormats: []string{order.SourceAmazonOrdersV0, order.SourceAmazonOrders202601},
	// Amazon marketplace ids as developer-docs.amazon.com/sp-api/docs/marketplace-ids
	// lists them (where the United Kingdom's is written "UK"; ISO's GB is used
	// here). The non-Amazon (multi-channel fulfilment) ids have no jurisdiction.
	Jurisdictions: map[string]string{
		// Europe.
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
		// North America.
		"ATVPDKIKX0DER":  "US",
		"A2EUQ1WTGCTBG2": "CA",
		"A1AM78C64UM0Y8": "MX",
		"A2Q3Y263D00KWC": "BR",
		// Far East.
		"A1VC38T7YXB528": "JP",
		"A39IBJ37TRP1C6": "AU",
		"A19VAU5U5O7RUS": "SG",
	},
}
