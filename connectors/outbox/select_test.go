package outbox_test

import (
	"cmp"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/protected"
)

// readyOrder is a merchant-fulfilled eBay order ready to ship, every field
// a job reads set, its delivery label a stand-in ciphertext.
func readyOrder() protected.Order {
	gbp := func(a order.Amount) order.Money { return order.Money{Amount: a, Currency: "GBP"} }
	latest := time.Date(2026, 10, 14, 23, 59, 0, 0, time.UTC)
	return protected.Order{
		SchemaVersion: 1, TenantID: "acme-uk", Channel: order.ChannelEbay, SourceFormat: order.SourceEbayFulfillmentV1,
		Marketplace: "EBAY_GB", ChannelOrderID: "21-13579-24680", SellerOrderID: "4417",
		Status: order.StatusUnshipped, PaymentStatus: order.PaymentPaid, SourceStatus: "NOT_STARTED/PAID/NONE_REQUESTED",
		Fulfilment: order.FulfilmentMerchant, ShipServiceLevel: "UK_RoyalMailSecondClassStandard",
		PurchasedAt:     time.Date(2026, 10, 12, 9, 41, 27, 0, time.UTC),
		SourceUpdatedAt: time.Date(2026, 10, 12, 9, 44, 3, 250e6, time.UTC),
		ReceivedAt:      time.Date(2026, 10, 12, 9, 45, 0, 0, time.UTC),
		LatestShipAt:    &latest,
		ShippingAddress: &protected.Address{CountryCode: "GB", AddressType: "residential"},
		DeliveryLabel:   protected.SealCiphertexts([]string{"vault:v1:c3RhbmQtaW4="})[0],
		Lines: []protected.Line{
			{LineID: "10051234567890", SKU: "MUG-OAK-2", ItemID: "296512873401", Title: "Oak mug tree, 2 pack", Quantity: 2,
				UnitPrice: gbp(129900), LineTotal: gbp(259800), Tax: gbp(43300)},
			{LineID: "10051234567891", SKU: "CST-SLATE-4", Title: "Slate coasters (4)", Quantity: 1,
				UnitPrice: gbp(85000), LineTotal: gbp(85000)},
		},
		Totals: protected.Totals{Subtotal: gbp(344800), Shipping: gbp(35000), Total: gbp(379800)},
	}
}

// TestJobOfMapsEveryField: the create job of a ready order, field by field;
// and no field of Job is left at its zero value by JobOf, so a field added to
// Job later without being filled fails here.
func TestJobOfMapsEveryField(t *testing.T) {
	o := readyOrder()
	got, ok := outbox.JobOf(&o, outboxtest.Now.In(time.FixedZone("BST", 3600)))
	if !ok {
		t.Fatal("a ready order made no job")
	}
	gbp := func(a order.Amount) order.Money { return order.Money{Amount: a, Currency: "GBP"} }
	version := int64(1791798243250) // 2026-10-12T09:44:03.250Z in Unix ms
	want := outbox.Job{
		Version: outbox.JobVersion, Kind: outbox.KindCreate,
		IdempotencyKey: outbox.IdempotencyKey("acme-uk", order.ChannelEbay, "21-13579-24680", outbox.KindCreate, version),
		TenantID:       "acme-uk", Channel: order.ChannelEbay, Marketplace: "EBAY_GB",
		ChannelOrderID: "21-13579-24680", SellerOrderID: "4417", SourceVersion: version,
		PurchasedAt:        time.Date(2026, 10, 12, 9, 41, 27, 0, time.UTC),
		ShipServiceLevel:   "UK_RoyalMailSecondClassStandard",
		DestinationCountry: "GB", AddressType: "residential",
		Currency: "GBP", Subtotal: gbp(344800), Shipping: gbp(35000), Total: gbp(379800),
		Lines: []outbox.Line{
			{LineID: "10051234567890", SKU: "MUG-OAK-2", Title: "Oak mug tree, 2 pack", Quantity: 2, UnitPrice: gbp(129900), LineTotal: gbp(259800)},
			{LineID: "10051234567891", SKU: "CST-SLATE-4", Title: "Slate coasters (4)", Quantity: 1, UnitPrice: gbp(85000), LineTotal: gbp(85000)},
		},
		Recipient: "vault:v1:c3RhbmQtaW4=",
		CreatedAt: outboxtest.Now,
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("the job (-want +got):\n%s", diff)
	}
	if got.CreatedAt.Location() != time.UTC || got.PurchasedAt.Location() != time.UTC {
		t.Errorf("times not in UTC: created %v, purchased %v", got.CreatedAt.Location(), got.PurchasedAt.Location())
	}
	if got.Key() != "acme-uk/ebay/21-13579-24680" {
		t.Errorf("key %q", got.Key())
	}
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("Job.%s is left zero on a create job of a full order", v.Type().Field(i).Name)
		}
	}
}

