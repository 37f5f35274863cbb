package clickanddrop

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/order"
)

// Limits of the documented contract (Royal Mail's Swagger spec, v1), checked
// before sending so that one bad order fails alone, with a clean error,
// instead of turning a whole batch into a 400.
const (
	maxOrderReference     = 40
	maxFullName           = 210
	maxAddressField       = 100 // companyName, addressLine1-3, city, county
	maxPostcode           = 20
	maxCountryCode        = 3
	maxPhone              = 25
	maxEmail              = 254
	maxServiceCode        = 10
	maxWeightInGrams      = 30000
	maxMoneyPennies       = 999999 * 100
	maxItemName           = 800
	maxSKU                = 100
	maxCustomsCode        = 10
	maxCustomsDescription = 50
	maxQuantity           = 999999
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

// wire types: the JSON Click & Drop reads, only the members the
// allow-list fills.
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
		Name               string      `json:"name,omitempty"`
		SKU                string      `json:"SKU,omitempty"`
		Quantity           int         `json:"quantity"`
		UnitValue          json.Number `json:"unitValue,omitempty"`
		CustomsDescription string      `json:"customsDescription,omitempty"`
		CustomsCode        string      `json:"customsCode,omitempty"`
	}
	postageDetails struct {
		ServiceCode              string `json:"serviceCode,omitempty"`
		ReceiveEmailNotification bool   `json:"receiveEmailNotification,omitempty"`
		ReceiveSmsNotification   bool   `json:"receiveSmsNotification,omitempty"`
	}
)

// toWire maps a create's projection to Click & Drop's CreateOrderRequest,
// following the "as" column of the clickanddrop allow-list
// (schemas/policy/connectors.yaml), or says which field breaks the
// contract. Nothing but d.OrderReference and d.Fields reaches the wire.
func toWire(d *courier.Delivery) (createOrderRequest, error) {
	p := d.Fields
	v := checker{}
	v.text("orderReference", d.OrderReference, maxOrderReference, true)
	a := addressWire{
		FullName:     p.Text("shipping_address.name"),
		CompanyName:  p.Text("shipping_address.company_name"),
		AddressLine1: p.Text("shipping_address.line1"),
		AddressLine2: p.Text("shipping_address.line2"),
		AddressLine3: p.Text("shipping_address.line3"),
		City:         p.Text("shipping_address.city"),
		County:       p.Text("shipping_address.county"),
		Postcode:     p.Text("shipping_address.postal_code"),
		CountryCode:  p.Text("shipping_address.country_code"),
	}
	if a.County == "" {
		// Click & Drop has no state: a US state or a region fills county.
		a.County = p.Text("shipping_address.state_or_region")
	}
	rcp := recipientWire{
		Address:      a,
		PhoneNumber:  p.Text("shipping_address.phone"),
		EmailAddress: p.Text("shipping_address.email"),
	}
	v.text("recipient.address.fullName", a.FullName, maxFullName, false)
	v.text("recipient.address.companyName", a.CompanyName, maxAddressField, false)
	v.text("recipient.address.addressLine1", a.AddressLine1, maxAddressField, true)
	v.text("recipient.address.addressLine2", a.AddressLine2, maxAddressField, false)
	v.text("recipient.address.addressLine3", a.AddressLine3, maxAddressField, false)
	v.text("recipient.address.city", a.City, maxAddressField, true)
	v.text("recipient.address.county", a.County, maxAddressField, false)
	v.text("recipient.address.postcode", a.Postcode, maxPostcode, false)
	v.text("recipient.address.countryCode", a.CountryCode, maxCountryCode, true)
	v.text("recipient.phoneNumber", rcp.PhoneNumber, maxPhone, false)
	v.text("recipient.emailAddress", rcp.EmailAddress, maxEmail, false)
	orderDate := p.Time("purchased_at")
	if orderDate.IsZero() {
		v.fail("orderDate", "is required")
	}

	// subtotal, shippingCostCharged and total are required numbers, but the
	// allow-list lets the order's values go only with a customs
	// declaration: without one they are sent as 0.00 GBP.
	currency := "GBP"
	if p.Has("totals.total") {
		currency = p.Money("totals.total").Currency
	}
	amount := func(src string) order.Money {
		if !p.Has(src) {
			return order.Money{Currency: currency}
		}
		return p.Money(src)
	}
	w := createOrderRequest{
		OrderReference:      d.OrderReference,
		OrderDate:           orderDate.UTC().Format(time.RFC3339),
		Subtotal:            v.money("subtotal", amount("totals.subtotal"), currency),
		ShippingCostCharged: v.money("shippingCostCharged", amount("totals.shipping"), currency),
		Total:               v.money("total", amount("totals.total"), currency),
		CurrencyCode:        currency,
		Recipient:           rcp,
	}
	post := postageDetails{ServiceCode: p.Text("parcel.service_code")}
	v.text("postageDetails.serviceCode", post.ServiceCode, maxServiceCode, false)
	if rcp.PhoneNumber != "" {
		post.ReceiveSmsNotification = true
	}
	if rcp.EmailAddress != "" {
		post.ReceiveEmailNotification = true
	}
	if post != (postageDetails{}) {
		w.PostageDetails = &post
	}

	pw := packageWire{WeightInGrams: p.Int("parcel.weight_grams"), PackageFormatIdentifier: p.Text("parcel.format")}
	if pw.WeightInGrams < 1 || pw.WeightInGrams > maxWeightInGrams {
		v.fail("packages[0].weightInGrams", "is not between 1 and 30000")
	}
	if !packageFormats[pw.PackageFormatIdentifier] {
		v.fail("packages[0].packageFormatIdentifier", "is not a documented package format")
	}
	for j, l := range p.Lines() {
		at := "packages[0].contents[" + strconv.Itoa(j) + "]"
		it := itemWire{
			Name:               l.Text("lines.title"),
			SKU:                l.Text("lines.sku"),
			Quantity:           l.Int("lines.quantity"),
			CustomsDescription: cut(l.Text("lines.title"), maxCustomsDescription),
			CustomsCode:        l.Text("parcel.lines.tariff_code"),
		}
		v.text(at+".name", it.Name, maxItemName, false)
		v.text(at+".SKU", it.SKU, maxSKU, false)
		v.text(at+".customsCode", it.CustomsCode, maxCustomsCode, false)
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			v.fail(at+".quantity", "is not between 1 and 999999")
		}
		if l.Has("lines.unit_price") {
			it.UnitValue = v.money(at+".unitValue", l.Money("lines.unit_price"), currency)
		}
		pw.Contents = append(pw.Contents, it)
	}
	w.Packages = []packageWire{pw}
	return w, v.err
}

// cut keeps the first n characters of s: a customs description is a
// product's title, never personal, and Click & Drop takes 50 characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
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
