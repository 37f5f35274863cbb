package clickanddrop

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/order"
)

// Request is one courier job as Click & Drop needs it: the job's
// allow-listed projection, already decrypted by the dispatcher, in plain
// field values, plus the job's idempotency key and the order reference the
// courier knows the order by. Nothing outside the allow-list has a field
// here, so nothing else can be sent.
type Request struct {
	// Kind is outbox.KindCreate or outbox.KindCancel. A cancel needs only
	// OrderReference.
	Kind outbox.Kind `json:"kind"`
	// IdempotencyKey is the job's (outbox.IdempotencyKey). Click & Drop has
	// no idempotency key; OrderReference does its work (see Client.Send).
	IdempotencyKey string `json:"idempotency_key"`
	// OrderReference is Click & Drop's orderReference (at most 40
	// characters): how a redelivered job finds the order it created.
	OrderReference string `json:"order_reference"`

	Recipient   Recipient `json:"recipient"`
	Packages    []Package `json:"packages"`
	ServiceCode string    `json:"service_code,omitempty"`
	OrderDate   time.Time `json:"order_date"`
	// Subtotal, ShippingCostCharged and Total are required by the API; they
	// are sent as JSON numbers converted exactly from the amounts, which must
	// be whole pennies, not negative, in one currency (sent as currencyCode).
	Subtotal            order.Money `json:"subtotal"`
	ShippingCostCharged order.Money `json:"shipping_cost_charged"`
	Total               order.Money `json:"total"`
}

// Recipient is the delivery address. PhoneNumber and EmailAddress are set
// only when the tenant has delivery notifications on.
type Recipient struct {
	FullName     string `json:"full_name,omitempty"`
	CompanyName  string `json:"company_name,omitempty"`
	AddressLine1 string `json:"address_line1"`
	AddressLine2 string `json:"address_line2,omitempty"`
	AddressLine3 string `json:"address_line3,omitempty"`
	City         string `json:"city"`
	County       string `json:"county,omitempty"`
	Postcode     string `json:"postcode,omitempty"`
	CountryCode  string `json:"country_code"`
	PhoneNumber  string `json:"phone_number,omitempty"`
	EmailAddress string `json:"email_address,omitempty"`
}

// Package is one parcel. Contents is set only for a destination that needs
// a customs declaration.
type Package struct {
	WeightInGrams           int    `json:"weight_in_grams"`
	PackageFormatIdentifier string `json:"package_format_identifier"`
	Contents                []Item `json:"contents,omitempty"`
}

// Item is a line of a customs declaration: product data, nothing of the
// buyer's.
type Item struct {
	Name              string      `json:"name,omitempty"`
	SKU               string      `json:"sku,omitempty"`
	Quantity          int         `json:"quantity"`
	UnitValue         order.Money `json:"unit_value"`
	UnitWeightInGrams int         `json:"unit_weight_in_grams"`
	CustomsCode       string      `json:"customs_code,omitempty"`
	OriginCountryCode string      `json:"origin_country_code,omitempty"`
}

// Limits of the documented contract (Royal Mail's Swagger spec, v1), checked
// before sending so that one bad order fails alone, with a clean error,
// instead of turning a whole batch into a 400.
const (
	maxOrderReference = 40
	maxFullName       = 210
	maxAddressField   = 100 // companyName, addressLine1-3, city, county
	maxPostcode       = 20
	maxCountryCode    = 3
	maxPhone          = 25
	maxEmail          = 254
	maxServiceCode    = 10
	maxWeightInGrams  = 30000
	maxMoneyPennies   = 999999 * 100
	maxItemName       = 800
	maxSKU            = 100
	maxCustomsCode    = 10
	maxQuantity       = 999999
)

// packageFormats are the documented packageFormatIdentifier values ('custom'
// formats are for ChannelShipper accounts only).
var packageFormats = map[string]bool{
	"letter": true, "largeLetter": true, "smallParcel": true, "mediumParcel": true,
	"largeParcel": true, "parcel": true, "documents": true,
}

// FieldError says which field of a request breaks which rule of the
// contract. It never holds the value: at most its length.
type FieldError struct {
	Field string // the wire path: "recipient.address.addressLine1"
	Rule  string // fixed words: "is required", "is longer than 100 characters"
	Len   int    // the value's length in characters, when the rule is about it
}

