package clickanddroptest

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// sourceOf maps each member of a CreateOrderRequest a connector may fill to
// the allow-list source it carries: the "as" column of the clickanddrop
// allow-list (schemas/policy/connectors.yaml), read backwards. Members
// mapped to "" are companions of another (currencyCode of total, the
// notification switches of the phone and the email).
var sourceOf = map[string]string{
	"orderReference":                           "channel_order_id",
	"orderDate":                                "purchased_at",
	"recipient.address.fullName":               "shipping_address.name",
	"recipient.address.companyName":            "shipping_address.company_name",
	"recipient.address.addressLine1":           "shipping_address.line1",
	"recipient.address.addressLine2":           "shipping_address.line2",
	"recipient.address.addressLine3":           "shipping_address.line3",
	"recipient.address.city":                   "shipping_address.city",
	"recipient.address.county":                 "shipping_address.county", // or state_or_region in its place
	"recipient.address.postcode":               "shipping_address.postal_code",
	"recipient.address.countryCode":            "shipping_address.country_code",
	"recipient.phoneNumber":                    "shipping_address.phone",
	"recipient.emailAddress":                   "shipping_address.email",
	"postageDetails.receiveSmsNotification":    "",
	"postageDetails.receiveEmailNotification":  "",
	"postageDetails.serviceCode":               "parcel.service_code",
	"packages[].weightInGrams":                 "parcel.weight_grams",
	"packages[].packageFormatIdentifier":       "parcel.format",
	"subtotal":                                 "totals.subtotal",
	"shippingCostCharged":                      "totals.shipping",
	"total":                                    "totals.total",
	"currencyCode":                             "",
	"packages[].contents[].SKU":                "lines.sku",
	"packages[].contents[].name":               "lines.title",
	"packages[].contents[].customsDescription": "lines.title",
	"packages[].contents[].quantity":           "lines.quantity",
	"packages[].contents[].unitValue":          "lines.unit_price",
	"packages[].contents[].customsCode":        "parcel.lines.tariff_code",
}

// required are the amounts CreateOrderRequest requires: sent as 0 when the
// allow-list does not let the order's values go, so a zero carries no
// source.
var required = map[string]bool{"subtotal": true, "shippingCostCharged": true, "total": true}

// Sources returns the allow-list sources the order's body carries, sorted
// and each once; a member no source fills is returned as "?" and its path,
// so that comparing with the allowed sources fails.
func (o Order) Sources() []string {
	set := map[string]bool{}
	for _, l := range leaves(o.Body) {
		src, ok := sourceOf[l.path]
		switch {
		case !ok:
			set["?"+l.path] = true
		case src == "":
		case required[l.path] && strings.Trim(l.text, "0.") == "":
		default:
			set[src] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Values returns the text of every leaf of the body: what a test searches
// for values that must never be sent.
func (o Order) Values() []string {
	var out []string
	for _, l := range leaves(o.Body) {
		out = append(out, l.text)
	}
	slices.Sort(out)
	return out
}

type leaf struct{ path, text string }

// leaves flattens a JSON document to its leaves: paths (array elements as
// "[]") and texts.
func leaves(body json.RawMessage) []leaf {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	_ = dec.Decode(&doc)
	var out []leaf
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), c)
			}
		case []any:
			for _, c := range v {
				walk(prefix+"[]", c)
			}
		case json.Number:
			out = append(out, leaf{prefix, v.String()})
		case string:
			out = append(out, leaf{prefix, v})
		case bool:
			out = append(out, leaf{prefix, strconv.FormatBool(v)})
		}
	}
	walk("", doc)
	return out
}
