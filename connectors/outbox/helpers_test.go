package outbox_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
)

// The outbox is a sink of the pipeline.
var _ pipeline.Sink = (*outbox.Sink)(nil)

// wantKind is the job each of the normaliser's good fixtures calls for ("" for
// none), and why. A fixture missing here fails the tests: a new one needs a
// decision.
var wantKind = map[string]struct {
	kind outbox.Kind
	why  string
}{
	"amazon/br-sao-paulo":                         {"", "shipped"},
	"amazon/de-eur-business-vat":                  {"", "shipped"},
	"amazon/de-uoss-deemed-reseller":              {outbox.KindCreate, "unshipped, paid, merchant, to DK"},
	"amazon/pl-ioss-import":                       {outbox.KindCreate, "unshipped, paid, merchant, to PL"},
	"amazon/uk-absent-optionals":                  {"", "ready, but no shipping address: nothing to ship to"},
	"amazon/uk-cancelled":                         {outbox.KindCancel, "cancelled, merchant (voided, no address)"},
	"amazon/uk-fba-afn":                           {"", "fulfilled by Amazon"},
	"amazon/uk-gift-wrap-message":                 {outbox.KindCreate, "unshipped, paid, merchant"},
	"amazon/uk-invoice-unconfirmed":               {"", "shipped"},
	"amazon/uk-long-fields":                       {"", "shipped"},
	"amazon/uk-lvi-marketplace-facilitator":       {outbox.KindCreate, "unshipped, paid, merchant"},
	"amazon/uk-partially-shipped":                 {outbox.KindCreate, "partially shipped: the rest is to ship"},
	"amazon/uk-pending-availability-preorder":     {"", "pre-order, not paid"},
	"amazon/uk-pending":                           {"", "pending payment"},
	"amazon/uk-prime-nextday":                     {outbox.KindCreate, "unshipped, paid, merchant"},
	"amazon/uk-promotions":                        {"", "shipped"},
	"amazon/uk-single-line-shipped":               {"", "shipped"},
	"amazon/uk-two-lines-typical":                 {outbox.KindCreate, "unshipped, paid, merchant"},
	"amazon/us-unfulfillable-mcf":                 {"", "marketplace-fulfilled (MCF)"},
	"amazon/us-usd-marketplace-facilitator":       {"", "shipped"},
	"amazon2026/br-sao-paulo":                     {outbox.KindCreate, "unshipped, paid, merchant, to BR"},
	"amazon2026/de-business-vat":                  {"", "shipped"},
	"amazon2026/de-uoss-aeroeskobing":             {outbox.KindCreate, "unshipped, paid, merchant, to DK"},
	"amazon2026/uk-cancel-requested-pickup":       {"", "cancellation requested: the seller has not decided"},
	"amazon2026/uk-cancelled":                     {outbox.KindCancel, "cancelled, merchant"},
	"amazon2026/uk-fba-amazon":                    {"", "fulfilled by Amazon"},
	"amazon2026/uk-gift-promotion":                {outbox.KindCreate, "unshipped, paid, merchant"},
	"amazon2026/uk-partially-shipped":             {outbox.KindCreate, "partially shipped"},
	"amazon2026/uk-pending-availability":          {"", "pre-order, not paid"},
	"amazon2026/uk-pending":                       {"", "pending payment"},
	"amazon2026/uk-two-lines-typical":             {"", "shipped"},
	"amazon2026/us-prime-marketplace-facilitator": {outbox.KindCreate, "unshipped, paid, merchant, to US"},
	"ebay/absent-optional-fields":                 {"", "shipped"},
	"ebay/cancel-requested":                       {"", "cancellation requested"},
	"ebay/cancelled":                              {outbox.KindCancel, "cancelled, merchant"},
	"ebay/digital-gift-card":                      {"", "shipped (digital)"},
	"ebay/eur-business-vatin":                     {outbox.KindCreate, "unshipped, paid, merchant, to DK"},
	"ebay/eur-converted-refund":                   {"", "shipped"},
	"ebay/fulfilled-by-ebay":                      {"", "fulfilled by eBay"},
	"ebay/fully-refunded":                         {outbox.KindCancel, "refunded in full before shipping: cancelled"},
	"ebay/import-vat-collected":                   {outbox.KindCreate, "unshipped, paid, merchant"},
	"ebay/international-shipping-hub":             {outbox.KindCreate, "unshipped, paid, merchant (eBay's hub)"},
	"ebay/large-ten-line":                         {outbox.KindCreate, "unshipped, paid, merchant, ten lines"},
	"ebay/long-fields":                            {outbox.KindCreate, "unshipped, paid, merchant, long address fields"},
	"ebay/partially-refunded-line":                {"", "shipped"},
	"ebay/partially-shipped":                      {outbox.KindCreate, "partially shipped"},
	"ebay/payment-failed":                         {"", "payment failed"},
	"ebay/payment-pending":                        {"", "pending payment"},
	"ebay/promotions-multiline":                   {outbox.KindCreate, "unshipped, paid, merchant"},
	"ebay/shipped-non-ascii":                      {"", "shipped"},
	"ebay/typical-two-line":                       {outbox.KindCreate, "unshipped, paid, merchant"},
	"ebay/usd-sales-tax-collected":                {outbox.KindCreate, "unshipped, paid, merchant, to US"},
}

// fixtures is every good fixture of the normaliser, normalised; each must
// be in wantKind.
func fixtures(t testing.TB) []pipelinetest.Fixture {
	t.Helper()
	fs := pipelinetest.Orders(t, outboxtest.FixtureDirs()...)
	for _, f := range fs {
		if _, ok := wantKind[f.Name]; !ok {
			t.Fatalf("fixture %s is not in wantKind: decide which job it calls for", f.Name)
		}
	}
	if len(fs) != len(wantKind) {
		t.Fatalf("%d fixtures, %d in wantKind: one is gone", len(fs), len(wantKind))
	}
	return fs
}