func (e *FieldError) Error() string {
	if e.Len > 0 {
		return fmt.Sprintf("field %s %s (%d characters)", e.Field, e.Rule, e.Len)
	}
	return "field " + e.Field + " " + e.Rule
}

// wire types: the JSON Click & Drop reads. Only what Request carries.
type (
	createOrdersRequest struct {
		Items []createOrderRequest `json:"items"`
	}
	createOrderRequest struct {
		OrderReference      string          `json:"orderReference"`
		Recipient           recipientWire   `json:"recipient"`
		Packages            []packageWire   `json:"packages,omitempty"`
		OrderDate           string          `json:"orderDate"`
		Subtotal            json.Number     `json:"subtotal"`
		ShippingCostCharged json.Number     `json:"shippingCostCharged"`
		Total               json.Number     `json:"total"`
		CurrencyCode        string          `json:"currencyCode"`
		PostageDetails      *postageDetails `json:"postageDetails,omitempty"`
	}
	recipientWire struct {
		Address      addressWire `json:"address"`
		PhoneNumber  string      `json:"phoneNumber,omitempty"`
		EmailAddress string      `json:"emailAddress,omitempty"`
	}
	addressWire struct {
		FullName     string `json:"fullName,omitempty"`
		CompanyName  string `json:"companyName,omitempty"`
		AddressLine1 string `json:"addressLine1"`
		AddressLine2 string `json:"addressLine2,omitempty"`
		AddressLine3 string `json:"addressLine3,omitempty"`
		City         string `json:"city"`
		County       string `json:"county,omitempty"`
		Postcode     string `json:"postcode,omitempty"`
		CountryCode  string `json:"countryCode"`
	}
	packageWire struct {
		WeightInGrams           int        `json:"weightInGrams"`
		PackageFormatIdentifier string     `json:"packageFormatIdentifier"`
		Contents                []itemWire `json:"contents,omitempty"`
	}
	itemWire struct {
		Name              string      `json:"name,omitempty"`
		SKU               string      `json:"SKU,omitempty"`
		Quantity          int         `json:"quantity"`
		UnitValue         json.Number `json:"unitValue"`
		UnitWeightInGrams int         `json:"unitWeightInGrams"`
		CustomsCode       string      `json:"customsCode,omitempty"`
		OriginCountryCode string      `json:"originCountryCode,omitempty"`
	}
	postageDetails struct {
		ServiceCode string `json:"serviceCode,omitempty"`
	}
)

