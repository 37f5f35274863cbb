package normalize

import "github.com/orderflow/orderflow/worker/order"

// Identifiers that the marketplaces assign: Amazon's order id, order item id
// and ASIN, eBay's order id, line item id and item id. The protect stage does
// not scan them for card numbers (schemas/policy/order-fields.yaml, card_scan:
// exempt), for two reasons: the marketplace assigns them, no buyer or seller
// types them; and many are runs of 12 to 19 digits with a Luhn-valid window
// (one in ten 12- or 14-digit ids, most 3-7-7 order ids), which the scan would
// cut out of the ClickHouse key the id is part of. Instead each is held here to
// its documented format, and a message whose identifier breaks it is
// dead-lettered as invalid_value.
//
// The format narrows what can stand in these fields: digits (and for an ASIN
// or a Multi-Channel Fulfillment order id, capital letters) in fixed lengths,
// dashes only where the format puts them, no spaces or other separators, no
// other script's digits, no email, no free text. It does not rule card numbers
// out: the Amazon order id 041-1111111-1111111 holds the Visa test number
// 4111 1111 1111 1111, and the Diners test number 30569309025904 has the shape
// of an order item id or a line item id. A card number written the way people
// write them (in groups of four, with spaces) fails every format; one that a
// producer deliberately shapes as an id passes, and is stored as the id it
// claims to be.
//
// Where the documentation only says "string", the rule is the shape every
// documented example and every order seen has, as tight as that: a digit count,
// not a range of lengths a card number could fall into. If a marketplace ever
// lengthens an id, its messages go to the DLQ (visible, replayable once the rule
// is widened here and in the policy), never to storage unchecked.
//
// Errors name the field and the rule, never the value.

// The rules, each with its source.
const (
	// ordersV0.json, definitions.Order.AmazonOrderId: "An Amazon-defined order
	// identifier, in 3-7-7 format" (e.g. 902-3159896-1390916); the v2026 model's
	// orderId is the same identifier (its examples are 3-7-7). The first group is
	// letters for Multi-Channel Fulfillment orders (S01-...).
	ruleAmazonOrderID = "not an Amazon order id (3-7-7: three capital letters or digits, then two groups of seven digits)"
	// ordersV0.json OrderItem.OrderItemId, orders_2026-01-01.json
	// OrderItem.orderItemId: "An Amazon-defined order item identifier"; every
	// example in both models (68828574383266, 20212345678901, ...) has 14 digits.
	ruleAmazonOrderItemID = "not an Amazon order item id (14 digits)"
	// ASIN: "a 10-character alphanumeric unique identifier assigned by Amazon"
	// (B0 and 8 more for products, the ISBN-10 for books, e.g. 1399617834).
	ruleASIN = "not an ASIN (10 capital letters or digits)"
	// eBay Fulfillment API Order.orderId: since June 2019 REST APIs return only
	// the new, "non-parsable" format (legacyOrderId carried the old one, and was
	// itself decommissioned in release 1.20.6, April 2025); getOrders reaches back
	// two years at most, so no legacy id can come. Every one seen has the shape
	// 2-5-5 digits (21-12833-40939).
	ruleEbayOrderID = "not an eBay order id (2-5-5 digits: NN-NNNNN-NNNNN)"
	// eBay Fulfillment API LineItem.lineItemId: "the unique identifier of an eBay
	// order line item"; eBay ids are 64-bit numbers (eBay KB 468), and line item
	// ids seen are 14 digits (10075789881221).
	ruleEbayLineItemID = "not an eBay line item id (14 digits)"
	// eBay Fulfillment API LineItem.legacyItemId, the listing's item id: 12 digits
	// since eBay left 10-digit item ids behind (eBay KB 468), e.g. 143894109894.
	ruleEbayItemID = "not an eBay item id (12 digits, not starting with 0)"
)

// withValidIDs returns o, or no order and the first identifier of o that
// breaks its rule, as check finds it.
func withValidIDs(o order.Order, check func(*order.Order) error) (order.Order, error) {
	if err := check(&o); err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// amazonV0IDs checks an order read from the Orders API v0 shape; its lines are
// the payload's items, in order.
func amazonV0IDs(o *order.Order) error {
	return amazonIDs(o, "payload.order.AmazonOrderId", func(i int) (string, string) {
		return v0ItemPath(i, "OrderItemId"), v0ItemPath(i, "ASIN")
	})
}

// amazon2026IDs checks an order read from the Orders API v2026-01-01 shape.
func amazon2026IDs(o *order.Order) error {
	return amazonIDs(o, "payload.order.orderId", func(i int) (string, string) {
		return v2026ItemPath(i) + ".orderItemId", v2026ItemPath(i) + ".product.asin"
	})
}

// amazonIDs checks an Amazon order's ids; paths names line i's item id and
// ASIN in the payload. The ASIN is optional in v2026 (v0's decoder has already
// required it).
func amazonIDs(o *order.Order, orderPath string, paths func(i int) (itemID, asin string)) error {
	if !isAmazonOrderID(o.ChannelOrderID) {
		return fail(ReasonInvalidValue, orderPath, ruleAmazonOrderID)
	}
	for i := range o.Lines {
		l := &o.Lines[i]
		if !isDigits(l.LineID, 14) {
			itemID, _ := paths(i)
			return fail(ReasonInvalidValue, itemID, ruleAmazonOrderItemID)
		}
		if l.ASIN != "" && !isASIN(l.ASIN) {
			_, asin := paths(i)
			return fail(ReasonInvalidValue, asin, ruleASIN)
		}
	}
	return nil
}

// ebayIDs checks an order read from an eBay Fulfillment API payload; its lines
// are the payload's lineItems, in order; legacyItemId is optional.
func ebayIDs(o *order.Order) error {
	if !isEbayOrderID(o.ChannelOrderID) {
		return fail(ReasonInvalidValue, "payload.orderId", ruleEbayOrderID)
	}
	for i := range o.Lines {
		l := &o.Lines[i]
		if !isDigits(l.LineID, 14) {
			return fail(ReasonInvalidValue, linePath(i, "lineItemId"), ruleEbayLineItemID)
		}
		if l.ItemID != "" && (!isDigits(l.ItemID, 12) || l.ItemID[0] == '0') {
			return fail(ReasonInvalidValue, linePath(i, "legacyItemId"), ruleEbayItemID)
		}
	}
	return nil
}

// isAmazonOrderID: three capital letters or digits, '-', seven digits, '-',
// seven digits.
func isAmazonOrderID(s string) bool {
	if len(s) != 19 || s[3] != '-' || s[11] != '-' {
		return false
	}
	for i := range 3 {
		if !isUpperAlnum(s[i]) {
			return false
		}
	}
	return isDigits(s[4:11], 7) && isDigits(s[12:], 7)
}

// isEbayOrderID: two digits, '-', five digits, '-', five digits.
func isEbayOrderID(s string) bool {
	return len(s) == 14 && s[2] == '-' && s[8] == '-' && isDigits(s[:2], 2) && isDigits(s[3:8], 5) && isDigits(s[9:], 5)
}

func isASIN(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range len(s) {
		if !isUpperAlnum(s[i]) {
			return false
		}
	}
	return true
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUpperAlnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }
