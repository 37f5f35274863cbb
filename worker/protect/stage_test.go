package protect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

func TestTokensAreDeterministicPerTenantAndDifferAcrossTenants(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig("")
	c := newClient(t, cfg)
	s := newStage(t, c, reg, nil)
	acme, globex := transittest.NewTenant(t, admin), transittest.NewTenant(t, admin)
	tmpl := templates(t)[0]
	tag := stacktest.UniqueName("d")
	ann, bob := newBuyer(tag, 1), newBuyer(tag, 2)

	// Ann buys twice from acme in one batch, and once from globex; Bob once from acme.
	batch := []order.Order{
		newOrder(tmpl, acme, 1, ann), newOrder(tmpl, acme, 2, bob),
		newOrder(tmpl, acme, 3, ann), newOrder(tmpl, globex, 4, ann),
	}
	out, err := s.Protect(ctx, batch)
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	// And again from acme in a later batch, through another client (no shared cache).
	other, _ := transitConfig("")
	later, err := newStage(t, newClient(t, other), nil, nil).Protect(ctx, []order.Order{newOrder(tmpl, acme, 5, ann)})
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}

	email := func(o protected.Order) string { return o.Buyer.Email.Value() }
	if !strings.HasPrefix(email(out[0]), "vault:v1:") {
		t.Errorf("token does not look like a transit HMAC")
	}
	if email(out[0]) != email(out[2]) || email(out[0]) != email(later[0]) {
		t.Errorf("one buyer, one tenant: tokens differ")
	}
	if email(out[0]) == email(out[1]) {
		t.Errorf("two buyers of one tenant share a token")
	}
	if email(out[0]) == email(out[3]) {
		t.Errorf("one buyer has the same token at two tenants")
	}
	if out[0].Buyer.Name.Value() == out[0].Buyer.Email.Value() || out[0].Buyer.Phone.IsZero() {
		t.Errorf("name, email and phone tokens are not each the field's own")
	}
	// TokenInput: case and surrounding space do not make another buyer.
	shouting := ann
	shouting.email = "  " + strings.ToUpper(ann.email) + " "
	again, err := s.Protect(ctx, []order.Order{newOrder(tmpl, acme, 6, shouting)})
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	if email(again[0]) != email(out[0]) {
		t.Errorf("the same email in capitals is another buyer")
	}
}

// TestVaultRequestsGrowWithTenantsNotOrders counts the requests that reach
// Vault: one HMAC and one encrypt per tenant, for 30 orders or 600.
func TestVaultRequestsGrowWithTenantsNotOrders(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	s, proxy, _ := proxiedStage(t, func(cfg *transit.Config) {
		cfg.BatchSize = 10_000 // one request per call, so the count is the calls
	})
	tenants := []string{transittest.NewTenant(t, admin), transittest.NewTenant(t, admin), transittest.NewTenant(t, admin)}
	tmpls := templates(t)
	tag := stacktest.UniqueName("n")

	for _, perTenant := range []int{10, 200} {
		var batch []order.Order
		for i := range perTenant * len(tenants) {
			batch = append(batch, newOrder(tmpls[i%len(tmpls)], tenants[i%len(tenants)], i, newBuyer(tag, perTenant*1000+i)))
		}
		hmac, enc := proxy.count("hmac"), proxy.count("encrypt")
		if _, err := s.Protect(ctx, batch); err != nil {
			t.Fatalf("Protect: %v", err)
		}
		if got := proxy.count("hmac") - hmac; got != len(tenants) {
			t.Errorf("%d orders of %d tenants: %d HMAC requests, want %d", len(batch), len(tenants), got, len(tenants))
		}
		if got := proxy.count("encrypt") - enc; got != len(tenants) {
			t.Errorf("%d orders of %d tenants: %d encrypt requests, want %d", len(batch), len(tenants), got, len(tenants))
		}
	}
}

