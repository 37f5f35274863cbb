package channel

import (
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
)

// ebay is eBay's Sell Fulfillment API: an Order as getOrder returns it.
var ebay = Spec{
	Name:          order.ChannelEbay,
	Enum:          2,
	Topic:         "orders.ebay",
	Decoder:       normalize.Ebay,
	SourceFormats: []string{order.SourceEbayFulfillmentV1},
	// The Sell APIs' MarketplaceIdEnum.
	Jurisdictions: map[string]string{
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
	},
}
