package protect_test

import (
	"fmt"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
)

// Synthetic orders for the tests that need many: the fixtures' shapes (lines,
// taxes, refunds, free text, both channels) with made-up buyers, so that who
// buys, and how often, is under the test's control.

var (
	firstNames = []string{"Ann", "Bob", "Chloë", "Dev", "Eilidh", "Farah", "Gareth", "Hannah", "Iwan", "Jo", "Kwame", "Léa", "Mairi", "Niamh", "Owen", "Priya"}
	surnames   = []string{"Smith", "O'Neill", "Jones", "Patel", "MacLeod", "Nowak", "Brontë", "Evans", "Khan", "Taylor", "Ó Súilleabháin", "Wright"}
	streets    = []string{"Baker Street", "Rathad na Drochaid", "Ffordd y Môr", "Church Lane", "Victoria Road", "Mill Wynd", "Station Approach"}
	towns      = []struct{ city, postcode string }{
		{"London", "NW1 6XE"}, {"Manchester", "M1 1AE"}, {"Portree", "IV51 9DH"}, {"Cardiff", "CF10 1EP"},
		{"Belfast", "BT7 1NN"}, {"Leeds", "LS1 4AP"}, {"Lerwick", "ZE1 0AA"}, {"Bristol", "BS1 5TR"},
	}
)

// buyer is one made-up buyer: the same person on every order they place.
type buyer struct {
	name, email, phone, username string
	address                      order.Address
}

// newBuyer makes buyer i of the run tagged tag: every field differs between
// buyers, and between runs.
func newBuyer(tag string, i int) buyer {
	first, last := firstNames[i%len(firstNames)], surnames[(i/len(firstNames))%len(surnames)]
	town := towns[i%len(towns)]
	name := fmt.Sprintf("%s %s-%s%d", first, last, tag, i)
	return buyer{
		name:     name,
		email:    fmt.Sprintf("%s.%s.%s%d@example.co.uk", first, tag, "b", i),
		phone:    fmt.Sprintf("+44 7700 9%05d", i%100000),
		username: fmt.Sprintf("%s_%s_%d", first, tag, i),
		address: order.Address{
			Name:        name,
			Line1:       fmt.Sprintf("%d %s", 1+i%200, streets[i%len(streets)]),
			Line2:       fmt.Sprintf("Flat %d-%s%d", 1+i%9, tag, i),
			City:        town.city,
			PostalCode:  town.postcode,
			CountryCode: "GB",
			Phone:       fmt.Sprintf("+44 7700 9%05d", i%100000),
		},
	}
}

// newOrder makes order id of tenant, bought by b, shaped like template.
func newOrder(template order.Order, tenant string, id int, b buyer) order.Order {
	o := template
	o.TenantID = tenant
	o.ChannelOrderID = fmt.Sprintf("%03d-%07d-%07d", 200+id%10, id, id*7%10000000)
	o.Buyer = order.Buyer{Name: b.name, Email: b.email, Phone: b.phone}
	if o.Channel == order.ChannelEbay {
		o.Buyer.Username = b.username
	}
	if o.Fulfilment == order.FulfilmentMerchant {
		a := b.address
		o.ShippingAddress = &a
	}
	return o
}

// templates are the fixtures that make good shapes: every one of them.
func templates(t testing.TB) []order.Order { return protect.Fixtures(t) }