func TestRepeatBuyersHitTheTokenCache(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	s, proxy, reg := proxiedStage(t, nil)
	tenant := transittest.NewTenant(t, admin)
	tmpls := templates(t)
	tag := stacktest.UniqueName("r")
	batch := func(first int) []order.Order {
		var out []order.Order
		for i := range 50 {
			out = append(out, newOrder(tmpls[i%len(tmpls)], tenant, first+i, newBuyer(tag, i)))
		}
		return out
	}
	first, err := s.Protect(ctx, batch(0))
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	hmac, hits := proxy.count("hmac"), telemetrytest.Sum(t, reg, "orderflow_token_cache_requests_total", "result=hit")
	second, err := s.Protect(ctx, batch(1000)) // new orders, the same 50 buyers
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	if got := proxy.count("hmac") - hmac; got != 0 {
		t.Errorf("returning buyers cost %d HMAC requests, want 0 (all cached)", got)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_token_cache_requests_total", "result=hit") - hits; got < 150 {
		t.Errorf("%v cache hits for 50 returning buyers' names, emails and phones, want at least 150", got)
	}
	for i := range first {
		if !cmp.Equal(first[i].Buyer, second[i].Buyer) {
			t.Errorf("buyer %d: tokens from the cache differ from Vault's", i)
		}
	}
}

func TestDeliveryLabelAndInvoicePartyDecrypt(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig("")
	s := newStage(t, newClient(t, cfg), reg, nil)
	tenant := transittest.NewTenant(t, admin)
	var business, fba order.Order
	for _, o := range protect.Fixtures(t) {
		switch {
		case o.Buyer.TaxID != "" && o.ShippingAddress != nil && o.BillingAddress != nil:
			business = o
		case o.ShippingAddress == nil && o.BillingAddress == nil && o.Buyer.CompanyName == "":
			fba = o
		}
	}
	if business.ChannelOrderID == "" || fba.ChannelOrderID == "" {
		t.Fatal("the fixtures lack a business order with both addresses, or one with no address")
	}
	out, err := s.Protect(ctx, forTenant([]order.Order{business, fba}, tenant))
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}

	label := decrypt(t, admin, tenant, out[0].DeliveryLabel)
	a := business.ShippingAddress
	for path, want := range map[string]string{
		"shipping_address.name": a.Name, "shipping_address.line1": a.Line1, "shipping_address.city": a.City,
		"shipping_address.postal_code": a.PostalCode, "shipping_address.phone": a.Phone,
	} {
		if got := label.Get(path); got != want {
			t.Errorf("label %s = %q, want %q", path, got, want)
		}
	}
	invoice := decrypt(t, admin, tenant, out[0].InvoiceParty)
	if invoice.Get("buyer.tax_id") != business.Buyer.TaxID || invoice.Get("billing_address.postal_code") != business.BillingAddress.PostalCode {
		t.Errorf("invoice party lacks the tax id or billing postcode: has %v", invoice.Paths())
	}
	for _, p := range invoice.Paths() {
		if strings.HasPrefix(p, "shipping_address.") || p == "billing_address.email" || p == "billing_address.phone" {
			t.Errorf("invoice party holds %s", p)
		}
	}
	if out[0].ShippingAddress == nil || out[0].ShippingAddress.CountryCode != a.CountryCode {
		t.Errorf("shipping country not kept")
	}
	if !out[1].DeliveryLabel.IsZero() || !out[1].InvoiceParty.IsZero() || out[1].ShippingAddress != nil {
		t.Errorf("an order without addresses or company got a label or an invoice party")
	}
}