// TestKindOfRules: one rule at a time, from a ready order.
func TestKindOfRules(t *testing.T) {
	cases := []struct {
		name   string
		change func(o *protected.Order)
		want   outbox.Kind // "" for no job
	}{
		{"ready: unshipped, paid, merchant, with a label", func(*protected.Order) {}, outbox.KindCreate},
		{"partially shipped", func(o *protected.Order) { o.Status = order.StatusPartiallyShipped }, outbox.KindCreate},
		{"amazon merchant-fulfilled", func(o *protected.Order) { o.Channel = order.ChannelAmazon }, outbox.KindCreate},
		{"marketplace-fulfilled", func(o *protected.Order) { o.Fulfilment = order.FulfilmentMarketplace }, ""},
		{"no fulfilment stated", func(o *protected.Order) { o.Fulfilment = "" }, ""},
		{"no delivery label", func(o *protected.Order) { o.DeliveryLabel = protected.Ciphertext{} }, ""},
		{"cancel requested", func(o *protected.Order) { o.CancelRequested = true }, ""},
		{"payment pending", func(o *protected.Order) { o.PaymentStatus = order.PaymentPending }, ""},
		{"payment failed", func(o *protected.Order) { o.PaymentStatus = order.PaymentFailed }, ""},
		{"partly refunded", func(o *protected.Order) { o.PaymentStatus = order.PaymentPartiallyRefunded }, ""},
		{"pending", func(o *protected.Order) { o.Status = order.StatusPending }, ""},
		{"pre-order", func(o *protected.Order) { o.Status = order.StatusPendingAvailability }, ""},
		{"shipped", func(o *protected.Order) { o.Status = order.StatusShipped }, ""},
		{"payment failed status", func(o *protected.Order) { o.Status = order.StatusPaymentFailed }, ""},
		{"unfulfillable", func(o *protected.Order) { o.Status = order.StatusUnfulfillable }, ""},
		{"cancelled", func(o *protected.Order) { o.Status, o.PaymentStatus = order.StatusCancelled, order.PaymentRefunded }, outbox.KindCancel},
		{"cancelled, no address", func(o *protected.Order) {
			o.Status, o.PaymentStatus, o.ShippingAddress, o.DeliveryLabel = order.StatusCancelled, order.PaymentVoided, nil, protected.Ciphertext{}
		}, outbox.KindCancel},
		{"cancelled, marketplace-fulfilled", func(o *protected.Order) {
			o.Status, o.Fulfilment = order.StatusCancelled, order.FulfilmentMarketplace
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := readyOrder()
			c.change(&o)
			kind, ok := outbox.KindOf(&o)
			if ok != (c.want != "") || kind != c.want {
				t.Fatalf("KindOf = %q, %v; want %q", kind, ok, c.want)
			}
			j, ok := outbox.JobOf(&o, outboxtest.Now)
			if ok != (c.want != "") || j.Kind != c.want {
				t.Fatalf("JobOf made a %q job (%v), want %q", j.Kind, ok, c.want)
			}
			if ok && j.IdempotencyKey != outbox.IdempotencyKey(o.TenantID, o.Channel, o.ChannelOrderID, c.want, o.SourceUpdatedAt.UnixMilli()) {
				t.Errorf("idempotency key not of (tenant, channel, order, %s, source version)", c.want)
			}
			if c.want == outbox.KindCancel && j.Recipient != "" {
				t.Errorf("a cancel job carries the delivery label")
			}
		})
	}
}

