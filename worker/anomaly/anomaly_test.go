package anomaly_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/anomaly"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

func orderTo(tenant, id, line1, postcode string) *order.Order {
	return &order.Order{TenantID: tenant, Channel: order.ChannelAmazon, ChannelOrderID: id,
		ShippingAddress: &order.Address{Name: "Someone", Line1: line1, PostalCode: postcode, CountryCode: "GB"}}
}

// A seller's usual orders spread over addresses and areas; a hacked one's
// burst goes to one address, however its case and spacing are written, and
// counts once per order whatever the snapshots. The window forgets.
func TestASingleDropAddressStandsOut(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	d := anomaly.New(anomaly.Config{Window: time.Hour, Now: func() time.Time { return now }})
	postcodes := []string{"SW1A 1AA", "M1 1AE", "LS1 4AP", "B1 1BB", "EH1 1YZ", "CF10 1EP", "BS1 4DJ", "NE1 7RU", "G1 1XQ", "L1 8JQ", "OX1 2JD", "CB2 1TN"}
	for i, pc := range postcodes {
		o := orderTo("steady", fmt.Sprintf("203-0000000-%07d", i), fmt.Sprintf("%d High Street", i+1), pc)
		d.Observe(o)
		d.Observe(o) // a later snapshot
	}
	for i := range 20 {
		line, pc := "Unit 7, Drop Lane", "DA1 1AA"
		if i%2 == 0 {
			line, pc = "  unit 7,  DROP lane ", "da11aa"
		}
		d.Observe(orderTo("hacked", fmt.Sprintf("204-0000000-%07d", i), line, pc))
	}
	for i := range 4 {
		d.Observe(orderTo("hacked", fmt.Sprintf("205-0000000-%07d", i), fmt.Sprintf("%d Usual Road", i), postcodes[i]))
	}
	for i := range 3 {
		d.Observe(orderTo("small", fmt.Sprintf("206-0000000-%07d", i), "1 Same Street", "SW1A 1AA"))
	}
	s := d.Shares()
	if got := s["steady"]; got.Orders != 12 || got.TopAddress > 0.1 || !got.Significant {
		t.Errorf("steady seller %+v, want 12 orders spread", got)
	}
	if got := s["hacked"]; got.Orders != 24 || got.TopAddress < 0.8 || got.TopArea < 0.8 {
		t.Errorf("hacked seller %+v, want 20 of 24 orders to one address and area", got)
	}
	if got := s["small"]; got.Significant {
		t.Errorf("a seller with 3 orders %+v: its shares say nothing, want them unreported", got)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d)
	for tenant, want := range map[string]float64{"hacked": 24, "small": 3, "steady": 12} {
		if got := telemetrytest.Sum(t, reg, "orderflow_tenant_recent_orders", "tenant="+tenant); got != want {
			t.Errorf("orderflow_tenant_recent_orders{tenant=%s} = %v, want %v", tenant, got, want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "orderflow_tenant_top_address_share" && len(f.GetMetric()) != 2 {
			t.Errorf("%d top-address series, want the two sellers with enough orders", len(f.GetMetric()))
		}
	}
	now = now.Add(61 * time.Minute)
	if s := d.Shares(); len(s) != 0 {
		t.Errorf("after the window: %+v, want nothing", s)
	}
}