// toWire maps a create request to Click & Drop's CreateOrderRequest, or says
// which field breaks the contract.
func toWire(r *Request) (createOrderRequest, error) {
	v := checker{}
	v.text("orderReference", r.OrderReference, maxOrderReference, true)
	a := r.Recipient
	v.text("recipient.address.fullName", a.FullName, maxFullName, false)
	v.text("recipient.address.companyName", a.CompanyName, maxAddressField, false)
	v.text("recipient.address.addressLine1", a.AddressLine1, maxAddressField, true)
	v.text("recipient.address.addressLine2", a.AddressLine2, maxAddressField, false)
	v.text("recipient.address.addressLine3", a.AddressLine3, maxAddressField, false)
	v.text("recipient.address.city", a.City, maxAddressField, true)
	v.text("recipient.address.county", a.County, maxAddressField, false)
	v.text("recipient.address.postcode", a.Postcode, maxPostcode, false)
	v.text("recipient.address.countryCode", a.CountryCode, maxCountryCode, true)
	v.text("recipient.phoneNumber", a.PhoneNumber, maxPhone, false)
	v.text("recipient.emailAddress", a.EmailAddress, maxEmail, false)
	v.text("postageDetails.serviceCode", r.ServiceCode, maxServiceCode, false)
	if r.OrderDate.IsZero() {
		v.fail("orderDate", "is required")
	}
	currency := r.Total.Currency
	w := createOrderRequest{
		OrderReference:      r.OrderReference,
		OrderDate:           r.OrderDate.UTC().Format(time.RFC3339),
		Subtotal:            v.money("subtotal", r.Subtotal, currency),
		ShippingCostCharged: v.money("shippingCostCharged", r.ShippingCostCharged, currency),
		Total:               v.money("total", r.Total, currency),
		CurrencyCode:        currency,
		Recipient: recipientWire{
			Address: addressWire{
				FullName: a.FullName, CompanyName: a.CompanyName,
				AddressLine1: a.AddressLine1, AddressLine2: a.AddressLine2, AddressLine3: a.AddressLine3,
				City: a.City, County: a.County, Postcode: a.Postcode, CountryCode: a.CountryCode,
			},
			PhoneNumber:  a.PhoneNumber,
			EmailAddress: a.EmailAddress,
		},
	}
	if r.ServiceCode != "" {
		w.PostageDetails = &postageDetails{ServiceCode: r.ServiceCode}
	}
	for i, p := range r.Packages {
		at := "packages[" + strconv.Itoa(i) + "]"
		if p.WeightInGrams < 1 || p.WeightInGrams > maxWeightInGrams {
			v.fail(at+".weightInGrams", "is not between 1 and 30000")
		}
		if !packageFormats[p.PackageFormatIdentifier] {
			v.fail(at+".packageFormatIdentifier", "is not a documented package format")
		}
		pw := packageWire{WeightInGrams: p.WeightInGrams, PackageFormatIdentifier: p.PackageFormatIdentifier}
		for j, it := range p.Contents {
			at := at + ".contents[" + strconv.Itoa(j) + "]"
			v.text(at+".name", it.Name, maxItemName, false)
			v.text(at+".SKU", it.SKU, maxSKU, false)
			v.text(at+".customsCode", it.CustomsCode, maxCustomsCode, false)
			v.text(at+".originCountryCode", it.OriginCountryCode, maxCountryCode, false)
			if it.Quantity < 1 || it.Quantity > maxQuantity {
				v.fail(at+".quantity", "is not between 1 and 999999")
			}
			if it.UnitWeightInGrams < 0 || it.UnitWeightInGrams > 999999 {
				v.fail(at+".unitWeightInGrams", "is not between 0 and 999999")
			}
			pw.Contents = append(pw.Contents, itemWire{
				Name: it.Name, SKU: it.SKU, Quantity: it.Quantity,
				UnitValue:         v.money(at+".unitValue", it.UnitValue, currency),
				UnitWeightInGrams: it.UnitWeightInGrams,
				CustomsCode:       it.CustomsCode, OriginCountryCode: it.OriginCountryCode,
			})
		}
		w.Packages = append(w.Packages, pw)
	}
	if len(r.Packages) == 0 {
		v.fail("packages", "is empty")
	}
	return w, v.err
}

// checker keeps the first contract break of a request.
type checker struct{ err error }

func (c *checker) fail(field, rule string) {
	if c.err == nil {
		c.err = &FieldError{Field: field, Rule: rule}
	}
}

func (c *checker) text(field, s string, max int, required bool) {
	n := utf8.RuneCountInString(s)
	switch {
	case c.err != nil:
	case required && s == "":
		c.fail(field, "is required")
	case !utf8.ValidString(s):
		c.fail(field, "is not valid UTF-8")
	case n > max:
		c.err = &FieldError{Field: field, Rule: "is longer than " + strconv.Itoa(max) + " characters", Len: n}
	}
}

// money converts an exact amount to the JSON number Click & Drop reads
// (a decimal with at most two places, 0 to 999999), never through a float.
func (c *checker) money(field string, m order.Money, currency string) json.Number {
	if c.err != nil {
		return ""
	}
	switch {
	case m.Currency == "":
		c.fail(field, "is required")
		return ""
	case m.Currency != currency:
		c.fail(field, "is not in the order total's currency")
		return ""
	}
	pennies, exact := m.Amount.MinorUnits()
	switch {
	case !exact:
		c.fail(field, "has more than 2 decimal places")
	case pennies < 0:
		c.fail(field, "is negative")
	case pennies > maxMoneyPennies:
		c.fail(field, "is larger than 999999")
	default:
		return json.Number(fmt.Sprintf("%d.%02d", pennies/100, pennies%100))
	}
	return ""
}