// TestJobsOfTheFixtures: every fixture of the normaliser, protected on the
// real Vault, makes the job the table says, and each job carries the order's
// identity, its version, its destination and lines, and a recipient that
// decrypts, under the tenant's key, to the order's shipping address; no
// personal value of the order is in a job in the clear.
func TestJobsOfTheFixtures(t *testing.T) {
	s := outboxtest.NewVault(t)
	fs := fixtures(t)
	orders := s.Own(t, pipelinetest.Canonical(fs))
	prot := s.Protect(t, orders)
	jobs := outbox.Jobs(prot, outboxtest.Now)

	byKey := map[string]outbox.Job{}
	for _, j := range jobs {
		if _, dup := byKey[j.Key()]; dup {
			t.Fatalf("two jobs for %s", j.Key())
		}
		byKey[j.Key()] = j
	}
	kinds := map[outbox.Kind]int{}
	for i, f := range fs {
		want := wantKind[f.Name]
		o := orders[i]
		j, ok := byKey[o.TenantID+"/"+string(o.Channel)+"/"+o.ChannelOrderID]
		if !ok {
			if want.kind != "" {
				t.Errorf("%s: no job, want %s (%s)", f.Name, want.kind, want.why)
			}
			continue
		}
		if j.Kind != want.kind {
			t.Errorf("%s: a %q job, want %q (%s)", f.Name, j.Kind, want.kind, want.why)
			continue
		}
		kinds[j.Kind]++
		t.Run(f.Name, func(t *testing.T) { checkJob(t, s, o, j) })
	}
	if kinds[outbox.KindCreate] == 0 || kinds[outbox.KindCancel] == 0 {
		t.Errorf("jobs by kind %v: the fixtures must exercise both", kinds)
	}
	if len(jobs) != kinds[outbox.KindCreate]+kinds[outbox.KindCancel] {
		t.Errorf("%d jobs, %d expected", len(jobs), kinds[outbox.KindCreate]+kinds[outbox.KindCancel])
	}
}

// checkJob checks a fixture's job against its canonical order.
func checkJob(t *testing.T, s *outboxtest.Vault, o order.Order, j outbox.Job) {
	version := o.SourceUpdatedAt.UnixMilli()
	if j.Version != outbox.JobVersion || j.TenantID != o.TenantID || j.Channel != o.Channel ||
		j.ChannelOrderID != o.ChannelOrderID || j.SellerOrderID != o.SellerOrderID || j.Marketplace != o.Marketplace {
		t.Errorf("identity: version %d, %s/%s/%s seller %q marketplace %q", j.Version, j.TenantID, j.Channel, j.ChannelOrderID, j.SellerOrderID, j.Marketplace)
	}
	if j.SourceVersion != version || j.IdempotencyKey != outbox.IdempotencyKey(o.TenantID, o.Channel, o.ChannelOrderID, j.Kind, version) {
		t.Errorf("source version %d, want %d; or the idempotency key is not of it", j.SourceVersion, version)
	}
	if !j.PurchasedAt.Equal(o.PurchasedAt) || !j.CreatedAt.Equal(outboxtest.Now) || j.ShipServiceLevel != o.ShipServiceLevel {
		t.Errorf("purchased %v, created %v, service %q", j.PurchasedAt, j.CreatedAt, j.ShipServiceLevel)
	}
	if j.Currency != cmp.Or(o.Totals.Total.Currency, o.Totals.Subtotal.Currency) || j.Total != o.Totals.Total || j.Subtotal != o.Totals.Subtotal || j.Shipping != o.Totals.Shipping {
		t.Errorf("amounts: %s %v %v %v", j.Currency, j.Subtotal, j.Shipping, j.Total)
	}
	if len(j.Lines) != len(o.Lines) {
		t.Fatalf("%d lines, want %d", len(j.Lines), len(o.Lines))
	}
	for i, l := range o.Lines {
		want := outbox.Line{LineID: l.LineID, SKU: l.SKU, Title: l.Title, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: l.LineTotal}
		if diff := gocmp.Diff(want, j.Lines[i]); diff != "" {
			t.Errorf("line %d (-want +got):\n%s", i, diff)
		}
	}
	if a := o.ShippingAddress; a != nil && (j.DestinationCountry != a.CountryCode || j.AddressType != a.AddressType) {
		t.Errorf("destination %q %q, want %q %q", j.DestinationCountry, j.AddressType, a.CountryCode, a.AddressType)
	}
	switch j.Kind {
	case outbox.KindCancel:
		if j.Recipient != "" {
			t.Errorf("a cancel job carries the delivery label")
		}
	case outbox.KindCreate:
		if !strings.HasPrefix(j.Recipient, "vault:v") {
			t.Fatalf("the recipient is not transit ciphertext")
		}
		doc, a := s.Recipient(t, j), o.ShippingAddress
		for path, want := range map[string]string{
			"shipping_address.name": a.Name, "shipping_address.line1": a.Line1, "shipping_address.line2": a.Line2,
			"shipping_address.city": a.City, "shipping_address.postal_code": a.PostalCode,
		} {
			if got := doc.Get(path); got != want {
				t.Errorf("the recipient's %s is %d bytes, want the order's %d", path, len(got), len(want))
			}
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range (privacytest.OrderValues{MinLen: 4, Places: true}).Of([]order.Order{o}) {
		if strings.Contains(string(b), v) {
			t.Errorf("the job holds a personal value of the order in the clear (%d bytes)", len(v))
		}
	}
}
