package order

import "encoding/json"

// MarshalJSON writes Redacted: a canonical order's personal data never leaves the
// process as JSON by accident. RevealJSON is the deliberate way.
func (Buyer) MarshalJSON() ([]byte, error)    { return redactedJSON, nil }
func (Address) MarshalJSON() ([]byte, error)  { return redactedJSON, nil }
func (FreeText) MarshalJSON() ([]byte, error) { return redactedJSON, nil }

var redactedJSON = []byte(`"` + Redacted + `"`)

// Types with the same fields and none of the redacting methods.
type (
	plainOrder    Order
	plainBuyer    Buyer
	plainAddress  Address
	plainFreeText FreeText
)

// revealedOrder marshals like Order but with the personal data in clear: its own
// fields shadow the embedded order's fields of the same JSON name.
type revealedOrder struct {
	plainOrder
	Buyer           plainBuyer      `json:"buyer"`
	ShippingAddress *plainAddress   `json:"shipping_address,omitempty"`
	BillingAddress  *plainAddress   `json:"billing_address,omitempty"`
	FreeText        []plainFreeText `json:"free_text"`
}

// RevealJSON marshals o with its personal data in clear, indented, for golden files
// and fixtures. Nothing in the pipeline calls it.
func RevealJSON(o Order) ([]byte, error) {
	r := revealedOrder{
		plainOrder:      plainOrder(o),
		Buyer:           plainBuyer(o.Buyer),
		ShippingAddress: (*plainAddress)(o.ShippingAddress),
		BillingAddress:  (*plainAddress)(o.BillingAddress),
	}
	if o.FreeText != nil {
		r.FreeText = make([]plainFreeText, len(o.FreeText))
		for i, ft := range o.FreeText {
			r.FreeText[i] = plainFreeText(ft)
		}
	}
	return json.MarshalIndent(r, "", "  ")
}
