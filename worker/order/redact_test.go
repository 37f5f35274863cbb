package order

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func piiOrder() Order {
	addr := &Address{Name: "Zoë Brontë", Line1: "12 Haworth Lane", City: "Keighley", PostalCode: "BD22 8DR", Phone: "+44 7700 900123", CountryCode: "GB"}
	return Order{
		TenantID: "acme-uk", Channel: ChannelAmazon, ChannelOrderID: "202-8362759-3910736", Status: StatusShipped,
		Buyer:           Buyer{Name: "Zoë Brontë", Email: "zoe.bronte@example.co.uk", Phone: "+44 7700 900123", Username: "zoeb_1848"},
		ShippingAddress: addr, BillingAddress: addr,
		FreeText: []FreeText{{Kind: FreeTextGiftMessage, Text: "Happy birthday Anne, love Zoë"}},
	}
}

var secrets = []string{"Zoë", "Brontë", "Haworth", "Keighley", "BD22", "7700", "example.co.uk", "zoeb_1848", "birthday"}

func TestPersonalDataNeverPrints(t *testing.T) {
	o := piiOrder()
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("order", "order", o, "buyer", o.Buyer, "address", o.ShippingAddress, "free_text", o.FreeText)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("order", "order", o, "buyer", o.Buyer, "address", *o.ShippingAddress)
	outputs := []string{
		fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", o.Buyer),
		fmt.Sprintf("%q", o.Buyer), fmt.Sprintf("%v", o.ShippingAddress), fmt.Sprintf("%+v", *o.BillingAddress),
		fmt.Sprint(o.FreeText), fmt.Errorf("write %v: %w", o.Buyer, fmt.Errorf("x")).Error(), logged.String(),
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%q leaks %q", out, s)
			}
		}
	}
	if !strings.Contains(logged.String(), "202-8362759-3910736") {
		t.Errorf("the log lost the order's identity: %s", logged.String())
	}
}