// TestVaultDownFailsTheBatch: while Vault answers 503 the batch fails with a
// temporary error and counts nothing; once Vault is back the same batch
// succeeds, as the pipeline's retry needs.
func TestVaultDownFailsTheBatch(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	s, proxy, reg := proxiedStage(t, func(cfg *transit.Config) { cfg.MaxAttempts = 2 })
	tenant := transittest.NewTenant(t, admin)
	batch := forTenant(protect.Fixtures(t), tenant)
	if _, err := s.Protect(ctx, batch[:1]); err != nil { // creates the keys
		t.Fatalf("Protect: %v", err)
	}
	protected := telemetrytest.Sum(t, reg, "orderflow_orders_protected_total")
	dropped := telemetrytest.Sum(t, reg, "orderflow_free_text_dropped_total")

	proxy.fail(1000)
	out, err := s.Protect(ctx, batch)
	var te *transit.Error
	if err == nil || out != nil || !errors.As(err, &te) || !te.Temporary {
		t.Fatalf("Protect with Vault down = %d orders, %v; want no orders and a temporary transit error", len(out), err)
	}
	if !strings.Contains(err.Error(), "protect: tenant "+tenant) {
		t.Errorf("error lacks its context: %v", err)
	}
	if telemetrytest.Sum(t, reg, "orderflow_orders_protected_total") != protected || telemetrytest.Sum(t, reg, "orderflow_free_text_dropped_total") != dropped {
		t.Errorf("a failed batch was counted")
	}

	proxy.fail(0)
	out, err = s.Protect(ctx, batch)
	if err != nil || len(out) != len(batch) {
		t.Fatalf("Protect after Vault came back = %d orders, %v", len(out), err)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_orders_protected_total") - protected; got != float64(len(batch)) {
		t.Errorf("orders protected counted %v, want %d", got, len(batch))
	}
	if telemetrytest.Sum(t, reg, "orderflow_free_text_dropped_total") == dropped {
		t.Errorf("the fixtures' free text was not counted")
	}
}

// An order whose tenant id cannot name a key is refused for good, and only
// that order: the error is of class failure.Order and names its place in the
// batch, so that the pipeline dead-letters it and protects the others.
func TestInvalidTenantIsRefused(t *testing.T) {
	cfg, reg := transitConfig("")
	s := newStage(t, newClient(t, cfg), reg, nil)
	good := protect.Fixtures(t)[0]
	bad := good
	bad.TenantID = "Ann Smith <ann@example.com>"
	_, err := s.Protect(ctxFor(t), []order.Order{good, bad})
	if !errors.Is(err, protect.ErrInvalidOrder) || strings.Contains(err.Error(), "ann") {
		t.Errorf("err = %v; want ErrInvalidOrder without the tenant id", err)
	}
	if c := failure.Of(err); c != failure.Order {
		t.Errorf("class %v, want %v", c, failure.Order)
	}
	if named := failure.Orders(err); len(named) != 1 || named[1] == nil {
		t.Errorf("the error names orders %v, want order 1 alone", named)
	}
}

// TestPolicyDrivesTheStage: a policy that drops what the embedded one
// tokenises or encrypts is followed, not ignored.
func TestPolicyDrivesTheStage(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig("")
	drop := policy.Rule{Treatment: policy.Drop, Retention: policy.None, Purpose: "test"}
	p := withRules(loadPolicy(t), map[string]policy.Rule{"buyer.phone": drop, "shipping_address.phone": drop})
	delete(p.Derived, "ship_postcode_area")
	s := newStage(t, newClient(t, cfg), reg, p)
	tenant := transittest.NewTenant(t, admin)
	o := newOrder(templates(t)[0], tenant, 1, newBuyer(stacktest.UniqueName("p"), 1))
	out, err := s.Protect(ctx, []order.Order{o})
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	if !out[0].Buyer.Phone.IsZero() || out[0].Buyer.Email.IsZero() {
		t.Errorf("buyer.phone dropped by the policy was tokenised anyway, or email was not")
	}
	if got := decrypt(t, admin, tenant, out[0].DeliveryLabel).Get("shipping_address.phone"); got != "" {
		t.Errorf("shipping_address.phone dropped by the policy is in the label")
	}
	if out[0].ShipPostcodeArea != "" {
		t.Errorf("ship_postcode_area computed without a policy entry")
	}
}
